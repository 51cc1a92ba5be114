//! Recovery measured: per customer, their first case (its outcome and fault), their
//! activity (as [`crate::retention`] defines it) and what they bought after an index
//! time, for `kanta_core::recovery`'s comparison of customers who had a case, by
//! outcome, with customers who never had one.
//!
//! # Definitions
//!
//! - The **first case** of a customer is their earliest case opened on or before
//!   `as_of` (up to the end of `as_of`, UTC; escalation cases count like any other,
//!   they are worked like any other). Its **outcome**: *within SLA* when it was resolved
//!   by `as_of` at or before its `resolution_due_at` (a resolved case with no target
//!   recorded missed none and counts here too); *late* when resolved after the target;
//!   *unresolved* when it had no `resolved_at` by `as_of` (open, or closed without a
//!   resolution). Its **fault** is its `our_fault` (`None` when unknown).
//! - The **index time** of a case customer is when their first case was opened. A
//!   customer who never had a case gets a comparable one: their first active day
//!   plus the **median delay** from first active day to first case among the case
//!   customers who were active before their case, capped at `as_of`. Customers of
//!   both kinds are thus looked at as far into their life as a case typically comes;
//!   a never-case customer without activity has no index and is left out.
//! - **Activity** is [`Store::activity`]'s (an order keeps a customer active for
//!   [`crate::retention::LAPSE_DAYS`] days, a subscription while it runs).
//! - **After the index**: the first order (`kind = 'order'`) strictly after the index
//!   time, within 365 days and on or before `as_of`; the **revenue of the 12 months after** is the
//!   orders net of refunds in `(index, index + 365 days]` plus the subscription periods
//!   that start in the 365 days after the index day (`kanta_domain::subscription`'s
//!   billed periods), in minor units of the store's currency (amounts are summed as
//!   recorded, whatever their currency).
//!
//! One grouped pass over the cases (the first per customer, by the
//! `(customer_id, opened_at)` index) beside [`Store::activity`], then one grouped
//! pass over each customer's transactions of the year after their index time (a
//! range of the `(customer_id, occurred_at)` index; the index times go in as one
//! parameter: a JSON array on SQLite, arrays on PostgreSQL), and the subscriptions
//! once. 100,000 customers and 300,000 cases take well under a second on either
//! backend.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::retention::Activity;
use crate::{Backend, Result, Store, with_pool};

/// How a customer's first case ended, as of the report's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// Resolved at or before its resolution target (or with no target recorded).
    WithinSla,
    /// Resolved after its resolution target.
    Late,
    /// Not resolved by the report's day.
    Unresolved,
}

/// A customer's first case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FirstCase {
    pub opened_at: DateTime<Utc>,
    pub outcome: CaseOutcome,
    /// The case's "our fault": `None` when unknown.
    pub our_fault: Option<bool>,
}

/// One customer, seen from their index time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryRow {
    /// The customer's internal id.
    pub customer_id: i64,
    /// Their first case; `None` for a customer who never had one.
    pub case: Option<FirstCase>,
    /// Their activity, `None` when they were never active by `as_of`.
    pub activity: Option<Activity>,
    /// The case's opening, or the comparable time of a never-case customer.
    pub index_at: DateTime<Utc>,
    /// The first order after the index time, within 365 days and up to `as_of`.
    pub next_order_at: Option<DateTime<Utc>>,
    /// Orders net of refunds in the 365 days after the index time, plus the
    /// subscription periods starting then, in minor units.
    pub revenue_12m_minor: i64,
}

/// Every customer of the comparison, and how the never-case customers' index was set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryData {
    pub as_of: NaiveDate,
    /// Case customers first, then the never-case customers, each by customer id.
    pub rows: Vec<RecoveryRow>,
    /// The median days from first activity to first case among case customers (the
    /// offset of the never-case customers' index); `None` when no case customer was
    /// active before their case (then a never-case customer's index is their first
    /// active day).
    pub median_delay_days: Option<i64>,
}

/// The first moment after `day` (its end, UTC).
pub fn end_of(day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    Utc.from_utc_datetime(&next.and_time(NaiveTime::MIN))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// A time as SQLite stores it: fixed-width RFC 3339 in UTC with milliseconds.
fn sqlite_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

type CaseRowTuple = (
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<bool>,
);

impl Store {
    /// Every customer with a case or with activity by `as_of`, seen from their index
    /// time (see the module documentation).
    pub async fn recovery_data(&self, as_of: NaiveDate) -> Result<RecoveryData> {
        let bound = end_of(as_of);
        // The first case per customer: the earliest opening by the (customer_id,
        // opened_at) index (a covering scan), joined back to its case; a tie keeps the
        // lowest id.
        let cases_sql = "WITH f AS (SELECT customer_id, min(opened_at) AS first FROM cases \
                WHERE opened_at < $1 GROUP BY customer_id) \
             SELECT c.customer_id, c.opened_at, c.resolved_at, c.resolution_due_at, c.our_fault \
             FROM f JOIN cases c ON c.customer_id = f.customer_id AND c.opened_at = f.first \
             ORDER BY c.customer_id, c.id";
        let cases = async {
            let rows: Vec<CaseRowTuple> = match &self.backend {
                Backend::Sqlite(pool) => {
                    sqlx::query_as(cases_sql)
                        .bind(sqlite_text(bound))
                        .fetch_all(pool)
                        .await?
                }
                Backend::Postgres(pool) => {
                    sqlx::query_as(cases_sql)
                        .bind(bound)
                        .fetch_all(pool)
                        .await?
                }
            };
            Ok::<_, crate::StoreError>(rows)
        };
        let (mut cases, activity) = tokio::try_join!(cases, self.activity(as_of))?;
        cases.dedup_by_key(|c| c.0);
        let by_customer: FxHashMap<i64, Activity> =
            activity.iter().map(|a| (a.customer_id, *a)).collect();

        let mut rows: Vec<RecoveryRow> = Vec::with_capacity(activity.len().max(cases.len()));
        let mut delays: Vec<i64> = Vec::new();
        for (customer_id, opened_at, resolved_at, due, our_fault) in cases {
            let outcome = match resolved_at {
                Some(r) if r < bound => match due {
                    Some(d) if r > d => CaseOutcome::Late,
                    _ => CaseOutcome::WithinSla,
                },
                _ => CaseOutcome::Unresolved,
            };
            let act = by_customer.get(&customer_id).copied();
            if let Some(a) = act {
                let delay = (opened_at.date_naive() - a.first).num_days();
                if delay >= 0 {
                    delays.push(delay);
                }
            }
            rows.push(RecoveryRow {
                customer_id,
                case: Some(FirstCase {
                    opened_at,
                    outcome,
                    our_fault,
                }),
                activity: act,
                index_at: opened_at,
                next_order_at: None,
                revenue_12m_minor: 0,
            });
        }
        delays.sort_unstable();
        let median_delay_days = (!delays.is_empty()).then(|| {
            let n = delays.len();
            if n % 2 == 1 {
                delays[n / 2]
            } else {
                (delays[n / 2 - 1] + delays[n / 2]) / 2
            }
        });
        let with_case: rustc_hash::FxHashSet<i64> = rows.iter().map(|r| r.customer_id).collect();
        let as_of_start = start_of(as_of);
        for a in &activity {
            if with_case.contains(&a.customer_id) {
                continue;
            }
            let day = a
                .first
                .checked_add_days(Days::new(median_delay_days.unwrap_or(0).max(0) as u64))
                .unwrap_or(as_of)
                .min(as_of);
            rows.push(RecoveryRow {
                customer_id: a.customer_id,
                case: None,
                activity: Some(*a),
                index_at: start_of(day).min(as_of_start),
                next_order_at: None,
                revenue_12m_minor: 0,
            });
        }

        self.purchases_after(&mut rows, bound).await?;
        self.subscription_revenue_after(&mut rows).await?;
        Ok(RecoveryData {
            as_of,
            rows,
            median_delay_days,
        })
    }

    /// Sets each row's next order and the orders' part of its 12 months' revenue.
    async fn purchases_after(&self, rows: &mut [RecoveryRow], bound: DateTime<Utc>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let year = chrono::Duration::days(365);
        // One range scan of the customer's transactions in the year after the index.
        let body = |input: &str, bound_sql: &str| {
            format!(
                "WITH i AS MATERIALIZED ({input}) \
                 SELECT i.n AS n, \
                    min(CASE WHEN t.kind = 'order' THEN t.occurred_at END) AS next_order, \
                    CAST(sum(t.amount_minor) AS BIGINT) AS revenue \
                 FROM i JOIN transactions t ON t.customer_id = i.customer_id \
                    AND t.occurred_at > i.at AND t.occurred_at <= i.until \
                    AND t.occurred_at < {bound_sql} \
                 GROUP BY i.n"
            )
        };
        let decode =
            |rows: &mut [RecoveryRow], n: i64, next: Option<DateTime<Utc>>, revenue: i64| {
                if let Some(r) = usize::try_from(n).ok().and_then(|n| rows.get_mut(n)) {
                    r.next_order_at = next;
                    r.revenue_12m_minor = revenue;
                }
            };
        match &self.backend {
            Backend::Sqlite(pool) => {
                // [[n, customer_id, at, until], ...]; two halves on two connections.
                let json = |range: std::ops::Range<usize>| {
                    use std::fmt::Write as _;
                    let mut j = String::with_capacity(range.len() * 72 + 2);
                    j.push('[');
                    for n in range {
                        let r = &rows[n];
                        if j.len() > 1 {
                            j.push(',');
                        }
                        let _ = write!(
                            j,
                            "[{n},{},\"{}\",\"{}\"]",
                            r.customer_id,
                            sqlite_text(r.index_at),
                            sqlite_text(r.index_at + year)
                        );
                    }
                    j.push(']');
                    j
                };
                let sql = format!(
                    "SELECT json_group_array(json_array(n, next_order, revenue)) FROM ({})",
                    body(
                        "SELECT CAST(json_extract(value, '$[0]') AS INTEGER) AS n, \
                            CAST(json_extract(value, '$[1]') AS INTEGER) AS customer_id, \
                            json_extract(value, '$[2]') AS at, json_extract(value, '$[3]') AS until \
                         FROM json_each($1)",
                        "$2",
                    )
                );
                let mid = rows.len() / 2;
                let (a, b) = (json(0..mid), json(mid..rows.len()));
                let q = |j: String| {
                    sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.clone()))
                        .bind(j)
                        .bind(sqlite_text(bound))
                        .fetch_one(pool)
                };
                // One JSON array per half: [[n, next order, revenue], ...].
                let (ra, rb) = tokio::try_join!(q(a), q(b))?;
                for text in [ra, rb] {
                    let found: Vec<(i64, Option<String>, i64)> =
                        serde_json::from_str(&text).map_err(crate::json_err)?;
                    for (n, next, revenue) in found {
                        let next = next.and_then(|s| {
                            DateTime::parse_from_rfc3339(&s)
                                .ok()
                                .map(|t| t.with_timezone(&Utc))
                        });
                        decode(rows, n, next, revenue);
                    }
                }
            }
            Backend::Postgres(pool) => {
                let n: Vec<i64> = (0..rows.len() as i64).collect();
                let ids: Vec<i64> = rows.iter().map(|r| r.customer_id).collect();
                let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.index_at).collect();
                let until: Vec<DateTime<Utc>> = rows.iter().map(|r| r.index_at + year).collect();
                let sql = body(
                    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[]) \
                     AS u(n, customer_id, at, until)",
                    "$5",
                );
                let found = sqlx::query(AssertSqlSafe(sql))
                    .bind(n)
                    .bind(ids)
                    .bind(at)
                    .bind(until)
                    .bind(bound)
                    .fetch_all(pool)
                    .await?;
                for r in &found {
                    decode(
                        rows,
                        r.try_get("n")?,
                        r.try_get("next_order")?,
                        r.try_get("revenue")?,
                    );
                }
            }
        }
        Ok(())
    }

    /// Adds to each row's revenue the subscription periods that start in the 365 days
    /// after its index day.
    async fn subscription_revenue_after(&self, rows: &mut [RecoveryRow]) -> Result<()> {
        use kanta_domain::subscription::{Period, Subscription, revenue_to_date};
        type R = (i64, i64, String, NaiveDate, Option<NaiveDate>);
        let subs: Vec<R> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT customer_id, amount_minor, period, started_on, ended_on FROM subscriptions",
            )
            .fetch_all(pool)
            .await?
        });
        if subs.is_empty() {
            return Ok(());
        }
        let mut by_customer: FxHashMap<i64, Vec<Subscription>> = FxHashMap::default();
        for (customer_id, amount_minor, period, started_on, ended_on) in subs {
            let Some(period) = Period::parse(&period) else {
                continue;
            };
            by_customer
                .entry(customer_id)
                .or_default()
                .push(Subscription {
                    plan: String::new(),
                    amount_minor,
                    period,
                    started_on,
                    ended_on,
                    renews_on: None,
                });
        }
        for r in rows.iter_mut() {
            let Some(subs) = by_customer.get(&r.customer_id) else {
                continue;
            };
            let from = r.index_at.date_naive();
            let to = from.checked_add_days(Days::new(365)).unwrap_or(from);
            for s in subs {
                r.revenue_12m_minor = r
                    .revenue_12m_minor
                    .saturating_add(revenue_to_date(s, to) - revenue_to_date(s, from));
            }
        }
        Ok(())
    }
}
