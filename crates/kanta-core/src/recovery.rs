//! Recovery measured (the "recovery paradox" question): customers who had a case,
//! split by how their first case ended, against customers who never had one.
//!
//! The store gives one row per customer ([`kanta_store::recovery`]: their first case,
//! its outcome and fault, their activity as the retention dashboard defines it, and
//! what they bought after an **index time**: the case's opening, or for a customer who
//! never had a case their first active day plus the median delay from first activity
//! to first case among case customers, capped at the report's day). Here the rows are
//! grouped and compared:
//!
//! - groups: `never` (no case), `within_sla`, `late`, `unresolved` (by the first
//!   case's outcome), and `our_fault` / `not_our_fault` (every case customer, by the
//!   first case's "our fault"; unknown counts as not our fault);
//! - **retention after the index**: a Kaplan-Meier curve over the customers active on
//!   their index day (the retention dashboard's activity: an order within the last
//!   90 days, or a running subscription), from that day to their **last contact** (their
//!   last order, or the end of the subscription that kept them active; the index day
//!   when that came before it) for a customer who has since stopped (an event: no
//!   order for 90 days by the report's day), or to the report's day for one still
//!   active (censored: their last order lies within 90 days of it, or a subscription
//!   runs), with Greenwood 95% bands (log-log), and its value at 365 days when
//!   someone was followed that long. A customer who never came back after their index
//!   therefore stops at day 0, whichever group they are in: the stop is counted where
//!   the customer was last seen, not at the end of the 90 days the dashboard waits
//!   before calling them gone, so the curves of customers indexed at a purchase (a
//!   case) and at an arbitrary day (no case) measure the same thing;
//! - **repurchase within 90 and 180 days**: an order after the index time within that
//!   many days, over the customers whose index lies at least that long before the end
//!   of the report's day (so every one of them had the whole window), with Wilson 95%
//!   intervals;
//! - **revenue per customer in the 12 months after** (orders net of refunds plus the
//!   subscription periods starting then), over the customers followed for a whole
//!   year, with a normal 95% interval of the mean;
//! - **comparisons** of each case group with `never`: differences of repurchase rates
//!   (Newcombe's hybrid score interval), of mean revenue (Welch's normal interval), and
//!   of retention at 365 days (Greenwood, plain scale) with the log-rank test of the
//!   whole curves. Each verdict is that of the measure whose interval is shown:
//!   "better" or "worse" when the 95% interval of the difference excludes zero,
//!   "cannot tell" otherwise; for retention the verdict is the log-rank test's alone
//!   (p < 0.05, its side by observed against expected stops), and the interval at 365
//!   days keeps its own reading ([`Comparison::at_365`]); "too few" when either group has fewer than [`MIN_CUSTOMERS`]
//!   customers in the measure or both together fewer than [`MIN_EVENTS`] events
//!   (repurchases; stops), so that small groups are said to be too small rather than
//!   compared.
//!
//! An observational comparison: customers with cases differ from others in more than
//! their case (they buy more, so they have more occasions to complain). The figures
//! describe; they do not prove the case caused the difference.

use chrono::{Duration, NaiveDate};
use kanta_models::survival::{KmOptions, kaplan_meier, log_rank};
use kanta_store::recovery::{CaseOutcome, RecoveryRow};
pub use kanta_store::retention::Segment;
use serde::Serialize;

use crate::access::{Role, require};
use crate::{Acting, Core, CoreError, Result};

/// Fewer customers than this in either group of a comparison: "too few".
pub const MIN_CUSTOMERS: u64 = 30;
/// Fewer events (repurchases, stops) than this in both groups together: "too few".
pub const MIN_EVENTS: u64 = 10;
/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The group keys, `never` first.
pub const GROUPS: [&str; 6] = [
    "never",
    "within_sla",
    "late",
    "unresolved",
    "our_fault",
    "not_our_fault",
];

/// The measures compared.
pub const MEASURES: [&str; 4] = [
    "retention",
    "repurchase_90",
    "repurchase_180",
    "revenue_12m",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryReport {
    pub as_of: NaiveDate,
    pub groups: Vec<RecoveryGroup>,
    pub comparisons: Vec<Comparison>,
    /// How to read the figures, and which groups are too small to tell apart.
    pub note: Option<String>,
    /// The days added to a never-case customer's first active day to get their index
    /// time (the median delay from first activity to first case); `None` when no case
    /// customer was active before their case.
    pub index_delay_days: Option<i64>,
    /// The currency of the revenue figures (the store's).
    pub currency: String,
    /// The customers compared: only this `segment` / `kind` when set.
    pub segment: Option<String>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryGroup {
    pub key: &'static str,
    /// Customers in the group (whatever their follow-up).
    pub customers: u64,
    /// Retention after the index, from day 0.
    pub survival: Vec<SurvivalPoint>,
    /// Retention 365 days after the index, when someone was followed that long.
    pub retained_365: Option<Interval>,
    pub repurchase_90: Rate,
    pub repurchase_180: Rate,
    /// Revenue per customer in the 12 months after the index, in minor units.
    pub revenue_12m: Interval,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurvivalPoint {
    pub day: f64,
    pub s: f64,
    pub lo: f64,
    pub hi: f64,
    pub at_risk: u64,
}

/// `k` of `n`, with its Wilson 95% interval (`None`s when `n` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub p: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// An estimate over `n` customers with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub value: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub n: u64,
}

/// `group` minus `against` on one measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    pub group: &'static str,
    pub against: &'static str,
    /// `retention` (at 365 days), `repurchase_90`, `repurchase_180`, `revenue_12m`.
    pub measure: &'static str,
    pub difference: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// The log-rank test's p-value (retention only).
    pub p: Option<f64>,
    /// "better", "worse", "cannot tell" or "too few": for retention the log-rank
    /// test's verdict on the whole curves, otherwise the difference interval's.
    pub verdict: &'static str,
    /// Retention only: the reading of the difference at 365 days by its own interval
    /// ("better", "worse", "cannot tell"; `None` without an interval).
    pub at_365: Option<&'static str>,
}

impl Rate {
    /// `k` of `n` with Wilson's score interval at 95%.
    pub fn wilson(k: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate {
                k,
                n,
                p: None,
                lo: None,
                hi: None,
            };
        }
        let (kf, nf) = (k as f64, n as f64);
        let p = kf / nf;
        let z2 = Z95 * Z95;
        let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
        let half = Z95 / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
        Rate {
            k,
            n,
            p: Some(p),
            lo: Some((centre - half).max(0.0)),
            hi: Some((centre + half).min(1.0)),
        }
    }
}

/// The mean of `xs` with a normal 95% interval; also the variance of the mean.
fn mean_interval(xs: &[f64]) -> (Interval, Option<f64>) {
    let n = xs.len();
    if n == 0 {
        return (
            Interval {
                value: None,
                lo: None,
                hi: None,
                n: 0,
            },
            None,
        );
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (
            Interval {
                value: Some(mean),
                lo: None,
                hi: None,
                n: 1,
            },
            None,
        );
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let var_mean = var / n as f64;
    let half = Z95 * var_mean.sqrt();
    (
        Interval {
            value: Some(mean),
            lo: Some(mean - half),
            hi: Some(mean + half),
            n: n as u64,
        },
        Some(var_mean),
    )
}

/// Newcombe's hybrid score interval (method 10) of `a.p - b.p`.
pub fn rate_difference(a: &Rate, b: &Rate) -> (Option<f64>, Option<f64>, Option<f64>) {
    match (a.p, a.lo, a.hi, b.p, b.lo, b.hi) {
        (Some(p1), Some(l1), Some(u1), Some(p2), Some(l2), Some(u2)) => {
            let d = p1 - p2;
            let lo = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
            let hi = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
            (Some(d), Some(lo), Some(hi))
        }
        _ => (None, None, None),
    }
}

/// A group's durations from the index (days) and whether the customer stopped.
struct Durations {
    days: Vec<f64>,
    stopped: Vec<bool>,
}

/// What a group's figures are computed from.
struct Figures {
    group: RecoveryGroup,
    durations: Durations,
    /// `(S(365), its variance)` on the plain scale (Greenwood).
    s365: Option<(f64, f64)>,
    revenue_var: Option<f64>,
}

fn figures(key: &'static str, rows: &[&RecoveryRow], as_of: NaiveDate) -> Figures {
    let end = kanta_store::recovery::end_of(as_of);
    let mut durations = Durations {
        days: Vec::new(),
        stopped: Vec::new(),
    };
    let mut repurchase = [(0u64, 0u64); 2];
    let mut revenue: Vec<f64> = Vec::new();
    for r in rows {
        let index_day = r.index_at.date_naive();
        if let Some(a) = r.activity
            && a.first <= index_day
            && a.stopped.is_none_or(|s| s > index_day)
        {
            // Stopped: at the last contact (the index day at the earliest); still
            // active: censored at the report's day.
            let until = r
                .last_contact
                .filter(|_| a.stopped.is_some())
                .unwrap_or(as_of);
            durations
                .days
                .push((until - index_day).num_days().max(0) as f64);
            durations.stopped.push(a.stopped.is_some());
        }
        for (slot, window) in [(0, 90), (1, 180)] {
            let w = Duration::days(window);
            if r.index_at + w <= end {
                repurchase[slot].1 += 1;
                if r.next_order_at.is_some_and(|t| t <= r.index_at + w) {
                    repurchase[slot].0 += 1;
                }
            }
        }
        if r.index_at + Duration::days(365) <= end {
            revenue.push(r.revenue_12m_minor as f64);
        }
    }
    let km = if durations.days.is_empty() {
        None
    } else {
        kaplan_meier(
            &durations.days,
            &durations.stopped,
            None,
            &KmOptions::default(),
        )
        .ok()
    };
    let survival: Vec<SurvivalPoint> = km
        .as_ref()
        .map(|km| {
            km.points
                .iter()
                .map(|p| SurvivalPoint {
                    day: p.time,
                    s: p.survival,
                    lo: p.lower,
                    hi: p.upper,
                    at_risk: p.at_risk.round() as u64,
                })
                .collect()
        })
        .unwrap_or_default();
    let followed_a_year = durations.days.iter().any(|d| *d >= 365.0);
    let at_365 = km
        .as_ref()
        .filter(|_| followed_a_year)
        .and_then(|km| km.points.iter().rev().find(|p| p.time <= 365.0).copied());
    let retained_365 = at_365.map(|p| Interval {
        value: Some(p.survival),
        lo: Some(p.lower),
        hi: Some(p.upper),
        n: durations.days.len() as u64,
    });
    let s365 = at_365.map(|p| (p.survival, p.survival * p.survival * p.greenwood));
    let (revenue_12m, revenue_var) = mean_interval(&revenue);
    Figures {
        group: RecoveryGroup {
            key,
            customers: rows.len() as u64,
            survival,
            retained_365,
            repurchase_90: Rate::wilson(repurchase[0].0, repurchase[0].1),
            repurchase_180: Rate::wilson(repurchase[1].0, repurchase[1].1),
            revenue_12m,
        },
        durations,
        s365,
        revenue_var,
    }
}

/// "better" / "worse" by the interval's side of zero, else "cannot tell".
fn by_interval(lo: Option<f64>, hi: Option<f64>) -> &'static str {
    match (lo, hi) {
        (Some(lo), _) if lo > 0.0 => "better",
        (_, Some(hi)) if hi < 0.0 => "worse",
        _ => "cannot tell",
    }
}

fn compare(g: &Figures, never: &Figures) -> Vec<Comparison> {
    let key = g.group.key;
    let base = |measure| Comparison {
        group: key,
        against: "never",
        measure,
        difference: None,
        lo: None,
        hi: None,
        p: None,
        verdict: "too few",
        at_365: None,
    };
    let mut out = Vec::with_capacity(MEASURES.len());

    // Retention: S(365) difference with the log-rank test of the whole curves.
    let mut c = base("retention");
    if let (Some((s1, v1)), Some((s2, v2))) = (g.s365, never.s365) {
        let d = s1 - s2;
        let half = Z95 * (v1 + v2).sqrt();
        (c.difference, c.lo, c.hi) = (Some(d), Some(d - half), Some(d + half));
        c.at_365 = Some(by_interval(c.lo, c.hi));
    }
    let (n1, n2) = (
        g.durations.days.len() as u64,
        never.durations.days.len() as u64,
    );
    let stops = g
        .durations
        .stopped
        .iter()
        .chain(&never.durations.stopped)
        .filter(|s| **s)
        .count() as u64;
    if n1 > 0
        && n2 > 0
        && let Ok(lr) = log_rank(
            &g.durations.days,
            &g.durations.stopped,
            &never.durations.days,
            &never.durations.stopped,
        )
    {
        c.p = Some(lr.p);
        if n1 >= MIN_CUSTOMERS && n2 >= MIN_CUSTOMERS && stops >= MIN_EVENTS {
            // The log-rank test decides on the whole curves; the difference at 365
            // days keeps its own reading (`at_365`).
            c.verdict = match (lr.p < 0.05, lr.observed_a > lr.expected_a) {
                (false, _) => "cannot tell",
                (true, true) => "worse",
                (true, false) => "better",
            };
        }
    }
    out.push(c);

    for (measure, a, b) in [
        (
            "repurchase_90",
            &g.group.repurchase_90,
            &never.group.repurchase_90,
        ),
        (
            "repurchase_180",
            &g.group.repurchase_180,
            &never.group.repurchase_180,
        ),
    ] {
        let mut c = base(measure);
        (c.difference, c.lo, c.hi) = rate_difference(a, b);
        if a.n >= MIN_CUSTOMERS && b.n >= MIN_CUSTOMERS && a.k + b.k >= MIN_EVENTS {
            c.verdict = by_interval(c.lo, c.hi);
        }
        out.push(c);
    }

    let mut c = base("revenue_12m");
    let (a, b) = (&g.group.revenue_12m, &never.group.revenue_12m);
    if let (Some(m1), Some(m2)) = (a.value, b.value) {
        c.difference = Some(m1 - m2);
        if let (Some(v1), Some(v2)) = (g.revenue_var, never.revenue_var) {
            let half = Z95 * (v1 + v2).sqrt();
            (c.lo, c.hi) = (Some(m1 - m2 - half), Some(m1 - m2 + half));
        }
    }
    if a.n >= MIN_CUSTOMERS && b.n >= MIN_CUSTOMERS {
        c.verdict = by_interval(c.lo, c.hi);
    }
    out.push(c);
    out
}

/// The group's name in the note.
fn label(key: &str) -> &'static str {
    match key {
        "never" => "never had a case",
        "within_sla" => "resolved within SLA",
        "late" => "resolved late",
        "unresolved" => "not resolved",
        "our_fault" => "our fault",
        "not_our_fault" => "not our fault",
        _ => "other",
    }
}

/// The report from the store's rows (see the module documentation).
pub fn report(data: &kanta_store::recovery::RecoveryData, currency: &str) -> RecoveryReport {
    let as_of = data.as_of;
    let mut members: [Vec<&RecoveryRow>; 6] = Default::default();
    for r in &data.rows {
        let Some(case) = &r.case else {
            members[0].push(r);
            continue;
        };
        members[match case.outcome {
            CaseOutcome::WithinSla => 1,
            CaseOutcome::Late => 2,
            CaseOutcome::Unresolved => 3,
        }]
        .push(r);
        members[if case.our_fault == Some(true) { 4 } else { 5 }].push(r);
    }
    let figs: Vec<Figures> = GROUPS
        .iter()
        .zip(&members)
        .map(|(key, rows)| figures(key, rows, as_of))
        .collect();
    let mut comparisons = Vec::new();
    for g in &figs[1..] {
        comparisons.extend(compare(g, &figs[0]));
    }

    let mut note = Vec::new();
    let case_customers = members[1].len() + members[2].len() + members[3].len();
    if case_customers == 0 {
        note.push(format!(
            "No customer had a case by {as_of}: there is nothing to compare."
        ));
    } else {
        note.push(match data.median_delay_days {
            Some(d) => format!(
                "Customers with a case are followed from their first case; customers who never had one from their first active day plus {d} days (the median time from first activity to first case), at the latest {as_of}."
            ),
            None => "Customers with a case are followed from their first case; customers who never had one from their first active day.".to_string(),
        });
        note.push(
            "Retention follows the customers active on the day they are followed from (an order in the 90 days before it, or a running subscription): a customer who has since gone 90 days without an order stops at their last purchase (day 0 if they never came back), one still active is followed to the report's day. Repurchase counts the customers followed for the whole 90 or 180 days; revenue (orders net of refunds plus subscription periods) the customers followed for a whole year. Retention's verdict is the log-rank test of the whole curves; its difference at 365 days has its own interval.".to_string(),
        );
        let too_few: Vec<&str> = figs[1..]
            .iter()
            .filter(|g| {
                comparisons
                    .iter()
                    .filter(|c| c.group == g.group.key)
                    .all(|c| c.verdict == "too few")
            })
            .map(|g| label(g.group.key))
            .collect();
        if figs[0].group.customers < MIN_CUSTOMERS {
            note.push(format!(
                "Too few customers never had a case ({}) to compare the others with: the groups cannot be told apart.",
                figs[0].group.customers
            ));
        } else if !too_few.is_empty() {
            note.push(format!(
                "Too few customers to tell apart from those who never had a case (fewer than {MIN_CUSTOMERS} customers or {MIN_EVENTS} events): {}.",
                too_few.join(", ")
            ));
        }
        note.push(
            "The groups differ in more than their case; the figures describe, they do not prove the case caused the difference.".to_string(),
        );
    }
    RecoveryReport {
        as_of,
        groups: figs.into_iter().map(|f| f.group).collect(),
        comparisons,
        note: Some(note.join(" ")),
        index_delay_days: data.median_delay_days,
        currency: currency.to_string(),
        segment: None,
        kind: None,
    }
}

impl Core {
    /// Customers who had a case, by outcome, against customers who never had one, as
    /// of `as_of` (default today in the store's time zone), among the customers of
    /// `segment` (the retention dashboard's filter: customer `segment` and/or `kind`;
    /// the default is every customer). Any signed-in role may read it.
    pub async fn recovery_report(
        &self,
        acting: &Acting,
        as_of: Option<NaiveDate>,
        segment: &Segment,
    ) -> Result<RecoveryReport> {
        require(acting, Role::Viewer)?;
        let today = self.today().await?;
        let as_of = as_of.unwrap_or(today);
        if as_of > today {
            return Err(CoreError::invalid(
                "as_of",
                format!(
                    "{as_of} is after today ({today} in the store's time zone): the report can only look back"
                ),
            ));
        }
        if chrono::Datelike::year(&as_of) > 9999 {
            return Err(CoreError::invalid("as_of", "must be a year up to 9999"));
        }
        let currency = self.currency().await?;
        let data = self.store().recovery_data(as_of, segment).await?;
        let mut r = report(&data, currency.code());
        r.segment.clone_from(&segment.segment);
        r.kind.clone_from(&segment.kind);
        Ok(r)
    }
}
