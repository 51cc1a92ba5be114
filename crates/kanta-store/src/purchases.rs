//! Per-customer purchase days: the sufficient statistics of the customer-value models
//! (`lifetimes`' frequency, recency, T, monetary value, and a holdout count) from one
//! read of the orders as (customer, instant, amount), grouped by customer and local
//! day in Rust (see [`Store::purchase_windows_in`] for why, and the figures).
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
        let days = LocalDays::new(zone, end);
        let calibration_end = calibration_end.min(end);
        match &self.backend {
            // SQLite: each customer's orders as one `seconds amount,...` list, from the
            // covering index (customer_id, occurred_at, amount_minor, kind) of
            // migration 0019 in customer order, read with one row a customer.
            // sqlx's SQLite rows cost microseconds each: ten million order rows took
            // 30 s to stream, the million lists 9 s; SQL's own grouping by
            // (customer, local day) sorted ten million rows in a temp b-tree (33 s).
            Backend::Sqlite(pool) => {
                use futures_util::TryStreamExt;
                let mut rows = sqlx::query_as::<_, (i64, String)>(
                    "SELECT customer_id, group_concat(unixepoch(occurred_at) || ' ' || amount_minor) \
                     FROM transactions WHERE kind = 'order' GROUP BY customer_id",
                )
                .fetch(pool);
                let mut out = Vec::new();
                let mut orders = Vec::new();
                while let Some((customer_id, list)) = rows.try_next().await? {
                    orders.clear();
                    for item in list.split(',') {
                        let parsed = item.split_once(' ').and_then(|(at, amount)| {
                            Some((at.parse::<i64>().ok()?, amount.parse::<i64>().ok()?))
                        });
                        let Some((at, amount)) = parsed else {
                            return Err(crate::StoreError::Db(sqlx::Error::Protocol(format!(
                                "customer {customer_id}: an order's time or amount is not a number: {item:?}"
                            ))));
                        };
                        let day = days.day(at);
                        if day <= end {
                            orders.push((day, amount));
                        }
                    }
                    if !orders.is_empty() {
                        out.push(windows_of_customer(
                            customer_id,
                            &mut orders,
                            calibration_end,
                        ));
                    }
                }
                Ok(out)
            }
            // PostgreSQL: the orders as (customer, time, amount) in the table's order,
            // grouped here (its grouped pass by local day took 46 s).
            Backend::Postgres(pool) => {
                use futures_util::TryStreamExt;
                let mut rows = sqlx::query_as::<_, (i64, DateTime<Utc>, i64)>(
                    "SELECT customer_id, occurred_at, amount_minor FROM transactions \
                     WHERE kind = 'order'",
                )
                .fetch(pool);
                let mut orders: Vec<(i64, i32, i64)> = Vec::new();
                while let Some((customer_id, at, amount)) = rows.try_next().await? {
                    let day = days.day(at.timestamp());
                    if day <= end {
                        orders.push((customer_id, day, amount));
                    }
                }
                Ok(windows_of(orders, calibration_end))
            }
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

/// Every customer's [`PurchaseWindows`] from their orders as (customer, local day,
/// amount), by customer id.
fn windows_of(mut orders: Vec<(i64, i32, i64)>, calibration_end: i32) -> Vec<PurchaseWindows> {
    orders.sort_unstable_by_key(|&(c, _, _)| c);
    let mut out = Vec::new();
    let mut mine = Vec::new();
    for group in orders.chunk_by(|a, b| a.0 == b.0) {
        mine.clear();
        mine.extend(group.iter().map(|&(_, d, a)| (d, a)));
        out.push(windows_of_customer(group[0].0, &mut mine, calibration_end));
    }
    out
}

/// One customer's [`PurchaseWindows`] from their orders as (local day, amount), in
/// any order and not empty: orders on one day make one purchase day with their
/// amounts summed.
fn windows_of_customer(
    customer_id: i64,
    orders: &mut [(i32, i64)],
    calibration_end: i32,
) -> PurchaseWindows {
    orders.sort_unstable();
    let first_day = orders[0].0;
    let mut whole = PurchaseDays {
        customer_id,
        first_day,
        last_day: first_day,
        days: 0,
        repeat_amount_minor: 0,
        holdout_days: 0,
    };
    let mut calibration = whole;
    for day_orders in orders.chunk_by(|a, b| a.0 == b.0) {
        let day = day_orders[0].0;
        let amount = day_orders.iter().fold(0i64, |s, o| s.saturating_add(o.1));
        let repeat = if day > first_day { amount } else { 0 };
        whole.last_day = day;
        whole.days += 1;
        whole.repeat_amount_minor = whole.repeat_amount_minor.saturating_add(repeat);
        if day <= calibration_end {
            calibration.last_day = day;
            calibration.days += 1;
            calibration.repeat_amount_minor =
                calibration.repeat_amount_minor.saturating_add(repeat);
        } else {
            calibration.holdout_days += 1;
        }
    }
    PurchaseWindows {
        whole,
        calibration: (first_day <= calibration_end).then_some(calibration),
    }
}

/// Local day numbers (since 1970-01-01) of instants in one zone: the zone's offsets
/// from 1970 to the year after the last day asked for in a table searched by
/// bisection, chrono-tz itself outside it.
struct LocalDays {
    zone: Tz,
    /// `(from, offset)`: epoch seconds from which `offset` (seconds east of UTC)
    /// holds, ascending; the first is 1970-01-01.
    changes: Vec<(i64, i64)>,
    until: i64,
}

impl LocalDays {
    fn new(zone: Tz, end_day: i32) -> Self {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let until = epoch + Duration::days(i64::from(end_day.max(0)) + 400);
        let changes = offset_changes(zone, epoch, until)
            .into_iter()
            .map(|(t, o)| (t.timestamp(), i64::from(o)))
            .collect();
        LocalDays {
            zone,
            changes,
            until: until.timestamp(),
        }
    }

    /// The local day of the instant `at` (epoch seconds).
    fn day(&self, at: i64) -> i32 {
        let offset = if (0..self.until).contains(&at) {
            let i = self.changes.partition_point(|c| c.0 <= at);
            self.changes[i.saturating_sub(1)].1
        } else {
            DateTime::<Utc>::from_timestamp(at, 0).map_or(0, |t| {
                i64::from(
                    self.zone
                        .offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc(),
                )
            })
        };
        i32::try_from((at + offset).div_euclid(86_400)).unwrap_or(i32::MAX)
    }
}

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

    #[test]
    fn orders_group_into_purchase_days_per_customer() {
        // Customer 7: day 10 twice (one purchase day of 300), day 12, day 20 after the
        // calibration end 15. Customer 3 (read after 7): only day 16, after it.
        let orders = vec![
            (7, 12, 50),
            (3, 16, 999),
            (7, 10, 100),
            (7, 20, 70),
            (7, 10, 200),
        ];
        let w = windows_of(orders, 15);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].whole.customer_id, 3);
        assert_eq!((w[0].whole.days, w[0].whole.repeat_amount_minor), (1, 0));
        assert_eq!(
            w[0].calibration, None,
            "first purchase after the calibration end"
        );
        let seven = w[1];
        assert_eq!(
            seven.whole,
            PurchaseDays {
                customer_id: 7,
                first_day: 10,
                last_day: 20,
                days: 3,
                repeat_amount_minor: 120,
                holdout_days: 0,
            }
        );
        assert_eq!(
            seven.calibration,
            Some(PurchaseDays {
                customer_id: 7,
                first_day: 10,
                last_day: 12,
                days: 2,
                repeat_amount_minor: 50,
                holdout_days: 1,
            })
        );
    }

    #[test]
    fn local_days_follow_the_zone_inside_and_outside_the_table() {
        let zone = kanta_domain::time::DEFAULT_ZONE;
        let days = LocalDays::new(zone, 20_000);
        for t in [
            "2024-03-30T21:59:59Z", // 23.59.59 in Helsinki, winter time
            "2024-03-30T22:00:00Z", // midnight
            "2024-10-26T20:59:59Z", // 23.59.59, summer time
            "2024-10-26T21:00:00Z",
            "1965-06-01T20:59:59Z", // before the table
            "1900-01-01T00:00:00Z",
            "2199-12-31T23:59:59Z", // after it
        ] {
            let at = t.parse::<DateTime<Utc>>().unwrap();
            let local = at.with_timezone(&zone).date_naive();
            let want = (local - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
            assert_eq!(i64::from(days.day(at.timestamp())), want, "{t}");
        }
    }
}
