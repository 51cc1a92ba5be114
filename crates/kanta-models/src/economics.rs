//! Retention economics (seed 003's leaky bucket, computed for one business rather
//! than quoted): what five more points of 12-month retention would be worth.
//!
//! # Buyers (BG/NBD, MBG/NBD, Pareto/NBD)
//!
//! All three models let a living customer drop out at a constant hazard given their
//! latent traits: `λp` for the BG/NBD and MBG/NBD (a dropout chance `p` at each of the
//! purchases that come at rate `λ`), `μ` for the Pareto/NBD. The scenario multiplies
//! every customer's dropout hazard **from today on** by one factor `k < 1` (the
//! histories, and so who is probably alive today, are left as they are). Two closed
//! forms follow:
//!
//! - Given the history, the posterior of a customer alive at `T` factorises (the
//!   "alive" part of the likelihood is `(1-p)^x λ^x e^{-λT}`, or `e^{-(λ+μ)T} λ^x`),
//!   so `P(alive at T+t | x, t_x, T) = P(alive) · E[e^{-h t} | alive]` with
//!   - BG/NBD: `2F1(r+x, a; a+b+x; -t/(α+T))` (λ ~ Gamma(r+x, α+T), p ~ Beta(a, b+x)),
//!   - MBG/NBD: `2F1(r+x, a; a+b+x+1; -t/(α+T))` (p ~ Beta(a, b+x+1)),
//!   - Pareto/NBD: `((β+T)/(β+T+t))^s` (μ ~ Gamma(s, β+T)).
//!
//!   With the hazard multiplied by `k` it is the same at `k t` ([`p_alive_after`]).
//! - Expected purchases in the next `t` are `λ (1 - e^{-h t}) / h` given the traits, so
//!   with the hazard `k h` they are `E[X(k t)] / k`: the model's own conditional
//!   expectation (FHL 2005, eq. 10, and its analogues) at `k t`, divided by `k`
//!   ([`expected_purchases_scaled`]).
//!
//! The base's **12-month retention** is the share of today's (expected) living
//! customers still alive in 12 months: `Σ P(alive at T+12 mo) / Σ P(alive)`. `k` is
//! found by a root finder (regula falsi) so that it is `points` higher. The **value** is the CLV of
//! [`crate::clv`] (margin × Gamma-Gamma spend × discounted monthly increments of the
//! expected purchases, over 12 and 36 months) summed over the customers, with `k` and
//! without; the difference is what the points are worth.
//!
//! # Subscribers (sBG)
//!
//! A subscription's churn probability per period θ ~ Beta(α, β); after `k` renewals
//! the posterior is Beta(α, β+k) and the chance of the next `n` renewals
//! `B(α, β+k+n) / B(α, β+k)` ([`SbgParams::survival_given`]). The scenario multiplies
//! every fit's β by one factor `c > 1` (the churn distribution shifted towards
//! staying; its mean α/(α+β) falls), found by the same root finder so that the mean over the
//! active subscriptions of the chance of still being subscribed in 12 months is
//! `points` higher. The value is the subscriptions' CLV as scoring computes it (each
//! future payment × margin × its probability, discounted by month).
//!
//! # The interval
//!
//! A parametric bootstrap: parameters drawn from the fits' asymptotic normal
//! distributions on the log scale (the covariance from the likelihood's Hessian at
//! the estimates, [`transaction_log_covariance`], [`spend_log_covariance`],
//! [`sbg_log_covariance`]), the whole computation (the root finding included) repeated per
//! draw, and the 2.5th and 97.5th percentiles of the gain ([`percentile_interval`]).
//! The caller supplies the standard normal draws, so the result is reproducible.

use serde::Serialize;

use crate::data::{RfmData, RfmRow, SpendData, sum_chunks};
use crate::fit::{Objective, Params, cholesky, cholesky_inverse, numerical_hessian};
use crate::gammagamma::{GammaGammaParams, GammaGammaProblem};
use crate::sbg::{SbgParams, SbgProblem, SurvivorData};
use crate::special::hyp2f1;
use crate::transaction::{TransactionModel, TransactionParams};

/// The points of 12-month retention the figure is about: five.
pub const RETENTION_POINTS: f64 = 0.05;
/// The horizons of the value, in months: 12 and 36, as the scores' CLV.
pub const HORIZONS: [u32; 2] = [12, 36];
/// How close the scenario's retention is brought to its target (of a share, 0-1).
const ROOT_TOL: f64 = 1e-13;
/// Steps of the root finder at most (it needs about ten).
const ROOT_MAX_STEPS: u32 = 100;

/// `P(alive at T + t | x, t_x, T)` when the dropout hazard from `T` on is the model's
/// (see the module documentation for the closed forms). `t` in the model's time unit.
/// `NaN` where the hypergeometric function cannot be evaluated.
pub fn p_alive_after(model: &TransactionParams, t: f64, row: &RfmRow) -> f64 {
    model.p_alive(row) * survival_factor(model, t, row.frequency, row.t)
}

/// `E[e^{-h t} | alive at T]`: the chance that a customer with `x` repeat purchases
/// and age `T`, alive at `T`, is still alive `t` later. Depends on the history only
/// through `x` and `T`.
pub fn survival_factor(model: &TransactionParams, t: f64, x: f64, age: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    match model {
        TransactionParams::BgNbd(p) => {
            hyp2f1(p.r + x, p.a, p.a + p.b + x, -t / (p.alpha + age)).unwrap_or(f64::NAN)
        }
        TransactionParams::MbgNbd(p) => {
            hyp2f1(p.r + x, p.a, p.a + p.b + x + 1.0, -t / (p.alpha + age)).unwrap_or(f64::NAN)
        }
        TransactionParams::ParetoNbd(p) => ((p.beta + age) / (p.beta + age + t)).powf(p.s),
    }
}

/// Expected repeat purchases in the next `t` when every dropout hazard from `T` on
/// is multiplied by `k > 0`: `E[X(k t) | history] / k`.
pub fn expected_purchases_scaled(model: &TransactionParams, k: f64, t: f64, row: &RfmRow) -> f64 {
    model.conditional_expected_purchases(k * t, row) / k
}

/// How the value is counted: the run's CLV settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Valuation {
    /// Model time units per month (4.345 for weeks, as lifetimes).
    pub units_per_month: f64,
    /// Share of revenue that is profit, in (0, 1].
    pub margin: f64,
    /// Discount rate per month.
    pub monthly_discount_rate: f64,
}

/// What the points are worth to one part of the base (buyers or subscribers).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartGain {
    /// Customers (buyers) or active subscriptions (subscribers) valued.
    pub units: usize,
    /// Expected living customers today (Σ P(alive)); the active subscriptions.
    pub alive: f64,
    /// 12-month retention of the base today, 0-1.
    pub retention: f64,
    /// With the scenario: `retention + points`.
    pub retention_after: f64,
    /// The scenario's factor: the dropout hazard's multiplier (buyers, below 1) or
    /// β's multiplier (subscribers, above 1).
    pub factor: f64,
    /// The base's value today over 12 and 36 months ([`HORIZONS`]), in the money
    /// unit of the inputs.
    pub value: [f64; 2],
    /// The same with the scenario.
    pub value_after: [f64; 2],
    /// `value_after - value`.
    pub gain: [f64; 2],
}

/// Why a part has no figure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum NoGain {
    /// Nobody to value.
    Empty,
    /// Retention is already so high that `points` more would pass 100 %.
    AlreadyRetained,
    /// The model gives no finite figures here (said in words).
    NotFinite(String),
}

impl std::fmt::Display for NoGain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoGain::Empty => write!(f, "nobody to value"),
            NoGain::AlreadyRetained => {
                write!(
                    f,
                    "12-month retention is already too high to rise by the points asked"
                )
            }
            NoGain::NotFinite(why) => write!(f, "no finite figures: {why}"),
        }
    }
}

/// Today's buyers: the transaction model, Gamma-Gamma for spend, and each customer's
/// `(x, t_x, T)` with their mean repeat spend (in the money unit of the spend fit).
#[derive(Clone, Copy, Debug)]
pub struct BuyerBase<'a> {
    /// The fitted transaction model.
    pub model: TransactionParams,
    /// The fitted Gamma-Gamma spend model.
    pub spend: GammaGammaParams,
    /// Each customer's `(x, t_x, T)` in the model's time unit.
    pub rows: &'a [RfmRow],
    /// Each customer's mean repeat spend (0 without repeat purchases).
    pub monetary: &'a [f64],
}

/// Customers with the same `(x, T)` share every time-dependent factor; they are
/// summed into one group with their weights.
struct Groups {
    /// (x, T) of each group.
    keys: Vec<(f64, f64)>,
    /// Σ P(alive) of the group's customers.
    alive: Vec<f64>,
    /// Σ spend × P(alive).
    worth: Vec<f64>,
}

fn groups(base: &BuyerBase<'_>) -> Result<Groups, NoGain> {
    let mut index: rustc_hash::FxHashMap<(u64, u64), usize> = Default::default();
    let mut g = Groups {
        keys: Vec::new(),
        alive: Vec::new(),
        worth: Vec::new(),
    };
    for (row, m) in base.rows.iter().zip(base.monetary) {
        let pa = base.model.p_alive(row);
        let spend = base.spend.expected_average_spend(row.frequency, *m);
        if !(pa.is_finite() && spend.is_finite()) {
            return Err(NoGain::NotFinite(format!(
                "P(alive) {pa} or spend {spend} for a customer with frequency {}, recency {:.3}, T {:.3}",
                row.frequency, row.recency, row.t
            )));
        }
        let key = (row.frequency.to_bits(), row.t.to_bits());
        let i = *index.entry(key).or_insert_with(|| {
            g.keys.push((row.frequency, row.t));
            g.alive.push(0.0);
            g.worth.push(0.0);
            g.keys.len() - 1
        });
        g.alive[i] += pa;
        g.worth[i] += pa * spend;
    }
    Ok(g)
}

fn buyer_retention(model: &TransactionParams, g: &Groups, k: f64, year: f64) -> f64 {
    let alive: f64 = g.alive.iter().sum();
    let [kept] = sum_chunks(g.keys.len(), |range| {
        let mut kept = 0.0;
        for i in range {
            let (x, age) = g.keys[i];
            kept += g.alive[i] * survival_factor(model, k * year, x, age);
        }
        [kept]
    });
    kept / alive
}

/// Σ margin × spend × P(alive) × discounted monthly increments of `A(k t) / k`, where
/// `A` is the model's age factor (the conditional expectation is `P(alive) × A`),
/// over each of [`HORIZONS`].
fn buyer_value(model: &TransactionParams, g: &Groups, k: f64, val: &Valuation) -> [f64; 2] {
    let longest = HORIZONS[1];
    sum_chunks(g.keys.len(), |range| {
        let mut out = [0.0; 2];
        for i in range {
            let ((x, age), w) = (g.keys[i], &g.worth[i]);
            if *w == 0.0 {
                continue;
            }
            let a = |t: f64| -> f64 { model.age_factor(k * t, x, age).unwrap_or(f64::NAN) / k };
            let mut prev = 0.0;
            let mut discount = 1.0;
            let mut sum = 0.0;
            for m in 1..=longest {
                let v = a(f64::from(m) * val.units_per_month);
                discount /= 1.0 + val.monthly_discount_rate;
                sum += (v - prev) * discount;
                prev = v;
                if m == HORIZONS[0] {
                    out[0] += val.margin * w * sum;
                }
            }
            out[1] += val.margin * w * sum;
        }
        out
    })
}

/// Finds `x` in `[lo, hi]` with `f(x) = target` for a monotone `f`: regula falsi with
/// the Illinois modification (superlinear: about ten evaluations of `f` where
/// bisection takes sixty, and a pass over a million customers each), to
/// `|f(x) - target| <` [`ROOT_TOL`] or a bracket narrower than 1e-12. A target outside
/// `f`'s range gives the nearer end; a `f` that is not finite gives `NaN`.
fn solve(f: impl Fn(f64) -> f64, lo: f64, hi: f64, target: f64) -> f64 {
    let g = |x: f64| f(x) - target;
    let (mut a, mut b) = (lo, hi);
    let (mut fa, mut fb) = (g(a), g(b));
    if !(fa.is_finite() && fb.is_finite()) {
        return f64::NAN;
    }
    if fa.abs() < ROOT_TOL {
        return a;
    }
    if fb.abs() < ROOT_TOL {
        return b;
    }
    if fa.signum() == fb.signum() {
        return if fa.abs() < fb.abs() { a } else { b };
    }
    // Which end moved last: -1 the upper, 1 the lower, 0 neither yet.
    let mut side = 0;
    let mut c = 0.5 * (a + b);
    for _ in 0..ROOT_MAX_STEPS {
        c = (a * fb - b * fa) / (fb - fa);
        if !(c > a.min(b) && c < a.max(b)) {
            c = 0.5 * (a + b);
        }
        let fc = g(c);
        if !fc.is_finite() {
            return f64::NAN;
        }
        if fc.abs() < ROOT_TOL || (b - a).abs() < 1e-12 {
            return c;
        }
        if fc.signum() == fb.signum() {
            b = c;
            fb = fc;
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        } else {
            a = c;
            fa = fc;
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        }
    }
    c
}

/// What `points` more 12-month retention are worth for today's buyers (see the
/// module documentation).
///
/// # Errors
///
/// No customers, retention already within `points` of 100 %, or figures that are
/// not finite.
pub fn buyer_gain(base: &BuyerBase<'_>, val: &Valuation, points: f64) -> Result<PartGain, NoGain> {
    if base.rows.is_empty() {
        return Err(NoGain::Empty);
    }
    let g = groups(base)?;
    let alive: f64 = g.alive.iter().sum();
    if alive <= 0.0 {
        return Err(NoGain::Empty);
    }
    let year = 12.0 * val.units_per_month;
    let model = &base.model;
    let retention = buyer_retention(model, &g, 1.0, year);
    if !retention.is_finite() {
        return Err(NoGain::NotFinite(format!(
            "12-month retention of the base is {retention}"
        )));
    }
    let target = retention + points;
    if target >= 1.0 - 1e-9 {
        return Err(NoGain::AlreadyRetained);
    }
    // Retention falls as the hazard factor rises; on ln k in [-40, 0] (k = e^-40:
    // practically nobody drops out within the year).
    let ln_k = solve(
        |l| buyer_retention(model, &g, l.exp(), year),
        -40.0,
        0.0,
        target,
    );
    let k = ln_k.exp();
    let value = buyer_value(model, &g, 1.0, val);
    let value_after = buyer_value(model, &g, k, val);
    let gain = [value_after[0] - value[0], value_after[1] - value[1]];
    if !gain.iter().chain(&value).all(|v| v.is_finite()) {
        return Err(NoGain::NotFinite(format!(
            "value {value:?}, with the scenario {value_after:?}"
        )));
    }
    Ok(PartGain {
        units: base.rows.len(),
        alive,
        retention,
        retention_after: buyer_retention(model, &g, k, year),
        factor: k,
        value,
        value_after,
        gain,
    })
}

/// One active subscription as the subscriber part values it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscriptionTerm {
    /// Index of its sBG fit.
    pub fit: usize,
    /// Renewals made so far.
    pub renewals: u32,
    /// The amount of a payment.
    pub amount: f64,
    /// Its future payments within the longest horizon: (month 1.., payment number
    /// j >= 1, paid if the next j renewals are made).
    pub payments: Vec<(u32, u32)>,
    /// Renewals it must make to be subscribed 12 months from now; `None` when a known
    /// end falls within them (it will not be).
    pub renewals_in_year: Option<u32>,
}

fn with_beta(p: &SbgParams, c: f64) -> SbgParams {
    SbgParams {
        alpha: p.alpha,
        beta: p.beta * c,
    }
}

fn subscriber_retention(fits: &[SbgParams], terms: &[SubscriptionTerm], c: f64) -> f64 {
    let kept: f64 = terms
        .iter()
        .map(|s| match s.renewals_in_year {
            Some(n) => with_beta(&fits[s.fit], c).survival_given(s.renewals, n),
            None => 0.0,
        })
        .sum();
    kept / terms.len() as f64
}

fn subscriber_value(
    fits: &[SbgParams],
    terms: &[SubscriptionTerm],
    c: f64,
    val: &Valuation,
) -> [f64; 2] {
    let mut out = [0.0; 2];
    for s in terms {
        let p = with_beta(&fits[s.fit], c);
        for &(m, j) in &s.payments {
            let v = s.amount * val.margin * p.survival_given(s.renewals, j)
                / (1.0 + val.monthly_discount_rate).powi(m as i32);
            for (h, months) in HORIZONS.iter().enumerate() {
                if m <= *months {
                    out[h] += v;
                }
            }
        }
    }
    out
}

/// What `points` more 12-month retention are worth for today's active
/// subscriptions (see the module documentation).
///
/// # Errors
///
/// No subscriptions, retention already within `points` of 100 %, or figures that
/// are not finite.
pub fn subscriber_gain(
    fits: &[SbgParams],
    terms: &[SubscriptionTerm],
    val: &Valuation,
    points: f64,
) -> Result<PartGain, NoGain> {
    if terms.is_empty() {
        return Err(NoGain::Empty);
    }
    if let Some(s) = terms.iter().find(|s| s.fit >= fits.len()) {
        return Err(NoGain::NotFinite(format!(
            "a subscription refers to fit {} of {}",
            s.fit,
            fits.len()
        )));
    }
    let retention = subscriber_retention(fits, terms, 1.0);
    if !retention.is_finite() {
        return Err(NoGain::NotFinite(format!(
            "12-month retention of the subscriptions is {retention}"
        )));
    }
    let target = retention + points;
    // The most that lowering churn can give: the subscriptions without a known end
    // within the year all stay.
    let most = terms
        .iter()
        .filter(|s| s.renewals_in_year.is_some())
        .count() as f64
        / terms.len() as f64;
    if target >= most - 1e-9 {
        return Err(NoGain::AlreadyRetained);
    }
    let ln_c = solve(
        |l| subscriber_retention(fits, terms, l.exp()),
        0.0,
        40.0,
        target,
    );
    let c = ln_c.exp();
    let value = subscriber_value(fits, terms, 1.0, val);
    let value_after = subscriber_value(fits, terms, c, val);
    let gain = [value_after[0] - value[0], value_after[1] - value[1]];
    if !gain.iter().chain(&value).all(|v| v.is_finite()) {
        return Err(NoGain::NotFinite(format!(
            "value {value:?}, with the scenario {value_after:?}"
        )));
    }
    Ok(PartGain {
        units: terms.len(),
        alive: terms.len() as f64,
        retention,
        retention_after: subscriber_retention(fits, terms, c),
        factor: c,
        value,
        value_after,
        gain,
    })
}

/// The `(lower, upper)` percentiles at `(1 ± level) / 2` of `draws` (non-finite draws
/// left out); `None` with fewer than 20 finite draws.
pub fn percentile_interval(draws: &[f64], level: f64) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = draws.iter().copied().filter(|d| d.is_finite()).collect();
    if v.len() < 20 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = (v.len() - 1) as f64 * p;
        let (i, f) = (pos.floor() as usize, pos.fract());
        if i + 1 < v.len() {
            v[i] * (1.0 - f) + v[i + 1] * f
        } else {
            v[i]
        }
    };
    let tail = (1.0 - level) / 2.0;
    Some((q(tail), q(1.0 - tail)))
}

/// The asymptotic covariance of the log parameters at `values` (inverse Hessian of
/// the total negative log-likelihood), as a fit gives it in
/// [`crate::Fitted::log_covariance`]; `None` when the Hessian is not positive definite.
fn log_covariance<O: Objective>(problem: &O, values: &[f64], total: f64) -> Option<Vec<Vec<f64>>> {
    let x: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    let h = numerical_hessian(problem, &x)?;
    let l = cholesky(&h)?;
    Some(
        cholesky_inverse(&l)
            .into_iter()
            .map(|row| row.into_iter().map(|v| v / total).collect())
            .collect(),
    )
}

/// The covariance of a stored transaction-model fit's log parameters on its data
/// (the stored run keeps estimates and standard errors, not the covariance).
pub fn transaction_log_covariance(
    params: &TransactionParams,
    data: &RfmData,
) -> Option<Vec<Vec<f64>>> {
    let total = data.total_weight();
    let values = params.values();
    match params {
        TransactionParams::BgNbd(_) => {
            log_covariance(&crate::bgnbd::BgNbdProblem::new(data, 0.0), &values, total)
        }
        TransactionParams::MbgNbd(_) => log_covariance(
            &crate::mbgnbd::MbgNbdProblem::new(data, 0.0),
            &values,
            total,
        ),
        TransactionParams::ParetoNbd(_) => log_covariance(
            &crate::paretonbd::ParetoNbdProblem::new(data, 0.0),
            &values,
            total,
        ),
    }
}

/// The covariance of a Gamma-Gamma fit's log parameters on its data.
pub fn spend_log_covariance(params: &GammaGammaParams, data: &SpendData) -> Option<Vec<Vec<f64>>> {
    log_covariance(
        &GammaGammaProblem::new(data, 0.0),
        &params.to_vec(),
        data.total_weight(),
    )
}

/// The covariance of an sBG fit's log parameters on its data.
pub fn sbg_log_covariance(params: &SbgParams, data: &SurvivorData) -> Option<Vec<Vec<f64>>> {
    log_covariance(&SbgProblem::new(data, 0.0), &params.to_vec(), data.total())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_finder_finds_the_target_both_ways() {
        let x = solve(|x| x * x, 0.0, 3.0, 2.0);
        assert!((x - 2f64.sqrt()).abs() < 1e-12, "{x}");
        let x = solve(|x| -x, -5.0, 5.0, 1.5);
        assert!((x + 1.5).abs() < 1e-12, "{x}");
        // A sigmoid as retention is in the log of the hazard factor, flat at one end.
        let calls = std::cell::Cell::new(0);
        let f = |l: f64| {
            calls.set(calls.get() + 1);
            1.0 / (1.0 + (3.0 * (l + 2.0)).exp())
        };
        let x = solve(f, -40.0, 0.0, 0.8);
        assert!((f(x) - 0.8).abs() < 1e-12, "{x}");
        assert!(calls.get() < 40, "{} evaluations", calls.get());
        // Outside the range: the nearer end.
        assert_eq!(solve(|x| x, 0.0, 1.0, 2.0), 1.0);
        assert!(solve(|_| f64::NAN, 0.0, 1.0, 0.5).is_nan());
    }

    #[test]
    fn percentiles_interpolate() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        let (lo, hi) = percentile_interval(&v, 0.95).unwrap();
        assert!((lo - 2.5).abs() < 1e-12 && (hi - 97.5).abs() < 1e-12);
        assert!(percentile_interval(&v[..10], 0.95).is_none());
    }
}
