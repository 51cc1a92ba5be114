//! Sending surveys (`kanta_core::survey_send`):
//!
//! - `POST /api/v1/surveys/{id}/waves` (managers): `{audience: "all" | "segment" |
//!   "tier" | "customers" | "queue", value?: segment or tier, customers?: [ids],
//!   channel?: "email" | "link", dry_run?: bool}` → 201 with the wave's counts, the
//!   skipped per reason and, for links, the personal links (a dry run: 200, nothing
//!   kept).
//! - `GET /api/v1/surveys/{id}/waves` (anyone): the waves with their counts.
//! - `GET /api/v1/surveys/{id}/invitations?status=&reason=&wave=&limit=&offset=`
//!   (anyone): the invitation log.
//!
//! Bad input is a 422 naming the field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kanta_core::survey_send::{Audience, REASONS, SendChannel, parse_tier, unknown_tier_message};
use kanta_core::{CoreError, Problem};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::entities::json_object;
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/surveys/{id}/waves", get(list).post(send))
        .route("/api/v1/surveys/{id}/invitations", get(invitations))
}

const MEMBERS: [&str; 5] = ["audience", "value", "customers", "channel", "dry_run"];

/// `POST /api/v1/surveys/{id}/waves`.
async fn send(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let obj = json_object(body)?;
    if let Some(k) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            k,
            format!(
                "'{k}' is not a member of the body: send {}",
                MEMBERS.join(", ")
            ),
        ));
    }
    let mut problems = Vec::new();
    let text = |name: &str, problems: &mut Vec<Problem>| match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(other) => {
            problems.push(Problem::new(name, format!("must be a text, not {other}")));
            None
        }
    };
    let kind = text("audience", &mut problems).unwrap_or_else(|| "all".into());
    let value = text("value", &mut problems);
    let channel = text("channel", &mut problems).unwrap_or_else(|| "email".into());
    let dry_run = match obj.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(Problem::new(
                "dry_run",
                format!("must be true or false, not {other}"),
            ));
            false
        }
    };
    let customers: Vec<String> = match obj.get("customers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(other) => {
            problems.push(Problem::new(
                "customers",
                format!("must be a list of customer ids, not {other}"),
            ));
            Vec::new()
        }
    };
    let channel = match SendChannel::parse(&channel) {
        Some(c) => c,
        None => {
            problems.push(Problem::new(
                "channel",
                format!("'{channel}' is not a channel: email or link"),
            ));
            SendChannel::Email
        }
    };
    let need = |problems: &mut Vec<Problem>, what: &str| match value.clone() {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            problems.push(Problem::new("value", format!("required: the {what}")));
            None
        }
    };
    let audience = match kind.as_str() {
        "all" => Some(Audience::All),
        "queue" => Some(Audience::Queue),
        "segment" => need(&mut problems, "segment").map(Audience::Segment),
        "tier" => need(&mut problems, "tier").and_then(|t| match parse_tier(&t) {
            Some(t) => Some(Audience::Tier(t.to_string())),
            None => {
                problems.push(Problem::new("tier", unknown_tier_message(&t)));
                None
            }
        }),
        "customers" => {
            if customers.is_empty() {
                problems.push(Problem::new(
                    "customers",
                    "required: at least one customer id",
                ));
            }
            Some(Audience::Customers(customers))
        }
        other => {
            problems.push(Problem::new(
                "audience",
                format!("'{other}' is not an audience: all, segment, tier, customers or queue"),
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems).into());
    }
    let r = s
        .core
        .send_wave(
            &caller.acting,
            &id,
            audience.unwrap_or(Audience::All),
            channel,
            dry_run,
        )
        .await?;
    let reasons: Map<String, Value> = r
        .reasons
        .iter()
        .map(|(k, n)| (k.clone(), json!(n)))
        .collect();
    let links: Vec<Value> = r
        .links
        .iter()
        .map(|(c, u)| json!({"customer_id": c, "url": u}))
        .collect();
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({
            "wave_id": r.wave_id,
            "survey": r.survey,
            "channel": r.channel,
            "audience": r.audience,
            "considered": r.considered,
            "invited": r.invited,
            "skipped": r.skipped,
            "reasons": reasons,
            "mails": r.mails,
            "send_at": r.send_at,
            "links": links,
            "dry_run": r.dry_run,
        })),
    )
        .into_response())
}

/// `GET /api/v1/surveys/{id}/waves`.
async fn list(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let waves = s.core.survey_waves(&caller.acting, &id).await?;
    Ok(Json(json!({ "items": waves })).into_response())
}

fn number(name: &str, v: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            format!("'{}' is not a whole number from {min} to {max}", v.trim()),
        )),
    }
}

/// `GET /api/v1/surveys/{id}/invitations`.
async fn invitations(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let (mut status, mut reason, mut wave, mut limit, mut offset) = (None, None, None, 1000, 0);
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => status = Some(v.trim().to_string()).filter(|x| !x.is_empty()),
            "reason" => reason = Some(v.trim().to_string()).filter(|x| !x.is_empty()),
            "wave" => wave = Some(number("wave", v, 1, i64::MAX)?),
            "limit" => limit = number("limit", v, 1, 100_000)?,
            "offset" => offset = number("offset", v, 0, i64::MAX)?,
            other => {
                return Err(ApiError::bad_field(
                    other,
                    format!(
                        "'{other}' is not a parameter here: status, reason, wave, limit, offset"
                    ),
                ));
            }
        }
    }
    let items = s
        .core
        .survey_invitations(
            &caller.acting,
            &id,
            status.as_deref(),
            reason.as_deref(),
            wave,
            limit,
            offset,
        )
        .await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let opt = |t: &str| json!({"type": [t, "null"]});
    schemas.insert(
        "SurveyWave".into(),
        json!({"type": "object", "description": "a sending of a survey to a set of customers",
            "properties": {
                "id": {"type": "integer"}, "survey_id": {"type": "integer"},
                "channel": {"type": "string", "enum": ["email", "link"]},
                "audience": {"type": "string", "description": "all, segment:S, tier:T, customers:N or queue"},
                "considered": {"type": "integer"}, "invited": {"type": "integer"},
                "skipped": {"type": "integer"}, "answered": {"type": "integer"},
                "mails_sent": {"type": "integer"}, "created_by": opt("integer"),
                "created_ms": {"type": "integer", "description": "epoch milliseconds"}},
            "required": ["id", "channel", "audience", "considered", "invited", "skipped"]}),
    );
    schemas.insert(
        "SurveyInvitation".into(),
        json!({"type": "object", "description": "one row of the invitation log",
            "properties": {
                "id": {"type": "integer"}, "survey_id": {"type": "integer"},
                "wave_id": opt("integer"),
                "trigger_key": {"type": ["string", "null"], "description": "{kind}:{event}:{survey} for triggered invitations"},
                "customer": {"type": "string", "description": "the customer's id"},
                "customer_name": opt("string"),
                "channel": {"type": "string", "enum": ["email", "link"]},
                "status": {"type": "string", "enum": ["invited", "skipped", "answered"]},
                "reason": {"type": ["string", "null"], "enum": [null, "ended", "do_not_contact", "no_consent", "no_email", "already_invited", "cooldown", "open_critical_case"]},
                "language": opt("string"),
                "mail_status": {"type": ["string", "null"], "enum": [null, "queued", "sent", "failed"]},
                "created_ms": {"type": "integer"}, "expires_ms": opt("integer"),
                "reminded_ms": opt("integer"), "answered_ms": opt("integer")},
            "required": ["id", "customer", "channel", "status", "created_ms"]}),
    );
    let survey = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the survey's id"});
    let mut post = operation(
        "survey_wave_send".into(),
        "surveys",
        "Send a wave of a survey: one invitation log row per customer considered (invited, or skipped with the reason), the invited customers' mails queued (email) or their personal links returned (link)".into(),
        Role::Manager,
        responses(&[
            ("201", ok(json!({"type": "object"}), "the wave's counts, skipped per reason, links")),
            ("200", ok(json!({"type": "object"}), "a dry run's counts (nothing kept)")),
            ("403", response_ref("Forbidden")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    post.insert("parameters".into(), json!([survey.clone()]));
    post.insert(
        "requestBody".into(),
        body(json!({"type": "object", "additionalProperties": false,
            "properties": {
                "audience": {"type": "string", "enum": ["all", "segment", "tier", "customers", "queue"], "default": "all"},
                "value": {"type": "string", "description": "the segment or tier"},
                "customers": {"type": "array", "items": {"type": "string"}, "description": "customer ids (audience customers)"},
                "channel": {"type": "string", "enum": ["email", "link"], "default": "email"},
                "dry_run": {"type": "boolean", "default": false}}})),
    );
    let mut get_waves = operation(
        "survey_waves".into(),
        "surveys",
        "A survey's waves, newest first, with counts, mails sent and answers".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": schema_ref("SurveyWave")}}}),
                    "waves",
                ),
            ),
            ("404", response_ref("NotFound")),
        ]),
    );
    get_waves.insert("parameters".into(), json!([survey.clone()]));
    paths.insert(
        "/api/v1/surveys/{id}/waves".into(),
        json!({"get": get_waves, "post": post}),
    );
    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let mut log = operation(
        "survey_invitations".into(),
        "surveys",
        "A survey's invitation log, newest first".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": schema_ref("SurveyInvitation")}}}),
                    "invitations",
                ),
            ),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    log.insert(
        "parameters".into(),
        json!([
            survey,
            q("status", "invited, skipped or answered"),
            q("reason", &format!("a skip reason: {}", REASONS.join(", "))),
            {"name": "wave", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000}},
            {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
        ]),
    );
    paths.insert(
        "/api/v1/surveys/{id}/invitations".into(),
        json!({"get": log}),
    );
}
