//! The feedback analytics (read: everyone signed in):
//!
//! - `GET /api/v1/feedback/report?by=month|quarter&months=24`:
//!   `kanta_core::feedback_stats::FeedbackReport` as it serializes (the same JSON as
//!   `kanta report feedback --json`): NPS, CSAT and CES per period and by segment,
//!   tier, survey and channel with their intervals and n, response rates, exposure,
//!   detractor drivers and the themes with the ids of their answers;
//! - `GET /api/v1/feedback/answers?period=&group=&segment=&tier=&survey=&channel=&theme=&measure=&limit=&offset=`:
//!   the answers behind a figure, newest first.
//!
//! Both are computed by the core; this module only reads the query and writes JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kanta_core::feedback_stats::{AnswersQuery, MAX_MONTHS, MAX_PAGE, MONTHS, Period};
use serde_json::{Map, Value, json};

use super::scores::params;
use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/feedback/report", get(report))
        .route("/api/v1/feedback/answers", get(answers))
}

/// `GET /api/v1/feedback/report?by=&months=`.
async fn report(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let mut by = Period::Month;
    let mut months = MONTHS;
    for (k, v) in params(&q, &["by", "months"])? {
        match k {
            "by" => {
                by = Period::parse(v).ok_or_else(|| {
                    ApiError::invalid("by", format!("'{v}' is not month or quarter"))
                })?;
            }
            _ => {
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
    }
    let r = s.core.feedback_report(&caller.acting, by, months).await?;
    let v = serde_json::to_value(&r)
        .map_err(|e| ApiError::internal(format!("feedback report: {e}")))?;
    Ok(Json(v).into_response())
}

/// `GET /api/v1/feedback/answers?...`.
async fn answers(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let mut query = AnswersQuery {
        limit: 100,
        ..AnswersQuery::default()
    };
    let whole = |field: &str, v: &str, lo: i64, hi: i64| {
        v.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!("'{v}' is not a whole number from {lo} to {hi}"),
                )
            })
    };
    for (k, v) in params(
        &q,
        &[
            "period", "group", "segment", "tier", "survey", "channel", "theme", "measure", "limit",
            "offset",
        ],
    )? {
        let text = Some(v.trim().to_string());
        let set = text.clone().filter(|v| !v.is_empty());
        match k {
            "period" => query.period = set,
            "group" => query.group = set,
            "segment" => query.segment = text,
            "tier" => query.tier = text,
            "survey" => query.survey = text,
            "channel" => query.channel = text,
            "measure" => query.measure = set,
            "theme" => query.theme = Some(whole("theme", v, 1, i64::MAX)?),
            "limit" => query.limit = whole("limit", v, 1, MAX_PAGE)?,
            _ => query.offset = whole("offset", v, 0, i64::MAX)?,
        }
    }
    let page = s.core.feedback_answers(&caller.acting, &query).await?;
    let v = serde_json::to_value(&page)
        .map_err(|e| ApiError::internal(format!("feedback answers: {e}")))?;
    Ok(Json(v).into_response())
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{ok, operation, response_ref, responses, schema_ref};
    let num = json!({"type": ["number", "null"]});
    let interval = |what: &str| {
        json!({"type": "object", "description": what,
            "properties": {"k": {"type": "integer"}, "n": {"type": "integer"},
                "p": num, "lo": num, "hi": num},
            "required": ["k", "n", "p", "lo", "hi"]})
    };
    schemas.insert(
        "FeedbackCell".into(),
        json!({"type": "object",
            "description": "the figures of one period, segment, tier, survey or channel; a measure with fewer answers than feedback_min_answers has enough: false and null figures",
            "properties": {
                "key": {"type": "string", "description": "2026-10, 2026-Q4, the segment, tier, survey id or channel; empty: answers without one"},
                "label": {"type": ["string", "null"], "description": "the survey's name"},
                "answers": {"type": "integer"},
                "nps": {"type": "object", "description": "NPS in points (−100…100) with the adjusted Wald 95% interval",
                    "properties": {"n": {"type": "integer"}, "promoters": {"type": "integer"},
                        "passives": {"type": "integer"}, "detractors": {"type": "integer"},
                        "enough": {"type": "boolean"}, "score": num, "lo": num, "hi": num},
                    "required": ["n", "promoters", "passives", "detractors", "enough", "score", "lo", "hi"]},
                "csat": {"type": "object", "description": "the share of CSAT 4-5 (Wilson 95%) and the mean (t 95%)",
                    "properties": {"n": {"type": "integer"}, "satisfied": {"type": "integer"},
                        "enough": {"type": "boolean"}, "share": num, "lo": num, "hi": num,
                        "mean": num, "mean_lo": num, "mean_hi": num},
                    "required": ["n", "satisfied", "enough", "share", "lo", "hi", "mean"]},
                "ces": {"type": "object", "description": "the mean CES (1-7) with its t 95% interval",
                    "properties": {"n": {"type": "integer"}, "enough": {"type": "boolean"},
                        "mean": num, "lo": num, "hi": num},
                    "required": ["n", "enough", "mean", "lo", "hi"]},
                "promoters": {"type": "integer", "description": "promoters by the detractor settings' rule"},
                "detractors": {"type": "integer", "description": "detractors by the detractor settings' rule"}},
            "required": ["key", "answers", "nps", "csat", "ces", "promoters", "detractors"]}),
    );
    let waves_schema = json!({"type": "array", "items": {"type": "object",
                    "properties": {"wave_id": {"type": ["integer", "null"], "description": "null: the survey's triggered invitations"},
                        "sent_at": {"type": "string", "format": "date-time"},
                        "survey": {"type": "string"}, "survey_name": {"type": "string"},
                        "channel": {"type": "string"}, "skipped": {"type": "integer"},
                        "rate": interval("answered of invited, Wilson 95%")},
                    "required": ["wave_id", "sent_at", "survey", "channel", "skipped", "rate"]}});
    let invitation_channels_schema = json!({"type": "array", "items": {"type": "object",
                    "properties": {"channel": {"type": "string"}, "rate": interval("answered of invited, Wilson 95%")},
                    "required": ["channel", "rate"]}});
    let exposure_schema = json!({"type": "array", "items": {"type": "object",
                    "properties": {"key": {"type": "string"}, "promoters": {"type": "integer"},
                        "detractors": {"type": "integer"},
                        "told_good": {"type": "integer", "description": "promoters × exposure_promoter"},
                        "told_bad": {"type": "integer", "description": "detractors × exposure_detractor"}},
                    "required": ["key", "promoters", "detractors", "told_good", "told_bad"]}});
    let drivers_schema = json!({"type": "array", "description": "themes by their share among detractors minus promoters, largest first",
                    "items": {"type": "object",
                    "properties": {"theme_id": {"type": "integer"}, "label": {"type": "string"},
                        "detractors": interval("detractors who wrote anything with an answer in the theme"),
                        "promoters": interval("promoters who wrote anything with an answer in the theme"),
                        "difference": num, "lo": num, "hi": num,
                        "clear": {"type": "boolean", "description": "the interval lies above zero"},
                        "enough": {"type": "boolean"}},
                    "required": ["theme_id", "label", "detractors", "promoters", "difference", "lo", "hi", "clear", "enough"]}});
    let themes_schema = json!({"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "integer"}, "key": {"type": "string"},
                        "label": {"type": "string"},
                        "words": {"type": "array", "items": {"type": "string"}},
                        "count": {"type": "integer"},
                        "examples": {"type": "array", "items": {"type": "array", "description": "[answer id, text]"}},
                        "answer_ids": {"type": "array", "items": {"type": "string"}, "description": "the external ids of the theme's answers (as imported, or as the API or a survey gave them)"},
                        "trend": {"type": "array", "items": {"type": "array", "description": "[month, answers]"}},
                        "manual": {"type": "boolean"}},
                    "required": ["id", "label", "words", "count", "answer_ids"]}});
    schemas.insert(
        "FeedbackReport".into(),
        json!({"type": "object", "description": "feedback analytics over the last `months` months by month or quarter (store time zone)",
            "properties": {
                "by": {"type": "string", "enum": ["month", "quarter"]},
                "months": {"type": "integer"},
                "time_zone": {"type": "string"},
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "min_answers": {"type": "integer"},
                "exposure_promoter": {"type": "integer"},
                "exposure_detractor": {"type": "integer"},
                "detractor_nps_max": {"type": "integer"},
                "detractor_csat_max": {"type": "integer"},
                "total": schema_ref("FeedbackCell"),
                "periods": {"type": "array", "items": schema_ref("FeedbackCell")},
                "segments": {"type": "array", "items": schema_ref("FeedbackCell")},
                "tiers": {"type": "array", "items": schema_ref("FeedbackCell")},
                "surveys": {"type": "array", "items": schema_ref("FeedbackCell")},
                "channels": {"type": "array", "items": schema_ref("FeedbackCell")},
                "waves": waves_schema,
                "invitation_channels": invitation_channels_schema,
                "exposure": exposure_schema,
                "drivers": drivers_schema,
                "detractors_with_text": {"type": "integer"},
                "promoters_with_text": {"type": "integer"},
                "themes": themes_schema},
            "required": ["by", "months", "from", "to", "min_answers", "total", "periods", "segments", "tiers", "surveys", "channels", "waves", "exposure", "drivers", "themes"]}),
    );
    schemas.insert(
        "FeedbackAnswers".into(),
        json!({"type": "object", "description": "a page of answers, newest first",
            "properties": {
                "items": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "integer"}, "external_id": {"type": "string"},
                        "answered_at": {"type": "string", "format": "date-time"},
                        "customer_id": {"type": ["string", "null"]}, "customer_name": {"type": ["string", "null"]},
                        "survey": {"type": ["string", "null"]},
                        "nps": {"type": ["integer", "null"]}, "csat": {"type": ["integer", "null"]},
                        "ces": {"type": ["integer", "null"]},
                        "did_well": {"type": ["string", "null"]}, "do_better": {"type": ["string", "null"]},
                        "comment": {"type": ["string", "null"]}, "language": {"type": ["string", "null"]},
                        "channel": {"type": ["string", "null"]}},
                    "required": ["id", "external_id", "answered_at"]}},
                "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}},
            "required": ["items", "total", "limit", "offset"]}),
    );
    let viewer = access(None, false);
    let q = |name: &str, d: &str, schema: Value| json!({"name": name, "in": "query", "description": d, "schema": schema});
    let mut op = operation(
        "feedback_report".into(),
        "feedback",
        "NPS, CSAT and CES per period and by segment, tier, survey and channel with 95% intervals; response rates, exposure, detractor drivers and themes".into(),
        viewer,
        responses(&[
            ("200", ok(schema_ref("FeedbackReport"), "the report")),
            ("422", response_ref("Invalid")),
        ]),
    );
    op.insert(
        "parameters".into(),
        json!([
            q("by", "month or quarter (store time zone)", json!({"type": "string", "enum": ["month", "quarter"], "default": "month"})),
            q("months", "months covered, the current one included (a quarter report starts at its quarter's first month)",
              json!({"type": "integer", "minimum": 1, "maximum": MAX_MONTHS, "default": MONTHS})),
        ]),
    );
    paths.insert("/api/v1/feedback/report".into(), json!({"get": op}));
    let text = json!({"type": "string"});
    let mut op = operation(
        "feedback_answers".into(),
        "feedback",
        "The answers behind a figure, newest first".into(),
        viewer,
        responses(&[
            (
                "200",
                ok(schema_ref("FeedbackAnswers"), "a page of answers"),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    op.insert(
        "parameters".into(),
        json!([
            q(
                "period",
                "a month 2026-10, a quarter 2026-Q4 or a year 2026 (store time zone)",
                text.clone()
            ),
            q(
                "group",
                "detractor, promoter or passive (the detractor settings' rule)",
                json!({"type": "string", "enum": ["detractor", "promoter", "passive"]})
            ),
            q(
                "segment",
                "the customer's segment (empty: none)",
                text.clone()
            ),
            q(
                "tier",
                "the customer's value tier (empty: none)",
                text.clone()
            ),
            q("survey", "the survey's id (empty: none)", text.clone()),
            q(
                "channel",
                "the answer's channel (empty: not recorded)",
                text.clone()
            ),
            q(
                "theme",
                "a theme's id (with the themes merged into it)",
                json!({"type": "integer"})
            ),
            q(
                "measure",
                "only answers with this score: nps, csat or ces",
                json!({"type": "string", "enum": ["nps", "csat", "ces"]})
            ),
            q(
                "limit",
                "answers per page",
                json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100})
            ),
            q(
                "offset",
                "answers skipped",
                json!({"type": "integer", "minimum": 0, "default": 0})
            ),
        ]),
    );
    paths.insert("/api/v1/feedback/answers".into(), json!({"get": op}));
}
