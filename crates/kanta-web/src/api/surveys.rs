//! Surveys in the API (issue 13); the surveys themselves are the generic entity routes
//! (`/api/v1/surveys`, with the questions checked and versioned by the core on every
//! write):
//!
//! - `POST /api/v1/surveys/{id}/activate`, `/close` (managers): the status.
//! - `GET /api/v1/surveys/{id}/versions` (everyone signed in): the questions' versions.
//! - `POST /api/v1/answers/{token}` (no sign-in: the signed link is the permission):
//!   a customer's answer by their personal link as JSON (`{"nps": 9, "did_well":
//!   "..."}`, `lang` optional), written once; `409` when the link was used, `410`
//!   expired or closed, `400` altered, `422` bad answers by field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::Channel;
use kanta_core::surveys::{AnswerInput, Gate};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::entities::json_object;
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/surveys/{id}/activate",
            post(|c, s, Path(id): Path<String>| set_status(c, s, id, "active")),
        )
        .route(
            "/api/v1/surveys/{id}/close",
            post(|c, s, Path(id): Path<String>| set_status(c, s, id, "closed")),
        )
        .route("/api/v1/surveys/{id}/versions", get(versions))
        .route("/api/v1/answers/{token}", post(answer))
}

async fn set_status(
    caller: Caller,
    State(s): State<AppState>,
    id: String,
    status: &'static str,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    s.core
        .set_survey_status(&caller.acting, &id, status)
        .await?;
    let v = s.core.survey(&caller.acting, &id).await?;
    Ok(Json(v).into_response())
}

async fn versions(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let v = s.core.survey_versions(&caller.acting, &id).await?;
    Ok(Json(json!({ "items": v })).into_response())
}

/// `POST /api/v1/answers/{token}`.
async fn answer(
    State(s): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let obj = json_object(body)?;
    let mut input = AnswerInput::new();
    let mut lang = "fi".to_string();
    for (k, v) in obj {
        let text = match &v {
            Value::String(t) => t.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Value::Null => continue,
            _ => {
                return Err(ApiError::invalid(
                    &k,
                    "must be a number, text or true/false".into(),
                ));
            }
        };
        if k == "lang" {
            lang = if text == "en" {
                "en".into()
            } else {
                "fi".into()
            };
        } else if kanta_domain::schema::SURVEY_FIELDS.contains(&k.as_str()) {
            input.insert(k, text);
        } else {
            return Err(ApiError::invalid(
                &k,
                format!(
                    "not an answer field; the fields are {} and lang",
                    kanta_domain::schema::SURVEY_FIELDS.join(", ")
                ),
            ));
        }
    }
    let ip = crate::auth::client_ip(&s.core, &headers, &ext);
    let v = s
        .core
        .answer_survey_link(&token, &input, &lang, Channel::Api, ip)
        .await?;
    let (status, detail, title) = match v.gate {
        Gate::Answered => {
            return Ok((
                StatusCode::CREATED,
                Json(json!({ "id": v.answer_id, "survey": v.survey.map(|s| s.survey) })),
            )
                .into_response());
        }
        Gate::Used => (
            StatusCode::CONFLICT,
            "the link has been answered already",
            "Conflict",
        ),
        Gate::Expired => (StatusCode::GONE, "the link has expired", "Gone"),
        Gate::Closed => (StatusCode::GONE, "the survey is not taking answers", "Gone"),
        Gate::Unknown => (
            StatusCode::NOT_FOUND,
            "there is no such survey",
            "Not found",
        ),
        Gate::Altered | Gate::Malformed => (
            StatusCode::BAD_REQUEST,
            "the link is not valid (altered or cut short)",
            "Bad request",
        ),
        Gate::Open => (StatusCode::INTERNAL_SERVER_ERROR, "not answered", "Error"),
    };
    let mut e = ApiError::bad_request(detail.into());
    e.status = status;
    e.title = title;
    e.field = Some("token".into());
    Err(e)
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    schemas.insert(
        "SurveyVersion".into(),
        json!({"type": "object", "required": ["version", "questions", "created_at"],
            "properties": {
                "version": {"type": "integer"},
                "questions": {"type": "array", "items": {"type": "object", "required": ["field", "fi", "en"],
                    "properties": {"field": {"type": "string", "enum": kanta_domain::schema::SURVEY_FIELDS},
                        "fi": {"type": "string"}, "en": {"type": "string"}}}},
                "created_at": {"type": "string", "format": "date-time"}}}),
    );
    let id = json!({"name": "id", "in": "path", "required": true, "description": "the survey's id", "schema": {"type": "string"}});
    for (action, summary) in [
        ("activate", "Activate a survey: answerable and sendable"),
        ("close", "Close a survey: no more answers"),
    ] {
        let op = operation(
            format!("survey_{action}"),
            "surveys",
            summary.into(),
            Role::Manager,
            responses(&[
                ("200", ok(json!({"type": "object"}), "the survey")),
                ("404", response_ref("NotFound")),
            ]),
        );
        paths.insert(
            format!("/api/v1/surveys/{{id}}/{action}"),
            json!({"parameters": [id.clone()], "post": op}),
        );
    }
    let op = operation(
        "survey_versions".into(),
        "surveys",
        "The versions of a survey's questions, newest first".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": schema_ref("SurveyVersion")}}}),
                    "the versions",
                ),
            ),
            ("404", response_ref("NotFound")),
        ]),
    );
    paths.insert(
        "/api/v1/surveys/{id}/versions".into(),
        json!({"parameters": [id], "get": op}),
    );
    let mut answer = Map::new();
    answer.insert("operationId".into(), json!("survey_answer"));
    answer.insert("tags".into(), json!(["surveys"]));
    answer.insert(
        "summary".into(),
        json!("A customer's answer by their personal survey link (no sign-in: the signed token is the permission); written once"),
    );
    answer.insert("security".into(), json!([]));
    answer.insert(
        "requestBody".into(),
        body(json!({"type": "object", "additionalProperties": false, "properties": {
            "nps": {"type": "integer", "minimum": 0, "maximum": 10},
            "csat": {"type": "integer", "minimum": 1, "maximum": 5},
            "ces": {"type": "integer", "minimum": 1, "maximum": 7},
            "yes_no": {"type": "boolean"},
            "did_well": {"type": "string"}, "do_better": {"type": "string"}, "comment": {"type": "string"},
            "lang": {"type": "string", "enum": ["fi", "en"]}}})),
    );
    answer.insert(
        "responses".into(),
        json!({
            "201": ok(json!({"type": "object", "properties": {"id": {"type": "string"}, "survey": {"type": "string"}}}), "the answer was saved"),
            "400": response_ref("BadRequest"),
            "409": {"description": "the link has been answered already"},
            "410": {"description": "the link has expired or the survey is closed"},
            "422": response_ref("Invalid"),
            "429": {"description": "too many requests"}
        }),
    );
    paths.insert(
        "/api/v1/answers/{token}".into(),
        json!({"parameters": [{"name": "token", "in": "path", "required": true, "description": "the personal link's token", "schema": {"type": "string"}}], "post": answer}),
    );
}
