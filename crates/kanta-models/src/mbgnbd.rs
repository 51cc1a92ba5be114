//! MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007),
//! "Empirical validation and comparison of models for customer base analysis",
//! International Journal of Research in Marketing 24(3), 201-209, in the form of
//! lifetimes' `ModifiedBetaGeoFitter`.
//!
//! As BG/NBD, but a customer may also drop out at time zero, right after the first
//! purchase, so customers without repeat purchases are not certainly alive.

use serde::{Deserialize, Serialize};

use crate::bgnbd::{BgNbdTables, nbd_tail, one_minus_hyp2f1_term, scaled_nbd_pmf};
use crate::data::{RfmData, RfmRow};
use crate::error::Result;
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, fit_problem_warm, log_likelihood_at,
    model_problem, params_record, penalized,
};
// the tests build parameter records with `Params::from_slice`
#[cfg(test)]
use crate::fit::Params;
use crate::special::{ln_beta, ln_gamma};
use crate::transaction::{TimeScaled, transaction_model};

/// MBG/NBD parameters (same meaning as [`crate::BgNbdParams`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MbgNbdParams {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate of the purchase-rate gamma, in the data's time unit.
    pub alpha: f64,
    /// First shape of the dropout beta.
    pub a: f64,
    /// Second shape of the dropout beta.
    pub b: f64,
}

params_record!(MbgNbdParams, ModelKind::MbgNbd, [r, alpha, a, b]);

fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl MbgNbdParams {
    /// Log-likelihood of one customer:
    ///
    /// ```text
    /// ln L = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x+1) - ln B(a, b) - (r+x) ln(α+T)
    ///     + ln(1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))
    /// ```
    pub fn row_log_likelihood(&self, row: &RfmRow) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        let (x, tx, t) = (row.frequency, row.recency, row.t);
        let a4 = a.ln() - (b + x).ln() + (r + x) * ((alpha + t).ln() - (alpha + tx).ln());
        ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_beta(a, b + x + 1.0)
            - ln_beta(a, b)
            - (r + x) * (alpha + t).ln()
            + softplus(a4)
    }

    /// Total log-likelihood of weighted data.
    pub fn log_likelihood(&self, data: &RfmData) -> f64 {
        log_likelihood_at(&MbgNbdProblem::new(data, 0.0), self, data.total_weight())
    }

    /// P(alive | x, t_x, T) = `1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))`.
    pub fn p_alive(&self, row: &RfmRow) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        let x = row.frequency;
        let ln_odds =
            a.ln() - (b + x).ln() + (r + x) * ((alpha + row.t).ln() - (alpha + row.recency).ln());
        sigmoid(-ln_odds)
    }

    /// Expected repeat purchases in the next `t` given the history:
    ///
    /// ```text
    /// (a+b+x)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]
    ///     / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))
    /// ```
    pub fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
        self.age_factor(t, row.frequency, row.t) * self.p_alive(row)
    }

    /// The part of [`Self::conditional_expected_purchases`] that depends on the
    /// history only through `x` and `T`:
    /// `(a+b+x)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(α+T+t))]`;
    /// the rest is P(alive).
    pub fn age_factor(&self, t: f64, x: f64, age: f64) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let bracket = one_minus_hyp2f1_term(r + x, b + x + 1.0, a + b + x, alpha + age, t);
        (a + b + x) / (a - 1.0) * bracket
    }

    /// E[X(t)] for a new customer: `b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))]`.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        b / (a - 1.0) * one_minus_hyp2f1_term(r, b + 1.0, a + b, alpha, t)
    }

    /// P(X(t) = n) for a new customer:
    ///
    /// ```text
    /// B(a, b+n+1)/B(a, b) Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n
    ///     + B(a+1, b+n)/B(a, b) I_{t/(α+t)}(n, r)
    /// ```
    ///
    /// with the regularised incomplete beta `I`, and `I_p(0, r) = 1`.
    pub fn prob_purchases(&self, t: f64, n: u32) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        let nf = f64::from(n);
        let lb = ln_beta(a, b);
        let second = (ln_beta(a + 1.0, b + nf) - lb).exp();
        if t == 0.0 {
            // everyone has 0 purchases at t = 0
            return if n == 0 { 1.0 } else { 0.0 };
        }
        let first = scaled_nbd_pmf(ln_beta(a, b + nf + 1.0) - lb, r, alpha, t, nf);
        let tail = if n == 0 {
            1.0
        } else {
            nbd_tail(r, alpha, t, nf)
        };
        first + second * tail
    }
}

transaction_model!(MbgNbdParams, prob_purchases);

/// The MBG/NBD fitting problem over `θ = (ln r, ln α, ln a, ln b)`:
///
/// ```text
/// f(θ) = -(1/W) Σ_i w_i ln L_i + c (r² + α² + a² + b²),
/// ln L_i = ln Γ(r+x) - ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x+1) - ln Γ(b) - ln Γ(a+b+x+1)
///     - (r+x) ln(α+T) + ln(1 + e^{A4}),
/// A4 = ln a - ln(b+x) + (r+x) (ln(α+T) - ln(α+t_x)).
/// ```
///
/// With `σ = e^{A4} / (1 + e^{A4})`:
///
/// ```text
/// ∂ ln L/∂r = ψ(r+x) - ψ(r) + ln α - ln(α+T) + σ (ln(α+T) - ln(α+t_x))
/// ∂ ln L/∂α = r/α - (r+x)/(α+T) + σ (r+x) (1/(α+T) - 1/(α+t_x))
/// ∂ ln L/∂a = ψ(a+b) - ψ(a+b+x+1) + σ/a
/// ∂ ln L/∂b = ψ(a+b) + ψ(b+x+1) - ψ(b) - ψ(a+b+x+1) - σ/(b+x)
/// ```
pub struct MbgNbdProblem<'a> {
    data: &'a RfmData,
    penalizer: f64,
    cache: EvalCache,
}

model_problem!(MbgNbdProblem, RfmData);

impl Objective for MbgNbdProblem<'_> {
    fn dim(&self) -> usize {
        4
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let d = self.data;
        // k = 1; the dropout odds a/(b+x) exist for every x
        let tab = BgNbdTables::new(d, lp, 1.0, |b, x| Some(b + x));
        let [r, al, a, _] = tab.theta;
        let ln_a = a.ln();
        let s = tab.weighted_sums(d, |x, xe, (l_t, i_t), (l_tx, i_tx)| {
            let a4 = ln_a - xe.ln_den + (r + x) * (l_t - l_tx);
            let sg = sigmoid(a4);
            [
                xe.a12 - (r + x) * l_t + softplus(a4),
                xe.d_r - l_t + sg * (l_t - l_tx),
                r / al - (r + x) * i_t + sg * (r + x) * (i_t - i_tx),
                xe.d_a + sg / a,
                xe.d_b - sg * xe.inv_den,
            ]
        });
        penalized(&s, &tab.theta, d.total_weight(), self.penalizer)
    }
}

/// Fit MBG/NBD by maximum likelihood (time rescaled internally as for BG/NBD).
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`].
pub fn fit(data: &RfmData, options: &FitOptions) -> Result<Fitted<MbgNbdParams>> {
    let time = TimeScaled::new(data);
    // As BG/NBD: a warm start from the data on a coarse grid when there are many
    // distinct rows and no initial values.
    let coarse = time.coarsened(options);
    let problem = |c| MbgNbdProblem::new(&time.data, c);
    let stand_in = coarse.as_ref().map(|d| move |c| MbgNbdProblem::new(d, c));
    let (n, rows) = (data.total_weight(), data.len());
    let log_likelihood = |p: &MbgNbdParams, _: Option<f64>| p.log_likelihood(data);
    fit_problem_warm(
        options,
        problem,
        stand_in,
        time.rates(&[1]),
        n,
        rows,
        log_likelihood,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let rows = [
            RfmRow::new(0.0, 0.0, 30.0),
            RfmRow::new(1.0, 5.0, 32.0),
            RfmRow::new(4.0, 20.0, 35.0),
            RfmRow::new(12.0, 33.0, 36.0),
        ];
        let data = RfmData::from_weighted_rows(&rows, &[10.0, 3.0, 2.0, 1.0]).unwrap();
        let p = MbgNbdProblem::new(&data, 0.05);
        let x = [-0.7, 1.8, -0.1, 0.5];
        let (_, g) = p.value_grad(&x);
        for k in 0..4 {
            let h = 1e-6;
            let mut xp = x;
            let mut xm = x;
            xp[k] += h;
            xm[k] -= h;
            let fd = (p.value_grad(&xp).0 - p.value_grad(&xm).0) / (2.0 * h);
            assert!((g[k] - fd).abs() < 1e-7, "component {k}: {} vs {fd}", g[k]);
        }
        let params = MbgNbdParams::from_slice(&x.map(f64::exp));
        let total: f64 = data
            .rows()
            .iter()
            .zip(data.weights())
            .map(|(r, w)| w * params.row_log_likelihood(r))
            .sum();
        assert!((total - params.log_likelihood(&data)).abs() < 1e-9);
    }

    #[test]
    fn purchase_probabilities_sum_to_one() {
        let p = MbgNbdParams::new(0.52, 6.18, 0.89, 1.61).unwrap();
        let total: f64 = (0..400).map(|n| p.prob_purchases(20.0, n)).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }
}
