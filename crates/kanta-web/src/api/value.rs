//! Profitability (issue 14), read from the newest stored pass:
//!
//! - `GET /api/v1/value`: totals, cost to serve by component, the margin distribution
//!   and the most unprofitable customers with their reasons (as data and in words,
//!   `lang=fi|en`) (`kanta_core::profit::ValueSummary`);
//! - `GET /api/v1/value/customers?show=&sort=&page=`: the customers behind a figure,
//!   50 a page;
//! - `POST /api/v1/value/refresh` (`{"as_of": "2026-06-30"}` optional; managers): runs
//!   the pass.
//!
//! Viewers, managers and admins read (not staff, as the core says); this module reads
//! the query and writes JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_core::profit::{ProfitCustomer, ProfitQuery, parse_filter, parse_sort};
use kanta_domain::Currency;
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::scores::params;
use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/value", get(summary))
        .route("/api/v1/value/customers", get(customers))
        .route("/api/v1/value/refresh", post(refresh))
}

fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("{what}: {e}")))
}

/// Customers as JSON with each reason's words in `fi` or English added.
fn customers_json(rows: &[ProfitCustomer], fi: bool, cur: Currency) -> Result<Value, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let mut v = to_json("customer", c)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("customer_id");
            o.insert("id".into(), json!(c.row.external_id));
            o.remove("external_id");
            o.insert(
                "reason_words".into(),
                json!(
                    c.reasons
                        .iter()
                        .map(|r| r.words(fi, cur))
                        .collect::<Vec<_>>()
                ),
            );
        }
        out.push(v);
    }
    Ok(Value::Array(out))
}

fn lang_of(v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "" | "en" => Ok(false),
        "fi" => Ok(true),
        o => Err(ApiError::invalid(
            "lang",
            format!("'{o}' is not a language: fi or en"),
        )),
    }
}

/// `GET /api/v1/value?lang=fi|en`.
async fn summary(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let mut fi = false;
    for (k, v) in params(&q, &["lang"])? {
        if k == "lang" {
            fi = lang_of(v)?;
        }
    }
    let v = s.core.value_summary(&caller.acting).await?;
    let cur: Currency = v.currency.parse().unwrap_or(Currency::EUR);
    let mut out = to_json("value summary", &v)?;
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "unprofitable".into(),
            customers_json(&v.unprofitable, fi, cur)?,
        );
    }
    Ok(Json(out).into_response())
}

/// `GET /api/v1/value/customers?show=&sort=&page=&lang=`.
async fn customers(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let cur = s.core.currency().await?;
    let mut query = ProfitQuery::default();
    let mut fi = false;
    for (k, v) in params(&q, &["show", "sort", "page", "lang"])? {
        match k {
            "show" => query.filter = parse_filter(v, cur)?,
            "sort" => query.sort = parse_sort(v)?,
            "page" => {
                query.page = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (0..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid("page", format!("'{v}' is not a page number from 0"))
                    })?
            }
            _ => fi = lang_of(v)?,
        }
    }
    let p = s.core.profit_customers(&caller.acting, &query).await?;
    let cur: Currency = p.currency.parse().unwrap_or(cur);
    Ok(Json(json!({
        "as_of": p.as_of,
        "currency": p.currency,
        "total": p.total,
        "page": p.page,
        "per_page": p.per_page,
        "customers": customers_json(&p.rows, fi, cur)?,
    }))
    .into_response())
}

/// `POST /api/v1/value/refresh` with an optional `{"as_of": DATE}`.
async fn refresh(
    caller: Caller,
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?
    };
    let as_of = match body.get("as_of") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(
            kanta_domain::time::parse_date(t.trim(), None)
                .map_err(|e| ApiError::invalid("as_of", e.to_string()))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "as_of",
                "a date like 2026-06-30 or 30.6.2026".to_string(),
            ));
        }
    };
    let r = s.core.run_profitability(&caller.acting, as_of).await?;
    Ok(Json(to_json("profitability run", &r)?).into_response())
}

/// The routes in the OpenAPI document.
pub(super) fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let viewer = access(None, false);
    let int = |d: &str| json!({"type": "integer", "description": d});
    let money = |d: &str| json!({"type": "integer", "description": format!("{d}, minor units of currency")});
    schemas.insert(
        "ProfitReason".into(),
        json!({"type": "object", "description": "one thing that makes a customer unprofitable",
            "properties": {
                "kind": {"type": "string", "enum": ["cases", "interactions", "compensations", "offers", "margin", "no_revenue", "expected"]},
                "what": {"type": "string", "description": "the severity (cases) or kind (interactions)"},
                "count": int("cases, interactions, claims paid or redemptions"),
                "amount_minor": money("the cost; for margin the revenue; for expected the expected margin"),
                "percent": {"type": "number", "description": "margin: the gross-margin rate in percent"}},
            "required": ["kind", "count", "amount_minor"]}),
    );
    schemas.insert(
        "ProfitCustomer".into(),
        json!({"type": "object", "description": "a customer's figures over the 12 months up to the pass's as_of",
            "properties": {
                "id": {"type": "string", "description": "the customer's id"},
                "name": {"type": ["string", "null"]},
                "revenue_minor": money("orders net of refunds + subscriptions billed"),
                "goods_cost_minor": money("goods cost (recorded, else by goods_margin)"),
                "gross_margin_minor": money("revenue - goods cost"),
                "interactions": int("interactions"),
                "cost_interactions_minor": money("their cost"),
                "cases": int("cases opened"),
                "cost_cases_minor": money("their cost"),
                "cost_compensations_minor": money("claims paid"),
                "redemptions": int("offer redemptions"),
                "cost_offers_minor": money("their cost"),
                "cost_to_serve_minor": money("interactions + cases + compensations + offers"),
                "margin_after_minor": money("gross margin - cost to serve"),
                "expected_margin_minor": {"type": ["integer", "null"], "description": "12-month CLV × margin rate - expected cost to serve; null without scores"},
                "unprofitable": {"type": "boolean"},
                "reasons": {"type": "array", "items": schema_ref("ProfitReason"), "description": "for a negative margin after cost to serve"},
                "reason_words": {"type": "array", "items": {"type": "string"}, "description": "the reasons in words (lang)"}},
            "required": ["id", "revenue_minor", "gross_margin_minor", "cost_to_serve_minor", "margin_after_minor", "expected_margin_minor", "unprofitable", "reasons", "reason_words"]}),
    );
    schemas.insert(
        "ValueSummary".into(),
        json!({"type": "object", "description": "the newest profitability pass",
            "properties": {
                "run": {"type": ["object", "null"], "description": "the pass (null before the first)",
                    "properties": {"id": {"type": "integer"}, "as_of": {"type": "string", "format": "date"},
                        "ran_at": {"type": "string", "format": "date-time"}, "millis": {"type": "integer"},
                        "customers": {"type": "integer"}, "currency": {"type": "string"}, "details": {"type": "object"}}},
                "currency": {"type": "string"},
                "totals": {"type": "object", "description": "sums over every customer (…_minor in minor units), counts of unprofitable customers, of negative margins and of customers with each component"},
                "components": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string", "enum": kanta_core::profit::COMPONENTS},
                    "cost_minor": int("cost, minor units"), "customers": int("customers with this cost"),
                    "count": int("interactions, cases or redemptions (0 for compensations)")},
                    "required": ["key", "cost_minor", "customers", "count"]}},
                "bins": {"type": "array", "description": "customers by margin after cost to serve: lo_minor <= margin < hi_minor; /api/v1/value/customers?show=bin-INDEX lists them",
                    "items": {"type": "object", "properties": {"index": {"type": "integer"},
                        "lo_minor": {"type": ["integer", "null"]}, "hi_minor": {"type": ["integer", "null"]},
                        "customers": {"type": "integer"}}, "required": ["index", "lo_minor", "hi_minor", "customers"]}},
                "unprofitable": {"type": "array", "items": schema_ref("ProfitCustomer"), "description": "the most unprofitable customers, lowest margin first"}},
            "required": ["run", "currency", "totals", "components", "bins", "unprofitable"]}),
    );
    let forbid = |mut op: Map<String, Value>| {
        if let Some(r) = op.get_mut("responses").and_then(Value::as_object_mut) {
            r.insert("403".into(), response_ref("Forbidden"));
        }
        op
    };
    let lang = json!({"name": "lang", "in": "query", "description": "the language of reason_words: fi or en (default en)",
        "schema": {"type": "string", "enum": ["fi", "en"]}});
    let mut get_summary = forbid(operation(
        "value_summary".into(),
        "value",
        "Profitability: totals, cost to serve by component, margin distribution, the unprofitable list with reasons (viewers, managers and admins; not staff)".into(),
        viewer,
        responses(&[("200", ok(schema_ref("ValueSummary"), "the newest pass")), ("422", response_ref("Invalid"))]),
    ));
    get_summary.insert("parameters".into(), json!([lang.clone()]));
    paths.insert("/api/v1/value".into(), json!({"get": get_summary}));
    let mut list = forbid(operation(
        "value_customers".into(),
        "value",
        "The customers behind a profitability figure, 50 a page (viewers, managers and admins; not staff)".into(),
        viewer,
        responses(&[
            ("200", ok(json!({"type": "object", "properties": {
                "as_of": {"type": ["string", "null"], "format": "date"}, "currency": {"type": "string"},
                "total": int("customers that match"), "page": int("from 0"), "per_page": int("rows a page"),
                "customers": {"type": "array", "items": schema_ref("ProfitCustomer")}},
                "required": ["as_of", "currency", "total", "page", "per_page", "customers"]}), "a page")),
            ("422", response_ref("Invalid")),
        ]),
    ));
    list.insert(
        "parameters".into(),
        json!([
            {"name": "show", "in": "query", "description": "all, unprofitable, negative, interactions, cases, compensations, offers, goods, or bin-K (a margin bin)", "schema": {"type": "string", "default": "all"}},
            {"name": "sort", "in": "query", "description": "margin (lowest first), cost (cost to serve, highest first) or revenue", "schema": {"type": "string", "enum": ["margin", "cost", "revenue"], "default": "margin"}},
            {"name": "page", "in": "query", "description": "the page, from 0", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            lang
        ]),
    );
    paths.insert("/api/v1/value/customers".into(), json!({"get": list}));
    let mut run = operation(
        "value_refresh".into(),
        "value",
        "Runs the profitability pass (as of yesterday in the store's zone, or as_of)".into(),
        Role::Manager,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "properties": {
                "run_id": int("the pass"), "as_of": {"type": "string", "format": "date"},
                "customers": int("customers computed"), "unprofitable": int("of them unprofitable"),
                "millis": int("milliseconds taken"), "currency": {"type": "string"}},
                "required": ["run_id", "as_of", "customers", "unprofitable", "millis", "currency"]}),
                    "the pass",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    let mut b = body(
        json!({"type": "object", "properties": {"as_of": {"type": "string", "description": "the last day of the 12 months (2026-06-30 or 30.6.2026; default yesterday)"}}}),
    );
    if let Some(o) = b.as_object_mut() {
        o.insert("required".into(), json!(false));
    }
    run.insert("requestBody".into(), b);
    paths.insert("/api/v1/value/refresh".into(), json!({"post": run}));
}
