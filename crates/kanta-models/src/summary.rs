//! Per-customer summaries of a transaction log, with the conventions of lifetimes'
//! `summary_data_from_transaction_data` and `calibration_and_holdout_data`
//! (`freq="D"` with `freq_multiplier` = days per unit):
//!
//! * transactions are grouped by calendar day (UTC); several purchases by one
//!   customer on one day count once and their amounts are summed;
//! * `frequency` = purchase days after the first; `recency` = last purchase day -
//!   first purchase day; `T` = end of observation - first purchase day; both in the
//!   chosen [`TimeUnit`];
//! * `monetary_value` = mean of the day totals of the repeat days (the first day is
//!   left out), 0 without repeat days;
//! * in a calibration/holdout split, `frequency_holdout` counts purchase days in
//!   `(calibration_end, observation_end]`, `monetary_value_holdout` is the mean of
//!   the holdout *transactions* (not day totals: lifetimes' own convention), and
//!   `duration_holdout` = (observation_end - calibration_end) in units. Customers
//!   whose first purchase is after the calibration end are not included.
//!
//! The work is one sort by (customer, day) (skipped when the input is already
//! sorted, e.g. by `ORDER BY` in SQL; parallel above a few thousand rows) and one
//! pass, with no allocation per customer.

use std::str::FromStr;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::RfmRow;
use crate::error::{ModelError, Result, invalid_param, invalid_row};
use crate::prec;

/// One transaction: customer, UTC calendar day, amount.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Customer id (any dense or sparse numbering).
    pub customer: u64,
    /// Day number, days since 1970-01-01 (see [`day_number`]).
    pub day: i32,
    /// Amount (any unit; 0 when unknown).
    pub amount: f64,
}

/// Days since 1970-01-01 of a calendar date.
pub fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

/// The calendar date of a day number.
pub fn date_of_day(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
        + chrono::Duration::days(i64::from(day))
}

/// The UTC day number of a Unix timestamp in seconds.
pub fn day_of_timestamp(unix_seconds: i64) -> i32 {
    unix_seconds.div_euclid(86_400) as i32
}

/// The time unit of recency, T and durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days (lifetimes `freq="D"`).
    #[default]
    Day,
    /// Weeks of 7 days (lifetimes `freq="D", freq_multiplier=7`).
    Week,
    /// Months of 30.436875 days, the mean Gregorian month (numpy's
    /// `timedelta64(1, "M")`); purchases are still grouped by day.
    Month,
}

impl TimeUnit {
    /// Days per unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 365.2425 / 12.0,
        }
    }

    /// Units per month as lifetimes' `customer_lifetime_value` counts them
    /// (`freq` "D": 30, "W": 4.345, "M": 1).
    pub fn lifetimes_units_per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
            TimeUnit::Month => 1.0,
        }
    }

    /// `day`, `week` or `month`.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }
}

impl FromStr for TimeUnit {
    type Err = ModelError;
    /// `day`/`days`/`d`, `week`/`weeks`/`w`, `month`/`months`/`m` (any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_lowercase().as_str() {
            "d" | "day" | "days" => Ok(TimeUnit::Day),
            "w" | "week" | "weeks" => Ok(TimeUnit::Week),
            "m" | "month" | "months" => Ok(TimeUnit::Month),
            _ => Err(invalid_param(
                "time unit",
                format!("'{s}' is not one of day, week, month"),
            )),
        }
    }
}

/// One customer's summary, with lifetimes' column names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// Customer id.
    pub customer: u64,
    /// Repeat purchase days.
    pub frequency: f64,
    /// Last - first purchase day, in units.
    pub recency: f64,
    /// End of observation - first purchase day, in units.
    #[serde(rename = "T")]
    pub t: f64,
    /// Mean day total of the repeat days (0 without).
    pub monetary_value: f64,
    /// First purchase day (day number).
    pub first_day: i32,
}

impl CustomerSummary {
    /// The (frequency, recency, T) row for the transaction models.
    pub fn rfm_row(&self) -> RfmRow {
        RfmRow::new(self.frequency, self.recency, self.t)
    }
}

/// One customer's calibration summary and holdout outcome, with the column names
/// of lifetimes' `calibration_and_holdout_data`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutSummary {
    /// Customer id.
    pub customer: u64,
    /// Repeat purchase days in calibration.
    pub frequency_cal: f64,
    /// Recency in calibration, in units.
    pub recency_cal: f64,
    /// Age at the calibration end, in units.
    #[serde(rename = "T_cal")]
    pub t_cal: f64,
    /// Mean repeat-day total in calibration.
    pub monetary_value_cal: f64,
    /// Purchase days in the holdout period.
    pub frequency_holdout: f64,
    /// Mean holdout transaction amount (0 without).
    pub monetary_value_holdout: f64,
    /// Length of the holdout period, in units.
    pub duration_holdout: f64,
}

impl HoldoutSummary {
    /// The calibration (frequency, recency, T) row.
    pub fn rfm_row(&self) -> RfmRow {
        RfmRow::new(self.frequency_cal, self.recency_cal, self.t_cal)
    }
}

fn key(t: &Transaction) -> (u64, i32) {
    (t.customer, t.day)
}

/// Validate amounts and sort by (customer, day) unless already sorted.
fn prepare(tx: &mut [Transaction]) -> Result<()> {
    if let Some(i) = tx.iter().position(|t| !t.amount.is_finite()) {
        return Err(invalid_row(
            i,
            "amount",
            format!("must be a finite number, got {}", tx[i].amount),
        ));
    }
    let sorted = if tx.len() > prec::PARALLEL_MIN_ROWS {
        tx.par_windows(2).all(|w| key(&w[0]) <= key(&w[1]))
    } else {
        tx.windows(2).all(|w| key(&w[0]) <= key(&w[1]))
    };
    if !sorted {
        if tx.len() > prec::PARALLEL_MIN_ROWS {
            tx.par_sort_unstable_by_key(key);
        } else {
            tx.sort_unstable_by_key(key);
        }
    }
    Ok(())
}

/// Calibration-side statistics of one customer's transactions (sorted by day,
/// all on or before `end`).
struct Side {
    first: i32,
    last: i32,
    days: u32,
    repeat_amount: f64,
}

fn calibration_side(txs: &[Transaction]) -> Side {
    let first = txs[0].day;
    let mut last = first;
    let mut days = 1;
    let mut repeat_amount = 0.0;
    for t in txs {
        if t.day != last {
            days += 1;
            last = t.day;
        }
        if t.day != first {
            repeat_amount += t.amount;
        }
    }
    Side {
        first,
        last,
        days,
        repeat_amount,
    }
}

/// Iterate over the customer groups of a sorted slice.
fn groups(tx: &[Transaction]) -> impl Iterator<Item = &[Transaction]> {
    tx.chunk_by(|a, b| a.customer == b.customer)
}

/// Summarise a transaction log up to `observation_end` (a day number, inclusive),
/// like lifetimes' `summary_data_from_transaction_data(..., freq="D",
/// freq_multiplier=unit.days(), monetary_value_col=...)`. Transactions after the
/// end are ignored, as are customers whose first purchase is after it. The slice is
/// sorted in place by (customer, day). Output is sorted by customer.
///
/// # Errors
///
/// A non-finite amount (naming its position in the input).
pub fn summarize(
    tx: &mut [Transaction],
    unit: TimeUnit,
    observation_end: i32,
) -> Result<Vec<CustomerSummary>> {
    prepare(tx)?;
    let u = unit.days();
    let mut out = Vec::new();
    for g in groups(tx) {
        let n = g.partition_point(|t| t.day <= observation_end);
        if n == 0 {
            continue;
        }
        let s = calibration_side(&g[..n]);
        let frequency = f64::from(s.days - 1);
        out.push(CustomerSummary {
            customer: g[0].customer,
            frequency,
            recency: f64::from(s.last - s.first) / u,
            t: f64::from(observation_end - s.first) / u,
            monetary_value: if s.days > 1 {
                s.repeat_amount / frequency
            } else {
                0.0
            },
            first_day: s.first,
        });
    }
    Ok(out)
}

/// Split a transaction log at `calibration_end` and summarise both sides, like
/// lifetimes' `calibration_and_holdout_data(..., freq="D",
/// freq_multiplier=unit.days(), monetary_value_col=...)` (see the module
/// documentation for the columns). Both ends are day numbers, inclusive.
///
/// # Errors
///
/// `observation_end <= calibration_end`; a non-finite amount.
pub fn calibration_and_holdout(
    tx: &mut [Transaction],
    unit: TimeUnit,
    calibration_end: i32,
    observation_end: i32,
) -> Result<Vec<HoldoutSummary>> {
    if observation_end <= calibration_end {
        return Err(invalid_param(
            "observation_end",
            format!(
                "{} must be after the calibration end {}",
                date_of_day(observation_end),
                date_of_day(calibration_end)
            ),
        ));
    }
    prepare(tx)?;
    let u = unit.days();
    let duration = f64::from(observation_end - calibration_end) / u;
    let mut out = Vec::new();
    for g in groups(tx) {
        let n_cal = g.partition_point(|t| t.day <= calibration_end);
        if n_cal == 0 {
            continue;
        }
        let s = calibration_side(&g[..n_cal]);
        let frequency = f64::from(s.days - 1);
        let n_obs = g.partition_point(|t| t.day <= observation_end);
        let hold = &g[n_cal..n_obs];
        let (mut hold_days, mut prev, mut hold_amount) = (0u32, None, 0.0);
        for t in hold {
            if prev != Some(t.day) {
                hold_days += 1;
                prev = Some(t.day);
            }
            hold_amount += t.amount;
        }
        out.push(HoldoutSummary {
            customer: g[0].customer,
            frequency_cal: frequency,
            recency_cal: f64::from(s.last - s.first) / u,
            t_cal: f64::from(calibration_end - s.first) / u,
            monetary_value_cal: if s.days > 1 {
                s.repeat_amount / frequency
            } else {
                0.0
            },
            frequency_holdout: f64::from(hold_days),
            monetary_value_holdout: if hold.is_empty() {
                0.0
            } else {
                hold_amount / hold.len() as f64
            },
            duration_holdout: duration,
        });
    }
    Ok(out)
}

/// Daily counts for the cumulative tracking plot: for each day offset from the
/// first transaction in the log, the number of customers whose first purchase day
/// it is and the number of repeat purchase days on it (same-day purchases once).
pub(crate) struct DailyCounts {
    pub start: i32,
    pub first: Vec<f64>,
    pub repeat: Vec<f64>,
}

/// Count first-purchase and repeat-purchase days for offsets `0..=horizon_days`
/// from the first day in the log; later transactions are ignored.
pub(crate) fn daily_counts(tx: &mut [Transaction], horizon_days: usize) -> Result<DailyCounts> {
    prepare(tx)?;
    let start = tx
        .iter()
        .map(|t| t.day)
        .min()
        .ok_or(ModelError::Empty("no transactions"))?;
    let mut first = vec![0.0; horizon_days + 1];
    let mut repeat = vec![0.0; horizon_days + 1];
    for g in groups(tx) {
        let mut prev = None;
        for t in g {
            let off = (t.day - start) as usize;
            if off > horizon_days {
                break;
            }
            match prev {
                None => first[off] += 1.0,
                Some(p) if p != t.day => repeat[off] += 1.0,
                _ => {}
            }
            prev = Some(t.day);
        }
    }
    Ok(DailyCounts {
        start,
        first,
        repeat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(customer: u64, day: i32, amount: f64) -> Transaction {
        Transaction {
            customer,
            day,
            amount,
        }
    }

    #[test]
    fn same_day_purchases_count_once_and_amounts_add_up() {
        let mut log = vec![
            tx(2, 10, 5.0),
            tx(1, 0, 10.0),
            tx(1, 7, 20.0),
            tx(1, 7, 30.0),
            tx(1, 14, 10.0),
            tx(1, 30, 99.0), // after the end
            tx(2, 10, 1.0),
            tx(3, 40, 1.0), // first purchase after the end
        ];
        let s = summarize(&mut log, TimeUnit::Week, 21).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].customer, 1);
        assert_eq!(s[0].frequency, 2.0);
        assert_eq!(s[0].recency, 2.0);
        assert_eq!(s[0].t, 3.0);
        assert_eq!(s[0].monetary_value, 30.0); // (50 + 10) / 2
        assert_eq!(s[1].frequency, 0.0);
        assert_eq!(s[1].monetary_value, 0.0);
        assert_eq!(s[1].t, 11.0 / 7.0);
    }

    #[test]
    fn holdout_counts_days_and_averages_transactions() {
        let mut log = vec![
            tx(1, 0, 10.0),
            tx(1, 5, 4.0),
            tx(1, 12, 6.0),
            tx(1, 12, 8.0),
            tx(1, 15, 1.0),
            tx(2, 11, 3.0),
        ];
        let h = calibration_and_holdout(&mut log, TimeUnit::Day, 10, 20).unwrap();
        assert_eq!(h.len(), 1, "customer 2 starts in the holdout");
        assert_eq!(h[0].frequency_cal, 1.0);
        assert_eq!(h[0].t_cal, 10.0);
        assert_eq!(h[0].frequency_holdout, 2.0);
        assert_eq!(h[0].monetary_value_holdout, 5.0);
        assert_eq!(h[0].duration_holdout, 10.0);
        assert!(calibration_and_holdout(&mut log, TimeUnit::Day, 10, 10).is_err());
    }

    #[test]
    fn days_and_units() {
        let d = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
        assert_eq!(date_of_day(day_number(d)), d);
        assert_eq!(day_of_timestamp(-1), -1);
        assert_eq!(day_of_timestamp(86_400), 1);
        assert_eq!("W".parse::<TimeUnit>().unwrap(), TimeUnit::Week);
        assert!("fortnight".parse::<TimeUnit>().is_err());
        let mut bad = vec![tx(1, 0, f64::NAN)];
        assert!(summarize(&mut bad, TimeUnit::Day, 5).is_err());
    }
}
