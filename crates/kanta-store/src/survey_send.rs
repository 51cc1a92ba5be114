//! Sending surveys (issue 13): waves, the invitation log, triggers and reminders, as
//! set-based SQL (migration 0013's `survey_waves`, `survey_invitations`).
//!
//! A wave is one transaction: [`Writer::insert_wave`] writes the `survey_waves` row and
//! one `survey_invitations` row per customer of the audience in one
//! `INSERT ... SELECT` whose `CASE` gives each customer's fatigue rule (invited, or
//! skipped with a reason code: `ended`, `no_consent`, `no_email`, `already_invited`,
//! `cooldown`, `open_critical_case`); [`Writer::insert_triggered`] does the same for
//! events (orders, resolved cases, finished onboardings) in a time window, one
//! invitation per event keyed `{kind}:{event id}:{survey id}`. The caller renders the
//! mails of the invited rows (a signed link each) and [`Writer::queue_survey_mails`]
//! inserts them into the outbox with their `mail.send` jobs, in bulk (one JSON
//! parameter: `json_each` on SQLite, `jsonb_to_recordset` on PostgreSQL); each job's
//! payload carries its mail's one-click unsubscribe URL.
//! [`Writer::due_reminders`] marks the invitations due for their one reminder.
//!
//! Times are epoch milliseconds.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::outbox::{MAIL_JOB, MAIL_MAX_ATTEMPTS};
use crate::write::{DbTx, on_tx};
use crate::{Result, Store, json_err, with_pool};

/// Who a wave goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Audience {
    All,
    Segment(String),
    Tier(String),
    /// Customers by external id.
    Customers(Vec<String>),
    /// The customers on the contact queue.
    Queue,
}

impl Audience {
    /// How the wave log shows it: `all`, `segment:Kanta-asiakkaat`, `customers:3`, `queue`.
    pub fn label(&self) -> String {
        match self {
            Audience::All => "all".into(),
            Audience::Segment(s) => format!("segment:{s}"),
            Audience::Tier(t) => format!("tier:{t}"),
            Audience::Customers(c) => format!("customers:{}", c.len()),
            Audience::Queue => "queue".into(),
        }
    }
}

/// The `WHERE` condition on `customers c` that selects an audience, and the value to
/// bind as parameter `param` (always bound, `NULL` when the audience needs none): the
/// one audience rule of survey waves and offers.
pub fn audience_filter(
    audience: &Audience,
    pg: bool,
    param: &str,
) -> Result<(String, Option<String>)> {
    Ok(match audience {
        Audience::All => (format!("CAST({param} AS TEXT) IS NULL"), None),
        Audience::Queue => (
            format!(
                "CAST({param} AS TEXT) IS NULL AND c.id IN (SELECT customer_id FROM contact_queue)"
            ),
            None,
        ),
        Audience::Segment(s) => (format!("c.segment = {param}"), Some(s.clone())),
        Audience::Tier(t) => (format!("c.tier = {param}"), Some(t.clone())),
        Audience::Customers(ids) => (
            if pg {
                format!(
                    "c.external_id IN (SELECT jsonb_array_elements_text(CAST({param} AS JSONB)))"
                )
            } else {
                format!("c.external_id IN (SELECT value FROM json_each({param}))")
            },
            Some(serde_json::to_string(ids).map_err(json_err)?),
        ),
    })
}

/// The fatigue rules of one sending.
#[derive(Debug, Clone)]
pub struct Fatigue {
    pub now_ms: i64,
    /// Invitations created at or after this moment put a customer in cooldown
    /// (`i64::MAX`: no cooldown).
    pub cooldown_since_ms: i64,
    pub skip_critical: bool,
    /// Email channel: customers without an email address are skipped.
    pub needs_email: bool,
    /// The store's language, for customers without a locale.
    pub default_lang: String,
    pub expires_ms: i64,
}

/// A wave to insert.
#[derive(Debug, Clone)]
pub struct NewWave {
    pub survey_id: i64,
    pub channel: String,
    pub audience: Audience,
    pub created_by: Option<i64>,
    pub fatigue: Fatigue,
}

/// A wave's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WaveCounts {
    pub wave_id: i64,
    pub considered: i64,
    pub invited: i64,
    pub skipped: i64,
}

/// An invitation to mail (or to list as a link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invited {
    pub invitation_id: i64,
    pub survey_id: i64,
    pub customer_id: i64,
    pub customer: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub language: String,
    pub token_id: String,
    pub expires_ms: i64,
}

/// A rendered survey mail for [`Writer::queue_survey_mails`].
#[derive(Debug, Clone, Serialize)]
pub struct SurveyMail {
    /// The outbox key: `survey-invite:{invitation}` or `survey-reminder:{invitation}`.
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "t")]
    pub to: String,
    #[serde(rename = "s")]
    pub subject: String,
    #[serde(rename = "x")]
    pub text: String,
    #[serde(rename = "h")]
    pub html: String,
    /// The one-click unsubscribe URL (`List-Unsubscribe`), carried in the `mail.send`
    /// job's payload (`unsubscribe`) so the sender needs no lookup.
    #[serde(rename = "u")]
    pub unsubscribe: Option<String>,
}

/// The outbox key of an invitation's first mail.
pub fn invite_key(invitation: i64) -> String {
    format!("survey-invite:{invitation}")
}

/// The outbox key of an invitation's reminder.
pub fn reminder_key(invitation: i64) -> String {
    format!("survey-reminder:{invitation}")
}

/// The invitation an outbox key names (`survey-invite:12`, `survey-reminder:12`).
pub fn invitation_of_key(key: &str) -> Option<i64> {
    key.strip_prefix("survey-invite:")
        .or_else(|| key.strip_prefix("survey-reminder:"))
        .and_then(|n| n.parse().ok())
}

/// A wave as the waves page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wave {
    pub id: i64,
    pub survey_id: i64,
    pub channel: String,
    pub audience: String,
    pub considered: i64,
    pub invited: i64,
    pub skipped: i64,
    pub answered: i64,
    pub mails_sent: i64,
    pub created_by: Option<i64>,
    pub created_ms: i64,
}

/// One row of the invitation log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invitation {
    pub id: i64,
    pub survey_id: i64,
    pub wave_id: Option<i64>,
    pub trigger_key: Option<String>,
    pub customer: String,
    pub customer_name: Option<String>,
    pub channel: String,
    pub status: String,
    pub reason: Option<String>,
    pub language: Option<String>,
    pub mail_status: Option<String>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub reminded_ms: Option<i64>,
    pub answered_ms: Option<i64>,
}

/// What an invitation's link is made of (to sign it again at sending time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkParts {
    pub survey_id: i64,
    pub customer_id: i64,
    pub token_id: String,
    pub expires_ms: i64,
}

/// The event a trigger invites after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    Order,
    CaseResolved,
    OnboardingDone,
}

impl TriggerKind {
    pub fn parse(s: &str) -> Option<TriggerKind> {
        match s {
            "order" => Some(TriggerKind::Order),
            "case_resolved" => Some(TriggerKind::CaseResolved),
            "onboarding_done" => Some(TriggerKind::OnboardingDone),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Order => "order",
            TriggerKind::CaseResolved => "case_resolved",
            TriggerKind::OnboardingDone => "onboarding_done",
        }
    }
}

/// The reason `CASE` (NULL: invited) for customer `c`; parameters $1 survey, $2 now,
/// $3 cooldown since, $4 skip critical, $5 needs email.
const REASON: &str = "CASE \
    WHEN c.status = 'ended' THEN 'ended' \
    WHEN c.do_not_contact = TRUE THEN 'do_not_contact' \
    WHEN COALESCE(c.survey_consent, FALSE) <> TRUE THEN 'no_consent' \
    WHEN $5 AND (c.email IS NULL OR c.email = '') THEN 'no_email' \
    WHEN EXISTS (SELECT 1 FROM survey_invitations p WHERE p.customer_id = c.id \
        AND p.survey_id = $1 AND p.status = 'invited' \
        AND (p.expires_ms IS NULL OR p.expires_ms > $2)) THEN 'already_invited' \
    WHEN EXISTS (SELECT 1 FROM survey_invitations p WHERE p.customer_id = c.id \
        AND p.status IN ('invited','answered') AND p.created_ms >= $3) THEN 'cooldown' \
    WHEN $4 AND EXISTS (SELECT 1 FROM cases k WHERE k.customer_id = c.id \
        AND k.severity = 'critical' AND k.resolved_at IS NULL) THEN 'open_critical_case' \
    END";

fn token_sql(pg: bool) -> &'static str {
    if pg {
        "md5(random()::text || clock_timestamp()::text || r.id::text)"
    } else {
        "lower(hex(randomblob(16)))"
    }
}

const INVITED_COLUMNS: &str = "i.id, i.survey_id, i.customer_id, c.external_id, c.name, c.email, \
    COALESCE(i.language, 'fi'), i.token_id, i.expires_ms";

type InvitedRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
);

fn invited_of(r: InvitedRow) -> Invited {
    Invited {
        invitation_id: r.0,
        survey_id: r.1,
        customer_id: r.2,
        customer: r.3,
        name: r.4,
        email: r.5,
        language: r.6,
        token_id: r.7,
        expires_ms: r.8,
    }
}

impl DbTx {
    async fn invited_where(&mut self, cond: &str, a: i64, b: i64) -> Result<Vec<Invited>> {
        let sql = format!(
            "SELECT {INVITED_COLUMNS} FROM survey_invitations i JOIN customers c ON c.id = i.customer_id \
             WHERE {cond} ORDER BY i.id"
        );
        let rows: Vec<InvitedRow> = on_tx!(self, tx => sqlx::query_as(AssertSqlSafe(sql))
            .bind(a)
            .bind(b)
            .fetch_all(&mut **tx)
            .await?);
        Ok(rows.into_iter().map(invited_of).collect())
    }
}

/// A wave sent in the past, with its invitation log, its references by external id
/// (the demo's history), for [`crate::Writer::insert_past_wave`].
#[derive(Debug, Clone, PartialEq)]
pub struct PastWave {
    /// The survey's external id.
    pub survey: String,
    /// `email` or `link`.
    pub channel: String,
    pub audience: String,
    /// When it was sent, and when its links stopped being answerable (ms).
    pub sent_ms: i64,
    pub expires_ms: i64,
    pub invitations: Vec<PastInvitation>,
}

/// One customer of a [`PastWave`].
#[derive(Debug, Clone, PartialEq)]
pub struct PastInvitation {
    /// The customer's external id.
    pub customer: String,
    /// `invited`, `answered` or `skipped`.
    pub status: String,
    /// Why a skipped customer was not invited (a code of the invitation log).
    pub reason: Option<String>,
    pub language: Option<String>,
    /// The answer's external id and when it was given (ms).
    pub answer: Option<(String, i64)>,
}

impl crate::Writer {
    /// Writes a past wave and its invitation log in this transaction: the wave's row
    /// with its counts, one invitation per customer found (without a link: a past
    /// invitation gets no reminder), an answered one linked to its answer. Returns the
    /// invitations written, or `None` when the survey is unknown or the same wave
    /// (survey, audience, time) was written before (a second run writes nothing).
    pub async fn insert_past_wave(&mut self, w: &PastWave) -> Result<Option<u64>> {
        let survey: Option<i64> = on_tx!(&mut self.tx, tx => sqlx::query_scalar(
            "SELECT s.id FROM surveys s WHERE s.external_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM survey_waves w WHERE w.survey_id = s.id AND w.audience = $2 \
              AND w.created_ms = $3)")
            .bind(&w.survey)
            .bind(&w.audience)
            .bind(w.sent_ms)
            .fetch_optional(&mut **tx)
            .await?);
        let Some(survey) = survey else {
            return Ok(None);
        };
        let skipped = w
            .invitations
            .iter()
            .filter(|i| i.status == "skipped")
            .count() as i64;
        let considered = w.invitations.len() as i64;
        let wave: i64 = on_tx!(&mut self.tx, tx => sqlx::query_scalar(
            "INSERT INTO survey_waves (survey_id, channel, audience, considered, invited, \
             skipped, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(survey)
            .bind(&w.channel)
            .bind(&w.audience)
            .bind(considered)
            .bind(considered - skipped)
            .bind(skipped)
            .bind(w.sent_ms)
            .fetch_one(&mut **tx)
            .await?);
        let sql = "INSERT INTO survey_invitations (survey_id, customer_id, wave_id, channel, \
                   status, reason, language, created_ms, expires_ms, answered_ms, feedback_id) \
                   SELECT $1, c.id, $2, $3, $4, $5, $6, $7, $8, $9, \
                   (SELECT f.id FROM feedback f WHERE f.external_id = $10) \
                   FROM customers c WHERE c.external_id = $11";
        let mut written = 0u64;
        for i in &w.invitations {
            let expires = (i.status != "skipped").then_some(w.expires_ms);
            let (answer, answered_ms) = match &i.answer {
                Some((id, at)) => (Some(id.as_str()), Some(*at)),
                None => (None, None),
            };
            written += on_tx!(&mut self.tx, tx => sqlx::query(sql)
                .bind(survey)
                .bind(wave)
                .bind(&w.channel)
                .bind(&i.status)
                .bind(&i.reason)
                .bind(&i.language)
                .bind(w.sent_ms)
                .bind(expires)
                .bind(answered_ms)
                .bind(answer)
                .bind(&i.customer)
                .execute(&mut **tx)
                .await?
                .rows_affected());
        }
        Ok(Some(written))
    }

    /// Inserts a wave and its invitation log (one row per customer of the audience,
    /// invited or skipped with the reason) in this transaction; returns its counts and
    /// the invited rows.
    pub async fn insert_wave(&mut self, w: &NewWave) -> Result<(WaveCounts, Vec<Invited>)> {
        let pg = self.tx.is_postgres();
        let f = &w.fatigue;
        let wave_id: i64 = on_tx!(&mut self.tx, tx => sqlx::query_scalar(
            "INSERT INTO survey_waves (survey_id, channel, audience, created_by, created_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(w.survey_id)
            .bind(&w.channel)
            .bind(w.audience.label())
            .bind(w.created_by)
            .bind(f.now_ms)
            .fetch_one(&mut **tx)
            .await?);
        let (filter, value) = audience_filter(&w.audience, pg, "$10")?;
        let token = token_sql(pg);
        let sql = format!(
            "INSERT INTO survey_invitations (survey_id, customer_id, wave_id, channel, status, \
             reason, token_id, language, created_ms, expires_ms) \
             SELECT $1, r.id, $6, $7, CASE WHEN r.reason IS NULL THEN 'invited' ELSE 'skipped' END, \
             r.reason, CASE WHEN r.reason IS NULL THEN {token} END, r.lang, $2, \
             CASE WHEN r.reason IS NULL THEN CAST($9 AS BIGINT) END \
             FROM (SELECT c.id, COALESCE(c.locale, $8) AS lang, {REASON} AS reason \
                   FROM customers c WHERE {filter}) r"
        );
        on_tx!(&mut self.tx, tx => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(w.survey_id)
                .bind(f.now_ms)
                .bind(f.cooldown_since_ms)
                .bind(f.skip_critical)
                .bind(f.needs_email)
                .bind(wave_id)
                .bind(&w.channel)
                .bind(&f.default_lang)
                .bind(f.expires_ms)
                .bind(value)
                .execute(&mut **tx)
                .await?;
        });
        let counts: (i64, i64) = on_tx!(&mut self.tx, tx => sqlx::query_as(
            "SELECT CAST(count(*) AS BIGINT), \
             CAST(COALESCE(sum(CASE WHEN status = 'invited' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM survey_invitations WHERE wave_id = $1")
            .bind(wave_id)
            .fetch_one(&mut **tx)
            .await?);
        let counts = WaveCounts {
            wave_id,
            considered: counts.0,
            invited: counts.1,
            skipped: counts.0 - counts.1,
        };
        on_tx!(&mut self.tx, tx => {
            sqlx::query("UPDATE survey_waves SET considered = $2, invited = $3, skipped = $4 WHERE id = $1")
                .bind(wave_id)
                .bind(counts.considered)
                .bind(counts.invited)
                .bind(counts.skipped)
                .execute(&mut **tx)
                .await?;
        });
        let invited = self
            .tx
            .invited_where(
                "i.wave_id = $1 AND i.status = 'invited' AND $2 = $2",
                wave_id,
                0,
            )
            .await?;
        Ok((counts, invited))
    }

    /// A wave's skipped invitations per reason code.
    pub async fn wave_reasons(&mut self, wave_id: i64) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT reason, CAST(count(*) AS BIGINT) FROM survey_invitations \
                   WHERE wave_id = $1 AND reason IS NOT NULL GROUP BY reason ORDER BY reason";
        Ok(on_tx!(&mut self.tx, tx => sqlx::query_as(sql)
            .bind(wave_id)
            .fetch_all(&mut **tx)
            .await?))
    }

    /// Invitations for the events of `kind` in `[from, to)` for one survey (one per
    /// customer and run: the customer's first event), keyed
    /// `{kind}:{event}:{survey}` so an event is considered once; returns the invited
    /// rows of this run.
    pub async fn insert_triggered(
        &mut self,
        survey_id: i64,
        kind: TriggerKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        f: &Fatigue,
    ) -> Result<Vec<Invited>> {
        let pg = self.tx.is_postgres();
        let events = match kind {
            TriggerKind::Order => {
                "SELECT customer_id AS cid, min(id) AS eid FROM transactions \
                 WHERE kind = 'order' AND occurred_at >= $6 AND occurred_at < $7 GROUP BY customer_id"
            }
            TriggerKind::CaseResolved => {
                "SELECT customer_id AS cid, min(id) AS eid FROM cases \
                 WHERE resolved_at IS NOT NULL AND resolved_at >= $6 AND resolved_at < $7 GROUP BY customer_id"
            }
            TriggerKind::OnboardingDone => {
                "SELECT customer_id AS cid, min(id) AS eid FROM onboardings \
                 WHERE status = 'completed' AND completed_on >= $6 AND completed_on < $7 GROUP BY customer_id"
            }
        };
        let token = token_sql(pg);
        let k = kind.as_str();
        let conflict = "ON CONFLICT (trigger_key) DO NOTHING";
        let sql = format!(
            "INSERT INTO survey_invitations (survey_id, customer_id, trigger_key, channel, status, \
             reason, token_id, language, created_ms, expires_ms) \
             SELECT $1, r.id, r.tkey, 'email', CASE WHEN r.reason IS NULL THEN 'invited' ELSE 'skipped' END, \
             r.reason, CASE WHEN r.reason IS NULL THEN {token} END, r.lang, $2, \
             CASE WHEN r.reason IS NULL THEN CAST($9 AS BIGINT) END \
             FROM (SELECT c.id, COALESCE(c.locale, $8) AS lang, \
                   '{k}:' || CAST(e.eid AS TEXT) || ':{survey_id}' AS tkey, {REASON} AS reason \
                   FROM ({events}) e JOIN customers c ON c.id = e.cid) r WHERE true {conflict}"
        );
        macro_rules! run {
            ($tx:ident, $from:expr, $to:expr) => {
                sqlx::query(AssertSqlSafe(sql))
                    .bind(survey_id)
                    .bind(f.now_ms)
                    .bind(f.cooldown_since_ms)
                    .bind(f.skip_critical)
                    .bind(f.needs_email)
                    .bind($from)
                    .bind($to)
                    .bind(&f.default_lang)
                    .bind(f.expires_ms)
                    .execute(&mut **$tx)
                    .await?
            };
        }
        match (&mut self.tx, kind) {
            (DbTx::Postgres(tx), TriggerKind::OnboardingDone) => {
                run!(tx, from.date_naive(), to.date_naive());
            }
            (DbTx::Postgres(tx), _) => {
                run!(tx, from, to);
            }
            (DbTx::Sqlite(tx), TriggerKind::OnboardingDone) => {
                let d = |x: NaiveDate| x.format("%Y-%m-%d").to_string();
                run!(tx, d(from.date_naive()), d(to.date_naive()));
            }
            (DbTx::Sqlite(tx), _) => {
                let t = kanta_domain::value::format_time;
                run!(tx, t(&from), t(&to));
            }
        }
        let cond = format!(
            "i.survey_id = $1 AND i.created_ms = $2 AND i.status = 'invited' \
             AND i.trigger_key LIKE '{k}:%' AND i.mail_id IS NULL"
        );
        self.tx.invited_where(&cond, survey_id, f.now_ms).await
    }

    /// Invitations due for their one reminder: invited by email at or before
    /// `created_before_ms`, unanswered, not reminded, their link not expired at
    /// `now_ms`, consent still given and an email known; marked reminded now (at most
    /// `limit`).
    pub async fn due_reminders(
        &mut self,
        now_ms: i64,
        created_before_ms: i64,
        limit: i64,
    ) -> Result<Vec<Invited>> {
        let sql = format!(
            "SELECT {INVITED_COLUMNS} FROM survey_invitations i JOIN customers c ON c.id = i.customer_id \
             WHERE i.status = 'invited' AND i.channel = 'email' AND i.reminded_ms IS NULL \
             AND i.created_ms <= $1 AND i.expires_ms > $2 AND i.token_id IS NOT NULL \
             AND COALESCE(c.survey_consent, FALSE) = TRUE AND c.email IS NOT NULL AND c.email <> '' \
             AND c.status <> 'ended' ORDER BY i.id LIMIT $3"
        );
        let rows: Vec<InvitedRow> = on_tx!(&mut self.tx, tx => sqlx::query_as(AssertSqlSafe(sql))
            .bind(created_before_ms)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?);
        let due: Vec<Invited> = rows.into_iter().map(invited_of).collect();
        if due.is_empty() {
            return Ok(due);
        }
        let ids: Vec<i64> = due.iter().map(|d| d.invitation_id).collect();
        let ids = serde_json::to_string(&ids).map_err(json_err)?;
        let in_ids = if self.tx.is_postgres() {
            "id IN (SELECT CAST(jsonb_array_elements_text(CAST($2 AS JSONB)) AS BIGINT))"
        } else {
            "id IN (SELECT value FROM json_each($2))"
        };
        let sql = format!("UPDATE survey_invitations SET reminded_ms = $1 WHERE {in_ids}");
        on_tx!(&mut self.tx, tx => {
            sqlx::query(AssertSqlSafe(sql)).bind(now_ms).bind(ids).execute(&mut **tx).await?;
        });
        Ok(due)
    }

    /// Queues rendered survey mails in the outbox with their `mail.send` jobs (to run
    /// at `run_at_ms`), in bulk; a key queued before is skipped. Invitation mails
    /// (`survey-invite:`) are linked from their invitation (`mail_id`). Returns how
    /// many were queued.
    pub async fn queue_survey_mails(
        &mut self,
        mails: &[SurveyMail],
        run_at_ms: i64,
    ) -> Result<u64> {
        let pg = self.tx.is_postgres();
        let now = crate::to_ms(Utc::now());
        let mut queued = 0;
        for chunk in mails.chunks(5_000) {
            let json = serde_json::to_string(chunk).map_err(json_err)?;
            let keys: Vec<&str> = chunk.iter().map(|m| m.key.as_str()).collect();
            let keys = serde_json::to_string(&keys).map_err(json_err)?;
            let (source, keyed, payload) = if pg {
                (
                    "SELECT k, t, s, x, h FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
                     AS r(k TEXT, t TEXT, s TEXT, x TEXT, h TEXT)",
                    "(SELECT k, u FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS r(k TEXT, u TEXT))",
                    "jsonb_build_object('mail_id', o.id, 'unsubscribe', q.u)",
                )
            } else {
                (
                    "SELECT json_extract(value, '$.k'), json_extract(value, '$.t'), \
                     json_extract(value, '$.s'), json_extract(value, '$.x'), \
                     json_extract(value, '$.h') FROM json_each($1) WHERE true",
                    "(SELECT json_extract(value, '$.k') AS k, json_extract(value, '$.u') AS u \
                     FROM json_each($1))",
                    "json_object('mail_id', o.id, 'unsubscribe', q.u)",
                )
            };
            let insert = format!(
                "INSERT INTO outbox (unique_key, to_addr, subject, body_text, body_html, status, \
                 attempts, created_ms) SELECT q.*, 'queued', 0, $2 FROM ({source}) q WHERE true \
                 ON CONFLICT (unique_key) DO NOTHING"
            );
            let jobs = format!(
                "INSERT INTO jobs (kind, status, payload, unique_key, run_at_ms, attempts, \
                 max_attempts, created_ms, updated_ms) \
                 SELECT '{MAIL_JOB}', 'queued', {payload}, 'mail-' || CAST(o.id AS TEXT), $2, 0, $3, $4, $4 \
                 FROM {keyed} q JOIN outbox o ON o.unique_key = q.k WHERE true \
                 ORDER BY o.id ON CONFLICT (kind, unique_key) DO NOTHING"
            );
            let link = if pg {
                "UPDATE survey_invitations SET mail_id = o.id FROM outbox o \
                 WHERE o.unique_key = 'survey-invite:' || CAST(survey_invitations.id AS TEXT) \
                 AND o.unique_key IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))"
            } else {
                "UPDATE survey_invitations SET mail_id = o.id FROM outbox o \
                 WHERE o.unique_key = 'survey-invite:' || CAST(survey_invitations.id AS TEXT) \
                 AND o.unique_key IN (SELECT value FROM json_each($1))"
            };
            let n = on_tx!(&mut self.tx, tx => {
                let n = sqlx::query(AssertSqlSafe(insert))
                    .bind(&json)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                sqlx::query(AssertSqlSafe(jobs))
                    .bind(&json)
                    .bind(run_at_ms)
                    .bind(MAIL_MAX_ATTEMPTS)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(link).bind(&keys).execute(&mut **tx).await?;
                n
            });
            queued += n;
        }
        Ok(queued)
    }
}

impl Store {
    /// The waves of a survey, newest first, with their answers and mails sent.
    pub async fn survey_waves(&self, survey_id: i64, limit: i64) -> Result<Vec<Wave>> {
        let sql = "SELECT w.id, w.survey_id, w.channel, w.audience, CAST(w.considered AS BIGINT), \
                   CAST(w.invited AS BIGINT), CAST(w.skipped AS BIGINT), \
                   CAST((SELECT count(*) FROM survey_invitations i WHERE i.wave_id = w.id AND i.status = 'answered') AS BIGINT), \
                   CAST((SELECT count(*) FROM survey_invitations i JOIN outbox o ON o.id = i.mail_id \
                         WHERE i.wave_id = w.id AND o.status = 'sent') AS BIGINT), \
                   w.created_by, w.created_ms \
                   FROM survey_waves w WHERE w.survey_id = $1 ORDER BY w.id DESC LIMIT $2";
        type R = (
            i64,
            i64,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            Option<i64>,
            i64,
        );
        let rows: Vec<R> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(survey_id)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| Wave {
                id: r.0,
                survey_id: r.1,
                channel: r.2,
                audience: r.3,
                considered: r.4,
                invited: r.5,
                skipped: r.6,
                answered: r.7,
                mails_sent: r.8,
                created_by: r.9,
                created_ms: r.10,
            })
            .collect())
    }

    /// The invitation log of a survey, newest first, filtered by status, reason and
    /// wave.
    pub async fn survey_invitations(
        &self,
        survey_id: i64,
        status: Option<&str>,
        reason: Option<&str>,
        wave: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Invitation>> {
        let sql = "SELECT i.id, i.survey_id, i.wave_id, i.trigger_key, c.external_id, c.name, \
                   i.channel, i.status, i.reason, i.language, o.status AS mail_status, i.created_ms, \
                   i.expires_ms, i.reminded_ms, i.answered_ms \
                   FROM survey_invitations i JOIN customers c ON c.id = i.customer_id \
                   LEFT JOIN outbox o ON o.id = i.mail_id \
                   WHERE i.survey_id = $1 AND (CAST($2 AS TEXT) IS NULL OR i.status = $2) \
                   AND (CAST($3 AS TEXT) IS NULL OR i.reason = $3) \
                   AND (CAST($4 AS BIGINT) IS NULL OR i.wave_id = $4) \
                   ORDER BY i.id DESC LIMIT $5 OFFSET $6";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(survey_id)
                .bind(status)
                .bind(reason)
                .bind(wave)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Invitation {
                        id: r.try_get(0)?,
                        survey_id: r.try_get(1)?,
                        wave_id: r.try_get(2)?,
                        trigger_key: r.try_get(3)?,
                        customer: r.try_get(4)?,
                        customer_name: r.try_get(5)?,
                        channel: r.try_get(6)?,
                        status: r.try_get(7)?,
                        reason: r.try_get(8)?,
                        language: r.try_get(9)?,
                        mail_status: r.try_get(10)?,
                        created_ms: r.try_get(11)?,
                        expires_ms: r.try_get(12)?,
                        reminded_ms: r.try_get(13)?,
                        answered_ms: r.try_get(14)?,
                    })
                })
                .collect()
        })
    }

    /// An invitation's link parts (survey, customer, token id, expiry); `None` when it
    /// has no token (skipped) or does not exist.
    pub async fn invitation_link(&self, invitation: i64) -> Result<Option<LinkParts>> {
        let sql = "SELECT survey_id, customer_id, token_id, expires_ms FROM survey_invitations \
                   WHERE id = $1 AND token_id IS NOT NULL AND expires_ms IS NOT NULL";
        let row: Option<(i64, i64, String, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(invitation)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|r| LinkParts {
            survey_id: r.0,
            customer_id: r.1,
            token_id: r.2,
            expires_ms: r.3,
        }))
    }

    /// The invited customers of a wave with their links' parts, in id order.
    pub async fn wave_link_parts(
        &self,
        survey_id: i64,
        wave_id: i64,
    ) -> Result<Vec<(String, LinkParts)>> {
        let sql = "SELECT c.external_id, i.survey_id, i.customer_id, i.token_id, i.expires_ms \
                   FROM survey_invitations i JOIN customers c ON c.id = i.customer_id \
                   WHERE i.survey_id = $1 AND i.wave_id = $2 AND i.token_id IS NOT NULL \
                   AND i.expires_ms IS NOT NULL ORDER BY i.id";
        let rows: Vec<(String, i64, i64, String, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(survey_id)
            .bind(wave_id)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.0,
                    LinkParts {
                        survey_id: r.1,
                        customer_id: r.2,
                        token_id: r.3,
                        expires_ms: r.4,
                    },
                )
            })
            .collect())
    }

    /// Whether any active survey sends after an event (the triggers job has work).
    pub async fn has_triggered_surveys(&self) -> Result<bool> {
        let sql = "SELECT CAST(count(*) AS BIGINT) FROM surveys WHERE status = 'active' AND send_after <> 'none'";
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Whether any email invitation may still get a reminder.
    pub async fn has_open_invitations(&self, now_ms: i64) -> Result<bool> {
        let sql = "SELECT 1 FROM survey_invitations WHERE status = 'invited' AND channel = 'email' \
                   AND reminded_ms IS NULL AND expires_ms > $1 LIMIT 1";
        let r: Option<i32> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(now_ms)
            .fetch_optional(pool)
            .await?);
        Ok(r.is_some())
    }

    /// Active surveys with a trigger: (id, send_after, send_after_days).
    pub async fn triggered_surveys(&self) -> Result<Vec<(i64, String, i64)>> {
        let sql = "SELECT id, send_after, CAST(send_after_days AS BIGINT) FROM surveys \
                   WHERE status = 'active' AND send_after <> 'none' ORDER BY id";
        Ok(with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Every survey's name by internal id.
    pub async fn survey_names(&self) -> Result<std::collections::HashMap<i64, String>> {
        let rows: Vec<(i64, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, name FROM surveys").fetch_all(pool).await?);
        Ok(rows.into_iter().collect())
    }

    /// A survey's internal id, status and name by external id.
    pub async fn survey_by_external_id(&self, id: &str) -> Result<Option<(i64, String, String)>> {
        let sql = "SELECT id, status, name FROM surveys WHERE external_id = $1";
        Ok(with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?))
    }
}
