//! Goals agreed with customers in SQL: a customer's goals and their dated notes (with
//! the staff who wrote them), and the signed links that show them to the customer
//! (`goal_links`: only the token's SHA-256 digest is kept, with an expiry and a
//! revocation), written by the core inside a write transaction through the `Writer`.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::value::format_time;
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::onboarding::{date_col, is_pg, parse_date, parse_time, time_col};
use crate::write::DbTx;
use crate::{Result, Store, Writer, with_pool};

/// One goal.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalRow {
    pub id: String,
    pub agreed_on: NaiveDate,
    pub title: String,
    pub measure: Option<String>,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    pub current: Option<f64>,
    pub due_on: Option<NaiveDate>,
    pub status: String,
    /// Who looks after it (name).
    pub staff_name: Option<String>,
    /// Its notes, oldest first.
    pub notes: Vec<GoalNoteRow>,
}

/// One progress note.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalNoteRow {
    pub id: String,
    pub noted_on: NaiveDate,
    pub value: Option<f64>,
    pub note: String,
    pub staff_name: Option<String>,
}

/// One link to a customer's goals.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalLinkRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The user who created it (id).
    pub created_by: Option<i64>,
}

/// What the public page needs of a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkCustomer {
    pub customer_id: String,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub locale: Option<String>,
    /// When the link opened expires.
    pub expires_at: DateTime<Utc>,
}

type GoalTuple = (
    String,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<String>,
    String,
    Option<String>,
);

type NoteTuple = (String, String, String, Option<f64>, String, Option<String>);

impl Writer {
    /// Inserts a goal link of customer `customer` (internal id) with its token's digest;
    /// returns the link's id.
    pub async fn insert_goal_link(
        &mut self,
        customer: i64,
        token_digest: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        created_by: Option<i64>,
    ) -> Result<i64> {
        let sql = "INSERT INTO goal_links (customer_id, token_digest, created_at, expires_at, created_by) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Ok(match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, i64>(sql)
                    .bind(customer)
                    .bind(token_digest)
                    .bind(format_time(&created_at))
                    .bind(format_time(&expires_at))
                    .bind(created_by)
                    .fetch_one(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, i64>(sql)
                    .bind(customer)
                    .bind(token_digest)
                    .bind(created_at)
                    .bind(expires_at)
                    .bind(created_by)
                    .fetch_one(&mut **tx)
                    .await?
            }
        })
    }

    /// Revokes link `id` of the customer `customer` (external id) at `at`, unless
    /// revoked already; whether it did.
    pub async fn revoke_goal_link(
        &mut self,
        id: i64,
        customer: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE goal_links SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                   AND customer_id = (SELECT c.id FROM customers c WHERE c.external_id = $3)";
        let n = match &mut self.tx {
            DbTx::Sqlite(tx) => sqlx::query::<Sqlite>(sql)
                .bind(format_time(&at))
                .bind(id)
                .bind(customer)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            DbTx::Postgres(tx) => sqlx::query::<Postgres>(sql)
                .bind(at)
                .bind(id)
                .bind(customer)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        };
        Ok(n > 0)
    }
}

impl Store {
    /// The customer's goals (newest agreed first), each with its notes (oldest first).
    pub async fn customer_goals(&self, customer: &str) -> Result<Vec<GoalRow>> {
        let pg = is_pg(self);
        let sql = format!(
            "SELECT g.external_id, {agreed}, g.title, g.measure, g.baseline, g.target, g.current, \
                    {due}, g.status, st.name \
             FROM goals g JOIN customers c ON c.id = g.customer_id \
             LEFT JOIN staff st ON st.id = g.staff_id \
             WHERE c.external_id = $1 ORDER BY g.agreed_on DESC, g.id DESC",
            agreed = date_col(pg, "g.agreed_on"),
            due = date_col(pg, "g.due_on"),
        );
        let goals: Vec<GoalTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .bind(customer)
            .fetch_all(pool)
            .await?);
        let notes_sql = format!(
            "SELECT n.external_id, g.external_id, {noted}, n.value, n.note, st.name \
             FROM goal_notes n JOIN goals g ON g.id = n.goal_id \
             JOIN customers c ON c.id = g.customer_id \
             LEFT JOIN staff st ON st.id = n.staff_id \
             WHERE c.external_id = $1 ORDER BY n.noted_on, n.id",
            noted = date_col(pg, "n.noted_on"),
        );
        let notes: Vec<NoteTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(notes_sql))
            .bind(customer)
            .fetch_all(pool)
            .await?);
        let mut out: Vec<GoalRow> = goals
            .into_iter()
            .map(
                |(id, agreed, title, measure, baseline, target, current, due, status, staff)| {
                    GoalRow {
                        id,
                        agreed_on: parse_date(&agreed).unwrap_or_default(),
                        title,
                        measure,
                        baseline,
                        target,
                        current,
                        due_on: due.as_deref().and_then(parse_date),
                        status,
                        staff_name: staff,
                        notes: Vec::new(),
                    }
                },
            )
            .collect();
        for (id, goal, noted, value, note, staff) in notes {
            if let Some(g) = out.iter_mut().find(|g| g.id == goal) {
                g.notes.push(GoalNoteRow {
                    id,
                    noted_on: parse_date(&noted).unwrap_or_default(),
                    value,
                    note,
                    staff_name: staff,
                });
            }
        }
        Ok(out)
    }

    /// The customer (external id) of goal `goal`, if it exists.
    pub async fn goal_customer(&self, goal: &str) -> Result<Option<String>> {
        let sql = "SELECT c.external_id FROM goals g JOIN customers c ON c.id = g.customer_id \
                   WHERE g.external_id = $1";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(goal)
            .fetch_optional(pool)
            .await?))
    }

    /// The customer's links that are neither revoked nor expired at `now`, newest first.
    pub async fn active_goal_links(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GoalLinkRow>> {
        let pg = is_pg(self);
        let sql = format!(
            "SELECT l.id, {created}, {expires}, {revoked}, l.created_by FROM goal_links l \
             JOIN customers c ON c.id = l.customer_id \
             WHERE c.external_id = $1 AND l.revoked_at IS NULL AND l.expires_at > $2 \
             ORDER BY l.created_at DESC, l.id DESC",
            created = time_col(pg, "l.created_at"),
            expires = time_col(pg, "l.expires_at"),
            revoked = time_col(pg, "l.revoked_at"),
        );
        type Row = (i64, String, String, Option<String>, Option<i64>);
        let rows: Vec<Row> = match &self.backend {
            crate::Backend::Sqlite(pool) => {
                sqlx::query_as::<Sqlite, Row>(AssertSqlSafe(sql))
                    .bind(customer)
                    .bind(format_time(&now))
                    .fetch_all(pool)
                    .await?
            }
            crate::Backend::Postgres(pool) => {
                sqlx::query_as::<Postgres, Row>(AssertSqlSafe(sql))
                    .bind(customer)
                    .bind(now)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(id, c, e, r, by)| GoalLinkRow {
                id,
                created_at: parse_time(&c).unwrap_or_default(),
                expires_at: parse_time(&e).unwrap_or_default(),
                revoked_at: r.as_deref().and_then(parse_time),
                created_by: by,
            })
            .collect())
    }

    /// The customer a link's token digest opens at `now`: `None` when no link has
    /// that digest, or it expired or was revoked.
    pub async fn goal_link_customer(
        &self,
        token_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkCustomer>> {
        let sql = format!(
            "SELECT c.external_id, c.kind, c.name, c.locale, {expires} FROM goal_links l \
             JOIN customers c ON c.id = l.customer_id \
             WHERE l.token_digest = $1 AND l.revoked_at IS NULL AND l.expires_at > $2",
            expires = time_col(is_pg(self), "l.expires_at")
        );
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let row: Option<Row> = match &self.backend {
            crate::Backend::Sqlite(pool) => {
                sqlx::query_as::<Sqlite, Row>(AssertSqlSafe(sql))
                    .bind(token_digest)
                    .bind(format_time(&now))
                    .fetch_optional(pool)
                    .await?
            }
            crate::Backend::Postgres(pool) => {
                sqlx::query_as::<Postgres, Row>(AssertSqlSafe(sql))
                    .bind(token_digest)
                    .bind(now)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(
            row.map(|(customer_id, kind, name, locale, expires)| LinkCustomer {
                customer_id,
                kind,
                name,
                locale,
                expires_at: parse_time(&expires).unwrap_or_default(),
            }),
        )
    }

    /// Every token digest stored (for tests that check no token is kept in clear).
    pub async fn goal_link_digests(&self) -> Result<Vec<String>> {
        let sql = "SELECT token_digest FROM goal_links ORDER BY id";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?))
    }
}
