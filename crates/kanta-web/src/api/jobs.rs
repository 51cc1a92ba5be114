//! Background jobs, for admins (`Core::jobs_overview`, `Core::retry_job`, as
//! `/admin/jobs` and `kanta jobs`):
//!
//! - `GET /api/v1/jobs`: jobs per status, the newest 100 jobs (`status=` to see one
//!   status) and the newest 50 outbox messages (without their bodies);
//! - `POST /api/v1/jobs/{id}/retry`: queues a failed job again (audited as
//!   `job_retry`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use kanta_core::access::ADMIN_AREA;
use kanta_store::jobs::JobStatus;

use super::ApiError;
use super::scores::{param_of, params};
use crate::AppState;
use crate::auth::Caller;

pub(super) async fn list(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMIN_AREA)?;
    let ps = params(&q, &["status"])?;
    let status = match param_of(&ps, "status").map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(JobStatus::parse(t).ok_or_else(|| {
            ApiError::invalid(
                "status",
                format!(
                    "'{t}' is not a job status: use {}",
                    JobStatus::ALL.map(JobStatus::as_str).join(", ")
                ),
            )
        })?),
    };
    Ok(Json(s.core.jobs_overview(&caller.acting, status).await?).into_response())
}

pub(super) async fn retry(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(ADMIN_AREA)?;
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("no job with id '{id}'")))?;
    Ok(Json(s.core.retry_job(&caller.acting, id).await?).into_response())
}
