//! The ideas box in SQL (the rules are the core's, `kanta_core::ideas`):
//!
//! - [`Writer::insert_idea`], [`Writer::set_idea_status`], [`Writer::theme_exists`]:
//!   inside the core's write (its audit entry in the same transaction).
//! - [`Store::ideas`]: ideas newest first, all or one submitter's, optionally of one
//!   status, with the submitter's and replier's names, the customer and the theme;
//!   [`Store::idea`]: one.
//!
//! Times are epoch milliseconds (`created_ms`, `updated_ms`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::write::on_tx;
use crate::{Result, Store, Writer, with_pool};

/// One idea as the pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdeaRow {
    pub id: i64,
    pub body: String,
    pub status: String,
    pub reply: Option<String>,
    /// The submitter's user id and name.
    pub submitted_by: i64,
    pub submitter_name: Option<String>,
    pub replied_by: Option<i64>,
    pub replier_name: Option<String>,
    /// The customer's external id and name.
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub theme_id: Option<i64>,
    pub theme_label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which ideas to list.
#[derive(Debug, Clone, Default)]
pub struct IdeaQuery {
    /// Only this user's.
    pub submitted_by: Option<i64>,
    pub status: Option<String>,
    pub limit: u32,
}

const SELECT: &str = "SELECT i.id, i.body, i.status, i.reply, i.submitted_by, su.name AS submitter_name, \
     i.replied_by, ru.name AS replier_name, c.external_id AS customer_id, c.name AS customer_name, \
     i.theme_id, CASE WHEN t.id IS NULL THEN NULL ELSE t.label END AS theme_label, i.created_ms, i.updated_ms \
     FROM ideas i LEFT JOIN users su ON su.id = i.submitted_by LEFT JOIN users ru ON ru.id = i.replied_by \
     LEFT JOIN customers c ON c.id = i.customer_id LEFT JOIN feedback_themes t ON t.id = i.theme_id";

trait IdeaGet {
    fn idea_row(&self) -> Result<IdeaRow>;
}

macro_rules! impl_idea_get {
    ($row:ty) => {
        impl IdeaGet for $row {
            fn idea_row(&self) -> Result<IdeaRow> {
                Ok(IdeaRow {
                    id: self.try_get("id")?,
                    body: self.try_get("body")?,
                    status: self.try_get("status")?,
                    reply: self.try_get("reply")?,
                    submitted_by: self.try_get("submitted_by")?,
                    submitter_name: self.try_get("submitter_name")?,
                    replied_by: self.try_get("replied_by")?,
                    replier_name: self.try_get("replier_name")?,
                    customer_id: self.try_get("customer_id")?,
                    customer_name: self.try_get("customer_name")?,
                    theme_id: self.try_get("theme_id")?,
                    theme_label: self.try_get("theme_label")?,
                    created_at: crate::from_ms(self.try_get("created_ms")?),
                    updated_at: crate::from_ms(self.try_get("updated_ms")?),
                })
            }
        }
    };
}
impl_idea_get!(sqlx::sqlite::SqliteRow);
impl_idea_get!(sqlx::postgres::PgRow);

impl Writer {
    /// Inserts an idea (status `new`); returns its id.
    pub async fn insert_idea(
        &mut self,
        submitted_by: i64,
        body: &str,
        customer_id: Option<i64>,
        theme_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let sql = "INSERT INTO ideas (submitted_by, body, customer_id, theme_id, status, created_ms, updated_ms) \
                   VALUES ($1, $2, $3, $4, 'new', $5, $5) RETURNING id";
        let at = crate::to_ms(now);
        Ok(on_tx!(&mut self.tx, c => sqlx::query_scalar(sql)
            .bind(submitted_by)
            .bind(body)
            .bind(customer_id)
            .bind(theme_id)
            .bind(at)
            .fetch_one(&mut **c)
            .await?))
    }

    /// Sets an idea's status and reply (`replied_by` the manager's user id); returns
    /// the status and reply before, `None` when there is no such idea.
    pub async fn set_idea_status(
        &mut self,
        id: i64,
        status: &str,
        reply: Option<&str>,
        replied_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Option<String>)>> {
        let before: Option<(String, Option<String>)> = on_tx!(&mut self.tx, c => sqlx::query_as(
                "SELECT status, reply FROM ideas WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **c)
            .await?);
        if before.is_none() {
            return Ok(None);
        }
        let sql = "UPDATE ideas SET status = $2, reply = $3, replied_by = $4, updated_ms = $5 WHERE id = $1";
        on_tx!(&mut self.tx, c => {
            sqlx::query(sql)
                .bind(id)
                .bind(status)
                .bind(reply)
                .bind(replied_by)
                .bind(crate::to_ms(now))
                .execute(&mut **c)
                .await?;
        });
        Ok(before)
    }

    /// Whether a theme with this id exists (in this transaction).
    pub async fn theme_exists(&mut self, id: i64) -> Result<bool> {
        let sql = "SELECT CAST(count(*) AS BIGINT) FROM feedback_themes WHERE id = $1";
        let n: i64 =
            on_tx!(&mut self.tx, c => sqlx::query_scalar(sql).bind(id).fetch_one(&mut **c).await?);
        Ok(n > 0)
    }
}

impl Store {
    /// Ideas newest first by `q`, at most `q.limit` (1,000 when 0).
    pub async fn ideas(&self, q: &IdeaQuery) -> Result<Vec<IdeaRow>> {
        let cond = "WHERE (CAST($1 AS BIGINT) IS NULL OR i.submitted_by = $1) \
                    AND (CAST($2 AS TEXT) IS NULL OR i.status = $2)";
        let limit = if q.limit == 0 { 1000 } else { q.limit };
        let sql = format!("{SELECT} {cond} ORDER BY i.created_ms DESC, i.id DESC LIMIT $3");
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(q.submitted_by)
                .bind(q.status.clone())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| r.idea_row()).collect()
        })
    }

    /// One idea.
    pub async fn idea(&self, id: i64) -> Result<Option<IdeaRow>> {
        let sql = format!("{SELECT} WHERE i.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.map(|r| r.idea_row()).transpose()
        })
    }
}
