//! JSON API under `/api/v1`. Errors are `application/problem+json` (RFC 9457).
//!
//! - `entities`: list (filters, sort, cursor paging), get, create and patch for
//!   every entity of the schema, routed per entity from the schema description.
//! - `events`: `POST /api/v1/events`, batches of up to 10,000 transactions,
//!   interactions and usage events written all or nothing.
//! - `scores`: model runs and customer scores written by `kanta score` (read-only).
//! - `audit`: the audit log (admins); `jobs`: background jobs and the outbox
//!   (admins); `settings`: the store's settings (read: everyone; change: managers).
//!   Each calls its use case in `kanta-core`.
//! - `service`: SLA attainment and the small-claim rule's effect
//!   (`GET /api/v1/service`), recovery measured (`GET /api/v1/reports/recovery`).
//! - `health`: the health model in use (`GET /api/v1/health/model`) and a customer's
//!   score with its factors (`GET /api/v1/customers/{id}/health`).
//! - `cases`: cases with their SLA state, events and timers, claims (the small-claim
//!   rule, decisions, payment, repeat claimants) and customers' trust ledgers, each
//!   through its use case in `kanta-core`.
//! - `openapi`: the OpenAPI 3.1 document of all of it, generated from the schema
//!   ([`openapi_json`]; committed as `docs/openapi.json`).

mod audit;
mod body;
mod cases;
mod economics;
mod endings;
mod entities;
mod events;
mod feedback;
mod health;
mod ideas;
mod jobs;
mod offers;
mod openapi;
mod privacy;
mod queue;
mod scores;
mod service;
mod settings;
mod survey_waves;
mod surveys;
mod themes;
mod value;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kanta_domain::schema::ENTITIES;
use kanta_store::records::{CustomerFilter, CustomerSort};
use kanta_store::timeline::TimelineCursor;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Caller;

pub use openapi::openapi_json;

/// Every route of the JSON API (and `/healthz`).
pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route(
            "/api/v1/events",
            post(events::ingest).layer(axum::extract::DefaultBodyLimit::max(events::MAX_BODY)),
        )
        .route("/api/v1/customers/{id}/timeline", get(timeline))
        .route("/api/v1/audit", get(audit::audit))
        .route("/api/v1/jobs", get(jobs::list))
        .route("/api/v1/jobs/{id}/retry", post(jobs::retry))
        .route("/api/v1/settings", get(settings::list))
        .route("/api/v1/settings/{key}", put(settings::put))
        .merge(scores::routes())
        .merge(cases::routes())
        .merge(service::routes())
        .merge(economics::routes())
        .merge(health::routes())
        .merge(queue::routes())
        .merge(surveys::routes())
        .merge(survey_waves::routes())
        .merge(feedback::routes())
        .merge(themes::routes())
        .merge(ideas::routes())
        .merge(endings::routes())
        .merge(value::routes())
        .merge(offers::routes())
        .merge(privacy::routes());
    for e in ENTITIES {
        r = r.merge(entities::routes(e));
    }
    r
}

pub use kanta_core::access::access;

/// An API error: a status, a safe message for the client, the internal cause logged.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// The field or query parameter at fault.
    field: Option<String>,
    /// Each problem of a body or batch, when there are several.
    errors: Vec<Problem>,
}

pub use kanta_core::Problem;

impl ApiError {
    fn new(status: StatusCode, title: &'static str, detail: String) -> ApiError {
        ApiError {
            status,
            title,
            detail,
            field: None,
            errors: Vec::new(),
        }
    }

    /// 401: no valid token or session (answered with `WWW-Authenticate`).
    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail.to_string())
    }

    /// 403: the caller's role is below the one the operation needs.
    pub fn forbidden(detail: String) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    /// 404: the record or route does not exist.
    pub fn not_found(detail: String) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    /// 422: a value the request carries is not acceptable; names the field.
    pub fn invalid(field: &str, detail: String) -> ApiError {
        ApiError {
            field: Some(field.to_string()),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", detail)
        }
    }

    /// 422 for several problems at once (each field of a body, each event of a batch).
    pub fn invalid_many(mut problems: Vec<Problem>) -> ApiError {
        let n = problems.len();
        let first = problems.first().map_or(String::new(), |p| match p.index {
            Some(i) => format!("events[{i}].{}: {}", p.field, p.reason),
            None => format!("{}: {}", p.field, p.reason),
        });
        let detail = match n {
            1 => first,
            _ => format!("{n} problems, the first: {first}"),
        };
        // A batch of 10,000 bad events gets the first hundred (and the count).
        problems.truncate(MAX_PROBLEMS);
        ApiError {
            field: problems.first().filter(|_| n == 1).map(|p| p.field.clone()),
            errors: problems,
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", detail)
        }
    }

    /// 400: the request is malformed (not JSON, an unknown query parameter).
    pub fn bad_request(detail: String) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    /// 400 naming the parameter or field at fault.
    pub fn bad_field(field: &str, detail: String) -> ApiError {
        ApiError {
            field: Some(field.to_string()),
            ..ApiError::bad_request(detail)
        }
    }

    /// 409: the request contradicts what is stored (an id that exists already).
    pub fn conflict(field: Option<&str>, detail: String) -> ApiError {
        ApiError {
            field: field.map(str::to_string),
            ..ApiError::new(StatusCode::CONFLICT, "Conflict", detail)
        }
    }

    /// 413: the body, or the batch in it, is larger than the API takes.
    pub fn too_large(field: Option<&str>, detail: String) -> ApiError {
        ApiError {
            field: field.map(str::to_string),
            ..ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
        }
    }

    /// 429: over a rate limit (the caller adds `Retry-After`).
    pub fn too_many(detail: String) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests", detail)
    }

    /// A failure of the server itself; the cause goes to the log, not to the client.
    pub fn internal(cause: String) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "the server failed; its log has the details".into(),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The same problem, naming the field or query parameter at fault.
    pub fn with_field(mut self, field: &str) -> ApiError {
        self.field = Some(field.to_string());
        self
    }
}

/// An API error of any status, for handlers that need one of their own: the title is
/// the status's reason phrase (`Bad Request`), `detail` says what is wrong in one
/// sentence. Answered as `application/problem+json` (RFC 9457: `type`, `title`,
/// `status`, `detail`, and `field` when [`ApiError::with_field`] names one).
/// A 500 logs `detail` and shows a safe message instead (see [`ApiError::internal`]).
///
/// ```ignore
/// return Err(crate::api::problem(StatusCode::UNPROCESSABLE_ENTITY, "as_of: 'garbage' is not a date").with_field("as_of"));
/// ```
///
/// The pages' counterpart is [`crate::render::error_page`].
pub fn problem(status: StatusCode, detail: impl Into<String>) -> ApiError {
    if status.is_server_error() {
        return ApiError::internal(detail.into());
    }
    ApiError::new(
        status,
        status.canonical_reason().unwrap_or("Error"),
        detail.into(),
    )
}

/// Problems listed in one answer at most.
const MAX_PROBLEMS: usize = 100;

impl From<kanta_store::StoreError> for ApiError {
    fn from(e: kanta_store::StoreError) -> ApiError {
        use kanta_store::StoreError;
        match e {
            // What the writer refuses is the client's to fix, and safe to show.
            StoreError::AppendOnly => ApiError::conflict(None, e.to_string()),
            StoreError::MissingRef { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request",
                e.to_string(),
            ),
            e => {
                tracing::error!(error = %e, "store error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the store could not answer; the server log has the details".into(),
                )
            }
        }
    }
}

impl From<kanta_core::CoreError> for ApiError {
    fn from(e: kanta_core::CoreError) -> ApiError {
        use kanta_core::CoreError;
        match e {
            CoreError::Forbidden(m) => ApiError::forbidden(m),
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::Invalid(problems) => ApiError::invalid_many(problems),
            CoreError::Conflict { field, message } => ApiError::conflict(field.as_deref(), message),
            CoreError::Store(e) => e.into(),
            CoreError::Other(e) => {
                tracing::error!(error = %format!("{e:#}"), "core error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the server could not answer; its log has the details".into(),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"kanta\""),
            );
        }
        r
    }
}

async fn health() -> &'static str {
    "ok"
}

async fn stats(_: Caller, State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = s.store.counts().await?;
    let map: serde_json::Map<String, serde_json::Value> = counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Ok(Json(serde_json::Value::Object(map)))
}

/// Query of the customer list of the web pages (offset paging, search).
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    pub search: Option<String>,
    pub segment: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub tier: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

impl ListQuery {
    pub fn filter(&self) -> Result<CustomerFilter, ApiError> {
        let nonempty = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            None => CustomerSort::Name,
            Some(s) => CustomerSort::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "sort",
                    format!("'{s}' is not one of {}", CustomerSort::NAMES.join(", ")),
                )
            })?,
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("{limit} is not within 1..1000"),
            ));
        }
        Ok(CustomerFilter {
            search: nonempty(&self.search),
            segment: nonempty(&self.segment),
            status: nonempty(&self.status),
            kind: nonempty(&self.kind),
            tier: nonempty(&self.tier),
            sort,
            limit,
            offset: self.offset.unwrap_or(0),
            ..CustomerFilter::default()
        })
    }
}

/// Events a timeline page holds at most.
const TIMELINE_MAX: u32 = 1000;

/// `GET /api/v1/customers/{id}/timeline?limit=&cursor=`: a page of the customer's
/// timeline, newest first, bounded like every list (an account with 100,000 usage
/// events is read a page at a time).
async fn timeline(
    _: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<
        axum::extract::Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Response, ApiError> {
    let axum::extract::Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut limit = 100u32;
    let mut cursor = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => {
                limit = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=TIMELINE_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid("limit", format!("'{v}' is not within 1..{TIMELINE_MAX}"))
                    })?
            }
            "cursor" => {
                cursor = Some(TimelineCursor::decode(v).ok_or_else(|| {
                    ApiError::invalid("cursor", "is not a cursor this endpoint gave".to_string())
                })?)
            }
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!("'{other}' is not a parameter of the timeline: limit, cursor"),
                ));
            }
        }
    }
    let page = s
        .store
        .timeline_page_by_external_id(&id, cursor, limit)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{id}'")))?;
    Ok(Json(Page {
        items: &page.events,
        next_cursor: &page.next.map(|n| n.encode()),
    })
    .into_response())
}

/// A page of a list: `{"items": [...], "next_cursor": ...}`, written straight from
/// the items (not through a `serde_json::Value`, which copied every record into a map
/// first: a fifth of a server's CPU for a page of 50 customers).
#[derive(serde::Serialize)]
pub(crate) struct Page<'a, T: serde::Serialize> {
    pub items: &'a [T],
    pub next_cursor: &'a Option<String>,
}
