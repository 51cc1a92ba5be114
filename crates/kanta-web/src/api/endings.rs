//! Ending a relationship cleanly (`kanta_core::endings`):
//!
//! - `POST /api/v1/customers/{id}/endings` (`{reason, note?, end_on?, notify?}`; staff
//!   for their own customers, managers for anyone): 201 with the proposal.
//! - `POST /api/v1/endings/{id}/decide` (`{decision: approve|refuse|cancel, note?}`,
//!   managers; a refusal needs its note): the ending as it now is (`ended` when its
//!   date had come).
//! - `GET /api/v1/endings?status=&customer=&limit=` (any signed-in role): newest first.
//!
//! "Let lapse" is the customers field `let_lapse` of the generic API.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::endings::{DECIDES, ENDING_STATUSES, EndingInput, EndingQuery};
use kanta_core::{CoreError, Problem};
use kanta_domain::schema::END_REASONS;
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::body::{body_of, text};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/{id}/endings", post(propose))
        .route("/api/v1/endings", get(list))
        .route("/api/v1/endings/{id}/decide", post(decide))
}

/// `POST /api/v1/customers/{id}/endings`.
async fn propose(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Staff)?;
    let obj = body_of(body, &["reason", "note", "end_on", "notify"])?;
    let mut problems = Vec::new();
    let reason = text(&obj, "reason", &mut problems);
    let note = text(&obj, "note", &mut problems);
    let end_on = text(&obj, "end_on", &mut problems);
    let notify = match obj.get("notify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(Problem::new(
                "notify",
                format!("must be true or false, not {other}"),
            ));
            false
        }
    };
    if reason.is_none() && problems.is_empty() {
        problems.push(Problem::new(
            "reason",
            format!("required: {}", END_REASONS.join(", ")),
        ));
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let e = s
        .core
        .propose_ending(
            &caller.acting,
            &id,
            EndingInput {
                reason: reason.unwrap_or_default(),
                note,
                end_on,
                notify,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(e))).into_response())
}

/// `POST /api/v1/endings/{id}/decide`.
async fn decide(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Staff)?;
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("no ending '{}'", id.trim())))?;
    let obj = body_of(body, &["decision", "note"])?;
    let mut problems = Vec::new();
    let decision = text(&obj, "decision", &mut problems);
    let note = text(&obj, "note", &mut problems);
    let decision = match decision.as_deref().map(str::trim) {
        Some(d @ ("approve" | "refuse" | "cancel")) => Some(d.to_string()),
        Some(other) => {
            problems.push(Problem::new(
                "decision",
                format!(
                    "'{}' is not a decision: approve, refuse or cancel",
                    kanta_domain::value::excerpt(other)
                ),
            ));
            None
        }
        None => {
            if problems.is_empty() {
                problems.push(Problem::new(
                    "decision",
                    "required: approve, refuse or cancel",
                ));
            }
            None
        }
    };
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let e = match decision.as_deref() {
        Some("cancel") => s.core.cancel_ending(&caller.acting, id, note).await?,
        d => {
            caller.require(DECIDES)?;
            s.core
                .decide_ending(&caller.acting, id, d == Some("approve"), note)
                .await?
        }
    };
    Ok(Json(json!(e)).into_response())
}

/// `GET /api/v1/endings`.
async fn list(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut f = EndingQuery {
        limit: 200,
        ..EndingQuery::default()
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => f.statuses.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            "customer" => f.customer = Some(v.trim().to_string()).filter(|c| !c.is_empty()),
            "limit" => {
                f.limit = match v.trim().parse::<u32>() {
                    Ok(n) if (1..=1000).contains(&n) => n,
                    _ => {
                        return Err(ApiError::invalid(
                            "limit",
                            format!("'{}' is not a whole number from 1 to 1000", v.trim()),
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!("'{other}' is not a parameter here: status, customer, limit"),
                ));
            }
        }
    }
    let items = s.core.endings(&caller.acting, &f).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// The routes' part of the OpenAPI document.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let opt = |t: &str| json!({"type": [t, "null"]});
    schemas.insert(
        "Ending".into(),
        json!({"type": "object", "description": "a proposal to end a customer relationship, and what became of it",
            "properties": {
                "id": {"type": "integer"},
                "customer_id": {"type": "string"},
                "customer_name": opt("string"),
                "customer_status": {"type": "string", "description": "the customer's status now: active or ended"},
                "reason": {"type": "string", "enum": END_REASONS},
                "note": opt("string"),
                "end_on": {"type": "string", "format": "date"},
                "notify": {"type": "boolean", "description": "a notice is mailed to the customer on approval"},
                "status": {"type": "string", "enum": ENDING_STATUSES},
                "proposed_by": opt("integer"),
                "proposer_name": opt("string"),
                "proposed_at": {"type": "string", "format": "date-time"},
                "decided_by": opt("integer"),
                "decider_name": opt("string"),
                "decided_at": {"type": ["string", "null"], "format": "date-time"},
                "decision_note": opt("string"),
                "mail_id": {"type": ["integer", "null"], "description": "the notice's message in the outbox"},
                "ended_at": {"type": ["string", "null"], "format": "date-time"}},
            "required": ["id", "customer_id", "customer_status", "reason", "end_on", "notify", "status", "proposed_at"]}),
    );
    let id_param = |d: &str| json!({"name": "id", "in": "path", "required": true, "description": d, "schema": {"type": "string"}});
    let mut create = operation(
        "ending_propose".into(),
        "customers",
        "Propose ending a customer relationship (staff for their own customers, managers for anyone)".into(),
        Role::Staff,
        responses(&[
            ("201", ok(schema_ref("Ending"), "the proposal")),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("409", response_ref("Conflict")),
            ("422", response_ref("Invalid")),
        ]),
    );
    create.insert(
        "requestBody".into(),
        body(json!({"type": "object", "required": ["reason"], "additionalProperties": false,
            "properties": {
                "reason": {"type": "string", "enum": END_REASONS},
                "note": {"type": "string", "maxLength": 2000},
                "end_on": {"type": "string", "description": "the end date (2026-12-31 or 31.12.2026); default today, never past"},
                "notify": {"type": "boolean", "default": false, "description": "mail the customer a notice on approval, in their language"}}})),
    );
    paths.insert(
        "/api/v1/customers/{id}/endings".into(),
        json!({"parameters": [id_param("the customer's id")], "post": create}),
    );
    let mut decide = operation(
        "ending_decide".into(),
        "customers",
        "Approve or refuse a proposed ending (managers; a refusal needs its note), or cancel one before it ends (managers, or the staff member who proposed it)".into(),
        Role::Staff,
        responses(&[
            ("200", ok(schema_ref("Ending"), "the ending as it now is")),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("409", response_ref("Conflict")),
            ("422", response_ref("Invalid")),
        ]),
    );
    decide.insert(
        "requestBody".into(),
        body(
            json!({"type": "object", "required": ["decision"], "additionalProperties": false,
            "properties": {
                "decision": {"type": "string", "enum": ["approve", "refuse", "cancel"]},
                "note": {"type": "string", "maxLength": 2000}}}),
        ),
    );
    paths.insert(
        "/api/v1/endings/{id}/decide".into(),
        json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "post": decide}),
    );
    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let mut list = operation(
        "endings".into(),
        "customers",
        "Endings of customer relationships, newest first".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": schema_ref("Ending")}}}),
                    "endings",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    list.insert(
        "parameters".into(),
        json!([
            q("status", &format!("only these statuses, comma-separated: {}", ENDING_STATUSES.join(", "))),
            q("customer", "only this customer's (external id)"),
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}},
        ]),
    );
    paths.insert("/api/v1/endings".into(), json!({"get": list}));
}
