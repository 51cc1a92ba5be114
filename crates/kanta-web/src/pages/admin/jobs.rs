//! `/admin/jobs`: the background jobs by status, the newest jobs (filtered by status),
//! a Retry button on each failed job (`POST /admin/jobs/{id}/retry`), and the outbox's
//! newest messages without their bodies.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::CoreError;
use kanta_core::access::ADMIN_AREA;
use kanta_store::jobs::{Job, JobStatus};
use serde::Deserialize;

use super::{Frame, utc};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;
use crate::pages::{PageError, core_error, render_status, see_other};

/// The page's query string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    /// Only jobs of this status (`queued`, `running`, `done`, `failed`); else all.
    status: String,
    /// The job a retry just queued again.
    retried: Option<i64>,
}

/// The Retry button's form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RetryForm {
    csrf: String,
}

/// One status with its count, for the headline and the filter.
pub(crate) struct StatusCount {
    status: &'static str,
    label: String,
    count: i64,
    selected: bool,
}

pub(crate) struct JobRow {
    id: i64,
    kind: String,
    status: &'static str,
    status_text: String,
    attempts: String,
    run_at: String,
    last_error: Option<String>,
    finished: Option<String>,
    failed: bool,
}

pub(crate) struct MailRow {
    to: String,
    subject: String,
    status: String,
    status_text: String,
    attempts: i32,
    last_error: Option<String>,
    sent_at: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_jobs.html")]
pub(crate) struct JobsPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    counts: Vec<StatusCount>,
    /// A status is chosen.
    filtered: bool,
    jobs: Vec<JobRow>,
    outbox: Vec<MailRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn status_text(tr: &Tr, s: &str) -> String {
    tr.text_or(&format!("jobs.status.{s}"), s)
}

fn job_row(tr: &Tr, j: &Job) -> JobRow {
    JobRow {
        id: j.id,
        kind: j.kind.clone(),
        status: j.status.as_str(),
        status_text: status_text(tr, j.status.as_str()),
        attempts: format!("{}/{}", j.attempts, j.max_attempts),
        run_at: utc(tr, &j.run_at),
        last_error: j.last_error.clone(),
        finished: j.finished_at.as_ref().map(|t| utc(tr, t)),
        failed: j.status == JobStatus::Failed,
    }
}

/// The page for `status` (all when `None`), with a notice or an error.
async fn view(
    s: &AppState,
    signed: &SignedIn,
    frame: Frame,
    status: Option<JobStatus>,
    notice: Option<String>,
    error: Option<String>,
) -> Result<JobsPage, PageError> {
    let Frame { tr, me, csrf } = frame;
    let o = s
        .core
        .jobs_overview(&signed.acting(), status)
        .await
        .map_err(core_error(signed))?;
    Ok(JobsPage {
        counts: JobStatus::ALL
            .iter()
            .map(|st| StatusCount {
                status: st.as_str(),
                label: status_text(&tr, st.as_str()),
                count: o.counts.get(st.as_str()).copied().unwrap_or(0),
                selected: status == Some(*st),
            })
            .collect(),
        filtered: status.is_some(),
        jobs: o.jobs.iter().map(|j| job_row(&tr, j)).collect(),
        outbox: o
            .outbox
            .iter()
            .map(|m| MailRow {
                to: m.to.clone(),
                subject: m.subject.clone(),
                status: m.status.clone(),
                status_text: status_text(&tr, &m.status),
                attempts: m.attempts,
                last_error: m.last_error.clone(),
                sent_at: m.sent_at.as_ref().map(|t| utc(&tr, t)),
            })
            .collect(),
        notice,
        error,
        tr,
        me,
        csrf,
    })
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let frame = Frame::open(&signed, ADMIN_AREA)?;
    let tr = frame.tr;
    let notice = q
        .retried
        .map(|id| tr.t("jobs.retried").replace("{id}", &id.to_string()));
    let status = JobStatus::parse(&q.status);
    let v = view(&s, &signed, frame, status, notice, None).await?;
    Ok(render_status(&v, StatusCode::OK))
}

/// Queues a failed job again through the core (audited); a job that is not failed
/// (or not there) is refused with the page and the reason.
pub(crate) async fn retry(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<RetryForm>,
) -> Result<Response, PageError> {
    let frame = Frame::post(&signed, ADMIN_AREA, &f.csrf)?;
    let tr = frame.tr;
    let status = match s.core.retry_job(&signed.acting(), id).await {
        Ok(_) => return Ok(see_other(format!("/admin/jobs?retried={id}"))),
        Err(CoreError::Conflict { .. }) => StatusCode::CONFLICT,
        Err(CoreError::NotFound(_)) => StatusCode::NOT_FOUND,
        Err(e) => return Err(core_error(&signed)(e)),
    };
    let error = tr.t("jobs.not-retried").replace("{id}", &id.to_string());
    let v = view(&s, &signed, frame, None, None, Some(error)).await?;
    Ok(render_status(&v, status))
}
