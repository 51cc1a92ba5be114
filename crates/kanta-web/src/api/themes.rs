//! Themes in the free-text answers (`kanta_core::themes`):
//!
//! - `GET /api/v1/feedback/themes` (anyone signed in): the themes, largest first, each
//!   with its label, key words, count, examples, every answer's id and the trend;
//! - `POST /api/v1/feedback/themes/run` (managers): find them now;
//! - `POST /api/v1/feedback/themes/{id}/rename` `{label}`, `/merge` `{from}` (theme
//!   `from` goes into `{id}`), `/split` `{word}` (managers; they survive later runs);
//! - `GET|POST /api/v1/feedback/themes/{id}/changes`: "you said, we did": the changes
//!   with the theme's answers per month before and after; record one (managers)
//!   `{title, description?, changed_on, notify?}`.
//!
//! Bad input is a 422 naming the field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::themes::NewChange;
use kanta_core::{CoreError, Problem};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::body::body_of;
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/feedback/themes", get(list))
        .route("/api/v1/feedback/themes/run", post(run))
        .route("/api/v1/feedback/themes/{id}/rename", post(rename))
        .route("/api/v1/feedback/themes/{id}/merge", post(merge))
        .route("/api/v1/feedback/themes/{id}/split", post(split))
        .route(
            "/api/v1/feedback/themes/{id}/changes",
            get(changes).post(record),
        )
}

fn theme_id(id: &str) -> Result<i64, ApiError> {
    id.trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("no theme '{}'", id.trim())))
}

/// A required text member.
fn text(obj: &Map<String, Value>, name: &str, required: bool) -> Result<Option<String>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) if required => {
            Err(CoreError::Invalid(vec![Problem::new(name, "required")]).into())
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(CoreError::Invalid(vec![Problem::new(
            name,
            format!("must be a text, not {other}"),
        )])
        .into()),
    }
}

/// `GET /api/v1/feedback/themes`.
async fn list(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let themes = s.core.feedback_themes(&caller.acting).await?;
    Ok(Json(json!({ "items": themes })).into_response())
}

/// `POST /api/v1/feedback/themes/run`.
async fn run(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let r = s.core.run_themes(&caller.acting).await?;
    Ok(Json(json!(r)).into_response())
}

/// `POST /api/v1/feedback/themes/{id}/rename`.
async fn rename(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let id = theme_id(&id)?;
    let obj = body_of(body, &["label"])?;
    let label = text(&obj, "label", true)?.unwrap_or_default();
    s.core.rename_theme(&caller.acting, id, &label).await?;
    Ok(Json(json!({"id": id, "label": label.trim()})).into_response())
}

/// `POST /api/v1/feedback/themes/{id}/merge`.
async fn merge(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let id = theme_id(&id)?;
    let obj = body_of(body, &["from"])?;
    let from = match obj.get("from") {
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
        Some(Value::String(t)) if t.trim().parse::<i64>().is_ok() => {
            t.trim().parse().unwrap_or_default()
        }
        other => {
            return Err(CoreError::Invalid(vec![Problem::new(
                "from",
                match other {
                    None => "required: the id of the theme to merge into this one".to_string(),
                    Some(v) => format!("must be a theme's id (a whole number), not {v}"),
                },
            )])
            .into());
        }
    };
    s.core.merge_themes(&caller.acting, id, from).await?;
    Ok(Json(json!({"id": id, "merged": from})).into_response())
}

/// `POST /api/v1/feedback/themes/{id}/split`.
async fn split(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let id = theme_id(&id)?;
    let obj = body_of(body, &["word"])?;
    let word = text(&obj, "word", true)?.unwrap_or_default();
    let child = s.core.split_theme(&caller.acting, id, &word).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": child, "split_from": id})),
    )
        .into_response())
}

/// `GET /api/v1/feedback/themes/{id}/changes`.
async fn changes(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let id = theme_id(&id)?;
    let items = s.core.theme_changes(&caller.acting, Some(id)).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// `POST /api/v1/feedback/themes/{id}/changes`.
async fn record(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let id = theme_id(&id)?;
    let obj = body_of(body, &["title", "description", "changed_on", "notify"])?;
    let notify = match obj.get("notify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(CoreError::Invalid(vec![Problem::new(
                "notify",
                format!("must be true or false, not {other}"),
            )])
            .into());
        }
    };
    let c = NewChange {
        theme_id: id,
        title: text(&obj, "title", true)?.unwrap_or_default(),
        description: text(&obj, "description", false)?,
        changed_on: text(&obj, "changed_on", true)?.unwrap_or_default(),
        notify,
    };
    let (change, mails) = s.core.record_change(&caller.acting, &c).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": change, "theme_id": id, "mails": mails})),
    )
        .into_response())
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    schemas.insert(
        "FeedbackTheme".into(),
        json!({"type": "object", "description": "a theme found in the free-text answers",
            "properties": {
                "id": {"type": "integer"},
                "key": {"type": "string", "description": "the stable key (sorted top stems) reruns match by"},
                "label": {"type": "string"},
                "words": {"type": "array", "items": {"type": "string"}},
                "count": {"type": "integer", "description": "answers in the theme"},
                "examples": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}},
                "answer_ids": {"type": "array", "items": {"type": "string"}, "description": "the external ids of the theme's answers (as imported, or as the API or a survey gave them)"},
                "trend": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}},
                "manual": {"type": "boolean", "description": "renamed by a manager"}},
            "required": ["id", "key", "label", "words", "count", "examples", "answer_ids", "trend", "manual"]}),
    );
    let idp =
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
    let list = operation(
        "feedback_themes".into(),
        "feedback",
        "The themes in the free-text answers, largest first".into(),
        Role::Viewer,
        responses(&[(
            "200",
            ok(
                json!({"type": "object", "properties": {"items": {"type": "array", "items": schema_ref("FeedbackTheme")}}}),
                "the themes",
            ),
        )]),
    );
    paths.insert("/api/v1/feedback/themes".into(), json!({"get": list}));
    let run = operation(
        "feedback_themes_run".into(),
        "feedback",
        "Find the themes now (what the daily job does)".into(),
        Role::Manager,
        responses(&[
            ("200", ok(json!({"type": "object"}), "what the run did")),
            ("403", response_ref("Forbidden")),
        ]),
    );
    paths.insert("/api/v1/feedback/themes/run".into(), json!({"post": run}));
    for (path, op, what, schema) in [
        (
            "rename",
            "feedback_theme_rename",
            "Rename a theme (kept by later runs)",
            json!({"type": "object", "required": ["label"], "additionalProperties": false, "properties": {"label": {"type": "string", "maxLength": 80}}}),
        ),
        (
            "merge",
            "feedback_theme_merge",
            "Merge theme `from` into this one (kept by later runs)",
            json!({"type": "object", "required": ["from"], "additionalProperties": false, "properties": {"from": {"type": "integer"}}}),
        ),
        (
            "split",
            "feedback_theme_split",
            "Split the answers containing `word` off this theme into a new one (kept by later runs)",
            json!({"type": "object", "required": ["word"], "additionalProperties": false, "properties": {"word": {"type": "string"}}}),
        ),
    ] {
        let mut o = operation(
            op.into(),
            "feedback",
            what.into(),
            Role::Manager,
            responses(&[
                ("200", ok(json!({"type": "object"}), "done")),
                ("404", response_ref("NotFound")),
                ("422", response_ref("Invalid")),
            ]),
        );
        o.insert("requestBody".into(), body(schema));
        paths.insert(
            format!("/api/v1/feedback/themes/{{id}}/{path}"),
            json!({"parameters": idp, "post": o}),
        );
    }
    let get_changes = operation(
        "feedback_theme_changes".into(),
        "feedback",
        "You said, we did: the changes made because of a theme, with its answers per month before and after".into(),
        Role::Viewer,
        responses(&[("200", ok(json!({"type": "object"}), "the changes"))]),
    );
    let mut post_change = operation(
        "feedback_theme_change_create".into(),
        "feedback",
        "Record a change made because of a theme; notify mails the consenting customers who raised it".into(),
        Role::Manager,
        responses(&[
            ("201", ok(json!({"type": "object"}), "the change's id and the mails queued")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    post_change.insert(
        "requestBody".into(),
        body(json!({"type": "object", "required": ["title", "changed_on"], "additionalProperties": false,
            "properties": {"title": {"type": "string", "maxLength": 80}, "description": {"type": "string"},
                "changed_on": {"type": "string", "description": "2026-12-31 or 31.12.2026"},
                "notify": {"type": "boolean"}}})),
    );
    paths.insert(
        "/api/v1/feedback/themes/{id}/changes".into(),
        json!({"parameters": idp, "get": get_changes, "post": post_change}),
    );
}
