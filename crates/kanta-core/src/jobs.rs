//! Background jobs: what runs them ([`Workers`]), what they do ([`run_job`]), and the
//! recurring ones ([`schedule_recurring`]).
//!
//! Jobs live in the store's `jobs` table (`kanta_store::jobs`): a kind, a payload, a
//! time to run at, attempts, a lease and the last error. A worker claims one due job
//! at a time (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one atomic `UPDATE ...
//! RETURNING`), holds it under a lease it extends while the job runs, and marks it
//! done or failed. A job whose worker died (`kill -9`) is claimed again when its lease
//! ends, so every job runs to completion once even with several `kanta serve`
//! processes on one database. Failures are retried with exponential backoff up to the
//! job's `max_attempts`, then shown as failed on `/admin/jobs` and `kanta jobs`, where
//! an admin can retry them.
//!
//! Recurring jobs are enqueued with a unique key per kind and period (`score:<period>`,
//! `subscriptions.refresh` by day, `health.daily` as `health:<date>` of the store's day,
//! `cases.sla` by 5 minutes, `survey.reminders` by hour while invitations are open,
//! `survey.triggers` by 15 minutes while an active survey has a trigger), so two
//! instances never schedule the same period twice.
//!
//! The mail job sends each message at most once, also across instances and
//! `kill -9`: it claims the message (`outbox.sending_ms`) before handing it over,
//! and a message found claimed and unfinished is failed as "may have been sent",
//! never sent again (`kanta_store::outbox`).
//!
//! **Why our own module and not `apalis`:** a job must be enqueued in the same
//! transaction as whatever caused it (a mail in the outbox, later a case's SLA timer),
//! through the store's one writer; apalis' storages take their own connections and
//! schema. The whole mechanism is a table and five statements per backend.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use kanta_store::jobs::{Job, NewJob};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::actor::Acting;
use crate::mail::{Lang, Mailer, Message, render};
use crate::scoring::{ScoreSettings, score_store};
use crate::{Core, Result};

/// Scores the store's customers (`kanta score` in the background).
pub const SCORE: &str = "score";
/// Sends one message of the outbox.
pub const MAIL_SEND: &str = "mail.send";
/// Recomputes every subscriber's subscription figures as of today (daily).
pub const SUBSCRIPTIONS_REFRESH: &str = crate::subscriptions::REFRESH;
/// Warns of cases' SLA targets and tells managers of breaches (every 5 minutes while
/// cases are open).
pub const CASES_SLA: &str = crate::cases::SLA_JOB;
/// Mails each owner their week's contact queue (weekly, Monday 07:00 store time).
pub const QUEUE_DIGEST: &str = crate::owners::DIGEST_JOB;
/// Scores every customer's health and then refreshes the contact queue (daily).
pub const HEALTH_DAILY: &str = crate::health::JOB;
/// Recomputes the contact queue rows of the customers a write touched (or all).
pub const QUEUE_REFRESH: &str = crate::queue::REFRESH_JOB;
/// Mails each staff member the thanks customers gave them last week (weekly, Monday
/// 08:00 store time).
pub const KUDOS_WEEKLY: &str = crate::kudos::WEEKLY_JOB;
/// Queues survey invitations' one reminder (hourly while invitations are open).
pub const SURVEY_REMINDERS: &str = crate::survey_send::REMINDERS_JOB;
/// Invites after orders, resolved cases and finished onboardings (every 15 minutes
/// while an active survey has a trigger).
pub const SURVEY_TRIGGERS: &str = crate::survey_send::TRIGGERS_JOB;
/// Ends the customers whose approved end date has come (daily, while endings wait).
pub const ENDINGS_DUE: &str = crate::endings::DUE_JOB;
/// The daily profitability pass (cost to serve, margin, the unprofitable list).
pub const VALUE_PROFIT: &str = crate::profit::JOB;
/// A copy of the store into `backup.dir` (every `backup.every_hours`, when set).
pub const STORE_BACKUP: &str = crate::backup::JOB;
/// Applies the retention schedules (daily, when one is set).
pub const PRIVACY_RETENTION: &str = crate::retention::JOB;
/// Every kind a worker runs.
pub const KINDS: [&str; 14] = [
    SCORE,
    MAIL_SEND,
    SUBSCRIPTIONS_REFRESH,
    CASES_SLA,
    QUEUE_DIGEST,
    HEALTH_DAILY,
    QUEUE_REFRESH,
    KUDOS_WEEKLY,
    SURVEY_REMINDERS,
    SURVEY_TRIGGERS,
    ENDINGS_DUE,
    VALUE_PROFIT,
    STORE_BACKUP,
    PRIVACY_RETENTION,
];

/// Days a done job without a unique key stays in the `jobs` table (shown on
/// `/admin/jobs`); the scheduler deletes older ones hourly
/// ([`kanta_store::Store::prune_done_jobs`]).
pub const DONE_JOBS_KEPT_DAYS: i64 = 7;

/// How workers run jobs (from the settings' `jobs.*` and `serve.*`).
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How long a claimed job is a worker's before others may take it again; the
    /// worker extends it every third of this while the job runs.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs.
    pub poll: Duration,
    /// The first retry's delay; each further retry waits twice as long (at most an hour).
    pub retry_base: Duration,
    /// Attempts before a job fails for good.
    pub max_attempts: u32,
    /// Score again when the newest model run is this old (`None`: never).
    pub score_every: Option<Duration>,
    /// Scoring's CLV settings.
    pub holdout_days: u32,
    pub margin: f64,
    pub discount_rate: f64,
    /// Scheduled backups go here (`None`: none).
    pub backup_dir: Option<std::path::PathBuf>,
    /// How often.
    pub backup_every: Duration,
    /// How many scheduled copies are kept.
    pub backup_keep: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            lease: Duration::from_secs(300),
            poll: Duration::from_millis(500),
            retry_base: Duration::from_secs(10),
            max_attempts: 8,
            score_every: Some(Duration::from_secs(24 * 3600)),
            holdout_days: 91,
            margin: 1.0,
            discount_rate: 0.01,
            backup_dir: None,
            backup_every: Duration::from_secs(24 * 3600),
            backup_keep: 7,
        }
    }
}

/// The delay before retry number `attempt` (1 after the first failure).
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    (base * factor).min(Duration::from_secs(3600))
}

/// How a job ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again later (up to the job's attempts).
    Retry(String),
    /// Fail for good now.
    Fail(String),
}

/// The services jobs need besides the store.
#[derive(Clone)]
pub struct Services {
    pub core: Core,
    pub settings: JobSettings,
    /// `None` when `mail.smtp_url` is not set: mail jobs wait and retry.
    pub mailer: Option<Arc<dyn Mailer>>,
}

/// Runs one claimed job.
pub async fn run_job(s: &Services, job: &Job) -> Outcome {
    match job.kind.as_str() {
        SCORE => score_job(s).await,
        MAIL_SEND => mail_job(s, job).await,
        SUBSCRIPTIONS_REFRESH => {
            let acting = Acting::job(SUBSCRIPTIONS_REFRESH);
            let today = match s.core.today().await {
                Ok(d) => d,
                Err(e) => return Outcome::Retry(e.to_string()),
            };
            match s.core.refresh_subscriptions(&acting, today).await {
                Ok(n) => {
                    tracing::info!("subscription figures refreshed ({n} customers changed)");
                    Outcome::Done
                }
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        CASES_SLA => match s.core.run_sla_check(Utc::now()).await {
            Ok(r) => {
                if r.warned + r.breached > 0 {
                    tracing::info!(
                        "SLA check: {} warnings, {} breaches, {} mails",
                        r.warned,
                        r.breached,
                        r.mails
                    );
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        QUEUE_DIGEST => match s.core.run_digest(Utc::now()).await {
            Ok(r) => {
                tracing::info!("weekly digest: {} mails queued", r.mails);
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        KUDOS_WEEKLY => match s.core.run_kudos_weekly(Utc::now()).await {
            Ok(r) => {
                tracing::info!("weekly thanks: {} mails queued for {}", r.mails, r.week);
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        HEALTH_DAILY => health_job(s).await,
        QUEUE_REFRESH => crate::queue::run_refresh_job(&s.core, job).await,
        SURVEY_REMINDERS => match s.core.run_survey_reminders(Utc::now()).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!("survey reminders: {n} queued");
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        SURVEY_TRIGGERS => match s.core.run_survey_triggers(Utc::now()).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!("survey triggers: {n} invited");
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        crate::themes::JOB => match s.core.run_themes(&Acting::job(crate::themes::JOB)).await {
            Ok(r) => {
                tracing::info!(
                    "feedback themes: {} themes from {} texts",
                    r.themes,
                    r.texts
                );
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        ENDINGS_DUE => crate::endings::run_due_job(&s.core).await,
        STORE_BACKUP => crate::backup::run_job(s).await,
        PRIVACY_RETENTION => crate::retention::run_job(&s.core).await,
        VALUE_PROFIT => match s
            .core
            .run_profitability(&Acting::job(VALUE_PROFIT), None)
            .await
        {
            Ok(r) => {
                tracing::info!(
                    "profitability: {} customers, {} unprofitable",
                    r.customers,
                    r.unprofitable
                );
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
        other => Outcome::Fail(format!("no worker knows jobs of kind '{other}'")),
    }
}

/// The daily health job: every customer's health score as of the store's today,
/// then the whole contact queue on those scores.
async fn health_job(s: &Services) -> Outcome {
    let acting = Acting::job(HEALTH_DAILY);
    let today = match s.core.today().await {
        Ok(d) => d,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    match s.core.refresh_health_daily(&acting, today).await {
        Ok(r) => tracing::info!(
            "health scored: {} customers with {} weights in {:.1} s (model {})",
            r.customers,
            r.method,
            r.seconds,
            r.model_id
        ),
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    match s.core.refresh_queue(&acting, today).await {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

async fn score_job(s: &Services) -> Outcome {
    let store = s.core.store();
    let last = match store.latest_model_run().await {
        Ok(l) => l,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    // A run made since this job was scheduled (by `kanta score`, or another period's
    // job) makes this one unnecessary.
    if let (Some(run), Some(every)) = (&last, s.settings.score_every) {
        let age = (Utc::now() - run.created_at).to_std().unwrap_or_default();
        if age < every / 2 {
            return Outcome::Done;
        }
    }
    let (as_of, zone) = match (s.core.today().await, s.core.time_zone().await) {
        (Ok(d), Ok(z)) => (d, z),
        (Err(e), _) | (_, Err(e)) => return Outcome::Retry(e.to_string()),
    };
    let settings = ScoreSettings {
        as_of,
        holdout_days: s.settings.holdout_days,
        model: None,
        margin: s.settings.margin,
        monthly_discount_rate: s.settings.discount_rate,
        zone,
    };
    match score_store(store, &Acting::job(SCORE), &settings).await {
        Ok(mut r) => {
            tracing::info!(
                "scored {} customers with {} in {:.1} s (run {})",
                r.customers,
                r.model,
                r.seconds,
                r.run_id
            );
            // The value page's "+5 points" rests on the run: computed now, not when
            // someone first opens the page.
            s.core
                .warm_retention_economics(Some(std::mem::take(&mut r.purchase_days)))
                .await;
            Outcome::Done
        }
        // No data to fit is no failure of the job: the next period tries again.
        Err(e) => {
            tracing::info!("scoring skipped: {e:#}");
            Outcome::Done
        }
    }
}

/// Sends one message of the outbox, at most once (see `kanta_store::outbox`): the
/// message is claimed (`sending_ms`) before it is handed to the mail server; a message
/// found claimed and unfinished (its sender died while sending) is failed as "may have
/// been sent" and never sent again; a failure before the hand-over (no connection, a
/// 4xx reply) releases the claim and retries. Survey mail carries its one-click
/// unsubscribe URL in the `List-Unsubscribe` header (from the job's payload member
/// `unsubscribe`). Per message: one statement claims and reads it, one records it
/// sent; the SMTP connection is the mailer's pooled one.
async fn mail_job(s: &Services, job: &Job) -> Outcome {
    use kanta_store::outbox::MailClaim;
    let Some(id) = job.payload.get("mail_id").and_then(|v| v.as_i64()) else {
        return Outcome::Fail("the job names no mail_id".into());
    };
    let store = s.core.store();
    let Some(mailer) = &s.mailer else {
        let why = "mail is off: set mail.smtp_url";
        return match store.mail(id).await {
            Ok(Some(m)) if m.status != "queued" => Outcome::Done,
            Ok(None) => Outcome::Fail(format!("no message {id} in the outbox")),
            _ => {
                let _ = store.mark_mail_attempt_failed(id, why, false).await;
                Outcome::Retry(why.into())
            }
        };
    };
    let mail = match store.claim_mail(id).await {
        Ok(MailClaim::Claimed(m)) => m,
        Ok(MailClaim::Finished(_)) => return Outcome::Done,
        Ok(MailClaim::Missing) => return Outcome::Fail(format!("no message {id} in the outbox")),
        Ok(MailClaim::InDoubt(m)) => {
            let _ = store.abandon_mail(id).await;
            tracing::warn!(
                mail = id,
                to = %m.to,
                "a sender stopped while sending this message: it may have been sent; not sent again"
            );
            return Outcome::Fail(kanta_store::outbox::MAY_HAVE_BEEN_SENT.into());
        }
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let message = Message {
        to: mail.to.clone(),
        subject: mail.subject.clone(),
        text: mail.text.clone(),
        html: mail.html.clone(),
    };
    // Survey mail carries its unsubscribe URL in the job (queued with it); a job
    // without the member (queued by an older version) looks it up.
    let unsubscribe = match job.payload.get("unsubscribe") {
        Some(u) => u.as_str().map(str::to_string),
        None => match crate::survey_send::unsubscribe_url_of_mail(&s.core, &mail.key).await {
            Ok(u) => u,
            Err(e) => {
                let _ = store
                    .mark_mail_attempt_failed(id, &e.to_string(), false)
                    .await;
                return Outcome::Retry(e.to_string());
            }
        },
    };
    match mailer
        .send_unsubscribable(&message, unsubscribe.as_deref())
        .await
    {
        Ok(()) => match store.mark_mail_sent(id).await {
            Ok(_) => Outcome::Done,
            // Sent, but not recorded: the claim stays, so it is not sent again.
            Err(e) => Outcome::Fail(format!("sent, but could not record it: {e}")),
        },
        Err(e) => {
            let last_try =
                job.attempts as u32 >= (job.max_attempts as u32).min(s.settings.max_attempts);
            let final_failure = !e.is_transient() || last_try;
            let _ = store
                .mark_mail_attempt_failed(id, &e.to_string(), final_failure)
                .await;
            if e.is_transient() {
                Outcome::Retry(e.to_string())
            } else {
                Outcome::Fail(e.to_string())
            }
        }
    }
}

/// Enqueues the recurring jobs of the current period (idempotent: the unique key per
/// kind and period makes a second call, or a second instance, enqueue nothing).
pub async fn schedule_recurring(s: &Services, now: DateTime<Utc>) -> Result<()> {
    let store = s.core.store();
    let zone = s.core.time_zone().await?;
    // The store's day, for the daily jobs.
    let today = now.with_timezone(&zone).date_naive().format("%Y-%m-%d");
    let every = |secs: i64| now.timestamp().div_euclid(secs);
    // (kind, payload, unique key of the period, when to run) of each job due now.
    let mut due: Vec<(&str, Value, String, DateTime<Utc>)> = Vec::new();
    // Subscriptions bill and renew by the calendar: their figures once a day (UTC),
    // when there are any.
    if store.has_subscriptions().await? {
        let day = now.date_naive().format("%Y-%m-%d");
        due.push((SUBSCRIPTIONS_REFRESH, json!({}), format!("day:{day}"), now));
    }
    // Cases' SLA targets: every 5 minutes while any case is open.
    if store.has_open_cases().await? {
        due.push((CASES_SLA, json!({}), format!("5m:{}", every(300)), now));
    }
    // The weekly digest (07:00) and the weekly thanks mail of last week's kudos
    // (08:00): on Mondays (store time), once per ISO week.
    if now.with_timezone(&zone).weekday() == chrono::Weekday::Mon {
        let (week, at) = crate::owners::digest_time(&zone, now);
        due.push((QUEUE_DIGEST, json!({}), format!("digest:{week}"), at));
        let (week, at) = crate::kudos::weekly_time(&zone, now);
        due.push((KUDOS_WEEKLY, json!({}), format!("kudos:{week}"), at));
    }
    // Once a day (the store's day), when there is something to do: the health score
    // and the contact queue, profitability, approved endings whose date comes, and
    // the themes of the free-text answers.
    if store.has_customers().await? {
        due.push((HEALTH_DAILY, json!({}), format!("health:{today}"), now));
        due.push((VALUE_PROFIT, json!({}), format!("profit:{today}"), now));
    }
    if store.has_approved_endings().await? {
        due.push((ENDINGS_DUE, json!({}), format!("endings:{today}"), now));
    }
    if store.has_answer_texts().await? {
        due.push((
            crate::themes::JOB,
            json!({}),
            format!("themes:{today}"),
            now,
        ));
    }
    // Survey reminders: hourly while an email invitation may still get one.
    if store.has_open_invitations(now.timestamp_millis()).await? {
        due.push((
            SURVEY_REMINDERS,
            json!({}),
            format!("1h:{}", every(3600)),
            now,
        ));
    }
    // Survey triggers: every 15 minutes while an active survey has one.
    if store.has_triggered_surveys().await? {
        due.push((
            SURVEY_TRIGGERS,
            json!({}),
            format!("15m:{}", every(900)),
            now,
        ));
    }
    if s.core.retention_set().await? {
        due.push((
            PRIVACY_RETENTION,
            json!({}),
            format!("retention:{today}"),
            now,
        ));
    }
    if s.settings.backup_dir.is_some() {
        let secs = s.settings.backup_every.as_secs().max(60) as i64;
        due.push((
            STORE_BACKUP,
            json!({}),
            format!("{secs}s:{}", every(secs)),
            now,
        ));
    }
    if let Some(period) = s.settings.score_every {
        let secs = period.as_secs().max(60) as i64;
        let payload = json!({ "period_seconds": secs });
        due.push((SCORE, payload, format!("{secs}s:{}", every(secs)), now));
    }
    for (kind, payload, key, run_at) in due {
        store
            .enqueue(&NewJob {
                kind: kind.into(),
                payload,
                unique_key: Some(key),
                run_at,
                max_attempts: s.settings.max_attempts.min(3) as i32,
            })
            .await?;
    }
    Ok(())
}

/// Deletes the done jobs without a unique key older than [`DONE_JOBS_KEPT_DAYS`]
/// (hourly, from the scheduler).
async fn prune_old_done_jobs(s: &Services) {
    let before = Utc::now() - chrono::Duration::days(DONE_JOBS_KEPT_DAYS);
    match s.core.store().prune_done_jobs(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("deleted {n} jobs done more than {DONE_JOBS_KEPT_DAYS} days ago"),
        Err(e) => tracing::warn!("deleting old done jobs: {e}"),
    }
}

/// On a PostgreSQL with `autovacuum = off`, what autovacuum would do for the store's
/// tables, once a minute from the scheduler ([`kanta_store::Store::vacuum_due`]): the
/// dead rows of the jobs, the customers and the queue's marks go, and the planner
/// learns how the tables grew, so that plans made on small tables are made again.
async fn vacuum_if_no_autovacuum(s: &Services) -> Result<()> {
    let store = s.core.store();
    if !store.autovacuum_off().await? {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let tables = store.vacuum_due().await?;
    if !tables.is_empty() {
        tracing::info!(
            "autovacuum is off: vacuumed and analysed {} in {} ms",
            tables.join(", "),
            started.elapsed().as_millis()
        );
    }
    Ok(())
}

/// Jobs a worker claims at once: one statement and one commit for all of them, and
/// one for marking those that succeeded done (claiming and completing one job at a
/// time costs three commits a job, which a busy queue on PostgreSQL feels).
pub const CLAIM_BATCH: u32 = 16;

/// Mail jobs of one claimed batch sent at the same time (at most; the SMTP pool keeps
/// [`crate::mail::POOL_IDLE_CONNECTIONS`] connections open between batches).
pub const MAIL_PARALLEL: usize = 8;

/// Claims up to [`CLAIM_BATCH`] due jobs as `worker` and runs them one after another,
/// extending their leases while they run. Returns whether there was any.
pub async fn work_once(s: &Services, worker: &str) -> Result<bool> {
    let jobs = s
        .core
        .store()
        .claim_jobs(worker, &KINDS, s.settings.lease, Utc::now(), CLAIM_BATCH)
        .await?;
    if jobs.is_empty() {
        return Ok(false);
    }
    execute(s, worker, jobs).await?;
    Ok(true)
}

/// Runs this queued job now as `worker` (whatever its time to run), as a worker
/// would; returns the job as it ended, or `None` when it was not queued (another
/// worker has it, or it is done).
pub async fn run_now(s: &Services, id: i64, worker: &str) -> Result<Option<Job>> {
    let store = s.core.store();
    let Some(job) = store
        .claim_job_id(id, worker, s.settings.lease, Utc::now())
        .await?
    else {
        return Ok(None);
    };
    execute(s, worker, vec![job]).await?;
    Ok(store.job(id).await?)
}

/// Runs claimed jobs (mail jobs up to [`MAIL_PARALLEL`] at a time, the others one
/// after another), extending the leases of all of them while any runs, and records
/// how each ended: each failure on its own, the jobs that succeeded together at the
/// end. (A worker that dies between a job's success and that record
/// leaves it to be run again after its lease; the mail job finds its message sent, or
/// claimed and unfinished, and sends nothing twice.)
async fn execute(s: &Services, worker: &str, jobs: Vec<Job>) -> Result<()> {
    let store = s.core.store();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let heartbeat = {
        let store = store.clone();
        let worker = worker.to_string();
        let lease = s.settings.lease;
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(lease / 3) => {}
                    _ = stop_rx.changed() => return,
                }
                let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
                for id in &ids {
                    // False for a job already failed: nothing to extend.
                    let _ = store.extend_lease(*id, &worker, until).await;
                }
            }
        })
    };
    // Mail jobs run side by side (each on its own pooled SMTP connection: a message's
    // time is mostly waiting for the server), the other jobs one after another.
    let (mail, other): (Vec<&Job>, Vec<&Job>) = jobs.iter().partition(|j| j.kind == MAIL_SEND);
    let mut outcomes: Vec<(&Job, Outcome)> = Vec::with_capacity(jobs.len());
    for chunk in mail.chunks(MAIL_PARALLEL) {
        let ended = futures_util::future::join_all(chunk.iter().map(|job| run_job(s, job))).await;
        outcomes.extend(chunk.iter().copied().zip(ended));
    }
    for job in other {
        outcomes.push((job, run_job(s, job).await));
    }
    let mut done = Vec::new();
    let mut result = Ok(());
    for (job, outcome) in outcomes {
        let recorded = match outcome {
            Outcome::Done => {
                done.push(job.id);
                Ok(())
            }
            // The job's own attempts, at most the settings' `jobs.max_attempts`.
            Outcome::Retry(e)
                if (job.attempts as u32)
                    < (job.max_attempts as u32).min(s.settings.max_attempts) =>
            {
                let wait = backoff(s.settings.retry_base, job.attempts as u32);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                tracing::warn!(job = job.id, kind = %job.kind, "job failed, retrying at {at}: {e}");
                store
                    .fail_job(job.id, worker, &e, Some(at))
                    .await
                    .map(|_| ())
            }
            Outcome::Retry(e) | Outcome::Fail(e) => {
                tracing::error!(job = job.id, kind = %job.kind, "job failed: {e}");
                let failed = store.fail_job(job.id, worker, &e, None).await.map(|_| ());
                if failed.is_ok() {
                    tell_admins(s, job, &e).await;
                }
                failed
            }
        };
        if let Err(e) = recorded {
            result = Err(e.into());
        }
    }
    let completed = store.complete_jobs(&done, worker).await;
    let _ = stop_tx.send(true);
    let _ = heartbeat.await;
    completed?;
    result
}

/// Mails every active admin that a job failed for good (the `job_failed` template, in
/// the admin's language), through the outbox, once per job and admin. Not for mail
/// jobs themselves: a mailer that fails would only queue more mail. Problems are
/// logged; the job's failure stands recorded either way.
pub async fn tell_admins(s: &Services, job: &Job, error: &str) {
    if job.kind == MAIL_SEND {
        return;
    }
    let core = &s.core;
    let admins = match core.store().users().await {
        Ok(users) => users
            .into_iter()
            .filter(|u| u.active && u.role == kanta_store::accounts::Role::Admin),
        Err(e) => {
            tracing::warn!("cannot tell the admins that job {} failed: {e}", job.id);
            return;
        }
    };
    let store_lang = core
        .store_settings()
        .await
        .map(|st| st.language)
        .unwrap_or_else(|_| "fi".into());
    let site = format!("Kanta ({})", core.store().url());
    let id = job.id.to_string();
    for admin in admins {
        let lang = admin
            .lang
            .as_deref()
            .and_then(Lang::parse)
            .or_else(|| Lang::parse(&store_lang))
            .unwrap_or(Lang::Fi);
        let vars = [
            ("site", site.as_str()),
            ("kind", job.kind.as_str()),
            ("id", id.as_str()),
            ("error", error),
        ];
        let queued = match render("job_failed", lang, &vars) {
            Ok(m) => {
                let key = format!("job-failed-{}-{}", job.id, admin.id);
                core.queue_mail(&Acting::job(&job.kind), &key, &m.to(admin.email.clone()))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = queued {
            tracing::warn!(
                "cannot tell {} that job {} failed: {e}",
                admin.email,
                job.id
            );
        }
    }
}

/// `kanta serve`'s background workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers (named after this process) and the scheduler of
    /// recurring jobs.
    pub fn start(s: Services, count: u32) -> Workers {
        let (stop, rx) = watch::channel(false);
        let mut handles = Vec::new();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kanta".into());
        let pid = std::process::id();
        // A random part too: two instances may share a host name and a pid (pid 1 in
        // containers), and only the named worker may complete its job.
        let instance = &crate::secrets::new_secret()[..8];
        for n in 0..count {
            let s = s.clone();
            let mut rx = rx.clone();
            let name = format!("{host}:{pid}:{instance}:{n}");
            handles.push(tokio::spawn(async move {
                loop {
                    if *rx.borrow() {
                        return;
                    }
                    let worked = match work_once(&s, &name).await {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::warn!("job worker {name}: {e}");
                            false
                        }
                    };
                    if !worked {
                        tokio::select! {
                            _ = tokio::time::sleep(s.settings.poll) => {}
                            _ = rx.changed() => {}
                        }
                    }
                }
            }));
        }
        if count > 0 {
            let mut rx = rx.clone();
            handles.push(tokio::spawn(async move {
                let mut pruned: Option<std::time::Instant> = None;
                loop {
                    if let Err(e) = schedule_recurring(&s, Utc::now()).await {
                        tracing::warn!("scheduling recurring jobs: {e}");
                    }
                    if pruned.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                        prune_old_done_jobs(&s).await;
                        pruned = Some(std::time::Instant::now());
                    }
                    if let Err(e) = vacuum_if_no_autovacuum(&s).await {
                        tracing::warn!("vacuuming the store's tables: {e}");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                        _ = rx.changed() => return,
                    }
                }
            }));
        }
        Workers { stop, handles }
    }

    /// Asks the workers to stop after their current job, and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}
