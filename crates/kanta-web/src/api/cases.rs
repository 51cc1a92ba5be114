//! Cases, claims and the trust ledger through the core's use cases
//! (`kanta_core::cases`, `claims`, `trust`):
//!
//! - `GET /api/v1/cases`: the cases list with each case's SLA state (`sla_due_at`,
//!   `breached`) and the filters `status` (`open` = not resolved or closed, the
//!   default; `all`; or one status), `sla` (`breaching`, `due_soon`), `mine`,
//!   `owner`, `customer`, `category`, `severity`, `escalations`; a list asked with
//!   the generic record parameters (`sort`, `since`, `until`, a field's filter) is
//!   the generic record list.
//! - `GET /api/v1/cases/{id}`: one case with its `events`, `claims` and `timers`.
//! - `POST /api/v1/cases/{id}/transition` `{to, note}`, `/resolve`, `/claims`;
//!   `POST /api/v1/claims/{id}/decision` `{approve, reason}` (managers),
//!   `/api/v1/claims/{id}/pay`; `GET /api/v1/claims?status=pending` (the approval
//!   queue; other parameters give the generic record list), `GET
//!   /api/v1/claims/repeat` (managers).
//! - `GET /api/v1/customers/{id}/trust` (balance, entries, the balance's history),
//!   `POST` the same `{delta, reason}` (managers).
//!
//! Creating and patching cases and claims stay the generic record routes: they go
//! through the core's one write path too, whose hooks keep the SLA and trust rules.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use kanta_core::cases::{CaseDetail, CaseFilter, CaseRow, Resolution, SlaFilter};
use kanta_core::claims::{Claim, NewClaim};
use kanta_core::trust::{TrustEntry, TrustHistory};
use kanta_domain::schema::{CASES, CLAIMS, TRUST_LEDGER};
use kanta_store::accounts::Role;
use serde_json::{Map, Value, json};

use super::body::body_of;
use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

/// Cases or claims per page: default and most.
const PAGE: u32 = 100;
const PAGE_MAX: u32 = 1000;

/// The cases list's own parameters.
pub(crate) const CASE_PARAMS: &[&str] = &[
    "status",
    "sla",
    "mine",
    "owner",
    "customer",
    "category",
    "severity",
    "escalations",
    "cursor",
    "limit",
];

/// Whether the generic record routes serve `GET` of the entity's list and of one
/// record: the cases' two and the claims' list are served here.
pub(crate) fn generic_get(e: &kanta_domain::Entity) -> (bool, bool) {
    if std::ptr::eq(e, &CASES) {
        (false, false)
    } else if std::ptr::eq(e, &CLAIMS) {
        (false, true)
    } else {
        (true, true)
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list_cases))
        .route("/api/v1/cases/{id}", get(one_case))
        .route("/api/v1/cases/{id}/transition", post(transition))
        .route("/api/v1/cases/{id}/resolve", post(resolve))
        .route("/api/v1/cases/{id}/claims", post(add_claim))
        .route("/api/v1/claims", get(list_claims))
        .route("/api/v1/claims/repeat", get(repeat))
        .route("/api/v1/claims/{id}/decision", post(decision))
        .route("/api/v1/claims/{id}/pay", post(pay))
        .route(
            "/api/v1/customers/{id}/trust",
            get(trust_history).post(add_trust),
        )
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// A case as the API shows it: the record's fields, who and what they name, and its
/// SLA state.
pub(crate) fn case_json(c: &CaseRow) -> Value {
    json!({
        "id": c.id,
        "customer_id": c.customer_id,
        "customer_name": c.customer_name,
        "opened_at": time(Some(c.opened_at)),
        "category": c.category,
        "severity": c.severity,
        "status": c.status,
        "channel": c.channel,
        "our_fault": c.our_fault,
        "summary": c.summary,
        "staff_id": c.owner_id,
        "owner_name": c.owner_name,
        "first_response_at": time(c.first_response_at),
        "first_response_due_at": time(c.first_response_due_at),
        "resolved_at": time(c.resolved_at),
        "resolution_due_at": time(c.resolution_due_at),
        "closed_at": time(c.closed_at),
        "sla_due_at": time(c.sla_due_at),
        "breached": c.breached,
        "escalation_of": c.escalation_of,
    })
}

pub(crate) fn claim_json(c: &Claim) -> Value {
    json!({
        "id": c.id,
        "case_id": c.case_id,
        "customer_id": c.customer_id,
        "customer_name": c.customer_name,
        "claimed_at": time(Some(c.claimed_at)),
        "amount": c.amount_minor,
        "currency": c.currency,
        "kind": c.kind,
        "status": c.status,
        "auto_approved": c.auto_approved,
        "claimed_by": c.claimed_by,
        "decided_at": time(c.decided_at),
        "decided_by": c.decided_by,
        "decision_reason": c.decision_reason,
        "paid_at": time(c.paid_at),
        "paid_by": c.paid_by,
    })
}

fn detail_json(d: &CaseDetail) -> Value {
    let mut v = case_json(&d.case);
    v["resolution"] = json!(d.resolution);
    v["apology"] = json!(d.apology);
    v["fixed_in_presence"] = json!(d.fixed_in_presence);
    v["events"] = d
        .events
        .iter()
        .map(|e| {
            json!({"at": time(Some(e.at)), "kind": e.kind, "from": e.from, "to": e.to,
                   "note": e.note, "actor": e.actor})
        })
        .collect();
    v["claims"] = d.claims.iter().map(claim_json).collect();
    v["timers"] = d
        .timers
        .iter()
        .map(|t| {
            json!({"step": t.step, "due_at": time(Some(t.due_at)), "met_at": time(t.met_at),
                   "seconds_left": t.seconds_left, "breached": t.breached})
        })
        .collect();
    v
}

fn entry_json(e: &TrustEntry) -> Value {
    json!({"id": e.id, "at": time(Some(e.at)), "delta": e.delta, "reason": e.reason,
           "source": e.source, "source_id": e.source_id, "balance_after": e.balance_after,
           "kind": e.kind, "rule": e.rule})
}

fn history_json(customer: &str, h: &TrustHistory) -> Value {
    json!({
        "customer_id": customer,
        "balance": h.balance,
        "in_deficit": h.in_deficit,
        "entries": h.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "points": h.points.iter().map(|(t, b)| json!({"at": time(Some(*t)), "balance": b})).collect::<Vec<_>>(),
    })
}

fn yes_no(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(ApiError::invalid(
            name,
            format!("{name}: '{v}' is not one of true, false"),
        )),
    }
}

fn limit_of(v: &str) -> Result<u32, ApiError> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=PAGE_MAX).contains(n))
        .ok_or_else(|| ApiError::invalid("limit", format!("'{v}' is not within 1..{PAGE_MAX}")))
}

async fn list_cases(
    caller: Caller,
    state: State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CASES), false))?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    if pairs
        .iter()
        .any(|(k, _)| !CASE_PARAMS.contains(&k.as_str()))
    {
        return super::entities::list(&CASES, caller, state, Ok(Query(pairs))).await;
    }
    let State(s) = state;
    let mut f = CaseFilter {
        status: None,
        sla: None,
        mine: false,
        owner: None,
        customer: None,
        category: None,
        severity: None,
        escalations: false,
        after: None,
        limit: PAGE,
    };
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in &pairs {
        if seen.contains(&k.as_str()) {
            return Err(ApiError::bad_field(k, format!("'{k}' is given twice")));
        }
        seen.push(k);
        let text = || Some(v.trim().to_string()).filter(|t| !t.is_empty());
        match k.as_str() {
            "status" => {
                let t = v.trim();
                let ok =
                    t == "open" || t == "all" || kanta_domain::schema::CASE_STATUSES.contains(&t);
                if !ok {
                    return Err(ApiError::invalid(
                        "status",
                        format!(
                            "status: '{t}' is not one of open (not resolved or closed), all, {}",
                            kanta_domain::schema::CASE_STATUSES.join(", ")
                        ),
                    ));
                }
                f.status = text();
            }
            "sla" => {
                f.sla = match v.trim() {
                    "breaching" => Some(SlaFilter::Breaching),
                    "due_soon" => Some(SlaFilter::DueSoon),
                    other => {
                        return Err(ApiError::invalid(
                            "sla",
                            format!("sla: '{other}' is not one of breaching, due_soon"),
                        ));
                    }
                }
            }
            "mine" => f.mine = yes_no("mine", v)?,
            "escalations" => f.escalations = yes_no("escalations", v)?,
            "owner" => f.owner = text(),
            "customer" => f.customer = text(),
            "category" => f.category = text(),
            "severity" => {
                let t = v.trim();
                if !kanta_domain::schema::SEVERITIES.contains(&t) {
                    return Err(ApiError::invalid(
                        "severity",
                        format!(
                            "severity: '{t}' is not one of {}",
                            kanta_domain::schema::SEVERITIES.join(", ")
                        ),
                    ));
                }
                f.severity = text();
            }
            "cursor" => f.after = text(),
            _ => f.limit = limit_of(v)?,
        }
    }
    let page = s.core.cases_page(&caller.acting, &f).await?;
    Ok(Json(json!({
        "items": page.rows.iter().map(case_json).collect::<Vec<_>>(),
        "next_cursor": page.next,
    }))
    .into_response())
}

async fn one_case(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CASES), false))?;
    let d = s.core.case_detail(&caller.acting, &id).await?;
    Ok(Json(detail_json(&d)).into_response())
}

fn text_member(
    obj: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) if required => {
            Err(ApiError::invalid(name, format!("{name}: is required")))
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            Err(ApiError::invalid(name, format!("{name}: is required")))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(other) => Err(ApiError::invalid(
            name,
            format!("{name}: must be a text, not {other}"),
        )),
    }
}

fn bool_member(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "yes" | "true" => Ok(Some(true)),
            "no" | "false" => Ok(Some(false)),
            "unknown" | "" => Ok(None),
            _ => Err(ApiError::invalid(
                name,
                format!("{name}: '{s}' is not one of true, false"),
            )),
        },
        Some(other) => Err(ApiError::invalid(
            name,
            format!("{name}: must be true or false, not {other}"),
        )),
    }
}

async fn transition(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CASES), true))?;
    let obj = body_of(body, &["to", "note"])?;
    let to = text_member(&obj, "to", true)?.unwrap_or_default();
    let note = text_member(&obj, "note", false)?;
    s.core
        .case_transition(&caller.acting, &id, &to, note)
        .await?;
    let d = s.core.case_detail(&caller.acting, &id).await?;
    Ok(Json(detail_json(&d)).into_response())
}

async fn resolve(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CASES), true))?;
    let obj = body_of(
        body,
        &[
            "resolution",
            "apology",
            "fixed_in_presence",
            "our_fault",
            "note",
        ],
    )?;
    let r = Resolution {
        resolution: text_member(&obj, "resolution", true)?.unwrap_or_default(),
        apology: bool_member(&obj, "apology")?.unwrap_or(false),
        fixed_in_presence: bool_member(&obj, "fixed_in_presence")?.unwrap_or(false),
        our_fault: bool_member(&obj, "our_fault")?,
        note: text_member(&obj, "note", false)?,
    };
    s.core.resolve_case(&caller.acting, &id, r).await?;
    let d = s.core.case_detail(&caller.acting, &id).await?;
    Ok(Json(detail_json(&d)).into_response())
}

async fn add_claim(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CLAIMS), true))?;
    let obj = body_of(body, &["amount", "currency", "kind"])?;
    let store = s.core.currency().await?;
    let currency = match text_member(&obj, "currency", false)? {
        Some(c) => c.parse().map_err(|_| {
            ApiError::invalid(
                "currency",
                format!("currency: '{c}' is not a currency code"),
            )
        })?,
        None => store,
    };
    // As the record API: a number is minor units, a text major units (`"12,50"`).
    let amount_minor = match obj.get("amount") {
        Some(Value::Number(n)) => {
            let m = n.as_i64().filter(|m| *m > 0).ok_or_else(|| {
                ApiError::invalid(
                    "amount",
                    format!("amount: {n} is not a whole number of minor units above 0"),
                )
            })?;
            kanta_domain::money::Money::bounded(m, currency)
                .map_err(|e| ApiError::invalid("amount", format!("amount: {e}")))?
        }
        // Typed as a person types it: at most the currency's decimals, no exponent,
        // within the bounds; the error says which.
        Some(Value::String(t)) => {
            let m = kanta_domain::money::Money::parse_strict(t, currency)
                .map_err(|e| ApiError::invalid("amount", format!("amount: {e}")))?;
            if m.minor <= 0 {
                return Err(ApiError::invalid(
                    "amount",
                    format!("amount: '{}' is not above 0", t.trim()),
                ));
            }
            m.minor
        }
        _ => {
            return Err(ApiError::invalid(
                "amount",
                "amount: is required (minor units as a number, or \"12,50\")".into(),
            ));
        }
    };
    let kind = text_member(&obj, "kind", false)?.unwrap_or_else(|| "refund".into());
    let c = s
        .core
        .add_claim(
            &caller.acting,
            &id,
            NewClaim {
                amount_minor,
                currency,
                kind,
            },
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/claims/{}", crate::render::urlencode(&c.id)),
        )],
        Json(claim_json(&c)),
    )
        .into_response())
}

async fn list_claims(
    caller: Caller,
    state: State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CLAIMS), false))?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let pending = pairs
        .iter()
        .any(|(k, v)| k == "status" && v.trim() == "pending")
        && pairs
            .iter()
            .all(|(k, _)| ["status", "cursor", "limit"].contains(&k.as_str()));
    if !pending {
        return super::entities::list(&CLAIMS, caller, state, Ok(Query(pairs))).await;
    }
    let State(s) = state;
    let mut after = None;
    let mut limit = PAGE;
    for (k, v) in &pairs {
        match k.as_str() {
            "cursor" => after = Some(v.clone()).filter(|v| !v.is_empty()),
            "limit" => limit = limit_of(v)?,
            _ => {}
        }
    }
    let page = s.core.pending_claims(&caller.acting, after, limit).await?;
    Ok(Json(json!({
        "items": page.rows.iter().map(claim_json).collect::<Vec<_>>(),
        "next_cursor": page.next,
    }))
    .into_response())
}

async fn repeat(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    // Every role reads it (the core checks); it changes nothing.
    let r = s.core.repeat_claimants(&caller.acting, Utc::now()).await?;
    Ok(Json(json!({
        "flag_at": r.flag_at,
        "total_claims": r.total_claims,
        "total": r.total_minor,
        "total_approved": r.total_approved_minor,
        "currency": r.currency,
        "items": r.rows.iter().map(|x| json!({
            "customer_id": x.customer_id, "name": x.name, "claims": x.claims,
            "sum": x.sum_minor, "approved": x.approved_minor, "share_of_claims": x.share_of_claims,
            "share_of_sum": x.share_of_sum, "revenue": x.revenue_minor, "flagged": x.flagged,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn decision(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let obj = body_of(body, &["approve", "reason"])?;
    let approve = bool_member(&obj, "approve")?.ok_or_else(|| {
        ApiError::invalid("approve", "approve: is required: true or false".into())
    })?;
    let reason = text_member(&obj, "reason", true)?.unwrap_or_default();
    let c = s
        .core
        .decide_claim(&caller.acting, &id, approve, reason)
        .await?;
    Ok(Json(claim_json(&c)).into_response())
}

async fn pay(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&CLAIMS), true))?;
    // An empty body or `{}`.
    let empty = matches!(&body, Ok(b) if b.iter().all(u8::is_ascii_whitespace));
    if !empty {
        body_of(body, &[])?;
    }
    let c = s.core.pay_claim(&caller.acting, &id).await?;
    Ok(Json(claim_json(&c)).into_response())
}

async fn trust_history(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&TRUST_LEDGER), false))?;
    let h = s.core.trust_history(&caller.acting, &id).await?;
    Ok(Json(history_json(&id, &h)).into_response())
}

async fn add_trust(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(&TRUST_LEDGER), true))?;
    let obj = body_of(body, &["delta", "reason"])?;
    let delta = match obj.get("delta") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(t)) => t
            .trim()
            .replace('\u{2212}', "-")
            .trim_start_matches('+')
            .parse()
            .ok(),
        _ => None,
    }
    .filter(|d| *d != 0)
    .ok_or_else(|| {
        ApiError::invalid(
            "delta",
            "delta: is required: a whole number other than 0 (-10, 3)".into(),
        )
    })?;
    let reason = text_member(&obj, "reason", true)?.unwrap_or_default();
    let e = s
        .core
        .add_trust_entry(&caller.acting, &id, delta, reason)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(entry_json(&e))).into_response())
}

/// The OpenAPI entries of these routes (called by `openapi::document`): the cases'
/// list and one case replace the generic ones.
pub(super) fn openapi(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use super::openapi::{body, ok, operation, response_ref, responses, schema_ref};
    let viewer = access(Some(&CASES), false);
    let staff = access(Some(&CASES), true);
    let claim_write = access(Some(&CLAIMS), true);
    let trust_write = access(Some(&TRUST_LEDGER), true);
    let t = |d: &str| json!({"type": ["string", "null"], "description": d});
    let tm = |d: &str| json!({"type": ["string", "null"], "format": "date-time", "description": d});
    schemas.insert(
        "CaseItem".into(),
        json!({"type": "object", "description": "a case with its SLA state",
            "properties": {
                "id": {"type": "string"}, "customer_id": {"type": "string"},
                "customer_name": t("the customer's name"),
                "opened_at": {"type": "string", "format": "date-time"},
                "category": {"type": "string"}, "severity": {"type": "string"},
                "status": {"type": "string", "enum": kanta_domain::schema::CASE_STATUSES},
                "channel": t("how it reached us"), "our_fault": {"type": ["boolean", "null"]},
                "summary": t("what happened"), "staff_id": t("the owner (a staff member's id)"),
                "owner_name": t("the owner's name"),
                "first_response_at": tm("first answered"), "first_response_due_at": tm("first answer due (SLA)"),
                "resolved_at": tm("resolved"), "resolution_due_at": tm("resolution due (SLA)"),
                "closed_at": tm("closed"),
                "sla_due_at": tm("the next SLA target not yet met; null once resolved"),
                "breached": {"type": "boolean", "description": "an SLA target was missed (met late, or passed and not met)"},
                "escalation_of": {"type": ["integer", "null"], "description": "the trust entry whose mistake opened this escalation"},
            },
            "required": ["id", "customer_id", "opened_at", "category", "severity", "status", "sla_due_at", "breached"]}),
    );
    schemas.insert(
        "CaseDetail".into(),
        json!({"allOf": [schema_ref("CaseItem"), {"type": "object", "properties": {
            "resolution": t("what was fixed"), "apology": {"type": ["boolean", "null"]},
            "fixed_in_presence": {"type": ["boolean", "null"]},
            "events": {"type": "array", "description": "the case's own timeline, oldest first", "items": {"type": "object", "properties": {
                "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
                "from": t("before"), "to": t("after"), "note": t("a note"), "actor": {"type": "string"}}}},
            "claims": {"type": "array", "items": schema_ref("ClaimItem")},
            "timers": {"type": "array", "items": {"type": "object", "properties": {
                "step": {"type": "string", "enum": ["first_response", "resolution"]},
                "due_at": {"type": "string", "format": "date-time"}, "met_at": tm("met"),
                "seconds_left": {"type": "integer", "description": "negative: overdue"},
                "breached": {"type": "boolean"}}}},
        }}]}),
    );
    schemas.insert(
        "ClaimItem".into(),
        json!({"type": "object", "description": "a compensation claim",
            "properties": {
                "id": {"type": "string"}, "case_id": {"type": "string"},
                "customer_id": t("the case's customer"), "customer_name": t("their name"),
                "claimed_at": {"type": "string", "format": "date-time"},
                "amount": {"type": "integer", "description": "minor units"},
                "currency": {"type": "string"}, "kind": {"type": "string", "enum": kanta_domain::schema::CLAIM_KINDS},
                "status": {"type": "string", "enum": kanta_domain::schema::CLAIM_STATUSES},
                "auto_approved": {"type": "boolean", "description": "approved at once by the small-claim rule"},
                "claimed_by": t("who recorded it"), "decided_at": tm("approved or refused"),
                "decided_by": t("who decided"), "decision_reason": t("why"),
                "paid_at": tm("paid"), "paid_by": t("who recorded the payment"),
            },
            "required": ["id", "case_id", "claimed_at", "amount", "currency", "kind", "status", "auto_approved"]}),
    );
    schemas.insert(
        "TrustHistory".into(),
        json!({"type": "object", "properties": {
            "customer_id": {"type": "string"}, "balance": {"type": "integer"},
            "in_deficit": {"type": "boolean", "description": "balance at or below 0"},
            "entries": {"type": "array", "description": "newest first", "items": schema_ref("TrustEntryItem")},
            "points": {"type": "array", "description": "the balance after each entry, oldest first",
                "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "balance": {"type": "integer"}}}}},
            "required": ["customer_id", "balance", "in_deficit", "entries", "points"]}),
    );
    schemas.insert(
        "TrustEntryItem".into(),
        json!({"type": "object", "properties": {
            "id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "delta": {"type": "integer"}, "reason": {"type": "string"},
            "source": {"type": "string", "description": "case, interaction, feedback or manual"},
            "source_id": t("the record it came from (a case's id, ...)"),
            "balance_after": {"type": "integer"},
            "kind": {"type": "string", "description": "good_job, mistake, correction, manual or imported"},
            "rule": t("the automatic rule that wrote it: our_fault, within_sla, breach_first_response, breach_resolution, positive, detractor, promoter")}}),
    );
    let page_of = |item: &str| {
        json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": schema_ref(item)},
            "next_cursor": {"type": ["string", "null"]}}})
    };
    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let id_param = |what: &str| json!([{"name": "id", "in": "path", "required": true, "description": format!("the {what}'s id"), "schema": {"type": "string"}}]);

    // The cases' list and one case: the generic entries with these answers.
    let mut list = operation(
        "list_cases".into(),
        "cases",
        "List cases with their SLA state (filters, cursor paging)".into(),
        viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"anyOf": [page_of("CaseItem"), schema_ref("CasePage")]}),
                    "a page of cases, the most urgent first, with their SLA state; with a general list parameter (sort, a field's filter), the cases' plain records",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    let mut ps = vec![
        q(
            "status",
            "open (not resolved or closed; the default), all, or one status",
        ),
        q(
            "sla",
            "breaching (a target missed) or due_soon (a target within the warning hours)",
        ),
        q(
            "mine",
            "true: the caller's cases (the staff member with the caller's email)",
        ),
        q("owner", "the owner's staff id"),
        q("customer", "the customer's id"),
        q("category", "the category"),
        q("severity", "low, normal, high or critical"),
        q("escalations", "true: escalation cases only"),
        q("cursor", "next_cursor of the page before"),
        json!({"name": "limit", "in": "query", "description": "cases per page", "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": PAGE}}),
    ];
    if let Some(generic) = paths
        .get("/api/v1/cases")
        .and_then(|p| p.pointer("/get/parameters"))
        .and_then(Value::as_array)
    {
        // sort, since, until and the fields' filters give the generic record list.
        for p in generic {
            let name = p["name"].as_str().unwrap_or("");
            if !CASE_PARAMS.contains(&name) {
                let mut p = p.clone();
                p["description"] = json!(format!(
                    "{} (with it the answer is the generic record list)",
                    p["description"].as_str().unwrap_or("")
                ));
                ps.push(p);
            }
        }
    }
    list.insert("parameters".into(), json!(ps));
    if let Some(Value::Object(item)) = paths.get_mut("/api/v1/cases") {
        item.insert("get".into(), Value::Object(list));
    }
    let one = operation(
        "get_cases".into(),
        "cases",
        "One case with its timeline (events), claims and SLA timers".into(),
        viewer,
        responses(&[
            ("200", ok(schema_ref("CaseDetail"), "the case")),
            ("404", response_ref("NotFound")),
        ]),
    );
    if let Some(Value::Object(item)) = paths.get_mut("/api/v1/cases/{id}") {
        item.insert("get".into(), Value::Object(one));
    }
    let mut claims_list = operation(
        "list_claims".into(),
        "claims",
        "List claims; status=pending is the managers' approval queue, oldest first".into(),
        access(Some(&CLAIMS), false),
        responses(&[
            (
                "200",
                ok(
                    json!({"anyOf": [page_of("ClaimItem"), schema_ref("ClaimPage")]}),
                    "a page of claims: pending ones (status=pending, with cursor and limit only) as claims with their customer; with any other parameter, the claims' plain records",
                ),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    let mut cps = vec![q(
        "status",
        "pending: the claims waiting on a manager (with cursor and limit only); other values filter the records",
    )];
    if let Some(generic) = paths
        .get("/api/v1/claims")
        .and_then(|p| p.pointer("/get/parameters"))
        .and_then(Value::as_array)
    {
        cps.extend(generic.iter().filter(|p| p["name"] != "status").cloned());
    }
    claims_list.insert("parameters".into(), json!(cps));
    if let Some(Value::Object(item)) = paths.get_mut("/api/v1/claims") {
        item.insert("get".into(), Value::Object(claims_list));
    }

    let write_op = |id: &str,
                    tag: &str,
                    summary: &str,
                    role: Role,
                    answer: &str,
                    body_schema: Value,
                    desc: &str| {
        let mut op = operation(
            id.into(),
            tag,
            summary.into(),
            role,
            responses(&[
                ("200", ok(schema_ref(answer), desc)),
                ("404", response_ref("NotFound")),
                ("409", response_ref("Conflict")),
                ("422", response_ref("Invalid")),
            ]),
        );
        op.insert("requestBody".into(), body(body_schema));
        Value::Object(op)
    };
    paths.insert(
        "/api/v1/cases/{id}/transition".into(),
        json!({"parameters": id_param("case"), "post": write_op("transition_case", "cases",
            "Move a case: to in_progress, waiting, closed, or open (reopen); the first move off open records the first response",
            staff, "CaseDetail",
            json!({"type": "object", "required": ["to"], "properties": {"to": {"type": "string", "enum": ["in_progress", "waiting", "closed", "open"]}, "note": {"type": "string"}}}),
            "the case as moved")}),
    );
    paths.insert(
        "/api/v1/cases/{id}/resolve".into(),
        json!({"parameters": id_param("case"), "post": write_op("resolve_case", "cases",
            "Resolve a case: what was fixed, an apology, fixed while the customer was present, our fault",
            staff, "CaseDetail",
            json!({"type": "object", "required": ["resolution"], "properties": {
                "resolution": {"type": "string"}, "apology": {"type": "boolean"},
                "fixed_in_presence": {"type": "boolean"}, "our_fault": {"type": ["boolean", "null"]},
                "note": {"type": "string"}}}),
            "the case as resolved")}),
    );
    let mut add = operation(
        "add_case_claim".into(),
        "claims",
        "Add a compensation claim to a case: up to the small-claim limit it is approved at once"
            .into(),
        claim_write,
        responses(&[
            ("201", ok(schema_ref("ClaimItem"), "the claim")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    add.insert(
        "requestBody".into(),
        body(json!({"type": "object", "required": ["amount"], "properties": {
            "amount": {"type": ["integer", "string"], "description": "minor units as a number, or major units as a text (\"12,50\")"},
            "currency": {"type": "string", "description": "default the store's"},
            "kind": {"type": "string", "enum": kanta_domain::schema::CLAIM_KINDS}}})),
    );
    paths.insert(
        "/api/v1/cases/{id}/claims".into(),
        json!({"parameters": id_param("case"), "post": add}),
    );
    paths.insert(
        "/api/v1/claims/{id}/decision".into(),
        json!({"parameters": id_param("claim"), "post": write_op("decide_claim", "claims",
            "Approve or refuse a pending claim, with a reason (managers)",
            Role::Manager, "ClaimItem",
            json!({"type": "object", "required": ["approve", "reason"], "properties": {"approve": {"type": "boolean"}, "reason": {"type": "string"}}}),
            "the claim as decided")}),
    );
    paths.insert(
        "/api/v1/claims/{id}/pay".into(),
        json!({"parameters": id_param("claim"), "post": write_op("pay_claim", "claims",
            "Record an approved claim as paid",
            claim_write, "ClaimItem",
            json!({"type": "object", "properties": {}}),
            "the claim as paid")}),
    );
    paths.insert(
        "/api/v1/claims/repeat".into(),
        json!({"get": operation("repeat_claimants".into(), "claims",
            "Customers by their claims in the last 12 months, flagged above the repeat-claims setting; every role reads it; informs, never blocks".into(),
            Role::Viewer,
            responses(&[("200", ok(json!({"type": "object", "properties": {
                "flag_at": {"type": "integer"}, "total_claims": {"type": "integer"},
                "total": {"type": "integer", "description": "minor units"},
                "total_approved": {"type": "integer", "description": "approved claims' sum, minor units"},
                "currency": {"type": "string"},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "customer_id": {"type": "string"}, "name": {"type": ["string", "null"]},
                    "claims": {"type": "integer"}, "sum": {"type": "integer"},
                    "approved": {"type": "integer", "description": "approved claims' sum, minor units"},
                    "share_of_claims": {"type": "number"}, "share_of_sum": {"type": "number"},
                    "revenue": {"type": "integer"}, "flagged": {"type": "boolean"}}}}}}), "the repeat claimants"))]))}),
    );
    let mut add_entry = operation(
        "add_trust_entry".into(),
        "trust",
        "Add a manual trust entry with a reason (managers)".into(),
        trust_write,
        responses(&[
            ("201", ok(schema_ref("TrustEntryItem"), "the entry")),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    add_entry.insert(
        "requestBody".into(),
        body(
            json!({"type": "object", "required": ["delta", "reason"], "properties": {
            "delta": {"type": "integer"}, "reason": {"type": "string"}}}),
        ),
    );
    paths.insert(
        "/api/v1/customers/{id}/trust".into(),
        json!({"parameters": id_param("customer"),
            "get": operation("customer_trust".into(), "trust",
                "A customer's trust balance, its entries (newest first) and its history".into(),
                access(Some(&TRUST_LEDGER), false),
                responses(&[("200", ok(schema_ref("TrustHistory"), "the balance and its entries")), ("404", response_ref("NotFound"))])),
            "post": add_entry}),
    );
}
