//! Customer lifetime value over a finite horizon, computed the way lifetimes'
//! `GammaGammaFitter.customer_lifetime_value` does, so the numbers can be compared:
//!
//! `CLV = margin * E[spend] * Σ_{k=1}^{months} (E[X(k u)] - E[X((k-1) u)]) / (1 + d)^k`,
//!
//! where `E[X(t)]` is the transaction model's conditional expectation of purchases
//! in the next `t`, `u` the model's time units per month, `d` the monthly discount
//! rate and `E[spend]` the Gamma-Gamma conditional expected average spend. With
//! `margin = 1` this is exactly lifetimes' number.

use serde::{Deserialize, Serialize};

use crate::data::RfmRow;
use crate::error::{Result, invalid_param};
use crate::gammagamma::GammaGammaParams;
use crate::summary::TimeUnit;
use crate::transaction::TransactionModel;

/// CLV horizon, discounting and margin.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClvOptions {
    /// Horizon in months.
    pub months: u32,
    /// Discount rate per month (0.01 = 1%).
    pub monthly_discount_rate: f64,
    /// Share of revenue that is profit, in (0, 1]; 1 gives revenue.
    pub margin: f64,
    /// Model time units per month; [`TimeUnit::lifetimes_units_per_month`] matches
    /// lifetimes.
    pub units_per_month: f64,
}

impl ClvOptions {
    /// Checked options, with lifetimes' units per month for `unit`.
    ///
    /// # Errors
    ///
    /// Zero months, a discount rate not in [0, 10), or a margin not in (0, 1].
    pub fn new(
        months: u32,
        monthly_discount_rate: f64,
        margin: f64,
        unit: TimeUnit,
    ) -> Result<Self> {
        let o = ClvOptions {
            months,
            monthly_discount_rate,
            margin,
            units_per_month: unit.lifetimes_units_per_month(),
        };
        o.check()?;
        Ok(o)
    }

    /// Validate.
    ///
    /// # Errors
    ///
    /// As [`ClvOptions::new`], and non-positive units per month.
    pub fn check(&self) -> Result<()> {
        if self.months == 0 {
            return Err(invalid_param("months", "must be at least 1"));
        }
        if !(self.monthly_discount_rate >= 0.0 && self.monthly_discount_rate < 10.0) {
            return Err(invalid_param(
                "monthly_discount_rate",
                format!("must be in [0, 10), got {}", self.monthly_discount_rate),
            ));
        }
        if !(self.margin > 0.0 && self.margin <= 1.0) {
            return Err(invalid_param(
                "margin",
                format!("must be in (0, 1], got {}", self.margin),
            ));
        }
        if !(self.units_per_month > 0.0 && self.units_per_month.is_finite()) {
            return Err(invalid_param(
                "units_per_month",
                format!("must be > 0, got {}", self.units_per_month),
            ));
        }
        Ok(())
    }
}

/// `Σ_{k=1}^{months} (E[X(k u)] - E[X((k-1) u)]) / (1 + d)^k`: the discounted
/// expected purchases over the horizon.
pub fn discounted_expected_purchases(
    model: &dyn TransactionModel,
    row: &RfmRow,
    options: &ClvOptions,
) -> f64 {
    discounted_sum(options, |t| model.conditional_expected_purchases(t, row))
}

/// `Σ_{k=1}^{months} (e(k u) - e((k-1) u)) / (1 + d)^k` for a cumulative
/// expectation `e` with `e(0) = 0`.
pub(crate) fn discounted_sum(options: &ClvOptions, e: impl Fn(f64) -> f64) -> f64 {
    let u = options.units_per_month;
    let mut prev = 0.0;
    let mut total = 0.0;
    let mut discount = 1.0;
    for k in 1..=options.months {
        let v = e(f64::from(k) * u);
        discount /= 1.0 + options.monthly_discount_rate;
        total += (v - prev) * discount;
        prev = v;
    }
    total
}

/// CLV of one customer (see the module documentation). `monetary_value` is the
/// customer's mean repeat spend (0 without repeat purchases, who then get the
/// population mean).
pub fn customer_lifetime_value(
    model: &dyn TransactionModel,
    spend: &GammaGammaParams,
    row: &RfmRow,
    monetary_value: f64,
    options: &ClvOptions,
) -> f64 {
    options.margin
        * spend.expected_average_spend(row.frequency, monetary_value)
        * discounted_expected_purchases(model, row, options)
}
