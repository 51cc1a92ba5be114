//! The admin's view of the machinery: background jobs by status, the newest jobs and
//! outbox messages, and retrying a failed job. `GET /api/v1/jobs`, `POST
//! /api/v1/jobs/{id}/retry`, `/admin/jobs` and `kanta jobs` all call these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kanta_store::jobs::{Job, JobStatus};
use kanta_store::outbox::Mail;
use serde::Serialize;
use serde_json::json;

use crate::access::{ADMIN_AREA, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Result};

/// Jobs listed at most by [`Core::jobs_overview`].
pub const JOBS_SHOWN: u32 = 100;
/// Outbox messages listed at most by [`Core::jobs_overview`].
pub const OUTBOX_SHOWN: u32 = 50;

/// A message of the outbox without its bodies (they may hold what only the
/// recipient should read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub key: String,
    pub to: String,
    pub subject: String,
    /// `queued`, `sent` or `failed` (for good).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Mail> for OutboxMessage {
    fn from(m: Mail) -> OutboxMessage {
        OutboxMessage {
            id: m.id,
            key: m.key,
            to: m.to,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// The jobs and the outbox at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobsOverview {
    /// Jobs in each status (every status listed, 0 included).
    pub counts: BTreeMap<&'static str, i64>,
    /// The newest [`JOBS_SHOWN`] jobs (of the status asked for, or all), newest first.
    pub jobs: Vec<Job>,
    /// The newest [`OUTBOX_SHOWN`] messages, newest first, without bodies.
    pub outbox: Vec<OutboxMessage>,
}

impl Core {
    /// The jobs by status, the newest jobs (only `status` when given) and the newest
    /// outbox messages (admins only).
    pub async fn jobs_overview(
        &self,
        acting: &Acting,
        status: Option<JobStatus>,
    ) -> Result<JobsOverview> {
        require(acting, ADMIN_AREA)?;
        let counts = self
            .store
            .job_counts()
            .await?
            .into_iter()
            .map(|(s, n)| (s.as_str(), n))
            .collect();
        let jobs = self.store.jobs(status, JOBS_SHOWN).await?;
        let outbox = self
            .store
            .outbox(OUTBOX_SHOWN)
            .await?
            .into_iter()
            .map(OutboxMessage::from)
            .collect();
        Ok(JobsOverview {
            counts,
            jobs,
            outbox,
        })
    }

    /// Queues a failed job again now, its attempts back to 0 (admins only); audited as
    /// `job_retry` on `jobs` with the job's kind and last error. Refused (conflict)
    /// when the job has not failed. Returns the job as it is now.
    pub async fn retry_job(&self, acting: &Acting, id: i64) -> Result<Job> {
        require(acting, ADMIN_AREA)?;
        let _turn = self.writes.write().await;
        let job = self
            .store
            .job(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no job {id}")))?;
        let mut entry = acting.audit("jobs", Some(&id.to_string()), "job_retry");
        entry.changes = json!({
            "status": {"before": job.status, "after": JobStatus::Queued},
            "attempts": {"before": job.attempts, "after": 0},
        });
        entry.details = json!({ "kind": job.kind, "last_error": job.last_error });
        // The retry and its audit entry commit together.
        if job.status != JobStatus::Failed || !self.store.retry_job(id, &entry).await? {
            return Err(CoreError::Conflict {
                field: None,
                message: format!(
                    "job {id} is {}: only failed jobs can be retried",
                    job.status
                ),
            });
        }
        self.store
            .job(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no job {id}")))
    }
}
