//! The calendar of the demo: the observation window, Helsinki local time, the café's
//! opening hours and office hours.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeDelta, Timelike, Utc, Weekday};
use kanta_domain::time::{DEFAULT_ZONE as HELSINKI, from_local};
use rand::Rng;

/// The days the data cover: `years` calendar years ending on `as_of` (inclusive).
/// Day 0 is `start`, day `days - 1` is `as_of`; every event happens before `end`,
/// the demo's "now": midnight in Helsinki after `as_of`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub as_of: NaiveDate,
    pub start: NaiveDate,
    pub days: i64,
    pub end: DateTime<Utc>,
}

impl Window {
    pub(crate) fn new(as_of: NaiveDate, years: u32) -> Window {
        let years = years.clamp(1, 100);
        let start = as_of
            .checked_sub_months(Months::new(12 * years))
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .expect("as_of is a date well inside chrono's range");
        let after = as_of + TimeDelta::days(1);
        Window {
            as_of,
            start,
            days: (after - start).num_days(),
            end: helsinki(after, 0),
        }
    }

    pub(crate) fn date(&self, day: i64) -> NaiveDate {
        self.start + TimeDelta::days(day)
    }

    pub(crate) fn day(&self, date: NaiveDate) -> i64 {
        (date - self.start).num_days()
    }
}

pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("valid time").and_utc()
}

/// Hours Helsinki is ahead of UTC on `d` at noon, from the IANA time zone database
/// (EET +2, EEST +3 from the last Sunday of March to the last Sunday of October). The
/// switches happen at 01:00 UTC, before any demo event of the day.
pub(crate) fn helsinki_offset_hours(d: NaiveDate) -> i64 {
    let noon = d.and_hms_opt(12, 0, 0).expect("valid time");
    let utc = from_local(noon, HELSINKI).expect("noon exists in Helsinki");
    (noon - utc.naive_utc()).num_hours()
}

/// The UTC instant of `secs` seconds after local midnight in Helsinki on `d` (by the
/// day's offset at noon: exact for every demo event, none of which falls between
/// midnight and the 01:00 UTC switch).
pub(crate) fn helsinki(d: NaiveDate, secs: i64) -> DateTime<Utc> {
    midnight(d) + TimeDelta::seconds(secs - helsinki_offset_hours(d) * 3600)
}

/// The café's opening hours (Helsinki time, every day) and how busy each hour is.
pub(crate) const CAFE_OPENS: i64 = 7;
/// Relative number of customers in each opening hour, 07-08 to 18-19.
pub(crate) const CAFE_HOUR_WEIGHTS: [f64; 12] = [
    6.0, 12.0, 9.0, 7.0, 8.0, 11.0, 10.0, 7.0, 7.0, 6.0, 5.0, 4.0,
];

fn hour_cdf() -> ([f64; 13], f64) {
    let mut cum = [0.0; 13];
    for (h, w) in CAFE_HOUR_WEIGHTS.iter().enumerate() {
        cum[h + 1] = cum[h] + w;
    }
    let total = cum[12];
    (cum, total)
}

/// The café's clock: process time `u` in days since the window starts (a Poisson
/// process in `u` is exactly the BG/NBD process) maps to the wall clock by keeping the
/// day (`floor(u)`) and spreading the fraction of the day over the opening hours,
/// busy hours getting more of it. The map is monotone and keeps every instant on its
/// own day, so day-level summaries are exact and order is kept.
pub(crate) fn cafe_wall(w: &Window, u: f64) -> DateTime<Utc> {
    let day = u.floor();
    let frac = u - day;
    let (cum, total) = hour_cdf();
    let x = frac * total;
    let h = (0..12).rfind(|&h| cum[h] <= x).unwrap_or(0);
    let within = ((x - cum[h]) / CAFE_HOUR_WEIGHTS[h]).clamp(0.0, 1.0);
    let secs = (CAFE_OPENS + h as i64) * 3600 + (within * 3600.0).floor() as i64;
    helsinki(w.date(day as i64), secs.min((CAFE_OPENS + 12) * 3600 - 1))
}

/// The inverse of [`cafe_wall`] (to the second), or `None` outside opening hours.
pub(crate) fn cafe_process_days(w: &Window, t: DateTime<Utc>) -> Option<f64> {
    let date = t.date_naive();
    let local = i64::from(t.num_seconds_from_midnight()) + helsinki_offset_hours(date) * 3600;
    let since_open = local - CAFE_OPENS * 3600;
    if !(0..12 * 3600).contains(&since_open) {
        return None;
    }
    let h = (since_open / 3600) as usize;
    let within = (since_open % 3600) as f64 / 3600.0;
    let (cum, total) = hour_cdf();
    let frac = (cum[h] + within * CAFE_HOUR_WEIGHTS[h]) / total;
    Some(w.day(date) as f64 + frac)
}

/// A random moment of office hours (08-17 Helsinki) on `d`, or on the next weekday
/// when `d` falls on a weekend.
pub(crate) fn office_time(rng: &mut impl Rng, d: NaiveDate) -> DateTime<Utc> {
    let d = next_weekday(d);
    let secs = 8 * 3600 + rng.random_range(0..9 * 3600);
    helsinki(d, secs)
}

pub(crate) fn next_weekday(mut d: NaiveDate) -> NaiveDate {
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += TimeDelta::days(1);
    }
    d
}

pub(crate) fn prev_weekday(mut d: NaiveDate) -> NaiveDate {
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d -= TimeDelta::days(1);
    }
    d
}

/// `start` plus `n` months, clamped to the end of a shorter month (Jan 31 + 1 month
/// is Feb 28 or 29); always counted from `start`, so renewals do not drift.
pub(crate) fn add_months(start: NaiveDate, n: u32) -> NaiveDate {
    start
        .checked_add_months(Months::new(n))
        .expect("date in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_covers_whole_years() {
        let w = Window::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 3);
        assert_eq!(w.start, NaiveDate::from_ymd_opt(2023, 11, 2).unwrap());
        assert_eq!(w.date(w.days - 1), w.as_of);
        // Midnight in Helsinki (winter time, UTC+2) after as_of.
        assert_eq!(w.end.to_rfc3339(), "2026-11-01T22:00:00+00:00");
    }

    #[test]
    fn helsinki_summer_time() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(helsinki_offset_hours(d(2025, 1, 15)), 2);
        assert_eq!(helsinki_offset_hours(d(2025, 3, 29)), 2);
        assert_eq!(helsinki_offset_hours(d(2025, 3, 30)), 3);
        assert_eq!(helsinki_offset_hours(d(2025, 10, 25)), 3);
        assert_eq!(helsinki_offset_hours(d(2025, 10, 26)), 2);
    }

    #[test]
    fn cafe_clock_round_trips_and_keeps_days() {
        let w = Window::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 3);
        for i in 0..5000 {
            let u = i as f64 * 0.219_3;
            let t = cafe_wall(&w, u);
            assert_eq!(w.day(t.date_naive()), u.floor() as i64, "{u}");
            let back = cafe_process_days(&w, t).unwrap();
            assert!(back <= u && u - back < 1e-4, "{u} -> {t} -> {back}");
            let local_hour = (t.hour() as i64 + helsinki_offset_hours(t.date_naive())) % 24;
            assert!((7..19).contains(&local_hour), "{t}");
        }
    }
}
