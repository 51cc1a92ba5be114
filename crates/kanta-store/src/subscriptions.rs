//! The customers' subscription figures (`mrr_minor`, `subscription_revenue_minor`,
//! `next_renewal_on`, `plan` on `customers`, migration 0007), derived by the one rule
//! of `kanta_domain::subscription` (revenue = billed periods) as of a day.
//!
//! The [`Writer`](crate::Writer) recomputes them, in its transaction, for the customers
//! whose subscriptions a write touches (the staged rows' customers, and the former
//! customers of rows moved to another), as of today (the store's day when the core sets it, else UTC); a bulk load recomputes every
//! subscriber. Because billed periods and renewals move with the calendar,
//! [`Writer::refresh_subscription_figures`] recomputes every subscriber's (the daily
//! `subscriptions.refresh` job in kanta-core). Billing periods are computed in Rust,
//! not SQL: the subscriptions of the customers concerned are read inside the
//! transaction, and only the customers whose figures changed are updated.

use std::fmt::Write as _;

use chrono::NaiveDate;
use kanta_domain::schema::Field;
use kanta_domain::subscription::{self, Period, Subscription};
use rustc_hash::FxHashMap as HashMap;
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::write::DbTx;
use crate::{Result, Store, Writer, with_pool};

/// The temporary table of customers whose figures a merge of subscriptions changes.
pub(crate) const TOUCHED: &str = "kanta_sub_touched";

/// Before a merge of staged subscriptions: notes their customers (new and former).
pub(crate) fn before_merge(fields: &[&Field], postgres: bool) -> Vec<String> {
    let select = if fields.iter().any(|f| f.column == "customer_id") {
        "SELECT s.customer_id FROM kanta_stage s \
         UNION SELECT t.customer_id FROM subscriptions t JOIN kanta_stage s ON s.external_id = t.external_id"
    } else {
        "SELECT t.customer_id FROM subscriptions t JOIN kanta_stage s ON s.external_id = t.external_id"
    };
    if postgres {
        vec![
            format!("DROP TABLE IF EXISTS {TOUCHED}"),
            format!("CREATE TEMP TABLE {TOUCHED} ON COMMIT DROP AS {select}"),
        ]
    } else {
        vec![
            format!("DROP TABLE IF EXISTS temp.{TOUCHED}"),
            format!("CREATE TEMP TABLE {TOUCHED} AS {select}"),
        ]
    }
}

/// One subscription row as read back for the rule.
type Row = (
    i64,
    String,
    i64,
    String,
    NaiveDate,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

/// One customer's figures to write.
struct Figures {
    id: i64,
    mrr: i64,
    revenue: i64,
    renewal: Option<NaiveDate>,
    plan: Option<String>,
}

/// Recomputes the figures of the customers `ids_sql` selects (a column `customer_id`),
/// or of every customer with subscriptions or figures when `None`, as of `as_of`.
/// Returns how many customers' figures changed.
pub(crate) async fn refresh(tx: &mut DbTx, ids_sql: Option<&str>, as_of: NaiveDate) -> Result<u64> {
    let scope = match ids_sql {
        Some(ids) => format!("customer_id IN ({ids})"),
        None => "true".into(),
    };
    let read = format!(
        "SELECT customer_id, plan, amount_minor, period, started_on, ended_on, renews_on \
         FROM subscriptions WHERE {scope} ORDER BY customer_id, started_on, id"
    );
    let rows: Vec<Row> = match tx {
        DbTx::Sqlite(c) => {
            sqlx::query_as::<Sqlite, Row>(AssertSqlSafe(read))
                .fetch_all(&mut **c)
                .await?
        }
        DbTx::Postgres(c) => {
            sqlx::query_as::<Postgres, Row>(AssertSqlSafe(read))
                .fetch_all(&mut **c)
                .await?
        }
    };
    let mut by_customer: HashMap<i64, Vec<Subscription>> = HashMap::default();
    for (customer, plan, amount_minor, period, started_on, ended_on, renews_on) in rows {
        by_customer.entry(customer).or_default().push(Subscription {
            plan,
            amount_minor,
            period: Period::parse(&period).unwrap_or(Period::Month),
            started_on,
            ended_on,
            renews_on,
        });
    }
    let mut figures: Vec<Figures> = by_customer
        .into_iter()
        .map(|(id, subs)| {
            let f = subscription::figures(&subs, as_of);
            Figures {
                id,
                mrr: f.mrr_minor,
                revenue: f.revenue_minor,
                renewal: f.next_renewal_on,
                plan: f.plan(),
            }
        })
        .collect();
    figures.sort_by_key(|f| f.id);
    let mut changed = 0;
    // Customers left without subscriptions lose their figures.
    let without = format!(
        "UPDATE customers SET mrr_minor = 0, subscription_revenue_minor = 0, next_renewal_on = NULL, plan = NULL \
         WHERE {} AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = customers.id) \
         AND (mrr_minor <> 0 OR subscription_revenue_minor <> 0 OR next_renewal_on IS NOT NULL OR plan IS NOT NULL)",
        match ids_sql {
            Some(ids) => format!("id IN ({ids})"),
            None => "true".into(),
        }
    );
    changed += match tx {
        DbTx::Sqlite(c) => sqlx::query::<Sqlite>(AssertSqlSafe(without))
            .execute(&mut **c)
            .await?
            .rows_affected(),
        DbTx::Postgres(c) => sqlx::query::<Postgres>(AssertSqlSafe(without))
            .execute(&mut **c)
            .await?
            .rows_affected(),
    };
    const SET: &str = "SET mrr_minor = a.mrr, subscription_revenue_minor = a.revenue, \
         next_renewal_on = a.renewal, plan = a.plan";
    const DIFFERS: &str = "(customers.mrr_minor IS DISTINCT FROM a.mrr \
         OR customers.subscription_revenue_minor IS DISTINCT FROM a.revenue \
         OR customers.next_renewal_on IS DISTINCT FROM a.renewal \
         OR customers.plan IS DISTINCT FROM a.plan)";
    for chunk in figures.chunks(10_000) {
        changed += match tx {
            DbTx::Sqlite(c) => {
                let mut json = String::with_capacity(chunk.len() * 48);
                json.push('[');
                for (i, f) in chunk.iter().enumerate() {
                    if i > 0 {
                        json.push(',');
                    }
                    let renewal = f.renewal.map_or("null".to_string(), |d| {
                        format!("\"{}\"", d.format("%Y-%m-%d"))
                    });
                    let plan = match &f.plan {
                        Some(p) => serde_json::to_string(p).unwrap_or_else(|_| "null".into()),
                        None => "null".into(),
                    };
                    let _ = write!(json, "[{},{},{},{renewal},{plan}]", f.id, f.mrr, f.revenue);
                }
                json.push(']');
                let sql = format!(
                    "UPDATE customers {SET} FROM (SELECT value->>0 AS id, value->>1 AS mrr, \
                     value->>2 AS revenue, value->>3 AS renewal, value->>4 AS plan FROM json_each($1)) a \
                     WHERE customers.id = a.id AND {DIFFERS}"
                );
                sqlx::query::<Sqlite>(AssertSqlSafe(sql))
                    .bind(json)
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
            }
            DbTx::Postgres(c) => {
                let sql = format!(
                    "UPDATE customers {SET} FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::date[], $5::text[]) \
                     AS a(id, mrr, revenue, renewal, plan) \
                     WHERE customers.id = a.id AND {DIFFERS}"
                );
                sqlx::query::<Postgres>(AssertSqlSafe(sql))
                    .bind(chunk.iter().map(|f| f.id).collect::<Vec<i64>>())
                    .bind(chunk.iter().map(|f| f.mrr).collect::<Vec<i64>>())
                    .bind(chunk.iter().map(|f| f.revenue).collect::<Vec<i64>>())
                    .bind(
                        chunk
                            .iter()
                            .map(|f| f.renewal)
                            .collect::<Vec<Option<NaiveDate>>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|f| f.plan.clone())
                            .collect::<Vec<Option<String>>>(),
                    )
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
            }
        };
    }
    Ok(changed)
}

impl Writer {
    /// Recomputes every subscriber's subscription figures as of `as_of`, in this
    /// writer's transaction (the daily refresh; see the module documentation).
    /// Returns how many customers' figures changed.
    pub async fn refresh_subscription_figures(&mut self, as_of: NaiveDate) -> Result<u64> {
        let changed = refresh(&mut self.tx, None, as_of).await?;
        if changed > 0 {
            self.mark_written();
        }
        Ok(changed)
    }
}

impl Store {
    /// Whether any subscription is stored (the daily refresh has nothing to do
    /// without).
    pub async fn has_subscriptions(&self) -> Result<bool> {
        Ok(
            with_pool!(self, pool => sqlx::query("SELECT 1 FROM subscriptions LIMIT 1")
            .fetch_optional(pool)
            .await?
            .is_some()),
        )
    }
}
