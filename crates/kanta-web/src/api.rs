//! JSON API under `/api/v1`. Errors are `application/problem+json` (RFC 9457).

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kanta_store::read::{CustomerFilter, CustomerSort};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/customers", get(customers))
        .route("/api/v1/customers/{id}", get(customer))
        .route("/api/v1/customers/{id}/timeline", get(timeline))
}

/// An API error: a status, a safe message for the client, the internal cause logged.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    field: Option<&'static str>,
}

impl ApiError {
    pub fn not_found(detail: String) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            detail,
            field: None,
        }
    }

    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            title: "Unauthorized",
            detail: detail.to_string(),
            field: None,
        }
    }

    pub fn forbidden(detail: String) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            title: "Forbidden",
            detail,
            field: None,
        }
    }

    pub fn bad_request(detail: String) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            title: "Bad request",
            detail,
            field: None,
        }
    }

    /// A failure of the server itself; the cause goes to the log, not to the client.
    pub fn internal(cause: String) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            detail: "the server failed; its log has the details".into(),
            field: None,
        }
    }

    pub fn invalid(field: &'static str, detail: String) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Invalid request",
            detail,
            field: Some(field),
        }
    }
}

impl From<kanta_store::StoreError> for ApiError {
    fn from(e: kanta_store::StoreError) -> ApiError {
        tracing::error!(error = %e, "store error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            detail: "the store could not answer; the server log has the details".into(),
            field: None,
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

/// Query of the customer list.
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
        })
    }
}

async fn customers(
    _: Caller,
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let page = s.store.customers(&q.filter()?).await?;
    Ok(Json(page).into_response())
}

async fn customer(
    _: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = s
        .store
        .customer(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{id}'")))?;
    Ok(Json(c).into_response())
}

async fn timeline(
    _: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = s
        .store
        .customer(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{id}'")))?;
    Ok(Json(s.store.timeline(&c).await?).into_response())
}
