//! The ideas box and kudos (`kanta_core::ideas`, `kanta_core::kudos`):
//!
//! - `GET /api/v1/ideas?status=&mine=true&limit=` (anyone): managers every idea,
//!   others their own; `POST /api/v1/ideas` (`{body, customer_id?, theme_id?}`, a
//!   signed-in user: the session, not a token) hands one in: 201 with the idea;
//!   `POST /api/v1/ideas/{id}/status` (`{status, reply?}`, managers).
//! - `GET /api/v1/kudos?staff=ID&limit=` (managers, or the staff member themself;
//!   without `staff` the caller's own): the kudos newest first with their answers.
//!
//! Bad input is a 422 naming the field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::ideas::{IDEA_STATUSES, IdeaFilter, IdeaInput};
use kanta_core::{CoreError, Problem};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::body::{body_of, text};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ideas", get(list).post(create))
        .route("/api/v1/ideas/{id}/status", post(status))
        .route("/api/v1/kudos", get(kudos))
}

fn limit_of(v: &str) -> Result<u32, ApiError> {
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "limit",
            format!("'{}' is not a whole number from 1 to 1000", v.trim()),
        )),
    }
}

/// `GET /api/v1/ideas`.
async fn list(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut f = IdeaFilter::default();
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => f.status = Some(v.clone()),
            "mine" => {
                f.mine = match v.trim() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" | "" => false,
                    other => {
                        return Err(ApiError::invalid(
                            "mine",
                            format!("'{other}' is not true or false"),
                        ));
                    }
                }
            }
            "limit" => f.limit = limit_of(v)?,
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!("'{other}' is not a parameter here: status, mine, limit"),
                ));
            }
        }
    }
    let ideas = s.core.ideas(&caller.acting, &f).await?;
    Ok(Json(json!({ "items": ideas })).into_response())
}

/// `POST /api/v1/ideas`.
async fn create(
    caller: Caller,
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let obj = body_of(body, &["body", "customer_id", "theme_id"])?;
    let mut problems = Vec::new();
    let text_body = text(&obj, "body", &mut problems);
    let customer = text(&obj, "customer_id", &mut problems);
    let theme = match obj.get("theme_id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(Value::String(t)) if t.trim().parse::<i64>().is_ok() => t.trim().parse().ok(),
        Some(other) => {
            problems.push(Problem::new(
                "theme_id",
                format!("must be a theme's id (a whole number), not {other}"),
            ));
            None
        }
    };
    if text_body.is_none() && problems.is_empty() {
        problems.push(Problem::new("body", "required: the idea's text"));
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let idea = s
        .core
        .submit_idea(
            &caller.acting,
            IdeaInput {
                body: text_body.unwrap_or_default(),
                customer,
                theme,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(idea))).into_response())
}

/// `POST /api/v1/ideas/{id}/status`.
async fn status(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("no idea '{}'", id.trim())))?;
    let obj = body_of(body, &["status", "reply"])?;
    let mut problems = Vec::new();
    let status = text(&obj, "status", &mut problems);
    let reply = text(&obj, "reply", &mut problems);
    if status.is_none() && problems.is_empty() {
        problems.push(Problem::new(
            "status",
            format!("required: {}", IDEA_STATUSES.join(", ")),
        ));
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let idea = s
        .core
        .set_idea_status(
            &caller.acting,
            id,
            status.as_deref().unwrap_or_default(),
            reply.as_deref(),
        )
        .await?;
    Ok(Json(json!(idea)).into_response())
}

/// `GET /api/v1/kudos`.
async fn kudos(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut staff = None;
    let mut limit = 200;
    for (k, v) in &pairs {
        match k.as_str() {
            "staff" => staff = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
            "limit" => limit = limit_of(v)?,
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!("'{other}' is not a parameter here: staff, limit"),
                ));
            }
        }
    }
    let staff = match staff {
        Some(s) => s,
        None => match s.core.staff_of_user(&caller.acting).await? {
            Some(r) => r.external_id,
            None => {
                return Err(ApiError::invalid(
                    "staff",
                    "give a staff member's id (the caller is no staff member)".into(),
                ));
            }
        },
    };
    let (items, total) = s.core.kudos_of_staff(&caller.acting, &staff, limit).await?;
    Ok(Json(json!({ "staff_id": staff, "items": items, "total": total })).into_response())
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let opt = |t: &str| json!({"type": [t, "null"]});
    schemas.insert(
        "Idea".into(),
        json!({"type": "object", "description": "an idea of the ideas box",
            "properties": {
                "id": {"type": "integer"},
                "body": {"type": "string"},
                "status": {"type": "string", "enum": IDEA_STATUSES},
                "reply": opt("string"),
                "submitted_by": {"type": "integer", "description": "the submitter's user id"},
                "submitter_name": opt("string"),
                "replied_by": opt("integer"),
                "replier_name": opt("string"),
                "customer_id": opt("string"),
                "customer_name": opt("string"),
                "theme_id": opt("integer"),
                "theme_label": opt("string"),
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}},
            "required": ["id", "body", "status", "submitted_by", "created_at", "updated_at"]}),
    );
    schemas.insert(
        "Kudos".into(),
        json!({"type": "object", "description": "an answer that names a staff member",
            "properties": {
                "staff_id": {"type": "string"},
                "staff_name": {"type": "string"},
                "feedback_id": {"type": "string", "description": "the answer's id"},
                "answered_at": {"type": "string", "format": "date-time"},
                "matched": {"type": "string", "description": "the words that named the staff member, as written"},
                "customer_id": {"type": ["string", "null"], "description": "shown to staff and above"},
                "customer_name": opt("string"),
                "nps": opt("integer"),
                "did_well": opt("string"),
                "do_better": opt("string"),
                "comment": opt("string")},
            "required": ["staff_id", "staff_name", "feedback_id", "answered_at", "matched"]}),
    );
    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let mut list = operation(
        "ideas".into(),
        "ideas",
        "The ideas box: every idea for managers, the caller's own for others; newest first".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": schema_ref("Idea")}}}),
                    "ideas",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    list.insert(
        "parameters".into(),
        json!([
            q("status", &format!("only this status: {}", IDEA_STATUSES.join(", "))),
            q("mine", "true: only the caller's own (managers see all otherwise)"),
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500}},
        ]),
    );
    let mut create = operation(
        "idea_create".into(),
        "ideas",
        "Hand in an idea as the signed-in user (a session; an API token is no person)".into(),
        Role::Viewer,
        responses(&[
            ("201", ok(schema_ref("Idea"), "the idea, status new")),
            ("403", response_ref("Forbidden")),
            ("422", response_ref("Invalid")),
        ]),
    );
    create.insert(
        "requestBody".into(),
        body(json!({"type": "object", "required": ["body"], "additionalProperties": false,
            "properties": {
                "body": {"type": "string", "maxLength": 4000},
                "customer_id": {"type": "string", "description": "a customer the idea is about"},
                "theme_id": {"type": "integer", "description": "a feedback theme the idea is about"}}})),
    );
    paths.insert("/api/v1/ideas".into(), json!({"get": list, "post": create}));
    let mut st = operation(
        "idea_status".into(),
        "ideas",
        "Set an idea's status and reply (a given reply replaces the one before; empty clears it)"
            .into(),
        Role::Manager,
        responses(&[
            ("200", ok(schema_ref("Idea"), "the idea")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    st.insert(
        "requestBody".into(),
        body(
            json!({"type": "object", "required": ["status"], "additionalProperties": false,
            "properties": {
                "status": {"type": "string", "enum": IDEA_STATUSES},
                "reply": {"type": "string", "maxLength": 4000}}}),
        ),
    );
    paths.insert(
        "/api/v1/ideas/{id}/status".into(),
        json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "post": st}),
    );
    let mut k = operation(
        "kudos".into(),
        "ideas",
        "A staff member's kudos (answers that name them), newest first: managers, or the staff member themself"
            .into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["staff_id", "items", "total"],
                        "properties": {"staff_id": {"type": "string"},
                            "items": {"type": "array", "items": schema_ref("Kudos")},
                            "total": {"type": "integer"}}}),
                    "kudos",
                ),
            ),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    k.insert(
        "parameters".into(),
        json!([
            q("staff", "the staff member's id (default: the caller's own staff row)"),
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}},
        ]),
    );
    paths.insert("/api/v1/kudos".into(), json!({"get": k}));
}
