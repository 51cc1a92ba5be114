//! Surveys in SQL (issue 13; see kanta-core's `surveys`): the signing key kept in the
//! settings table (inserted once, whoever comes first), the questions' versions
//! (`survey_versions`), and the public answer's single-use token (`survey_tokens_used`,
//! whose primary key refuses a second answer with the same link).

use sqlx::AssertSqlSafe;

use crate::audit::AuditEntry;
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, Writer, with_pool};

impl Store {
    /// The value of setting `key`, inserting `value` first when it has none (two
    /// processes racing agree on the first one written). An inserted value is recorded
    /// by `audit` (without the value) in the same transaction.
    pub async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
        audit: &AuditEntry,
    ) -> Result<String> {
        let mut tx = self.begin().await?;
        let insert = format!(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, {now}) \
             ON CONFLICT (key) DO NOTHING",
            now = tx.now()
        );
        let json = serde_json::Value::String(value.to_string()).to_string();
        let n = on_tx!(&mut tx, c => sqlx::query(AssertSqlSafe(insert))
            .bind(key)
            .bind(json)
            .execute(&mut **c)
            .await?
            .rows_affected());
        if n > 0 {
            let entry = audit.completed(key, serde_json::Value::Null, serde_json::Value::Null);
            tx.audit(&entry).await?;
        }
        let text: String = on_tx!(&mut tx, c => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut **c)
            .await?);
        tx.commit().await?;
        Ok(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::String(s)) => s,
            _ => text,
        })
    }
}

/// A survey as the answer pages and the manager's pages read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRow {
    pub id: i64,
    pub external_id: String,
    pub name: String,
    pub status: String,
    /// The questions as JSON text.
    pub questions: String,
    pub version: i64,
    pub send_after: String,
    pub send_after_days: i64,
    pub anonymous_asks: String,
    /// Answers given to it.
    pub answers: i64,
}

/// What the answer page of a personal link needs, read in one query.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkTarget {
    pub survey: SurveyRow,
    /// The customer's external id, name, kind and language (when the link names one
    /// that exists).
    pub customer: Option<String>,
    pub customer_name: Option<String>,
    pub customer_kind: Option<String>,
    pub locale: Option<String>,
    /// Whether the customer still consents to surveys (`None`: never said).
    pub consent: Option<bool>,
    /// Whether the link's token has been used for an answer.
    pub used: bool,
    /// The channel of the link's invitation (`email`, `link`), when it has one.
    pub invitation_channel: Option<String>,
}

/// One version of a survey's questions.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyVersionRow {
    pub version: i64,
    pub questions: String,
    pub created_ms: i64,
}

/// A survey's questions as written and its newest version's, for [`Writer::surveys_to_version`].
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyQuestions {
    pub id: i64,
    pub external_id: String,
    pub questions: String,
    pub version: i64,
    /// The newest `survey_versions` row (version, questions), if any.
    pub newest: Option<(i64, String)>,
}

const SURVEY_COLS: &str = "s.id, s.external_id, s.name, s.status, s.questions, CAST(s.version AS BIGINT), \
    s.send_after, CAST(s.send_after_days AS BIGINT), s.anonymous_asks, \
    (SELECT COUNT(*) FROM feedback f WHERE f.survey_id = s.id)";

type SurveyTuple = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    i64,
);

fn survey_of(t: SurveyTuple) -> SurveyRow {
    SurveyRow {
        id: t.0,
        external_id: t.1,
        name: t.2,
        status: t.3,
        questions: t.4,
        version: t.5,
        send_after: t.6,
        send_after_days: t.7,
        anonymous_asks: t.8,
        answers: t.9,
    }
}

fn is_pg(store: &Store) -> bool {
    matches!(store.backend, crate::Backend::Postgres(_))
}

impl Store {
    /// Every survey with its count of answers, newest first.
    pub async fn surveys(&self) -> Result<Vec<SurveyRow>> {
        let sql = format!("SELECT {SURVEY_COLS} FROM surveys s ORDER BY s.id DESC");
        let rows: Vec<SurveyTuple> =
            with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?);
        Ok(rows.into_iter().map(survey_of).collect())
    }

    /// One survey by its external id.
    pub async fn survey(&self, external_id: &str) -> Result<Option<SurveyRow>> {
        let sql = format!("SELECT {SURVEY_COLS} FROM surveys s WHERE s.external_id = $1");
        let row: Option<SurveyTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .bind(external_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(survey_of))
    }

    /// The versions of a survey's questions, newest first.
    pub async fn survey_versions(&self, survey_id: i64) -> Result<Vec<SurveyVersionRow>> {
        let sql = "SELECT CAST(version AS BIGINT), questions, created_ms FROM survey_versions \
                   WHERE survey_id = $1 ORDER BY version DESC";
        let rows: Vec<(i64, String, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(survey_id)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(version, questions, created_ms)| SurveyVersionRow {
                version,
                questions,
                created_ms,
            })
            .collect())
    }

    /// What a personal link's page needs: the survey `survey_id`, the customer
    /// `customer_id` (internal ids) and whether `token_id` was used, in one query.
    pub async fn link_target(
        &self,
        survey_id: i64,
        customer_id: Option<i64>,
        token_id: &str,
    ) -> Result<Option<LinkTarget>> {
        let pg = is_pg(self);
        let consent = if pg {
            "c.survey_consent"
        } else {
            "CASE WHEN c.survey_consent IS NULL THEN NULL WHEN c.survey_consent <> 0 THEN TRUE ELSE FALSE END"
        };
        let sql = format!(
            "SELECT {SURVEY_COLS}, c.external_id, c.name, c.kind, c.locale, {consent}, \
                    EXISTS (SELECT 1 FROM survey_tokens_used u WHERE u.survey_id = s.id AND u.token_id = $3), \
                    (SELECT i.channel FROM survey_invitations i WHERE i.token_id = $3) \
             FROM surveys s LEFT JOIN customers c ON c.id = $2 WHERE s.id = $1"
        );
        fn of<'r, R: sqlx::Row>(r: &'r R) -> std::result::Result<LinkTarget, sqlx::Error>
        where
            usize: sqlx::ColumnIndex<R>,
            i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            Ok(LinkTarget {
                survey: survey_of((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                    r.try_get(9)?,
                )),
                customer: r.try_get(10)?,
                customer_name: r.try_get(11)?,
                customer_kind: r.try_get(12)?,
                locale: r.try_get(13)?,
                consent: r.try_get(14)?,
                used: r.try_get(15)?,
                invitation_channel: r.try_get(16)?,
            })
        }
        let found = with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(survey_id)
                .bind(customer_id)
                .bind(token_id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(of).transpose()?
        });
        Ok(found)
    }

    /// The customer (external id, language) whose external id (loyalty number) or
    /// email (case-insensitive) is `value`.
    pub async fn customer_for_answer(
        &self,
        by_email: bool,
        value: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        let sql = if by_email {
            "SELECT external_id, locale FROM customers WHERE lower(email) = lower($1) ORDER BY id LIMIT 1"
        } else {
            "SELECT external_id, locale FROM customers WHERE external_id = $1"
        };
        let row: Option<(String, Option<String>)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(value)
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }

    /// The external id of customer `id` (internal).
    pub async fn customer_external_id(&self, id: i64) -> Result<Option<String>> {
        let sql = "SELECT external_id FROM customers WHERE id = $1";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await?))
    }
}

impl Writer {
    /// The surveys with these external ids: their questions as written, their version
    /// and their newest `survey_versions` row.
    pub async fn surveys_to_version(&mut self, ids: &[String]) -> Result<Vec<SurveyQuestions>> {
        let pg = self.tx.is_postgres();
        let list = if pg {
            "(SELECT unnest($1::text[]))"
        } else {
            "(SELECT value FROM json_each($1))"
        };
        let sql = format!(
            "SELECT s.id, s.external_id, s.questions, CAST(s.version AS BIGINT), \
                    CAST(v.version AS BIGINT), v.questions \
             FROM surveys s LEFT JOIN survey_versions v ON v.survey_id = s.id \
                 AND v.version = (SELECT MAX(x.version) FROM survey_versions x WHERE x.survey_id = s.id) \
             WHERE s.external_id IN {list} ORDER BY s.id"
        );
        type Row = (i64, String, String, i64, Option<i64>, Option<String>);
        let mut out = Vec::new();
        for chunk in ids.chunks(10_000) {
            let rows: Vec<Row> = match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json = serde_json::to_string(chunk).map_err(crate::json_err)?;
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(json)
                        .fetch_all(&mut **tx)
                        .await?
                }
                DbTx::Postgres(tx) => {
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(chunk)
                        .fetch_all(&mut **tx)
                        .await?
                }
            };
            out.extend(rows.into_iter().map(|r| SurveyQuestions {
                id: r.0,
                external_id: r.1,
                questions: r.2,
                version: r.3,
                newest: r.4.zip(r.5),
            }));
        }
        Ok(out)
    }

    /// Adds version `version` of survey `survey_id` with `questions` (when it is new)
    /// and makes it the survey's version.
    pub async fn add_survey_version(
        &mut self,
        survey_id: i64,
        version: i64,
        questions: &str,
        created_ms: i64,
    ) -> Result<()> {
        let insert = "INSERT INTO survey_versions (survey_id, version, questions, created_ms) \
                      VALUES ($1, $2, $3, $4) ON CONFLICT (survey_id, version) DO NOTHING";
        on_tx!(&mut self.tx, c => {
            sqlx::query(insert)
                .bind(survey_id)
                .bind(version)
                .bind(questions)
                .bind(created_ms)
                .execute(&mut **c)
                .await?;
        });
        self.set_survey_version(survey_id, version).await
    }

    /// Sets a survey's version (its questions unchanged).
    pub async fn set_survey_version(&mut self, survey_id: i64, version: i64) -> Result<()> {
        let update = "UPDATE surveys SET version = $2 WHERE id = $1 AND version <> $2";
        on_tx!(&mut self.tx, c => {
            sqlx::query(update)
                .bind(survey_id)
                .bind(version)
                .execute(&mut **c)
                .await?;
        });
        Ok(())
    }

    /// Records that the link `token_id` of survey `survey_id` was answered: `false` when
    /// it was already (the table's primary key refuses a second use; a concurrent
    /// answer on PostgreSQL waits for the first one's transaction and then finds it).
    pub async fn use_survey_token(
        &mut self,
        survey_id: i64,
        token_id: &str,
        used_ms: i64,
    ) -> Result<bool> {
        let sql = "INSERT INTO survey_tokens_used (survey_id, token_id, used_ms) VALUES ($1, $2, $3) \
                   ON CONFLICT (survey_id, token_id) DO NOTHING";
        let n = on_tx!(&mut self.tx, c => sqlx::query(sql)
            .bind(survey_id)
            .bind(token_id)
            .bind(used_ms)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Marks the invitation of `token_id` answered by feedback `feedback` (external
    /// id); whether there was one.
    pub async fn invitation_answered(
        &mut self,
        survey_id: i64,
        token_id: &str,
        answered_ms: i64,
        feedback: &str,
    ) -> Result<bool> {
        let sql = "UPDATE survey_invitations SET status = 'answered', answered_ms = $3, \
                   feedback_id = (SELECT f.id FROM feedback f WHERE f.external_id = $4) \
                   WHERE token_id = $2 AND survey_id = $1";
        let n = on_tx!(&mut self.tx, c => sqlx::query(sql)
            .bind(survey_id)
            .bind(token_id)
            .bind(answered_ms)
            .bind(feedback)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }
}
