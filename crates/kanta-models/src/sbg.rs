//! Shifted-beta-geometric (sBG) model for contractual retention: Fader & Hardie
//! (2007), "How to Project Customer Retention", Journal of Interactive Marketing
//! 21(1), 76-90.
//!
//! Each customer renews at the end of every period with probability 1 - θ, and θ
//! varies across customers as Beta(α, β). Then
//! `P(T = t) = B(α+1, β+t-1) / B(α, β)`, the survivor function is
//! `S(t) = B(α, β+t) / B(α, β)`, and the retention rate from period t-1 to t is
//! `r_t = (β + t - 1) / (α + β + t - 1)`, rising with t as the customers most
//! likely to churn leave first.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, invalid_row};
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, Rescaled, fit_problem, log_likelihood_at,
    model_problem, params_record, penalized,
};
use crate::special::{digamma, ln_beta};

/// sBG parameters: churn probability θ ~ Beta(`alpha`, `beta`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SbgParams {
    /// First shape of the churn-probability beta.
    pub alpha: f64,
    /// Second shape of the churn-probability beta.
    pub beta: f64,
}

params_record!(SbgParams, ModelKind::Sbg, [alpha, beta]);

/// One period of a projection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SbgProjection {
    /// Period number t (1 = end of the first period).
    pub period: u32,
    /// Expected customers still active after period t: `n_0 S(t)`.
    pub survivors: f64,
    /// Survivor function `S(t)`.
    pub survival: f64,
    /// Retention rate `r_t = S(t) / S(t-1)`.
    pub retention_rate: f64,
    /// Share of the cohort lost in period t, `P(T = t)`.
    pub churn_probability: f64,
}

impl SbgParams {
    /// `S(t) = B(α, β+t) / B(α, β)`, the probability of surviving t periods.
    pub fn survival(&self, t: u32) -> f64 {
        (ln_beta(self.alpha, self.beta + f64::from(t)) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// `P(T = t) = B(α+1, β+t-1) / B(α, β)` for `t >= 1`, the probability of
    /// churning in period t; 0 for t = 0.
    pub fn churn_probability(&self, t: u32) -> f64 {
        if t == 0 {
            return 0.0;
        }
        (ln_beta(self.alpha + 1.0, self.beta + f64::from(t) - 1.0) - ln_beta(self.alpha, self.beta))
            .exp()
    }

    /// Retention rate `r_t = (β + t - 1) / (α + β + t - 1)` for `t >= 1`.
    pub fn retention_rate(&self, t: u32) -> f64 {
        let t = f64::from(t.max(1));
        (self.beta + t - 1.0) / (self.alpha + self.beta + t - 1.0)
    }

    /// Expected lifetime in periods, `E[T] = (α + β - 1) / (α - 1)` for α > 1
    /// (infinite otherwise).
    pub fn expected_lifetime(&self) -> f64 {
        if self.alpha <= 1.0 {
            f64::INFINITY
        } else {
            (self.alpha + self.beta - 1.0) / (self.alpha - 1.0)
        }
    }

    /// Project a cohort of `initial` customers over periods `1..=periods`.
    pub fn project(&self, initial: f64, periods: u32) -> Vec<SbgProjection> {
        (1..=periods)
            .map(|t| {
                let survival = self.survival(t);
                SbgProjection {
                    period: t,
                    survivors: initial * survival,
                    survival,
                    retention_rate: self.retention_rate(t),
                    churn_probability: self.churn_probability(t),
                }
            })
            .collect()
    }

    /// Log-likelihood of survivor data.
    pub fn log_likelihood(&self, data: &SurvivorData) -> f64 {
        log_likelihood_at(&SbgProblem::new(data, 0.0), self, data.total)
    }
}

/// Survivor counts of one or more cohorts: `alive[t]` customers active at the start
/// of period t (period 0 first, the cohort's initial size), non-increasing.
#[derive(Clone, Debug)]
pub struct SurvivorData {
    cohorts: Vec<Vec<f64>>,
    total: f64,
}

impl SurvivorData {
    /// One cohort's survivor series, e.g. `[1000, 631, 468, 382, ...]`.
    ///
    /// # Errors
    ///
    /// Fewer than two entries, a negative or non-finite count, an empty cohort, or
    /// an increase.
    pub fn from_survivors(alive: &[f64]) -> Result<Self> {
        Self::from_cohorts(&[alive.to_vec()])
    }

    /// Several cohorts, each observed for its own number of periods (older cohorts
    /// longer), fitted jointly.
    ///
    /// # Errors
    ///
    /// As [`SurvivorData::from_survivors`], with `row` naming the cohort.
    pub fn from_cohorts(cohorts: &[Vec<f64>]) -> Result<Self> {
        if cohorts.is_empty() {
            return Err(ModelError::Empty("no cohorts"));
        }
        for (c, alive) in cohorts.iter().enumerate() {
            if alive.len() < 2 {
                return Err(invalid_row(
                    c,
                    "alive",
                    "needs at least two periods (start and one renewal)",
                ));
            }
            if !(alive[0].is_finite() && alive[0] > 0.0) {
                return Err(invalid_row(
                    c,
                    "alive",
                    format!("initial size must be > 0, got {}", alive[0]),
                ));
            }
            for t in 1..alive.len() {
                if !alive[t].is_finite() || alive[t] < 0.0 {
                    return Err(invalid_row(
                        c,
                        "alive",
                        format!("period {t}: {} is not a count", alive[t]),
                    ));
                }
                if alive[t] > alive[t - 1] {
                    return Err(invalid_row(
                        c,
                        "alive",
                        format!(
                            "period {t}: {} is more than {} in period {}",
                            alive[t],
                            alive[t - 1],
                            t - 1
                        ),
                    ));
                }
            }
        }
        Ok(SurvivorData {
            total: cohorts.iter().map(|c| c[0]).sum(),
            cohorts: cohorts.to_vec(),
        })
    }

    /// Customers at the start, over all cohorts.
    pub fn total(&self) -> f64 {
        self.total
    }
}

/// The sBG fitting problem over `θ = (ln α, ln β)` (Fader & Hardie 2007, eq. 5):
///
/// ```text
/// f(θ) = -(1/N) Σ_cohorts [ Σ_{t=1}^{n} (S_{t-1} - S_t) ln P(T=t) + S_n ln S(n) ] + c (α² + β²),
/// ln P(T=t) = ln B(α+1, β+t-1) - ln B(α,β),     ln S(t) = ln B(α, β+t) - ln B(α,β),
/// ∂ ln P(T=t)/∂α = ψ(α+1) - ψ(α+β+t) - ψ(α) + ψ(α+β),
/// ∂ ln P(T=t)/∂β = ψ(β+t-1) - ψ(α+β+t) - ψ(β) + ψ(α+β),
/// ∂ ln S(t)/∂α = ψ(α+β) - ψ(α+β+t),
/// ∂ ln S(t)/∂β = ψ(β+t) - ψ(α+β+t) - ψ(β) + ψ(α+β),
/// ```
///
/// where `S_t` are the observed survivor counts and `N` the initial customers.
pub struct SbgProblem<'a> {
    data: &'a SurvivorData,
    penalizer: f64,
    cache: EvalCache,
}

model_problem!(SbgProblem, SurvivorData);

impl Objective for SbgProblem<'_> {
    fn dim(&self) -> usize {
        2
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (lp[0].exp(), lp[1].exp());
        let lb = ln_beta(a, b);
        let (ps_a, ps_b, ps_ab, ps_a1) = (digamma(a), digamma(b), digamma(a + b), digamma(a + 1.0));
        let (mut ll, mut ga, mut gb) = (0.0, 0.0, 0.0);
        for alive in &self.data.cohorts {
            let n = alive.len() - 1;
            for t in 1..=n {
                let lost = alive[t - 1] - alive[t];
                if lost > 0.0 {
                    let tf = t as f64;
                    let ps_abt = digamma(a + b + tf);
                    ll += lost * (ln_beta(a + 1.0, b + tf - 1.0) - lb);
                    ga += lost * (ps_a1 - ps_abt - ps_a + ps_ab);
                    gb += lost * (digamma(b + tf - 1.0) - ps_abt - ps_b + ps_ab);
                }
            }
            let still = alive[n];
            if still > 0.0 {
                let nf = n as f64;
                let ps_abn = digamma(a + b + nf);
                ll += still * (ln_beta(a, b + nf) - lb);
                ga += still * (ps_ab - ps_abn);
                gb += still * (digamma(b + nf) - ps_abn - ps_b + ps_ab);
            }
        }
        penalized(&[ll, ga, gb], &[a, b], self.data.total, self.penalizer)
    }
}

/// Fit the sBG model to survivor counts by maximum likelihood.
///
/// `n` in the result is the number of customers at the start (all cohorts).
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`] (e.g. nobody ever churned, where
/// the likelihood has no maximum).
pub fn fit(data: &SurvivorData, options: &FitOptions) -> Result<Fitted<SbgParams>> {
    let problem = |c| SbgProblem::new(data, c);
    let (n, rows) = (data.total, data.cohorts.len());
    let log_likelihood = |p: &SbgParams| p.log_likelihood(data);
    fit_problem(options, problem, Rescaled::NONE, n, rows, log_likelihood)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let d = SurvivorData::from_cohorts(&[
            vec![1000.0, 631.0, 468.0, 382.0],
            vec![500.0, 300.0, 250.0],
        ])
        .unwrap();
        let p = SbgProblem::new(&d, 0.0);
        let x = [-0.3, 0.4];
        let (_, g) = p.value_grad(&x);
        for k in 0..2 {
            let h = 1e-6;
            let mut xp = x;
            let mut xm = x;
            xp[k] += h;
            xm[k] -= h;
            let fd = (p.value_grad(&xp).0 - p.value_grad(&xm).0) / (2.0 * h);
            assert!((g[k] - fd).abs() < 1e-8, "{k}: {} vs {fd}", g[k]);
        }
    }

    #[test]
    fn survival_retention_and_churn_are_consistent() {
        let p = SbgParams::new(0.704, 1.182).unwrap();
        let mut s_prev = 1.0;
        for t in 1..20 {
            let s = p.survival(t);
            assert!((s / s_prev - p.retention_rate(t)).abs() < 1e-12);
            assert!((s_prev - s - p.churn_probability(t)).abs() < 1e-12);
            s_prev = s;
        }
    }

    #[test]
    fn increasing_survivors_are_rejected() {
        let err = SurvivorData::from_survivors(&[100.0, 90.0, 95.0]).unwrap_err();
        assert!(err.to_string().contains("period 2"), "{err}");
        assert!(SurvivorData::from_survivors(&[100.0]).is_err());
    }
}
