//! Gamma-Gamma spend model: Fader, Hardie & Lee (2005b), "RFM and CLV: Using
//! Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research
//! 42(4), and the note "The Gamma-Gamma Model of Monetary Value"
//! (brucehardie.com/notes/025), in the form of lifetimes' `GammaGammaFitter`.
//!
//! A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across
//! customers; lifetimes calls γ `v`.

use serde::{Deserialize, Serialize};

use crate::data::{SpendData, SpendRow, sum_chunks};
use crate::error::Result;
use crate::fit::{
    EvalCache, FitOptions, Fitted, ModelKind, Objective, Rescaled, fit_problem, model_problem,
    params_record, penalized,
};
use crate::special::{digamma, ln_gamma};

/// Gamma-Gamma parameters `p`, `q`, `gamma` (lifetimes: p, q, v); `gamma` is in
/// money units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction spend gamma.
    pub p: f64,
    /// Shape of the gamma over the customers' rate ν.
    pub q: f64,
    /// Rate of the gamma over ν (money units).
    pub gamma: f64,
}

params_record!(GammaGammaParams, ModelKind::GammaGamma, [p, q, gamma]);

impl GammaGammaParams {
    /// Log-likelihood of one customer's mean spend `m` over `x` transactions:
    ///
    /// `ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(xm+γ)`.
    pub fn row_log_likelihood(&self, row: &SpendRow) -> f64 {
        let GammaGammaParams { p, q, gamma } = *self;
        let (x, m) = (row.frequency, row.monetary_value);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * gamma.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (x * m + gamma).ln()
    }

    /// Total log-likelihood of weighted data.
    pub fn log_likelihood(&self, data: &SpendData) -> f64 {
        data.rows()
            .iter()
            .zip(data.weights())
            .map(|(r, w)| w * self.row_log_likelihood(r))
            .sum()
    }

    /// Expected mean transaction value of a customer with `frequency` repeat
    /// purchases of mean value `monetary_value` (FHL 2005b, eq. 5):
    /// `p (γ + x m) / (p x + q - 1)`, a weighted average of the population mean
    /// `p γ / (q - 1)` and the customer's own mean. A customer without repeat
    /// purchases (`x = 0`) gets the population mean. Defined for `q > 1`.
    pub fn expected_average_spend(&self, frequency: f64, monetary_value: f64) -> f64 {
        let GammaGammaParams { p, q, gamma } = *self;
        let m = if frequency > 0.0 { monetary_value } else { 0.0 };
        p * (gamma + frequency * m) / (p * frequency + q - 1.0)
    }

    /// Population mean transaction value `p γ / (q - 1)` (infinite for `q <= 1`).
    pub fn population_mean_spend(&self) -> f64 {
        if self.q <= 1.0 {
            return f64::INFINITY;
        }
        self.p * self.gamma / (self.q - 1.0)
    }
}

/// The Gamma-Gamma fitting problem over `θ = (ln p, ln q, ln γ)`:
///
/// ```text
/// f(θ) = -(1/W) Σ_i w_i ln L_i + c (p² + q² + γ²),
/// ln L_i = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(xm+γ),
/// ∂ ln L/∂p = x [ψ(px+q) - ψ(px) + ln m + ln x - ln(xm+γ)],
/// ∂ ln L/∂q = ψ(px+q) - ψ(q) + ln γ - ln(xm+γ),
/// ∂ ln L/∂γ = q/γ - (px+q)/(xm+γ).
/// ```
pub struct GammaGammaProblem<'a> {
    data: &'a SpendData,
    penalizer: f64,
    /// Money is divided by this before fitting (the mean spend), so γ starts near 1.
    money_scale: f64,
    cache: EvalCache,
}

model_problem!(GammaGammaProblem);

impl<'a> GammaGammaProblem<'a> {
    /// The problem over `data` with L2 penalty coefficient `penalizer_coef`.
    pub fn new(data: &'a SpendData, penalizer_coef: f64) -> Self {
        GammaGammaProblem {
            data,
            penalizer: penalizer_coef,
            money_scale: 1.0,
            cache: EvalCache::default(),
        }
    }
}

impl Objective for GammaGammaProblem<'_> {
    fn dim(&self) -> usize {
        3
    }

    fn value_grad(&self, lp: &[f64]) -> (f64, Vec<f64>) {
        let (p, q, g) = (lp[0].exp(), lp[1].exp(), lp[2].exp());
        let (lg_q, ps_q, ln_g) = (ln_gamma(q), digamma(q), g.ln());
        let rows = self.data.rows();
        let w = self.data.weights();
        let sc = self.money_scale;
        let s = sum_chunks(rows.len(), |range| {
            let mut acc = [0.0; 4];
            // The rows are sorted by frequency: the terms that depend on x alone
            // (two ln Γ, two ψ, ln x) are computed once per run of equal x.
            let mut last_x = f64::NAN;
            let (mut lg_x, mut ps_pxq, mut ps_px, mut ln_x) = (0.0, 0.0, 0.0, 0.0);
            for i in range {
                let x = rows[i].frequency;
                let px = p * x;
                if x != last_x {
                    last_x = x;
                    lg_x = ln_gamma(px + q) - ln_gamma(px);
                    ps_pxq = digamma(px + q);
                    ps_px = digamma(px);
                    ln_x = x.ln();
                }
                let m = rows[i].monetary_value / sc;
                let (ln_m, ln_xmg) = (m.ln(), (x * m + g).ln());
                let ll = lg_x - lg_q + q * ln_g + (px - 1.0) * ln_m + px * ln_x - (px + q) * ln_xmg;
                let wi = w[i];
                acc[0] += wi * ll;
                acc[1] += wi * x * (ps_pxq - ps_px + ln_m + ln_x - ln_xmg);
                acc[2] += wi * (ps_pxq - ps_q + ln_g - ln_xmg);
                acc[3] += wi * (q / g - (px + q) / (x * m + g));
            }
            acc
        });
        let tw = self.data.total_weight();
        penalized(&s, &[p, q, g], tw, self.penalizer)
    }
}

/// Fit the Gamma-Gamma model by maximum likelihood on repeat customers.
///
/// Money is rescaled internally by the mean spend (so the fit does not depend on
/// the currency unit) and `gamma` is reported in the data's unit. The penalty, if
/// any, applies to the rescaled parameters.
///
/// # Errors
///
/// Invalid options; [`crate::ModelError::FitFailed`].
pub fn fit(data: &SpendData, options: &FitOptions) -> Result<Fitted<GammaGammaParams>> {
    let mean = data
        .rows()
        .iter()
        .zip(data.weights())
        .map(|(r, w)| r.monetary_value * w)
        .sum::<f64>()
        / data.total_weight();
    let scale = if mean.is_finite() && mean > 0.0 {
        mean
    } else {
        1.0
    };
    let problem = |c| GammaGammaProblem {
        money_scale: scale,
        ..GammaGammaProblem::new(data, c)
    };
    // gamma, the rate of the gamma over ν, is in money units
    let money = Rescaled {
        indices: &[2],
        scale,
    };
    let (n, rows) = (data.total_weight(), data.rows().len());
    let log_likelihood = |p: &GammaGammaParams| p.log_likelihood(data);
    fit_problem(options, problem, money, n, rows, log_likelihood)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = [
            SpendRow::new(1.0, 20.0),
            SpendRow::new(3.0, 35.5),
            SpendRow::new(10.0, 12.0),
        ];
        let data = SpendData::from_rows(&rows).unwrap();
        let p = GammaGammaProblem::new(&data, 0.01);
        let x = [1.5, 1.2, 2.5];
        let (_, g) = p.value_grad(&x);
        for k in 0..3 {
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
    fn spend_expectation_shrinks_towards_the_population_mean() {
        let p = GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
        let pop = p.population_mean_spend();
        assert!((p.expected_average_spend(0.0, 0.0) - pop).abs() < 1e-12);
        let e1 = p.expected_average_spend(1.0, 100.0);
        let e10 = p.expected_average_spend(10.0, 100.0);
        assert!(pop < e1 && e1 < e10 && e10 < 100.0);
    }
}
