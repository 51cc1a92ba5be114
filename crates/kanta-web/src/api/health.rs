//! The health score (read: everyone signed in):
//!
//! - `GET /api/v1/health/model`: the model in use (`kanta_core::health::HealthModelView`):
//!   learned or expert weights and why, the training rows and churn events, the
//!   holdout's AUC, Brier score, log-loss and calibration deciles, and every feature's
//!   bins with their weights in health-logit units (positive = healthier) and points;
//! - `GET /api/v1/customers/{id}/health`: a customer's newest score
//!   (`kanta_core::health::CustomerHealth`): score, churn probability, the health
//!   logit, the model's intercept and the factors (`intercept + Σ contribution =
//!   logit`), and the daily history of the last 180 days.
//!
//! Both are the core's views as they serialize; 404 before the first refresh.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health/model", get(model))
        .route("/api/v1/customers/{id}/health", get(customer))
}

/// `GET /api/v1/health/model`.
async fn model(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    match s.core.health_model_shared(&caller.acting).await? {
        Some(m) => Ok(Json(&*m).into_response()),
        None => Err(ApiError::not_found(
            "no health model yet: it is made by the daily job, `kanta health refresh`, or the model page's button"
                .to_string(),
        )),
    }
}

/// `GET /api/v1/customers/{id}/health`.
async fn customer(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    match s.core.customer_health(&caller.acting, &id).await? {
        Some(h) => Ok(Json(h).into_response()),
        None => Err(ApiError::not_found(format!(
            "customer {id} has no health score yet: scores are made by the daily job or `kanta health refresh`"
        ))),
    }
}

/// The OpenAPI entries of these routes (called by `openapi::document`).
pub(super) fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{ok, operation, response_ref, responses, schema_ref};
    let viewer = access(None, false);
    let num = |d: &str| json!({"type": "number", "description": d});
    let int = |d: &str| json!({"type": "integer", "description": d});
    schemas.insert(
        "HealthWhy".into(),
        json!({"type": "object", "description": "why the weights in use are learned or expert",
            "properties": {
                "key": {"type": "string", "enum": ["learned", "too_few_events", "no_history", "fit_failed"]},
                "events": int("churn events in the snapshots"),
                "min_events": int("the setting health_min_events: events needed to learn"),
                "error": {"type": "string", "description": "the fit's error (fit_failed)"}},
            "required": ["key", "events", "min_events"]}),
    );
    schemas.insert(
        "HealthValidation".into(),
        json!({"type": "object", "description": "the holdout's metrics (the newest snapshot, fitted on the older ones)",
            "properties": {
                "auc": {"type": ["number", "null"], "description": "ROC AUC"},
                "brier": num("Brier score"), "log_loss": num("mean log-loss"),
                "n": int("rows"), "events": int("churn events"),
                "calibration": {"type": "array", "description": "deciles by predicted probability", "items": {"type": "object", "properties": {
                    "min_predicted": {"type": "number"}, "max_predicted": {"type": "number"},
                    "mean_predicted": {"type": "number"}, "observed_rate": {"type": "number"},
                    "count": {"type": "integer"}, "events": {"type": "integer"}},
                    "required": ["mean_predicted", "observed_rate", "count", "events"]}}},
            "required": ["auc", "brier", "log_loss", "n", "events", "calibration"]}),
    );
    schemas.insert(
        "HealthModel".into(),
        json!({"type": "object", "description": "the health model in use: a binned logistic scorecard of churn within 90 days",
            "properties": {
                "id": {"type": "integer"},
                "fitted_at": {"type": "string", "format": "date-time"},
                "as_of": {"type": "string", "format": "date"},
                "method": {"type": "string", "enum": ["learned", "expert"]},
                "why": schema_ref("HealthWhy"),
                "rows": int("training rows (customer × snapshot)"),
                "events": int("their churn events"),
                "validation": {"anyOf": [schema_ref("HealthValidation"), {"type": "null"}]},
                "holdout_day": {"type": ["string", "null"], "format": "date"},
                "snapshots": {"type": "array", "items": {"type": "string", "format": "date"}},
                "intercept": num("the health logit of an average customer"),
                "features": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "categorical": {"type": "boolean"},
                    "importance": {"type": "number"},
                    "bins": {"type": "array", "items": {"type": "object", "properties": {
                        "label": {"type": "string"},
                        "weight": num("health-logit units; positive = healthier"),
                        "points": int("10 × weight, rounded"),
                        "count": int("training rows"), "events": int("their churn events")},
                        "required": ["label", "weight", "points", "count", "events"]}}},
                    "required": ["name", "categorical", "importance", "bins"]}}},
            "required": ["id", "fitted_at", "as_of", "method", "why", "rows", "events", "validation", "intercept", "features"]}),
    );
    schemas.insert(
        "CustomerHealth".into(),
        json!({"type": "object", "description": "a customer's health score and its reasons: intercept + Σ factors[].contribution = logit; score = round(100 × (1 − probability))",
            "properties": {
                "customer": {"type": "string"},
                "day": {"type": "string", "format": "date"},
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "probability": num("churn probability within 90 days"),
                "logit": num("the health logit"),
                "intercept": num("the model's health intercept"),
                "factors": {"type": "array", "items": {"type": "object", "properties": {
                    "feature": {"type": "string"}, "bin": {"type": "string"},
                    "value": {"description": "the customer's value (number, level, or null when missing)"},
                    "contribution": num("health-logit units; positive = healthier")},
                    "required": ["feature", "bin", "value", "contribution"]}},
                "change_30": {"type": ["integer", "null"], "description": "points against 30 days before"},
                "history": {"type": "array", "items": {"type": "object", "properties": {
                    "day": {"type": "string", "format": "date"}, "score": {"type": "integer"}},
                    "required": ["day", "score"]}},
                "model_id": {"type": "integer"},
                "method": {"type": "string"}},
            "required": ["customer", "day", "score", "probability", "logit", "intercept", "factors", "history", "model_id", "method"]}),
    );
    paths.insert(
        "/api/v1/health/model".into(),
        json!({"get": operation("health_model".into(), "health",
            "The health model in use: method and why, holdout AUC, Brier, log-loss, calibration, each feature's bins and weights".into(), viewer,
            responses(&[("200", ok(schema_ref("HealthModel"), "the model")),
                        ("404", response_ref("NotFound"))]))}),
    );
    paths.insert(
        "/api/v1/customers/{id}/health".into(),
        json!({"parameters": [{"name": "id", "in": "path", "required": true,
                               "description": "the customer's id", "schema": {"type": "string"}}],
               "get": operation("customer_health".into(), "health",
            "A customer's health score, its factors (adding up to the logit) and 180 days of history".into(), viewer,
            responses(&[("200", ok(schema_ref("CustomerHealth"), "the score")),
                        ("404", response_ref("NotFound"))]))}),
    );
}
