//! Pareto/NBD: Schmittlein, Morrison & Colombo (1987), "Counting Your Customers:
//! Who Are They and What Will They Do Next?", Management Science 33(1), 1-24, with
//! the likelihood as derived in Fader & Hardie (2005), "A Note on Deriving the
//! Pareto/NBD Model and Related Expressions" (brucehardie.com/notes/009), in the
//! form of lifetimes' `ParetoNBDFitter`.
//!
//! While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); her
//! lifetime is exponential with rate μ ~ Gamma(s, β).

use serde::{Deserialize, Serialize};

use crate::data::{RfmData, RfmRow, sum_chunks};
use crate::dual::{Dual, Real};
use crate::error::Result;
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, fit_problem_warm, log_likelihood_at,
    model_problem, params_record, penalized,
};
use crate::special::{digamma, ln_gamma, ln_hyp2f1_ap1};
use crate::transaction::{TimeScaled, transaction_model};

/// Pareto/NBD parameters: purchase rate λ ~ Gamma(shape `r`, rate `alpha`), dropout
/// rate μ ~ Gamma(shape `s`, rate `beta`); `alpha` and `beta` in the data's unit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdParams {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate of the purchase-rate gamma.
    pub alpha: f64,
    /// Shape of the dropout-rate gamma.
    pub s: f64,
    /// Rate of the dropout-rate gamma.
    pub beta: f64,
}

params_record!(ParetoNbdParams, ModelKind::ParetoNbd, [r, alpha, s, beta]);

fn log_add_exp<T: Real>(p: T, q: T) -> T {
    if p.val() >= q.val() {
        p + (q - p).exp().ln_1p()
    } else {
        q + (p - q).exp().ln_1p()
    }
}

/// `ln[ s/(r+s+x) A_0 ]`, the log of the "died between t_x and T" part of the
/// likelihood, where (Fader & Hardie 2005, eq. 19-22), with `m = max(α, β)`,
/// `A = r+s+x`, `B = s+1` if `α >= β` else `r+x`,
///
/// `A_0 = 2F1(A, B; A+1; |α-β|/(m+t_x)) / (m+t_x)^A - 2F1(A, B; A+1; |α-β|/(m+T)) / (m+T)^A`,
///
/// equivalently `A ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ`. Returns `None` when
/// `t_x = T` (the integral is empty). `ln_f1` carries the first 2F1 between rows
/// that share `(x, t_x)`.
#[allow(clippy::too_many_arguments)]
fn ln_dropout_term<T: Real>(
    r: T,
    al: T,
    s: T,
    be: T,
    x: f64,
    tx: f64,
    tt: f64,
    ln_f1: Option<T>,
    ln_f: &impl Fn(T, T, T) -> Result<T>,
) -> Result<(Option<T>, T)> {
    let (m, delta, b) = if al.val() >= be.val() {
        (al, al - be, s + 1.0)
    } else {
        (be, be - al, r + x)
    };
    let aa = r + s + x;
    let lf1 = match ln_f1 {
        Some(v) => v,
        None => ln_f(aa, b, delta / (m + tx))?,
    };
    if tx >= tt {
        return Ok((None, lf1));
    }
    let lf2 = ln_f(aa, b, delta / (m + tt))?;
    let u1 = lf1 - aa * (m + tx).ln();
    let u2 = lf2 - aa * (m + tt).ln();
    let d = u2 - u1;
    if d.val() >= 0.0 {
        // t_x and T so close that the difference is lost in rounding
        return Ok((None, lf1));
    }
    let ln_a0 = u1 + d.ln_one_minus_exp();
    Ok((Some(s.ln() - aa.ln() + ln_a0), lf1))
}

impl ParetoNbdParams {
    /// `(ln Γ(r+x) - ln Γ(r) + r ln α + s ln β, -(r+x) ln(α+T) - s ln(β+T), ln dropout term)`.
    fn parts(&self, row: &RfmRow) -> Result<(f64, f64, Option<f64>)> {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        let (x, tx, tt) = (row.frequency, row.recency, row.t);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let p = -(r + x) * (alpha + tt).ln() - s * (beta + tt).ln();
        let (q, _) = ln_dropout_term(r, alpha, s, beta, x, tx, tt, None, &ln_hyp2f1_ap1::<f64>)?;
        Ok((a1, p, q))
    }

    /// Log-likelihood of one customer (Fader & Hardie 2005, eq. 22):
    /// `ln L = A1 + ln(e^P + e^Q)` with `A1 = ln Γ(r+x) - ln Γ(r) + r ln α + s ln β`,
    /// `P = -(r+x) ln(α+T) - s ln(β+T)`, `Q = ln(s/(r+s+x) A_0)`. `NaN` if the
    /// hypergeometric function cannot be evaluated.
    pub fn row_log_likelihood(&self, row: &RfmRow) -> f64 {
        match self.parts(row) {
            Ok((a1, p, Some(q))) => a1 + crate::special::log_add_exp(p, q),
            Ok((a1, p, None)) => a1 + p,
            Err(_) => f64::NAN,
        }
    }

    /// Total log-likelihood of weighted data.
    pub fn log_likelihood(&self, data: &RfmData) -> f64 {
        log_likelihood_at(&ParetoNbdProblem::new(data, 0.0), self, data.total_weight())
    }

    /// P(alive | x, t_x, T) = `e^P / (e^P + e^Q)` = `1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A_0)`.
    pub fn p_alive(&self, row: &RfmRow) -> f64 {
        match self.parts(row) {
            Ok((_, p, Some(q))) => 1.0 / (1.0 + (q - p).exp()),
            Ok((_, _, None)) => 1.0,
            Err(_) => f64::NAN,
        }
    }

    /// Expected repeat purchases in the next `t` given the history (Schmittlein et
    /// al. 1987, eq. 22):
    /// `P(alive) (r+x)(β+T) / ((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)]`
    /// (the limit `ln((β+T+t)/(β+T))` at `s = 1`).
    pub fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
        self.p_alive(row) * self.age_factor(t, row.frequency, row.t)
    }

    /// The part of [`Self::conditional_expected_purchases`] that depends on the
    /// history only through `x` and `T`; the rest is P(alive).
    pub fn age_factor(&self, t: f64, x: f64, age: f64) -> f64 {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        let q = (beta + age) / (beta + age + t);
        (r + x) * (beta + age) / (alpha + age) * one_minus_pow_over(s - 1.0, q)
    }

    /// E[X(t)] for a new customer: `r β / (α (s-1)) [1 - (β/(β+t))^(s-1)]`.
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let ParetoNbdParams { r, alpha, s, beta } = *self;
        r * beta / alpha * one_minus_pow_over(s - 1.0, beta / (beta + t))
    }
}

/// `(1 - q^k) / k`, continuous at `k = 0` (where it is `-ln q`).
fn one_minus_pow_over(k: f64, q: f64) -> f64 {
    let l = q.ln();
    if (k * l).abs() < 1e-300 || k == 0.0 {
        return -l;
    }
    -(k * l).exp_m1() / k
}

// No closed-form P(X(t) = n) here, so `prob_purchases` stays `None`.
transaction_model!(ParetoNbdParams);

/// The Pareto/NBD fitting problem over `θ = (ln r, ln α, ln s, ln β)`:
///
/// ```text
/// f(θ) = -(1/W) Σ_i w_i ln L_i + c (r² + α² + s² + β²),
/// ln L_i = ln Γ(r+x) - ln Γ(r) + r ln α + s ln β + ln(e^P + e^Q),
/// P = -(r+x) ln(α+T) - s ln(β+T),
/// Q = ln s - ln(r+s+x) + ln A_0,
/// A_0 = 2F1(r+s+x, B; r+s+x+1; |α-β|/(m+t_x)) / (m+t_x)^(r+s+x)
///     - 2F1(r+s+x, B; r+s+x+1; |α-β|/(m+T)) / (m+T)^(r+s+x),
/// m = max(α, β),  B = s+1 if α >= β else r+x.
/// ```
///
/// The gradient is exact: each row is evaluated in forward-mode dual numbers
/// ([`Dual`]) through 2F1 (a power series in `z` with coefficients shared by all
/// rows with the same `x` for `z <= 1/2`, the continued fraction beyond), whose
/// parameter derivatives have no closed form. Rows are sorted by `(x, t_x)`, so
/// the first 2F1 is reused across rows that share them (all customers without
/// repeat purchases share one).
pub struct ParetoNbdProblem<'a> {
    data: &'a RfmData,
    penalizer: f64,
    cache: EvalCache,
}

model_problem!(ParetoNbdProblem, RfmData);

type D4 = Dual<4>;

/// Terms kept in the per-x power series of `2F1(1, β'; A+1; z)`; enough for
/// `z <= SERIES_MAX_Z` since the coefficients are at most 1.
const SERIES_TERMS: usize = 64;
/// Largest `z` evaluated by the series; above it the continued fraction is used.
const SERIES_MAX_Z: f64 = 0.5;

/// Coefficients `c_n = (β')_n / (A+1)_n` of `G(z) = 2F1(1, β'; A+1; z) = Σ c_n z^n`
/// and their derivatives in `r` and `s`, for one `x` (`A = r+s+x`, `β' = A+1-B`).
/// They do not depend on `z`, so every row with this `x` shares them, and a row
/// then costs a few multiply-adds per term instead of a continued fraction in dual
/// numbers.
struct Series {
    c: [f64; SERIES_TERMS],
    c_r: [f64; SERIES_TERMS],
    c_s: [f64; SERIES_TERMS],
    /// `1 / β' + 1`, a bound on the growth of `|d ln c_n|` per term, for the stop test.
    growth: f64,
}

impl Series {
    /// `alpha_ge_beta` selects `B = s+1` (so `β' = r+x`) or `B = r+x` (`β' = s+1`).
    fn new(r: f64, s: f64, x: f64, alpha_ge_beta: bool) -> Self {
        let a1 = r + s + x + 1.0;
        let bp = if alpha_ge_beta { r + x } else { s + 1.0 };
        let mut c = [0.0; SERIES_TERMS];
        let mut c_r = [0.0; SERIES_TERMS];
        let mut c_s = [0.0; SERIES_TERMS];
        let (mut v, mut dr, mut ds) = (1.0, 0.0, 0.0); // c_n, d ln c_n / dr, d ln c_n / ds
        for n in 0..SERIES_TERMS {
            c[n] = v;
            c_r[n] = v * dr;
            c_s[n] = v * ds;
            let nf = n as f64;
            v *= (bp + nf) / (a1 + nf);
            let inv_den = 1.0 / (a1 + nf);
            let inv_num = 1.0 / (bp + nf);
            if alpha_ge_beta {
                dr += inv_num - inv_den;
                ds -= inv_den;
            } else {
                dr -= inv_den;
                ds += inv_num - inv_den;
            }
        }
        Series {
            c,
            c_r,
            c_s,
            growth: 1.0 / bp + 1.0,
        }
    }

    /// `ln 2F1(A, B; A+1; z) = (1-B) ln(1-z) + ln G(z)` as a dual number over
    /// `(r, α, s, β)`, given `A`, `B` and `z` as dual numbers; `None` if `z` is
    /// beyond the series' range.
    fn ln_f(&self, b: D4, z: D4) -> Option<D4> {
        let zv = z.v;
        if zv > SERIES_MAX_Z {
            return None;
        }
        let (mut g, mut g_r, mut g_s, mut g_z) = (0.0, 0.0, 0.0, 0.0);
        let mut zn = 1.0; // z^n
        let mut zn1 = 0.0; // n z^(n-1)
        for n in 0..SERIES_TERMS {
            let t = self.c[n] * zn;
            g += t;
            g_r += self.c_r[n] * zn;
            g_s += self.c_s[n] * zn;
            g_z += self.c[n] * zn1;
            if t * (n as f64 + self.growth) < 1e-17 * g {
                break;
            }
            zn1 = (n as f64 + 1.0) * zn;
            zn *= zv;
        }
        let inv = 1.0 / g;
        let gz = g_z * inv;
        let ln_g = D4::new(
            g.ln(),
            [
                g_r * inv + gz * z.d[0],
                gz * z.d[1],
                g_s * inv + gz * z.d[2],
                gz * z.d[3],
            ],
        );
        Some((D4::cst(1.0) - b) * (-z).ln_1p() + ln_g)
    }
}

impl Objective for ParetoNbdProblem<'_> {
    fn dim(&self) -> usize {
        4
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (r, al, s, be) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
        let d = self.data;
        let (ln_al, ln_be) = (al.ln(), be.ln());
        let (lg_r, psi_r) = (ln_gamma(r), digamma(r));
        let xt: Vec<(f64, f64)> = d
            .x_values
            .iter()
            .map(|&x| (ln_gamma(r + x) - lg_r, digamma(r + x) - psi_r))
            .collect();
        let lt: Vec<[f64; 4]> = d
            .t_values
            .iter()
            .map(|&t| [(al + t).ln(), 1.0 / (al + t), (be + t).ln(), 1.0 / (be + t)])
            .collect();
        let (rd, ad, sd, bd) = (D4::var(r, 0), D4::var(al, 1), D4::var(s, 2), D4::var(be, 3));
        let series: Vec<Series> = d
            .x_values
            .iter()
            .map(|&x| Series::new(r, s, x, al >= be))
            .collect();
        let rows = d.rows();
        let w = d.weights();
        let s_ = sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; 5];
            let mut last: Option<(u32, f64, D4)> = None;
            for i in range {
                let row = rows[i];
                let x = row.frequency;
                let (lg, dg) = xt[d.x_idx[i] as usize];
                let a1 = D4::new(
                    lg + r * ln_al + s * ln_be,
                    [dg + ln_al, r / al, ln_be, s / be],
                );
                let [l_at, i_at, l_bt, i_bt] = lt[d.t_idx[i] as usize];
                let p = D4::new(
                    -(r + x) * l_at - s * l_bt,
                    [-l_at, -(r + x) * i_at, -l_bt, -s * i_bt],
                );
                let cached = match last {
                    Some((xi, tx, f1)) if xi == d.x_idx[i] && tx == row.recency => Some(f1),
                    _ => None,
                };
                let sx = &series[d.x_idx[i] as usize];
                let ln_f = |aa: D4, b: D4, z: D4| match sx.ln_f(b, z) {
                    Some(v) => Ok(v),
                    None => ln_hyp2f1_ap1(aa, b, z),
                };
                let (q, f1) =
                    match ln_dropout_term(rd, ad, sd, bd, x, row.recency, row.t, cached, &ln_f) {
                        Ok(v) => v,
                        Err(_) => return [f64::NAN; 5],
                    };
                last = Some((d.x_idx[i], row.recency, f1));
                let ll = match q {
                    Some(q) => a1 + log_add_exp(p, q),
                    None => a1 + p,
                };
                let wi = w[i];
                acc[0] += wi * ll.v;
                for k in 0..4 {
                    acc[k + 1] += wi * ll.d[k];
                }
            }
            acc
        });
        penalized(&s_, &[r, al, s, be], d.total_weight(), self.penalizer)
    }
}

/// Fit Pareto/NBD by maximum likelihood (time rescaled internally; `alpha` and
/// `beta` reported in the data's unit).
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`].
pub fn fit(data: &RfmData, options: &FitOptions) -> Result<Fitted<ParetoNbdParams>> {
    let time = TimeScaled::new(data);
    // As BG/NBD: only the default start is replaced by a warm one, from the data on
    // a coarse grid (a million distinct rows cost a few full passes, not dozens).
    let coarse = time.coarsened(options);
    let problem = |c| ParetoNbdProblem::new(&time.data, c);
    let stand_in = coarse
        .as_ref()
        .map(|d| move |c| ParetoNbdProblem::new(d, c));
    let (n, rows) = (data.total_weight(), data.len());
    let log_likelihood = |p: &ParetoNbdParams, _: Option<f64>| p.log_likelihood(data);
    let rates = time.rates(&[1, 3]); // alpha and beta
    fit_problem_warm(options, problem, stand_in, rates, n, rows, log_likelihood)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RfmData {
        let rows = [
            RfmRow::new(0.0, 0.0, 30.0),
            RfmRow::new(0.0, 0.0, 35.0),
            RfmRow::new(1.0, 5.0, 32.0),
            RfmRow::new(4.0, 20.0, 35.0),
            RfmRow::new(12.0, 33.0, 36.0),
            RfmRow::new(2.0, 36.0, 36.0),
        ];
        RfmData::from_weighted_rows(&rows, &[10.0, 4.0, 3.0, 2.0, 1.0, 1.0]).unwrap()
    }

    #[test]
    fn analytic_gradient_matches_finite_differences_on_both_branches() {
        let data = sample();
        let p = ParetoNbdProblem::new(&data, 0.0);
        // alpha > beta and alpha < beta
        for x in [[-0.6, 2.3, -0.5, 2.0], [-0.6, 1.2, -0.5, 2.9]] {
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
    }

    #[test]
    fn dropout_term_equals_the_integral() {
        // s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ by Simpson's rule
        let (r, al, s, be) = (0.55, 10.6, 0.61, 11.7);
        for &(x, tx, tt) in &[(0.0, 0.0, 30.0), (3.0, 10.0, 38.0), (1.0, 2.0, 3.0)] {
            let n = 20_000;
            let h = (tt - tx) / n as f64;
            let f = |tau: f64| s * (al + tau).powf(-(r + x)) * (be + tau).powf(-(s + 1.0));
            let mut sum = f(tx) + f(tt);
            for k in 1..n {
                sum += if k % 2 == 1 { 4.0 } else { 2.0 } * f(tx + k as f64 * h);
            }
            let integral = sum * h / 3.0;
            let (q, _) =
                ln_dropout_term(r, al, s, be, x, tx, tt, None, &ln_hyp2f1_ap1::<f64>).unwrap();
            let q = q.unwrap();
            assert!(
                (q.exp() / integral - 1.0).abs() < 1e-10,
                "{} vs {integral}",
                q.exp()
            );
            // and with alpha < beta
            let (q2, _) =
                ln_dropout_term(r, be, s, al, x, tx, tt, None, &ln_hyp2f1_ap1::<f64>).unwrap();
            let f2 = |tau: f64| s * (be + tau).powf(-(r + x)) * (al + tau).powf(-(s + 1.0));
            let mut sum2 = f2(tx) + f2(tt);
            for k in 1..n {
                sum2 += if k % 2 == 1 { 4.0 } else { 2.0 } * f2(tx + k as f64 * h);
            }
            assert!((q2.unwrap().exp() / (sum2 * h / 3.0) - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn series_agrees_with_the_continued_fraction() {
        for &(r, s, x, ge) in &[
            (0.55, 0.61, 0.0, true),
            (0.55, 0.61, 7.0, false),
            (0.05, 2.0, 1.0, true),
        ] {
            let series = Series::new(r, s, x, ge);
            for &zv in &[0.0, 0.01, 0.2, 0.45, 0.5] {
                // z as a function of (alpha, beta) with some derivative
                let z = D4::new(zv, [0.0, 0.3, 0.0, -0.2]);
                let (rd, sd) = (D4::var(r, 0), D4::var(s, 2));
                let aa = rd + sd + x;
                let b = if ge { sd + 1.0 } else { rd + x };
                let fast = series.ln_f(b, z).unwrap();
                let cf = ln_hyp2f1_ap1(aa, b, z).unwrap();
                assert!((fast.v - cf.v).abs() < 1e-14, "{} vs {}", fast.v, cf.v);
                for k in 0..4 {
                    assert!(
                        (fast.d[k] - cf.d[k]).abs() < 1e-13 * cf.d[k].abs().max(1.0),
                        "{k}: {} vs {}",
                        fast.d[k],
                        cf.d[k]
                    );
                }
            }
            assert!(series.ln_f(D4::cst(1.5), D4::cst(0.6)).is_none());
        }
    }

    #[test]
    fn expectations_are_continuous_at_s_equal_one() {
        let p0 = ParetoNbdParams::new(0.5, 10.0, 1.0, 12.0).unwrap();
        let p1 = ParetoNbdParams::new(0.5, 10.0, 1.0 + 1e-9, 12.0).unwrap();
        assert!((p0.expected_purchases(39.0) / p1.expected_purchases(39.0) - 1.0).abs() < 1e-8);
    }
}
