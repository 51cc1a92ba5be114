//! Per-customer purchase days, computed where the data lives: the sufficient
//! statistics of the customer-value models (`lifetimes`' frequency, recency, T,
//! monetary value, and a holdout count) in one grouped SQL pass over the transactions,
//! instead of reading every row into Rust.
//!
//! Conventions are `lifetimes`' (and `kanta_models::summary`'s): orders are grouped
//! by calendar day, several on one day count once with their amounts summed;
//! refunds are not purchases. Days are numbered from 1970-01-01. The day is the
//! store's local day ([`Store::purchase_windows_in`]: a café's order at 00.30 in
//! Helsinki, 22.30 UTC the day before, is on the Helsinki day; a date imported
//! without a time, read as local midnight, stays on its own date), or the UTC day
//! ([`Store::purchase_windows`]).

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use kanta_domain::time::Tz;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Result, Store, with_pool};

/// One customer's purchase days up to a calibration end, and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PurchaseDays {
    /// The customer's internal id.
    pub customer_id: i64,
    /// The first purchase day (days since 1970-01-01, UTC).
    pub first_day: i32,
    /// The last purchase day up to the calibration end.
    pub last_day: i32,
    /// Distinct purchase days up to the calibration end (frequency + 1).
    pub days: i64,
    /// Order amounts (minor units) on the purchase days after the first.
    pub repeat_amount_minor: i64,
    /// Distinct purchase days after the calibration end, up to the holdout end.
    pub holdout_days: i64,
}

impl PurchaseDays {
    /// Repeat purchase days: `lifetimes`' frequency.
    pub fn frequency(&self) -> i64 {
        self.days - 1
    }

    /// Mean amount of the repeat purchase days (minor units); 0 without any.
    pub fn monetary_value_minor(&self) -> f64 {
        if self.days > 1 {
            self.repeat_amount_minor as f64 / (self.days - 1) as f64
        } else {
            0.0
        }
    }
}

/// One customer's purchase days over the whole data up to an end day, and up to a
/// calibration end before it (with the days after it as the holdout), from one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PurchaseWindows {
    /// Up to the end day (`holdout_days` 0).
    pub whole: PurchaseDays,
    /// Up to the calibration end, with the purchase days after it up to the end day
    /// as `holdout_days`; `None` for a customer whose first purchase came after the
    /// calibration end.
    pub calibration: Option<PurchaseDays>,
}

/// One subscription as scoring reads it (`kanta score` values subscribers with sBG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionRow {
    /// The customer's internal id.
    pub customer_id: i64,
    pub plan: String,
    /// Billed at the start of each period, in minor units of `currency`.
    pub amount_minor: i64,
    pub currency: String,
    /// `week`, `month`, `quarter` or `year`.
    pub period: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
}

type SubscriptionTuple = (
    i64,
    String,
    i64,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

impl Store {
    /// Every subscription that started on or before `as_of`, by customer and start.
    pub async fn scoring_subscriptions(&self, as_of: NaiveDate) -> Result<Vec<SubscriptionRow>> {
        let sql = "SELECT customer_id, plan, amount_minor, currency, period, started_on, \
                   ended_on, renews_on FROM subscriptions WHERE started_on <= $1 \
                   ORDER BY customer_id, started_on, id";
        let rows: Vec<SubscriptionTuple> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(as_of).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    customer_id,
                    plan,
                    amount_minor,
                    currency,
                    period,
                    started_on,
                    ended_on,
                    renews_on,
                )| {
                    SubscriptionRow {
                        customer_id,
                        plan,
                        amount_minor,
                        currency,
                        period,
                        started_on,
                        ended_on,
                        renews_on,
                    }
                },
            )
            .collect())
    }

    /// Every customer's internal id, in order: scoring gives each a value.
    pub async fn customer_ids(&self) -> Result<Vec<i64>> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>("SELECT id FROM customers ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Every customer with a purchase on or before `calibration_end` (a day number),
    /// with the purchase days after it up to `holdout_end` (none without one), by
    /// customer id.
    pub async fn purchase_days(
        &self,
        calibration_end: i32,
        holdout_end: Option<i32>,
    ) -> Result<Vec<PurchaseDays>> {
        let end = holdout_end.unwrap_or(calibration_end).max(calibration_end);
        Ok(self
            .purchase_windows(calibration_end, end)
            .await?
            .into_iter()
            .filter_map(|w| w.calibration)
            .collect())
    }

    /// Every customer with a purchase on or before `end`, by customer id, with their
    /// purchase days up to `end` and up to `calibration_end` (clamped to `end`): the
    /// data of a model choice on a holdout and of the fit on everything, in one
    /// grouped pass over the transactions.
    pub async fn purchase_windows(
        &self,
        calibration_end: i32,
        end: i32,
    ) -> Result<Vec<PurchaseWindows>> {
        self.purchase_windows_in(Tz::UTC, calibration_end, end)
            .await
    }

    /// [`Store::purchase_windows`] with purchase days counted in `zone`, and
    /// `calibration_end` and `end` days of that zone.
    pub async fn purchase_windows_in(
        &self,
        zone: Tz,
        calibration_end: i32,
        end: i32,
    ) -> Result<Vec<PurchaseWindows>> {
        let day = match self.backend {
            Backend::Sqlite(_) => sqlite_local_day("t.occurred_at", zone, end),
            Backend::Postgres(_) => format!(
                "((t.occurred_at AT TIME ZONE '{}')::date - DATE '1970-01-01')",
                zone.name().replace('\'', "''")
            ),
        };
        let sql = format!(
            "WITH d AS ( \
                SELECT t.customer_id, {day} AS day, sum(t.amount_minor) AS amount \
                FROM transactions t WHERE t.kind = 'order' AND {day} <= $2 \
                GROUP BY t.customer_id, {day}), \
             c AS (SELECT customer_id, min(day) AS first_day FROM d GROUP BY customer_id) \
             SELECT c.customer_id, c.first_day, \
                max(d.day) AS last_day, count(*) AS days, \
                CAST(coalesce(sum(CASE WHEN d.day > c.first_day THEN d.amount END), 0) AS BIGINT) AS repeat_amount, \
                max(CASE WHEN d.day <= $1 THEN d.day END) AS last_day_cal, \
                sum(CASE WHEN d.day <= $1 THEN 1 ELSE 0 END) AS days_cal, \
                CAST(coalesce(sum(CASE WHEN d.day <= $1 AND d.day > c.first_day THEN d.amount END), 0) AS BIGINT) AS repeat_amount_cal, \
                sum(CASE WHEN d.day > $1 THEN 1 ELSE 0 END) AS holdout_days \
             FROM c JOIN d ON d.customer_id = c.customer_id \
             GROUP BY c.customer_id, c.first_day ORDER BY c.customer_id"
        );
        let calibration_end = calibration_end.min(end);
        // Streamed, not fetched whole: a million customers' rows held at once as
        // driver rows took gigabytes.
        macro_rules! rows {
            ($pool:expr) => {{
                use futures_util::TryStreamExt;
                let mut rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(calibration_end)
                    .bind(end)
                    .fetch($pool);
                let mut out = Vec::new();
                while let Some(r) = rows.try_next().await? {
                    let customer_id = r.try_get("customer_id")?;
                    let first_day = r.try_get("first_day")?;
                    let whole = PurchaseDays {
                        customer_id,
                        first_day,
                        last_day: r.try_get("last_day")?,
                        days: r.try_get("days")?,
                        repeat_amount_minor: r.try_get("repeat_amount")?,
                        holdout_days: 0,
                    };
                    let calibration = (first_day <= calibration_end)
                        .then(|| -> Result<PurchaseDays> {
                            Ok(PurchaseDays {
                                customer_id,
                                first_day,
                                last_day: r.try_get("last_day_cal")?,
                                days: r.try_get("days_cal")?,
                                repeat_amount_minor: r.try_get("repeat_amount_cal")?,
                                holdout_days: r.try_get("holdout_days")?,
                            })
                        })
                        .transpose()?;
                    out.push(PurchaseWindows { whole, calibration });
                }
                Ok(out)
            }};
        }
        match &self.backend {
            Backend::Sqlite(pool) => rows!(pool),
            Backend::Postgres(pool) => rows!(pool),
        }
    }

    /// The currencies of the orders, with how many orders each, most used first.
    /// Purchase sums mix whatever currencies there are, so scoring money needs one.
    pub async fn order_currencies(&self) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT currency, count(*) AS n FROM transactions WHERE kind = 'order' \
                   GROUP BY currency ORDER BY n DESC, currency";
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(sql).fetch_all(pool).await?)
        })
    }
}

/// The SQLite expression of the day number (since 1970-01-01) of `column`, a
/// fixed-width RFC 3339 text in UTC, in `zone`. SQLite knows no time zones, so the
/// zone's UTC offsets are written into the expression: one `CASE` arm per change of
/// offset from 1970 to the year after `end_day`, newest first (recent rows, the most,
/// stop at the first arms).
fn sqlite_local_day(column: &str, zone: Tz, end_day: i32) -> String {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let until = epoch + Duration::days(i64::from(end_day.max(0)) + 400);
    let changes = offset_changes(zone, epoch, until);
    let offset = if changes.len() == 1 {
        changes[0].1.to_string()
    } else {
        let mut arms = String::from("CASE");
        for (from, offset) in changes.iter().skip(1).rev() {
            arms.push_str(&format!(
                " WHEN {column} >= '{}' THEN {offset}",
                from.format("%Y-%m-%dT%H:%M:%S"),
            ));
        }
        arms.push_str(&format!(" ELSE {} END", changes[0].1));
        arms
    };
    // Integer arithmetic on the epoch seconds (one parse of the text per row, where
    // `julianday(date(..., modifier))` parsed, formatted and parsed again: the
    // summaries of 10,000,000 orders spent most of their time there). The shift by
    // SHIFT_DAYS keeps the dividend positive from 1899 on, so `/` is the floor.
    format!(
        "((unixepoch({column}) + {offset} + {shift}) / 86400 - {SHIFT_DAYS})",
        shift = SHIFT_DAYS * 86_400
    )
}

/// Days from 1899-01-01 to 1970-01-01 (the earliest time a value may hold is 1900).
const SHIFT_DAYS: i64 = 25_932;

/// The instants in `[from, until)` at which `zone`'s UTC offset changes, each with
/// the offset (seconds east of UTC) from then on; the first entry is `from` itself.
fn offset_changes(
    zone: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i32)> {
    let offset = |t: DateTime<Utc>| {
        zone.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let mut out = vec![(from, offset(from))];
    let mut t = from;
    while t < until {
        let next = t + Duration::days(1);
        if offset(next) != out.last().map_or(0, |c| c.1) {
            // The change is within (t, next]: find its hour, then its minute.
            let mut lo = t;
            let mut step = Duration::hours(1);
            while step >= Duration::minutes(1) {
                while offset(lo + step) == offset(lo) {
                    lo += step;
                }
                step = if step == Duration::hours(1) {
                    Duration::minutes(1)
                } else {
                    Duration::zero()
                };
            }
            let at = lo + Duration::minutes(1);
            out.push((at, offset(at)));
        }
        t = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helsinki_changes_offset_at_the_eu_times() {
        let from = "2024-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let until = "2025-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let c = offset_changes(kanta_domain::time::DEFAULT_ZONE, from, until);
        let shown: Vec<_> = c.iter().map(|(t, o)| (t.to_rfc3339(), *o)).collect();
        assert_eq!(
            shown,
            vec![
                ("2024-01-01T00:00:00+00:00".to_string(), 7200),
                ("2024-03-31T01:00:00+00:00".to_string(), 10800),
                ("2024-10-27T01:00:00+00:00".to_string(), 7200),
            ]
        );
        assert_eq!(offset_changes(Tz::UTC, from, until).len(), 1);
    }
}
