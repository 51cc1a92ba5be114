//! Subscribers' value in a scoring run: the shifted-beta-geometric model (Fader &
//! Hardie 2007) per plan, fitted on the subscriptions' individual histories.
//!
//! 1. **Histories.** Each subscription that started by `as_of` has made
//!    `billed periods - 1` renewals (the one billing rule,
//!    [`kanta_domain::subscription`]); it churned after them when it ended by `as_of`,
//!    else it is right-censored there.
//! 2. **Fits.** sBG per plan with the likelihood under censoring; a plan with fewer
//!    than [`MIN_PLAN_SUBSCRIPTIONS`] subscriptions, or whose fit is degenerate or
//!    impossible (nobody churned), is pooled with every subscription of the same
//!    period length. Each fit is checked against Kaplan-Meier on the same histories:
//!    both curves and their largest gap go into the run's details.
//! 3. **Scores** per active subscription with `k` renewals made: the probability of
//!    the next renewal `S(k+1)/S(k)`, the expected discounted further payments (DERL,
//!    Fader & Hardie 2010, at the run's monthly rate turned into a per-period rate),
//!    and CLV over 12 and 36 months: each future payment's amount times the margin
//!    times its probability `S(k+j)/S(k)`, discounted by `(1+d)^i` for the month `i`
//!    it falls in (as the buyers' CLV discounts month `i`'s purchases). A subscription
//!    with a known end bills nothing from that day.
//! 4. **Forecast:** expected billed revenue over 1, 3 and 12 months (undiscounted,
//!    no margin), with a 90% interval from draws of each fit's parameters.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kanta_domain::subscription::{Period, Subscription, billed_periods};
use kanta_models::fit::{FitOptions, Params, at_boundary, degeneracy, log_normal_draw};
use kanta_models::sbg::{self, History, SurvivorData};
use kanta_models::{ModelKind, SbgParams};
use kanta_store::purchases::SubscriptionRow;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Plans with fewer subscriptions than this are pooled with every subscription of
/// the same period length.
pub const MIN_PLAN_SUBSCRIPTIONS: usize = 10;
/// Days per month in the discounting (a month index from a date difference).
const DAYS_PER_MONTH: f64 = 365.25 / 12.0;
/// Longest survival curve stored in the details, in periods.
const MAX_CURVE: u32 = 60;
/// Parameter draws behind the forecast interval.
const DRAWS: usize = 200;

/// One customer's subscription part (their active subscriptions summed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SubscriberScore {
    /// Probability of the next renewal of the customer's most valuable active
    /// subscription.
    pub renewal_probability: Option<f64>,
    /// Expected further payments, discounted (DERL), summed.
    pub expected_remaining_periods: Option<f64>,
    /// CLV over 12 and 36 months, minor units.
    pub clv_12: f64,
    pub clv_36: f64,
    /// Whether a subscription runs on `as_of`.
    pub active: bool,
}

/// The subscription part of a run.
#[derive(Debug, Default)]
pub struct SubscriptionPart {
    /// By customer id: every customer with a subscription that started by `as_of`.
    pub scores: HashMap<i64, SubscriberScore>,
    /// Fits, pooling and the Kaplan-Meier check, for the run's details.
    pub details: Value,
    /// Expected billed revenue (expected, lower, upper) in minor units per horizon.
    pub forecast: Vec<(f64, f64, f64)>,
}

fn period_of(text: &str) -> Period {
    Period::parse(text).unwrap_or(Period::Month)
}

fn period_months(p: Period) -> f64 {
    match p {
        Period::Week => 12.0 / 52.0,
        Period::Month => 1.0,
        Period::Quarter => 3.0,
        Period::Year => 12.0,
    }
}

fn sub_of(r: &SubscriptionRow) -> Subscription {
    Subscription {
        plan: r.plan.clone(),
        amount_minor: r.amount_minor,
        period: period_of(&r.period),
        started_on: r.started_on,
        ended_on: r.ended_on,
        renews_on: r.renews_on,
    }
}

/// The subscription's history on `as_of`; `None` when it never billed.
fn history(s: &Subscription, as_of: NaiveDate) -> Option<History> {
    let billed = billed_periods(s, as_of);
    if billed == 0 {
        return None;
    }
    Some(History {
        renewals: u32::try_from(billed - 1).unwrap_or(u32::MAX),
        churned: s.ended_on.is_some_and(|e| e <= as_of),
    })
}

/// A sound sBG fit of one group, with its details.
struct GroupFit {
    params: SbgParams,
    log_covariance: Option<Vec<Vec<f64>>>,
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Fits sBG on `histories`; the details (with the Kaplan-Meier check) or why not.
fn fit_group(histories: &[History]) -> Result<(GroupFit, Value), String> {
    let data = SurvivorData::from_histories(histories).map_err(|e| e.to_string())?;
    let fitted = sbg::fit(&data, &FitOptions::default()).map_err(|e| e.to_string())?;
    let names = ModelKind::Sbg.param_names();
    let se = fitted.std_errors.map(|s| s.to_vec());
    let values = fitted.params.to_vec();
    if let Some(why) =
        degeneracy(names, &values, se.as_deref()).or_else(|| at_boundary(names, &values))
    {
        return Err(format!("degenerate fit: {why}"));
    }
    if !fitted.converged || se.is_none() {
        return Err(format!(
            "degenerate fit: alpha {:.3e}, beta {:.3e} did not converge to a point with standard errors",
            fitted.params.alpha, fitted.params.beta
        ));
    }
    let longest = histories.iter().map(|h| h.renewals + 1).max().unwrap_or(1);
    let periods = longest.min(MAX_CURVE);
    let km = data.kaplan_meier(periods);
    let model: Vec<f64> = (0..=periods).map(|t| fitted.params.survival(t)).collect();
    let gap = km
        .iter()
        .zip(&model)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let details = json!({
        "subscriptions": histories.len(),
        "churned": histories.iter().filter(|h| h.churned).count(),
        "params": {"alpha": fitted.params.alpha, "beta": fitted.params.beta},
        "std_errors": se.map(|s| json!({"alpha": s[0], "beta": s[1]})),
        "log_likelihood": fitted.log_likelihood,
        "converged": fitted.converged,
        "survival_sbg": model.iter().map(|v| round4(*v)).collect::<Vec<_>>(),
        "survival_km": km.iter().map(|v| round4(*v)).collect::<Vec<_>>(),
        "max_gap": round4(gap),
    });
    Ok((
        GroupFit {
            params: fitted.params,
            log_covariance: fitted.log_covariance,
        },
        details,
    ))
}

/// The future payments of an active subscription within `months`: (month index,
/// payment number j >= 1).
fn payments(s: &Subscription, as_of: NaiveDate, months: u32) -> Vec<(u32, u32)> {
    let billed = billed_periods(s, as_of);
    let mut out = Vec::new();
    for j in 1u32.. {
        let Some(day) = s.period.start(s.started_on, billed + u64::from(j) - 1) else {
            break;
        };
        if s.ended_on.is_some_and(|e| day >= e) {
            break;
        }
        let days = (day - as_of).num_days().max(1) as f64;
        let month = (days / DAYS_PER_MONTH).ceil() as u32;
        if month > months {
            break;
        }
        out.push((month.max(1), j));
    }
    out
}

/// The valued active subscriptions' future payments for the forecast, summed by what
/// their chance depends on: (fit, renewals made, payment number) → per horizon, the
/// amounts of those payments due within it. A draw of the parameters then costs one
/// survival chance per distinct key (a few thousand), not one per payment of every
/// subscription (millions at 200,000 subscriptions).
type Due = BTreeMap<(usize, u32, u32), Vec<f64>>;

/// Scores every subscription of `rows` (started by `as_of`) and forecasts their
/// billed revenue over `horizons` months.
pub fn score_subscriptions(
    rows: &[SubscriptionRow],
    as_of: NaiveDate,
    monthly_rate: f64,
    margin: f64,
    horizons: &[u32],
) -> SubscriptionPart {
    let subs: Vec<(i64, Subscription)> = rows
        .iter()
        .filter(|r| r.started_on <= as_of)
        .map(|r| (r.customer_id, sub_of(r)))
        .collect();
    if subs.is_empty() {
        return SubscriptionPart {
            details: Value::Null,
            forecast: horizons.iter().map(|_| (0.0, 0.0, 0.0)).collect(),
            ..SubscriptionPart::default()
        };
    }
    let hist: Vec<Option<History>> = subs.iter().map(|(_, s)| history(s, as_of)).collect();
    // Plans (with their period) and pools by period.
    let mut plans: BTreeMap<(String, &'static str), Vec<usize>> = BTreeMap::new();
    let mut pools: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    let name = |p: Period| match p {
        Period::Week => "week",
        Period::Month => "month",
        Period::Quarter => "quarter",
        Period::Year => "year",
    };
    for (i, (_, s)) in subs.iter().enumerate() {
        if hist[i].is_none() {
            continue;
        }
        plans
            .entry((s.plan.clone(), name(s.period)))
            .or_default()
            .push(i);
        pools.entry(name(s.period)).or_default().push(i);
    }
    let histories_of =
        |ix: &[usize]| -> Vec<History> { ix.iter().filter_map(|&i| hist[i]).collect() };
    let mut fits: Vec<GroupFit> = Vec::new();
    let mut fit_of: Vec<Option<usize>> = vec![None; subs.len()];
    let mut pool_fits: BTreeMap<&'static str, Result<usize, String>> = BTreeMap::new();
    let mut plan_details = Vec::new();
    let mut pool_details = Vec::new();
    for ((plan, period), ix) in &plans {
        let own = if ix.len() >= MIN_PLAN_SUBSCRIPTIONS {
            fit_group(&histories_of(ix))
        } else {
            Err(format!(
                "{} subscriptions, fewer than {MIN_PLAN_SUBSCRIPTIONS}",
                ix.len()
            ))
        };
        match own {
            Ok((f, d)) => {
                fits.push(f);
                for &i in ix {
                    fit_of[i] = Some(fits.len() - 1);
                }
                let mut d = d;
                d["plan"] = json!(plan);
                d["period"] = json!(period);
                d["pooled"] = json!(false);
                plan_details.push(d);
            }
            Err(why) => {
                let pooled = pool_fits.entry(period).or_insert_with(|| {
                    match fit_group(&histories_of(&pools[period])) {
                        Ok((f, mut d)) => {
                            d["period"] = json!(period);
                            d["pool"] = json!(format!("every {period} subscription"));
                            pool_details.push(d);
                            fits.push(f);
                            Ok(fits.len() - 1)
                        }
                        Err(e) => Err(e),
                    }
                });
                let note = match pooled {
                    Ok(k) => {
                        for &i in ix {
                            fit_of[i] = Some(*k);
                        }
                        format!("pooled with every {period} subscription: {why}")
                    }
                    Err(e) => format!(
                        "not valued: {why}; and every {period} subscription together cannot be fitted either: {e}"
                    ),
                };
                plan_details.push(json!({
                    "plan": plan,
                    "period": period,
                    "subscriptions": ix.len(),
                    "pooled": true,
                    "note": note,
                }));
            }
        }
    }

    // Scores per active subscription, summed per customer.
    let d_month = monthly_rate;
    let longest = horizons.iter().copied().max().unwrap_or(12).max(36);
    let mut scores: HashMap<i64, SubscriberScore> = HashMap::default();
    let mut best: HashMap<i64, f64> = HashMap::default();
    // Every valued active subscription's payments within the horizons, for the forecast.
    let mut due: Due = BTreeMap::new();
    let mut live = 0usize;
    for (i, (customer, s)) in subs.iter().enumerate() {
        let entry = scores.entry(*customer).or_default();
        if !s.is_active(as_of) {
            continue;
        }
        entry.active = true;
        let (Some(h), Some(f)) = (hist[i], fit_of[i]) else {
            continue;
        };
        let p = fits[f].params;
        let k = h.renewals;
        let schedule = payments(s, as_of, longest);
        let amount = s.amount_minor as f64;
        let value = |months: u32| -> f64 {
            schedule
                .iter()
                .filter(|(m, _)| *m <= months)
                .map(|&(m, j)| {
                    amount * margin * p.survival_given(k, j) / (1.0 + d_month).powi(m as i32)
                })
                .sum()
        };
        let (v12, v36) = (value(12), value(36));
        // The next renewal: none when the subscription ends before it.
        let renews = s
            .period
            .start(s.started_on, billed_periods(s, as_of))
            .is_some_and(|day| s.ended_on.is_none_or(|e| day < e));
        let renewal = if renews {
            p.renewal_probability(k)
        } else {
            0.0
        };
        let d_period = (1.0 + d_month).powf(period_months(s.period)) - 1.0;
        let derl = if !renews {
            0.0
        } else if s.ended_on.is_some() {
            // A known end: only the payments before it.
            (1u32..)
                .take_while(|&j| {
                    s.period
                        .start(s.started_on, billed_periods(s, as_of) + u64::from(j) - 1)
                        .is_some_and(|day| s.ended_on.is_none_or(|e| day < e))
                })
                .map(|j| p.survival_given(k, j) / (1.0 + d_period).powi(j as i32 - 1))
                .sum()
        } else {
            p.derl(k, d_period)
        };
        entry.clv_12 += v12;
        entry.clv_36 += v36;
        if derl.is_finite() {
            entry.expected_remaining_periods =
                Some(entry.expected_remaining_periods.unwrap_or(0.0) + derl);
        }
        let b = best.entry(*customer).or_insert(f64::NEG_INFINITY);
        if v12 > *b {
            *b = v12;
            entry.renewal_probability = Some(renewal);
        }
        let within = horizons.iter().copied().max().unwrap_or(0);
        for &(m, j) in schedule.iter().filter(|(m, _)| *m <= within) {
            let w = due
                .entry((f, k, j))
                .or_insert_with(|| vec![0.0; horizons.len()]);
            for (h, &months) in horizons.iter().enumerate() {
                if m <= months {
                    w[h] += amount;
                }
            }
        }
        live += 1;
    }

    // The forecast: expected billed revenue, and its interval from parameter draws.
    // Per horizon: Σ amount × P(the payment is made).
    let revenue = |params: &[SbgParams]| -> Vec<f64> {
        let mut out = vec![0.0; horizons.len()];
        for (&(f, k, j), w) in &due {
            let p = params[f].survival_given(k, j);
            for (o, a) in out.iter_mut().zip(w) {
                *o += a * p;
            }
        }
        out
    };
    let estimates: Vec<SbgParams> = fits.iter().map(|f| f.params).collect();
    let expected: Vec<f64> = revenue(&estimates);
    let draws: Option<Vec<Vec<f64>>> = (|| {
        if fits.is_empty() || live == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(DRAWS);
        for k in 0..DRAWS {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1_000 + k as u64);
            let mut drawn = Vec::with_capacity(fits.len());
            for f in &fits {
                let cov = f.log_covariance.as_ref()?;
                let z: Vec<f64> = (0..2).map(|_| StandardNormal.sample(&mut rng)).collect();
                let v = log_normal_draw(&f.params.to_vec(), cov, &z)?;
                drawn.push(SbgParams::new(v[0], v[1]).ok()?);
            }
            out.push(revenue(&drawn));
        }
        Some(out)
    })();
    let forecast = horizons
        .iter()
        .enumerate()
        .map(|(h, _)| {
            let e = expected[h];
            match &draws {
                Some(d) => {
                    let mut v: Vec<f64> = d.iter().map(|r| r[h]).collect();
                    v.sort_by(f64::total_cmp);
                    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                    (e, q(0.05).min(e), q(0.95).max(e))
                }
                None => (e, e, e),
            }
        })
        .collect();
    let details = json!({
        "model": "sbg",
        "rule": format!(
            "sBG per plan on each subscription's renewals (churned, or censored on the as-of day); plans with fewer than {MIN_PLAN_SUBSCRIPTIONS} subscriptions are pooled with every subscription of the same period length"
        ),
        "subscriptions": subs.len(),
        "active": live,
        "plans": plan_details,
        "pools": pool_details,
    });
    SubscriptionPart {
        scores,
        details,
        forecast,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn row(
        customer: i64,
        plan: &str,
        started: NaiveDate,
        ended: Option<NaiveDate>,
    ) -> SubscriptionRow {
        SubscriptionRow {
            customer_id: customer,
            plan: plan.into(),
            amount_minor: 10_000,
            currency: "EUR".into(),
            period: "month".into(),
            started_on: started,
            ended_on: ended,
            renews_on: None,
        }
    }

    #[test]
    fn histories_count_renewals_and_censoring() {
        let as_of = d(2024, 6, 20);
        let s = sub_of(&row(1, "Pro", d(2024, 1, 5), None));
        // 5.1. .. 5.6.: six periods billed, five renewals, still active
        assert_eq!(
            history(&s, as_of),
            Some(History {
                renewals: 5,
                churned: false
            })
        );
        let s = sub_of(&row(1, "Pro", d(2024, 1, 5), Some(d(2024, 3, 20))));
        // billed 5.1., 5.2., 5.3.: two renewals, then churned
        assert_eq!(
            history(&s, as_of),
            Some(History {
                renewals: 2,
                churned: true
            })
        );
        // a known end after as-of is not yet a churn
        let s = sub_of(&row(1, "Pro", d(2024, 1, 5), Some(d(2024, 9, 1))));
        assert_eq!(
            history(&s, as_of),
            Some(History {
                renewals: 5,
                churned: false
            })
        );
    }

    #[test]
    fn small_plans_pool_and_every_subscriber_is_valued() {
        let as_of = d(2024, 12, 31);
        let mut rows = Vec::new();
        // 40 "Pro" subscriptions started monthly through 2023, a third ended after
        // a few months; 3 "Tiny" ones, which pool with the monthly subscriptions.
        for i in 0..40i64 {
            let start = d(2023, 1 + (i % 12) as u32, 1);
            let end = (i % 3 == 0).then(|| d(2023, 1 + (i % 12) as u32, 1) + chrono::Days::new(95));
            rows.push(row(i, "Pro", start, end));
        }
        for i in 40..43 {
            rows.push(row(i, "Tiny", d(2024, 3, 1), None));
        }
        let part = score_subscriptions(&rows, as_of, 0.01, 1.0, &[1, 3, 12]);
        let plans = part.details["plans"].as_array().unwrap();
        let tiny = plans.iter().find(|p| p["plan"] == "Tiny").unwrap();
        assert_eq!(tiny["pooled"], true, "{tiny}");
        assert!(tiny["note"].as_str().unwrap().contains("pooled"), "{tiny}");
        let pro = plans.iter().find(|p| p["plan"] == "Pro").unwrap();
        assert_eq!(pro["pooled"], false, "{pro}");
        assert!(pro["max_gap"].as_f64().unwrap() < 0.2, "{pro}");
        for i in 40..43 {
            let s = part.scores[&i];
            let r = s.renewal_probability.unwrap();
            assert!(r > 0.0 && r < 1.0, "{r}");
            assert!(s.clv_12 > 0.0 && s.clv_36 > s.clv_12, "{s:?}");
            // at most 12 monthly payments of 100.00 in 12 months
            assert!(s.clv_12 <= 12.0 * 10_000.0);
        }
        // churned customers are scored with no value
        assert_eq!(part.scores[&0].clv_12, 0.0);
        assert!(!part.scores[&0].active);
        let (e1, lo, hi) = part.forecast[0];
        assert!(e1 > 0.0 && lo <= e1 && e1 <= hi, "{:?}", part.forecast);
        assert!(part.forecast[2].0 > part.forecast[1].0);
    }
}
