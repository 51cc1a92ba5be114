//! Retention figures from customers' active spans: the leaky bucket per calendar
//! month, acquisition cohorts, and the durations a survival curve
//! ([`crate::survival`]) needs. The store computes each customer's span (first active
//! day, stop day) in SQL; these are small sums over the spans.
//!
//! # Definitions
//!
//! A customer is **active on a day** when a subscription runs that day
//! (`started_on <= day < ended_on`, or no `ended_on`) or when they placed an order
//! (`transactions.kind = 'order'`) on that day or on one of the 89 days before it: an
//! order keeps a customer active for 90 days (the store's `LAPSE_DAYS`). Days are UTC
//! calendar days; nothing after the day the figures are computed for (`as_of`) counts.
//!
//! A customer **stops** on the first day after their last active day, and only when
//! that day is on or before `as_of`: a customer who lapses and later comes back has
//! not stopped, they were kept through the gap. With that, per calendar month `m`:
//!
//! - **won** in `m`: the first active day is in `m` (never active before);
//! - **lost** in `m`: the stop day is in `m` (not active at the end of `m`, and never
//!   again);
//! - **customers at the end** of `m`: first active on or before the last day of `m`
//!   and not stopped by then (the current month ends on `as_of`);
//! - **kept** in `m`: customers both at the end of the month before and at the end of
//!   `m`.
//!
//! so that `won - lost = end - start` holds for every month exactly (a customer won
//! and lost in the same month counts once in each and in neither end), and
//! `kept = start - lost + won_and_lost`.
//!
//! A **cohort** is the customers first active in one month; the customers of a cohort
//! **still active `k` months later** are those that had not stopped before month
//! `cohort + k` began (so `k = 0` is the whole cohort).
//!
//! **Survival** runs from the first active day: the duration ends at the stop day (an
//! event), or is censored after `as_of` (the customer is active at the end of the
//! data).
//!

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// One customer's active span, as of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The first day the customer was active.
    pub first: NaiveDate,
    /// The first day after the customer's last active day, when that is on or before
    /// `as_of`; `None` while the customer is active (or will be again within the data).
    pub stopped: Option<NaiveDate>,
}

/// The leaky bucket in one calendar month (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonthFlow {
    /// The first day of the month.
    pub month: NaiveDate,
    /// Customers at the end of the month before.
    pub start: u64,
    /// First active in this month.
    pub won: u64,
    /// Customers at the end of both the month before and this one.
    pub kept: u64,
    /// Stopped in this month, for good.
    pub lost: u64,
    /// Customers at the end of this month (`as_of` for the current month).
    pub end: u64,
}

impl MonthFlow {
    /// Kept as a share of the customers at the start; `None` without any.
    pub fn retention(&self) -> Option<f64> {
        (self.start > 0).then(|| self.kept as f64 / self.start as f64)
    }
}

/// One acquisition cohort: the customers first active in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cohort {
    /// The first day of the acquisition month.
    pub month: NaiveDate,
    /// Customers first active in that month.
    pub size: u64,
    /// `active[k]`: customers of the cohort still active `k` months later (not
    /// stopped before that month began), for every month up to `as_of`'s;
    /// `active[0] == size`.
    pub active: Vec<u64>,
}

impl Cohort {
    /// `active[k] / size`.
    pub fn share(&self, k: usize) -> Option<f64> {
        let a = *self.active.get(k)?;
        (self.size > 0).then(|| a as f64 / self.size as f64)
    }
}

/// Customers with the same survival observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Duration {
    /// Days from the first active day to the stop day, or to the end of `as_of`.
    pub days: i64,
    /// `true`: the customer stopped (an event); `false`: still active (censored).
    pub stopped: bool,
    /// How many customers.
    pub customers: u64,
}

/// A month as a number (`year * 12 + month - 1`), so months subtract.
fn month_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

fn month_start(n: i64) -> NaiveDate {
    let (y, m) = (n.div_euclid(12), n.rem_euclid(12));
    NaiveDate::from_ymd_opt(y as i32, m as u32 + 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The leaky bucket for the `months` calendar months up to and including `as_of`'s,
/// oldest first. Customers first active before the window count in its start.
pub fn monthly_flows(spans: &[Span], as_of: NaiveDate, months: u32) -> Vec<MonthFlow> {
    let last = month_number(as_of);
    let first = last - i64::from(months) + 1;
    // Per month of the window: first active (won), stopped (lost), both; and what was
    // won and lost before the window.
    let n = months as usize;
    let (mut won, mut lost, mut both) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
    let (mut won_before, mut lost_before) = (0u64, 0u64);
    let slot = |m: i64| (m >= first && m <= last).then(|| (m - first) as usize);
    for a in spans {
        let f = month_number(a.first);
        if f > last {
            continue;
        }
        match slot(f) {
            Some(i) => won[i] += 1,
            None => won_before += 1,
        }
        if let Some(s) = a.stopped.map(month_number).filter(|s| *s <= last) {
            match slot(s) {
                Some(i) => {
                    lost[i] += 1;
                    if s == f {
                        both[i] += 1;
                    }
                }
                None => lost_before += 1,
            }
        }
    }
    let mut end = won_before - lost_before;
    (0..n)
        .map(|i| {
            let start = end;
            end = start + won[i] - lost[i];
            MonthFlow {
                month: month_start(first + i as i64),
                start,
                won: won[i],
                kept: start - (lost[i] - both[i]),
                lost: lost[i],
                end,
            }
        })
        .collect()
}

/// The acquisition cohorts of the `months` calendar months up to and including
/// `as_of`'s, oldest first (months without a new customer are left out).
pub fn cohorts(spans: &[Span], as_of: NaiveDate, months: u32) -> Vec<Cohort> {
    let last = month_number(as_of);
    let first = last - i64::from(months) + 1;
    // Per cohort: how many customers' last active month is each month (the current
    // month for those still active).
    let mut last_months: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for a in spans {
        let c = month_number(a.first);
        if c < first || c > last {
            continue;
        }
        let last_active = a
            .stopped
            .map_or(last, |s| month_number(s.pred_opt().unwrap_or(s)))
            .clamp(c, last);
        let counts = last_months
            .entry(c)
            .or_insert_with(|| vec![0; (last - c + 1) as usize]);
        counts[(last_active - c) as usize] += 1;
    }
    last_months
        .into_iter()
        .map(|(c, counts)| {
            // Still active k months later: last active month at or after c + k.
            let mut active = counts.clone();
            for k in (0..active.len().saturating_sub(1)).rev() {
                active[k] += active[k + 1];
            }
            Cohort {
                month: month_start(c),
                size: active[0],
                active,
            }
        })
        .collect()
}

/// The survival observations: days from the first active day to the stop day
/// (stopped) or to the end of `as_of` (censored), counted per distinct pair, by days.
pub fn durations(spans: &[Span], as_of: NaiveDate) -> Vec<Duration> {
    let mut counts: BTreeMap<(i64, bool), u64> = BTreeMap::new();
    for a in spans.iter().filter(|a| a.first <= as_of) {
        let (end, stopped) = match a.stopped {
            Some(s) => (s, true),
            None => (as_of.succ_opt().unwrap_or(as_of), false),
        };
        *counts
            .entry(((end - a.first).num_days(), stopped))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((days, stopped), customers)| Duration {
            days,
            stopped,
            customers,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn a(_id: i64, first: &str, stopped: Option<&str>) -> Span {
        Span {
            first: d(first),
            stopped: stopped.map(d),
        }
    }

    #[test]
    fn months_count_and_subtract() {
        assert_eq!(
            month_number(d("2024-01-31")) - month_number(d("2023-12-01")),
            1
        );
        assert_eq!(month_start(month_number(d("2024-02-29"))), d("2024-02-01"));
    }

    #[test]
    fn won_minus_lost_is_the_change_every_month() {
        let acts = [
            a(1, "2023-11-15", None),
            a(2, "2024-01-10", Some("2024-03-05")),
            a(3, "2024-02-01", Some("2024-02-20")),
            a(4, "2023-12-31", Some("2024-01-01")),
            a(5, "2024-03-01", None),
        ];
        let f = monthly_flows(&acts, d("2024-03-10"), 3);
        let months: Vec<_> = f.iter().map(|m| m.month).collect();
        assert_eq!(months, [d("2024-01-01"), d("2024-02-01"), d("2024-03-01")]);
        let row = |m: &MonthFlow| (m.start, m.won, m.kept, m.lost, m.end);
        // January: 1 and 4 at the start, 4 stops on the 1st, 2 is won.
        assert_eq!(row(&f[0]), (2, 1, 1, 1, 2));
        // February: 3 is won and lost.
        assert_eq!(row(&f[1]), (2, 1, 2, 1, 2));
        // March: 2 stops, 5 is won.
        assert_eq!(row(&f[2]), (2, 1, 1, 1, 2));
        for m in &f {
            assert_eq!(m.won as i64 - m.lost as i64, m.end as i64 - m.start as i64);
        }
        for w in f.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
    }

    #[test]
    fn cohorts_count_customers_until_the_month_they_stop() {
        let acts = [
            a(1, "2024-01-05", None),
            a(2, "2024-01-20", Some("2024-03-01")), // last active in February
            a(3, "2024-01-31", Some("2024-02-15")),
            a(4, "2024-03-02", None),
            a(5, "2023-06-01", None), // before the window
        ];
        let c = cohorts(&acts, d("2024-03-31"), 3);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].month, c[0].size), (d("2024-01-01"), 3));
        assert_eq!(c[0].active, [3, 3, 1]);
        assert_eq!(c[1].active, [1]);
        assert_eq!(c[0].share(2), Some(1.0 / 3.0));
    }

    #[test]
    fn durations_end_at_the_stop_or_after_as_of() {
        let acts = [
            a(1, "2024-01-01", None),
            a(2, "2024-01-01", Some("2024-01-31")),
            a(3, "2024-01-01", Some("2024-01-31")),
        ];
        let got = durations(&acts, d("2024-03-01"));
        assert_eq!(
            got,
            [
                Duration {
                    days: 30,
                    stopped: true,
                    customers: 2
                },
                Duration {
                    days: 61,
                    stopped: false,
                    customers: 1
                },
            ]
        );
    }
}
