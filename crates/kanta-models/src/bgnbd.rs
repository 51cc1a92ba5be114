//! BG/NBD: the beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005),
//! "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model",
//! Marketing Science 24(2), 275-284.
//!
//! While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after
//! each repeat purchase she drops out with probability p ~ Beta(a, b).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use statrs::function::beta::checked_beta_reg;

use crate::data::{RfmData, RfmRow, sum_chunks};
use crate::error::Result;
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, fit_problem_warm, log_likelihood_at,
    model_problem, params_record, penalized,
};
use crate::special::{digamma, ln_beta, ln_gamma, ln_hyp2f1};
use crate::transaction::{TimeScaled, transaction_model};

/// BG/NBD parameters: purchase rate λ ~ Gamma(shape `r`, rate `alpha`), dropout
/// probability p ~ Beta(`a`, `b`). `alpha` is in the data's time unit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate gamma, in the data's time unit.
    pub alpha: f64,
    /// First shape of the dropout beta.
    pub a: f64,
    /// Second shape of the dropout beta.
    pub b: f64,
}

params_record!(BgNbdParams, ModelKind::BgNbd, [r, alpha, a, b]);

impl BgNbdParams {
    /// Log-likelihood of one customer (FHL 2005, eq. 6):
    ///
    /// ```text
    /// ln L = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x) - ln B(a, b)
    ///     + ln[ (α+T)^-(r+x) + [x>0] a/(b+x-1) (α+t_x)^-(r+x) ]
    /// ```
    pub fn row_log_likelihood(&self, row: &RfmRow) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        let (x, tx, t) = (row.frequency, row.recency, row.t);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_beta(a, b + x) - ln_beta(a, b);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
            a1 + a2 + crate::special::log_add_exp(a3, a4)
        } else {
            a1 + a2 + a3
        }
    }

    /// Total log-likelihood of weighted data.
    pub fn log_likelihood(&self, data: &RfmData) -> f64 {
        log_likelihood_at(&BgNbdProblem::new(data, 0.0), self, data.total_weight())
    }

    /// P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, "Computing P(alive) using the
    /// BG/NBD model"): 1 for x = 0, else
    /// `1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x))`.
    pub fn p_alive(&self, row: &RfmRow) -> f64 {
        if row.frequency == 0.0 {
            return 1.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let x = row.frequency;
        let ln_odds = a.ln() - (b + x - 1.0).ln()
            + (r + x) * ((alpha + row.t).ln() - (alpha + row.recency).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    /// E[X(T, T+t) | x, t_x, T], the expected repeat purchases in the next `t`
    /// (FHL 2005, eq. 10):
    ///
    /// ```text
    /// (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
    ///     / (1 + [x>0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))
    /// ```
    ///
    /// `NaN` where the formula is undefined (a = 1, or a + b + x - 1 a non-positive integer).
    pub fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
        self.age_factor(t, row.frequency, row.t) * self.history_factor(row)
    }

    /// The part of [`Self::conditional_expected_purchases`] that depends on the
    /// history only through `x` and `T`:
    /// `(a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]`.
    pub fn age_factor(&self, t: f64, x: f64, age: f64) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let bracket = one_minus_hyp2f1_term(r + x, b + x, a + b + x - 1.0, alpha + age, t);
        (a + b + x - 1.0) / (a - 1.0) * bracket
    }

    /// The rest: `1 / (1 + [x>0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))` (equal to P(alive)).
    pub fn history_factor(&self, row: &RfmRow) -> f64 {
        self.p_alive(row)
    }

    /// E[X(t)] for a randomly chosen new customer (FHL 2005, eq. 9):
    /// `(a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]`.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        (a + b - 1.0) / (a - 1.0) * one_minus_hyp2f1_term(r, b, a + b - 1.0, alpha, t)
    }

    /// P(X(t) = n) for a randomly chosen new customer (FHL 2005, eq. 8):
    ///
    /// ```text
    /// B(a, b+n)/B(a, b) Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n
    ///     + [n>0] B(a+1, b+n-1)/B(a, b) [1 - (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j]
    /// ```
    ///
    /// where the bracket, a negative-binomial tail, is computed as the regularised
    /// incomplete beta `I_{t/(α+t)}(n, r)` to avoid cancellation.
    pub fn prob_purchases(&self, t: f64, n: u32) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        let nf = f64::from(n);
        if t == 0.0 {
            return if n == 0 { 1.0 } else { 0.0 };
        }
        let lb = ln_beta(a, b);
        let first = scaled_nbd_pmf(ln_beta(a, b + nf) - lb, r, alpha, t, nf);
        if n == 0 {
            return first;
        }
        first + (ln_beta(a + 1.0, b + nf - 1.0) - lb).exp() * nbd_tail(r, alpha, t, nf)
    }
}

transaction_model!(BgNbdParams, prob_purchases);

// What BG/NBD and MBG/NBD share. MBG/NBD is BG/NBD with one more chance to drop
// out, at time zero, which turns `b + x` into `b + x + 1` in the beta part.

/// `1 - (u/(u+t))^k 2F1(k, b; c; t/(u+t))` with `u = α + T`, the bracket of the
/// BG/NBD and MBG/NBD expectations, computed as `-expm1` of its log so that it stays
/// accurate when the product is close to 1. `NaN` where 2F1 is undefined.
pub(crate) fn one_minus_hyp2f1_term(k: f64, b: f64, c: f64, u: f64, t: f64) -> f64 {
    let Ok((ln_f, sign)) = ln_hyp2f1(k, b, c, t / (u + t)) else {
        return f64::NAN;
    };
    let ln_term = ln_f + k * (u.ln() - (u + t).ln());
    if sign > 0.0 {
        -ln_term.exp_m1()
    } else {
        1.0 + ln_term.exp()
    }
}

/// `e^{ln_c} Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n`: `e^{ln_c}` times the
/// negative-binomial probability of `n` purchases by `t` while alive.
pub(crate) fn scaled_nbd_pmf(ln_c: f64, r: f64, alpha: f64, t: f64, n: f64) -> f64 {
    (ln_c + ln_gamma(r + n) - ln_gamma(r) - ln_gamma(n + 1.0)
        + r * (alpha / (alpha + t)).ln()
        + n * (t / (alpha + t)).ln())
    .exp()
}

/// The negative-binomial tail `1 - (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j`,
/// computed as the regularised incomplete beta `I_{t/(α+t)}(n, r)` to avoid
/// cancellation (`n >= 1`).
pub(crate) fn nbd_tail(r: f64, alpha: f64, t: f64, n: f64) -> f64 {
    checked_beta_reg(n, r, t / (alpha + t)).unwrap_or(f64::NAN)
}

/// The terms of a row's log-likelihood and gradient that depend on it only through
/// `x` (see [`BgNbdTables`]).
pub(crate) struct XTerms {
    pub a12: f64,
    pub d_r: f64,
    pub d_a: f64,
    pub d_b: f64,
    /// `ln` of the dropout odds' denominator (0 where there is none).
    pub ln_den: f64,
    /// Its reciprocal (0 where there is none).
    pub inv_den: f64,
}

/// What the BG/NBD and MBG/NBD objectives tabulate once per evaluation at
/// `(r, α, a, b) = e^θ`, with `k = 0` (BG/NBD) or `k = 1` (MBG/NBD). Per
/// distinct `x`:
///
/// ```text
/// a12 = ln Γ(r+x) - ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x+k) - ln Γ(b) - ln Γ(a+b+x+k)
/// d_r = ψ(r+x) - ψ(r) + ln α                  (∂a12/∂r)
/// d_a = ψ(a+b) - ψ(a+b+x+k)                   (∂a12/∂a)
/// d_b = ψ(a+b) + ψ(b+x+k) - ψ(b) - ψ(a+b+x+k) (∂a12/∂b)
/// ```
///
/// and the log and reciprocal of the dropout odds' denominator `den(b, x)`; per
/// distinct `T` and `t_x`: `(ln(α+t), 1/(α+t))`, where that saves work (a column
/// whose values are nearly all distinct, as in continuous time, is not tabulated:
/// each row computes its own, with the same bits).
pub(crate) struct BgNbdTables {
    /// `(r, α, a, b)`.
    pub theta: [f64; 4],
    pub x: Vec<XTerms>,
    pub t: Option<Vec<(f64, f64)>>,
    pub tx: Option<Vec<(f64, f64)>>,
}

/// Whether a table of `values` distinct values pays for itself on `rows` rows:
/// each entry costs a logarithm and a division, as a row computing its own does,
/// and a look-up in a large table misses the cache.
fn tabulate(values: usize, rows: usize) -> bool {
    values.saturating_mul(4) <= rows
}

impl BgNbdTables {
    pub(crate) fn new(
        d: &RfmData,
        lp: &[f64],
        k: f64,
        den: impl Fn(f64, f64) -> Option<f64>,
    ) -> Self {
        let (r, al, a, b) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
        let ln_al = al.ln();
        let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
        let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
        let x = d
            .x_values
            .iter()
            .map(|&x| {
                let psi_abx = digamma(a + b + x + k);
                let (ln_den, inv_den) = den(b, x).map_or((0.0, 0.0), |v| (v.ln(), 1.0 / v));
                XTerms {
                    a12: ln_gamma(r + x) - lg_r + r * ln_al + lg_ab + ln_gamma(b + x + k)
                        - lg_b
                        - ln_gamma(a + b + x + k),
                    d_r: digamma(r + x) - psi_r + ln_al,
                    d_a: psi_ab - psi_abx,
                    d_b: psi_ab + digamma(b + x + k) - psi_b - psi_abx,
                    ln_den,
                    inv_den,
                }
            })
            .collect();
        let table = |values: &[f64]| {
            tabulate(values.len(), d.len())
                .then(|| values.iter().map(|&t| ln_and_inverse(al, t)).collect())
        };
        BgNbdTables {
            theta: [r, al, a, b],
            x,
            t: table(&d.t_values),
            tx: table(&d.tx_values),
        }
    }

    /// `(ln(α+T), 1/(α+T))` and `(ln(α+t_x), 1/(α+t_x))` of row `i` of `d`.
    #[inline]
    fn time_terms(&self, d: &RfmData, i: usize) -> ((f64, f64), (f64, f64)) {
        let al = self.theta[1];
        let row = &d.rows()[i];
        let t = match &self.t {
            Some(t) => t[d.t_idx[i] as usize],
            None => ln_and_inverse(al, row.t),
        };
        let tx = match &self.tx {
            Some(tx) => tx[d.tx_idx[i] as usize],
            // Every row with x = 0 has t_x = 0: one logarithm per evaluation.
            None if row.recency == 0.0 => self.tx_zero(),
            None => ln_and_inverse(al, row.recency),
        };
        (t, tx)
    }

    /// `(ln(α+0), 1/(α+0))`, bit for bit as a row computes it.
    #[inline]
    fn tx_zero(&self) -> (f64, f64) {
        ln_and_inverse(self.theta[1], 0.0)
    }

    /// `Σ_i w_i [ln L_i, ∂ln L_i/∂r, ∂ln L_i/∂α, ∂ln L_i/∂a, ∂ln L_i/∂b]` over the
    /// rows of `d` (the data the tables were built from), where
    /// `row(x, x terms, (ln(α+T), 1/(α+T)), (ln(α+t_x), 1/(α+t_x)))` gives one
    /// row's log-likelihood and gradient.
    pub(crate) fn weighted_sums(
        &self,
        d: &RfmData,
        row: impl Fn(f64, &XTerms, (f64, f64), (f64, f64)) -> [f64; 5] + Sync,
    ) -> [f64; 5] {
        let rows = d.rows();
        let w = d.weights();
        sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; 5];
            for i in range {
                let (t, tx) = self.time_terms(d, i);
                let terms = row(rows[i].frequency, &self.x[d.x_idx[i] as usize], t, tx);
                let wi = w[i];
                for (a, v) in acc.iter_mut().zip(terms) {
                    *a += wi * v;
                }
            }
            acc
        })
    }
}

/// `(ln(α+t), 1/(α+t))`.
#[inline]
fn ln_and_inverse(al: f64, t: f64) -> (f64, f64) {
    ((al + t).ln(), 1.0 / (al + t))
}

/// The BG/NBD fitting problem: the mean negative log-likelihood over weighted rows
/// `(x_i, t_i, T_i, w_i)` as a function of `θ = (ln r, ln α, ln a, ln b)`:
///
/// ```text
/// f(θ) = -(1/W) Σ_i w_i ln L_i + c (r² + α² + a² + b²),   W = Σ_i w_i,
/// ln L_i = ln Γ(r+x) - ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x) - ln Γ(b) - ln Γ(a+b+x)
///     + ln( e^{A3} + [x>0] e^{A4} ),
/// A3 = -(r+x) ln(α+T),    A4 = ln a - ln(b+x-1) - (r+x) ln(α+t_x).
/// ```
///
/// With `w3, w4` the shares of `e^{A3}, e^{A4}` in the last sum, the gradient is
///
/// ```text
/// ∂ ln L/∂r = ψ(r+x) - ψ(r) + ln α - w3 ln(α+T) - w4 ln(α+t_x)
/// ∂ ln L/∂α = r/α - (r+x) (w3/(α+T) + w4/(α+t_x))
/// ∂ ln L/∂a = ψ(a+b) - ψ(a+b+x) + w4/a
/// ∂ ln L/∂b = ψ(a+b) + ψ(b+x) - ψ(b) - ψ(a+b+x) - w4/(b+x-1)
/// ```
///
/// and `∂f/∂ln θ_k = θ_k ∂f/∂θ_k`. Log-gamma and digamma terms are computed once
/// per distinct `x`, logarithms once per distinct `T` and `t_x` (where few).
///
/// The Hessian is analytic too ([`Objective::value_grad_hess`]). The terms that
/// depend on `x` only are summed once per distinct `x` with the weight of its
/// rows, their second derivatives as finite sums (x is a whole number):
///
/// ```text
/// ∂²/∂r² = ψ'(r+x) - ψ'(r) = -Σ_{j<x} 1/(r+j)²,  ∂²/∂r∂α = 1/α,  ∂²/∂α² = -r/α²,
/// ∂²/∂a² = ∂²/∂a∂b = ψ'(a+b) - ψ'(a+b+x) = Σ_{j<x} 1/(a+b+j)²,
/// ∂²/∂b² = Σ_{j<x} 1/(a+b+j)² - Σ_{j<x} 1/(b+j)²;
/// ```
///
/// and the last term `ln(e^{A3} + e^{A4})` of each row has the Hessian
/// `w3 ∇²A3 + w4 ∇²A4 + w3 w4 D Dᵀ`, `D = ∇A4 - ∇A3`, with
///
/// ```text
/// ∇A3 = (-ln(α+T), -(r+x)/(α+T), 0, 0),
/// ∇A4 = (-ln(α+t_x), -(r+x)/(α+t_x), 1/a, -1/(b+x-1)),
/// ∇²A3: ∂r∂α = -1/(α+T),   ∂α² = (r+x)/(α+T)²,
/// ∇²A4: ∂r∂α = -1/(α+t_x), ∂α² = (r+x)/(α+t_x)², ∂a² = -1/a², ∂b² = 1/(b+x-1)²
/// ```
///
/// (rows with `x = 0` have `w4 = 0`), and on log parameters
/// `∂²/∂ln θ_k ∂ln θ_l = θ_k θ_l ∂²/∂θ_k∂θ_l + [k=l] θ_k ∂/∂θ_k`. One pass over
/// the rows then gives what a Newton step needs.
pub struct BgNbdProblem<'a> {
    data: &'a RfmData,
    penalizer: f64,
    cache: EvalCache,
    /// Total weight of the rows with each distinct `x`, computed when first needed.
    x_weights: OnceLock<Vec<f64>>,
}

model_problem!(BgNbdProblem);

impl<'a> BgNbdProblem<'a> {
    /// The problem over `data` with L2 penalty coefficient `penalizer_coef`.
    pub fn new(data: &'a RfmData, penalizer_coef: f64) -> Self {
        BgNbdProblem {
            data,
            penalizer: penalizer_coef,
            cache: EvalCache::default(),
            x_weights: OnceLock::new(),
        }
    }

    fn x_weights(&self) -> &[f64] {
        self.x_weights.get_or_init(|| {
            let d = self.data;
            let mut w = vec![0.0; d.x_values.len()];
            for (i, wi) in d.x_idx.iter().zip(d.weights()) {
                w[*i as usize] += wi;
            }
            w
        })
    }

    /// Value, gradient and Hessian of the objective on log parameters.
    fn value_grad_hess_at(&self, lp: &[f64]) -> (f64, Vec<f64>, Vec<Vec<f64>>) {
        let d = self.data;
        let tab = BgNbdTables::new(d, lp, 0.0, |b, x| (x > 0.0).then_some(b + x - 1.0));
        let [r, al, a, b] = tab.theta;
        let ln_a = a.ln();
        let rows = d.rows();
        let w = d.weights();
        // The row sums, natural parameters (see the accumulators' names below).
        let s = sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; ROW_SUMS];
            for i in range {
                let x = rows[i].frequency;
                let ((l_t, i_t), (l_tx, i_tx)) = tab.time_terms(d, i);
                let wi = w[i];
                if x > 0.0 {
                    let xe = &tab.x[d.x_idx[i] as usize];
                    let q = xe.inv_den;
                    let sx = r + x;
                    let a3 = -sx * l_t;
                    let a4 = ln_a - xe.ln_den - sx * l_tx;
                    let e = (-(a4 - a3).abs()).exp();
                    let big = 1.0 / (1.0 + e);
                    let small = e * big;
                    let (w3, w4) = if a4 > a3 { (small, big) } else { (big, small) };
                    let v = wi * big * small;
                    let (d0, d1) = (l_t - l_tx, sx * (i_t - i_tx));
                    let (ww3, ww4) = (wi * w3, wi * w4);
                    acc[LSE] += wi * (a3.max(a4) + e.ln_1p());
                    acc[M0] += ww3 * l_t + ww4 * l_tx;
                    let m1 = ww3 * i_t + ww4 * i_tx;
                    acc[M1] += m1;
                    acc[SM1] += sx * m1;
                    acc[SM2] += sx * (ww3 * i_t * i_t + ww4 * i_tx * i_tx);
                    acc[W4] += ww4;
                    acc[W4Q] += ww4 * q;
                    acc[W4QQ] += ww4 * q * q;
                    acc[V] += v;
                    acc[VQ] += v * q;
                    acc[VQQ] += v * q * q;
                    acc[VD0] += v * d0;
                    acc[VD0Q] += v * d0 * q;
                    acc[VD1] += v * d1;
                    acc[VD1Q] += v * d1 * q;
                    acc[VD0D0] += v * d0 * d0;
                    acc[VD0D1] += v * d0 * d1;
                    acc[VD1D1] += v * d1 * d1;
                } else {
                    acc[LSE] -= wi * r * l_t;
                    acc[M0] += wi * l_t;
                    acc[M1] += wi * i_t;
                    acc[SM1] += wi * r * i_t;
                    acc[SM2] += wi * r * i_t * i_t;
                }
            }
            acc
        });
        // The terms of x alone, once per distinct x.
        let xw = self.x_weights();
        let total = d.total_weight();
        let (mut val, mut g_r, mut g_a, mut g_b) = (0.0, 0.0, 0.0, 0.0);
        let (mut h_rr, mut h_aa, mut h_bb) = (0.0, 0.0, 0.0);
        // Running Σ_{j<x} 1/(r+j)², 1/(a+b+j)², 1/(b+j)² over the sorted x.
        let (mut sr, mut sab, mut sb, mut j) = (0.0, 0.0, 0.0, 0.0);
        for ((&x, xe), &wx) in d.x_values.iter().zip(&tab.x).zip(xw) {
            while j < x {
                sr += 1.0 / ((r + j) * (r + j));
                sab += 1.0 / ((a + b + j) * (a + b + j));
                sb += 1.0 / ((b + j) * (b + j));
                j += 1.0;
            }
            val += wx * xe.a12;
            g_r += wx * xe.d_r;
            g_a += wx * xe.d_a;
            g_b += wx * xe.d_b;
            h_rr -= wx * sr;
            h_aa += wx * sab;
            h_bb += wx * (sab - sb);
        }
        let grad = [
            g_r - s[M0],
            total * r / al - s[SM1],
            g_a + s[W4] / a,
            g_b - s[W4Q],
        ];
        let mut h = [[0.0; 4]; 4];
        h[0][0] = h_rr + s[VD0D0];
        h[0][1] = total / al - s[M1] + s[VD0D1];
        h[0][2] = s[VD0] / a;
        h[0][3] = -s[VD0Q];
        h[1][1] = -total * r / (al * al) + s[SM2] + s[VD1D1];
        h[1][2] = s[VD1] / a;
        h[1][3] = -s[VD1Q];
        h[2][2] = h_aa + (s[V] - s[W4]) / (a * a);
        h[2][3] = h_aa - s[VQ] / a;
        h[3][3] = h_bb + s[W4QQ] + s[VQQ];
        let sums = [val + s[LSE], grad[0], grad[1], grad[2], grad[3]];
        let (value, grad_lp) = penalized(&sums, &tab.theta, total, self.penalizer);
        let theta = tab.theta;
        let c = self.penalizer;
        let hess = (0..4)
            .map(|k| {
                (0..4)
                    .map(|l| {
                        let hkl = if k <= l { h[k][l] } else { h[l][k] };
                        let mut v = -theta[k] * theta[l] * hkl / total;
                        if k == l {
                            v += -theta[k] * grad[k] / total + 4.0 * c * theta[k] * theta[k];
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        (value, grad_lp, hess)
    }
}

// The accumulators of the per-row sums in [`BgNbdProblem::value_grad_hess_at`], each
// weighted: ln(e^A3 + e^A4); m0 = w3 ln(α+T) + w4 ln(α+t_x); m1 = w3/(α+T) + w4/(α+t_x),
// and (r+x) times it; (r+x) (w3/(α+T)² + w4/(α+t_x)²); w4, w4 q, w4 q²
// (q = 1/(b+x-1)); v = w3 w4 and v times q, q², D0, D0 q, D1, D1 q, D0², D0 D1, D1²
// (D0 = ln(α+T) - ln(α+t_x), D1 = (r+x) (1/(α+T) - 1/(α+t_x))).
const LSE: usize = 0;
const M0: usize = 1;
const M1: usize = 2;
const SM1: usize = 3;
const SM2: usize = 4;
const W4: usize = 5;
const W4Q: usize = 6;
const W4QQ: usize = 7;
const V: usize = 8;
const VQ: usize = 9;
const VQQ: usize = 10;
const VD0: usize = 11;
const VD0Q: usize = 12;
const VD1: usize = 13;
const VD1Q: usize = 14;
const VD0D0: usize = 15;
const VD0D1: usize = 16;
const VD1D1: usize = 17;
const ROW_SUMS: usize = 18;

/// Above this many repeat purchases the analytic Hessian's finite sums would take
/// longer than the rows: [`Objective::value_grad_hess`] declines.
const MAX_X_FOR_HESSIAN: f64 = 100_000.0;

impl Objective for BgNbdProblem<'_> {
    fn dim(&self) -> usize {
        4
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let d = self.data;
        // k = 0; the dropout odds a/(b+x-1) exist for x > 0 only
        let tab = BgNbdTables::new(d, lp, 0.0, |b, x| (x > 0.0).then_some(b + x - 1.0));
        let [r, al, a, _] = tab.theta;
        let ln_a = a.ln();
        let s = tab.weighted_sums(d, |x, xe, (l_t, i_t), (l_tx, i_tx)| {
            let a3 = -(r + x) * l_t;
            if x > 0.0 {
                let a4 = ln_a - xe.ln_den - (r + x) * l_tx;
                // ln(e^a3 + e^a4) and the shares with one exp and one log
                let e = (-(a4 - a3).abs()).exp();
                let (big, small) = (1.0 / (1.0 + e), e / (1.0 + e));
                let (w3, w4) = if a4 > a3 { (small, big) } else { (big, small) };
                [
                    xe.a12 + a3.max(a4) + e.ln_1p(),
                    xe.d_r - w3 * l_t - w4 * l_tx,
                    r / al - (r + x) * (w3 * i_t + w4 * i_tx),
                    xe.d_a + w4 / a,
                    xe.d_b - w4 * xe.inv_den,
                ]
            } else {
                [xe.a12 + a3, xe.d_r - l_t, r / al - r * i_t, xe.d_a, xe.d_b]
            }
        });
        penalized(&s, &tab.theta, d.total_weight(), self.penalizer)
    }

    fn value_grad_hess(&self, lp: &[f64]) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        // The x terms' second derivatives are sums of up to max x terms.
        let max_x = self.data.x_values.last().copied().unwrap_or(0.0);
        (max_x <= MAX_X_FOR_HESSIAN).then(|| self.value_grad_hess_at(lp))
    }
}

/// Fit BG/NBD by maximum likelihood.
///
/// Time is rescaled internally to `T / max T` (as lifetimes does) and `alpha` is
/// reported in the data's unit. Above [`crate::prec::WARM_START_MIN_ROWS`] distinct
/// rows (and without initial values) the fit starts from the optimum of the data
/// on a grid of 1/100 of the largest T and takes Newton steps with the analytic
/// Hessian on the full data from there: on a million distinct rows two passes over
/// them, where L-BFGS from scratch would take dozens.
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`] if no finite optimum is found.
pub fn fit(data: &RfmData, options: &FitOptions) -> Result<Fitted<BgNbdParams>> {
    let time = TimeScaled::new(data);
    // Only the default start is replaced by a warm one.
    let coarse = time.coarsened(options);
    let problem = |c| BgNbdProblem::new(&time.data, c);
    let stand_in = coarse.as_ref().map(|d| move |c| BgNbdProblem::new(d, c));
    let (n, rows) = (data.total_weight(), data.len());
    // In internal time each customer's log-likelihood is higher by x ln(scale)
    // (a density in time per repeat purchase): undo that for the data's unit.
    let log_likelihood = |p: &BgNbdParams, mean_nll: Option<f64>| match mean_nll {
        Some(m) => {
            let purchases: f64 = data
                .rows()
                .iter()
                .zip(data.weights())
                .map(|(r, w)| w * r.frequency)
                .sum();
            -m * n - time.scale.ln() * purchases
        }
        None => p.log_likelihood(data),
    };
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
        let p = BgNbdProblem::new(&data, 0.1);
        let x = [-1.2, 1.3, -0.3, 0.8];
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
    }

    #[test]
    fn analytic_hessian_matches_the_gradient() {
        let rows = [
            RfmRow::new(0.0, 0.0, 30.0),
            RfmRow::new(0.0, 0.0, 12.5),
            RfmRow::new(1.0, 5.0, 32.0),
            RfmRow::new(1.0, 31.0, 32.0),
            RfmRow::new(4.0, 20.0, 35.0),
            RfmRow::new(12.0, 33.0, 36.0),
        ];
        let data = RfmData::from_weighted_rows(&rows, &[10.0, 4.0, 3.0, 2.0, 2.0, 1.0]).unwrap();
        let p = BgNbdProblem::new(&data, 0.1);
        for x in [[-1.2, 1.3, -0.3, 0.8], [0.5, -0.4, 1.1, -0.9]] {
            let (v, g) = p.value_grad(&x);
            let (vh, gh, h) = p.value_grad_hess(&x).unwrap();
            assert!((v - vh).abs() < 1e-13 * v.abs(), "{v} vs {vh}");
            for k in 0..4 {
                assert!((g[k] - gh[k]).abs() < 1e-13, "{} vs {}", g[k], gh[k]);
            }
            for k in 0..4 {
                let step = 1e-6;
                let (mut xp, mut xm) = (x, x);
                xp[k] += step;
                xm[k] -= step;
                let (gp, gm) = (p.value_grad(&xp).1, p.value_grad(&xm).1);
                for l in 0..4 {
                    let fd = (gp[l] - gm[l]) / (2.0 * step);
                    assert!(
                        (h[l][k] - fd).abs() < 1e-7 * fd.abs().max(1.0),
                        "H[{l}][{k}]: {} vs {fd}",
                        h[l][k]
                    );
                }
            }
        }
    }

    #[test]
    fn row_likelihood_agrees_with_the_problem() {
        let rows = [RfmRow::new(0.0, 0.0, 30.0), RfmRow::new(3.0, 12.5, 30.0)];
        let data = RfmData::from_rows(&rows).unwrap();
        let params = BgNbdParams::new(0.24, 4.4, 0.79, 2.43).unwrap();
        let total: f64 = rows.iter().map(|r| params.row_log_likelihood(r)).sum();
        assert!((total - params.log_likelihood(&data)).abs() < 1e-10);
    }

    #[test]
    fn purchase_probabilities_sum_to_one() {
        let p = BgNbdParams::new(0.24, 4.4, 0.79, 2.43).unwrap();
        let total: f64 = (0..400).map(|n| p.prob_purchases(20.0, n)).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let mean: f64 = (0..400)
            .map(|n| f64::from(n) * p.prob_purchases(20.0, n))
            .sum();
        assert!((mean - p.expected_purchases(20.0)).abs() < 1e-8);
    }
}
