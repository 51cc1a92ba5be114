//! Who owns each customer (`customers.owner_id`, a staff row), in SQL:
//!
//! - [`Writer::owner_rule_setting`], [`Writer::new_unowned_customers`],
//!   [`Writer::owner_candidates`], [`Writer::set_owners`]: what the core's owner rule
//!   needs inside a write of customers (the `owner_rule` setting, the customers this
//!   write inserted without an owner, the staff who may own customers with the value
//!   they own, and the assignment as one statement per 100,000 customers).
//! - [`Writer::assign_owners_where`]: a manager's bulk assignment by segment, tier or
//!   list, one `UPDATE`.
//! - [`Store::owner_overview`]: per staff member their customers, the value they own
//!   and their rows in the contact queue; [`Store::contact_counts`]: contacts made per
//!   staff member and month, and how many of them were proactive and not sales (the
//!   proactive share report).
//! - [`Store::digest_recipients`], [`Store::queue_of_owner`]: the weekly digest's
//!   readers and their queue rows; [`Store::weekly_digest`] and
//!   [`Store::set_weekly_digest`]: a user's opt-out, audited.
//!
//! A customer's value is the 12-month CLV of the newest model run when it scored
//! them, else their revenue (orders net of refunds plus subscriptions billed).

use chrono::{DateTime, Utc};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::AuditEntry;
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, Writer, with_pool};

/// Staff rows that may own customers: active, with the email of an active user of
/// role staff or above (people who sign in and work the queue).
const ELIGIBLE_STAFF: &str = "SELECT s.id FROM staff s WHERE s.active = $1 AND s.email IS NOT NULL \
     AND EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(s.email) AND u.active = $1 \
     AND u.role IN ('staff','manager','admin'))";

/// A customer's value over the alias `c` and the newest run's scores `sc` (joined
/// on the run and the customer).
const VALUE: &str = "COALESCE(sc.clv_12_minor, c.revenue_minor + c.subscription_revenue_minor)";

/// The newest model run's id (0 when none).
const NEWEST_RUN: &str = "(SELECT COALESCE(MAX(id), 0) FROM model_runs)";

/// A staff member who may be given new customers, with what they own now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerCandidate {
    /// The staff row's internal id.
    pub staff_id: i64,
    /// Customers they own.
    pub customers: i64,
    /// The value of those customers, in minor units.
    pub value_minor: i64,
}

/// Which customers a bulk assignment changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerSelector {
    Segment(String),
    Tier(String),
    /// Internal ids.
    Ids(Vec<i64>),
}

/// One staff member on the owners page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OwnerRow {
    pub staff_id: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub customers: i64,
    pub value_minor: i64,
    /// Their customers' rows in the contact queue.
    pub queue: i64,
}

/// Contacts of one staff member in one month.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContactCount {
    /// `YYYY-MM`.
    pub month: String,
    pub staff_id: String,
    pub name: String,
    /// Interactions made by them.
    pub contacts: i64,
    /// Of those, proactive and not about sales or renewal.
    pub proactive: i64,
}

/// A user who gets the weekly digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecipient {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub lang: Option<String>,
    /// Their staff row's internal id.
    pub staff_id: i64,
}

/// A row of the contact queue as the digest shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestRow {
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub tier: Option<String>,
    pub value_at_risk_minor: i64,
    pub currency: Option<String>,
    /// The reasons as stored (a JSON array of `{"key", "args"}`).
    pub reasons: String,
}

/// Binds `Vec<(i64, i64)>` pairs as one parameter: JSON text on SQLite.
fn pairs_json(pairs: &[(i64, i64)]) -> String {
    let mut s = String::with_capacity(pairs.len() * 16 + 2);
    s.push('[');
    for (i, (a, b)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("[{a},{b}]"));
    }
    s.push(']');
    s
}

impl Writer {
    /// The `owner_rule` setting as stored (read in this transaction), `None` when unset.
    pub async fn owner_rule_setting(&mut self) -> Result<Option<String>> {
        let sql = "SELECT value FROM settings WHERE key = 'owner_rule'";
        let v: Option<String> =
            on_tx!(&mut self.tx, c => sqlx::query_scalar(sql).fetch_optional(&mut **c).await?);
        Ok(
            v.map(|t| match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(serde_json::Value::String(s)) => s,
                _ => t,
            }),
        )
    }

    /// Of the customers with these external ids, the internal ids of those this
    /// write's transaction inserted and that have no owner, in insertion order: those
    /// with an id above `new_after_id`, the greatest id before the write (the same
    /// test on both backends; an existing customer written again is not new, whenever
    /// it was created).
    pub async fn new_unowned_customers(
        &mut self,
        ids: &[String],
        new_after_id: i64,
    ) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        match &mut self.tx {
            DbTx::Postgres(c) => {
                let sql = "SELECT c.id FROM unnest($1::text[]) AS w(id) \
                           JOIN customers c ON c.external_id = w.id \
                           WHERE c.owner_id IS NULL AND c.id > $2 ORDER BY c.id";
                let rows: Vec<i64> = sqlx::query_scalar(sql)
                    .bind(ids)
                    .bind(new_after_id)
                    .fetch_all(&mut **c)
                    .await?;
                out.extend(rows);
            }
            DbTx::Sqlite(c) => {
                let sql = "SELECT c.id FROM customers c WHERE c.external_id IN \
                           (SELECT value FROM json_each($1)) AND c.owner_id IS NULL \
                           AND c.id > $2 ORDER BY c.id";
                for chunk in ids.chunks(100_000) {
                    let json = serde_json::to_string(chunk).map_err(crate::json_err)?;
                    let rows: Vec<i64> = sqlx::query_scalar(sql)
                        .bind(json)
                        .bind(new_after_id)
                        .fetch_all(&mut **c)
                        .await?;
                    out.extend(rows);
                }
                out.sort_unstable();
            }
        }
        Ok(out)
    }

    /// The staff who may own customers (see the module), in id order, each with the
    /// customers they own and those customers' value; `with_value` false skips the
    /// value (round robin needs only who).
    pub async fn owner_candidates(&mut self, with_value: bool) -> Result<Vec<OwnerCandidate>> {
        let sql = if with_value {
            format!(
                "SELECT e.id AS staff_id, \
                 CAST((SELECT count(*) FROM customers c WHERE c.owner_id = e.id) AS BIGINT) AS customers, \
                 CAST((SELECT COALESCE(SUM({VALUE}), 0) FROM customers c \
                   LEFT JOIN customer_scores sc ON sc.run_id = {NEWEST_RUN} AND sc.customer_id = c.id \
                   WHERE c.owner_id = e.id) AS BIGINT) AS value_minor \
                 FROM ({ELIGIBLE_STAFF}) e ORDER BY e.id"
            )
        } else {
            format!(
                "SELECT e.id AS staff_id, CAST(0 AS BIGINT) AS customers, CAST(0 AS BIGINT) AS value_minor \
                 FROM ({ELIGIBLE_STAFF}) e ORDER BY e.id"
            )
        };
        let rows = on_tx!(&mut self.tx, c => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(true).fetch_all(&mut **c).await?;
            rows.iter()
                .map(|r| {
                    Ok(OwnerCandidate {
                        staff_id: r.try_get("staff_id")?,
                        customers: r.try_get("customers")?,
                        value_minor: r.try_get("value_minor")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        });
        Ok(rows)
    }

    /// The owner of the newest customer that has one (round robin goes on after them).
    pub async fn last_assigned_owner(&mut self) -> Result<Option<i64>> {
        // Newest first along the primary key; the first owned one ends the walk.
        let sql =
            "SELECT owner_id FROM customers WHERE owner_id IS NOT NULL ORDER BY id DESC LIMIT 1";
        Ok(on_tx!(&mut self.tx, c => sqlx::query_scalar(sql).fetch_optional(&mut **c).await?))
    }

    /// Sets each `(customer, staff)` pair's owner (internal ids): one statement per
    /// 100,000 customers. Returns the customers changed.
    pub async fn set_owners(&mut self, pairs: &[(i64, i64)]) -> Result<u64> {
        let now = self.tx.now();
        let mut n = 0;
        for chunk in pairs.chunks(100_000) {
            n += match &mut self.tx {
                DbTx::Postgres(c) => {
                    let customers: Vec<i64> = chunk.iter().map(|p| p.0).collect();
                    let staff: Vec<i64> = chunk.iter().map(|p| p.1).collect();
                    let sql = format!(
                        "UPDATE customers SET owner_id = w.staff, updated_at = {now} \
                         FROM unnest($1::bigint[], $2::bigint[]) AS w(id, staff) WHERE customers.id = w.id"
                    );
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(customers)
                        .bind(staff)
                        .execute(&mut **c)
                        .await?
                        .rows_affected()
                }
                DbTx::Sqlite(c) => {
                    let sql = format!(
                        "UPDATE customers SET owner_id = w.staff, updated_at = {now} \
                         FROM (SELECT value->>0 AS id, value->>1 AS staff FROM json_each($1)) AS w \
                         WHERE customers.id = w.id"
                    );
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(pairs_json(chunk))
                        .execute(&mut **c)
                        .await?
                        .rows_affected()
                }
            };
        }
        Ok(n)
    }

    /// Gives the customers `selector` picks the owner `staff` (internal id; `None`
    /// takes their owner away), only those without one when `only_unowned`. One
    /// statement; returns the customers changed.
    pub async fn assign_owners_where(
        &mut self,
        selector: &OwnerSelector,
        staff: Option<i64>,
        only_unowned: bool,
    ) -> Result<u64> {
        let now = self.tx.now();
        let pg = self.tx.is_postgres();
        let cond = match selector {
            OwnerSelector::Segment(_) => "segment = $2".to_string(),
            OwnerSelector::Tier(_) => "tier = $2".to_string(),
            OwnerSelector::Ids(_) if pg => "id = ANY($2::bigint[])".to_string(),
            OwnerSelector::Ids(_) => "id IN (SELECT value FROM json_each($2))".to_string(),
        };
        let unowned = if only_unowned {
            " AND owner_id IS NULL"
        } else {
            // Customers whose owner would not change are not written.
            " AND owner_id IS DISTINCT FROM $1"
        };
        let sql =
            format!("UPDATE customers SET owner_id = $1, updated_at = {now} WHERE {cond}{unowned}");
        let n = match &mut self.tx {
            DbTx::Postgres(c) => {
                let q = sqlx::query(AssertSqlSafe(sql)).bind(staff);
                let q = match selector {
                    OwnerSelector::Segment(s) | OwnerSelector::Tier(s) => q.bind(s.clone()),
                    OwnerSelector::Ids(ids) => q.bind(ids.clone()),
                };
                q.execute(&mut **c).await?.rows_affected()
            }
            DbTx::Sqlite(c) => {
                let arg = match selector {
                    OwnerSelector::Segment(s) | OwnerSelector::Tier(s) => s.clone(),
                    OwnerSelector::Ids(ids) => {
                        serde_json::to_string(ids).map_err(crate::json_err)?
                    }
                };
                sqlx::query(AssertSqlSafe(sql))
                    .bind(staff)
                    .bind(arg)
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
            }
        };
        Ok(n)
    }
}

impl Store {
    /// Every staff member who owns customers or may own them (active), with their
    /// customers, the value they own and their rows in the contact queue; by name.
    pub async fn owner_overview(&self) -> Result<Vec<OwnerRow>> {
        let sql = format!(
            "WITH o AS (SELECT c.owner_id AS staff, CAST(count(*) AS BIGINT) AS customers, \
               CAST(COALESCE(SUM({VALUE}), 0) AS BIGINT) AS value_minor \
               FROM customers c LEFT JOIN customer_scores sc ON sc.run_id = {NEWEST_RUN} AND sc.customer_id = c.id \
               WHERE c.owner_id IS NOT NULL GROUP BY c.owner_id), \
             q AS (SELECT owner_id AS staff, CAST(count(*) AS BIGINT) AS queue FROM contact_queue \
               WHERE owner_id IS NOT NULL GROUP BY owner_id) \
             SELECT s.external_id, s.name, s.email, s.active, \
               COALESCE(o.customers, 0) AS customers, COALESCE(o.value_minor, 0) AS value_minor, \
               COALESCE(q.queue, 0) AS queue \
             FROM staff s LEFT JOIN o ON o.staff = s.id LEFT JOIN q ON q.staff = s.id \
             WHERE o.staff IS NOT NULL OR s.id IN ({ELIGIBLE_STAFF}) \
             ORDER BY s.name, s.id"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(true).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(OwnerRow {
                        staff_id: r.try_get("external_id")?,
                        name: r.try_get("name")?,
                        email: r.try_get("email")?,
                        active: r.try_get("active")?,
                        customers: r.try_get("customers")?,
                        value_minor: r.try_get("value_minor")?,
                        queue: r.try_get("queue")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// The active staff members (external id, name) by name, at most 1,000: the
    /// owner filter's choices.
    pub async fn staff_choices(&self) -> Result<Vec<(String, String)>> {
        let sql =
            "SELECT external_id, name FROM staff WHERE active = $1 ORDER BY name, id LIMIT 1000";
        with_pool!(self, pool => Ok(sqlx::query_as(sql).bind(true).fetch_all(pool).await?))
    }

    /// The staff row (internal id) with this external id.
    pub async fn staff_key(&self, external_id: &str) -> Result<Option<i64>> {
        let sql = "SELECT id FROM staff WHERE external_id = $1";
        with_pool!(self, pool => Ok(sqlx::query_scalar(sql).bind(external_id).fetch_optional(pool).await?))
    }

    /// Contacts made (interactions with a staff member) from the first of `months`
    /// on, per staff member and month (`months`: each month's key and first instant,
    /// oldest first), with the proactive ones that were not about sales or renewal.
    pub async fn contact_counts(
        &self,
        months: &[(String, DateTime<Utc>)],
    ) -> Result<Vec<ContactCount>> {
        let Some((_, since)) = months.first() else {
            return Ok(Vec::new());
        };
        // Month keys by a CASE over the months' first instants, newest first.
        let mut month = String::from("CASE");
        let mut n = 1;
        for _ in months.iter().rev() {
            month.push_str(&format!(
                " WHEN i.occurred_at >= ${} THEN ${}",
                n + 1,
                n + 2
            ));
            n += 2;
        }
        month.push_str(" END");
        let proactive =
            "i.proactive = $1 AND (i.purpose IS NULL OR i.purpose NOT IN ('sales','renewal'))";
        let sql = format!(
            "SELECT g.month AS month, s.external_id AS staff_id, s.name AS name, g.contacts, g.proactive \
             FROM (SELECT {month} AS month, i.staff_id AS staff, CAST(count(*) AS BIGINT) AS contacts, \
               CAST(SUM(CASE WHEN {proactive} THEN 1 ELSE 0 END) AS BIGINT) AS proactive \
               FROM interactions i WHERE i.staff_id IS NOT NULL AND i.occurred_at >= ${since_p} \
               GROUP BY 1, 2) g JOIN staff s ON s.id = g.staff \
             ORDER BY g.month, s.name",
            since_p = n + 1
        );
        macro_rules! run {
            ($pool:expr, $time:expr) => {{
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(true);
                for (key, start) in months.iter().rev() {
                    q = q.bind($time(start)).bind(key.clone());
                }
                let rows = q.bind($time(since)).fetch_all($pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(ContactCount {
                            month: r.try_get::<Option<String>, _>("month")?.unwrap_or_default(),
                            staff_id: r.try_get("staff_id")?,
                            name: r.try_get("name")?,
                            contacts: r.try_get("contacts")?,
                            proactive: r.try_get("proactive")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            }};
        }
        match &self.backend {
            crate::Backend::Sqlite(pool) => run!(pool, |t: &DateTime<Utc>| format_time(t)),
            crate::Backend::Postgres(pool) => run!(pool, |t: &DateTime<Utc>| *t),
        }
    }

    /// The users who get the weekly digest: active, of role staff or above, the
    /// digest not turned off, with an active staff row of their email that owns
    /// customers.
    pub async fn digest_recipients(&self) -> Result<Vec<DigestRecipient>> {
        let sql = "SELECT u.id AS user_id, u.email, u.name, u.lang, \
                   (SELECT s.id FROM staff s WHERE lower(s.email) = lower(u.email) AND s.active = $1 \
                    AND EXISTS (SELECT 1 FROM customers c WHERE c.owner_id = s.id) ORDER BY s.id LIMIT 1) AS staff_id \
                   FROM users u WHERE u.active = $1 AND u.weekly_digest = $1 \
                   AND u.role IN ('staff','manager','admin') ORDER BY u.id";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(true).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in &rows {
                let Some(staff_id) = r.try_get::<Option<i64>, _>("staff_id")? else {
                    continue;
                };
                out.push(DigestRecipient {
                    user_id: r.try_get("user_id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    lang: r.try_get("lang")?,
                    staff_id,
                });
            }
            Ok(out)
        })
    }

    /// The staff member's rows of the contact queue, most value at risk first (at
    /// most `limit`), and how many rows they have in all.
    pub async fn queue_of_owner(&self, staff_id: i64, limit: u32) -> Result<(Vec<DigestRow>, i64)> {
        let sql = "SELECT c.external_id, c.name, q.tier, q.value_at_risk_minor, q.currency, \
                   CAST(q.reasons AS TEXT) AS reasons \
                   FROM contact_queue q JOIN customers c ON c.id = q.customer_id \
                   WHERE q.owner_id = $1 ORDER BY q.value_at_risk_minor DESC, q.customer_id LIMIT $2";
        let count = "SELECT CAST(count(*) AS BIGINT) FROM contact_queue WHERE owner_id = $1";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(staff_id).bind(i64::from(limit)).fetch_all(pool).await?;
            let out = rows
                .iter()
                .map(|r| {
                    Ok(DigestRow {
                        customer_id: r.try_get("external_id")?,
                        customer_name: r.try_get("name")?,
                        tier: r.try_get("tier")?,
                        value_at_risk_minor: r.try_get("value_at_risk_minor")?,
                        currency: r.try_get("currency")?,
                        reasons: r.try_get("reasons")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let total: i64 = sqlx::query_scalar(count).bind(staff_id).fetch_one(pool).await?;
            Ok((out, total))
        })
    }

    /// Whether the user wants the weekly digest (`None`: no such user).
    pub async fn weekly_digest(&self, user_id: i64) -> Result<Option<bool>> {
        let sql = "SELECT weekly_digest FROM users WHERE id = $1";
        with_pool!(self, pool => Ok(sqlx::query_scalar(sql).bind(user_id).fetch_optional(pool).await?))
    }

    /// Turns the user's weekly digest on or off, with `audit` (its `changes` gain the
    /// value before and after) in the same transaction. `false` when no such user.
    pub async fn set_weekly_digest(
        &self,
        user_id: i64,
        on: bool,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let before: Option<bool> = on_tx!(&mut tx, c => sqlx::query_scalar("SELECT weekly_digest FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut **c)
            .await?);
        let Some(before) = before else {
            return Ok(false);
        };
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE users SET weekly_digest = $2 WHERE id = $1")
                .bind(user_id)
                .bind(on)
                .execute(&mut **c)
                .await?;
        });
        let mut e = audit.clone();
        e.changes = serde_json::json!({ "weekly_digest": { "before": before, "after": on } });
        tx.audit(&e).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(any(test, feature = "testing"))]
impl Store {
    /// Tests only: puts a row into the contact queue (the queue's own writer is
    /// `queue.rs`'s) for the customer and owner (external ids), with `reasons` as the
    /// stored JSON array.
    pub async fn put_queue_row_for_tests(
        &self,
        customer: &str,
        owner: Option<&str>,
        value_at_risk_minor: i64,
        reasons: &str,
    ) -> Result<()> {
        let keys: Vec<String> = serde_json::from_str::<serde_json::Value>(reasons)
            .ok()
            .and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|r| r.get("key")?.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default();
        let pg = matches!(self.backend, crate::Backend::Postgres(_));
        let (json, now) = if pg {
            ("CAST($4 AS JSONB)", "now()")
        } else {
            ("$4", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        };
        let sql = format!(
            "INSERT INTO contact_queue (customer_id, owner_id, tier, value_at_risk_minor, currency, \
             churn_probability, reasons, reason_keys, computed_at) \
             SELECT c.id, (SELECT s.id FROM staff s WHERE s.external_id = $2), c.tier, $3, 'EUR', 0.5, {json}, $5, {now} \
             FROM customers c WHERE c.external_id = $1"
        );
        with_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(customer)
                .bind(owner)
                .bind(value_at_risk_minor)
                .bind(reasons)
                .bind(keys.join(","))
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
