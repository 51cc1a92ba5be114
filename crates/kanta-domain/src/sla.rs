//! Service-level targets: the business calendar they count in and when a target falls
//! due.
//!
//! A [`BusinessCalendar`] is a weekly opening (`mon-fri 08:00-16:00`, the store's
//! `business_hours` setting) on the wall clock of the store's zone, minus holidays
//! ([`Holidays`]: `fi` = the Finnish public holidays, computed for any year, plus
//! extra dates). [`due`] adds a target's hours to a start: business hours are counted
//! on the local wall clock (a daylight-saving change moves no opening hour), a start
//! outside the opening begins at the next opening; calendar hours are elapsed time.
//! An [`SlaPolicy`] is a severity's first-response and resolution targets
//! (`8h/40h business`, Finnish `8h/40h työaika`, `1h/8h kalenteri`).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAYS_FI: [&str; 7] = ["ma", "ti", "ke", "to", "pe", "la", "su"];

/// The weekly opening: from the first to the last weekday (Monday = 0), from `open` to
/// `close` minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    pub first_day: u32,
    pub last_day: u32,
    pub open: u32,
    pub close: u32,
}

impl Default for WeeklyHours {
    /// Mon-Fri 08:00-16:00.
    fn default() -> Self {
        WeeklyHours {
            first_day: 0,
            last_day: 4,
            open: 8 * 60,
            close: 16 * 60,
        }
    }
}

fn day(s: &str) -> Option<u32> {
    let s = s.trim().to_lowercase();
    DAYS.iter()
        .position(|d| *d == s)
        .or_else(|| DAYS_FI.iter().position(|d| *d == s))
        .map(|d| d as u32)
}

fn clock(s: &str) -> Option<u32> {
    let s = s.trim().replace('.', ":");
    let (h, m) = s.split_once(':').unwrap_or((&s, "0"));
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && !(h == 24 && m > 0)).then_some(h * 60 + m)
}

impl WeeklyHours {
    /// `mon-fri 08:00-16:00`, Finnish `ma-pe 8.00-16.00`, one day `sat 10-14`.
    pub fn parse(s: &str) -> Result<WeeklyHours, String> {
        let bad = || {
            format!(
                "'{}' is not business hours like mon-fri 08:00-16:00 (or ma-pe 8.00-16.00)",
                s.trim()
            )
        };
        let (days, hours) = s.trim().split_once(char::is_whitespace).ok_or_else(bad)?;
        let (d0, d1) = days.split_once('-').unwrap_or((days, days));
        let (first_day, last_day) = (day(d0).ok_or_else(bad)?, day(d1).ok_or_else(bad)?);
        let (h0, h1) = hours.trim().split_once('-').ok_or_else(bad)?;
        let (open, close) = (clock(h0).ok_or_else(bad)?, clock(h1).ok_or_else(bad)?);
        if last_day < first_day {
            return Err(format!("{}: the first day comes after the last", bad()));
        }
        if close <= open {
            return Err(format!("{}: closing comes before opening", bad()));
        }
        Ok(WeeklyHours {
            first_day,
            last_day,
            open,
            close,
        })
    }

    /// The normal form, in English: `mon-fri 08:00-16:00`.
    pub fn normalised(&self) -> String {
        format!(
            "{}-{} {:02}:{:02}-{:02}:{:02}",
            DAYS[self.first_day as usize],
            DAYS[self.last_day as usize],
            self.open / 60,
            self.open % 60,
            self.close / 60,
            self.close % 60
        )
    }

    fn is_open_day(&self, d: NaiveDate) -> bool {
        let w = d.weekday().num_days_from_monday();
        (self.first_day..=self.last_day).contains(&w)
    }
}

/// Which days are holidays: the Finnish public holidays (`fi`) and extra dates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holidays {
    pub finnish: bool,
    pub extra: BTreeSet<NaiveDate>,
}

impl Holidays {
    /// The Finnish public holidays only (the default).
    pub fn finnish() -> Holidays {
        Holidays {
            finnish: true,
            extra: BTreeSet::new(),
        }
    }

    /// `fi`, `none` (Finnish `ei`), dates (`2026-12-31`, `31.12.2026`), or `fi` and
    /// dates separated by commas or spaces.
    pub fn parse(s: &str) -> Result<Holidays, String> {
        let mut out = Holidays::default();
        let words: Vec<&str> = s
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Err(
                "holidays: give fi (Finnish public holidays), none, or dates like 2026-12-31"
                    .into(),
            );
        }
        for w in &words {
            match w.to_lowercase().as_str() {
                "fi" | "suomi" | "finland" => out.finnish = true,
                "none" | "ei" | "ei-mitään" => {
                    if words.len() > 1 {
                        return Err("holidays: 'none' cannot be given with other holidays".into());
                    }
                }
                _ => {
                    let d = NaiveDate::parse_from_str(w, "%Y-%m-%d")
                        .or_else(|_| NaiveDate::parse_from_str(w, "%d.%m.%Y"))
                        .map_err(|_| {
                            format!(
                                "holidays: '{}' is not fi, none or a date like 2026-12-31 or 31.12.2026",
                                crate::value::excerpt(w)
                            )
                        })?;
                    out.extra.insert(d);
                }
            }
        }
        Ok(out)
    }

    /// The normal form: `fi, 2026-12-31`, `2026-12-31`, `none`.
    pub fn normalised(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.finnish {
            parts.push("fi".into());
        }
        parts.extend(self.extra.iter().map(|d| d.format("%Y-%m-%d").to_string()));
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }

    /// Whether `d` is a holiday.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.extra.contains(&d) || (self.finnish && is_finnish_holiday(d))
    }
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The first day from `from` on (at most six days later) that falls on `weekday`.
fn on_or_after(from: NaiveDate, weekday: Weekday) -> NaiveDate {
    let mut d = from;
    while d.weekday() != weekday {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// The Finnish public holidays (and the days kept as such) of `year`, in order:
/// uudenvuodenpäivä, loppiainen, pitkäperjantai, pääsiäispäivä, 2. pääsiäispäivä,
/// vappu, helatorstai, helluntaipäivä, juhannusaatto (the Friday between 19 and 25
/// June), juhannuspäivä (the Saturday after), pyhäinpäivä (the Saturday between 31
/// October and 6 November), itsenäisyyspäivä, jouluaatto, joulupäivä, tapaninpäivä.
pub fn finnish_holidays(year: i32) -> Vec<NaiveDate> {
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).unwrap_or_default();
    let e = easter(year);
    let midsummer_eve = on_or_after(ymd(6, 19), Weekday::Fri);
    let mut out = vec![
        ymd(1, 1),
        ymd(1, 6),
        e - Duration::days(2),
        e,
        e + Duration::days(1),
        ymd(5, 1),
        e + Duration::days(39),
        e + Duration::days(49),
        midsummer_eve,
        midsummer_eve + Duration::days(1),
        on_or_after(ymd(10, 31), Weekday::Sat),
        ymd(12, 6),
        ymd(12, 24),
        ymd(12, 25),
        ymd(12, 26),
    ];
    out.sort();
    out
}

fn is_finnish_holiday(d: NaiveDate) -> bool {
    finnish_holidays(d.year()).contains(&d)
}

/// The business calendar: the weekly opening on the wall clock of `zone`, minus
/// holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub zone: Tz,
    pub hours: WeeklyHours,
    pub holidays: Holidays,
}

impl Default for BusinessCalendar {
    /// Europe/Helsinki, Mon-Fri 08:00-16:00, Finnish holidays.
    fn default() -> Self {
        BusinessCalendar {
            zone: crate::time::DEFAULT_ZONE,
            hours: WeeklyHours::default(),
            holidays: Holidays::finnish(),
        }
    }
}

impl BusinessCalendar {
    /// Whether the business is open at all on the local day `d`.
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        self.hours.is_open_day(d) && !self.holidays.contains(d)
    }

    /// The instant of a local wall-clock time: a time the clocks skip is read as the
    /// same time after the change, a repeated one as the earlier instant.
    fn instant(&self, t: NaiveDateTime) -> DateTime<Utc> {
        match self.zone.from_local_datetime(&t) {
            LocalResult::Single(x) => x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            LocalResult::None => {
                let later = t + Duration::hours(1);
                match self.zone.from_local_datetime(&later) {
                    LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => x.with_timezone(&Utc),
                    LocalResult::None => Utc.from_utc_datetime(&t),
                }
            }
        }
    }

    /// `start` plus `hours` of business time, counted on the local wall clock.
    pub fn add_business_hours(&self, start: DateTime<Utc>, hours: f64) -> DateTime<Utc> {
        let mut left = (hours.max(0.0) * 60.0).round() as i64; // minutes
        let local = start.with_timezone(&self.zone).naive_local();
        let mut date = local.date();
        let mut from_min = i64::from(local.time().hour_min());
        // Ten years without an open day is a calendar with no opening: give up there.
        for _ in 0..3660 {
            if self.is_business_day(date) {
                let open = i64::from(self.hours.open);
                let close = i64::from(self.hours.close);
                let begin = from_min.max(open);
                if begin < close || (left == 0 && begin <= close) {
                    let avail = close - begin;
                    if left <= avail {
                        let at = date.and_hms_opt(0, 0, 0).unwrap_or_default()
                            + Duration::minutes(begin + left);
                        return self.instant(at);
                    }
                    left -= avail;
                }
            }
            date = date.succ_opt().unwrap_or(date);
            from_min = 0;
        }
        start + Duration::minutes((hours * 60.0) as i64)
    }
}

trait HourMin {
    fn hour_min(&self) -> u32;
}

impl HourMin for chrono::NaiveTime {
    fn hour_min(&self) -> u32 {
        use chrono::Timelike;
        // Seconds past a minute start the count at the next minute.
        self.hour() * 60 + self.minute() + u32::from(self.second() > 0 || self.nanosecond() > 0)
    }
}

/// When a target of `hours` from `start` falls due: business hours on `cal`'s wall
/// clock, or calendar (elapsed) hours.
pub fn due(
    cal: &BusinessCalendar,
    start: DateTime<Utc>,
    hours: f64,
    business: bool,
) -> DateTime<Utc> {
    if business {
        cal.add_business_hours(start, hours)
    } else {
        start + Duration::seconds((hours.max(0.0) * 3600.0).round() as i64)
    }
}

/// A severity's targets: hours to the first response and to the resolution, counted
/// in business or calendar hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaPolicy {
    pub first_response_hours: f64,
    pub resolution_hours: f64,
    pub business: bool,
}

fn hours_of(s: &str) -> Option<f64> {
    let s = s.trim().to_lowercase();
    let s = s
        .strip_suffix("tuntia")
        .or_else(|| s.strip_suffix("hours"))
        .or_else(|| s.strip_suffix('h'))
        .or_else(|| s.strip_suffix('t'))
        .unwrap_or(&s)
        .trim()
        .replace(',', ".");
    let h: f64 = s.parse().ok()?;
    (h.is_finite() && h > 0.0 && h <= 100_000.0).then_some(h)
}

fn hours_text(h: f64) -> String {
    if h.fract() == 0.0 {
        format!("{h:.0}h")
    } else {
        format!("{h}h")
    }
}

impl SlaPolicy {
    /// `8h/40h business`, `1h/8h calendar`; Finnish `8h/40h työaika`, `1h/8h
    /// kalenteri`; `0,5h` or `0.5h`; without a mode, business hours.
    pub fn parse(s: &str) -> Result<SlaPolicy, String> {
        let bad = |why: &str| {
            format!(
                "'{}' is not a service-level policy like 8h/40h business or 1h/8h calendar (8h/40h työaika, 1h/8h kalenteri): {why}",
                crate::value::excerpt(s.trim())
            )
        };
        let t = s.trim();
        let (targets, mode) = match t.split_once(char::is_whitespace) {
            Some((a, b)) => (a.trim(), b.trim().to_lowercase()),
            None => (t, String::new()),
        };
        let business = match mode.as_str() {
            "" | "business" | "business hours" | "työaika" | "työaikaa" | "työtunnit" => true,
            "calendar" | "calendar hours" | "kalenteri" | "kalenteriaika" | "kalenteritunnit" => {
                false
            }
            _ => {
                return Err(bad(
                    "the mode is business or calendar (työaika or kalenteri)",
                ));
            }
        };
        let (a, b) = targets
            .split_once('/')
            .ok_or_else(|| bad("give the first response and the resolution as FIRST/RESOLUTION"))?;
        let first =
            hours_of(a).ok_or_else(|| bad("the first-response hours are not a positive number"))?;
        let resolution =
            hours_of(b).ok_or_else(|| bad("the resolution hours are not a positive number"))?;
        if resolution < first {
            return Err(bad("the resolution target comes before the first response"));
        }
        Ok(SlaPolicy {
            first_response_hours: first,
            resolution_hours: resolution,
            business,
        })
    }

    /// The normal form: `8h/40h business`.
    pub fn normalised(&self) -> String {
        format!(
            "{}/{} {}",
            hours_text(self.first_response_hours),
            hours_text(self.resolution_hours),
            if self.business {
                "business"
            } else {
                "calendar"
            }
        )
    }

    /// The default of a severity: critical `1h/8h calendar`, high `4h/16h business`,
    /// normal `8h/40h business`, low `16h/80h business`.
    pub fn default_for(severity: &str) -> SlaPolicy {
        let (f, r, b) = match severity {
            "critical" => (1.0, 8.0, false),
            "high" => (4.0, 16.0, true),
            "low" => (16.0, 80.0, true),
            _ => (8.0, 40.0, true),
        };
        SlaPolicy {
            first_response_hours: f,
            resolution_hours: r,
            business: b,
        }
    }

    /// The first-response and resolution due times of a case opened at `opened`.
    pub fn dues(
        &self,
        cal: &BusinessCalendar,
        opened: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            due(cal, opened, self.first_response_hours, self.business),
            due(cal, opened, self.resolution_hours, self.business),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hel(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        crate::time::DEFAULT_ZONE
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn friday_afternoon_plus_eight_hours_is_monday_afternoon() {
        let cal = BusinessCalendar::default();
        // Friday 7 November 2025, 15:00 Helsinki.
        assert_eq!(
            due(&cal, hel(2025, 11, 7, 15, 0), 8.0, true),
            hel(2025, 11, 10, 15, 0)
        );
        // Calendar hours run through the night.
        assert_eq!(
            due(&cal, hel(2025, 11, 7, 15, 0), 8.0, false),
            hel(2025, 11, 7, 23, 0)
        );
    }

    #[test]
    fn a_holiday_in_between_skips_a_day() {
        let cal = BusinessCalendar::default();
        // Friday 5 December 2025 15:00; Saturday 6 December is independence day, a
        // weekend anyway: Monday 15:00.
        assert_eq!(
            due(&cal, hel(2025, 12, 5, 15, 0), 8.0, true),
            hel(2025, 12, 8, 15, 0)
        );
        // Thursday 2 April 2026 15:00: Good Friday 3 April and Easter Monday 6 April
        // are holidays: due Tuesday 7 April 15:00.
        assert_eq!(
            due(&cal, hel(2026, 4, 2, 15, 0), 8.0, true),
            hel(2026, 4, 7, 15, 0)
        );
        // An extra holiday on Monday 10 November 2025.
        let mut extra = cal.clone();
        extra.holidays.extra.insert(date(2025, 11, 10));
        assert_eq!(
            due(&extra, hel(2025, 11, 7, 15, 0), 8.0, true),
            hel(2025, 11, 11, 15, 0)
        );
        // Without holidays Good Friday is a working day.
        let none = BusinessCalendar {
            holidays: Holidays::parse("none").expect("none"),
            ..cal
        };
        assert_eq!(
            due(&none, hel(2026, 4, 2, 15, 0), 8.0, true),
            hel(2026, 4, 3, 15, 0)
        );
    }

    #[test]
    fn daylight_saving_changes_keep_wall_clock_hours() {
        let cal = BusinessCalendar::default();
        // Friday 27 March 2026 15:00 (UTC+2); clocks go forward on Sunday 29 March:
        // Monday 15:00 (UTC+3), 71 elapsed hours instead of 72.
        let start = hel(2026, 3, 27, 15, 0);
        let end = due(&cal, start, 8.0, true);
        assert_eq!(end, hel(2026, 3, 30, 15, 0));
        assert_eq!((end - start).num_hours(), 71);
        // Friday 23 October 2026 15:00; clocks go back on Sunday 25 October.
        let start = hel(2026, 10, 23, 15, 0);
        let end = due(&cal, start, 8.0, true);
        assert_eq!(end, hel(2026, 10, 26, 15, 0));
        assert_eq!((end - start).num_hours(), 73);
    }

    #[test]
    fn a_start_outside_hours_begins_at_the_next_opening() {
        let cal = BusinessCalendar::default();
        // Saturday evening: Monday 08:00 + 2 h.
        assert_eq!(
            due(&cal, hel(2025, 11, 8, 20, 0), 2.0, true),
            hel(2025, 11, 10, 10, 0)
        );
        // Tuesday 06:30: 08:00 + 8 h = 16:00 the same day.
        assert_eq!(
            due(&cal, hel(2025, 11, 11, 6, 30), 8.0, true),
            hel(2025, 11, 11, 16, 0)
        );
        // Tuesday 17:00: Wednesday 09:30.
        assert_eq!(
            due(&cal, hel(2025, 11, 11, 17, 0), 1.5, true),
            hel(2025, 11, 12, 9, 30)
        );
        // 40 hours from Monday 08:00 is the whole week: Friday 16:00.
        assert_eq!(
            due(&cal, hel(2025, 11, 10, 8, 0), 40.0, true),
            hel(2025, 11, 14, 16, 0)
        );
    }

    #[test]
    fn finnish_holidays_of_2025_and_2026() {
        assert_eq!(easter(2025), date(2025, 4, 20));
        assert_eq!(easter(2026), date(2026, 4, 5));
        assert_eq!(
            finnish_holidays(2025),
            vec![
                date(2025, 1, 1),
                date(2025, 1, 6),
                date(2025, 4, 18),
                date(2025, 4, 20),
                date(2025, 4, 21),
                date(2025, 5, 1),
                date(2025, 5, 29),
                date(2025, 6, 8),
                date(2025, 6, 20),
                date(2025, 6, 21),
                date(2025, 11, 1),
                date(2025, 12, 6),
                date(2025, 12, 24),
                date(2025, 12, 25),
                date(2025, 12, 26),
            ]
        );
        assert_eq!(
            finnish_holidays(2026),
            vec![
                date(2026, 1, 1),
                date(2026, 1, 6),
                date(2026, 4, 3),
                date(2026, 4, 5),
                date(2026, 4, 6),
                date(2026, 5, 1),
                date(2026, 5, 14),
                date(2026, 5, 24),
                date(2026, 6, 19),
                date(2026, 6, 20),
                date(2026, 10, 31),
                date(2026, 12, 6),
                date(2026, 12, 24),
                date(2026, 12, 25),
                date(2026, 12, 26),
            ]
        );
    }

    #[test]
    fn policies_and_settings_parse_in_english_and_finnish() {
        let p = SlaPolicy::parse("8h/40h business").expect("parses");
        assert_eq!(p, SlaPolicy::default_for("normal"));
        assert_eq!(
            SlaPolicy::parse("1h/8h kalenteri").expect("parses"),
            SlaPolicy::default_for("critical")
        );
        assert_eq!(
            SlaPolicy::parse(" 0,5h/4h työaika")
                .expect("parses")
                .normalised(),
            "0.5h/4h business"
        );
        assert!(SlaPolicy::parse("8h/4h business").is_err());
        assert!(SlaPolicy::parse("8h business").is_err());
        assert!(SlaPolicy::parse("8h/40h sometimes").is_err());
        assert_eq!(
            Holidays::parse("fi, 31.12.2026")
                .expect("parses")
                .normalised(),
            "fi, 2026-12-31"
        );
        assert_eq!(
            Holidays::parse("NONE").expect("parses").normalised(),
            "none"
        );
        assert!(Holidays::parse("fi, 32.12.2026").is_err());
        assert_eq!(
            WeeklyHours::parse("ma-pe 8.00-16.00").expect("parses"),
            WeeklyHours::default()
        );
    }
}
