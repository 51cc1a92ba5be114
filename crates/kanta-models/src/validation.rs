//! Holdout validation: per-customer error metrics of predicted vs actual holdout
//! purchases, and the cumulative tracking series of Fader, Hardie & Lee (2005),
//! Figure 2 (expected vs actual cumulative repeat transactions of a cohort).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, invalid_param};
use crate::prec;
use crate::summary::{HoldoutSummary, TimeUnit, Transaction, daily_counts};
use crate::transaction::TransactionModel;

/// How well per-customer predictions match the holdout.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutMetrics {
    /// Customers compared.
    pub customers: usize,
    /// Sum of actual holdout purchases.
    pub actual_total: f64,
    /// Sum of predicted holdout purchases.
    pub predicted_total: f64,
    /// `(predicted_total - actual_total) / actual_total` (NaN if no actual purchases).
    pub total_relative_error: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
    /// Root mean squared error per customer.
    pub rmse: f64,
    /// Pearson correlation of predicted and actual (NaN if either is constant).
    pub correlation: f64,
}

/// Compare predictions with actual holdout purchases.
///
/// # Errors
///
/// Different lengths, no customers, or a non-finite value.
pub fn holdout_metrics(predicted: &[f64], actual: &[f64]) -> Result<HoldoutMetrics> {
    if predicted.len() != actual.len() {
        return Err(invalid_param(
            "actual",
            format!(
                "has {} values for {} predictions",
                actual.len(),
                predicted.len()
            ),
        ));
    }
    if predicted.is_empty() {
        return Err(ModelError::Empty("no customers to compare"));
    }
    if let Some(i) = predicted.iter().chain(actual).position(|v| !v.is_finite()) {
        return Err(invalid_param(
            "predicted/actual",
            format!("value {i} is not finite"),
        ));
    }
    let n = predicted.len() as f64;
    let (sp, sa): (f64, f64) = (predicted.iter().sum(), actual.iter().sum());
    let (mp, ma) = (sp / n, sa / n);
    let (mut abs, mut sq, mut cov, mut vp, mut va) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (p, a) in predicted.iter().zip(actual) {
        let e = p - a;
        abs += e.abs();
        sq += e * e;
        cov += (p - mp) * (a - ma);
        vp += (p - mp) * (p - mp);
        va += (a - ma) * (a - ma);
    }
    Ok(HoldoutMetrics {
        customers: predicted.len(),
        actual_total: sa,
        predicted_total: sp,
        total_relative_error: if sa == 0.0 { f64::NAN } else { (sp - sa) / sa },
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        correlation: if vp > 0.0 && va > 0.0 {
            cov / (vp * va).sqrt()
        } else {
            f64::NAN
        },
    })
}

/// Each customer's expected purchases over their holdout period, given the
/// calibration history (in parallel for large inputs).
pub fn predict_holdout(model: &dyn TransactionModel, rows: &[HoldoutSummary]) -> Vec<f64> {
    let f =
        |h: &HoldoutSummary| model.conditional_expected_purchases(h.duration_holdout, &h.rfm_row());
    if rows.len() > prec::PARALLEL_MIN_ROWS {
        rows.par_iter().map(f).collect()
    } else {
        rows.iter().map(f).collect()
    }
}

/// Expected and actual cumulative repeat purchases at the end of a period.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackingPoint {
    /// Period number (1 = end of the first period after the first transaction).
    pub period: u32,
    /// Day number of the period boundary (first day not counted).
    pub day: i32,
    /// Actual repeat purchase days before the period boundary, cumulative.
    pub actual: f64,
    /// Expected repeat purchases at the boundary, cumulative over customers.
    pub expected: f64,
}

/// The cumulative tracking series (FHL 2005, Figure 2) of the cohort in a
/// transaction log, computed as lifetimes' `expected_cumulative_transactions(model,
/// transactions, ..., t = periods * unit.days(), freq="D",
/// freq_multiplier=unit.days())`:
///
/// with `start` the first day in the log and boundary `b_j = start + round(j u)`
/// (u = days per unit), `expected_j = Σ_{customers with first day d < b_j}
/// E[X((b_j - d) / u)]` (the model's unconditional expectation) and `actual_j` =
/// repeat purchase days (same-day purchases once) on days before `b_j`. Sorts the
/// slice in place.
///
/// # Errors
///
/// No transactions; zero periods.
pub fn cumulative_tracking(
    tx: &mut [Transaction],
    unit: TimeUnit,
    periods: u32,
    model: &dyn TransactionModel,
) -> Result<Vec<TrackingPoint>> {
    if periods == 0 {
        return Err(invalid_param("periods", "must be at least 1"));
    }
    let u = unit.days();
    let horizon = (f64::from(periods) * u).round() as usize;
    let counts = daily_counts(tx, horizon)?;
    // E[X(k / u)] for every day offset k = 1..=horizon
    let expected_at: Vec<f64> = (0..=horizon)
        .into_par_iter()
        .map(|k| {
            if k == 0 {
                0.0
            } else {
                model.expected_purchases(k as f64 / u)
            }
        })
        .collect();
    let mut out = Vec::with_capacity(periods as usize);
    for j in 1..=periods {
        let b = (f64::from(j) * u).round() as usize;
        let expected: f64 = (0..b).map(|d| counts.first[d] * expected_at[b - d]).sum();
        let actual: f64 = counts.repeat[..b].iter().sum();
        out.push(TrackingPoint {
            period: j,
            day: counts.start + b as i32,
            actual,
            expected,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let m = holdout_metrics(&[1.0, 2.0, 3.0], &[1.0, 3.0, 5.0]).unwrap();
        assert_eq!(m.actual_total, 9.0);
        assert_eq!(m.predicted_total, 6.0);
        assert!((m.total_relative_error + 1.0 / 3.0).abs() < 1e-15);
        assert!((m.mae - 1.0).abs() < 1e-15);
        assert!((m.rmse - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert!((m.correlation - 1.0).abs() < 1e-15);
        assert!(holdout_metrics(&[1.0], &[1.0, 2.0]).is_err());
    }
}
