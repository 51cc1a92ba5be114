//! Cohort retention matrices.
//!
//! Customers are grouped into cohorts by the period of their first purchase (or
//! subscription start); the matrix counts, for each cohort and each age (periods
//! since acquisition), how many of its customers were active.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, invalid_param, invalid_row};

/// One cohort's row of the matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    /// Acquisition period index.
    pub cohort: u32,
    /// Customers acquired (active in their acquisition period).
    pub size: u64,
    /// `active[k]`: customers of the cohort active in period `cohort + k`, for
    /// every observed age `k = 0..=last_period - cohort`.
    pub active: Vec<u64>,
    /// `retention[k] = active[k] / size`.
    pub retention: Vec<f64>,
}

/// A cohort-by-age retention matrix (a triangle: younger cohorts have fewer ages).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortMatrix {
    /// Last observed period index.
    pub last_period: u32,
    /// Cohorts in ascending order (only cohorts with at least one customer).
    pub cohorts: Vec<CohortRow>,
}

impl CohortMatrix {
    /// Active counts per cohort as survivor series for the sBG model
    /// ([`crate::sbg::SurvivorData::from_cohorts`]); meaningful in a contractual
    /// setting, where a customer once inactive never comes back.
    pub fn survivor_series(&self) -> Vec<Vec<f64>> {
        self.cohorts
            .iter()
            .map(|c| c.active.iter().map(|&a| a as f64).collect())
            .collect()
    }

    /// Mean retention at each age over the cohorts observed at that age, weighted
    /// by cohort size (so it is "share of all acquired customers still active").
    pub fn average_retention(&self) -> Vec<f64> {
        let max_age = self
            .cohorts
            .iter()
            .map(|c| c.active.len())
            .max()
            .unwrap_or(0);
        (0..max_age)
            .map(|k| {
                let (act, size) = self
                    .cohorts
                    .iter()
                    .filter(|c| k < c.active.len())
                    .fold((0u64, 0u64), |(a, s), c| (a + c.active[k], s + c.size));
                if size == 0 {
                    0.0
                } else {
                    act as f64 / size as f64
                }
            })
            .collect()
    }
}

/// Build the matrix from `(cohort, period)` pairs, one per customer and period in
/// which that customer was active (deduplicate first, e.g. `SELECT DISTINCT`). A
/// cohort's size is its number of pairs with `period == cohort`.
///
/// # Errors
///
/// A pair with `period < cohort` or `period > last_period`; no pairs.
pub fn cohort_matrix(pairs: &[(u32, u32)], last_period: u32) -> Result<CohortMatrix> {
    if pairs.is_empty() {
        return Err(ModelError::Empty("no activity"));
    }
    let first = pairs.iter().map(|p| p.0).min().unwrap_or(0);
    if first > last_period {
        return Err(invalid_param(
            "last_period",
            format!("{last_period} is before the first cohort {first}"),
        ));
    }
    let n = (last_period - first + 1) as usize;
    let mut counts = vec![vec![0u64; 0]; n];
    for (c, row) in counts.iter_mut().enumerate() {
        row.resize(n - c, 0);
    }
    for (i, &(cohort, period)) in pairs.iter().enumerate() {
        if period < cohort {
            return Err(invalid_row(
                i,
                "period",
                format!("{period} is before the cohort period {cohort}"),
            ));
        }
        if period > last_period {
            return Err(invalid_row(
                i,
                "period",
                format!("{period} is after the last period {last_period}"),
            ));
        }
        counts[(cohort - first) as usize][(period - cohort) as usize] += 1;
    }
    let cohorts = counts
        .into_iter()
        .enumerate()
        .filter(|(_, active)| active[0] > 0)
        .map(|(c, active)| {
            let size = active[0];
            CohortRow {
                cohort: first + c as u32,
                size,
                retention: active.iter().map(|&a| a as f64 / size as f64).collect(),
                active,
            }
        })
        .collect();
    Ok(CohortMatrix {
        last_period,
        cohorts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        // cohort 0: 3 customers, 2 active at age 1, 1 at age 2; cohort 1: 2 customers, 1 at age 1
        let pairs = [
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 1),
            (0, 1),
            (0, 2),
            (1, 1),
            (1, 1),
            (1, 2),
        ];
        let m = cohort_matrix(&pairs, 2).unwrap();
        assert_eq!(m.cohorts.len(), 2);
        assert_eq!(m.cohorts[0].active, vec![3, 2, 1]);
        assert_eq!(m.cohorts[1].active, vec![2, 1]);
        assert!((m.cohorts[0].retention[1] - 2.0 / 3.0).abs() < 1e-15);
        let avg = m.average_retention();
        assert!((avg[1] - 3.0 / 5.0).abs() < 1e-15);
        assert!((avg[2] - 1.0 / 3.0).abs() < 1e-15);
        assert!(cohort_matrix(&[(2, 1)], 3).is_err());
        assert!(cohort_matrix(&[(0, 4)], 3).is_err());
    }
}
