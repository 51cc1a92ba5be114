//! Kudos in SQL (the matching itself is the core's, `kanta_core::kudos`):
//!
//! - [`Writer::kudos_answers`], [`Writer::kudos_staff`], [`Writer::replace_kudos`]:
//!   inside a write of feedback, the written answers' free text, the active staff's
//!   names, and the answers' kudos replaced by the ones just found (a rewritten answer's
//!   kudos follow its text).
//! - [`Store::staff_by_email`]: a signed-in user's staff row (their thanks page).
//! - [`Store::kudos_of`]: one staff member's kudos with the answers, newest first;
//!   [`Store::kudos_counts`]: kudos per staff member and month (the managers' page);
//!   [`Store::kudos_between`]: the kudos of a week with their staff members' email and
//!   language (the weekly mail).
//!
//! Times of kudos are `answered_ms`, the answer's time in epoch milliseconds.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use crate::onboarding::{parse_time, time_col};
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, Writer, with_pool};

/// A written answer's free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerText {
    /// The feedback row's internal id.
    pub feedback_id: i64,
    pub answered_ms: i64,
    pub did_well: Option<String>,
    pub do_better: Option<String>,
    pub comment: Option<String>,
}

/// A kudos found in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKudos {
    pub feedback_id: i64,
    pub staff_id: i64,
    /// The words that named the staff member, as written.
    pub matched: String,
    pub answered_ms: i64,
}

/// A staff row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    /// Internal id.
    pub id: i64,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// One kudos with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KudosRow {
    pub staff_id: String,
    pub staff_name: String,
    /// The answer's external id.
    pub feedback_id: String,
    pub answered_at: DateTime<Utc>,
    pub matched: String,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub nps: Option<i64>,
    pub did_well: Option<String>,
    pub do_better: Option<String>,
    pub comment: Option<String>,
}

/// Kudos of one staff member in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KudosCount {
    /// `YYYY-MM`.
    pub month: String,
    pub staff_id: String,
    pub name: String,
    pub kudos: i64,
}

/// A staff member's kudos of a period, for the weekly mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekKudos {
    pub staff_id: String,
    pub name: String,
    pub email: String,
    /// The language of the user with the staff member's email, when set.
    pub lang: Option<String>,
    /// Newest first.
    pub items: Vec<KudosRow>,
}

const ROW_COLUMNS: &str = "s.external_id AS staff_id, s.name AS staff_name, f.external_id AS feedback_id, \
     k.answered_ms, k.matched, c.external_id AS customer_id, c.name AS customer_name, \
     CAST(f.nps AS BIGINT) AS nps, f.did_well, f.do_better, f.comment";

const ROW_JOINS: &str = "FROM kudos k JOIN staff s ON s.id = k.staff_id \
     JOIN feedback f ON f.id = k.feedback_id LEFT JOIN customers c ON c.id = f.customer_id";

fn kudos_row(r: &impl KudosGet) -> Result<KudosRow> {
    r.kudos_row()
}

/// Reads a [`KudosRow`] from either backend's row.
trait KudosGet {
    fn kudos_row(&self) -> Result<KudosRow>;
}

macro_rules! impl_kudos_get {
    ($row:ty) => {
        impl KudosGet for $row {
            fn kudos_row(&self) -> Result<KudosRow> {
                Ok(KudosRow {
                    staff_id: self.try_get("staff_id")?,
                    staff_name: self.try_get("staff_name")?,
                    feedback_id: self.try_get("feedback_id")?,
                    answered_at: crate::from_ms(self.try_get("answered_ms")?),
                    matched: self.try_get("matched")?,
                    customer_id: self.try_get("customer_id")?,
                    customer_name: self.try_get("customer_name")?,
                    nps: self.try_get("nps")?,
                    did_well: self.try_get("did_well")?,
                    do_better: self.try_get("do_better")?,
                    comment: self.try_get("comment")?,
                })
            }
        }
    };
}
impl_kudos_get!(sqlx::sqlite::SqliteRow);
impl_kudos_get!(sqlx::postgres::PgRow);

impl Writer {
    /// The free text of the feedback rows with these external ids (merged already in
    /// this transaction) that have any.
    pub async fn kudos_answers(&mut self, ids: &[String]) -> Result<Vec<AnswerText>> {
        let pg = self.tx.is_postgres();
        let list = crate::onboarding::id_list(pg, 1);
        let sql = format!(
            "SELECT f.id, {at} AS answered_at, f.did_well, f.do_better, f.comment FROM feedback f \
             WHERE f.external_id IN {list} \
             AND (f.did_well IS NOT NULL OR f.do_better IS NOT NULL OR f.comment IS NOT NULL)",
            at = time_col(pg, "f.answered_at"),
        );
        type Tuple = (i64, String, Option<String>, Option<String>, Option<String>);
        let mut out = Vec::new();
        for chunk in ids.chunks(50_000) {
            let rows: Vec<Tuple> = match &mut self.tx {
                DbTx::Sqlite(c) => {
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(serde_json::to_string(chunk).map_err(crate::json_err)?)
                        .fetch_all(&mut **c)
                        .await?
                }
                DbTx::Postgres(c) => {
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(chunk)
                        .fetch_all(&mut **c)
                        .await?
                }
            };
            out.extend(
                rows.into_iter()
                    .map(|(id, at, did_well, do_better, comment)| AnswerText {
                        feedback_id: id,
                        answered_ms: parse_time(&at).map_or(0, crate::to_ms),
                        did_well,
                        do_better,
                        comment,
                    }),
            );
        }
        Ok(out)
    }

    /// The active staff members (internal id, name), read in this transaction.
    pub async fn kudos_staff(&mut self) -> Result<Vec<(i64, String)>> {
        let sql = "SELECT id, name FROM staff WHERE active = $1 ORDER BY id";
        Ok(on_tx!(&mut self.tx, c => sqlx::query_as(sql).bind(true).fetch_all(&mut **c).await?))
    }

    /// Replaces the kudos of the feedback rows with the external ids `answers` by
    /// `rows`: those no longer found go, the others are inserted or updated. Returns
    /// the kudos written.
    pub async fn replace_kudos(&mut self, answers: &[String], rows: &[NewKudos]) -> Result<u64> {
        let pg = self.tx.is_postgres();
        let sql = format!(
            "DELETE FROM kudos WHERE feedback_id IN \
             (SELECT f.id FROM feedback f WHERE f.external_id IN {})",
            crate::onboarding::id_list(pg, 1)
        );
        for chunk in answers.chunks(50_000) {
            match &mut self.tx {
                DbTx::Sqlite(c) => {
                    sqlx::query(AssertSqlSafe(sql.clone()))
                        .bind(serde_json::to_string(chunk).map_err(crate::json_err)?)
                        .execute(&mut **c)
                        .await?;
                }
                DbTx::Postgres(c) => {
                    sqlx::query(AssertSqlSafe(sql.clone()))
                        .bind(chunk)
                        .execute(&mut **c)
                        .await?;
                }
            }
        }
        let mut n = 0;
        for chunk in rows.chunks(10_000) {
            n += match &mut self.tx {
                DbTx::Sqlite(c) => {
                    let json: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|k| {
                            serde_json::json!([k.feedback_id, k.staff_id, k.matched, k.answered_ms])
                        })
                        .collect();
                    sqlx::query(
                        "INSERT INTO kudos (feedback_id, staff_id, matched, answered_ms) \
                         SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each($1) WHERE true \
                         ON CONFLICT (feedback_id, staff_id) DO UPDATE SET matched = excluded.matched, \
                         answered_ms = excluded.answered_ms",
                    )
                    .bind(serde_json::Value::Array(json).to_string())
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
                }
                DbTx::Postgres(c) => {
                    let f: Vec<i64> = chunk.iter().map(|k| k.feedback_id).collect();
                    let s: Vec<i64> = chunk.iter().map(|k| k.staff_id).collect();
                    let m: Vec<String> = chunk.iter().map(|k| k.matched.clone()).collect();
                    let a: Vec<i64> = chunk.iter().map(|k| k.answered_ms).collect();
                    sqlx::query(
                        "INSERT INTO kudos (feedback_id, staff_id, matched, answered_ms) \
                         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) \
                         ON CONFLICT (feedback_id, staff_id) DO UPDATE SET matched = excluded.matched, \
                         answered_ms = excluded.answered_ms",
                    )
                    .bind(f)
                    .bind(s)
                    .bind(m)
                    .bind(a)
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
                }
            };
        }
        Ok(n)
    }
}

impl Store {
    /// The active staff row with this email (any case), the oldest when several.
    pub async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRow>> {
        let sql = "SELECT id, external_id, name, email FROM staff \
                   WHERE lower(email) = $1 AND active = $2 ORDER BY id LIMIT 1";
        let email = email.trim().to_lowercase();
        let row: Option<(i64, String, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(email).bind(true).fetch_optional(pool).await?
        });
        Ok(row.map(|(id, external_id, name, email)| StaffRow {
            id,
            external_id,
            name,
            email,
        }))
    }

    /// The staff row with this external id.
    pub async fn staff_row(&self, external_id: &str) -> Result<Option<StaffRow>> {
        let sql = "SELECT id, external_id, name, email FROM staff WHERE external_id = $1";
        let row: Option<(i64, String, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(external_id).fetch_optional(pool).await?
        });
        Ok(row.map(|(id, external_id, name, email)| StaffRow {
            id,
            external_id,
            name,
            email,
        }))
    }

    /// The kudos of the staff member (internal id), newest first, at most `limit`,
    /// and how many they have in all.
    pub async fn kudos_of(&self, staff_id: i64, limit: u32) -> Result<(Vec<KudosRow>, i64)> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} {ROW_JOINS} WHERE k.staff_id = $1 \
             ORDER BY k.answered_ms DESC, k.feedback_id DESC LIMIT $2"
        );
        let count = "SELECT CAST(count(*) AS BIGINT) FROM kudos WHERE staff_id = $1";
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(staff_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            let items = rows.iter().map(kudos_row).collect::<Result<Vec<_>>>()?;
            let total: i64 = sqlx::query_scalar(count).bind(staff_id).fetch_one(pool).await?;
            Ok((items, total))
        })
    }

    /// Kudos per staff member and month from the first of `months` on (`months`: each
    /// month's key and first instant, oldest first), by month and name.
    pub async fn kudos_counts(
        &self,
        months: &[(String, DateTime<Utc>)],
    ) -> Result<Vec<KudosCount>> {
        let Some((_, since)) = months.first() else {
            return Ok(Vec::new());
        };
        let mut month = String::from("CASE");
        let mut n = 0;
        for _ in months.iter().rev() {
            month.push_str(&format!(
                " WHEN k.answered_ms >= ${} THEN ${}",
                n + 1,
                n + 2
            ));
            n += 2;
        }
        month.push_str(" END");
        let sql = format!(
            "SELECT g.month AS month, s.external_id AS staff_id, s.name AS name, g.kudos \
             FROM (SELECT {month} AS month, k.staff_id AS staff, CAST(count(*) AS BIGINT) AS kudos \
               FROM kudos k WHERE k.answered_ms >= ${since_p} GROUP BY 1, 2) g \
             JOIN staff s ON s.id = g.staff ORDER BY g.month, s.name, s.id",
            since_p = n + 1
        );
        with_pool!(self, pool => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (key, start) in months.iter().rev() {
                q = q.bind(crate::to_ms(*start)).bind(key.clone());
            }
            let rows = q.bind(crate::to_ms(*since)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(KudosCount {
                        month: r.try_get::<Option<String>, _>("month")?.unwrap_or_default(),
                        staff_id: r.try_get("staff_id")?,
                        name: r.try_get("name")?,
                        kudos: r.try_get("kudos")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// The kudos answered in `[from, to)`, grouped by staff member, for the staff
    /// members who are active and have an email; each with the language of the user
    /// of that email (when there is one and it is set).
    pub async fn kudos_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WeekKudos>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS}, s.email AS email, \
               (SELECT u.lang FROM users u WHERE lower(u.email) = lower(s.email) AND u.active = $3 \
                ORDER BY u.id LIMIT 1) AS lang \
             {ROW_JOINS} WHERE k.answered_ms >= $1 AND k.answered_ms < $2 \
             AND s.active = $3 AND s.email IS NOT NULL AND s.email <> '' \
             ORDER BY s.id, k.answered_ms DESC, k.feedback_id DESC"
        );
        let mut out: Vec<WeekKudos> = Vec::new();
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(crate::to_ms(from))
                .bind(crate::to_ms(to))
                .bind(true)
                .fetch_all(pool)
                .await?;
            for r in &rows {
                let item = kudos_row(r)?;
                let email: String = r.try_get("email")?;
                let lang: Option<String> = r.try_get("lang")?;
                match out.last_mut() {
                    Some(w) if w.staff_id == item.staff_id => w.items.push(item),
                    _ => out.push(WeekKudos {
                        staff_id: item.staff_id.clone(),
                        name: item.staff_name.clone(),
                        email,
                        lang,
                        items: vec![item],
                    }),
                }
            }
        });
        Ok(out)
    }
}
