//! Scoring the store (`kanta score`, the daily scoring job): fit the customer-value
//! models on the store's own transactions and store a model run with every
//! customer's scores.
//!
//! 1. Per-customer purchase days come from the database in one grouped SQL pass
//!    ([`Store::purchase_days`]); time is in weeks from there on.
//! 2. **Model choice.** With a holdout (default the last 91 days), each candidate
//!    (BG/NBD, MBG/NBD, Pareto/NBD) is fitted on the purchases up to the holdout's
//!    start and predicts each customer's holdout purchases; the candidate with the
//!    smallest mean absolute error per customer is kept. All candidates' figures go
//!    into the run's details.
//! 3. The chosen model is fitted again on all purchases up to `as_of`, with
//!    Gamma-Gamma for spend on the customers with repeat purchases.
//! 4. **Scores** per customer: P(alive), expected purchases in 30, 90 and 365 days,
//!    expected spend per purchase, CLV over 12 and 36 months (discounted monthly,
//!    times a margin), and a value tier by [`assign_tiers`].
//! 5. **Forecast:** the revenue expected from these customers over the next 1, 3
//!    and 12 months, with a 90% interval from the parameters' estimation
//!    uncertainty ([`forecast`]).
//! 6. **Subscribers** (`scoring/subscriptions.rs`): sBG per plan on each subscription's
//!    renewals, checked against Kaplan-Meier; renewal probability, DERL and CLV per
//!    active subscriber, and their billed revenue in the forecast.
//! 7. **Every customer** is scored: the purchase and subscription parts of CLV summed
//!    (both stored), one ABC rule over the sum; a customer with neither has CLV 0,
//!    tier D.
//! 8. The run and its scores are stored in one transaction, with each customer's
//!    `customers.tier` ([`Store::save_model_run`]).
//!
//! Nothing is stored when the newest order is older than the holdout (or
//! [`STALE_DAYS`]) before `as_of`, when the holdout has no purchases, when no
//! candidate is sound, or when the fits expect no revenue at all.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use kanta_domain::Currency;
use kanta_models::clv::ClvOptions;
use kanta_models::fit::{FitOptions, ModelKind, Params, at_boundary, degeneracy, log_normal_draw};
use kanta_models::gammagamma;
use kanta_models::score::{ScoreOptions, score_customers};
use kanta_models::summary::{TimeUnit, date_of_day, day_number};
use kanta_models::validation::{HoldoutMetrics, holdout_metrics};
use kanta_models::{
    GammaGammaParams, RfmData, RfmRow, SpendData, SpendRow, TransactionModel, TransactionParams,
    fit_transaction_model,
};
use kanta_store::Store;
use kanta_store::purchases::PurchaseDays;
use kanta_store::scores::{CustomerScore, NewModelRun, RevenueForecast};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::actor::Acting;

mod subscriptions;
pub use subscriptions::MIN_PLAN_SUBSCRIPTIONS;

/// Days before `as_of` within which the newest order must fall when there is no
/// holdout (with one, the holdout's days).
pub const STALE_DAYS: u32 = 91;

/// Candidates of the model choice, in the order they are tried.
pub const CANDIDATES: [ModelKind; 3] = [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd];

const DAYS_PER_WEEK: f64 = 7.0;
/// Forecast horizons in months.
const FORECAST_MONTHS: [u32; 3] = [1, 3, 12];
/// Parameter draws behind the forecast interval.
const FORECAST_DRAWS: usize = 200;
/// Customers (an even spread over all) the draws are evaluated on.
const FORECAST_SAMPLE: usize = 2_000;
/// Cumulative shares of the expected value that end tiers A, B and C.
pub const TIER_SHARES: [f64; 3] = [0.5, 0.8, 0.95];

/// What `kanta score` does.
#[derive(Debug, Clone)]
pub struct ScoreSettings {
    /// The day the scores are computed at (data after it are ignored).
    pub as_of: NaiveDate,
    /// Days at the end held out to choose the model; 0 skips the choice.
    pub holdout_days: u32,
    /// Fit only this model (no choice).
    pub model: Option<ModelKind>,
    /// Share of revenue that is profit, for CLV.
    pub margin: f64,
    /// Monthly discount rate for CLV.
    pub monthly_discount_rate: f64,
    /// The store's time zone: purchase days are its days (`as_of` is one of them).
    pub zone: kanta_domain::time::Tz,
}

/// One candidate's figures in the model choice.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_likelihood: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_errors: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<HoldoutMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A parameter at the likelihood's boundary: ranked after the fits inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
}

/// What a run did, for the command's output.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    pub run_id: i64,
    pub model: String,
    pub customers: usize,
    pub as_of: NaiveDate,
    pub calibration_end: Option<NaiveDate>,
    pub candidates: Vec<Candidate>,
    pub fit: serde_json::Value,
    pub spend: Option<serde_json::Value>,
    /// The subscription part: sBG fits per plan, pooling, the Kaplan-Meier check.
    pub subscriptions: serde_json::Value,
    pub currency: Option<String>,
    pub forecast: Vec<RevenueForecast>,
    pub tiers: [usize; 4],
    pub seconds: f64,
    /// Seconds per phase: summaries, choice, spend, fit and scores, forecast, store.
    pub phases: PhaseTimes,
    /// The buyers' purchase days the run was fitted on (not printed): the retention
    /// economics of the new run reuse them ([`crate::Core::warm_retention_economics`])
    /// instead of summing the orders again.
    #[serde(skip)]
    pub purchase_days: Vec<PurchaseDays>,
}

/// Seconds each phase of a run took, in order.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct PhaseTimes(Vec<(&'static str, f64)>, #[serde(skip)] Option<Instant>);

impl PhaseTimes {
    fn start() -> PhaseTimes {
        PhaseTimes(Vec::new(), Some(Instant::now()))
    }

    /// The time since the previous lap (or the start) was `phase`.
    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        let since = self.1.map_or(0.0, |t| (now - t).as_secs_f64());
        self.0.push((phase, since));
        self.1 = Some(now);
    }
}

/// `lifetimes`' (frequency, recency, T) in weeks of one customer observed up to `end`.
fn rfm_row(p: &PurchaseDays, end: i32) -> RfmRow {
    RfmRow::new(
        p.frequency() as f64,
        f64::from(p.last_day - p.first_day) / DAYS_PER_WEEK,
        f64::from(end - p.first_day) / DAYS_PER_WEEK,
    )
}

/// A fit as JSON, its parameter records plain `{name: value}` objects (the tagged
/// transaction-model records lose their `model` tag, which the fit names already).
fn fit_json<P: Serialize>(f: &kanta_models::Fitted<P>) -> serde_json::Value {
    let mut v = serde_json::to_value(f).unwrap_or(serde_json::Value::Null);
    for part in ["params", "std_errors"] {
        if let Some(o) = v.get_mut(part).and_then(serde_json::Value::as_object_mut) {
            o.remove("model");
        }
    }
    v
}

fn params_json(p: &TransactionParams) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("model");
    }
    v
}

/// Fit every candidate on the calibration period and compare each customer's
/// predicted holdout purchases with the actual ones.
fn choose_model(days: &[PurchaseDays], calibration_end: i32, holdout_days: u32) -> Vec<Candidate> {
    let rows: Vec<RfmRow> = days.iter().map(|p| rfm_row(p, calibration_end)).collect();
    let actual: Vec<f64> = days.iter().map(|p| p.holdout_days as f64).collect();
    let horizon = f64::from(holdout_days) / DAYS_PER_WEEK;
    let data = RfmData::from_rows(&rows);
    CANDIDATES
        .iter()
        .map(|&kind| {
            let fitted = data.as_ref().map_err(|e| e.to_string()).and_then(|d| {
                fit_transaction_model(kind, d, &FitOptions::default()).map_err(|e| e.to_string())
            });
            match fitted {
                Ok(f) => {
                    let predicted: Vec<f64> = rows
                        .par_iter()
                        .map(|r| f.params.conditional_expected_purchases(horizon, r))
                        .collect();
                    let metrics = holdout_metrics(&predicted, &actual);
                    Candidate {
                        model: ModelKind::code(kind).to_string(),
                        params: Some(params_json(&f.params)),
                        std_errors: f.std_errors.as_ref().map(params_json),
                        log_likelihood: Some(f.log_likelihood),
                        holdout: metrics.as_ref().ok().copied(),
                        error: metrics.err().map(|e| e.to_string()),
                        boundary: at_boundary(kind.param_names(), &f.params.values()),
                    }
                }
                Err(e) => Candidate {
                    model: ModelKind::code(kind).to_string(),
                    params: None,
                    std_errors: None,
                    log_likelihood: None,
                    holdout: None,
                    error: Some(e),
                    boundary: None,
                },
            }
        })
        .collect()
}

/// Value tiers by ABC analysis of `value` (CLV over 12 months): customers sorted by
/// value, most valuable first; tier A holds the customers that together make the
/// first 50% of the total value, B the next 30% (to 80%), C the next 15% (to 95%),
/// D the rest. Customers worth nothing are D; with no value at all, everyone is.
pub fn assign_tiers(value: &[f64]) -> Vec<char> {
    let total: f64 = value.iter().filter(|v| **v > 0.0).sum();
    let mut tiers = vec!['D'; value.len()];
    if total <= 0.0 {
        return tiers;
    }
    let mut order: Vec<usize> = (0..value.len()).collect();
    order.sort_by(|&a, &b| value[b].total_cmp(&value[a]).then(a.cmp(&b)));
    let mut before = 0.0;
    for i in order {
        if value[i] <= 0.0 {
            break;
        }
        // The tier is where the customer's value starts in the cumulative share.
        let share = before / total;
        tiers[i] = match TIER_SHARES.iter().position(|s| share < *s) {
            Some(0) => 'A',
            Some(1) => 'B',
            Some(2) => 'C',
            _ => 'D',
        };
        before += value[i];
    }
    tiers
}

/// Expected revenue over the next `months` of each customer: expected spend per
/// purchase times expected purchases, undiscounted.
fn revenue(
    model: &dyn TransactionModel,
    spend: &GammaGammaParams,
    rows: &[RfmRow],
    monetary: &[f64],
    months: u32,
    units_per_month: f64,
) -> f64 {
    let t = f64::from(months) * units_per_month;
    rows.iter()
        .zip(monetary)
        .map(|(r, m)| {
            spend.expected_average_spend(r.frequency, *m)
                * model.conditional_expected_purchases(t, r)
        })
        .sum()
}

/// A draw of parameters from the asymptotic normal distribution of their logs.
fn draw_log_normal(
    estimate: &[f64],
    cov: &[Vec<f64>],
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Option<Vec<f64>> {
    let z: Vec<f64> = (0..estimate.len())
        .map(|_| StandardNormal.sample(rng))
        .collect();
    log_normal_draw(estimate, cov, &z)
}

/// Revenue expected from the scored customers over the next 1, 3 and 12 months,
/// in minor units. The interval is the 5th to 95th percentile over
/// [`FORECAST_DRAWS`] draws of both models' parameters from their estimates'
/// asymptotic normal distributions (on the log scale, with the fitted covariance),
/// each draw evaluated on an even spread of up to [`FORECAST_SAMPLE`] customers and
/// applied to the total as a ratio. It is the uncertainty of the estimates, not the
/// randomness of the customers' purchases, which over many customers is smaller.
fn forecast(
    model: &kanta_models::Fitted<TransactionParams>,
    spend: &kanta_models::Fitted<GammaGammaParams>,
    rows: &[RfmRow],
    monetary: &[f64],
    units_per_month: f64,
    minor_per_unit: f64,
) -> Vec<RevenueForecast> {
    let totals: Vec<f64> = FORECAST_MONTHS
        .iter()
        .map(|&m| {
            revenue(
                &model.params,
                &spend.params,
                rows,
                monetary,
                m,
                units_per_month,
            )
        })
        .collect();
    let step = rows.len().div_ceil(FORECAST_SAMPLE).max(1);
    let sample: Vec<RfmRow> = rows.iter().step_by(step).copied().collect();
    let sample_m: Vec<f64> = monetary.iter().step_by(step).copied().collect();
    let kind = model.model;
    let intervals: Option<Vec<(f64, f64)>> = (|| {
        let (tc, sc) = (
            model.log_covariance.as_ref()?,
            spend.log_covariance.as_ref()?,
        );
        let (tp, sp) = (model.params.values(), spend.params.to_vec());
        let base: Vec<f64> = FORECAST_MONTHS
            .iter()
            .map(|&m| {
                revenue(
                    &model.params,
                    &spend.params,
                    &sample,
                    &sample_m,
                    m,
                    units_per_month,
                )
            })
            .collect();
        let ratios: Vec<Vec<f64>> = (0..FORECAST_DRAWS)
            .into_par_iter()
            .filter_map(|k| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(k as u64);
                let t = TransactionParams::from_values(kind, &draw_log_normal(&tp, tc, &mut rng)?)
                    .ok()?;
                let s = GammaGammaParams::from_slice(&draw_log_normal(&sp, sc, &mut rng)?);
                if s.q <= 1.0 {
                    return None;
                }
                let r: Vec<f64> = FORECAST_MONTHS
                    .iter()
                    .zip(&base)
                    .map(|(&m, b)| revenue(&t, &s, &sample, &sample_m, m, units_per_month) / b)
                    .collect();
                r.iter().all(|v| v.is_finite()).then_some(r)
            })
            .collect();
        if ratios.len() < FORECAST_DRAWS / 2 {
            return None;
        }
        Some(
            (0..FORECAST_MONTHS.len())
                .map(|h| {
                    let mut v: Vec<f64> = ratios.iter().map(|r| r[h]).collect();
                    v.sort_by(f64::total_cmp);
                    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                    (q(0.05), q(0.95))
                })
                .collect(),
        )
    })();
    FORECAST_MONTHS
        .iter()
        .enumerate()
        .map(|(h, &months)| {
            let e = totals[h];
            let (lo, hi) = intervals.as_ref().map_or((1.0, 1.0), |v| v[h]);
            RevenueForecast {
                months,
                expected_minor: (e * minor_per_unit).round() as i64,
                lower_minor: (e * lo.min(1.0) * minor_per_unit).round() as i64,
                upper_minor: (e * hi.max(1.0) * minor_per_unit).round() as i64,
            }
        })
        .collect()
}

/// What the purchase models gave: the chosen model and fits, per-customer scores
/// (by position in `days`), and the forecast.
struct PurchasePart {
    chosen: ModelKind,
    fitted: kanta_models::Fitted<TransactionParams>,
    spend: Option<kanta_models::Fitted<GammaGammaParams>>,
    days: Vec<PurchaseDays>,
    scores: Vec<CustomerScore>,
    forecast: Vec<RevenueForecast>,
    fallbacks: Vec<String>,
}

/// Why the fit is degenerate, if it is (see [`degeneracy`]).
fn transaction_degeneracy(f: &kanta_models::Fitted<TransactionParams>) -> Option<String> {
    let se = f.std_errors.as_ref().map(TransactionParams::values);
    degeneracy(f.model.param_names(), &f.params.values(), se.as_deref())
}

/// Score the store's customers and store the run.
///
/// Refuses, writing nothing, when the newest order is older than the holdout window
/// before `as_of` (the message names its date and suggests `--as-of`), and never
/// stores tiers from a degenerate fit: a candidate whose parameters are non-finite or
/// undetermined ([`degeneracy`]) is passed over for the next one (recorded in the
/// run's details), and with none sound the run is refused; so is a holdout without
/// purchases and a fit that expects no revenue at all. A fit at the likelihood's
/// boundary ([`at_boundary`]: a parameter over 1e6, the model's limit of no
/// heterogeneity) is used only when no candidate fits inside the bounds, and says so.
pub async fn score_store(
    store: &Store,
    acting: &Acting,
    s: &ScoreSettings,
) -> anyhow::Result<ScoreReport> {
    let started = Instant::now();
    let mut laps = PhaseTimes::start();
    if !(s.margin > 0.0 && s.margin <= 1.0) {
        bail!("--margin must be in (0, 1], got {}", s.margin);
    }
    if !(0.0..1.0).contains(&s.monthly_discount_rate) {
        bail!(
            "--discount-rate must be in [0, 1) per month, got {}",
            s.monthly_discount_rate
        );
    }
    let currencies = store.order_currencies().await?;
    if currencies.len() > 1 {
        let list: Vec<String> = currencies
            .iter()
            .map(|(c, n)| format!("{c} ({n} orders)"))
            .collect();
        bail!(
            "the orders are in several currencies ({}): scoring needs one, since a customer's purchases are summed",
            list.join(", ")
        );
    }
    let subscriptions = store.scoring_subscriptions(s.as_of).await?;
    let mut currency = currencies.first().map(|(c, _)| c.clone());
    let mut sub_currencies: Vec<&str> = subscriptions.iter().map(|r| r.currency.as_str()).collect();
    sub_currencies.sort_unstable();
    sub_currencies.dedup();
    match (&currency, sub_currencies.as_slice()) {
        (_, []) => {}
        (None, [one]) => currency = Some((*one).to_string()),
        (Some(c), [one]) if c == one => {}
        (c, many) => bail!(
            "the subscriptions are in {} and the orders in {}: scoring needs one currency, since a customer's value is summed",
            many.join(", "),
            c.as_deref().unwrap_or("none")
        ),
    }
    let minor_per_unit = currency
        .as_deref()
        .and_then(|c| c.parse::<Currency>().ok())
        .map_or(100.0, |c| 10f64.powi(c.minor_digits() as i32));
    let as_of = day_number(s.as_of);

    // One pass gives both the calibration split and the whole data.
    let calibration_end = as_of - s.holdout_days as i32;
    let windows = store
        .purchase_windows_in(s.zone, calibration_end, as_of)
        .await?;
    let (days, cal): (Vec<PurchaseDays>, Vec<PurchaseDays>) = (
        windows.iter().map(|w| w.whole).collect(),
        windows.iter().filter_map(|w| w.calibration).collect(),
    );
    drop(windows);
    if days.is_empty() && subscriptions.is_empty() {
        bail!(
            "there are no orders or subscriptions on or before {}: nothing to score",
            s.as_of
        );
    }
    // Data that stopped long before as_of: every model would extrapolate a silence.
    if let Some(newest) = days.iter().map(|p| p.last_day).max() {
        let window = if s.holdout_days > 0 {
            s.holdout_days
        } else {
            STALE_DAYS
        };
        if newest <= as_of - window as i32 {
            let last = date_of_day(newest);
            bail!(
                "the newest order is from {last}, more than the {window}-day holdout before {}: use --as-of {last} to score as of the last order (or import newer orders); nothing was written",
                s.as_of
            );
        }
    }

    laps.lap("summaries");

    // 1-2. The model choice on a calibration period: the candidates ranked by their
    // holdout error, the best first (the next is the fallback should the best give
    // no finite scores or be degenerate).
    let (ranked, candidates, calibration) = match s.model {
        _ if days.is_empty() => (Vec::new(), Vec::new(), None),
        Some(kind) => (vec![kind], Vec::new(), None),
        None if s.holdout_days == 0 => (CANDIDATES.to_vec(), Vec::new(), None),
        None => {
            let holdout = s.holdout_days;
            let mut candidates =
                tokio::task::spawn_blocking(move || choose_model(&cal, calibration_end, holdout))
                    .await?;
            if let Some(h) = candidates.iter().find_map(|c| c.holdout)
                && h.actual_total <= 0.0
            {
                bail!(
                    "the {holdout}-day holdout before {} has no purchases by customers who bought before it: the model choice would be meaningless; use --as-of with the date of the last orders or --holdout-days 0; nothing was written",
                    s.as_of
                );
            }
            for c in &mut candidates {
                let (Some(p), Ok(kind)) = (&c.params, c.model.parse::<ModelKind>()) else {
                    continue;
                };
                let values: Vec<f64> = kind
                    .param_names()
                    .iter()
                    .map(|n| {
                        p.get(*n)
                            .and_then(serde_json::Value::as_f64)
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
                let se: Option<Vec<f64>> = c.std_errors.as_ref().map(|se| {
                    kind.param_names()
                        .iter()
                        .map(|n| {
                            se.get(*n)
                                .and_then(serde_json::Value::as_f64)
                                .unwrap_or(f64::NAN)
                        })
                        .collect()
                });
                if let Some(why) = degeneracy(kind.param_names(), &values, se.as_deref()) {
                    c.error = Some(format!("degenerate fit: {why}"));
                }
            }
            // Fits inside the bounds first, by holdout error; those at a boundary after.
            let mut by_error: Vec<(bool, f64, ModelKind)> = candidates
                .iter()
                .filter(|c| c.error.is_none())
                .filter_map(|c| {
                    let mae = c.holdout?.mae;
                    let kind = c.model.parse::<ModelKind>().ok()?;
                    mae.is_finite().then_some((c.boundary.is_some(), mae, kind))
                })
                .collect();
            by_error.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            if by_error.is_empty() {
                let why: Vec<String> = candidates
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {}",
                            c.model,
                            c.error.as_deref().unwrap_or("no holdout figures")
                        )
                    })
                    .collect();
                bail!(
                    "no sound model could be fitted on the purchases up to {} ({}); try --holdout-days 0 or a later --as-of; nothing was written",
                    date_of_day(calibration_end),
                    why.join("; ")
                );
            }
            let ranked = by_error.into_iter().map(|(_, _, k)| k).collect();
            (ranked, candidates, Some(date_of_day(calibration_end)))
        }
    };

    laps.lap("choice");

    // 3. The chosen model and Gamma-Gamma on everything up to as_of.
    let first_purchase_on = days.iter().map(|p| p.first_day).min().map(date_of_day);
    let (margin, rate) = (s.margin, s.monthly_discount_rate);
    let purchases = if days.is_empty() {
        None
    } else {
        let (part, l) = tokio::task::spawn_blocking(move || {
            purchase_part(days, &ranked, as_of, margin, rate, minor_per_unit, laps)
        })
        .await??;
        laps = l;
        Some(part)
    };

    // 4. Subscribers: sBG per plan.
    let as_of_date = s.as_of;
    let subs = tokio::task::spawn_blocking(move || {
        subscriptions::score_subscriptions(
            &subscriptions,
            as_of_date,
            rate,
            margin,
            &FORECAST_MONTHS,
        )
    })
    .await?;
    laps.lap("subscriptions");

    // 5. Every customer's value: the parts summed, tiers by the one ABC rule.
    let ids = store.customer_ids().await?;
    let by_customer: HashMap<i64, &CustomerScore> = purchases
        .iter()
        .flat_map(|p| p.scores.iter().map(|c| (c.customer_id, c)))
        .collect();
    let money_known =
        purchases.as_ref().is_none_or(|p| p.spend.is_some()) || !subs.scores.is_empty();
    let mut scores: Vec<CustomerScore> = ids
        .iter()
        .map(|&id| {
            let sub = subs.scores.get(&id);
            let mut c = by_customer.get(&id).map_or_else(
                || CustomerScore {
                    customer_id: id,
                    p_alive: if sub.is_some_and(|s| s.active) {
                        1.0
                    } else {
                        0.0
                    },
                    ..CustomerScore::default()
                },
                |c| **c,
            );
            if let Some(sp) = sub {
                c.renewal_probability = sp.renewal_probability;
                c.expected_remaining_periods = sp.expected_remaining_periods;
                if sp.active {
                    c.subscription_clv_12_minor = Some(sp.clv_12.round() as i64);
                    c.subscription_clv_36_minor = Some(sp.clv_36.round() as i64);
                }
            }
            if money_known {
                let sum =
                    |a: Option<i64>, b: Option<i64>| a.unwrap_or(0).saturating_add(b.unwrap_or(0));
                c.clv_12_minor = Some(sum(c.purchase_clv_12_minor, c.subscription_clv_12_minor));
                c.clv_36_minor = Some(sum(c.purchase_clv_36_minor, c.subscription_clv_36_minor));
            }
            c
        })
        .collect();
    let value: Vec<f64> = scores
        .iter()
        .map(|c| match c.clv_12_minor {
            Some(v) => v as f64,
            None => c.expected_purchases_365,
        })
        .collect();
    if money_known && !value.is_empty() && value.iter().all(|v| *v <= 0.0) {
        bail!(
            "the fits expect no revenue at all from {} customers as of {}: refusing to store tiers from them; nothing was written",
            value.len(),
            s.as_of
        );
    }
    let tiers = assign_tiers(&value);
    for (c, t) in scores.iter_mut().zip(&tiers) {
        c.tier = *t;
    }

    // The forecast: purchases and subscriptions summed (the intervals too: both
    // parts' uncertainties taken as moving together, which is the wider interval).
    let forecast: Vec<RevenueForecast> = FORECAST_MONTHS
        .iter()
        .enumerate()
        .map(|(h, &months)| {
            let p = purchases.as_ref().and_then(|p| p.forecast.get(h).copied());
            let (e, lo, hi) = subs.forecast.get(h).copied().unwrap_or_default();
            RevenueForecast {
                months,
                expected_minor: p.map_or(0, |p| p.expected_minor) + e.round() as i64,
                lower_minor: p.map_or(0, |p| p.lower_minor) + lo.round() as i64,
                upper_minor: p.map_or(0, |p| p.upper_minor) + hi.round() as i64,
            }
        })
        .collect();
    let subscription_forecast: Vec<RevenueForecast> = FORECAST_MONTHS
        .iter()
        .zip(&subs.forecast)
        .map(|(&months, &(e, lo, hi))| RevenueForecast {
            months,
            expected_minor: e.round() as i64,
            lower_minor: lo.round() as i64,
            upper_minor: hi.round() as i64,
        })
        .collect();

    let mut tier_counts = [0usize; 4];
    for sc in &scores {
        tier_counts[(sc.tier as u8 - b'A') as usize] += 1;
    }
    let (model, fit, spend_json, fallbacks, purchase_forecast) = match &purchases {
        Some(p) => (
            ModelKind::code(p.chosen).to_string(),
            fit_json(&p.fitted),
            p.spend.as_ref().map(fit_json),
            p.fallbacks.clone(),
            p.forecast.clone(),
        ),
        None => (
            "none".to_string(),
            serde_json::Value::Null,
            None,
            Vec::new(),
            Vec::new(),
        ),
    };
    let buyers = purchases.as_ref().map_or(0, |p| p.days.len());
    let subscribers = subs.scores.len();
    let details = json!({
        "time_unit": "week",
        "holdout_days": if calibration.is_some() { s.holdout_days } else { 0 },
        "candidates": candidates,
        "fallbacks": fallbacks,
        "fit": fit,
        "spend": spend_json,
        "clv": {"monthly_discount_rate": s.monthly_discount_rate, "margin": s.margin},
        "subscriptions": subs.details,
        "customers": {"total": scores.len(), "buyers": buyers, "subscribers": subscribers},
        "forecast_parts": {"purchases": purchase_forecast, "subscriptions": subscription_forecast},
        "tiers": {
            "rule": "ABC analysis of CLV over 12 months (purchases and subscriptions summed): A makes the first 50% of the total, B the next 30%, C the next 15%, D the rest",
            "counts": {"A": tier_counts[0], "B": tier_counts[1], "C": tier_counts[2], "D": tier_counts[3]},
        },
    });
    let run = NewModelRun {
        model: model.clone(),
        spend_model: purchases
            .as_ref()
            .and_then(|p| p.spend.as_ref())
            .map(|_| "gg".to_string()),
        as_of: s.as_of,
        calibration_end: calibration,
        first_purchase_on,
        currency: currency.clone(),
        details: details.clone(),
        forecast: forecast.clone(),
    };
    let run_id = store
        .save_model_run(&run, &scores, &acting.audit("model_runs", None, "score"))
        .await
        .context("cannot store the model run")?;
    laps.lap("store");
    Ok(ScoreReport {
        run_id,
        model,
        customers: scores.len(),
        as_of: s.as_of,
        calibration_end: calibration,
        candidates,
        fit,
        spend: spend_json,
        subscriptions: details["subscriptions"].clone(),
        currency,
        forecast,
        tiers: tier_counts,
        seconds: started.elapsed().as_secs_f64(),
        phases: laps,
        purchase_days: purchases.map(|p| p.days).unwrap_or_default(),
    })
}

/// The purchase models on everything up to `as_of`: the first sound candidate of
/// `ranked` whose scores are all finite, Gamma-Gamma for spend, the scores and the
/// forecast.
fn purchase_part(
    days: Vec<PurchaseDays>,
    ranked: &[ModelKind],
    as_of: i32,
    margin: f64,
    rate: f64,
    minor_per_unit: f64,
    mut laps: PhaseTimes,
) -> anyhow::Result<(PurchasePart, PhaseTimes)> {
    let rows: Vec<RfmRow> = days.iter().map(|p| rfm_row(p, as_of)).collect();
    let data = RfmData::from_rows(&rows).context("the purchase summaries")?;
    // Gamma-Gamma in major units of the currency, on the customers with repeat purchases.
    let monetary: Vec<f64> = days
        .iter()
        .map(|p| p.monetary_value_minor() / minor_per_unit)
        .collect();
    let spend_rows: Vec<SpendRow> = rows
        .iter()
        .zip(&monetary)
        .filter(|(r, m)| r.frequency > 0.0 && **m > 0.0)
        .map(|(r, m)| SpendRow::new(r.frequency, *m))
        .collect();
    let mut fallbacks = Vec::new();
    let spend = SpendData::from_rows(&spend_rows)
        .ok()
        .and_then(|d| gammagamma::fit(&d, &FitOptions::default()).ok())
        .filter(|f| f.params.q > 1.0)
        .filter(|f| {
            let se = f.std_errors.map(|s| s.to_vec());
            let names = ["p", "q", "gamma"];
            match degeneracy(&names, &f.params.to_vec(), se.as_deref()) {
                Some(why) => {
                    fallbacks.push(format!("Gamma-Gamma not used, degenerate fit: {why}"));
                    false
                }
                None => {
                    if let Some(why) = at_boundary(&names, &f.params.to_vec()) {
                        fallbacks.push(format!(
                            "Gamma-Gamma: {why} (every customer's mean spend alike)"
                        ));
                    }
                    true
                }
            }
        });
    laps.lap("spend");
    let clv = |months| ClvOptions::new(months, rate, margin, TimeUnit::Week);
    let opts = |days: f64, clv: Option<ClvOptions>| ScoreOptions {
        horizon: days / DAYS_PER_WEEK,
        clv,
    };
    let mut chosen_fit = None;
    // A fit at the likelihood's boundary (the no-heterogeneity limit) is kept aside:
    // used only when no candidate fits inside it.
    let mut at_edge = None;
    for &kind in ranked {
        let fitted = match fit_transaction_model(kind, &data, &FitOptions::default()) {
            Ok(f) => f,
            Err(e) => {
                fallbacks.push(format!(
                    "{}: cannot fit on all purchases: {e}",
                    ModelKind::code(kind)
                ));
                continue;
            }
        };
        if let Some(why) = transaction_degeneracy(&fitted) {
            fallbacks.push(format!(
                "{}: degenerate fit on all purchases: {why}",
                ModelKind::code(kind)
            ));
            continue;
        }
        let spend_ref = spend.as_ref().map(|f| &f.params);
        let mon = spend.as_ref().map(|_| monetary.as_slice());
        let s30 = score_customers(
            &fitted.params,
            spend_ref,
            &rows,
            mon,
            &opts(30.0, Some(clv(12)?)),
        )?;
        let s90 = score_customers(&fitted.params, None, &rows, None, &opts(90.0, None))?;
        let s365 = score_customers(
            &fitted.params,
            spend_ref,
            &rows,
            mon,
            &opts(365.0, Some(clv(36)?)),
        )?;
        let bad = (0..rows.len()).find(|&i| {
            let (a, b, c) = (&s30[i], &s90[i], &s365[i]);
            ![
                a.p_alive,
                a.expected_purchases,
                b.expected_purchases,
                c.expected_purchases,
            ]
            .iter()
            .chain(a.clv.iter())
            .chain(c.clv.iter())
            .chain(a.expected_average_spend.iter())
            .all(|v| v.is_finite())
        });
        match bad {
            None => match at_boundary(fitted.model.param_names(), &fitted.params.values()) {
                None => {
                    chosen_fit = Some((kind, fitted, s30, s90, s365));
                    break;
                }
                Some(why) => {
                    fallbacks.push(format!(
                        "{}: {why} (the model's limit of no heterogeneity), kept only if no other model fits inside its bounds",
                        ModelKind::code(kind)
                    ));
                    if at_edge.is_none() {
                        at_edge = Some((kind, fitted, s30, s90, s365));
                    }
                }
            },
            Some(i) => fallbacks.push(format!(
                "{} with {} gives no finite scores for a customer with frequency {}, recency {:.3} and T {:.3} weeks",
                ModelKind::code(kind),
                params_json(&fitted.params),
                rows[i].frequency,
                rows[i].recency,
                rows[i].t
            )),
        }
    }
    let Some((chosen, fitted, s30, s90, s365)) = chosen_fit.or(at_edge) else {
        bail!(
            "no sound model gives scores: {}; nothing was written",
            fallbacks.join("; ")
        );
    };
    let minor = |v: Option<f64>| v.map(|v| (v * minor_per_unit).round() as i64);
    let scores: Vec<CustomerScore> = (0..rows.len())
        .map(|i| CustomerScore {
            customer_id: days[i].customer_id,
            repeat_purchases: days[i].frequency(),
            p_alive: s30[i].p_alive,
            expected_purchases_30: s30[i].expected_purchases,
            expected_purchases_90: s90[i].expected_purchases,
            expected_purchases_365: s365[i].expected_purchases,
            expected_spend_minor: minor(s30[i].expected_average_spend),
            clv_12_minor: minor(s30[i].clv),
            clv_36_minor: minor(s365[i].clv),
            purchase_clv_12_minor: minor(s30[i].clv),
            purchase_clv_36_minor: minor(s365[i].clv),
            tier: 'D',
            ..CustomerScore::default()
        })
        .collect();
    laps.lap("fit and scores");
    let forecast = spend
        .as_ref()
        .map(|sp| {
            forecast(
                &fitted,
                sp,
                &rows,
                &monetary,
                TimeUnit::Week.lifetimes_units_per_month(),
                minor_per_unit,
            )
        })
        .unwrap_or_default();
    laps.lap("forecast");
    Ok((
        PurchasePart {
            chosen,
            fitted,
            spend,
            days,
            scores,
            forecast,
            fallbacks,
        },
        laps,
    ))
}

/// The run's parameters as `name value ± se` for people.
pub fn describe(report: &ScoreReport) -> String {
    let params = |v: &serde_json::Value| -> String {
        let (Some(p), se) = (
            v.get("params").and_then(|p| p.as_object()),
            v.get("std_errors"),
        ) else {
            return String::new();
        };
        p.iter()
            .map(|(k, x)| {
                let e = se
                    .and_then(|s| s.get(k))
                    .and_then(serde_json::Value::as_f64);
                match (x.as_f64(), e) {
                    (Some(x), Some(e)) => format!("{k} {x:.4} ± {e:.4}"),
                    (Some(x), None) => format!("{k} {x:.4}"),
                    _ => k.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = if report.model == "none" {
        format!(
            "Scored {} customers as of {} (no orders: subscriptions only) in {:.2} s; run {}.\n",
            report.customers, report.as_of, report.seconds, report.run_id
        )
    } else {
        format!(
            "Scored {} customers as of {} with {} ({}) in {:.2} s; run {}.\n",
            report.customers,
            report.as_of,
            report.model,
            params(&report.fit),
            report.seconds,
            report.run_id
        )
    };
    if let Some(sp) = &report.spend {
        out.push_str(&format!("Spend: Gamma-Gamma ({}).\n", params(sp)));
    }
    let sub = &report.subscriptions;
    for plan in sub["plans"].as_array().into_iter().flatten() {
        let name = plan["plan"].as_str().unwrap_or("?");
        let period = plan["period"].as_str().unwrap_or("?");
        let n = plan["subscriptions"].as_u64().unwrap_or(0);
        match plan["note"].as_str() {
            Some(note) => out.push_str(&format!(
                "Subscriptions, plan {name} by the {period} ({n}): {note}.\n"
            )),
            None => out.push_str(&format!(
                "Subscriptions, plan {name} by the {period} ({n}): sBG alpha {:.4}, beta {:.4}; largest gap to Kaplan-Meier {:.3}.\n",
                plan["params"]["alpha"].as_f64().unwrap_or(f64::NAN),
                plan["params"]["beta"].as_f64().unwrap_or(f64::NAN),
                plan["max_gap"].as_f64().unwrap_or(f64::NAN)
            )),
        }
    }
    for pool in sub["pools"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "Subscriptions, {} ({}): sBG alpha {:.4}, beta {:.4}; largest gap to Kaplan-Meier {:.3}.\n",
            pool["pool"].as_str().unwrap_or("pool"),
            pool["subscriptions"].as_u64().unwrap_or(0),
            pool["params"]["alpha"].as_f64().unwrap_or(f64::NAN),
            pool["params"]["beta"].as_f64().unwrap_or(f64::NAN),
            pool["max_gap"].as_f64().unwrap_or(f64::NAN)
        ));
    }
    for c in &report.candidates {
        match (&c.holdout, &c.error) {
            (Some(h), _) => out.push_str(&format!(
                "  {:7} holdout MAE {:.4}, RMSE {:.4}, total {:.0} predicted vs {:.0} actual{}\n",
                c.model,
                h.mae,
                h.rmse,
                h.predicted_total,
                h.actual_total,
                if c.model == report.model {
                    "  <- chosen"
                } else {
                    ""
                }
            )),
            (None, Some(e)) => out.push_str(&format!("  {:7} not fitted: {e}\n", c.model)),
            _ => {}
        }
    }
    let cur = report.currency.as_deref().unwrap_or("");
    for f in &report.forecast {
        let money = |m: i64| m as f64 / 100.0;
        // (money in the currency's major units, two decimals)
        let interval = if f.lower_minor == f.upper_minor {
            "no interval: the fit gave no covariance".to_string()
        } else {
            format!(
                "90% interval {:.2} to {:.2}",
                money(f.lower_minor),
                money(f.upper_minor)
            )
        };
        out.push_str(&format!(
            "Expected revenue, next {:2} months: {:.2} {cur} ({interval})\n",
            f.months,
            money(f.expected_minor)
        ));
    }
    out.push_str(&format!(
        "Tiers: A {}, B {}, C {}, D {}\n",
        report.tiers[0], report.tiers[1], report.tiers[2], report.tiers[3]
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_cumulative_value_shares() {
        // total 100: 40 starts at 0% (A), 30 at 40% (A), 15 at 70% (B), 10 at 85% (C),
        // 5 at 95% (D), 0 is D
        let t = assign_tiers(&[10.0, 40.0, 0.0, 30.0, 5.0, 15.0]);
        assert_eq!(t, vec!['C', 'A', 'D', 'A', 'D', 'B']);
        assert_eq!(assign_tiers(&[0.0, 0.0]), vec!['D', 'D']);
        assert!(assign_tiers(&[]).is_empty());
    }

    #[test]
    fn draws_follow_the_covariance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let cov = vec![vec![0.04, 0.03], vec![0.03, 0.09]];
        let n = 20_000;
        let logs: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                draw_log_normal(&[1.0, 2.0], &cov, &mut rng)
                    .unwrap()
                    .iter()
                    .map(|v| v.ln())
                    .collect()
            })
            .collect();
        let mean = |i: usize| logs.iter().map(|v| v[i]).sum::<f64>() / n as f64;
        let (m0, m1) = (mean(0), mean(1));
        assert!(
            m0.abs() < 0.01 && (m1 - 2f64.ln()).abs() < 0.01,
            "{m0} {m1}"
        );
        let c01 = logs.iter().map(|v| (v[0] - m0) * (v[1] - m1)).sum::<f64>() / n as f64;
        assert!((c01 - 0.03).abs() < 0.003, "{c01}");
        let not_pd = [vec![1.0, 2.0], vec![2.0, 1.0]];
        assert!(draw_log_normal(&[1.0, 1.0], &not_pd, &mut rng).is_none());
    }
}
