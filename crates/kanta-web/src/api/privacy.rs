//! The GDPR's rights through the API (`kanta_core::privacy`), for admin tokens:
//!
//! - `GET /api/v1/customers/{id}/export` (`?format=json`, the default, or `zip`):
//!   everything Kanta holds about the customer; audited.
//! - `POST /api/v1/customers/{id}/erase` (`{reason, confirm}`, `confirm` = the id
//!   again): personal data erased everywhere, the figures kept under a random id.
//! - `GET /api/v1/customers/{id}/consent` (any role): the consent ledger, oldest first.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::{CoreError, Problem};
use kanta_store::accounts::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::body::{body_of, text};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/{id}/export", get(export))
        .route("/api/v1/customers/{id}/erase", post(erase))
        .route("/api/v1/customers/{id}/consent", get(consent))
        .route(
            "/api/v1/customers/{id}/consent-request",
            post(consent_request),
        )
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// `GET /api/v1/customers/{id}/export`.
async fn export(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let Query(q) = q.map_err(|e| {
        ApiError::from(CoreError::Invalid(vec![Problem::new(
            "query",
            e.body_text(),
        )]))
    })?;
    let zip = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("zip") => true,
        Some(other) => {
            return Err(CoreError::Invalid(vec![Problem::new(
                "format",
                format!(
                    "'{}' is not a format: json or zip",
                    kanta_domain::value::excerpt(other)
                ),
            )])
            .into());
        }
    };
    let e = s.core.export_customer(&caller.acting, &id).await?;
    if zip {
        let bytes = e.to_zip()?;
        return Ok((
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"customer-export.zip\"".to_string(),
                ),
            ],
            bytes,
        )
            .into_response());
    }
    Ok(Json(e.to_json()).into_response())
}

/// `POST /api/v1/customers/{id}/erase`.
async fn erase(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let obj = body_of(body, &["reason", "confirm"])?;
    let mut problems = Vec::new();
    let reason = text(&obj, "reason", &mut problems);
    let confirm = text(&obj, "confirm", &mut problems);
    if problems.is_empty() {
        if reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            problems.push(Problem::new("reason", "required: why the data is erased"));
        }
        if confirm.as_deref().map(str::trim) != Some(id.trim()) {
            problems.push(Problem::new(
                "confirm",
                "required: the customer's id again, to confirm the erasure",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let e = s
        .core
        .erase_customer(&caller.acting, &id, reason.as_deref().unwrap_or_default())
        .await?;
    Ok(Json(json!(e)).into_response())
}

/// `GET /api/v1/customers/{id}/consent`.
async fn consent(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let entries = s.core.consent_history(&caller.acting, &id).await?;
    Ok(Json(json!({ "items": entries })).into_response())
}

/// `POST /api/v1/customers/{id}/consent-request`: a double opt-in mail for marketing.
async fn consent_request(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Staff)?;
    let request = s
        .core
        .request_marketing_consent(&caller.acting, &id)
        .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({ "request": request, "purpose": "marketing" })),
    )
        .into_response())
}

pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let opt = |t: &str| json!({"type": [t, "null"]});
    schemas.insert(
        "ConsentEntry".into(),
        json!({"type": "object", "description": "one change of consent, as the append-only ledger keeps it",
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "purpose": {"type": "string", "enum": ["survey", "marketing", "do_not_contact"]},
                "value": {"type": ["boolean", "null"], "description": "given (or do-not-contact on), withdrawn (off), unknown"},
                "stated_at": opt("string"),
                "source": {"type": "string", "description": "import, api, page, cli, job, unsubscribe_link, double_opt_in, store"},
                "wording": opt("string"),
                "address": opt("string"),
                "actor": opt("string")},
            "required": ["id", "at", "purpose", "source"]}),
    );
    let counts = json!({"type": "object", "additionalProperties": {"type": "integer"}});
    schemas.insert(
        "Erasure".into(),
        json!({"type": "object", "description": "what an erasure changed",
            "properties": {
                "new_id": {"type": "string", "description": "the anonymous record's id: the figures stay under it"},
                "counts": {"type": "object", "properties": {
                    "deleted": counts, "anonymised": counts, "audit_entries": {"type": "integer"}},
                    "required": ["deleted", "anonymised", "audit_entries"]}},
            "required": ["new_id", "counts"]}),
    );
    let id_param = json!({"name": "id", "in": "path", "required": true, "description": "the customer's id", "schema": {"type": "string"}});
    let mut export = operation(
        "customer_export".into(),
        "customers",
        "Everything Kanta holds about one customer (GDPR access and portability), as JSON or a zip of CSVs; audited".into(),
        Role::Admin,
        responses(&[
            ("200", json!({"description": "the export",
                "content": {
                    "application/json": {"schema": {"type": "object",
                        "required": ["customer_id", "generated_at", "language", "summary", "tables"]}},
                    "application/zip": {"schema": {"type": "string", "format": "binary"}}}})),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    export.insert(
        "parameters".into(),
        json!([{"name": "format", "in": "query", "required": false,
            "schema": {"type": "string", "enum": ["json", "zip"], "default": "json"}}]),
    );
    paths.insert(
        "/api/v1/customers/{id}/export".into(),
        json!({"parameters": [id_param.clone()], "get": export}),
    );
    let mut erase = operation(
        "customer_erase".into(),
        "customers",
        "Erase one customer's personal data in every table (GDPR erasure); their figures stay under a random id".into(),
        Role::Admin,
        responses(&[
            ("200", ok(schema_ref("Erasure"), "what was erased")),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    erase.insert(
        "requestBody".into(),
        body(json!({"type": "object", "required": ["reason", "confirm"], "additionalProperties": false,
            "properties": {
                "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "why; kept in the audit log"},
                "confirm": {"type": "string", "description": "the customer's id again"}}})),
    );
    paths.insert(
        "/api/v1/customers/{id}/erase".into(),
        json!({"parameters": [id_param.clone()], "post": erase}),
    );
    let consent = operation(
        "customer_consent".into(),
        "customers",
        "A customer's consent ledger, oldest first".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": schema_ref("ConsentEntry")}}}),
                    "the ledger",
                ),
            ),
            ("404", response_ref("NotFound")),
        ]),
    );
    paths.insert(
        "/api/v1/customers/{id}/consent".into(),
        json!({"parameters": [id_param.clone()], "get": consent}),
    );
    let request = operation(
        "customer_consent_request".into(),
        "customers",
        "Mail the customer a link that gives marketing consent when they confirm it (double opt-in)".into(),
        Role::Staff,
        responses(&[
            ("202", ok(json!({"type": "object", "required": ["request", "purpose"],
                "properties": {"request": {"type": "integer"}, "purpose": {"type": "string", "const": "marketing"}}}),
                "the request; the mail is queued")),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("409", response_ref("Conflict")),
            ("422", response_ref("Invalid")),
        ]),
    );
    paths.insert(
        "/api/v1/customers/{id}/consent-request".into(),
        json!({"parameters": [id_param], "post": request}),
    );
}
