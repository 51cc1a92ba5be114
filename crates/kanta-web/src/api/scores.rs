//! Model runs and customer scores (written by `kanta score`), read-only:
//!
//! - `GET /api/v1/model-runs`: runs newest first, cursor paging;
//! - `GET /api/v1/model-runs/{id}`: one run with its parameters, fit and holdout
//!   figures (`details`) and revenue forecast;
//! - `GET /api/v1/model-runs/{id}/scores`: the run's scores by customer id, cursor
//!   paging, `tier` filter;
//! - `GET /api/v1/customers/{id}/scores`: the customer's scores in the newest run
//!   that scored them.
//!
//! Scores name customers by their external id, like every other API record.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kanta_store::scores::{CustomerScore, ModelRun};
use serde_json::{Value, json};

use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

/// Most records a page holds.
pub const MAX_LIMIT: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/model-runs", get(runs))
        .route("/api/v1/model-runs/{id}", get(run))
        .route("/api/v1/model-runs/{id}/scores", get(run_scores))
        .route("/api/v1/customers/{id}/scores", get(customer_scores))
}

/// A score as the API shows it: the customer's external id instead of the
/// internal one.
pub fn score_json(customer: &str, run_id: i64, s: &CustomerScore) -> Value {
    json!({
        "customer": customer,
        "run_id": run_id,
        "tier": s.tier.to_string(),
        "p_alive": s.p_alive,
        "repeat_purchases": s.repeat_purchases,
        "expected_purchases_30": s.expected_purchases_30,
        "expected_purchases_90": s.expected_purchases_90,
        "expected_purchases_365": s.expected_purchases_365,
        "expected_spend_minor": s.expected_spend_minor,
        "clv_12_minor": s.clv_12_minor,
        "clv_36_minor": s.clv_36_minor,
        "purchase_clv_12_minor": s.purchase_clv_12_minor,
        "purchase_clv_36_minor": s.purchase_clv_36_minor,
        "renewal_probability": s.renewal_probability,
        "expected_remaining_periods": s.expected_remaining_periods,
        "subscription_clv_12_minor": s.subscription_clv_12_minor,
        "subscription_clv_36_minor": s.subscription_clv_36_minor,
    })
}

/// The query parameters `allowed`, each at most once; others are refused by name.
pub(super) fn params<'a>(
    q: &'a Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, ApiError> {
    let Query(pairs) = q
        .as_ref()
        .map_err(|r| ApiError::bad_request(r.body_text()))?;
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad_field(
                k,
                format!(
                    "'{k}' is not a query parameter here: use {}",
                    allowed.join(", ")
                ),
            ));
        }
        if out.iter().any(|(seen, _)| seen == k) {
            return Err(ApiError::bad_field(k, format!("'{k}' is given twice")));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn limit(v: Option<&str>) -> Result<u32, ApiError> {
    let Some(v) = v else { return Ok(100) };
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid("limit", format!("'{v}' is not a whole number")))?;
    if !(1..=i64::from(MAX_LIMIT)).contains(&n) {
        return Err(ApiError::invalid(
            "limit",
            format!("{n} is not within 1..{MAX_LIMIT}"),
        ));
    }
    Ok(n as u32)
}

pub(super) fn param_of<'a>(ps: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    ps.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn run_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no model run with id '{id}'")))
}

async fn runs(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let ps = params(&q, &["limit", "cursor"])?;
    let limit = limit(param_of(&ps, "limit"))?;
    let before = match param_of(&ps, "cursor").filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "cursor",
                format!("the cursor '{c}' is not one this API gave"),
            )
        })?),
        None => None,
    };
    let items: Vec<ModelRun> = s.store.model_runs(before, limit + 1).await?;
    let more = items.len() > limit as usize;
    let items: Vec<ModelRun> = items.into_iter().take(limit as usize).collect();
    let next = more
        .then(|| items.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(json!({"items": items, "next_cursor": next})).into_response())
}

async fn run(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let run = s
        .store
        .model_run(run_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no model run with id '{id}'")))?;
    Ok(Json(run).into_response())
}

async fn run_scores(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let ps = params(&q, &["limit", "cursor", "tier"])?;
    let limit = limit(param_of(&ps, "limit"))?;
    let tier = match param_of(&ps, "tier").map(str::trim) {
        None | Some("") => None,
        Some(t) => match t.to_ascii_uppercase().as_str() {
            one @ ("A" | "B" | "C" | "D") => one.chars().next(),
            _ => {
                return Err(ApiError::invalid(
                    "tier",
                    format!("'{t}' is not a tier: use A, B, C or D"),
                ));
            }
        },
    };
    let run_id = run_id(&id)?;
    if s.store.model_run(run_id).await?.is_none() {
        return Err(ApiError::not_found(format!("no model run with id '{id}'")));
    }
    let after = param_of(&ps, "cursor").filter(|c| !c.is_empty());
    let rows = s.store.run_scores(run_id, tier, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    let items: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| score_json(&r.customer, run_id, &r.score))
        .collect();
    let next = more
        .then(|| rows.get(limit as usize - 1).map(|r| r.customer.clone()))
        .flatten();
    Ok(Json(json!({"items": items, "next_cursor": next})).into_response())
}

async fn customer_scores(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let shown = s
        .store
        .customer_score_shown(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no customer with id '{id}'")))?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "customer '{id}' has no scores: no model run has scored them yet (kanta score)"
            ))
        })?;
    let mut v = score_json(&id, shown.run_id, &shown.score);
    v["currency"] = json!(shown.currency);
    v["model"] = json!(shown.model);
    v["as_of"] = json!(shown.as_of);
    Ok(Json(v).into_response())
}
