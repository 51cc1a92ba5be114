//! What a subscription has billed and will bill: one rule, used by the store's derived
//! columns, the figures, the pages, the API and the command line.
//!
//! **Subscription revenue = billed periods.** A subscription bills its `amount` at the
//! start of each period (week, month, quarter or year) counted from `started_on`, up to
//! and including the period that contains the as-of date, and never past `ended_on`: a
//! period that starts on or after `ended_on` is not billed. Month-based periods keep
//! the start's day of the month where the month has it and take the month's last day
//! where it does not (started 31.1.: 28.2. or 29.2., then 31.3.), always counted from
//! `started_on` rather than from the previous period.
//!
//! - [`billed_periods`] and [`revenue_to_date`]: what was billed up to a day;
//! - [`mrr_minor`]: the amount per month (week × 52 / 12, quarter / 3, year / 12,
//!   rounded half away from zero);
//! - [`next_renewal`]: the first period start after the day, while the subscription
//!   has not ended (the row's own `renews_on` when it is set and later);
//! - [`figures`]: a customer's subscriptions summed (MRR of the active ones, revenue
//!   billed to date, the nearest renewal, the active plans).

use chrono::{Datelike, Days, Months, NaiveDate};

/// A billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    /// Reads `week`, `month`, `quarter` or `year` (the schema's `PERIODS`).
    pub fn parse(text: &str) -> Option<Period> {
        Some(match text.trim() {
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            "year" => Period::Year,
            _ => return None,
        })
    }

    fn months(self) -> u32 {
        match self {
            Period::Week => 0,
            Period::Month => 1,
            Period::Quarter => 3,
            Period::Year => 12,
        }
    }

    /// The start of period number `k` (0 is the first) of a subscription that started
    /// on `start`; `None` past the calendar's end.
    pub fn start(self, start: NaiveDate, k: u64) -> Option<NaiveDate> {
        match self {
            Period::Week => start.checked_add_days(Days::new(k.checked_mul(7)?)),
            _ => {
                let m = u32::try_from(k.checked_mul(u64::from(self.months()))?).ok()?;
                start.checked_add_months(Months::new(m))
            }
        }
    }
}

/// One subscription, as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub plan: String,
    /// Billed at the start of each period, in minor units.
    pub amount_minor: i64,
    pub period: Period,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    /// The next renewal as recorded, when the source knows it.
    pub renews_on: Option<NaiveDate>,
}

impl Subscription {
    /// Whether period start `d` is billed by `as_of`: on or before it, and before the end.
    fn bills(&self, d: NaiveDate, as_of: NaiveDate) -> bool {
        d <= as_of && self.ended_on.is_none_or(|e| d < e)
    }

    /// Runs on `as_of`: started on or before it and not ended by it.
    pub fn is_active(&self, as_of: NaiveDate) -> bool {
        self.started_on <= as_of && self.ended_on.is_none_or(|e| e > as_of)
    }
}

/// How many periods the subscription has billed by `as_of` (inclusive).
pub fn billed_periods(s: &Subscription, as_of: NaiveDate) -> u64 {
    if !s.bills(s.started_on, as_of) {
        return 0;
    }
    // The last day a period may start on and still be billed.
    let last = match s.ended_on {
        Some(e) => as_of.min(e.pred_opt().unwrap_or(e)),
        None => as_of,
    };
    // An estimate from the calendar, then corrected by at most a step or two.
    let mut k: u64 = match s.period {
        Period::Week => ((last - s.started_on).num_days() / 7).max(0) as u64,
        p => {
            let months = (i64::from(last.year()) - i64::from(s.started_on.year())) * 12
                + i64::from(last.month())
                - i64::from(s.started_on.month());
            (months.max(0) as u64) / u64::from(p.months())
        }
    };
    while k > 0 && s.period.start(s.started_on, k).is_none_or(|d| d > last) {
        k -= 1;
    }
    while s
        .period
        .start(s.started_on, k + 1)
        .is_some_and(|d| d <= last)
    {
        k += 1;
    }
    k + 1
}

/// What the subscription has billed by `as_of`: its periods times its amount (in minor
/// units; held within `i64`).
pub fn revenue_to_date(s: &Subscription, as_of: NaiveDate) -> i64 {
    let total = i128::from(billed_periods(s, as_of)) * i128::from(s.amount_minor);
    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The amount per month of `amount_minor` billed every `period`: week × 52 / 12,
/// quarter / 3, year / 12, rounded half away from zero.
pub fn mrr_minor(amount_minor: i64, period: Period) -> i64 {
    let (num, den): (i128, i128) = match period {
        Period::Week => (52, 12),
        Period::Month => (1, 1),
        Period::Quarter => (1, 3),
        Period::Year => (1, 12),
    };
    let a = i128::from(amount_minor) * num;
    let (q, r) = (a / den, a % den);
    let rounded = if 2 * r.abs() >= den {
        q + a.signum()
    } else {
        q
    };
    rounded.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The next renewal after `as_of`: `None` once the subscription has ended (or ends
/// before its next period starts); else the row's `renews_on` when it is later than
/// `as_of`, else the first period start after `as_of`.
pub fn next_renewal(s: &Subscription, as_of: NaiveDate) -> Option<NaiveDate> {
    if s.ended_on.is_some_and(|e| e <= as_of) {
        return None;
    }
    let next = match s.renews_on.filter(|r| *r > as_of) {
        Some(r) => r,
        None if s.started_on > as_of => s.started_on,
        None => {
            let k = billed_periods_ignoring_end(s, as_of);
            s.period.start(s.started_on, k)?
        }
    };
    match s.ended_on {
        Some(e) if next >= e => None,
        _ => Some(next),
    }
}

/// The periods started by `as_of`, whether or not the subscription ended.
fn billed_periods_ignoring_end(s: &Subscription, as_of: NaiveDate) -> u64 {
    billed_periods(
        &Subscription {
            ended_on: None,
            ..s.clone()
        },
        as_of,
    )
}

/// A customer's subscriptions summed on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFigures {
    /// The monthly amounts of the subscriptions active on the day.
    pub mrr_minor: i64,
    /// Billed by the day, over every subscription (ended ones included).
    pub revenue_minor: i64,
    /// The nearest renewal of a subscription that has not ended.
    pub next_renewal_on: Option<NaiveDate>,
    /// The plans of the active subscriptions, each once, in the order they started.
    pub plans: Vec<String>,
}

impl SubscriptionFigures {
    /// The active plans as one text (`Pro, Support`), `None` when none is active.
    pub fn plan(&self) -> Option<String> {
        (!self.plans.is_empty()).then(|| self.plans.join(", "))
    }
}

/// The figures of one customer's subscriptions on `as_of`.
pub fn figures(subs: &[Subscription], as_of: NaiveDate) -> SubscriptionFigures {
    let mut out = SubscriptionFigures::default();
    let mut ordered: Vec<&Subscription> = subs.iter().collect();
    ordered.sort_by_key(|s| s.started_on);
    for s in ordered {
        out.revenue_minor = out.revenue_minor.saturating_add(revenue_to_date(s, as_of));
        if s.is_active(as_of) {
            out.mrr_minor = out
                .mrr_minor
                .saturating_add(mrr_minor(s.amount_minor, s.period));
            if !out.plans.contains(&s.plan) {
                out.plans.push(s.plan.clone());
            }
        }
        if let Some(n) = next_renewal(s, as_of) {
            out.next_renewal_on = Some(out.next_renewal_on.map_or(n, |m: NaiveDate| m.min(n)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn sub(period: Period, started: NaiveDate, ended: Option<NaiveDate>) -> Subscription {
        Subscription {
            plan: "Pro".into(),
            amount_minor: 10_000,
            period,
            started_on: started,
            ended_on: ended,
            renews_on: None,
        }
    }

    #[test]
    fn month_ends_bill_on_the_months_last_day() {
        let s = sub(Period::Month, d(2024, 1, 31), None);
        // 2024 is a leap year: the second period starts on 29.2.
        assert_eq!(Period::Month.start(s.started_on, 1), Some(d(2024, 2, 29)));
        assert_eq!(Period::Month.start(s.started_on, 2), Some(d(2024, 3, 31)));
        assert_eq!(billed_periods(&s, d(2024, 2, 28)), 1);
        assert_eq!(billed_periods(&s, d(2024, 2, 29)), 2);
        assert_eq!(billed_periods(&s, d(2024, 3, 30)), 2);
        assert_eq!(billed_periods(&s, d(2024, 3, 31)), 3);
        assert_eq!(next_renewal(&s, d(2024, 2, 1)), Some(d(2024, 2, 29)));
        // Not a leap year: 28.2.
        let s = sub(Period::Month, d(2023, 1, 31), None);
        assert_eq!(billed_periods(&s, d(2023, 2, 27)), 1);
        assert_eq!(billed_periods(&s, d(2023, 2, 28)), 2);
        assert_eq!(next_renewal(&s, d(2023, 2, 1)), Some(d(2023, 2, 28)));
        assert_eq!(next_renewal(&s, d(2023, 2, 28)), Some(d(2023, 3, 31)));
    }

    #[test]
    fn yearly_from_a_leap_day() {
        let s = sub(Period::Year, d(2024, 2, 29), None);
        assert_eq!(billed_periods(&s, d(2025, 2, 27)), 1);
        assert_eq!(billed_periods(&s, d(2025, 2, 28)), 2);
        assert_eq!(billed_periods(&s, d(2028, 2, 29)), 5);
        assert_eq!(next_renewal(&s, d(2027, 3, 1)), Some(d(2028, 2, 29)));
    }

    #[test]
    fn weeks_and_quarters() {
        let s = sub(Period::Week, d(2024, 1, 1), None);
        assert_eq!(billed_periods(&s, d(2024, 1, 7)), 1);
        assert_eq!(billed_periods(&s, d(2024, 1, 8)), 2);
        assert_eq!(billed_periods(&s, d(2024, 12, 31)), 53);
        let q = sub(Period::Quarter, d(2024, 11, 30), None);
        assert_eq!(billed_periods(&q, d(2025, 2, 27)), 1);
        assert_eq!(billed_periods(&q, d(2025, 2, 28)), 2);
        assert_eq!(revenue_to_date(&q, d(2025, 6, 1)), 30_000);
    }

    #[test]
    fn nothing_before_the_start_and_nothing_from_the_end() {
        let s = sub(Period::Month, d(2024, 3, 15), Some(d(2024, 6, 15)));
        assert_eq!(billed_periods(&s, d(2024, 3, 14)), 0);
        assert_eq!(billed_periods(&s, d(2024, 3, 15)), 1);
        // The period starting on the end day is not billed: 15.3., 15.4., 15.5.
        assert_eq!(billed_periods(&s, d(2024, 6, 15)), 3);
        assert_eq!(billed_periods(&s, d(2030, 1, 1)), 3);
        assert_eq!(revenue_to_date(&s, d(2030, 1, 1)), 30_000);
        assert_eq!(
            next_renewal(&s, d(2024, 5, 20)),
            None,
            "ends before it renews"
        );
        assert_eq!(next_renewal(&s, d(2024, 4, 20)), Some(d(2024, 5, 15)));
        assert_eq!(next_renewal(&s, d(2024, 7, 1)), None);
        assert!(!s.is_active(d(2024, 6, 15)));
        assert!(s.is_active(d(2024, 6, 14)));
        // Ended on its start day: never billed.
        let s = sub(Period::Month, d(2024, 3, 15), Some(d(2024, 3, 15)));
        assert_eq!(billed_periods(&s, d(2025, 1, 1)), 0);
        // Not started yet: renews (starts) on its start.
        let s = sub(Period::Month, d(2024, 3, 15), None);
        assert_eq!(next_renewal(&s, d(2024, 3, 1)), Some(d(2024, 3, 15)));
    }

    #[test]
    fn a_recorded_renewal_wins_when_later() {
        let mut s = sub(Period::Month, d(2024, 1, 10), None);
        s.renews_on = Some(d(2024, 7, 1));
        assert_eq!(next_renewal(&s, d(2024, 3, 1)), Some(d(2024, 7, 1)));
        // In the past: the computed one.
        assert_eq!(next_renewal(&s, d(2024, 8, 1)), Some(d(2024, 8, 10)));
    }

    #[test]
    fn mrr_normalises_and_rounds_half_away_from_zero() {
        assert_eq!(mrr_minor(1000, Period::Month), 1000);
        assert_eq!(mrr_minor(1000, Period::Week), 4333); // 4333.33
        assert_eq!(mrr_minor(3, Period::Week), 13); // 13.0
        assert_eq!(mrr_minor(9, Period::Week), 39); // 39.0
        assert_eq!(mrr_minor(1, Period::Quarter), 0); // 0.33
        assert_eq!(mrr_minor(2, Period::Quarter), 1); // 0.67
        assert_eq!(mrr_minor(6, Period::Year), 1); // 0.5 -> 1
        assert_eq!(mrr_minor(-6, Period::Year), -1);
        assert_eq!(mrr_minor(120_000, Period::Year), 10_000);
        assert_eq!(mrr_minor(i64::MAX, Period::Week), i64::MAX);
    }

    #[test]
    fn a_customers_figures_sum_their_subscriptions() {
        let as_of = d(2024, 6, 20);
        let mut a = sub(Period::Month, d(2024, 1, 5), None);
        a.plan = "Pro".into();
        let mut b = sub(Period::Year, d(2023, 9, 1), None);
        b.plan = "Support".into();
        b.amount_minor = 120_000;
        let mut c = sub(Period::Month, d(2023, 1, 1), Some(d(2023, 4, 1)));
        c.plan = "Basic".into();
        c.amount_minor = 5_000;
        let f = figures(&[a, b, c], as_of);
        assert_eq!(f.mrr_minor, 10_000 + 10_000);
        // Pro: 6 months (5.1. .. 5.6.); Support: 1 year; Basic: 3 months.
        assert_eq!(f.revenue_minor, 60_000 + 120_000 + 15_000);
        assert_eq!(f.next_renewal_on, Some(d(2024, 7, 5)));
        assert_eq!(f.plan().as_deref(), Some("Support, Pro"));
        assert_eq!(figures(&[], as_of), SubscriptionFigures::default());
        assert_eq!(SubscriptionFigures::default().plan(), None);
    }
}
