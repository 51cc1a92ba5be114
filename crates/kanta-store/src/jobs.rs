//! Background jobs: work to do later or elsewhere (send a mail, score the customers),
//! kept in the `jobs` table (migration 0006) so it survives restarts.
//!
//! A job is enqueued ([`Store::enqueue`], or [`Writer::enqueue`](crate::Writer::enqueue)
//! in the transaction of what causes it), at most once per `(kind, unique_key)`. A
//! worker claims one ([`Store::claim_job`]) with a lease: the claim is one statement
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite a single statement is atomic), so
//! each job goes to one worker. The worker extends the lease while it works, then
//! completes or fails the job; only the worker holding the job may. A job whose lease
//! ran out (its worker died) is claimed again, as another attempt.
//!
//! Times are milliseconds since the Unix epoch, UTC, as in [`auth`](crate::accounts);
//! `now` is an argument where the order of jobs depends on it, so tests need no clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::audit::AuditEntry;
use crate::write::{DbTx, on_tx};
use crate::{Backend, Result, Store, from_ms, json_err, to_ms, with_pool};

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What to do, e.g. `mail.send`; workers claim jobs by kind.
    pub kind: String,
    /// The job's arguments.
    pub payload: serde_json::Value,
    /// When given, no other job of this kind with this key is ever enqueued (whatever
    /// the first one's status).
    pub unique_key: Option<String>,
    /// Not before this moment.
    pub run_at: DateTime<Utc>,
    /// Attempts before the job fails for good (at least 1).
    pub max_attempts: i32,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its `run_at` and a worker.
    Queued,
    /// Claimed by a worker (`locked_by`) until `lease_until`.
    Running,
    Done,
    /// Failed for good (its last attempt, or no retry asked); an admin may retry it.
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL
            .into_iter()
            .find(|j| j.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub status: JobStatus,
    pub payload: serde_json::Value,
    pub unique_key: Option<String>,
    /// Not before this moment (a retry's time after a failed attempt).
    pub run_at: DateTime<Utc>,
    /// Attempts so far (claims; a retry by an admin starts again from 0).
    pub attempts: i32,
    pub max_attempts: i32,
    /// The worker holding the job, while it runs.
    pub locked_by: Option<String>,
    /// While it runs: when the job may be taken by another worker.
    pub lease_until: Option<DateTime<Utc>>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was done or failed for good.
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, status, CAST(payload AS TEXT) AS payload, unique_key, run_at_ms, \
    attempts, max_attempts, locked_by, lease_until_ms, last_error, created_ms, updated_ms, \
    finished_ms";

/// The error a job gets when the worker of its last allowed attempt stopped.
const LEASE_LOST: &str = "the worker stopped during the last allowed attempt (its lease ran out)";

fn job_of<R: Row>(r: &R) -> Result<Job>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> i32: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
{
    let status: String = r.try_get("status")?;
    let payload: String = r.try_get("payload")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        payload: serde_json::from_str(&payload).map_err(json_err)?,
        unique_key: r.try_get("unique_key")?,
        run_at: from_ms(r.try_get("run_at_ms")?),
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        locked_by: r.try_get("locked_by")?,
        lease_until: r.try_get::<Option<i64>, _>("lease_until_ms")?.map(from_ms),
        last_error: r.try_get("last_error")?,
        created_at: from_ms(r.try_get("created_ms")?),
        updated_at: from_ms(r.try_get("updated_ms")?),
        finished_at: r.try_get::<Option<i64>, _>("finished_ms")?.map(from_ms),
    })
}

impl DbTx {
    /// Enqueues a job in this transaction; `None` when its `(kind, unique_key)` exists.
    pub(crate) async fn enqueue(&mut self, j: &NewJob) -> Result<Option<i64>> {
        let payload = if self.is_postgres() {
            "CAST($2 AS JSONB)"
        } else {
            "$2"
        };
        let sql = format!(
            "INSERT INTO jobs (kind, status, payload, unique_key, run_at_ms, attempts, \
             max_attempts, created_ms, updated_ms) \
             VALUES ($1, 'queued', {payload}, $3, $4, 0, $5, $6, $6) \
             ON CONFLICT (kind, unique_key) DO NOTHING RETURNING id"
        );
        let now = to_ms(Utc::now());
        let payload = if j.payload.is_null() {
            "{}".to_string()
        } else {
            j.payload.to_string()
        };
        Ok(
            on_tx!(self, tx => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(&j.kind)
            .bind(payload)
            .bind(&j.unique_key)
            .bind(to_ms(j.run_at))
            .bind(j.max_attempts.max(1))
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?),
        )
    }

    /// Enqueues `j` unless a job of its kind without a unique key is queued already
    /// (one not yet taken by a worker): `Some(id)` when it did. Two writes at the same
    /// moment may both enqueue one; the second then finds little or nothing to do.
    pub(crate) async fn enqueue_unless_queued(&mut self, j: &NewJob) -> Result<Option<i64>> {
        let payload = if self.is_postgres() {
            "CAST($2 AS JSONB)"
        } else {
            "$2"
        };
        let sql = format!(
            "INSERT INTO jobs (kind, status, payload, unique_key, run_at_ms, attempts, \
             max_attempts, created_ms, updated_ms) \
             SELECT $1, 'queued', {payload}, NULL, $3, 0, $4, $5, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND kind = $1 \
             AND unique_key IS NULL) RETURNING id"
        );
        let now = to_ms(Utc::now());
        Ok(
            on_tx!(self, tx => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(&j.kind)
            .bind(j.payload.to_string())
            .bind(to_ms(j.run_at))
            .bind(j.max_attempts.max(1))
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?),
        )
    }
}

impl crate::Writer {
    /// Enqueues `j` in this writer's transaction unless a job of its kind without a
    /// unique key is queued already (not yet taken by a worker); `Some(id)` when it did.
    pub async fn enqueue_unless_queued(&mut self, j: &NewJob) -> Result<Option<i64>> {
        self.tx.enqueue_unless_queued(j).await
    }

    /// Enqueues a job in this writer's transaction (it runs only if the write
    /// commits); `None` when its `(kind, unique_key)` exists.
    pub async fn enqueue(&mut self, j: &NewJob) -> Result<Option<i64>> {
        self.tx.enqueue(j).await
    }
}

impl Store {
    /// Enqueues a job; `None` when a job of its kind with its `unique_key` exists
    /// already (in any status).
    pub async fn enqueue(&self, j: &NewJob) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue(j).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the next job of these kinds for `worker`: the earliest (by `run_at`,
    /// then id) that is queued with `run_at <= now`, or running with its lease run out
    /// before `now` (its worker died) and attempts left. The job becomes running,
    /// held by `worker` until `now + lease`, one attempt more. `None` when there is
    /// none (or `kinds` is empty).
    ///
    /// Jobs of these kinds whose lease ran out on their last allowed attempt fail for
    /// good first, so a job that kills its worker is not run forever.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        Ok(self
            .claim_jobs(worker, kinds, lease, now, 1)
            .await?
            .into_iter()
            .next())
    }

    /// As [`Store::claim_job`], up to `max` jobs in one statement (a worker that takes
    /// several at once pays one round trip and one commit for all of them), earliest
    /// first.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: std::time::Duration,
        now: DateTime<Utc>,
        max: u32,
    ) -> Result<Vec<Job>> {
        if kinds.is_empty() || max == 0 {
            return Ok(Vec::new());
        }
        let now = to_ms(now);
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let until = now.saturating_add(lease);
        let kinds = serde_json::to_string(kinds).map_err(json_err)?;
        let (in_kinds, lock) = match self.backend {
            Backend::Postgres(_) => (
                "kind IN (SELECT jsonb_array_elements_text(CAST($2 AS JSONB)))",
                "FOR UPDATE SKIP LOCKED",
            ),
            Backend::Sqlite(_) => ("kind IN (SELECT value FROM json_each($2))", ""),
        };
        let give_up = format!(
            "UPDATE jobs SET status = 'failed', last_error = $3, locked_by = NULL, \
             lease_until_ms = NULL, finished_ms = $1, updated_ms = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until_ms < $1 \
             AND attempts >= max_attempts AND {in_kinds} {lock})"
        );
        let claim = format!(
            "UPDATE jobs SET status = 'running', locked_by = $3, lease_until_ms = $4, \
             attempts = attempts + 1, updated_ms = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE {in_kinds} \
               AND ((status = 'queued' AND run_at_ms <= $1) \
                 OR (status = 'running' AND lease_until_ms < $1 AND attempts < max_attempts)) \
               ORDER BY run_at_ms, id LIMIT $5 {lock}) \
             RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(give_up))
                .bind(now)
                .bind(&kinds)
                .bind(LEASE_LOST)
                .execute(pool)
                .await?;
            let rows = sqlx::query(AssertSqlSafe(claim))
                .bind(now)
                .bind(&kinds)
                .bind(worker)
                .bind(until)
                .bind(i64::from(max))
                .fetch_all(pool)
                .await?;
            let mut jobs = rows.iter().map(job_of).collect::<Result<Vec<_>>>()?;
            jobs.sort_by_key(|j| (j.run_at, j.id));
            Ok(jobs)
        })
    }

    /// Claims this one job when it is queued (whatever its time to run: the caller wants
    /// it now, as `kanta mail test` its message), as [`Store::claim_job`] would.
    pub async fn claim_job_id(
        &self,
        id: i64,
        worker: &str,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let now = to_ms(now);
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let until = now.saturating_add(lease);
        let claim = format!(
            "UPDATE jobs SET status = 'running', locked_by = $3, lease_until_ms = $4, \
             attempts = attempts + 1, updated_ms = $1 \
             WHERE id = $2 AND status = 'queued' RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(claim))
                .bind(now)
                .bind(id)
                .bind(worker)
                .bind(until)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(job_of).transpose()
        })
    }

    /// Extends the lease of a job `worker` holds until `until`; false when the job is
    /// no longer its (finished, or taken by another worker after the lease ran out).
    pub async fn extend_lease(&self, id: i64, worker: &str, until: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE jobs SET lease_until_ms = $3, updated_ms = $4 \
                   WHERE id = $1 AND locked_by = $2 AND status = 'running'";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(worker)
            .bind(to_ms(until))
            .bind(to_ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Marks these jobs done in one statement, those `worker` holds; returns how many.
    pub async fn complete_jobs(&self, ids: &[i64], worker: &str) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = serde_json::to_string(ids).map_err(json_err)?;
        let in_ids = match self.backend {
            Backend::Postgres(_) => {
                "id IN (SELECT CAST(jsonb_array_elements_text(CAST($1 AS JSONB)) AS BIGINT))"
            }
            Backend::Sqlite(_) => "id IN (SELECT value FROM json_each($1))",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'done', locked_by = NULL, lease_until_ms = NULL, \
             finished_ms = $3, updated_ms = $3 \
             WHERE {in_ids} AND locked_by = $2 AND status = 'running'"
        );
        Ok(with_pool!(self, pool => sqlx::query(AssertSqlSafe(sql))
            .bind(ids)
            .bind(worker)
            .bind(to_ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Marks a job done; only the worker holding it may (false otherwise).
    pub async fn complete_job(&self, id: i64, worker: &str) -> Result<bool> {
        let sql = "UPDATE jobs SET status = 'done', locked_by = NULL, lease_until_ms = NULL, \
                   finished_ms = $3, updated_ms = $3 \
                   WHERE id = $1 AND locked_by = $2 AND status = 'running'";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(worker)
            .bind(to_ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Records a failed attempt of a job `worker` holds (false when it holds none).
    /// With `retry_at` the job is queued again for then, its attempts kept, as long
    /// as it has attempts left; otherwise (no `retry_at`, or `max_attempts` reached)
    /// it fails for good.
    pub async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let sql = "UPDATE jobs SET \
                   status = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
                   run_at_ms = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts THEN $4 ELSE run_at_ms END, \
                   finished_ms = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts THEN NULL ELSE $5 END, \
                   last_error = $3, locked_by = NULL, lease_until_ms = NULL, updated_ms = $5 \
                   WHERE id = $1 AND locked_by = $2 AND status = 'running'";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .bind(worker)
            .bind(error)
            .bind(retry_at.map(to_ms))
            .bind(to_ms(Utc::now()))
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// An admin's retry: a failed job queued again now, its attempts back to 0 (its
    /// last error kept). False when the job is not failed.
    pub async fn retry_job(&self, id: i64, audit: &AuditEntry) -> Result<bool> {
        let sql = "UPDATE jobs SET status = 'queued', attempts = 0, run_at_ms = $2, \
                   finished_ms = NULL, updated_ms = $2 WHERE id = $1 AND status = 'failed'";
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, c => sqlx::query(sql)
            .bind(id)
            .bind(to_ms(Utc::now()))
            .execute(&mut **c)
            .await?
            .rows_affected());
        if n == 0 {
            return Ok(false);
        }
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Jobs, newest first, of one status or all.
    pub async fn jobs(&self, status: Option<JobStatus>, limit: u32) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(status.map(JobStatus::as_str))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(job_of).collect()
        })
    }

    /// Deletes the jobs done before `before` that have no unique key: the queue's
    /// refreshes, one every 2 s while writes come, would otherwise fill the table
    /// forever (a keyed job stays, as its key promises that no job of its kind with
    /// that key is enqueued again). Failed jobs stay for an admin to see and retry.
    /// The number deleted.
    pub async fn prune_done_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM jobs WHERE status = 'done' AND unique_key IS NULL \
                   AND finished_ms < $1";
        let done = with_pool!(self, pool => {
            sqlx::query(sql).bind(to_ms(before)).execute(pool).await?.rows_affected()
        });
        Ok(done)
    }

    /// How many jobs are in each status, every status listed (in [`JobStatus::ALL`]'s
    /// order).
    pub async fn job_counts(&self) -> Result<Vec<(JobStatus, i64)>> {
        let sql = "SELECT status, count(*) FROM jobs GROUP BY status";
        let rows: Vec<(String, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(JobStatus::ALL
            .into_iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .filter(|(name, _)| name == s.as_str())
                    .map(|(_, n)| *n)
                    .sum();
                (s, n)
            })
            .collect())
    }

    /// One job by id.
    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(job_of).transpose()
        })
    }

    /// The job of this kind and unique key.
    pub async fn job_by_key(&self, kind: &str, unique_key: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND unique_key = $2");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(kind)
                .bind(unique_key)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(job_of).transpose()
        })
    }
}
