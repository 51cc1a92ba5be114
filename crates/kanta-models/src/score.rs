//! Scoring many customers at once: P(alive), expected purchases over a horizon,
//! expected spend and revenue, and CLV.
//!
//! Customers with identical (frequency, recency, T) share every transaction-model
//! prediction, so the model is evaluated once per distinct row (in parallel above a
//! few thousand rows) and the results are spread back; only the spend part is per
//! customer. Where the model's conditional expectation factorises into a part that
//! depends on (x, T) and one that depends on the whole history
//! ([`TransactionModel::age_factor`]), the expensive part, a hypergeometric
//! function per month of the CLV horizon, is computed once per distinct (x, T).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clv::{ClvOptions, discounted_expected_purchases, discounted_sum};
use crate::data::RfmRow;
use crate::error::{Result, invalid_param, invalid_row};
use crate::gammagamma::GammaGammaParams;
use crate::prec;
use crate::transaction::TransactionModel;

/// What to score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// Horizon for expected purchases and revenue, in the model's time unit.
    pub horizon: f64,
    /// CLV settings; `None` skips CLV.
    pub clv: Option<ClvOptions>,
}

/// One customer's scores.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerScore {
    /// P(alive) now.
    pub p_alive: f64,
    /// Expected purchases in the next `horizon`.
    pub expected_purchases: f64,
    /// Expected mean spend per purchase (with a spend model).
    pub expected_average_spend: Option<f64>,
    /// `expected_purchases * expected_average_spend`, undiscounted revenue over the
    /// horizon (with a spend model).
    pub expected_revenue: Option<f64>,
    /// CLV over the CLV horizon (with a spend model and CLV options).
    pub clv: Option<f64>,
}

/// Score customers. `monetary` (mean repeat spend per customer, 0 without repeat
/// purchases) is needed with `spend`.
///
/// # Errors
///
/// An invalid row, a length mismatch, a negative horizon, invalid CLV options, or
/// a spend model without monetary values.
pub fn score_customers(
    model: &dyn TransactionModel,
    spend: Option<&GammaGammaParams>,
    rows: &[RfmRow],
    monetary: Option<&[f64]>,
    options: &ScoreOptions,
) -> Result<Vec<CustomerScore>> {
    if !(options.horizon >= 0.0 && options.horizon.is_finite()) {
        return Err(invalid_param(
            "horizon",
            format!("must be >= 0, got {}", options.horizon),
        ));
    }
    if let Some(c) = &options.clv {
        c.check()?;
    }
    for (i, r) in rows.iter().enumerate() {
        r.validate(i)?;
    }
    if let Some(m) = monetary {
        if m.len() != rows.len() {
            return Err(invalid_param(
                "monetary",
                format!("has {} values for {} customers", m.len(), rows.len()),
            ));
        }
        if let Some(i) = m.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(invalid_row(
                i,
                "monetary_value",
                format!("must be >= 0, got {}", m[i]),
            ));
        }
    }
    if spend.is_some() && monetary.is_none() {
        return Err(invalid_param("monetary", "is needed to score spend"));
    }
    let par = rows.len() > prec::PARALLEL_MIN_ROWS;

    // distinct rows
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    let cmp = |a: &u32, b: &u32| {
        let (x, y) = (&rows[*a as usize], &rows[*b as usize]);
        x.frequency
            .total_cmp(&y.frequency)
            .then(x.recency.total_cmp(&y.recency))
            .then(x.t.total_cmp(&y.t))
    };
    if par {
        order.par_sort_unstable_by(cmp);
    } else {
        order.sort_unstable_by(cmp);
    }
    let mut distinct: Vec<RfmRow> = Vec::new();
    let mut slot = vec![0u32; rows.len()];
    for &i in &order {
        let r = rows[i as usize];
        if distinct.last() != Some(&r) {
            distinct.push(r);
        }
        slot[i as usize] = (distinct.len() - 1) as u32;
    }

    let factorises = distinct.first().is_some_and(|r| {
        model.age_factor(0.0, r.frequency, r.t).is_some() && model.history_factor(r).is_some()
    });
    let preds: Vec<(f64, f64, Option<f64>)> = if factorises {
        // E[X(T, T+t) | x, t_x, T] = age_factor(t; x, T) * history_factor(x, t_x, T):
        // the hypergeometric work is done once per distinct (x, T).
        let mut ages: Vec<(f64, f64)> = distinct.iter().map(|r| (r.frequency, r.t)).collect();
        let by_key = |a: &(f64, f64), b: &(f64, f64)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1));
        ages.sort_unstable_by(by_key);
        ages.dedup();
        let age_part = |&(x, t): &(f64, f64)| {
            let f = |h: f64| model.age_factor(h, x, t).unwrap_or(f64::NAN);
            (
                f(options.horizon),
                options.clv.as_ref().map(|c| discounted_sum(c, f)),
            )
        };
        let age_values: Vec<(f64, Option<f64>)> = if ages.len() > prec::PARALLEL_MIN_ROWS / 8 {
            ages.par_iter().map(age_part).collect()
        } else {
            ages.iter().map(age_part).collect()
        };
        let per_row = |r: &RfmRow| {
            let k = ages
                .binary_search_by(|a| by_key(a, &(r.frequency, r.t)))
                .expect("(x, T) is tabulated");
            let (e_age, dep_age) = age_values[k];
            let h = model.history_factor(r).unwrap_or(f64::NAN);
            (model.p_alive(r), e_age * h, dep_age.map(|d| d * h))
        };
        if distinct.len() > prec::PARALLEL_MIN_ROWS {
            distinct.par_iter().map(per_row).collect()
        } else {
            distinct.iter().map(per_row).collect()
        }
    } else {
        let per_row = |r: &RfmRow| {
            let p = model.p_alive(r);
            let e = model.conditional_expected_purchases(options.horizon, r);
            let dep = options
                .clv
                .as_ref()
                .map(|c| discounted_expected_purchases(model, r, c));
            (p, e, dep)
        };
        if distinct.len() > prec::PARALLEL_MIN_ROWS / 8 {
            distinct.par_iter().map(per_row).collect()
        } else {
            distinct.iter().map(per_row).collect()
        }
    };

    let one = |i: usize| {
        let (p, e, dep) = preds[slot[i] as usize];
        let avg = spend
            .zip(monetary)
            .map(|(s, m)| s.expected_average_spend(rows[i].frequency, m[i]));
        CustomerScore {
            p_alive: p,
            expected_purchases: e,
            expected_average_spend: avg,
            expected_revenue: avg.map(|a| a * e),
            clv: match (avg, dep, options.clv) {
                (Some(a), Some(d), Some(c)) => Some(c.margin * a * d),
                _ => None,
            },
        }
    };
    Ok(if par {
        (0..rows.len()).into_par_iter().map(one).collect()
    } else {
        (0..rows.len()).map(one).collect()
    })
}
