//! BG/BB: the beta-geometric/beta-Bernoulli model of Fader, Hardie & Shang (2010),
//! "Customer-Base Analysis in a Discrete-Time Noncontractual Setting", Marketing
//! Science 29(6), 1086-1108, in the form of lifetimes' `BetaGeoBetaBinomFitter`.
//!
//! At each discrete opportunity an alive customer transacts with probability
//! p ~ Beta(α, β), and before each opportunity after the first she dies with
//! probability θ ~ Beta(γ, δ).

use serde::{Deserialize, Serialize};

use crate::data::{DiscreteData, DiscreteRow, sum_chunks};
use crate::error::Result;
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, Rescaled, fit_problem, log_likelihood_at,
    model_problem, params_record, penalized,
};
// the tests build parameter records with `Params::from_slice`
#[cfg(test)]
use crate::fit::Params;
use crate::special::{digamma, ln_beta, ln_gamma};

/// BG/BB parameters: transaction probability p ~ Beta(`alpha`, `beta`), dropout
/// probability θ ~ Beta(`gamma`, `delta`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgBbParams {
    /// First shape of the transaction-probability beta.
    pub alpha: f64,
    /// Second shape of the transaction-probability beta.
    pub beta: f64,
    /// First shape of the dropout-probability beta.
    pub gamma: f64,
    /// Second shape of the dropout-probability beta.
    pub delta: f64,
}

params_record!(BgBbParams, ModelKind::BgBb, [alpha, beta, gamma, delta]);

fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

impl BgBbParams {
    /// Log-likelihood of one customer (FHS 2010, eq. 5):
    ///
    /// ```text
    /// L = B(α+x, β+n-x)/B(α,β) B(γ, δ+n)/B(γ,δ)
    ///     + Σ_{i=0}^{n-t_x-1} B(α+x, β+t_x-x+i)/B(α,β) B(γ+1, δ+t_x+i)/B(γ,δ)
    /// ```
    pub fn row_log_likelihood(&self, row: &DiscreteRow) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, tx, n) = (
            f64::from(row.frequency),
            f64::from(row.recency),
            f64::from(row.n_periods),
        );
        let base = -ln_beta(alpha, beta) - ln_beta(gamma, delta);
        let mut terms = vec![ln_beta(alpha + x, beta + n - x) + ln_beta(gamma, delta + n) + base];
        for i in 0..(row.n_periods - row.recency) {
            let i = f64::from(i);
            terms.push(
                ln_beta(alpha + x, beta + tx - x + i) + ln_beta(gamma + 1.0, delta + tx + i) + base,
            );
        }
        crate::special::log_sum_exp(&terms)
    }

    /// Total log-likelihood of weighted data.
    pub fn log_likelihood(&self, data: &DiscreteData) -> f64 {
        log_likelihood_at(&BgBbProblem::new(data, 0.0), self, data.total_weight())
    }

    /// P(alive at opportunity n + m | x, t_x, n) (FHS 2010, eq. 11; `m = 0` for
    /// alive now): `B(α+x, β+n-x)/B(α,β) B(γ, δ+n+m)/B(γ,δ) / L`.
    pub fn p_alive(&self, m: u32, row: &DiscreteRow) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, n, m) = (
            f64::from(row.frequency),
            f64::from(row.n_periods),
            f64::from(m),
        );
        (ln_beta(alpha + x, beta + n - x) - ln_beta(alpha, beta) + ln_beta(gamma, delta + n + m)
            - ln_beta(gamma, delta)
            - self.row_log_likelihood(row))
        .exp()
    }

    /// Expected transactions in the next `m` opportunities given the history (FHS
    /// 2010, eq. 13):
    ///
    /// ```text
    /// (1/L) B(α+x+1, β+n-x)/B(α,β) δ/(γ-1) Γ(γ+δ)/Γ(1+δ)
    ///     [Γ(1+δ+n)/Γ(γ+δ+n) - Γ(1+δ+n+m)/Γ(γ+δ+n+m)]
    /// ```
    ///
    /// (continuous at γ = 1, where the bracket over γ - 1 becomes a digamma difference).
    pub fn conditional_expected_purchases(&self, m: u32, row: &DiscreteRow) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, n, mf) = (
            f64::from(row.frequency),
            f64::from(row.n_periods),
            f64::from(m),
        );
        let pre = ln_beta(alpha + x + 1.0, beta + n - x)
            - ln_beta(alpha, beta)
            - self.row_log_likelihood(row)
            + delta.ln()
            + ln_gamma(gamma + delta)
            - ln_gamma(1.0 + delta);
        pre.exp() * bracket_over_gamma_minus_one(gamma, delta, n, mf)
    }

    /// P(X(n) = x) for a new customer over `n` opportunities (FHS 2010, eq. 7):
    ///
    /// ```text
    /// C(n,x) B(α+x, β+n-x)/B(α,β) B(γ, δ+n)/B(γ,δ)
    ///     + Σ_{i=x}^{n-1} C(i,x) B(α+x, β+i-x)/B(α,β) B(γ+1, δ+i)/B(γ,δ)
    /// ```
    pub fn prob_purchases(&self, n: u32, x: u32) -> f64 {
        if x > n {
            return 0.0;
        }
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (nf, xf) = (f64::from(n), f64::from(x));
        let base = -ln_beta(alpha, beta) - ln_beta(gamma, delta);
        let mut terms = vec![
            ln_choose(nf, xf)
                + ln_beta(alpha + xf, beta + nf - xf)
                + ln_beta(gamma, delta + nf)
                + base,
        ];
        for i in x..n {
            let i = f64::from(i);
            terms.push(
                ln_choose(i, xf)
                    + ln_beta(alpha + xf, beta + i - xf)
                    + ln_beta(gamma + 1.0, delta + i)
                    + base,
            );
        }
        crate::special::log_sum_exp(&terms).exp()
    }

    /// E[X(n)] for a new customer (FHS 2010, eq. 8):
    /// `α/(α+β) δ/(γ-1) [1 - Γ(γ+δ) Γ(1+δ+n) / (Γ(γ+δ+n) Γ(1+δ))]`.
    pub fn expected_purchases(&self, n: u32) -> f64 {
        let BgBbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let pre = alpha / (alpha + beta)
            * delta
            * (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp();
        pre * bracket_over_gamma_minus_one(gamma, delta, 0.0, f64::from(n))
    }
}

/// `[Γ(1+δ+n)/Γ(γ+δ+n) - Γ(1+δ+n+m)/Γ(γ+δ+n+m)] / (γ - 1)`, computed as
/// `e^v expm1(u - v) / (γ - 1)` and by its limit `ψ(1+δ+n+m) - ψ(1+δ+n)` (times
/// `e^v = 1`) as γ → 1.
fn bracket_over_gamma_minus_one(gamma: f64, delta: f64, n: f64, m: f64) -> f64 {
    if (gamma - 1.0).abs() < 1e-9 {
        return digamma(1.0 + delta + n + m) - digamma(1.0 + delta + n);
    }
    let u = ln_gamma(1.0 + delta + n) - ln_gamma(gamma + delta + n);
    let v = ln_gamma(1.0 + delta + n + m) - ln_gamma(gamma + delta + n + m);
    v.exp() * (u - v).exp_m1() / (gamma - 1.0)
}

/// The BG/BB fitting problem over `θ = (ln α, ln β, ln γ, ln δ)`:
///
/// ```text
/// f(θ) = -(1/W) Σ_i w_i ln L_i + c (α² + β² + γ² + δ²),
/// ln L_i = ln( e^{A} + Σ_{j=0}^{n-t_x-1} e^{B_j} ),
/// A   = ln B(α+x, β+n-x) - ln B(α,β) + ln B(γ, δ+n) - ln B(γ,δ),
/// B_j = ln B(α+x, β+t_x-x+j) - ln B(α,β) + ln B(γ+1, δ+t_x+j) - ln B(γ,δ).
/// ```
///
/// With `∂ ln B(p,q)/∂p = ψ(p) - ψ(p+q)`, the gradient is the softmax-weighted mean
/// of the terms' gradients, e.g. for `A`:
///
/// ```text
/// ∂A/∂α = ψ(α+x) - ψ(α+β+n) - ψ(α) + ψ(α+β),   ∂A/∂β = ψ(β+n-x) - ψ(α+β+n) - ψ(β) + ψ(α+β),
/// ∂A/∂γ = ψ(γ+δ) - ψ(γ+δ+n),                    ∂A/∂δ = ψ(δ+n) - ψ(γ+δ+n) - ψ(δ) + ψ(γ+δ).
/// ```
///
/// Log-gamma and digamma values are tabulated once per evaluation for the integer
/// offsets `0..=max n + 1`.
pub struct BgBbProblem<'a> {
    data: &'a DiscreteData,
    penalizer: f64,
    cache: EvalCache,
}

model_problem!(BgBbProblem, DiscreteData);

/// `ln Γ(v + j)` and `ψ(v + j)` for `j = 0..len`.
fn table(v: f64, len: usize) -> (Vec<f64>, Vec<f64>) {
    (0..len)
        .map(|j| (ln_gamma(v + j as f64), digamma(v + j as f64)))
        .unzip()
}

impl Objective for BgBbProblem<'_> {
    fn dim(&self) -> usize {
        4
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (al, be, ga, de) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
        let rows = self.data.rows();
        let w = self.data.weights();
        let len = rows.iter().map(|r| r.n_periods as usize).max().unwrap_or(0) + 2;
        let (lg_a, ps_a) = table(al, len);
        let (lg_b, ps_b) = table(be, len);
        let (lg_ab, ps_ab) = table(al + be, len);
        let (lg_d, ps_d) = table(de, len);
        let (lg_gd, ps_gd) = table(ga + de, len);
        let (lg_g, ps_g) = (ln_gamma(ga), digamma(ga));
        let (lg_g1, ps_g1) = (ln_gamma(ga + 1.0), digamma(ga + 1.0));
        // -ln B(α,β) - ln B(γ,δ) and its gradient
        let base = -(lg_a[0] + lg_b[0] - lg_ab[0]) - (lg_g + lg_d[0] - lg_gd[0]);
        let base_g = [
            -(ps_a[0] - ps_ab[0]),
            -(ps_b[0] - ps_ab[0]),
            -(ps_g - ps_gd[0]),
            -(ps_d[0] - ps_gd[0]),
        ];
        let s = sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; 5];
            let mut terms: Vec<(f64, [f64; 4])> = Vec::new();
            for i in range {
                let DiscreteRow {
                    frequency: x,
                    recency: tx,
                    n_periods: n,
                } = rows[i];
                let (x, tx, n) = (x as usize, tx as usize, n as usize);
                terms.clear();
                // A: ln B(α+x, β+n-x) + ln B(γ, δ+n)
                terms.push((
                    lg_a[x] + lg_b[n - x] - lg_ab[n] + lg_g + lg_d[n] - lg_gd[n],
                    [
                        ps_a[x] - ps_ab[n],
                        ps_b[n - x] - ps_ab[n],
                        ps_g - ps_gd[n],
                        ps_d[n] - ps_gd[n],
                    ],
                ));
                // B_j: ln B(α+x, β+k-x) + ln B(γ+1, δ+k), k = t_x + j
                for k in tx..n {
                    terms.push((
                        lg_a[x] + lg_b[k - x] - lg_ab[k] + lg_g1 + lg_d[k] - lg_gd[k + 1],
                        [
                            ps_a[x] - ps_ab[k],
                            ps_b[k - x] - ps_ab[k],
                            ps_g1 - ps_gd[k + 1],
                            ps_d[k] - ps_gd[k + 1],
                        ],
                    ));
                }
                let m = terms.iter().fold(f64::NEG_INFINITY, |m, t| m.max(t.0));
                let mut sum = 0.0;
                let mut g = [0.0; 4];
                for (v, dv) in &terms {
                    let e = (v - m).exp();
                    sum += e;
                    for k in 0..4 {
                        g[k] += e * dv[k];
                    }
                }
                let wi = w[i];
                acc[0] += wi * (m + sum.ln() + base);
                for k in 0..4 {
                    acc[k + 1] += wi * (g[k] / sum + base_g[k]);
                }
            }
            acc
        });
        let tw = self.data.total_weight();
        penalized(&s, &[al, be, ga, de], tw, self.penalizer)
    }
}

/// Fit BG/BB by maximum likelihood.
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`].
pub fn fit(data: &DiscreteData, options: &FitOptions) -> Result<Fitted<BgBbParams>> {
    let problem = |c| BgBbProblem::new(data, c);
    let (n, rows) = (data.total_weight(), data.rows().len());
    let log_likelihood = |p: &BgBbParams| p.log_likelihood(data);
    fit_problem(options, problem, Rescaled::NONE, n, rows, log_likelihood)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences_and_rows_agree() {
        let rows = [
            DiscreteRow::new(0, 0, 6),
            DiscreteRow::new(1, 1, 6),
            DiscreteRow::new(2, 5, 6),
            DiscreteRow::new(6, 6, 6),
            DiscreteRow::new(1, 2, 4),
        ];
        let data = DiscreteData::from_weighted_rows(&rows, &[100.0, 20.0, 10.0, 5.0, 7.0]).unwrap();
        let p = BgBbProblem::new(&data, 0.01);
        let x = [0.2, -0.3, -0.4, 1.0];
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
        let params = BgBbParams::from_slice(&x.map(f64::exp));
        let total: f64 = rows
            .iter()
            .zip(data_weights())
            .map(|(r, w)| w * params.row_log_likelihood(r))
            .sum();
        assert!((total - params.log_likelihood(&data)).abs() < 1e-9);
    }

    fn data_weights() -> [f64; 5] {
        [100.0, 20.0, 10.0, 5.0, 7.0]
    }

    #[test]
    fn purchase_distribution_is_a_distribution_with_the_right_mean() {
        let p = BgBbParams::new(1.204, 0.750, 0.657, 2.783).unwrap();
        for n in [1, 6, 20] {
            let probs: Vec<f64> = (0..=n).map(|x| p.prob_purchases(n, x)).collect();
            let total: f64 = probs.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "n={n}: {total}");
            let mean: f64 = probs.iter().enumerate().map(|(x, q)| x as f64 * q).sum();
            assert!((mean - p.expected_purchases(n)).abs() < 1e-10, "n={n}");
        }
        let p1 = BgBbParams::new(1.204, 0.750, 1.0, 2.783).unwrap();
        let p2 = BgBbParams::new(1.204, 0.750, 1.0 + 1e-7, 2.783).unwrap();
        assert!((p1.expected_purchases(6) / p2.expected_purchases(6) - 1.0).abs() < 1e-6);
    }
}
