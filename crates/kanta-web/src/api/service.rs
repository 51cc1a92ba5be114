//! The service figures (read: everyone signed in):
//!
//! - `GET /api/v1/service?months=12`: SLA attainment per month, category and owner
//!   (`kanta_core::cases::SlaAttainment`) and the small-claim rule's effect
//!   (`kanta_core::claims::ClaimEffect`) over the last `months` months;
//! - `GET /api/v1/reports/recovery?as_of=DATE&segment=&kind=`: recovery measured
//!   (`kanta_core::recovery::RecoveryReport`): customers who had a case, by outcome,
//!   against customers who never had one, among the customers of a segment and/or
//!   kind (the retention dashboard's filter; none: every customer).
//!
//! Both are computed by the core; this module only reads the query and writes JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kanta_core::recovery::RecoveryReport;
use serde_json::{Value, json};

use super::scores::params;
use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

/// Months the figures cover by default, and at most.
pub const MONTHS: u32 = 12;
pub const MAX_MONTHS: u32 = 36;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/service", get(service))
        .route("/api/v1/reports/recovery", get(recovery))
}

/// A figure of the core as it serializes.
fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("{what}: {e}")))
}

/// The recovery report as the API answers it: the core's report as it serializes
/// (the same JSON as `kanta report recovery --json`).
pub fn recovery_json(r: &RecoveryReport) -> Result<Value, ApiError> {
    to_json("recovery report", r)
}

/// `GET /api/v1/service?months=N`.
async fn service(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let mut months = MONTHS;
    for (k, v) in params(&q, &["months"])? {
        if k == "months" {
            months = v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_MONTHS).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("months", format!("'{v}' is not within 1..{MAX_MONTHS}"))
                })?;
        }
    }
    let (attainment, effect) = tokio::join!(
        s.core.sla_attainment(&caller.acting, months),
        s.core.small_claim_effect(&caller.acting, months),
    );
    Ok(Json(json!({
        "months": months,
        "attainment": to_json("attainment", &attainment?)?,
        "small_claims": to_json("small-claim effect", &effect?)?,
    }))
    .into_response())
}

/// `GET /api/v1/reports/recovery?as_of=DATE&segment=&kind=`: `segment` and `kind`
/// choose the customers compared (the retention dashboard's filter; empty is all).
async fn recovery(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let mut as_of = None;
    let mut segment = kanta_core::recovery::Segment::default();
    for (k, v) in params(&q, &["as_of", "segment", "kind"])? {
        let value = Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
        match k {
            "as_of" => {
                as_of = Some(kanta_domain::time::parse_date(v.trim(), None).map_err(|e| {
                    ApiError::invalid("as_of", format!("'{v}' is not a date: {e}"))
                })?);
            }
            "segment" => segment.segment = value,
            _ => segment.kind = value,
        }
    }
    if let Some(k) = segment
        .kind
        .as_deref()
        .filter(|k| !kanta_domain::schema::CUSTOMER_KINDS.contains(k))
    {
        return Err(ApiError::invalid(
            "kind",
            format!(
                "'{k}' is not a customer kind; one of: {}",
                kanta_domain::schema::CUSTOMER_KINDS.join(", ")
            ),
        ));
    }
    if let Some(v) = segment.segment.as_deref() {
        let values = s.store.segment_values().await?;
        if !values.segments.iter().any(|s| s == v) {
            return Err(ApiError::invalid(
                "segment",
                format!(
                    "no customer has segment '{v}'; the segments are: {}",
                    values.segments.join(", ")
                ),
            ));
        }
    }
    let report = s
        .core
        .recovery_report(&caller.acting, as_of, &segment)
        .await?;
    Ok(Json(recovery_json(&report)?).into_response())
}
