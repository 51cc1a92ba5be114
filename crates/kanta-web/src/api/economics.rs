//! Retention economics (read: viewers, managers and admins; staff are refused):
//!
//! - `GET /api/v1/value/economics`: `kanta_core::economics::RetentionEconomics` as it
//!   serializes (the same JSON as `kanta report economics --json`): what five more
//!   points of 12-month retention are worth (value and gain over 12 and 36 months in
//!   minor units, with the 95 % interval, per part), the costs of winning and keeping
//!   a customer, and churn reasons by journey stage.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/value/economics", get(economics))
}

/// `GET /api/v1/value/economics`.
async fn economics(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let e = s.core.retention_economics(&caller.acting).await?;
    let v = serde_json::to_value(&e)
        .map_err(|e| ApiError::internal(format!("retention economics: {e}")))?;
    Ok(Json(v).into_response())
}

/// The OpenAPI entries of these routes (called by `openapi::document`).
pub(super) fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{ok, operation, response_ref, responses, schema_ref};
    let viewer = access(None, false);
    let int = |d: &str| json!({"type": "integer", "description": d});
    let num = |d: &str| json!({"type": "number", "description": d});
    let pair = |d: &str| json!({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2, "description": d});
    schemas.insert(
        "EconomicsPart".into(),
        json!({"type": "object", "description": "one part of the customer base (buyers or subscriptions) under the five-points scenario",
            "properties": {
                "model": {"type": "string", "enum": ["bgnbd", "mbgnbd", "pnbd", "sbg"]},
                "units": int("customers (buyers) or active subscriptions valued"),
                "alive": num("expected living customers today (sum of P(alive)); active subscriptions"),
                "retention": num("12-month retention today, 0-1"),
                "retention_after": num("12-month retention with the scenario: retention + 0.05"),
                "factor": num("buyers: the dropout hazard's multiplier (< 1); subscriptions: the sBG beta's multiplier (> 1)"),
                "value_minor": pair("value today over 12 and 36 months, minor units"),
                "gain_minor": pair("what five more points add over 12 and 36 months, minor units")},
            "required": ["model", "units", "alive", "retention", "retention_after", "factor", "value_minor", "gain_minor"]}),
    );
    let opt_part = json!({"anyOf": [schema_ref("EconomicsPart"), {"type": "null"}]});
    schemas.insert(
        "RetentionEconomics".into(),
        json!({"type": "object", "description": "retention economics for this business: what five more points of 12-month retention are worth (from the newest model run), the costs of winning and of keeping a customer, churn reasons by journey stage",
            "properties": {
                "currency": {"type": "string", "description": "ISO 4217 code of every minor-unit amount"},
                "run": {"type": ["object", "null"], "description": "the model run the figure rests on",
                    "properties": {"id": {"type": "integer"}, "as_of": {"type": "string", "format": "date"},
                        "created_at": {"type": "string", "format": "date-time"}, "model": {"type": "string"}}},
                "five_points": {"type": ["object", "null"], "description": "null without a model run or a part that can be valued (five_points_note says why)",
                    "properties": {
                        "points": num("0.05"),
                        "horizons": {"type": "array", "items": {"type": "integer"}, "description": "[12, 36]: the months of each pair"},
                        "value_minor": pair("today's base valued over 12 and 36 months"),
                        "gain_minor": pair("what five more points add"),
                        "interval_minor": {"type": "array", "items": {"anyOf": [{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}, {"type": "null"}]},
                            "description": "per horizon, the gain's 95% interval (parametric bootstrap); null without a covariance"},
                        "gain_share": {"type": "array", "items": {"type": "number"}, "description": "gain / value per horizon"},
                        "draws": int("bootstrap draws with finite figures"),
                        "buyers": opt_part, "buyers_note": {"type": ["string", "null"]},
                        "subscribers": opt_part, "subscribers_note": {"type": ["string", "null"]},
                        "method": {"type": "string"}},
                    "required": ["points", "horizons", "value_minor", "gain_minor", "interval_minor", "gain_share", "draws", "buyers", "subscribers", "method"]},
                "five_points_note": {"type": ["string", "null"]},
                "acquisition": {"type": "object", "description": "recorded acquisition costs in the store's currency",
                    "properties": {"customers": int("customers with a recorded cost"), "total_minor": int("their sum"),
                        "mean_minor": {"type": ["integer", "null"]}, "other_currency": int("customers whose cost is in another currency (left out)")},
                    "required": ["customers", "total_minor", "mean_minor", "other_currency"]},
                "keeping": {"type": "object", "description": "cost to serve from the newest profitability pass",
                    "properties": {"run_id": {"type": ["integer", "null"]}, "as_of": {"type": ["string", "null"], "format": "date"},
                        "served": int("customers the pass served"), "cost_to_serve_minor": int("their cost to serve over 12 months"),
                        "per_customer_year_minor": {"type": ["integer", "null"]}, "note": {"type": ["string", "null"]}},
                    "required": ["run_id", "served", "cost_to_serve_minor", "per_customer_year_minor", "note"]},
                "acquisition_to_keeping": {"type": ["number", "null"], "description": "mean acquisition cost / cost to serve per customer-year"},
                "churn": {"type": "object", "properties": {
                    "ended": int("ended customers"),
                    "rule": {"type": "string"},
                    "stages": {"type": "array", "items": {"type": "object", "properties": {
                        "stage": {"type": "string", "enum": ["onboarding", "first_90_days", "around_renewal", "established"]},
                        "customers": int("ended customers of the stage"),
                        "reasons": {"type": "array", "description": "[reason code, customers] pairs", "items": {"type": "array"}},
                        "cases": {"type": "array", "description": "[category, cases, customers] of the 90 days before the end", "items": {"type": "array"}}},
                        "required": ["stage", "customers", "reasons", "cases"]}}},
                    "required": ["ended", "rule", "stages"]}},
            "required": ["currency", "run", "five_points", "five_points_note", "acquisition", "keeping", "acquisition_to_keeping", "churn"]}),
    );
    let mut op = operation(
        "retention_economics".into(),
        "value",
        "Retention economics: what five more points of 12-month retention are worth, costs of winning and keeping a customer, churn reasons by journey stage (viewers, managers and admins; not staff)".into(),
        viewer,
        responses(&[("200", ok(schema_ref("RetentionEconomics"), "the figures"))]),
    );
    if let Some(r) = op.get_mut("responses").and_then(Value::as_object_mut) {
        r.insert("403".into(), response_ref("Forbidden"));
    }
    paths.insert("/api/v1/value/economics".into(), json!({"get": op}));
}
