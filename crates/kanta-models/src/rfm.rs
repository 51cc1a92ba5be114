//! RFM scores: recency, frequency and monetary quintile scores 1-5.
//!
//! Each score is `1 + floor(5 k / n)`, where `k` is the number of customers who are
//! strictly worse on that dimension and `n` the number of customers: the best fifth
//! gets 5 and the worst fifth 1. Ties get the same score (the one of their lowest
//! rank), so a large group of equal values (e.g. one-time buyers) is never split
//! arbitrarily. Recency here is the *time since the last purchase* (`T - recency`
//! in lifetimes' terms): more recent is better.

use serde::{Deserialize, Serialize};

use crate::data::RfmRow;
use crate::error::{Result, invalid_row};

/// One customer's RFM inputs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfmInput {
    /// Time since the last purchase (smaller is better).
    pub since_last: f64,
    /// Number of purchases (larger is better).
    pub frequency: f64,
    /// Spend (larger is better).
    pub monetary: f64,
}

impl RfmInput {
    /// From a lifetimes-style summary row: `since_last = T - recency`.
    pub fn from_summary(row: &RfmRow, monetary: f64) -> Self {
        RfmInput {
            since_last: row.t - row.recency,
            frequency: row.frequency,
            monetary,
        }
    }
}

/// Quintile scores, 5 best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    /// Recency score.
    pub recency: u8,
    /// Frequency score.
    pub frequency: u8,
    /// Monetary score.
    pub monetary: u8,
}

impl RfmScore {
    /// The usual three-digit code, e.g. 545.
    pub fn code(&self) -> u16 {
        100 * u16::from(self.recency) + 10 * u16::from(self.frequency) + u16::from(self.monetary)
    }
}

fn scores(values: &[f64]) -> Vec<u8> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    values
        .iter()
        .map(|v| {
            let worse = sorted.partition_point(|s| s < v);
            (1 + (5 * worse) / n).min(5) as u8
        })
        .collect()
}

/// Score every customer.
///
/// # Errors
///
/// A non-finite input, naming the row and field.
pub fn rfm_scores(rows: &[RfmInput]) -> Result<Vec<RfmScore>> {
    for (i, r) in rows.iter().enumerate() {
        for (name, v) in [
            ("since_last", r.since_last),
            ("frequency", r.frequency),
            ("monetary", r.monetary),
        ] {
            if !v.is_finite() {
                return Err(invalid_row(
                    i,
                    name,
                    format!("must be a finite number, got {v}"),
                ));
            }
        }
    }
    let rec = scores(&rows.iter().map(|r| -r.since_last).collect::<Vec<_>>());
    let freq = scores(&rows.iter().map(|r| r.frequency).collect::<Vec<_>>());
    let mon = scores(&rows.iter().map(|r| r.monetary).collect::<Vec<_>>());
    Ok((0..rows.len())
        .map(|i| RfmScore {
            recency: rec[i],
            frequency: freq[i],
            monetary: mon[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_of_distinct_values() {
        let rows: Vec<RfmInput> = (0..10)
            .map(|i| RfmInput {
                since_last: i as f64,
                frequency: i as f64,
                monetary: 100.0 - i as f64,
            })
            .collect();
        let s = rfm_scores(&rows).unwrap();
        let f: Vec<u8> = s.iter().map(|s| s.frequency).collect();
        assert_eq!(f, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        let r: Vec<u8> = s.iter().map(|s| s.recency).collect();
        assert_eq!(r, vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
        assert_eq!(s[0].code(), 515);
    }

    #[test]
    fn ties_share_a_score() {
        let mut rows = vec![
            RfmInput {
                since_last: 1.0,
                frequency: 0.0,
                monetary: 0.0
            };
            6
        ];
        rows.push(RfmInput {
            since_last: 1.0,
            frequency: 3.0,
            monetary: 10.0,
        });
        let s = rfm_scores(&rows).unwrap();
        assert!(s[..6].iter().all(|s| s.frequency == 1 && s.recency == 1));
        assert_eq!(s[6].frequency, 5);
        assert!(
            rfm_scores(&[RfmInput {
                since_last: f64::NAN,
                frequency: 1.0,
                monetary: 1.0
            }])
            .is_err()
        );
    }
}
