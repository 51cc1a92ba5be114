//! Dates and timestamps as people paste them: ISO 8601 (`2024-12-31`,
//! `2024-12-31T10:00:00Z`, `2024-12-31 10:00`), Finnish (`31.12.2024`,
//! `31.12.2024 10.00`, `31.12.2024 klo 10.00`), compact (`20241231`), or a strftime
//! format the user names.
//!
//! A time written with an offset or `Z` (`2024-12-31T10:00:00+02:00`) is that
//! instant. A time without one is a wall-clock time in a zone: the store's time zone
//! (`*_in` functions, [`Tz`] from the IANA database), or UTC for the functions
//! without a zone. A bare date given for a point in time is midnight there. Around
//! the changes of summer time a wall-clock time may not exist (the clocks skip an
//! hour in spring: [`TimeError::Nonexistent`]) or exist twice (an hour repeats in
//! autumn: the earlier of the two instants is taken, as most systems do).

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
pub use chrono_tz::Tz;
use thiserror::Error;

/// The time zone of a store that has not chosen one.
pub const DEFAULT_ZONE: Tz = chrono_tz::Europe::Helsinki;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("is empty")]
    Empty,
    #[error("'{0}' is not a date (use 2024-12-31 or 31.12.2024)")]
    NotADate(String),
    #[error("'{0}' is not a time (use 2024-12-31T10:00:00Z, 2024-12-31 10:00 or 31.12.2024 10.00)")]
    NotATime(String),
    #[error("'{text}' does not match the date format '{format}'")]
    Format { text: String, format: String },
    #[error(
        "'{text}' does not exist in {zone}: the clocks skip that hour when summer time begins (give the time with its offset, e.g. 2025-03-30T03:30:00+02:00)"
    )]
    Nonexistent { text: String, zone: String },
}

/// A time zone by its IANA name (`Europe/Helsinki`, `America/New_York`, `UTC`),
/// checked against the time zone database; the case of the letters may differ.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    let t = name.trim();
    if let Ok(z) = t.parse::<Tz>() {
        return Ok(z);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().eq_ignore_ascii_case(t))
        .copied()
        .ok_or_else(|| {
            format!(
                "'{t}' is not a time zone of the IANA database: use a name like Europe/Helsinki, America/New_York or UTC"
            )
        })
}

/// The instant of a wall-clock time in `zone`: the earlier one when the hour repeats
/// (autumn), `None` when the clocks skip it (spring).
pub fn from_local(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The first instant of a calendar day in `zone` (midnight, or the end of a gap when
/// the clocks skip midnight itself).
pub fn start_of_day(d: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = d.and_time(NaiveTime::MIN);
    (0..=24)
        .find_map(|h| from_local(midnight + chrono::TimeDelta::minutes(15 * h), zone))
        .unwrap_or_else(|| midnight.and_utc())
}

/// `t` on the wall clock of `zone`.
pub fn to_local(t: DateTime<Utc>, zone: Tz) -> DateTime<Tz> {
    t.with_timezone(&zone)
}

/// What a text says: a wall-clock time (a zone reads it) or an instant.
enum Parsed {
    /// A date alone: the start of that day.
    Day(NaiveDate),
    Wall(NaiveDateTime),
    Instant(DateTime<Utc>),
}

impl Parsed {
    fn in_zone(self, text: &str, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
        match self {
            Parsed::Day(d) => Ok(start_of_day(d, zone)),
            Parsed::Wall(n) => from_local(n, zone).ok_or_else(|| TimeError::Nonexistent {
                text: text.to_string(),
                zone: zone.name().to_string(),
            }),
            Parsed::Instant(t) => Ok(t),
        }
    }

    fn date(self, zone: Tz) -> NaiveDate {
        match self {
            Parsed::Day(d) => d,
            Parsed::Wall(n) => n.date(),
            Parsed::Instant(t) => t.with_timezone(&zone).date_naive(),
        }
    }
}

/// Parses a point in time; a time without an offset is UTC. With `format` (strftime
/// style, as `--date-format`), that format alone is used; a format with no time of
/// day gives midnight.
pub fn parse_timestamp(text: &str, format: Option<&str>) -> Result<DateTime<Utc>, TimeError> {
    parse_timestamp_in(text, format, Tz::UTC)
}

/// Parses a point in time; a time without an offset is a wall-clock time in `zone`.
pub fn parse_timestamp_in(
    text: &str,
    format: Option<&str>,
    zone: Tz,
) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeError::Empty);
    }
    let parsed = match format {
        Some(f) => parse_with_format(t, f)?,
        None => parse_auto(t).ok_or_else(|| TimeError::NotATime(t.to_string()))?,
    };
    parsed.in_zone(t, zone)
}

/// Parses a calendar date. A timestamp is accepted too and its UTC date taken.
pub fn parse_date(text: &str, format: Option<&str>) -> Result<NaiveDate, TimeError> {
    parse_date_in(text, format, Tz::UTC)
}

/// Parses a calendar date. A timestamp is accepted too: its own date when it has no
/// offset, else the date it falls on in `zone`.
pub fn parse_date_in(text: &str, format: Option<&str>, zone: Tz) -> Result<NaiveDate, TimeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeError::Empty);
    }
    let parsed = match format {
        Some(f) => parse_with_format(t, f)?,
        None => parse_auto(t).ok_or_else(|| TimeError::NotADate(t.to_string()))?,
    };
    Ok(parsed.date(zone))
}

fn parse_with_format(t: &str, f: &str) -> Result<Parsed, TimeError> {
    let err = || TimeError::Format {
        text: t.to_string(),
        format: f.to_string(),
    };
    if let Ok(dt) = DateTime::parse_from_str(t, f) {
        return Ok(Parsed::Instant(dt.with_timezone(&Utc)));
    }
    if let Ok(ndt) = NaiveDateTime::parse_from_str(t, f) {
        return Ok(Parsed::Wall(ndt));
    }
    NaiveDate::parse_from_str(t, f)
        .map(Parsed::Day)
        .map_err(|_| err())
}

/// A small cursor over ASCII digits, so the common forms parse without trying
/// format after format.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            v = v * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_any(&mut self, cs: &[u8]) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        cs.contains(&c).then(|| {
            self.i += 1;
            c
        })
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn rest(&self) -> &str {
        std::str::from_utf8(&self.b[self.i..]).unwrap_or("")
    }
}

fn parse_auto(t: &str) -> Option<Parsed> {
    let mut c = Cur {
        b: t.as_bytes(),
        i: 0,
    };
    let first = c.digits(1, 8)?;
    let date = if c.i == 4 && c.eat(b'-') {
        // ISO: YYYY-MM-DD
        let m = c.digits(1, 2)?;
        if !c.eat(b'-') {
            return None;
        }
        let d = c.digits(1, 2)?;
        NaiveDate::from_ymd_opt(first as i32, m, d)?
    } else if c.i <= 2 && c.eat(b'.') {
        // Finnish: D.M.YYYY
        let m = c.digits(1, 2)?;
        if !c.eat(b'.') {
            return None;
        }
        let y = c.digits(4, 4)?;
        NaiveDate::from_ymd_opt(y as i32, m, first)?
    } else if c.i == 8 && c.done() {
        NaiveDate::from_ymd_opt((first / 10000) as i32, first / 100 % 100, first % 100)?
    } else {
        return None;
    };
    if c.done() {
        return Some(Parsed::Day(date));
    }
    // A time of day: separated by T or space (Finnish may write "klo").
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    while c.eat(b' ') {}
    if c.rest().starts_with("klo ") {
        c.i += 4;
    }
    let h = c.digits(1, 2)?;
    let sep = c.eat_any(b":.")?;
    let mi = c.digits(2, 2)?;
    let mut s = 0;
    let mut nanos = 0;
    if c.eat(sep) {
        s = c.digits(2, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            let frac = c.digits(1, 9)?;
            nanos = frac * 10u32.pow(9 - (c.i - start) as u32);
            // Ignore digits past nanoseconds.
            while c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
                c.i += 1;
            }
        }
    }
    let time = NaiveTime::from_hms_nano_opt(h, mi, s, nanos)?;
    let naive = date.and_time(time);
    while c.eat(b' ') {}
    if c.done() {
        return Some(Parsed::Wall(naive));
    }
    if c.rest() == "Z" || c.rest() == "z" || c.rest() == "UTC" {
        return Some(Parsed::Instant(Utc.from_utc_datetime(&naive)));
    }
    let sign = match c.eat_any(b"+-")? {
        b'+' => 1,
        _ => -1,
    };
    let oh = c.digits(2, 2)?;
    c.eat(b':');
    let om = if c.done() { 0 } else { c.digits(2, 2)? };
    if !c.done() {
        return None;
    }
    let offset = FixedOffset::east_opt(sign * (oh as i32 * 3600 + om as i32 * 60))?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|dt| Parsed::Instant(dt.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> String {
        parse_timestamp(s, None).unwrap().to_rfc3339()
    }

    #[test]
    fn iso_forms() {
        assert_eq!(ts("2024-12-31"), "2024-12-31T00:00:00+00:00");
        assert_eq!(ts("2024-12-31T10:00:00Z"), "2024-12-31T10:00:00+00:00");
        assert_eq!(ts("2024-12-31 10:00"), "2024-12-31T10:00:00+00:00");
        assert_eq!(ts("2010-12-01 08:26:00"), "2010-12-01T08:26:00+00:00");
        assert_eq!(ts("2024-12-31T12:00:00+02:00"), "2024-12-31T10:00:00+00:00");
        assert_eq!(
            ts("2024-12-31T12:00:00.250-0130"),
            "2024-12-31T13:30:00.250+00:00"
        );
    }

    #[test]
    fn finnish_forms() {
        assert_eq!(ts("31.12.2024"), "2024-12-31T00:00:00+00:00");
        assert_eq!(ts("1.2.2024"), "2024-02-01T00:00:00+00:00");
        assert_eq!(ts("31.12.2024 10.05"), "2024-12-31T10:05:00+00:00");
        assert_eq!(ts("31.12.2024 klo 10.05"), "2024-12-31T10:05:00+00:00");
        assert_eq!(ts("31.12.2024 10:05:30"), "2024-12-31T10:05:30+00:00");
    }

    #[test]
    fn compact_and_custom() {
        assert_eq!(ts("19970101"), "1997-01-01T00:00:00+00:00");
        let d = parse_date("19970101", Some("%Y%m%d")).unwrap();
        assert_eq!(d.to_string(), "1997-01-01");
        let d = parse_timestamp("12/31/2024 3:04 PM", Some("%m/%d/%Y %I:%M %p")).unwrap();
        assert_eq!(d.to_rfc3339(), "2024-12-31T15:04:00+00:00");
        assert!(matches!(
            parse_date("2024-12-31", Some("%Y%m%d")),
            Err(TimeError::Format { .. })
        ));
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(parse_date("31.13.2024", None).is_err());
        assert!(parse_date("2024-02-30", None).is_err());
        assert!(parse_date("30.02.2024", None).is_err());
        assert!(parse_date("yesterday", None).is_err());
        assert!(parse_date("2024-12-31x", None).is_err());
        assert!(parse_timestamp("2024-12-31 25:00", None).is_err());
        assert_eq!(parse_date(" ", None), Err(TimeError::Empty));
        assert_eq!(
            parse_date("31.13.2024", None).unwrap_err().to_string(),
            "'31.13.2024' is not a date (use 2024-12-31 or 31.12.2024)"
        );
    }

    fn local(s: &str, zone: &str) -> Result<String, TimeError> {
        parse_timestamp_in(s, None, parse_zone(zone).unwrap()).map(|t| t.to_rfc3339())
    }

    #[test]
    fn times_without_an_offset_are_read_in_the_zone() {
        let h = "Europe/Helsinki";
        // Winter: UTC+2; summer: UTC+3.
        assert_eq!(
            local("31.12.2024 klo 10.00", h).unwrap(),
            "2024-12-31T08:00:00+00:00"
        );
        assert_eq!(
            local("2024-12-31 10:00", h).unwrap(),
            "2024-12-31T08:00:00+00:00"
        );
        assert_eq!(
            local("2024-06-01 08:30", h).unwrap(),
            "2024-06-01T05:30:00+00:00"
        );
        // A bare date is the start of the local day.
        assert_eq!(local("31.12.2024", h).unwrap(), "2024-12-30T22:00:00+00:00");
        // An offset or Z keeps its instant.
        assert_eq!(
            local("2024-12-31T10:00:00Z", h).unwrap(),
            "2024-12-31T10:00:00+00:00"
        );
        assert_eq!(
            local("2024-12-31 10:00 UTC", h).unwrap(),
            "2024-12-31T10:00:00+00:00"
        );
        assert_eq!(
            local("2024-12-31T10:00:00-05:00", h).unwrap(),
            "2024-12-31T15:00:00+00:00"
        );
        assert_eq!(
            local("2024-07-04 09:00", "America/New_York").unwrap(),
            "2024-07-04T13:00:00+00:00"
        );
        // A named format without an offset is local too.
        let t = parse_timestamp_in(
            "12/31/2024 3:04 PM",
            Some("%m/%d/%Y %I:%M %p"),
            DEFAULT_ZONE,
        )
        .unwrap();
        assert_eq!(t.to_rfc3339(), "2024-12-31T13:04:00+00:00");
        let t = parse_timestamp_in("20241231", Some("%Y%m%d"), DEFAULT_ZONE).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-12-30T22:00:00+00:00");
        // The date of an instant is its local date.
        let d = parse_date_in("2024-12-31T23:30:00Z", None, DEFAULT_ZONE).unwrap();
        assert_eq!(d.to_string(), "2025-01-01");
        let d = parse_date_in("2024-12-31 23:30", None, DEFAULT_ZONE).unwrap();
        assert_eq!(d.to_string(), "2024-12-31");
    }

    #[test]
    fn summer_time_changes() {
        let h = "Europe/Helsinki";
        // Spring forward: 03:00-04:00 local does not exist on 2025-03-30.
        let e = local("30.3.2025 klo 3.30", h).unwrap_err();
        assert!(matches!(e, TimeError::Nonexistent { .. }));
        assert!(
            e.to_string().contains("does not exist in Europe/Helsinki"),
            "{e}"
        );
        assert_eq!(
            local("30.3.2025 klo 4.00", h).unwrap(),
            "2025-03-30T01:00:00+00:00"
        );
        // Fall back: 03:00-04:00 local happens twice on 2025-10-26; the earlier counts.
        assert_eq!(
            local("2025-10-26 03:30", h).unwrap(),
            "2025-10-26T00:30:00+00:00"
        );
        // With an offset the later one can be named.
        assert_eq!(
            local("2025-10-26T03:30:00+02:00", h).unwrap(),
            "2025-10-26T01:30:00+00:00"
        );
    }

    #[test]
    fn zones_are_checked_against_the_database() {
        assert_eq!(parse_zone("Europe/Helsinki").unwrap(), DEFAULT_ZONE);
        assert_eq!(
            parse_zone(" europe/helsinki ").unwrap().name(),
            "Europe/Helsinki"
        );
        assert_eq!(parse_zone("UTC").unwrap(), Tz::UTC);
        for bad in [
            "Helsinki",
            "Europe/Helsingfors",
            "Mars/Olympus_Mons",
            "",
            "+02:00",
        ] {
            let e = parse_zone(bad).unwrap_err();
            assert!(e.contains("Europe/Helsinki"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn finnish_equals_iso(y in 1900i32..2100, m in 1u32..=12, d in 1u32..=28) {
            let iso = format!("{y:04}-{m:02}-{d:02}");
            let fi = format!("{d}.{m}.{y}");
            prop_assert_eq!(parse_date(&iso, None).unwrap(), parse_date(&fi, None).unwrap());
        }

        #[test]
        fn rfc3339_roundtrips(secs in 0i64..4_000_000_000) {
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            prop_assert_eq!(parse_timestamp(&t.to_rfc3339(), None).unwrap(), t);
        }
    }
}
