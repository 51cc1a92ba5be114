//! Feedback read and written inside a write's transaction (issue 13): the detractors'
//! answers that open a case (`kanta_core::feedback`).

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use crate::onboarding::{id_list, parse_time, time_col};
use crate::write::DbTx;
use crate::{Result, Writer};

/// A detractor's answer that has no case of its own yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetractorAnswer {
    /// The answer's external id.
    pub external_id: String,
    /// The customer's external id.
    pub customer_id: String,
    pub answered_at: DateTime<Utc>,
    pub nps: Option<i64>,
    pub csat: Option<i64>,
    pub did_well: Option<String>,
    pub do_better: Option<String>,
    pub comment: Option<String>,
    pub language: Option<String>,
    /// The survey's name, if the answer names one of Kanta's surveys.
    pub survey: Option<String>,
}

impl Writer {
    /// Of the feedback rows with the external ids `ids`, those written in this
    /// transaction: a customer's answers given at or after `since` with NPS at most
    /// `nps_max` or CSAT at most `csat_max` and no case with the external id
    /// `case_prefix` + the answer's external id yet.
    pub async fn detractor_answers(
        &mut self,
        ids: &[String],
        nps_max: i64,
        csat_max: i64,
        since: DateTime<Utc>,
        case_prefix: &str,
    ) -> Result<Vec<DetractorAnswer>> {
        let pg = self.tx.is_postgres();
        let sql = format!(
            "SELECT f.external_id, c.external_id, {at}, CAST(f.nps AS BIGINT), CAST(f.csat AS BIGINT), \
                f.did_well, f.do_better, f.comment, f.language, s.name \
             FROM feedback f JOIN customers c ON c.id = f.customer_id \
             LEFT JOIN surveys s ON s.id = f.survey_id \
             WHERE f.external_id IN {list} AND f.answered_at >= $2 \
               AND ((f.nps IS NOT NULL AND f.nps <= $3) OR (f.csat IS NOT NULL AND f.csat <= $4)) \
               AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.external_id = $5 || f.external_id) \
             ORDER BY f.id",
            at = time_col(pg, "f.answered_at"),
            list = id_list(pg, 1),
        );
        type Tuple = (
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut out = Vec::new();
        for chunk in ids.chunks(50_000) {
            let rows: Vec<Tuple> = match &mut self.tx {
                DbTx::Sqlite(c) => {
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(serde_json::to_string(chunk).map_err(crate::json_err)?)
                        .bind(kanta_domain::value::format_time(&since))
                        .bind(nps_max)
                        .bind(csat_max)
                        .bind(case_prefix)
                        .fetch_all(&mut **c)
                        .await?
                }
                DbTx::Postgres(c) => {
                    sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(chunk)
                        .bind(since)
                        .bind(nps_max)
                        .bind(csat_max)
                        .bind(case_prefix)
                        .fetch_all(&mut **c)
                        .await?
                }
            };
            out.extend(rows.into_iter().map(
                |(
                    external_id,
                    customer_id,
                    at,
                    nps,
                    csat,
                    did_well,
                    do_better,
                    comment,
                    language,
                    survey,
                )| {
                    DetractorAnswer {
                        external_id,
                        customer_id,
                        answered_at: parse_time(&at).unwrap_or_default(),
                        nps,
                        csat,
                        did_well,
                        do_better,
                        comment,
                        language,
                        survey,
                    }
                },
            ));
        }
        Ok(out)
    }

    /// Opens the case `case_id` (category `feedback`, severity normal, channel
    /// `survey`, open now, owner = the customer's owner) for the customer of the answer
    /// `answer_id`; nothing when a case with that external id exists. Returns whether
    /// it was opened.
    pub async fn open_feedback_case(
        &mut self,
        case_id: &str,
        answer_id: &str,
        summary: &str,
    ) -> Result<bool> {
        let now = self.tx.now();
        let sql = format!(
            "INSERT INTO cases (external_id, customer_id, opened_at, category, severity, status, \
                channel, summary, staff_id, created_at, updated_at) \
             SELECT $1, f.customer_id, {now}, 'feedback', 'normal', 'open', 'survey', $2, \
                c.owner_id, {now}, {now} \
             FROM feedback f JOIN customers c ON c.id = f.customer_id WHERE f.external_id = $3 \
             ON CONFLICT DO NOTHING"
        );
        let n = match &mut self.tx {
            DbTx::Sqlite(c) => sqlx::query(AssertSqlSafe(sql))
                .bind(case_id)
                .bind(summary)
                .bind(answer_id)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            DbTx::Postgres(c) => sqlx::query(AssertSqlSafe(sql))
                .bind(case_id)
                .bind(summary)
                .bind(answer_id)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        };
        if n > 0 {
            self.mark_written();
        }
        Ok(n > 0)
    }
}
