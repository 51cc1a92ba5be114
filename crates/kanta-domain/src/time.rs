//! Dates and timestamps as people paste them: ISO 8601 (`2024-12-31`,
//! `2024-12-31T10:00:00Z`, `2024-12-31 10:00`), Finnish (`31.12.2024`,
//! `31.12.2024 10.00`), compact (`20241231`), or a strftime format the user names.
//! Times without a zone are taken as UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use thiserror::Error;

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
}

/// Parses a point in time. With `format` (strftime style, as `--date-format`), that
/// format alone is used; a format with no time of day gives midnight UTC.
pub fn parse_timestamp(text: &str, format: Option<&str>) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeError::Empty);
    }
    if let Some(f) = format {
        return parse_with_format(t, f);
    }
    parse_auto(t).ok_or_else(|| TimeError::NotATime(t.to_string()))
}

/// Parses a calendar date. A timestamp is accepted too and its UTC date taken.
pub fn parse_date(text: &str, format: Option<&str>) -> Result<NaiveDate, TimeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeError::Empty);
    }
    if let Some(f) = format {
        return parse_with_format(t, f).map(|d| d.date_naive());
    }
    parse_auto(t)
        .map(|d| d.date_naive())
        .ok_or_else(|| TimeError::NotADate(t.to_string()))
}

fn parse_with_format(t: &str, f: &str) -> Result<DateTime<Utc>, TimeError> {
    let err = || TimeError::Format {
        text: t.to_string(),
        format: f.to_string(),
    };
    if let Ok(dt) = DateTime::parse_from_str(t, f) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(ndt) = NaiveDateTime::parse_from_str(t, f) {
        return Ok(Utc.from_utc_datetime(&ndt));
    }
    NaiveDate::parse_from_str(t, f)
        .map(|d| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
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

fn parse_auto(t: &str) -> Option<DateTime<Utc>> {
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
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
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
    if c.done() || c.rest() == "Z" || c.rest() == "z" || c.rest() == "UTC" {
        return Some(Utc.from_utc_datetime(&naive));
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
        .map(|dt| dt.with_timezone(&Utc))
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
