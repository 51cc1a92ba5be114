//! Retention: when each customer became active and when they stopped, computed where
//! the data lives, and the monthly figures of the retention dashboard derived from it
//! (the leaky bucket, acquisition cohorts, the durations a survival curve needs), and
//! the customers in each value tier.
//!
//! # Definitions
//!
//! A customer is **active on a day** when a subscription runs that day
//! (`started_on <= day < ended_on`, or no `ended_on`) or when they placed an order
//! (`transactions.kind = 'order'`) on that day or on one of the [`LAPSE_DAYS`] - 1 days
//! before it: an order keeps a customer active for [`LAPSE_DAYS`] days. Days are UTC
//! calendar days; nothing after the day the figures are computed for (`as_of`) counts.
//!
//! A customer **stops** on the first day after their last active day, and only when
//! that day is on or before `as_of`: a customer who lapses and later comes back has
//! not stopped, they were kept through the gap. With that, per calendar month `m`:
//!
//! - **won** in `m`: the first active day is in `m` (never active before);
//! - **lost** in `m`: the stop day is in `m` (not active at the end of `m`, and never
//!   again);
//! - **customers at the end** of `m`: first active on or before the last day of `m`
//!   and not stopped by then (the current month ends on `as_of`);
//! - **kept** in `m`: customers both at the end of the month before and at the end of
//!   `m`.
//!
//! so that `won - lost = end - start` holds for every month exactly (a customer won
//! and lost in the same month counts once in each and in neither end), and
//! `kept = start - lost + won_and_lost`.
//!
//! A **cohort** is the customers first active in one month; the customers of a cohort
//! **still active `k` months later** are those that had not stopped before month
//! `cohort + k` began (so `k = 0` is the whole cohort).
//!
//! **Survival** runs from the first active day: the duration ends at the stop day (an
//! event), or is censored after `as_of` (the customer is active at the end of the
//! data).
//!
//! The store computes one row per customer (first active day, stop day) in one grouped
//! SQL pass over orders and subscriptions; the monthly figures are small sums over
//! those rows, in `kanta_models::retention` beside the models' cohort code.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Result, Store, with_pool};

/// Days an order keeps a customer active: the order's day and the 89 days after it.
pub const LAPSE_DAYS: i64 = 90;

/// One customer's activity, as of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// The customer's internal id.
    pub customer_id: i64,
    /// The first day the customer was active.
    pub first: NaiveDate,
    /// The first day after the customer's last active day, when that is on or before
    /// `as_of`; `None` while the customer is active (or will be again within the data).
    pub stopped: Option<NaiveDate>,
}

/// How many customers each value tier holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TierCounts {
    /// `(tier, customers)` for A, B, C and D in that order (zero when empty).
    pub tiers: Vec<(String, u64)>,
    /// Customers without a tier (not scored yet).
    pub none: u64,
}

/// Which customers a retention figure covers: by `segment` and/or `kind` (equality;
/// `None` is every customer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub segment: Option<String>,
    pub kind: Option<String>,
}

impl Segment {
    /// Whether any filter is set.
    pub fn is_set(&self) -> bool {
        self.segment.is_some() || self.kind.is_some()
    }

    /// `(c.segment = $a OR $a IS NULL) AND ...` over the customers alias `c`, with
    /// the parameters numbered from `first`.
    fn sql(first: usize) -> String {
        format!(
            "(CAST(${a} AS TEXT) IS NULL OR c.segment = ${a}) AND (CAST(${b} AS TEXT) IS NULL OR c.kind = ${b})",
            a = first,
            b = first + 1
        )
    }
}

/// The segments and kinds the store's customers have, each once, sorted: the
/// dashboard's filter offers these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentValues {
    pub segments: Vec<String>,
    pub kinds: Vec<String>,
}

/// One month of subscription revenue retention, in minor units of MRR (each
/// subscription's amount per month, `kanta_domain::subscription::mrr_minor`), between
/// the end of the month before and the end of this month, per customer:
///
/// - `starting`: MRR of the customers who had any at the start;
/// - `expansion`: their increases; `contraction`: their decreases to a smaller, not
///   zero, MRR; `churned`: the MRR of those left with none;
/// - `new`: MRR of customers who had none at the start (not part of the rates);
/// - `grr = (starting - contraction - churned) / starting`,
///   `nrr = (starting + expansion - contraction - churned) / starting`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RevenueMonth {
    /// The month's first day.
    pub month: NaiveDate,
    pub starting: i64,
    pub expansion: i64,
    pub contraction: i64,
    pub churned: i64,
    pub new: i64,
    pub ending: i64,
    pub grr: Option<f64>,
    pub nrr: Option<f64>,
}

/// A model run's stored scores summed over the customers of a segment, in minor
/// units (see [`Store::forecast_sums`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ForecastSums {
    /// Customers of the segment the run scored.
    pub customers: i64,
    /// Expected purchases over 30, 90 and 365 days times the expected spend, summed.
    pub purchases: [f64; 3],
    /// The subscription part of the 12-month CLV, summed.
    pub subscription_clv_12: f64,
}

/// Revenue retention per month from each customer's MRR at the month boundaries:
/// `mrr(customer, day)` for the days `ends[0..]` (the end of the month before the
/// first, then each month's end).
pub fn revenue_months(months: &[NaiveDate], per_customer: &[Vec<i64>]) -> Vec<RevenueMonth> {
    months
        .iter()
        .enumerate()
        .map(|(m, &month)| {
            let (mut starting, mut expansion, mut contraction, mut churned, mut new, mut ending) =
                (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
            for c in per_customer {
                let (s, e) = (c[m], c[m + 1]);
                ending += e;
                if s <= 0 {
                    new += e.max(0);
                    continue;
                }
                starting += s;
                if e <= 0 {
                    churned += s;
                } else if e > s {
                    expansion += e - s;
                } else {
                    contraction += s - e;
                }
            }
            let rate = |v: i64| (starting > 0).then(|| v as f64 / starting as f64);
            RevenueMonth {
                month,
                starting,
                expansion,
                contraction,
                churned,
                new,
                ending,
                grr: rate(starting - contraction - churned),
                nrr: rate(starting + expansion - contraction - churned),
            }
        })
        .collect()
}

/// `(customer_id, first_day, stop_day)` of a row of [`Store::activity`]'s query, on
/// either backend.
trait RowDays {
    fn days(&self) -> Result<(i64, i64, i64)>;
}

impl<R: Row> RowDays for R
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn days(&self) -> Result<(i64, i64, i64)> {
        Ok((
            self.try_get("customer_id")?,
            self.try_get("first_day")?,
            self.try_get("stop_day")?,
        ))
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// Days since 1970-01-01.
fn day_number(d: NaiveDate) -> i64 {
    (d - epoch()).num_days()
}

fn from_day_number(n: i64) -> NaiveDate {
    if n >= 0 {
        epoch().checked_add_days(Days::new(n as u64))
    } else {
        epoch().checked_sub_days(Days::new(n.unsigned_abs()))
    }
    .unwrap_or(NaiveDate::MIN)
}

impl Store {
    /// Every customer active on or before `as_of`, with their first active day and
    /// the day they stopped (see the module documentation), by customer id.
    ///
    /// The first and last order per customer, one grouped pass over the
    /// subscriptions, and one row per customer back to Rust. The orders come from the
    /// customers' `first_purchase_at` and `last_purchase_at`, which the writer keeps
    /// equal to their first and newest order: 100,000 customer rows instead of a
    /// million transactions. Only a customer whose newest order comes after `as_of`
    /// (figures for a day in the past) has their last order before it sought in the
    /// `(customer_id, occurred_at)` index. SQLite reads the customers in two halves
    /// on two connections at once.
    pub async fn activity(&self, as_of: NaiveDate) -> Result<Vec<Activity>> {
        let (day_of_time, day_of_date, time_bound) = match self.backend {
            // Times are fixed-width RFC 3339 text in UTC, dates 'YYYY-MM-DD' text.
            Backend::Sqlite(_) => (
                "CAST(julianday(substr({}, 1, 10)) - 2440587.5 AS INTEGER)",
                "CAST(julianday({}) - 2440587.5 AS INTEGER)",
                "strftime('%Y-%m-%dT%H:%M:%fZ', $1 * 86400, 'unixepoch')",
            ),
            Backend::Postgres(_) => (
                "CAST((({}) AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS BIGINT)",
                "CAST(({}) - DATE '1970-01-01' AS BIGINT)",
                "to_timestamp(CAST($1 AS BIGINT) * 86400)",
            ),
        };
        let time_day = |col: &str| day_of_time.replace("{}", col);
        let date_day = |col: &str| day_of_date.replace("{}", col);
        // Per customer with orders up to as_of: the first order's day and the day after
        // the lapse window of the last (NULL for a customer whose orders all come later).
        let seek_last = format!(
            "(SELECT t.occurred_at FROM transactions t WHERE t.customer_id = c.id \
             AND t.kind = 'order' AND t.occurred_at < {time_bound} \
             ORDER BY t.occurred_at DESC LIMIT 1)"
        );
        let last = format!(
            "CASE WHEN c.last_purchase_at < {time_bound} THEN c.last_purchase_at ELSE {seek_last} END"
        );
        // SQLite: customers in id order (not by some index), so the seeks walk the
        // transactions' index forward.
        let not_indexed = match self.backend {
            Backend::Sqlite(_) => "NOT INDEXED",
            Backend::Postgres(_) => "",
        };
        let orders = format!(
            "SELECT c.id AS customer_id, {} AS first_day, {} + {LAPSE_DAYS} AS stop_day \
             FROM customers c {not_indexed} \
             WHERE c.first_purchase_at < {time_bound} AND c.id BETWEEN $4 AND $5",
            time_day("c.first_purchase_at"),
            time_day(&last),
        );
        // $1: the day after as_of; $2: as_of; $3: a stop day far beyond any data
        // (an open subscription); $4, $5: the customer ids to cover.
        let sql = format!(
            "WITH s AS ( \
                SELECT customer_id, {started} AS started, \
                    CASE WHEN ended_on IS NULL THEN $3 ELSE {ended} END AS ended \
                FROM subscriptions WHERE customer_id BETWEEN $4 AND $5), \
             a AS ( \
                {orders} \
                UNION ALL \
                SELECT customer_id, min(started), max(ended) FROM s \
                WHERE started <= $2 AND ended > started GROUP BY customer_id) \
             SELECT customer_id, min(first_day) AS first_day, max(stop_day) AS stop_day \
             FROM a GROUP BY customer_id HAVING min(first_day) IS NOT NULL \
             ORDER BY customer_id",
            started = date_day("started_on"),
            ended = date_day("ended_on"),
        );
        let as_of_day = day_number(as_of);
        let open = as_of_day + 1_000_000;
        let decode = |(customer_id, first, stop): (i64, i64, i64)| Activity {
            customer_id,
            first: from_day_number(first),
            stopped: (stop <= as_of_day).then(|| from_day_number(stop)),
        };
        macro_rules! query {
            ($range:expr) => {
                sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(as_of_day + 1)
                    .bind(as_of_day)
                    .bind(open)
                    .bind($range.0)
                    .bind($range.1)
            };
        }
        match &self.backend {
            Backend::Sqlite(pool) => {
                // One seek per customer on one core: two halves of the customers on two
                // connections (each its own thread) take half the time.
                let (lo, hi): (Option<i64>, Option<i64>) =
                    sqlx::query_as("SELECT min(id), max(id) FROM customers")
                        .fetch_one(pool)
                        .await?;
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return Ok(Vec::new());
                };
                let mid = lo + (hi - lo) / 2;
                let (a, b) = tokio::try_join!(
                    query!((lo, mid)).fetch_all(pool),
                    query!((mid + 1, hi)).fetch_all(pool)
                )?;
                a.iter().chain(&b).map(|r| Ok(decode(r.days()?))).collect()
            }
            Backend::Postgres(pool) => {
                let rows = query!((i64::MIN, i64::MAX)).fetch_all(pool).await?;
                rows.iter().map(|r| Ok(decode(r.days()?))).collect()
            }
        }
    }

    /// How many customers each value tier (`customers.tier`) holds.
    pub async fn tier_counts(&self) -> Result<TierCounts> {
        self.tier_counts_in(&Segment::default()).await
    }

    /// The segments and kinds of the store's customers.
    pub async fn segment_values(&self) -> Result<SegmentValues> {
        let (segments, kinds): (Vec<String>, Vec<String>) = with_pool!(self, pool => {
            (
                sqlx::query_scalar("SELECT DISTINCT segment FROM customers WHERE segment IS NOT NULL AND segment <> '' ORDER BY segment")
                    .fetch_all(pool)
                    .await?,
                sqlx::query_scalar("SELECT DISTINCT kind FROM customers WHERE kind IS NOT NULL ORDER BY kind")
                    .fetch_all(pool)
                    .await?,
            )
        });
        Ok(SegmentValues { segments, kinds })
    }

    /// The ids of the customers in `segment`, sorted.
    pub async fn segment_customer_ids(&self, segment: &Segment) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT c.id FROM customers c WHERE {} ORDER BY c.id",
            Segment::sql(1)
        );
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                .bind(segment.segment.as_deref())
                .bind(segment.kind.as_deref())
                .fetch_all(pool)
                .await?)
        })
    }

    /// Subscription revenue retention for the `months` months up to the one holding
    /// `as_of` (its end taken as `as_of`), over the customers in `segment`.
    pub async fn subscription_revenue_retention(
        &self,
        as_of: NaiveDate,
        months: u32,
        segment: &Segment,
    ) -> Result<Vec<RevenueMonth>> {
        use chrono::{Datelike, Months};
        use kanta_domain::subscription::{Period, Subscription, mrr_minor};
        let sql = format!(
            "SELECT s.customer_id, s.amount_minor, s.period, s.started_on, s.ended_on \
             FROM subscriptions s JOIN customers c ON c.id = s.customer_id \
             WHERE s.started_on <= $1 AND {} ORDER BY s.customer_id",
            Segment::sql(2)
        );
        type R = (i64, i64, String, NaiveDate, Option<NaiveDate>);
        let rows: Vec<R> = with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(as_of)
                .bind(segment.segment.as_deref())
                .bind(segment.kind.as_deref())
                .fetch_all(pool)
                .await?
        });
        let this_month = as_of.with_day(1).unwrap_or(as_of);
        let firsts: Vec<NaiveDate> = (0..months)
            .rev()
            .filter_map(|k| this_month.checked_sub_months(Months::new(k)))
            .collect();
        // Boundaries: the day before each month's first day, then as_of.
        let mut ends: Vec<NaiveDate> = firsts.iter().filter_map(|d| d.pred_opt()).collect();
        ends.push(as_of);
        let mut per_customer: Vec<Vec<i64>> = Vec::new();
        let mut last: Option<i64> = None;
        for (customer, amount, period, started_on, ended_on) in rows {
            let sub = Subscription {
                plan: String::new(),
                amount_minor: amount,
                period: Period::parse(&period).unwrap_or(Period::Month),
                started_on,
                ended_on,
                renews_on: None,
            };
            if last != Some(customer) {
                per_customer.push(vec![0; ends.len()]);
                last = Some(customer);
            }
            if let Some(c) = per_customer.last_mut() {
                for (i, d) in ends.iter().enumerate() {
                    if sub.is_active(*d) {
                        c[i] += mrr_minor(sub.amount_minor, sub.period);
                    }
                }
            }
        }
        Ok(revenue_months(&firsts, &per_customer))
    }

    /// What a model run's stored scores expect from the customers of `segment`, for
    /// splitting the run's forecast by segment: per customer, the expected purchases
    /// over 30, 90 and 365 days times the expected spend, and the subscription part
    /// of the 12-month CLV, each summed over the customers (see [`ForecastSums`]).
    /// `None` when the run has no stored scores (pruned, or no such run).
    pub async fn forecast_sums(
        &self,
        run_id: i64,
        segment: &Segment,
    ) -> Result<Option<ForecastSums>> {
        let sql = format!(
            "SELECT count(*) AS n, \
             CAST(sum(s.expected_purchases_30 * COALESCE(s.expected_spend_minor, 0)) AS DOUBLE PRECISION) AS p30, \
             CAST(sum(s.expected_purchases_90 * COALESCE(s.expected_spend_minor, 0)) AS DOUBLE PRECISION) AS p90, \
             CAST(sum(s.expected_purchases_365 * COALESCE(s.expected_spend_minor, 0)) AS DOUBLE PRECISION) AS p365, \
             CAST(sum(COALESCE(s.subscription_clv_12_minor, 0)) AS DOUBLE PRECISION) AS sub12 \
             FROM customer_scores s JOIN customers c ON c.id = s.customer_id \
             WHERE s.run_id = $1 AND {}",
            Segment::sql(2)
        );
        type R = (i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>);
        let (n, p30, p90, p365, sub12): R = with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(run_id)
                .bind(segment.segment.as_deref())
                .bind(segment.kind.as_deref())
                .fetch_one(pool)
                .await?
        });
        if n == 0 && !segment.is_set() {
            return Ok(None);
        }
        Ok(Some(ForecastSums {
            customers: n,
            purchases: [p30.unwrap_or(0.0), p90.unwrap_or(0.0), p365.unwrap_or(0.0)],
            subscription_clv_12: sub12.unwrap_or(0.0),
        }))
    }

    /// How many customers of `segment` each value tier (`customers.tier`) holds.
    pub async fn tier_counts_in(&self, segment: &Segment) -> Result<TierCounts> {
        let sql = format!(
            "SELECT c.tier, count(*) AS n FROM customers c WHERE {} GROUP BY c.tier",
            Segment::sql(1)
        );
        macro_rules! rows {
            ($pool:expr) => {{
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(segment.segment.as_deref())
                    .bind(segment.kind.as_deref())
                    .fetch_all($pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<Option<String>, _>("tier")?,
                            r.try_get::<i64, _>("n")?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?
            }};
        }
        let rows = match &self.backend {
            Backend::Sqlite(pool) => rows!(pool),
            Backend::Postgres(pool) => rows!(pool),
        };
        let count = |t: Option<&str>| {
            rows.iter()
                .filter(|(tier, _)| tier.as_deref() == t)
                .map(|(_, n)| *n as u64)
                .sum()
        };
        Ok(TierCounts {
            tiers: kanta_domain::schema::TIERS
                .iter()
                .map(|t| (t.to_string(), count(Some(t))))
                .collect(),
            none: count(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn revenue_retention_splits_expansion_contraction_and_churn() {
        // Four customers over one month: kept flat, expanded, contracted, churned;
        // and one new.
        let per = vec![
            vec![100, 100],
            vec![100, 150],
            vec![100, 60],
            vec![100, 0],
            vec![0, 80],
        ];
        let m = revenue_months(&[d("2024-05-01")], &per);
        let r = m[0];
        assert_eq!(
            (r.starting, r.expansion, r.contraction, r.churned, r.new),
            (400, 50, 40, 100, 80)
        );
        assert_eq!(r.ending, 390);
        assert!((r.grr.unwrap() - 260.0 / 400.0).abs() < 1e-12);
        assert!((r.nrr.unwrap() - 310.0 / 400.0).abs() < 1e-12);
        // ending = starting + expansion - contraction - churned + new
        assert_eq!(
            r.ending,
            r.starting + r.expansion - r.contraction - r.churned + r.new
        );
        assert_eq!(
            revenue_months(&[d("2024-05-01")], &[vec![0, 0]])[0].grr,
            None
        );
    }

    #[test]
    fn days_count_from_1970() {
        assert_eq!(
            from_day_number(day_number(d("1969-12-31"))),
            d("1969-12-31")
        );
        assert_eq!(day_number(d("1970-01-02")), 1);
    }
}
