//! The health score 0-100 that names its reasons: a binned logistic scorecard of
//! churn in the next 90 days ([`kanta_models::scorecard`]), learned from the store's
//! own past snapshots, or documented expert weights while outcomes are too few;
//! refreshed daily by a job (`health.daily`) and on demand, with each customer's
//! history.
//!
//! # What is learned, from what
//!
//! [`Core::refresh_health`] reads every customer's figures as of the day scored and as
//! of up to [`SNAPSHOTS`] past days `D = as_of - 90 - 30k` (k = 0, 1, ...) in one set of
//! grouped passes ([`kanta_store::health`]), and turns them into the features of
//! [`FEATURES`] (the keys are fixed: pages, the demo and the queue name them). A
//! customer is a training row of snapshot `D` when they had begun by `D`, had not
//! ended, and were active: a subscription running at `D` (contractual) or an order in
//! the 365 days before it. The outcome is churn in `(D, D + 90]`: a contractual
//! customer has no subscription running at `D + 90`; any other customer places no
//! order in those 90 days (the lapse window).
//!
//! The newest snapshot is the holdout (a time-based split: the model is fitted on the
//! older snapshots and validated on the newest, as it will be used: on the future),
//! giving AUC, Brier score, log-loss and the calibration deciles; then the scorecard is
//! fitted again on every snapshot and scores every customer as of `as_of`.
//!
//! # Expert weights
//!
//! While the snapshots hold fewer churn events than the setting `health_min_events`
//! (default [`DEFAULT_MIN_EVENTS`]), a learned model would be noise: these weights are
//! used instead, and the model page says so. They are in churn-logit units (positive =
//! more churn; pages show health points = -10 × weight) over an intercept of
//! [`EXPERT_INTERCEPT`] (a 15% churn in 90 days for an average customer):
//!
//! | feature | bin | weight | why |
//! |---|---|---|---|
//! | `usage_trend` | ≤ 0.5 / (0.5, 0.8] / > 1.2 | +1.2 / +0.6 / -0.3 | usage falling against the customer's own baseline is the earliest sign of leaving |
//! | `recency_days` | ≤ 30 / (90, 180] / > 180 | -0.4 / +0.6 / +1.2 | the longer since the last order, the likelier the customer has gone |
//! | `frequency_12m` | ≤ 1 / > 4 | +0.4 / -0.4 | frequent buyers are habits; one order is a trial |
//! | `p_alive` | ≤ 0.3 / (0.3, 0.6] / > 0.6 | +1.0 / +0.4 / -0.2 | the purchase model's own estimate that the customer is still active |
//! | `tier` | A / B / D | -0.3 / -0.1 / +0.2 | valuable customers have more invested in the relation |
//! | `trust_balance` | ≤ -10 / (-10, -1] / > 5 | +0.8 / +0.4 / -0.2 | a customer owed goodwill (our mistakes not made good) is at risk |
//! | `trust_trend_90` | ≤ -10 | +0.5 | a recent fall in trust weighs more than an old one |
//! | `open_cases` | (0, 2] / > 2 | +0.3 / +0.7 | open problems are friction now |
//! | `breached_cases_90` | > 0 | +0.6 | a missed service promise is remembered |
//! | `last_nps_group` | detractor / passive / promoter | +0.8 / +0.1 / -0.5 | what the customer said of us, the strongest single answer |
//! | `last_csat` | ≤ 2 / (2, 3] / > 3 | +0.6 / +0.2 / -0.2 | the last service experience |
//! | `tenure_days` | ≤ 90 / (90, 365] / > 365 | +0.3 / +0.1 / -0.2 | new customers leave most readily |
//! | `days_since_proactive` | ≤ 60 / > 180 / never | -0.2 / +0.3 / +0.3 | a customer nobody calls drifts away |
//! | `onboarding_progress` | ≤ 0.5 / (0.5, 0.99] / > 0.99 | +0.6 / +0.2 / -0.2 | a stalled start seldom turns into a lasting customer |
//! | `goals_at_risk` | > 0 | +0.5 | the customer is not getting what they came for |
//! | `days_to_renewal` | ≤ 30 | +0.2 | the moment of decision is near |
//! | `contractual` | yes | -0.2 | a running contract is a reason to stay |
//!
//! Other bins weigh 0. Missing values weigh 0 except where the table says (`never`).
//!
//! # Each customer's reasons
//!
//! Each score keeps its factors: every feature whose bin weighs something, with the
//! bin, the customer's value and its contribution in health-logit units (positive =
//! healthier), sorted by size. The model's intercept plus the contributions is the
//! health logit exactly (the churn logit's negative); the score is
//! `round(100 × (1 − churn probability))`. Pages say each factor in words
//! (`health.factor.<feature>`) with its points (10 × contribution).
//!
//! History is kept a row a day per customer (a second refresh on a day replaces the
//! first) for 400 days; `customers.health_score`, `health_probability` and
//! `health_change_30` carry the newest for the list and the queue.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use kanta_domain::schema::CUSTOMERS;
use kanta_domain::subscription::{Period, Subscription, next_renewal};
use kanta_models::scorecard::{
    Bin, BinRule, Cells, Column, Dataset, Feature, FeatureKind, FitOptions, Scorecard, Validation,
    range_label, sigmoid, validate,
};
use kanta_store::health::{HealthInputs, HealthScore, NewHealthModel};
use kanta_store::write::RunInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Result};

/// The daily job's kind.
pub const JOB: &str = "health.daily";

/// Churn events needed before the weights are learned (setting `health_min_events`).
pub const DEFAULT_MIN_EVENTS: u64 = 50;

/// Past snapshots read at most (monthly, a year back).
pub const SNAPSHOTS: u64 = 12;

/// Days of the outcome window (churn within 90 days).
pub const HORIZON_DAYS: u64 = 90;

/// Days the daily job reuses a model's weights before fitting again.
pub const REFIT_DAYS: i64 = 7;

/// Training rows the fit takes at most (a deterministic sample of customers beyond).
pub const MAX_TRAINING_ROWS: usize = 300_000;

/// The churn logit of an average customer under the expert weights (15% in 90 days).
pub const EXPERT_INTERCEPT: f64 = -1.7346;

/// A feature's key and whether it is categorical.
pub const FEATURES: [(&str, bool); 17] = [
    ("usage_trend", false),
    ("recency_days", false),
    ("frequency_12m", false),
    ("p_alive", false),
    ("tier", true),
    ("trust_balance", false),
    ("trust_trend_90", false),
    ("open_cases", false),
    ("breached_cases_90", false),
    ("last_nps_group", true),
    ("last_csat", false),
    ("tenure_days", false),
    ("days_since_proactive", false),
    ("onboarding_progress", false),
    ("goals_at_risk", false),
    ("days_to_renewal", false),
    ("contractual", true),
];

/// `health_min_events`: a whole number from 10 to 1,000,000.
pub fn parse_min_events(s: &str) -> std::result::Result<String, String> {
    let first = s.split_whitespace().next().unwrap_or("");
    match first.parse::<u64>() {
        Ok(n) if (10..=1_000_000).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "'{}' is not a number of churn events from 10 to 1000000 (default {DEFAULT_MIN_EVENTS})",
            s.trim()
        )),
    }
}

/// Why the model in use is what it is: a key pages say in words, with its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Why {
    /// `learned`; `too_few_events` (expert weights); `no_history` (no past snapshot
    /// with customers: expert weights); `fit_failed` (expert weights, with `error`).
    pub key: String,
    /// Churn events in the snapshots.
    pub events: u64,
    /// The setting's threshold.
    pub min_events: u64,
    /// The fit's error, for `fit_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Why {
    /// The reason in an English sentence (the command line's; pages translate by key).
    pub fn sentence(&self) -> String {
        match self.key.as_str() {
            "learned" => format!(
                "learned from the store's own history: {} churn events (at least {} needed)",
                self.events, self.min_events
            ),
            "too_few_events" => format!(
                "{} churn events: fewer than {}, expert weights in use",
                self.events, self.min_events
            ),
            "no_history" => "no past snapshot with customers yet: expert weights in use".into(),
            _ => format!(
                "the fit failed ({}): expert weights in use",
                self.error.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthRun {
    pub model_id: i64,
    /// `learned` or `expert`.
    pub method: String,
    pub why: Why,
    pub as_of: NaiveDate,
    /// Customers scored.
    pub customers: usize,
    /// Training rows (customer × snapshot) and their churn events.
    pub rows: usize,
    pub events: usize,
    /// The holdout's metrics (the newest snapshot), when there was one with both
    /// outcomes.
    pub validation: Option<Validation>,
    /// Seconds the refresh took.
    pub seconds: f64,
}

/// One factor of a customer's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// The feature's key ([`FEATURES`]).
    pub feature: String,
    /// The bin's label.
    pub bin: String,
    /// The customer's value (a number, a level, or null when missing).
    pub value: Json,
    /// Contribution to the health logit (positive = healthier).
    pub contribution: f64,
}

impl Factor {
    /// The contribution as points (10 × contribution, rounded).
    pub fn points(&self) -> i64 {
        (10.0 * self.contribution).round() as i64
    }
}

/// One day of a customer's score history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub day: NaiveDate,
    pub score: i64,
}

/// A customer's health, as the customer page and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerHealth {
    /// The customer's external id.
    pub customer: String,
    /// The day scored.
    pub day: NaiveDate,
    /// 0-100.
    pub score: i64,
    /// Churn probability in the next 90 days.
    pub probability: f64,
    /// Health logit = intercept + Σ contributions.
    pub logit: f64,
    /// The model's health intercept.
    pub intercept: f64,
    /// Factors, largest first.
    pub factors: Vec<Factor>,
    /// Points against 30 days before.
    pub change_30: Option<i64>,
    /// The last 180 days, oldest first.
    pub history: Vec<HistoryPoint>,
    pub model_id: i64,
    /// `learned` or `expert`.
    pub method: String,
}

/// One bin as the model page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinView {
    pub label: String,
    /// Health-logit units (positive = healthier).
    pub weight: f64,
    /// 10 × weight, rounded.
    pub points: i64,
    pub count: usize,
    pub events: usize,
}

/// One feature as the model page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureView {
    pub name: String,
    pub categorical: bool,
    pub importance: f64,
    pub bins: Vec<BinView>,
}

/// The model in use, as the model page and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthModelView {
    pub id: i64,
    pub fitted_at: chrono::DateTime<chrono::Utc>,
    pub as_of: NaiveDate,
    /// `learned` or `expert`.
    pub method: String,
    pub why: Why,
    /// Training rows and their churn events.
    pub rows: i64,
    pub events: i64,
    /// The holdout's metrics.
    pub validation: Option<Validation>,
    /// The holdout's snapshot day.
    pub holdout_day: Option<NaiveDate>,
    /// The snapshots learned from.
    pub snapshots: Vec<NaiveDate>,
    /// Health intercept.
    pub intercept: f64,
    pub features: Vec<FeatureView>,
}

/// The details a model row keeps (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Details {
    /// In churn-logit units, as fitted.
    scorecard: Scorecard,
    why: Why,
    validation: Option<Validation>,
    holdout_day: Option<NaiveDate>,
    snapshots: Vec<NaiveDate>,
}

/// Features of one customer as of one day.
#[derive(Debug, Clone, Default)]
struct Row {
    num: [Option<f64>; 17],
    cat: [Option<String>; 17],
}

fn days_between(later: NaiveDate, earlier: NaiveDate) -> f64 {
    (later - earlier).num_days() as f64
}

fn sub_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

fn add_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(d)
}

/// The columns of rows, in [`FEATURES`] order.
fn dataset(rows: &[Row], target: Vec<bool>) -> Dataset {
    let columns = FEATURES
        .iter()
        .enumerate()
        .map(|(i, (name, cat))| Column {
            name: (*name).to_string(),
            cells: if *cat {
                Cells::Categorical(rows.iter().map(|r| r.cat[i].clone()).collect())
            } else {
                Cells::Numeric(rows.iter().map(|r| r.num[i]).collect())
            },
        })
        .collect();
    Dataset { columns, target }
}

/// What the figures say of one customer on one day: the features, whether the
/// customer is a training row (begun, not ended, active) and, when `horizon_known`,
/// the outcome.
struct Snapshot<'a> {
    inputs: &'a HealthInputs,
    subs: &'a HashMap<i64, Vec<Subscription>>,
    /// The model run each day's figures rest on.
    runs: &'a [Option<i64>],
    /// P(alive) and tier by customer, per run.
    by_run: &'a HashMap<i64, HashMap<i64, (f64, String)>>,
}

impl Snapshot<'_> {
    fn row(&self, k: usize, i: usize, scoring: bool) -> (Row, bool, bool) {
        let d = self.inputs.days[k];
        let c = &self.inputs.customers[i];
        let f = &self.inputs.figures[k][i];
        let subs: &[Subscription] = self.subs.get(&c.id).map_or(&[], Vec::as_slice);
        // A past day's renewal comes from the periods, not today's recorded `renews_on`.
        let renewal = subs
            .iter()
            .filter_map(|s| {
                if scoring {
                    next_renewal(s, d)
                } else {
                    next_renewal(
                        &Subscription {
                            renews_on: None,
                            ..s.clone()
                        },
                        d,
                    )
                }
            })
            .min();
        let contractual = subs.iter().any(|s| s.is_active(d));
        let mut r = Row::default();
        let usage = match (f.usage_recent, f.usage_baseline) {
            (recent, Some(base)) if base > 0.0 => {
                Some((recent.unwrap_or(0.0) / 4.0) / (base / 12.0))
            }
            _ => None,
        };
        r.num[0] = usage;
        r.num[1] = f.last_order.map(|l| days_between(d, l));
        r.num[2] = Some(f.orders_365 as f64);
        if let Some(Some(run)) = self.runs.get(k)
            && let Some(scores) = self.by_run.get(run)
            && let Some((p, tier)) = scores.get(&c.id)
        {
            r.num[3] = Some(*p);
            r.cat[4] = Some(tier.clone());
        }
        r.num[5] = Some(f.trust_balance as f64);
        r.num[6] = Some((f.trust_balance - f.trust_balance_90_ago) as f64);
        r.num[7] = Some(f.open_cases as f64);
        r.num[8] = Some(f.breached_cases_90 as f64);
        r.cat[9] = Some(
            match f.last_nps {
                Some(n) if n >= 9 => "promoter",
                Some(n) if n >= 7 => "passive",
                Some(_) => "detractor",
                None => "none",
            }
            .to_string(),
        );
        r.num[10] = f.last_csat.map(|v| v as f64);
        r.num[11] = c.began.map(|b| days_between(d, b).max(0.0));
        r.num[12] = f.last_proactive.map(|l| days_between(d, l));
        r.num[13] = (f.tasks_due > 0).then(|| f.tasks_done as f64 / f.tasks_due as f64);
        r.num[14] = Some(f.goals_at_risk as f64);
        r.num[15] = renewal.map(|n| days_between(n, d));
        r.cat[16] = Some(if contractual { "yes" } else { "no" }.to_string());
        let begun = c.began.is_none_or(|b| b <= d);
        let ended = c.ended_on.is_some_and(|e| e <= d);
        let active = contractual || f.orders_365 > 0;
        let eligible = begun && !ended && active;
        let after = add_days(d, HORIZON_DAYS);
        let churned = if contractual {
            !subs.iter().any(|s| s.is_active(after))
        } else {
            f.orders_next_90 == 0
        };
        (r, eligible, churned)
    }
}

/// A feature's bins from `(label, rule, weight)`.
/// A numeric expert feature: bins cut at `cuts` (ascending: `≤ c1`, `(c1, c2]`, ...,
/// `> ck`) weighing `weights` (one more than the cuts), and a missing bin weighing
/// `missing` when given (else a missing value falls in no bin and weighs 0).
fn expert_numeric(name: &str, cuts: &[f64], weights: &[f64], missing: Option<f64>) -> Feature {
    debug_assert_eq!(weights.len(), cuts.len() + 1, "{name}");
    let bounds = |i: usize| (i.checked_sub(1).map(|j| cuts[j]), cuts.get(i).copied());
    let bins = weights.iter().enumerate().map(|(i, &w)| {
        let (lo, hi) = bounds(i);
        (range_label(lo, hi), BinRule::Range { lo, hi }, w)
    });
    expert_feature(name, FeatureKind::Numeric, bins, missing)
}

/// A categorical expert feature: each level's weight; other levels weigh 0, and a
/// missing value weighs `missing` when given.
fn expert_levels(name: &str, levels: &[(&str, f64)], missing: Option<f64>) -> Feature {
    let bins = levels
        .iter()
        .map(|&(l, w)| {
            (
                l.to_string(),
                BinRule::Levels {
                    levels: vec![l.to_string()],
                },
                w,
            )
        })
        .chain([("other".to_string(), BinRule::Other, 0.0)]);
    expert_feature(name, FeatureKind::Categorical, bins, missing)
}

fn expert_feature(
    name: &str,
    kind: FeatureKind,
    bins: impl Iterator<Item = (String, BinRule, f64)>,
    missing: Option<f64>,
) -> Feature {
    let missing = missing.map(|w| ("missing".to_string(), BinRule::Missing, w));
    Feature {
        name: name.to_string(),
        kind,
        bins: bins
            .chain(missing)
            .map(|(label, rule, weight)| Bin {
                label,
                rule,
                weight,
                count: 0,
                events: 0,
            })
            .collect(),
        importance: 0.0,
    }
}

/// The expert weights (see the module documentation), in churn-logit units.
pub fn expert_scorecard() -> Scorecard {
    let z = Some(0.0);
    Scorecard {
        intercept: EXPERT_INTERCEPT,
        features: vec![
            expert_numeric("usage_trend", &[0.5, 0.8, 1.2], &[1.2, 0.6, 0.0, -0.3], z),
            expert_numeric(
                "recency_days",
                &[30.0, 90.0, 180.0],
                &[-0.4, 0.0, 0.6, 1.2],
                z,
            ),
            expert_numeric("frequency_12m", &[1.0, 4.0], &[0.4, 0.0, -0.4], None),
            expert_numeric("p_alive", &[0.3, 0.6], &[1.0, 0.4, -0.2], z),
            expert_levels(
                "tier",
                &[("A", -0.3), ("B", -0.1), ("C", 0.0), ("D", 0.2)],
                z,
            ),
            expert_numeric(
                "trust_balance",
                &[-10.0, -1.0, 5.0],
                &[0.8, 0.4, 0.0, -0.2],
                None,
            ),
            expert_numeric("trust_trend_90", &[-10.0], &[0.5, 0.0], None),
            expert_numeric("open_cases", &[0.0, 2.0], &[0.0, 0.3, 0.7], None),
            expert_numeric("breached_cases_90", &[0.0], &[0.0, 0.6], None),
            expert_levels(
                "last_nps_group",
                &[
                    ("detractor", 0.8),
                    ("passive", 0.1),
                    ("promoter", -0.5),
                    ("none", 0.0),
                ],
                None,
            ),
            expert_numeric("last_csat", &[2.0, 3.0], &[0.6, 0.2, -0.2], z),
            expert_numeric("tenure_days", &[90.0, 365.0], &[0.3, 0.1, -0.2], z),
            expert_numeric(
                "days_since_proactive",
                &[60.0, 180.0],
                &[-0.2, 0.0, 0.3],
                Some(0.3),
            ),
            expert_numeric("onboarding_progress", &[0.5, 0.99], &[0.6, 0.2, -0.2], z),
            expert_numeric("goals_at_risk", &[0.0], &[0.0, 0.5], None),
            expert_numeric("days_to_renewal", &[30.0], &[0.2, 0.0], z),
            expert_levels("contractual", &[("yes", -0.2), ("no", 0.0)], None),
        ],
        l2: 0.0,
        smoothness: 0.0,
        rows: 0,
        events: 0,
        cv: Vec::new(),
    }
}

/// A deterministic share of customers (by id) that keeps training rows under
/// [`MAX_TRAINING_ROWS`].
fn sampled(id: i64, keep_per_mille: u64) -> bool {
    if keep_per_mille >= 1000 {
        return true;
    }
    let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) % 1000 < keep_per_mille
}

/// A factor's value as JSON: the number or level the customer has, null when missing.
fn value_of(data: &Dataset, feature: &str, row: usize) -> Json {
    match data.column(feature).map(|c| &c.cells) {
        Some(Cells::Numeric(v)) => match v.get(row).copied().flatten() {
            Some(x) => json!((x * 10_000.0).round() / 10_000.0),
            None => Json::Null,
        },
        Some(Cells::Categorical(v)) => v
            .get(row)
            .cloned()
            .flatten()
            .map_or(Json::Null, Json::String),
        None => Json::Null,
    }
}

/// What a fit (or the expert weights) gives.
struct Trained {
    card: Scorecard,
    why: Why,
    validation: Option<Validation>,
    holdout_day: Option<NaiveDate>,
    snapshots: Vec<NaiveDate>,
    rows: usize,
    events: usize,
}

/// The training rows of every past snapshot (`days[1..]`), the holdout (the newest),
/// and the scorecard: learned when the events reach `min_events`, else the expert
/// weights (validated on the holdout all the same).
async fn train(snap: &Snapshot<'_>, days: &[NaiveDate], min_events: u64) -> Result<Trained> {
    let inputs = snap.inputs;
    let n_customers = inputs.customers.len();
    // Training rows: every snapshot (k >= 1 in `days`), a sample of customers when
    // there are very many.
    let keep = if n_customers * SNAPSHOTS as usize > MAX_TRAINING_ROWS {
        (MAX_TRAINING_ROWS as u64 * 1000 / (n_customers as u64 * SNAPSHOTS)).max(1)
    } else {
        1000
    };
    let mut train_rows: Vec<Row> = Vec::new();
    let mut train_target: Vec<bool> = Vec::new();
    let mut snapshot_of: Vec<usize> = Vec::new();
    let mut used_snapshots: Vec<NaiveDate> = Vec::new();
    for (k, &day) in days.iter().enumerate().skip(1) {
        let before = train_rows.len();
        for i in 0..n_customers {
            if !sampled(inputs.customers[i].id, keep) {
                continue;
            }
            let (row, eligible, churned) = snap.row(k, i, false);
            if eligible {
                train_rows.push(row);
                train_target.push(churned);
                snapshot_of.push(k);
            }
        }
        if train_rows.len() > before {
            used_snapshots.push(day);
        }
    }
    let events = train_target.iter().filter(|t| **t).count();
    let rows = train_rows.len();
    let data = dataset(&train_rows, train_target);
    drop(train_rows);

    // The holdout: the newest snapshot with rows.
    let newest = snapshot_of.iter().copied().min();
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) =
        (0..rows).partition(|&r| Some(snapshot_of[r]) != newest);
    let holdout_day = newest.map(|k| days[k]);
    let holdout = data.subset(&test_idx);
    fn two_classes(t: &[bool]) -> bool {
        t.iter().any(|x| *x) && t.iter().any(|x| !*x)
    }

    let opts = FitOptions::default();
    let (card, why, validation) = if rows == 0 {
        (
            expert_scorecard(),
            Why {
                key: "no_history".into(),
                events: 0,
                min_events,
                error: None,
            },
            None,
        )
    } else if (events as u64) < min_events {
        let card = expert_scorecard();
        let validation = two_classes(&holdout.target)
            .then(|| validate(&card.predict(&holdout), &holdout.target));
        (
            card,
            Why {
                key: "too_few_events".into(),
                events: events as u64,
                min_events,
                error: None,
            },
            validation,
        )
    } else {
        let train = data.subset(&train_idx);
        let (data, holdout) = (data.clone(), holdout.clone());
        let fitted = tokio::task::spawn_blocking(move || -> std::result::Result<_, String> {
            // The penalties are chosen once, by cross-validation on the older
            // snapshots, and kept for the fit on all of them.
            let mut all_opts = opts.clone();
            let validation = if two_classes(&holdout.target) && two_classes(&train.target) {
                let older = Scorecard::fit(&train, &opts).map_err(|e| e.to_string())?;
                all_opts.l2 = Some(older.l2);
                all_opts.smoothness = Some(older.smoothness);
                Some(validate(&older.predict(&holdout), &holdout.target))
            } else {
                None
            };
            let all = Scorecard::fit(&data, &all_opts).map_err(|e| e.to_string())?;
            Ok((all, validation))
        })
        .await
        .map_err(|e| CoreError::Other(anyhow::anyhow!("the health fit stopped: {e}")))?;
        match fitted {
            Ok((card, validation)) => (
                card,
                Why {
                    key: "learned".into(),
                    events: events as u64,
                    min_events,
                    error: None,
                },
                validation,
            ),
            Err(e) => (
                expert_scorecard(),
                Why {
                    key: "fit_failed".into(),
                    events: events as u64,
                    min_events,
                    error: Some(e),
                },
                None,
            ),
        }
    };
    drop(data);
    drop(holdout);

    Ok(Trained {
        card,
        why,
        validation,
        holdout_day,
        snapshots: used_snapshots,
        rows,
        events,
    })
}

impl Core {
    /// The churn events needed before the weights are learned (`health_min_events`).
    pub async fn health_min_events(&self) -> Result<u64> {
        let s = self.store_settings().await?;
        Ok(s.value("health_min_events")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MIN_EVENTS))
    }

    /// Fits (or takes the expert weights), validates and scores every customer as of
    /// `as_of`, in one write with its audit entry (see the module documentation).
    /// Managers, and the operator's command line and jobs.
    pub async fn refresh_health(&self, acting: &Acting, as_of: NaiveDate) -> Result<HealthRun> {
        self.health_refresh(acting, as_of, false).await
    }

    /// The daily job's refresh: as [`Core::refresh_health`], but the weights of the
    /// newest model are reused while it is younger than [`REFIT_DAYS`] (and the
    /// setting `health_min_events` is unchanged): then only the day scored is read,
    /// not a year of snapshots, and nothing is fitted. Weekly refits follow the
    /// store's history closely enough; a manager's "Refresh now" always refits.
    pub async fn refresh_health_daily(
        &self,
        acting: &Acting,
        as_of: NaiveDate,
    ) -> Result<HealthRun> {
        self.health_refresh(acting, as_of, true).await
    }

    async fn health_refresh(
        &self,
        acting: &Acting,
        as_of: NaiveDate,
        may_reuse: bool,
    ) -> Result<HealthRun> {
        require(acting, Role::Manager)?;
        let started = std::time::Instant::now();
        let store = self.store();
        let min_events = self.health_min_events().await?;
        let reuse = if may_reuse {
            match store.latest_health_model().await? {
                Some(m) if m.as_of <= as_of && (as_of - m.as_of).num_days() < REFIT_DAYS => {
                    serde_json::from_value::<Details>(m.details.clone())
                        .ok()
                        .filter(|d| d.why.min_events == min_events)
                        .map(|d| (m.id, d, m.rows, m.events))
                }
                _ => None,
            }
        } else {
            None
        };
        let reused = reuse.as_ref().map(|r| r.0);
        // The day scored, then the past snapshots, newest first (none when the weights
        // are reused).
        let mut days = vec![as_of];
        if reuse.is_none() {
            for k in 0..SNAPSHOTS {
                days.push(sub_days(as_of, HORIZON_DAYS + 30 * k));
            }
        }
        let inputs = store.health_inputs(&days).await?;
        let read_s = started.elapsed().as_secs_f64();
        // P(alive) and tier of the model run each day's figures rest on.
        let mut runs: Vec<Option<i64>> = Vec::new();
        let mut by_run: HashMap<i64, HashMap<i64, (f64, String)>> = HashMap::new();
        for &d in &days {
            let run = store.model_run_as_of(d).await?;
            if let Some(r) = &run
                && let std::collections::hash_map::Entry::Vacant(e) = by_run.entry(r.id)
            {
                let scores = store.run_p_alive(r.id).await?;
                e.insert(scores.into_iter().map(|(c, p, t)| (c, (p, t))).collect());
            }
            runs.push(run.map(|r| r.id));
        }
        let mut subs: HashMap<i64, Vec<Subscription>> = HashMap::new();
        for s in store.scoring_subscriptions(as_of).await? {
            let Some(period) = Period::parse(&s.period) else {
                continue;
            };
            subs.entry(s.customer_id).or_default().push(Subscription {
                plan: s.plan,
                amount_minor: s.amount_minor,
                period,
                started_on: s.started_on,
                ended_on: s.ended_on,
                renews_on: s.renews_on,
            });
        }
        let snap = Snapshot {
            inputs: &inputs,
            subs: &subs,
            runs: &runs,
            by_run: &by_run,
        };

        let n_customers = inputs.customers.len();
        let t = match reuse {
            Some((_, d, rows, events)) => Trained {
                card: d.scorecard,
                why: d.why,
                validation: d.validation,
                holdout_day: d.holdout_day,
                snapshots: d.snapshots,
                rows: rows.max(0) as usize,
                events: events.max(0) as usize,
            },
            None => train(&snap, &days, min_events).await?,
        };
        let Trained {
            card,
            why,
            validation,
            holdout_day,
            snapshots: used_snapshots,
            rows,
            events,
        } = t;
        let fit_s = started.elapsed().as_secs_f64();

        // Score every customer as of `as_of`.
        let score_rows: Vec<Row> = (0..n_customers).map(|i| snap.row(0, i, true).0).collect();
        let scoring = dataset(&score_rows, vec![false; n_customers]);
        drop(score_rows);
        let ids: Vec<i64> = inputs.customers.iter().map(|c| c.id).collect();
        // The year of figures (gigabytes at a million customers) is not needed for
        // the scores' factors built next (`snap` only borrowed it).
        drop(inputs);
        drop(by_run);
        drop(subs);
        let card_for_scores = card.clone();
        let (scores, scoring) = tokio::task::spawn_blocking(move || {
            let card = card_for_scores;
            let scores: Vec<HealthScore> = (0..n_customers)
                .map(|i| {
                    let parts = card.contributions(&scoring, i);
                    let mut factors: Vec<Factor> = parts
                        .iter()
                        .filter(|(_, _, w)| *w != 0.0)
                        .map(|&(fi, bi, w)| {
                            let f = &card.features[fi];
                            Factor {
                                feature: f.name.clone(),
                                bin: f.bins[bi].label.clone(),
                                value: value_of(&scoring, &f.name, i),
                                contribution: -w,
                            }
                        })
                        .collect();
                    factors.sort_by(|a, b| {
                        b.contribution
                            .abs()
                            .total_cmp(&a.contribution.abs())
                            .then_with(|| a.feature.cmp(&b.feature))
                    });
                    // The health logit as the factors add up, so intercept + Σ = logit.
                    let logit = factors
                        .iter()
                        .fold(-card.intercept, |s, f| s + f.contribution);
                    let probability = sigmoid(-logit);
                    HealthScore {
                        customer_id: ids[i],
                        score: (100.0 * (1.0 - probability)).round() as i64,
                        probability,
                        logit,
                        factors: serde_json::to_string(&factors)
                            .unwrap_or_else(|_| "[]".to_string()),
                    }
                })
                .collect();
            (scores, scoring)
        })
        .await
        .map_err(|e| CoreError::Other(anyhow::anyhow!("the health scoring stopped: {e}")))?;
        drop(scoring);

        let method = if why.key == "learned" {
            "learned"
        } else {
            "expert"
        };
        let details = Details {
            scorecard: card,
            why: why.clone(),
            validation: validation.clone(),
            holdout_day,
            snapshots: used_snapshots,
        };
        let model = NewHealthModel {
            as_of,
            method: method.into(),
            events: events as i64,
            rows: rows as i64,
            details: serde_json::to_value(&details).map_err(anyhow::Error::from)?,
        };
        let score_s = started.elapsed().as_secs_f64();
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        let model_id = match reused {
            Some(id) => id,
            None => tx.writer_mut().insert_health_model(&model).await?,
        };
        tx.writer_mut()
            .save_health_scores(model_id, as_of, &scores)
            .await?;
        let mut entry = acting.audit("health_models", Some(&model_id.to_string()), "refresh");
        entry.details = json!({
            "as_of": as_of.format("%Y-%m-%d").to_string(),
            "method": method,
            "why": why.key,
            "rows": rows,
            "events": events,
            "customers": scores.len(),
            "auc": validation.as_ref().map(|v| v.auc),
            "weights_reused": reused.is_some(),
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            "health: {} customers, {rows} training rows: read {read_s:.2} s, fit {:.2} s, score {:.2} s, write {:.2} s",
            scores.len(),
            fit_s - read_s,
            score_s - fit_s,
            seconds - score_s
        );
        Ok(HealthRun {
            model_id,
            method: method.into(),
            why,
            as_of,
            customers: scores.len(),
            rows,
            events,
            validation,
            seconds,
        })
    }

    /// A customer's newest health score with its factors and the last 180 days of
    /// history; `None` before the first refresh. Any role.
    pub async fn customer_health(
        &self,
        acting: &Acting,
        customer_external_id: &str,
    ) -> Result<Option<CustomerHealth>> {
        require(acting, Role::Viewer)?;
        let Some(h) = self
            .store()
            .customer_health_of(customer_external_id)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!("no customer with id {customer_external_id}"))
            })?
        else {
            return Ok(None);
        };
        let (intercept, method) = match self.model_view(h.model_id).await? {
            Some(m) => (m.intercept, m.method.clone()),
            None => (0.0, String::new()),
        };
        let factors: Vec<Factor> = serde_json::from_str(&h.score.factors).unwrap_or_default();
        Ok(Some(CustomerHealth {
            customer: customer_external_id.to_string(),
            day: h.day,
            score: h.score.score,
            probability: h.score.probability,
            logit: h.score.logit,
            intercept,
            factors,
            change_30: h.change_30,
            history: h
                .history
                .iter()
                .map(|&(day, score)| HistoryPoint { day, score })
                .collect(),
            model_id: h.model_id,
            method,
        }))
    }

    /// The health model in use (the newest), with its validation and every feature's
    /// bins and weights in health units; `None` before the first refresh. Any role.
    pub async fn health_model(&self, acting: &Acting) -> Result<Option<HealthModelView>> {
        Ok(self
            .health_model_shared(acting)
            .await?
            .map(|v| HealthModelView::clone(&v)))
    }

    /// [`Core::health_model`] as kept in memory (the API serializes it from there).
    pub async fn health_model_shared(
        &self,
        acting: &Acting,
    ) -> Result<Option<Arc<HealthModelView>>> {
        require(acting, Role::Viewer)?;
        let Some(id) = self.store().latest_health_model_id().await? else {
            return Ok(None);
        };
        self.model_view(id).await
    }

    /// A model as shown, from memory when read before: a model row never changes
    /// once written (a refit writes a new row), so a view kept by id stays true.
    async fn model_view(&self, id: i64) -> Result<Option<Arc<HealthModelView>>> {
        if let Some(v) = self.model_views.get(id) {
            return Ok(Some(v));
        }
        let Some(m) = self.store().health_model(id).await? else {
            return Ok(None);
        };
        let v = Arc::new(model_view_of(m)?);
        self.model_views.put(v.clone());
        Ok(Some(v))
    }
}

/// Health models as shown ([`HealthModelView`]), the few read last, by id: the
/// newest model serves the API's model route and every customer's health (whose
/// score names the model that made it), without reading and parsing the model's
/// details (12 KB of JSON on the demo store) each time.
#[derive(Debug, Default, Clone)]
pub(crate) struct ModelViews(Arc<std::sync::Mutex<Vec<Arc<HealthModelView>>>>);

impl ModelViews {
    /// At most this many views are kept (the newest model and the ones before it
    /// that older scores still name).
    const KEPT: usize = 4;

    fn get(&self, id: i64) -> Option<Arc<HealthModelView>> {
        let kept = self.0.lock().expect("model views lock");
        kept.iter().find(|v| v.id == id).cloned()
    }

    /// Keeps `v`; when full, forgets the oldest model kept.
    fn put(&self, v: Arc<HealthModelView>) {
        let mut kept = self.0.lock().expect("model views lock");
        if kept.iter().any(|k| k.id == v.id) {
            return;
        }
        if kept.len() >= Self::KEPT
            && let Some(oldest) = (0..kept.len()).min_by_key(|&i| kept[i].id)
        {
            kept.swap_remove(oldest);
        }
        kept.push(v);
    }
}

/// A model row as shown: weights in health units (the row keeps churn units).
fn model_view_of(m: kanta_store::health::HealthModel) -> Result<HealthModelView> {
    let d: Details = serde_json::from_value(m.details).map_err(anyhow::Error::from)?;
    let features = d
        .scorecard
        .features
        .iter()
        .map(|f| FeatureView {
            name: f.name.clone(),
            categorical: f.kind == FeatureKind::Categorical,
            importance: f.importance,
            bins: f
                .bins
                .iter()
                .map(|b| BinView {
                    label: b.label.clone(),
                    weight: -b.weight,
                    points: (-10.0 * b.weight).round() as i64,
                    count: b.count,
                    events: b.events,
                })
                .collect(),
        })
        .collect();
    Ok(HealthModelView {
        id: m.id,
        fitted_at: m.fitted_at,
        as_of: m.as_of,
        method: m.method,
        why: d.why,
        rows: m.rows,
        events: m.events,
        validation: d.validation,
        holdout_day: d.holdout_day,
        snapshots: d.snapshots,
        intercept: -d.scorecard.intercept,
        features,
    })
}
