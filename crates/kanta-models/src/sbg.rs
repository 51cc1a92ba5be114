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

    /// The probability that a customer who has made `renewals` renewals makes the
    /// next one: `S(k+1) / S(k) = r_{k+1} = (β + k) / (α + β + k)` for `k = renewals`
    /// (Fader & Hardie 2007, eq. 8; 2010: "n − 1 renewals").
    pub fn renewal_probability(&self, renewals: u32) -> f64 {
        self.retention_rate(renewals.saturating_add(1))
    }

    /// The probability that a customer who has made `renewals` renewals makes the
    /// next `j`: `S(k+j) / S(k)`.
    pub fn survival_given(&self, renewals: u32, j: u32) -> f64 {
        let k = f64::from(renewals);
        (ln_beta(self.alpha, self.beta + k + f64::from(j)) - ln_beta(self.alpha, self.beta + k))
            .exp()
    }

    /// Discounted expected residual lifetime (Fader & Hardie 2010, "Customer-Base
    /// Valuation in a Contractual Setting", eq. 6) of a customer who has made
    /// `renewals` renewals and is about to decide on the next, with discount rate
    /// `d` per period: the expected number of further payments, the next one
    /// undiscounted,
    ///
    /// `DERL = Σ_{j≥1} S(k+j)/S(k) / (1+d)^{j-1}
    ///       = (β+k)/(α+β+k) · 2F1(1, β+k+1; α+β+k+1; 1/(1+d))`.
    ///
    /// Summed term by term until the tail is below 1e-12 of the sum; infinite when
    /// `d = 0` and `α <= 1` (the expected lifetime itself is).
    pub fn derl(&self, renewals: u32, d: f64) -> f64 {
        if d <= 0.0 && self.alpha <= 1.0 {
            return f64::INFINITY;
        }
        let k = f64::from(renewals);
        let q = 1.0 / (1.0 + d.max(0.0));
        let mut term = (self.beta + k) / (self.alpha + self.beta + k);
        let mut sum = 0.0;
        let mut j = 0.0;
        loop {
            sum += term;
            // The next term's ratio to this one: (β+k+j+1)/(α+β+k+j+1) q, rising to q.
            let ratio = (self.beta + k + j + 1.0) / (self.alpha + self.beta + k + j + 1.0) * q;
            let next = term * ratio;
            // Ratios rise towards q (or towards 1 with d = 0), so the tail is at most
            // next / (1 - q) (with d = 0: bounded by the expected lifetime's tail).
            let bound = if q < 1.0 {
                next / (1.0 - q)
            } else {
                next * (self.alpha + self.beta + k + j) / (self.alpha - 1.0)
            };
            if bound.is_nan() || bound <= 1e-12 * sum || j > 1e7 {
                return sum + next;
            }
            term = next;
            j += 1.0;
        }
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

/// Survivor data of the sBG model, held as its sufficient statistics: how many
/// customers churned in each period (`lost[t]`, `T = t`) and how many were still
/// active, right-censored, after `n` renewals (`censored[n]`). Cohorts' survivor
/// counts ([`SurvivorData::from_cohorts`]) and individual histories
/// ([`SurvivorData::from_histories`]) both reduce to it.
#[derive(Clone, Debug)]
pub struct SurvivorData {
    lost: Vec<f64>,
    censored: Vec<f64>,
    total: f64,
    rows: usize,
}

/// One customer's contract history at the end of the data: the renewals made, and
/// whether the customer then churned (did not make the next renewal, `T =
/// renewals + 1`) or is still active (right-censored: `T > renewals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Renewals made (0 = still in, or churned at the end of, the first period).
    pub renewals: u32,
    /// Churned after those renewals; `false` = still active.
    pub churned: bool,
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
        let mut data = SurvivorData {
            lost: Vec::new(),
            censored: Vec::new(),
            total: 0.0,
            rows: cohorts.len(),
        };
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
            let n = alive.len() - 1;
            for t in 1..=n {
                data.add(t, false, alive[t - 1] - alive[t]);
            }
            data.add(n, true, alive[n]);
            data.total += alive[0];
        }
        Ok(data)
    }

    /// Individual histories (each subscription's renewals, churned or still active
    /// at the end of the data), the likelihood with right-censoring.
    ///
    /// # Errors
    ///
    /// No histories, or none that ever churned (the likelihood then has no
    /// maximum: everyone may stay for ever).
    pub fn from_histories(histories: &[History]) -> Result<Self> {
        if histories.is_empty() {
            return Err(ModelError::Empty("no histories"));
        }
        let mut data = SurvivorData {
            lost: Vec::new(),
            censored: Vec::new(),
            total: histories.len() as f64,
            rows: histories.len(),
        };
        for h in histories {
            if h.churned {
                data.add(h.renewals as usize + 1, false, 1.0);
            } else {
                data.add(h.renewals as usize, true, 1.0);
            }
        }
        if data.lost.iter().all(|l| *l == 0.0) {
            return Err(invalid_row(
                0,
                "churned",
                "no history churned: the churn rate cannot be estimated",
            ));
        }
        Ok(data)
    }

    fn add(&mut self, t: usize, censored: bool, count: f64) {
        let v = if censored {
            &mut self.censored
        } else {
            &mut self.lost
        };
        if v.len() <= t {
            v.resize(t + 1, 0.0);
        }
        v[t] += count;
    }

    /// Customers at the start, over all cohorts.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Customers who churned in period `t` (`T = t`).
    pub fn lost(&self, t: usize) -> f64 {
        self.lost.get(t).copied().unwrap_or(0.0)
    }

    /// Customers still active after `n` renewals when the data end.
    pub fn censored(&self, n: usize) -> f64 {
        self.censored.get(n).copied().unwrap_or(0.0)
    }

    /// The Kaplan-Meier estimate of `S(t)` for `t = 0..=periods` from the same data:
    /// at the t-th renewal `n_t` at risk (churned there or later, or still active
    /// after t renewals or more) and `d_t` churned there, `S(t) = Π_{k<=t} (1 - d_k /
    /// n_k)`; flat where nobody is at risk.
    pub fn kaplan_meier(&self, periods: u32) -> Vec<f64> {
        let len = self.lost.len().max(self.censored.len());
        let mut out = vec![1.0];
        let mut s = 1.0;
        for t in 1..=periods as usize {
            // At risk at the t-th renewal: who churned there or later, and who was
            // still active after t renewals or more.
            let at_risk: f64 = (t..len).map(|k| self.lost(k) + self.censored(k)).sum();
            let d = self.lost(t);
            if at_risk > 0.0 {
                s *= 1.0 - d / at_risk;
            }
            out.push(s);
        }
        out
    }
}

/// The sBG fitting problem over `θ = (ln α, ln β)` (Fader & Hardie 2007, eq. 5):
///
/// ```text
/// f(θ) = -(1/N) [ Σ_t L_t ln P(T=t) + Σ_n C_n ln S(n) ] + c (α² + β²),
/// ln P(T=t) = ln B(α+1, β+t-1) - ln B(α,β),     ln S(t) = ln B(α, β+t) - ln B(α,β),
/// ∂ ln P(T=t)/∂α = ψ(α+1) - ψ(α+β+t) - ψ(α) + ψ(α+β),
/// ∂ ln P(T=t)/∂β = ψ(β+t-1) - ψ(α+β+t) - ψ(β) + ψ(α+β),
/// ∂ ln S(t)/∂α = ψ(α+β) - ψ(α+β+t),
/// ∂ ln S(t)/∂β = ψ(β+t) - ψ(α+β+t) - ψ(β) + ψ(α+β),
/// ```
///
/// where `L_t` are the customers lost in period t (for a cohort `S_{t-1} - S_t`),
/// `C_n` those still active after n renewals when the data end (a cohort's last
/// count; right-censored histories) and `N` the initial customers.
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
        for (t, &lost) in self.data.lost.iter().enumerate() {
            if lost > 0.0 {
                let tf = t as f64;
                let ps_abt = digamma(a + b + tf);
                ll += lost * (ln_beta(a + 1.0, b + tf - 1.0) - lb);
                ga += lost * (ps_a1 - ps_abt - ps_a + ps_ab);
                gb += lost * (digamma(b + tf - 1.0) - ps_abt - ps_b + ps_ab);
            }
        }
        for (n, &still) in self.data.censored.iter().enumerate() {
            if still > 0.0 && n > 0 {
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
    let (n, rows) = (data.total, data.rows);
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
