//! MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007),
//! "Empirical validation and comparison of models for customer base analysis",
//! International Journal of Research in Marketing 24(3), 201-209, in the form of
//! lifetimes' `ModifiedBetaGeoFitter`.
//!
//! As BG/NBD, but a customer may also drop out at time zero, right after the first
//! purchase, so customers without repeat purchases are not certainly alive.

use serde::{Deserialize, Serialize};
use statrs::function::beta::checked_beta_reg;

use crate::data::{RfmData, RfmRow, sum_chunks};
use crate::error::Result;
use crate::fit::{
    Cached, EvalCache, FitOptions, Fitted, ModelKind, Objective, Params, argmin_problem,
    check_positive,
};
use crate::special::{digamma, ln_beta, ln_gamma, ln_hyp2f1};
use crate::transaction::{TransactionModel, finish_fit, prepare_fit};

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

impl Params for MbgNbdParams {
    const KIND: ModelKind = ModelKind::MbgNbd;
    fn from_slice(v: &[f64]) -> Self {
        MbgNbdParams {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
    }
    fn to_vec(&self) -> Vec<f64> {
        vec![self.r, self.alpha, self.a, self.b]
    }
}

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
    /// Checked constructor: every parameter finite and positive.
    ///
    /// # Errors
    ///
    /// [`crate::ModelError::InvalidParameter`].
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self> {
        check_positive(ModelKind::MbgNbd, &[r, alpha, a, b])?;
        Ok(MbgNbdParams { r, alpha, a, b })
    }

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
        let problem = MbgNbdProblem::new(data, 0.0);
        let x = [self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()];
        -problem.value_grad(&x).0 * data.total_weight()
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
        let z = t / (alpha + age + t);
        let Ok((ln_f, sign)) = ln_hyp2f1(r + x, b + x + 1.0, a + b + x, z) else {
            return f64::NAN;
        };
        let ln_term = ln_f + (r + x) * ((alpha + age).ln() - (alpha + age + t).ln());
        let bracket = if sign > 0.0 {
            -ln_term.exp_m1()
        } else {
            1.0 + ln_term.exp()
        };
        (a + b + x) / (a - 1.0) * bracket
    }

    /// E[X(t)] for a new customer: `b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))]`.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let MbgNbdParams { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let Ok((ln_f, sign)) = ln_hyp2f1(r, b + 1.0, a + b, t / (alpha + t)) else {
            return f64::NAN;
        };
        let ln_term = ln_f + r * (alpha.ln() - (alpha + t).ln());
        let bracket = if sign > 0.0 {
            -ln_term.exp_m1()
        } else {
            1.0 + ln_term.exp()
        };
        b / (a - 1.0) * bracket
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
        let p = t / (alpha + t);
        let first =
            (ln_beta(a, b + nf + 1.0) - lb + ln_gamma(r + nf) - ln_gamma(r) - ln_gamma(nf + 1.0)
                + r * (alpha / (alpha + t)).ln()
                + nf * p.ln())
            .exp();
        let tail = if n == 0 {
            1.0
        } else {
            checked_beta_reg(nf, r, p).unwrap_or(f64::NAN)
        };
        first + second * tail
    }
}

impl TransactionModel for MbgNbdParams {
    fn kind(&self) -> ModelKind {
        ModelKind::MbgNbd
    }
    fn p_alive(&self, row: &RfmRow) -> f64 {
        MbgNbdParams::p_alive(self, row)
    }
    fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
        MbgNbdParams::conditional_expected_purchases(self, t, row)
    }
    fn expected_purchases(&self, t: f64) -> f64 {
        MbgNbdParams::expected_purchases(self, t)
    }
    fn prob_purchases(&self, t: f64, n: u32) -> Option<f64> {
        Some(MbgNbdParams::prob_purchases(self, t, n))
    }
    fn age_factor(&self, t: f64, frequency: f64, age: f64) -> Option<f64> {
        Some(MbgNbdParams::age_factor(self, t, frequency, age))
    }
    fn history_factor(&self, row: &RfmRow) -> Option<f64> {
        Some(self.p_alive(row))
    }
}

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

impl<'a> MbgNbdProblem<'a> {
    /// The problem over `data` with L2 penalty coefficient `penalizer_coef`.
    pub fn new(data: &'a RfmData, penalizer_coef: f64) -> Self {
        MbgNbdProblem {
            data,
            penalizer: penalizer_coef,
            cache: EvalCache::default(),
        }
    }
}

impl Objective for MbgNbdProblem<'_> {
    fn dim(&self) -> usize {
        4
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (r, al, a, b) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
        let d = self.data;
        let (ln_al, ln_a) = (al.ln(), a.ln());
        let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
        let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
        // per distinct x: (A1 + A2 without r ln α... included), dr, da, db, ln(b+x), 1/(b+x)
        let xt: Vec<[f64; 6]> = d
            .x_values
            .iter()
            .map(|&x| {
                let psi_abx = digamma(a + b + x + 1.0);
                [
                    ln_gamma(r + x) - lg_r + r * ln_al + lg_ab + ln_gamma(b + x + 1.0)
                        - lg_b
                        - ln_gamma(a + b + x + 1.0),
                    digamma(r + x) - psi_r + ln_al,
                    psi_ab - psi_abx,
                    psi_ab + digamma(b + x + 1.0) - psi_b - psi_abx,
                    (b + x).ln(),
                    1.0 / (b + x),
                ]
            })
            .collect();
        let lt: Vec<(f64, f64)> = d
            .t_values
            .iter()
            .map(|&t| ((al + t).ln(), 1.0 / (al + t)))
            .collect();
        let ltx: Vec<(f64, f64)> = d
            .tx_values
            .iter()
            .map(|&t| ((al + t).ln(), 1.0 / (al + t)))
            .collect();
        let rows = d.rows();
        let w = d.weights();
        let s = sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; 5];
            for i in range {
                let x = rows[i].frequency;
                let xe = &xt[d.x_idx[i] as usize];
                let (l_t, i_t) = lt[d.t_idx[i] as usize];
                let (l_tx, i_tx) = ltx[d.tx_idx[i] as usize];
                let a4 = ln_a - xe[4] + (r + x) * (l_t - l_tx);
                let sg = sigmoid(a4);
                let ll = xe[0] - (r + x) * l_t + softplus(a4);
                let wi = w[i];
                acc[0] += wi * ll;
                acc[1] += wi * (xe[1] - l_t + sg * (l_t - l_tx));
                acc[2] += wi * (r / al - (r + x) * i_t + sg * (r + x) * (i_t - i_tx));
                acc[3] += wi * (xe[2] + sg / a);
                acc[4] += wi * (xe[3] - sg * xe[5]);
            }
            acc
        });
        let tw = d.total_weight();
        let theta = [r, al, a, b];
        let c = self.penalizer;
        let value = -s[0] / tw + c * theta.iter().map(|t| t * t).sum::<f64>();
        let grad = (0..4)
            .map(|k| -s[k + 1] * theta[k] / tw + 2.0 * c * theta[k] * theta[k])
            .collect();
        (value, grad)
    }
}

impl Cached for MbgNbdProblem<'_> {
    fn cache(&self) -> &EvalCache {
        &self.cache
    }
}

argmin_problem!(MbgNbdProblem);

/// Fit MBG/NBD by maximum likelihood (time rescaled internally as for BG/NBD).
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`].
pub fn fit(data: &RfmData, options: &FitOptions) -> Result<Fitted<MbgNbdParams>> {
    let (opts, prep) = prepare_fit(data, options, ModelKind::MbgNbd, &[1])?;
    let problem = MbgNbdProblem::new(&prep.scaled, opts.penalizer_coef);
    let opt = crate::fit::minimize(&problem, prep.x0.clone(), &opts, data.total_weight())?;
    finish_fit(data, &prep, opt, |p: &MbgNbdParams, d| p.log_likelihood(d))
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
