//! The contact queue (`kanta_core::queue`):
//!
//! - `GET /api/v1/queue?owner=me|EMAIL|all&reason=&tier=&cursor=&limit=` (everyone
//!   signed in): rows by value at risk, each with its reasons (`{key, args}`), keyset
//!   pages (`next_cursor`); `owner=me` is the caller's staff row by email (a token
//!   owns nobody).
//! - `POST /api/v1/queue/{customer_id}/contact` (`{kind, outcome?, purpose?, note?,
//!   at?}`), `/snooze` (`{until, reason?}`), `/dismiss` (`{reason}`) (staff and
//!   above): the action, audited; the row leaves the queue at once. Bad input is a
//!   422 with the problems by field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::CoreError;
use kanta_core::queue::{ContactInput, OwnerFilter, QueueFilter, REASON_KEYS};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::body::body_of;
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/queue", get(list))
        .route(
            "/api/v1/queue/{id}/contact",
            post(|c, s, Path(id): Path<String>, b| act(c, s, id, "contact", b)),
        )
        .route(
            "/api/v1/queue/{id}/snooze",
            post(|c, s, Path(id): Path<String>, b| act(c, s, id, "snooze", b)),
        )
        .route(
            "/api/v1/queue/{id}/dismiss",
            post(|c, s, Path(id): Path<String>, b| act(c, s, id, "dismiss", b)),
        )
}

const PARAMS: [&str; 5] = ["owner", "reason", "tier", "cursor", "limit"];

/// `GET /api/v1/queue`.
async fn list(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut f = QueueFilter {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in &pairs {
        let text = || Some(v.trim().to_string()).filter(|t| !t.is_empty());
        match k.as_str() {
            "owner" => {
                f.owner = OwnerFilter::parse(v).map_err(|e| ApiError::invalid("owner", e))?
            }
            "reason" => f.reason = text(),
            "tier" => f.tier = text(),
            "cursor" => f.cursor = text(),
            "limit" => {
                f.limit = match v.trim().parse::<u32>() {
                    Ok(n) if (1..=500).contains(&n) => n,
                    _ => {
                        return Err(ApiError::invalid(
                            "limit",
                            format!("'{}' is not a whole number from 1 to 500", v.trim()),
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!("'{other}' is not a parameter here: {}", PARAMS.join(", ")),
                ));
            }
        }
    }
    let page = s.core.queue_page(&caller.acting, &f).await?;
    /// Written straight from the page (see [`super::Page`]).
    #[derive(serde::Serialize)]
    struct Body<'a> {
        items: &'a [kanta_core::queue::QueueEntry],
        next_cursor: &'a Option<String>,
        queue_total: i64,
        refreshed_at: &'a Option<chrono::DateTime<chrono::Utc>>,
        total: i64,
    }
    Ok(Json(Body {
        items: &page.items,
        next_cursor: &page.next_cursor,
        queue_total: page.queue_total,
        refreshed_at: &page.refreshed_at,
        total: page.total,
    })
    .into_response())
}

/// A text member; every problem is collected by field.
fn text(
    obj: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<kanta_core::Problem>,
) -> Option<String> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(other) => {
            problems.push(kanta_core::Problem::new(
                name,
                format!("must be a text, not {other}"),
            ));
            None
        }
    }
}

/// `POST /api/v1/queue/{customer_id}/{contact|snooze|dismiss}`.
async fn act(
    caller: Caller,
    State(s): State<AppState>,
    id: String,
    action: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Staff)?;
    let mut problems = Vec::new();
    let done = match action {
        "contact" => {
            let obj = body_of(body, &["kind", "outcome", "purpose", "note", "at"])?;
            let kind = text(&obj, "kind", &mut problems);
            let at = match text(&obj, "at", &mut problems) {
                Some(t) => {
                    let zone = s.core.time_zone().await?;
                    match kanta_domain::time::parse_timestamp_in(&t, None, zone) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            problems.push(kanta_core::Problem::new("at", e.to_string()));
                            None
                        }
                    }
                }
                None => None,
            };
            let input = ContactInput {
                kind: kind.unwrap_or_default(),
                outcome: text(&obj, "outcome", &mut problems),
                purpose: text(&obj, "purpose", &mut problems),
                note: text(&obj, "note", &mut problems),
                at,
            };
            if !problems.is_empty() {
                return Err(CoreError::Invalid(problems).into());
            }
            s.core.queue_contacted(&caller.acting, &id, input).await?
        }
        "snooze" => {
            let obj = body_of(body, &["until", "reason"])?;
            let until = text(&obj, "until", &mut problems);
            let reason = text(&obj, "reason", &mut problems);
            let zone = s.core.time_zone().await?;
            let day = match until {
                None => {
                    problems.push(kanta_core::Problem::new(
                        "until",
                        "required: a date such as 2026-12-31",
                    ));
                    None
                }
                Some(u) => match kanta_domain::time::parse_date_in(&u, None, zone) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        problems.push(kanta_core::Problem::new("until", e.to_string()));
                        None
                    }
                },
            };
            match (day, problems.is_empty()) {
                (Some(d), true) => {
                    s.core
                        .queue_snooze(&caller.acting, &id, d, reason.as_deref())
                        .await?
                }
                _ => return Err(CoreError::Invalid(problems).into()),
            }
        }
        "dismiss" => {
            let obj = body_of(body, &["reason"])?;
            let reason = text(&obj, "reason", &mut problems);
            if !problems.is_empty() {
                return Err(CoreError::Invalid(problems).into());
            }
            s.core
                .queue_dismiss(&caller.acting, &id, reason.as_deref().unwrap_or(""))
                .await?
        }
        other => {
            return Err(ApiError::not_found(format!(
                "no queue action '{other}': contact, snooze or dismiss"
            )));
        }
    };
    Ok(Json(json!(done)).into_response())
}

/// The OpenAPI entries of these routes (called by `openapi::document`).
pub(super) fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    schemas.insert(
        "QueueReason".into(),
        json!({"type": "object", "description": "one reason to contact the customer: a key and what a sentence needs",
            "properties": {
                "key": {"type": "string", "enum": REASON_KEYS},
                "args": {"type": "object", "description": "the reason's figures and names (metric, drop_pct, days_overdue, nps, balance, case_id, title, due_on, ...)"}},
            "required": ["key", "args"]}),
    );
    schemas.insert(
        "QueueEntry".into(),
        json!({"type": "object", "description": "a customer to contact",
            "properties": {
                "customer_id": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "segment": {"type": ["string", "null"]},
                "tier": {"type": ["string", "null"]},
                "owner_id": {"type": ["string", "null"], "description": "the owner's staff id"},
                "owner_name": {"type": ["string", "null"]},
                "value_at_risk_minor": {"type": "integer", "description": "expected 12-month value × churn probability, minor units"},
                "currency": {"type": "string"},
                "churn_probability": {"type": "number"},
                "health_score": {"type": ["integer", "null"]},
                "reasons": {"type": "array", "items": schema_ref("QueueReason")},
                "computed_at": {"type": "string", "format": "date-time"}},
            "required": ["customer_id", "value_at_risk_minor", "currency", "churn_probability", "reasons", "computed_at"]}),
    );
    schemas.insert(
        "QueueActionDone".into(),
        json!({"type": "object", "description": "an action taken from the queue",
            "properties": {
                "customer_id": {"type": "string"},
                "action": {"type": "string", "enum": ["contacted", "snoozed", "dismissed"]},
                "interaction_id": {"type": ["string", "null"], "description": "the interaction logged (a contact)"},
                "until": {"type": ["string", "null"], "format": "date"},
                "reason_keys": {"type": "string", "description": "the reasons answered, comma-joined"}},
            "required": ["customer_id", "action", "reason_keys"]}),
    );
    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let mut list = operation(
        "queue".into(),
        "queue",
        "Whom to contact today: the contact queue by value at risk, with each customer's reasons"
            .into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items", "next_cursor", "total", "queue_total"],
                "properties": {"items": {"type": "array", "items": schema_ref("QueueEntry")},
                    "next_cursor": {"type": ["string", "null"]},
                    "total": {"type": "integer", "description": "rows matching the filters"},
                    "queue_total": {"type": "integer", "description": "rows in the whole queue"},
                    "refreshed_at": {"type": ["string", "null"], "format": "date-time"}}}),
                    "a page of the queue",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    list.insert(
        "parameters".into(),
        json!([
            q("owner", "me (the caller's customers), all (default), or a staff member's email"),
            q("reason", &format!("only rows with this reason: {}", REASON_KEYS.join(", "))),
            q("tier", "only this tier: A, B, C or D"),
            q("cursor", "the next_cursor of the previous page"),
            {"name": "limit", "in": "query", "description": "rows per page", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
        ]),
    );
    paths.insert("/api/v1/queue".into(), json!({"get": list}));
    let id = json!({"name": "id", "in": "path", "required": true, "description": "the customer's id", "schema": {"type": "string"}});
    for (action, summary, schema) in [
        (
            "contact",
            "Log a contact from the queue: an interaction (proactive; purpose check_in unless given) by the caller's staff row; the row leaves the queue",
            json!({"type": "object", "required": ["kind"], "additionalProperties": false, "properties": {
                "kind": {"type": "string", "enum": kanta_domain::schema::INTERACTION_KINDS},
                "outcome": {"type": "string", "enum": kanta_domain::schema::OUTCOMES},
                "purpose": {"type": "string", "enum": kanta_domain::schema::INTERACTION_PURPOSES},
                "note": {"type": "string"},
                "at": {"type": "string", "description": "when (default now)"}}}),
        ),
        (
            "snooze",
            "Snooze a customer until a day (after today): out of the queue until then",
            json!({"type": "object", "required": ["until"], "additionalProperties": false, "properties": {
                "until": {"type": "string", "description": "2026-12-31 or 31.12.2026"},
                "reason": {"type": "string"}}}),
        ),
        (
            "dismiss",
            "Dismiss a customer's reasons with a reason: out of the queue until a reason not dismissed appears, at most 90 days",
            json!({"type": "object", "required": ["reason"], "additionalProperties": false, "properties": {
                "reason": {"type": "string"}}}),
        ),
    ] {
        let mut op = operation(
            format!("queue_{action}"),
            "queue",
            summary.into(),
            Role::Staff,
            responses(&[
                ("200", ok(schema_ref("QueueActionDone"), "done")),
                ("404", response_ref("NotFound")),
                ("422", response_ref("Invalid")),
            ]),
        );
        op.insert("requestBody".into(), body(schema));
        paths.insert(
            format!("/api/v1/queue/{{id}}/{action}"),
            json!({"parameters": [id.clone()], "post": op}),
        );
    }
}
