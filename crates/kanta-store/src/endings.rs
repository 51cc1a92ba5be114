//! Ending a relationship cleanly (migration 0014's `customer_endings`) in SQL; the
//! rules are the core's (`kanta_core::endings`):
//!
//! - inside the core's write (its audit entry in the same transaction):
//!   [`Writer::ending_customer`] (the customer a proposal names, with their owner's
//!   email for the staff check), [`Writer::open_ending_of`], [`Writer::insert_ending`],
//!   [`Writer::ending_in_tx`], [`Writer::decide_ending`], [`Writer::set_ending_mail`],
//!   [`Writer::set_ending_status`] and [`Writer::drop_from_queue`] (an ended customer's
//!   contact queue row goes in the transaction that ends them);
//! - reads: [`Store::ending`], [`Store::endings`] (by status, customer, newest or oldest
//!   first), [`Store::due_endings`] (approved endings whose day has come) and
//!   [`Store::has_approved_endings`] (whether the daily job has anything to look at).
//!
//! Times are epoch milliseconds (`proposed_ms`, `decided_ms`, `ended_ms`); the end date
//! is a calendar date of the store's zone. At most one ending per customer is in
//! progress (proposed or approved): the table's partial unique index keeps it so.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::write::on_tx;
use crate::{Result, Store, Writer, with_pool};

/// One ending as the pages, the API and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndingRow {
    pub id: i64,
    /// The customer's internal id.
    #[serde(skip)]
    pub customer_key: i64,
    /// The customer's external id, name, email and language.
    pub customer_id: String,
    pub customer_name: Option<String>,
    #[serde(skip)]
    pub customer_email: Option<String>,
    #[serde(skip)]
    pub customer_locale: Option<String>,
    /// The customer's status now (active or ended).
    pub customer_status: String,
    /// The email of the customer's owner (a staff member), for the staff rule.
    #[serde(skip)]
    pub owner_email: Option<String>,
    /// One of `kanta_domain::schema::END_REASONS`.
    pub reason: String,
    pub note: Option<String>,
    pub end_on: NaiveDate,
    /// A notice is mailed to the customer on approval.
    pub notify: bool,
    /// proposed, approved, refused, ended or cancelled.
    pub status: String,
    pub proposed_by: Option<i64>,
    pub proposer_name: Option<String>,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<i64>,
    pub decider_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    /// The notice's message in the outbox, once queued.
    pub mail_id: Option<i64>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// The customer a proposal names, as the write reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndingCustomer {
    pub key: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    pub status: String,
    pub owner_email: Option<String>,
}

/// A new proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndingRow {
    pub customer_key: i64,
    pub reason: String,
    pub note: Option<String>,
    pub end_on: NaiveDate,
    pub notify: bool,
    pub proposed_by: Option<i64>,
    pub proposed_at: DateTime<Utc>,
}

/// Which endings to list.
#[derive(Debug, Clone, Default)]
pub struct EndingQuery {
    /// Only these statuses (none: all).
    pub statuses: Vec<String>,
    /// Only this customer's (external id).
    pub customer: Option<String>,
    /// Oldest proposal first (the approval queue), else newest first.
    pub oldest_first: bool,
    /// At most this many (1,000 when 0).
    pub limit: u32,
}

const SELECT: &str = "SELECT e.id, e.customer_id AS customer_key, c.external_id AS customer_ext, \
     c.name AS customer_name, c.email AS customer_email, c.locale AS customer_locale, \
     c.status AS customer_status, s.email AS owner_email, e.reason, e.note, e.end_on, e.notify, \
     e.status, e.proposed_by, pu.name AS proposer_name, e.proposed_ms, e.decided_by, \
     du.name AS decider_name, e.decided_ms, e.decision_note, e.mail_id, e.ended_ms \
     FROM customer_endings e JOIN customers c ON c.id = e.customer_id \
     LEFT JOIN staff s ON s.id = c.owner_id \
     LEFT JOIN users pu ON pu.id = e.proposed_by LEFT JOIN users du ON du.id = e.decided_by";

trait EndingGet {
    fn ending_row(&self) -> Result<EndingRow>;
}

macro_rules! impl_ending_get {
    ($row:ty) => {
        impl EndingGet for $row {
            fn ending_row(&self) -> Result<EndingRow> {
                let ms = |n: &str| -> Result<Option<DateTime<Utc>>> {
                    Ok(self.try_get::<Option<i64>, _>(n)?.map(crate::from_ms))
                };
                Ok(EndingRow {
                    id: self.try_get("id")?,
                    customer_key: self.try_get("customer_key")?,
                    customer_id: self.try_get("customer_ext")?,
                    customer_name: self.try_get("customer_name")?,
                    customer_email: self.try_get("customer_email")?,
                    customer_locale: self.try_get("customer_locale")?,
                    customer_status: self.try_get("customer_status")?,
                    owner_email: self.try_get("owner_email")?,
                    reason: self.try_get("reason")?,
                    note: self.try_get("note")?,
                    end_on: self.try_get("end_on")?,
                    notify: self.try_get("notify")?,
                    status: self.try_get("status")?,
                    proposed_by: self.try_get("proposed_by")?,
                    proposer_name: self.try_get("proposer_name")?,
                    proposed_at: crate::from_ms(self.try_get("proposed_ms")?),
                    decided_by: self.try_get("decided_by")?,
                    decider_name: self.try_get("decider_name")?,
                    decided_at: ms("decided_ms")?,
                    decision_note: self.try_get("decision_note")?,
                    mail_id: self.try_get("mail_id")?,
                    ended_at: ms("ended_ms")?,
                })
            }
        }
    };
}
impl_ending_get!(sqlx::sqlite::SqliteRow);
impl_ending_get!(sqlx::postgres::PgRow);

impl Writer {
    /// The customer with this external id, with their owner's email (in this
    /// transaction); `None` when there is none.
    pub async fn ending_customer(&mut self, external_id: &str) -> Result<Option<EndingCustomer>> {
        let sql = "SELECT c.id, c.name, c.email, c.locale, c.status, s.email \
                   FROM customers c LEFT JOIN staff s ON s.id = c.owner_id WHERE c.external_id = $1";
        type Row6 = (
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let row: Option<Row6> = on_tx!(&mut self.tx, c => sqlx::query_as(sql)
            .bind(external_id)
            .fetch_optional(&mut **c)
            .await?);
        Ok(row.map(
            |(key, name, email, locale, status, owner_email)| EndingCustomer {
                key,
                name,
                email,
                locale,
                status,
                owner_email,
            },
        ))
    }

    /// The id of the customer's ending in progress (proposed or approved), if any.
    pub async fn open_ending_of(&mut self, customer_key: i64) -> Result<Option<i64>> {
        let sql = "SELECT id FROM customer_endings WHERE customer_id = $1 \
                   AND status IN ('proposed', 'approved') LIMIT 1";
        Ok(on_tx!(&mut self.tx, c => sqlx::query_scalar(sql)
            .bind(customer_key)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Inserts a proposal (status `proposed`); returns its id.
    pub async fn insert_ending(&mut self, e: &NewEndingRow) -> Result<i64> {
        let sql = "INSERT INTO customer_endings \
                   (customer_id, reason, note, end_on, notify, status, proposed_by, proposed_ms) \
                   VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7) RETURNING id";
        Ok(on_tx!(&mut self.tx, c => sqlx::query_scalar(sql)
            .bind(e.customer_key)
            .bind(&e.reason)
            .bind(&e.note)
            .bind(e.end_on)
            .bind(e.notify)
            .bind(e.proposed_by)
            .bind(crate::to_ms(e.proposed_at))
            .fetch_one(&mut **c)
            .await?))
    }

    /// One ending as this transaction sees it.
    pub async fn ending_in_tx(&mut self, id: i64) -> Result<Option<EndingRow>> {
        let sql = format!("{SELECT} WHERE e.id = $1");
        on_tx!(&mut self.tx, c => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **c).await?;
            row.map(|r| r.ending_row()).transpose()
        })
    }

    /// Records a decision (approved or refused) by a user (`None`: the command line,
    /// a token) with its note.
    pub async fn decide_ending(
        &mut self,
        id: i64,
        status: &str,
        by: Option<i64>,
        at: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<()> {
        let sql = "UPDATE customer_endings SET status = $2, decided_by = $3, decided_ms = $4, \
                   decision_note = $5 WHERE id = $1";
        on_tx!(&mut self.tx, c => {
            sqlx::query(sql)
                .bind(id)
                .bind(status)
                .bind(by)
                .bind(crate::to_ms(at))
                .bind(note)
                .execute(&mut **c)
                .await?;
        });
        Ok(())
    }

    /// Records the notice's message in the outbox.
    pub async fn set_ending_mail(&mut self, id: i64, mail_id: i64) -> Result<()> {
        on_tx!(&mut self.tx, c => {
            sqlx::query("UPDATE customer_endings SET mail_id = $2 WHERE id = $1")
                .bind(id)
                .bind(mail_id)
                .execute(&mut **c)
                .await?;
        });
        Ok(())
    }

    /// Sets an ending's status (`ended` with the moment, `cancelled`); a cancellation's
    /// note goes to `decision_note` when given.
    pub async fn set_ending_status(
        &mut self,
        id: i64,
        status: &str,
        ended_at: Option<DateTime<Utc>>,
        note: Option<&str>,
    ) -> Result<()> {
        let sql = "UPDATE customer_endings SET status = $2, ended_ms = COALESCE($3, ended_ms), \
                   decision_note = COALESCE($4, decision_note) WHERE id = $1";
        on_tx!(&mut self.tx, c => {
            sqlx::query(sql)
                .bind(id)
                .bind(status)
                .bind(ended_at.map(crate::to_ms))
                .bind(note)
                .execute(&mut **c)
                .await?;
        });
        Ok(())
    }

    /// Takes the customer out of the contact queue (an ended customer is called by
    /// nobody); returns whether a row went.
    pub async fn drop_from_queue(&mut self, customer_key: i64) -> Result<bool> {
        let n = on_tx!(&mut self.tx, c => sqlx::query("DELETE FROM contact_queue WHERE customer_id = $1")
            .bind(customer_key)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }
}

impl Store {
    /// One ending.
    pub async fn ending(&self, id: i64) -> Result<Option<EndingRow>> {
        let sql = format!("{SELECT} WHERE e.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.map(|r| r.ending_row()).transpose()
        })
    }

    /// Endings by `q` (see [`EndingQuery`]).
    pub async fn endings(&self, q: &EndingQuery) -> Result<Vec<EndingRow>> {
        let statuses = serde_json::to_string(&q.statuses).map_err(crate::json_err)?;
        let in_statuses = match self.backend {
            crate::Backend::Sqlite(_) => "e.status IN (SELECT value FROM json_each($1))",
            crate::Backend::Postgres(_) => {
                "e.status IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))"
            }
        };
        let status_cond = if q.statuses.is_empty() {
            "CAST($1 AS TEXT) IS NOT NULL".to_string()
        } else {
            in_statuses.to_string()
        };
        let order = if q.oldest_first {
            "e.proposed_ms, e.id"
        } else {
            "e.proposed_ms DESC, e.id DESC"
        };
        let limit = if q.limit == 0 { 1000 } else { q.limit };
        let sql = format!(
            "{SELECT} WHERE {status_cond} AND (CAST($2 AS TEXT) IS NULL OR c.external_id = $2) \
             ORDER BY {order} LIMIT $3"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(statuses)
                .bind(q.customer.clone())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| r.ending_row()).collect()
        })
    }

    /// The ids of approved endings whose end date is `today` or before, oldest date
    /// first (the index `(status, end_on)`).
    pub async fn due_endings(&self, today: NaiveDate) -> Result<Vec<i64>> {
        let sql = "SELECT id FROM customer_endings WHERE status = 'approved' AND end_on <= $1 \
                   ORDER BY end_on, id";
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(sql).bind(today).fetch_all(pool).await?)
        })
    }

    /// Whether any ending is approved and waits for its date.
    pub async fn has_approved_endings(&self) -> Result<bool> {
        let sql = "SELECT id FROM customer_endings WHERE status = 'approved' LIMIT 1";
        with_pool!(self, pool => {
            let r: Option<i64> = sqlx::query_scalar(sql).fetch_optional(pool).await?;
            Ok(r.is_some())
        })
    }
}
