//! The mail outbox: messages queued in the transaction of what causes them (a
//! password reset, an alert), sent by a `mail.send` job.
//!
//! [`Writer::queue_mail`](crate::Writer::queue_mail) inserts the message and, in the
//! same transaction, enqueues its [`MAIL_JOB`] job (payload `{"mail_id": id}`, unique
//! key `mail-{id}`): the mail and its job are committed together or not at all. A
//! message's key makes queuing idempotent (a message is queued at most once).
//!
//! **Sent at most once.** Before handing a message to the mail server the sender
//! claims it ([`Store::claim_mail`]: `UPDATE outbox SET sending_ms = now WHERE id = $1
//! AND status = 'queued' AND sending_ms IS NULL`, migration 0013). Only the one whose
//! update changed the row sends. A message found claimed but neither sent nor failed
//! was begun by a sender that died (`kill -9`, a lost machine) somewhere between its
//! claim and its record: it may have reached the server, so it is marked failed
//! ("may have been sent; not sent again", [`Store::abandon_mail`]) and never sent
//! again. A failure known to be before the hand-over (no connection, a 4xx reply)
//! clears the claim ([`Store::mark_mail_attempt_failed`]) so the retry may send.
//!
//! Times are milliseconds since the Unix epoch, UTC, as in [`auth`](crate::accounts).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::jobs::NewJob;
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, from_ms, to_ms, with_pool};

/// The kind of the job that sends a queued message.
pub const MAIL_JOB: &str = "mail.send";
/// Attempts of a message's job before it fails for good.
pub const MAIL_MAX_ATTEMPTS: i32 = 8;

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMail {
    /// Idempotency key: a message with a key already queued is not queued again.
    pub key: String,
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative.
    pub html: Option<String>,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mail {
    pub id: i64,
    pub key: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// `queued`, `sent` or `failed` (for good).
    pub status: String,
    /// Attempts to send it so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When a sender claimed it to send (and has not released it).
    pub sending_at: Option<DateTime<Utc>>,
}

/// The last error of a message whose sender died while sending it.
pub const MAY_HAVE_BEEN_SENT: &str =
    "its sender stopped while sending it: it may have been sent; not sent again";

/// What [`Store::claim_mail`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum MailClaim {
    /// This caller claimed it: send it, then record the outcome.
    Claimed(Mail),
    /// Sent, or failed for good, already: nothing to do.
    Finished(Mail),
    /// Claimed before and never finished: a sender died while sending it.
    InDoubt(Mail),
    /// No such message.
    Missing,
}

const COLUMNS: &str = "id, unique_key, to_addr, subject, body_text, body_html, status, attempts, \
    last_error, created_ms, sent_ms, sending_ms";

fn mail_of<R: Row>(r: &R) -> Result<Mail>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> i32: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
{
    Ok(Mail {
        id: r.try_get("id")?,
        key: r.try_get("unique_key")?,
        to: r.try_get("to_addr")?,
        subject: r.try_get("subject")?,
        text: r.try_get("body_text")?,
        html: r.try_get("body_html")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_at: from_ms(r.try_get("created_ms")?),
        sent_at: r.try_get::<Option<i64>, _>("sent_ms")?.map(from_ms),
        sending_at: r.try_get::<Option<i64>, _>("sending_ms")?.map(from_ms),
    })
}

impl DbTx {
    /// Queues a message and its job in this transaction; `None` when its key exists.
    pub(crate) async fn queue_mail(&mut self, m: &NewMail) -> Result<Option<i64>> {
        let sql = "INSERT INTO outbox (unique_key, to_addr, subject, body_text, body_html, \
                   status, attempts, created_ms) VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6) \
                   ON CONFLICT (unique_key) DO NOTHING RETURNING id";
        let now = Utc::now();
        let id: Option<i64> = on_tx!(self, tx => sqlx::query_scalar(sql)
            .bind(&m.key)
            .bind(&m.to)
            .bind(&m.subject)
            .bind(&m.text)
            .bind(&m.html)
            .bind(to_ms(now))
            .fetch_optional(&mut **tx)
            .await?);
        if let Some(id) = id {
            self.enqueue(&NewJob {
                kind: MAIL_JOB.to_string(),
                payload: serde_json::json!({ "mail_id": id }),
                unique_key: Some(format!("mail-{id}")),
                run_at: now,
                max_attempts: MAIL_MAX_ATTEMPTS,
            })
            .await?;
        }
        Ok(id)
    }
}

impl crate::Writer {
    /// Queues a message, and the [`MAIL_JOB`] job that sends it, in this writer's
    /// transaction; `None` when a message with its key was queued before.
    pub async fn queue_mail(&mut self, m: &NewMail) -> Result<Option<i64>> {
        self.tx.queue_mail(m).await
    }
}

impl Store {
    /// Queues a message and its job in their own transaction; `None` when a message
    /// with its key was queued before.
    pub async fn queue_mail(&self, m: &NewMail) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let id = tx.queue_mail(m).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One message by id.
    pub async fn mail(&self, id: i64) -> Result<Option<Mail>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(mail_of).transpose()
        })
    }

    /// Claims a queued message for sending (see the module documentation): the one
    /// caller whose claim changes the row gets [`MailClaim::Claimed`].
    ///
    /// A message that failed with an answer from the mail server (its claim released) is
    /// claimed again when an admin retries its job; one abandoned as "may have been
    /// sent" keeps its claim and is never claimed again.
    pub async fn claim_mail(&self, id: i64) -> Result<MailClaim> {
        let claim = format!(
            "UPDATE outbox SET sending_ms = $2, status = 'queued' WHERE id = $1 \
             AND status IN ('queued', 'failed') AND sending_ms IS NULL RETURNING {COLUMNS}"
        );
        let claimed = with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(claim))
                .bind(id)
                .bind(to_ms(Utc::now()))
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(mail_of).transpose()?
        });
        if let Some(m) = claimed {
            return Ok(MailClaim::Claimed(m));
        }
        Ok(match self.mail(id).await? {
            None => MailClaim::Missing,
            Some(m) if m.status == "queued" && m.sending_at.is_some() => MailClaim::InDoubt(m),
            // Not queued (sent or failed), or released between the two statements
            // (another sender's transient failure): that one's retry sends it.
            Some(m) => MailClaim::Finished(m),
        })
    }

    /// Marks a message found claimed and unfinished failed for good with
    /// [`MAY_HAVE_BEEN_SENT`] (its claim kept, so it is never sent again); false when
    /// it was not in that state.
    pub async fn abandon_mail(&self, id: i64) -> Result<bool> {
        let sql = "UPDATE outbox SET status = 'failed', last_error = $2 \
                   WHERE id = $1 AND status = 'queued' AND sending_ms IS NOT NULL";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(MAY_HAVE_BEEN_SENT)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Marks a message sent, counting the attempt; false when it was sent already
    /// (whoever gets true is the one sender).
    pub async fn mark_mail_sent(&self, id: i64) -> Result<bool> {
        let sql = "UPDATE outbox SET status = 'sent', sent_ms = $2, attempts = attempts + 1 \
                   WHERE id = $1 AND status <> 'sent'";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(to_ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Records a failed attempt to send a message: its error, and with
    /// `final_failure` its end (`failed`); otherwise it stays (or is again) queued and
    /// its claim is released (`sending_ms` cleared: the failure was before the
    /// hand-over, so a retry may send). A message sent already is left as it is.
    pub async fn mark_mail_attempt_failed(
        &self,
        id: i64,
        error: &str,
        final_failure: bool,
    ) -> Result<()> {
        let sql = "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                   status = CASE WHEN $3 THEN 'failed' ELSE 'queued' END, \
                   sending_ms = NULL \
                   WHERE id = $1 AND status <> 'sent'";
        with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(id)
                .bind(error)
                .bind(final_failure)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// How many messages there are per status (`queued`, `sent`, `failed`), and of
    /// the failed how many as [`MAY_HAVE_BEEN_SENT`] (key `may_have_been_sent`).
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT status, CAST(count(*) AS BIGINT) FROM outbox GROUP BY status \
                   UNION ALL SELECT 'may_have_been_sent', CAST(count(*) AS BIGINT) FROM outbox \
                   WHERE status = 'failed' AND last_error = $1";
        Ok(with_pool!(self, pool => sqlx::query_as(sql)
            .bind(MAY_HAVE_BEEN_SENT)
            .fetch_all(pool)
            .await?))
    }

    /// Messages, newest first.
    pub async fn outbox(&self, limit: u32) -> Result<Vec<Mail>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1");
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(i64::from(limit)).fetch_all(pool).await?;
            rows.iter().map(mail_of).collect()
        })
    }
}
