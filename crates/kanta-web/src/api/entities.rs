//! `/api/v1/{entity}` and `/api/v1/{entity}/{id}` for every entity of the schema:
//! list, get, create and patch, routed from the schema description.
//!
//! A record's JSON is its external id as `id`, its fields by name (money in integer
//! minor units beside the row's `currency`, times in RFC 3339 UTC) and the server's
//! `created_at`/`updated_at`. Bodies take the same shape; values are parsed like the
//! importer parses a file's texts (`kanta_domain::value::parse_field`: Finnish dates,
//! decimal commas, `kyllä`/`ei`), and money given as text is in major units
//! (`"12,50"`), given as a number in minor units (`1250`); money and its currency
//! default to the store's currency (the `currency` setting).
//!
//! Writes go through the core's one write path (`Core::create_record`,
//! `Core::update_record`): the reference policy, the write turn and the audit entry
//! with each changed field before and after live there.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use kanta_core::figures::CustomerFigures;
use kanta_domain::ids::{content_digest, id_from_digest};
use kanta_domain::schema::{CUSTOMERS, Entity, Field, Kind, TRANSACTIONS};
use kanta_domain::time::Tz;
use kanta_domain::value::{ParseContext, parse_field};
use kanta_domain::{Currency, Value};
use kanta_store::keyset::{self, Cursor, RecordQuery, Sort};
use kanta_store::{Record, Store};
use serde_json::{Map, Value as Json_};

use super::{ApiError, Problem, access};
use crate::AppState;
use crate::auth::Caller;

pub(crate) use kanta_core::write::noun;

/// The longest external id the API takes, in characters.
pub(crate) const MAX_ID: usize = 200;

/// Fields the server sets; a body that sets them is refused.
pub(crate) const READ_ONLY: &[&str] = &["created_at", "updated_at"];

/// The routes of one entity.
pub(super) fn routes(e: &'static Entity) -> Router<AppState> {
    // The cases' GETs and the claims' list are `api::cases`'s (with SLA state and
    // the approval queue); their writes stay here.
    let (list_get, item_get) = super::cases::generic_get(e);
    let mut collection =
        axum::routing::post(move |c: Caller, s: State<AppState>, b| create(e, c, s, b));
    if list_get {
        collection = collection.get(move |c: Caller, s: State<AppState>, q| list(e, c, s, q));
    }
    let mut item = axum::routing::MethodRouter::new();
    if item_get {
        item = item.get(move |c: Caller, s: State<AppState>, p| get_one(e, c, s, p));
    }
    if !e.append_only {
        item = item.patch(move |c: Caller, s: State<AppState>, p, b| patch(e, c, s, p, b));
    }
    Router::new()
        .route(&format!("/api/v1/{}", e.name), collection)
        .route(&format!("/api/v1/{}/{{id}}", e.name), item)
}

// ---------------------------------------------------------------- list

pub(super) async fn list(
    e: &'static Entity,
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(e), false))?;
    let Query(pairs) = q.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let store_currency = s.core.currency().await?;
    let q = record_query(e, &pairs, store_currency, s.core.time_zone().await?)?;
    if std::ptr::eq(e, &CUSTOMERS) {
        // Customers come with their figures, as one customer does, read by the page's
        // own statement.
        let (page, totals) = s.store.list_with_totals(&q).await?;
        let figures: Vec<CustomerFigures> = page
            .items
            .iter()
            .zip(&totals)
            .map(|(r, summary)| {
                let currency = r.text("currency").unwrap_or(store_currency.code());
                let mut f = CustomerFigures::of_summary(summary, currency);
                f.trust_balance = Some(summary.trust_balance);
                f
            })
            .collect();
        let items: Vec<WithFigures<'_>> = page
            .items
            .iter()
            .zip(&figures)
            .map(|(record, figures)| WithFigures { record, figures })
            .collect();
        return Ok(Json(super::Page {
            items: &items,
            next_cursor: &page.next_cursor,
        })
        .into_response());
    }
    let page = s.store.list(&q).await?;
    Ok(Json(super::Page {
        items: &page.items,
        next_cursor: &page.next_cursor,
    })
    .into_response())
}

/// The customers list's filters on derived values: the parameter names.
pub(crate) const CUSTOMER_DERIVED_PARAMS: &[&str] = &[
    "trust",
    "open_cases",
    "clv_min",
    "p_alive_below",
    "renewal_below",
];

/// One of [`CUSTOMER_DERIVED_PARAMS`] read; the error names the parameter and what it
/// takes.
fn customer_derived(
    name: &str,
    v: &str,
    currency: Currency,
) -> Result<keyset::DerivedFilter, ApiError> {
    use keyset::DerivedFilter as D;
    let bad = |takes: &str| {
        ApiError::invalid(
            name,
            format!(
                "{name}: '{}' is not one of the values it takes: {takes}",
                v.chars().take(60).collect::<String>()
            ),
        )
    };
    let prob = || {
        crate::pages::customers::probability(v)
            .ok_or_else(|| bad("a probability 0..1 (0.5) or 0..100% (50%)"))
    };
    Ok(match name {
        "trust" => match v.trim() {
            "deficit" => D::TrustDeficit,
            "credit" => D::TrustCredit,
            _ => return Err(bad("deficit, credit")),
        },
        "open_cases" => match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => D::OpenCases(true),
            "false" | "no" | "0" => D::OpenCases(false),
            _ => return Err(bad("true, false")),
        },
        "clv_min" => D::ClvMin(
            kanta_domain::Decimal::parse(v)
                .ok()
                .and_then(|d| d.to_minor(currency).ok())
                .ok_or_else(|| bad("an amount in major units (1000, 1 000,50)"))?,
        ),
        "p_alive_below" => D::PAliveBelow(prob()?),
        _ => D::RenewalBelow(prob()?),
    })
}

/// Reads a list's query parameters; unknown or repeated ones are refused by name.
/// Money filters are read in `currency` (the store's), times without an offset in
/// `zone` (the store's).
fn record_query(
    e: &'static Entity,
    pairs: &[(String, String)],
    currency: Currency,
    zone: Tz,
) -> Result<RecordQuery, ApiError> {
    let mut q = RecordQuery::new(e);
    let mut seen: Vec<&str> = Vec::new();
    let cx = ParseContext {
        currency,
        date_format: None,
        zone,
    };
    // The sort first: the cursor is read against it.
    let sort_text = pairs.iter().find(|(k, _)| k == "sort").map(|(_, v)| v);
    if let Some(t) = sort_text {
        q.sort = Sort::parse(e, t).map_err(|reason| ApiError::invalid("sort", reason))?;
    }
    let time_field = e.time_field.and_then(|n| e.field(n));
    for (k, v) in pairs {
        if seen.contains(&k.as_str()) {
            return Err(ApiError::bad_field(k, format!("'{k}' is given twice")));
        }
        seen.push(k);
        match k.as_str() {
            "sort" => {}
            "limit" => {
                let n: i64 = v.trim().parse().map_err(|_| {
                    ApiError::invalid("limit", format!("'{v}' is not a whole number"))
                })?;
                if !(1..=i64::from(keyset::MAX_LIMIT)).contains(&n) {
                    return Err(ApiError::invalid(
                        "limit",
                        format!("{n} is not within 1..{}", keyset::MAX_LIMIT),
                    ));
                }
                q.limit = n as u32;
            }
            "cursor" => {
                if !v.is_empty() {
                    q.after = Some(Cursor::decode(v, &q.sort).map_err(|reason| {
                        ApiError::invalid("cursor", format!("the cursor {reason}"))
                    })?);
                }
            }
            "since" | "until" => {
                let Some(tf) = time_field else {
                    return Err(ApiError::bad_field(
                        k,
                        format!("{} have no time field to take '{k}'", e.name),
                    ));
                };
                let value = parse_field(tf.kind, v, &cx)
                    .map_err(|err| ApiError::invalid(k, format!("{k}: {err}")))?;
                if k == "since" {
                    q.since = Some(value);
                } else {
                    q.until = Some(value);
                }
            }
            "search" if keyset::searchable(e) => q.search = Some(v.clone()),
            name if std::ptr::eq(e, &CUSTOMERS) && CUSTOMER_DERIVED_PARAMS.contains(&name) => {
                q.derived.push(customer_derived(name, v, currency)?);
            }
            name => {
                let Some(f) = keyset::filterable(e).find(|f| f.name == name) else {
                    return Err(ApiError::bad_field(
                        name,
                        format!(
                            "'{name}' is not a query parameter of {}: use {}",
                            e.name,
                            list_params(e).join(", ")
                        ),
                    ));
                };
                let value = parse_field(f.kind, v, &cx)
                    .map_err(|err| ApiError::invalid(f.name, format!("{}: {err}", f.name)))?;
                q.filters.push((f, value));
            }
        }
    }
    Ok(q)
}

/// Every query parameter a list of `e` takes.
pub(crate) fn list_params(e: &'static Entity) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = vec!["limit", "cursor", "sort"];
    if e.time_field.is_some() {
        out.extend(["since", "until"]);
    }
    if keyset::searchable(e) {
        out.push("search");
    }
    out.extend(keyset::filterable(e).map(|f| f.name));
    if std::ptr::eq(e, &CUSTOMERS) {
        out.extend(CUSTOMER_DERIVED_PARAMS);
    }
    out
}

// ---------------------------------------------------------------- get

async fn get_one(
    e: &'static Entity,
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(e), false))?;
    if std::ptr::eq(e, &CUSTOMERS) {
        // A customer comes with their figures (orders, refunds counted apart, revenue
        // net of refunds, ...), after every field of the record: one query.
        let (r, figures) = s
            .core
            .customer_with_figures(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no {} with id '{id}'", noun(e))))?;
        return Ok(Json(WithFigures {
            record: &r,
            figures: &figures,
        })
        .into_response());
    }
    Ok(Json(find(&s.store, e, &id).await?).into_response())
}

/// A record and its figures, serialized in this order: the record's members as
/// [`Record`] has them, then `figures` with the members in the order of
/// [`CustomerFigures`] (so `figures.orders` and `figures.refunds` come before any
/// other member that names refunds).
struct WithFigures<'a> {
    record: &'a Record,
    figures: &'a CustomerFigures,
}

impl serde::Serialize for WithFigures<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.record;
        let mut m = s.serialize_map(Some(r.fields.len() + 4))?;
        m.serialize_entry("id", &r.external_id)?;
        for (name, value) in &r.fields {
            m.serialize_entry(name, value)?;
        }
        m.serialize_entry("created_at", &Value::Time(r.created_at))?;
        m.serialize_entry("updated_at", &Value::Time(r.updated_at))?;
        // The figures, then the subscription block as the customer page shows it (the
        // same figures, grouped): `figures.recurring_revenue`.
        #[derive(serde::Serialize)]
        struct Recurring<'a> {
            plan: &'a Option<String>,
            mrr_minor: i64,
            next_renewal_on: &'a Option<chrono::NaiveDate>,
            subscription_revenue_minor: i64,
            currency: &'a str,
        }
        #[derive(serde::Serialize)]
        struct Figures<'a> {
            #[serde(flatten)]
            figures: &'a CustomerFigures,
            recurring_revenue: Recurring<'a>,
        }
        let f = self.figures;
        m.serialize_entry(
            "figures",
            &Figures {
                figures: f,
                recurring_revenue: Recurring {
                    plan: &f.plan,
                    mrr_minor: f.mrr_minor,
                    next_renewal_on: &f.next_renewal_on,
                    subscription_revenue_minor: f.subscription_revenue_minor,
                    currency: &f.currency,
                },
            },
        )?;
        m.end()
    }
}

async fn find(store: &Store, e: &'static Entity, id: &str) -> Result<Record, ApiError> {
    store
        .get(e, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {} with id '{id}'", noun(e))))
}

// ---------------------------------------------------------------- bodies

/// The JSON object of a request body: 400 when it is not JSON or not an object, 413
/// when it is larger than the route takes.
pub(crate) fn json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Json_>, ApiError> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(None, format!("the body is too large: {}", r.body_text()))
        } else {
            ApiError::bad_request(format!("cannot read the body: {}", r.body_text()))
        }
    })?;
    match serde_json::from_slice::<Json_>(&bytes) {
        Ok(Json_::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the body must be a JSON object, not {}",
            json_kind(&other)
        ))),
        Err(err) => Err(ApiError::bad_request(format!(
            "the body is not JSON: {err}"
        ))),
    }
}

fn json_kind(v: &Json_) -> &'static str {
    match v {
        Json_::Null => "null",
        Json_::Bool(_) => "a boolean",
        Json_::Number(_) => "a number",
        Json_::String(_) => "a text",
        Json_::Array(_) => "an array",
        Json_::Object(_) => "an object",
    }
}

/// What a field takes, for messages.
fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Int { .. } => "a whole number",
        Kind::Float => "a number",
        Kind::Money => "whole minor units (1250) or a text in major units (\"12,50\")",
        Kind::Bool => "true or false",
        Kind::Date => "a date text (2024-12-31 or 31.12.2024)",
        Kind::Timestamp => "a time text (2024-12-31T10:00:00Z or 31.12.2024 klo 10.00)",
        Kind::Choice(_) | Kind::Currency | Kind::Email | Kind::Phone => "a text",
        Kind::Text | Kind::LongText | Kind::Ref(_) => "a text",
    }
}

/// One field's JSON value as a [`Value`]; the error is the reason.
fn json_field(f: &Field, v: &Json_, cx: &ParseContext<'_>) -> Result<Value, String> {
    let wrong = || format!("must be {}, not {}", expected(f.kind), json_kind(v));
    match v {
        Json_::Null => Ok(Value::Null),
        Json_::String(s) => parse_field(f.kind, s, cx).map_err(|e| e.to_string()),
        Json_::Number(n) => match f.kind {
            // Minor units, within the bound every amount keeps (a number too large
            // for 64 bits is beyond it too, not "not whole").
            Kind::Money => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => kanta_domain::Money::bounded(i, cx.currency)
                    .map(Value::Int)
                    .map_err(|e| e.to_string()),
                (None, Some(u), _) => kanta_domain::Money::bounded(u, cx.currency)
                    .map(Value::Int)
                    .map_err(|e| e.to_string()),
                (None, None, Some(x)) if x.fract() == 0.0 || x.abs() >= 1e15 => {
                    kanta_domain::Money::bounded(x.clamp(-1e30, 1e30) as i128, cx.currency)
                        .map(Value::Int)
                        .map_err(|e| e.to_string())
                }
                _ => Err(format!(
                    "{n}: a number is minor units (cents) and must be whole; write major units as text (\"12,50\")"
                )),
            },
            Kind::Int { .. }
            | Kind::Float
            | Kind::Bool
            | Kind::Text
            | Kind::LongText
            | Kind::Ref(_) => parse_field(f.kind, &n.to_string(), cx).map_err(|e| e.to_string()),
            _ => Err(wrong()),
        },
        Json_::Bool(b) if f.kind == Kind::Bool => Ok(Value::Bool(*b)),
        _ => Err(wrong()),
    }
}

/// The fields of one body (a record, or one event of a batch), parsed.
#[derive(Debug)]
pub(crate) struct Row {
    pub id: Option<String>,
    /// Fields given, in the body's order.
    pub given: Vec<(&'static Field, Value)>,
}

impl Row {
    fn value(&self, name: &str) -> Option<&Value> {
        self.given
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v)
    }
}

/// Parses the keys of `obj` as fields of `e`, except those in `skip`. Money texts
/// are read in the body's `currency`, else in `currency`; times without an offset in
/// `zone` (the store's). Every problem is listed.
pub(crate) fn parse_row(
    e: &'static Entity,
    obj: &Map<String, Json_>,
    skip: &[&str],
    currency: Currency,
    zone: Tz,
) -> Result<Row, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bad = |field: &str, reason: String| {
        problems.push(Problem {
            index: None,
            field: field.to_string(),
            reason,
        })
    };
    let id = match obj.get("id") {
        None | Some(Json_::Null) => None,
        Some(Json_::String(s)) if s.trim().is_empty() => None,
        Some(Json_::String(s)) => Some(s.trim().to_string()),
        Some(Json_::Number(n)) => Some(n.to_string()),
        Some(v) => {
            bad("id", format!("must be a text, not {}", json_kind(v)));
            None
        }
    };
    if let Some(id) = &id {
        let n = id.chars().count();
        if n > MAX_ID {
            bad(
                "id",
                format!("is too long ({n} characters; at most {MAX_ID})"),
            );
        } else if id.chars().any(char::is_control) {
            bad("id", "must not contain control characters".into());
        }
    }
    // The row's own currency reads its money texts.
    let currency = match (e.field("currency"), obj.get("currency")) {
        (Some(_), Some(Json_::String(c))) => c.trim().parse().unwrap_or(currency),
        _ => currency,
    };
    let cx = ParseContext {
        currency,
        date_format: None,
        zone,
    };
    let mut given = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        if k == "id" || skip.contains(&k.as_str()) {
            continue;
        }
        if READ_ONLY.contains(&k.as_str()) {
            bad(k, "is set by the server".into());
            continue;
        }
        let Some(f) = e.field(k) else {
            bad(
                k,
                format!(
                    "is not a field of {}; its fields are: id, {}",
                    e.name,
                    e.fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        // A survey's questions are kept as JSON text; the API takes them as JSON too.
        if e.name == "surveys"
            && f.name == "questions"
            && matches!(v, Json_::Array(_) | Json_::Object(_))
        {
            given.push((f, Value::Text(v.to_string())));
            continue;
        }
        match json_field(f, v, &cx) {
            Ok(value) => given.push((f, value)),
            Err(reason) => bad(k, reason),
        }
    }
    if problems.is_empty() {
        Ok(Row { id, given })
    } else {
        Err(problems)
    }
}

/// Every field of `e` in schema order for a new record: the given values, defaults
/// where none was given (as the database would fill them), `currency` (the store's)
/// for money, a transaction's kind from the sign of its amount; required fields
/// checked.
pub(crate) fn complete_new(
    e: &'static Entity,
    row: &Row,
    currency: Currency,
) -> Result<Vec<Value>, Vec<Problem>> {
    // Reads the schema's defaults, which hold no time of day.
    let cx = ParseContext {
        currency,
        date_format: None,
        zone: Tz::UTC,
    };
    let mut values = Vec::with_capacity(e.fields.len());
    let mut problems = Vec::new();
    let has_money = e.has_money();
    for f in e.fields {
        let mut v = row.value(f.name).cloned().unwrap_or(Value::Null);
        if v.is_null() {
            if f.kind == Kind::Currency && has_money {
                v = Value::Text(currency.code().to_string());
            } else if std::ptr::eq(e, &TRANSACTIONS) && f.name == "kind" {
                let amount = row.value("amount").and_then(Value::as_int).unwrap_or(0);
                v = Value::Text(kanta_domain::schema::transaction_kind_for(amount).into());
            } else if let Some(d) = f.default
                && let Ok(dv) = parse_field(f.kind, d, &cx)
            {
                v = dv;
            }
        }
        if f.required && v.is_null() {
            problems.push(Problem {
                index: None,
                field: f.name.to_string(),
                reason: format!("is required ({})", f.doc),
            });
        }
        values.push(v);
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// The id of a new record: its own, or one derived from its content (so the same
/// record sent twice is found again rather than duplicated). `occurrence` tells
/// identical records of one batch apart.
pub(crate) fn new_id(e: &Entity, row: &Row, values: &[Value], occurrence: u32) -> String {
    match &row.id {
        Some(id) => id.clone(),
        None => id_from_digest(&content_digest(e.name.as_bytes(), values), occurrence),
    }
}

/// `/api/v1/{entity}/{id}` with the id percent-encoded.
pub(crate) fn location(e: &Entity, id: &str) -> String {
    let mut out = format!("/api/v1/{}/", e.name);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------- create

async fn create(
    e: &'static Entity,
    caller: Caller,
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(e), true))?;
    let obj = json_object(body)?;
    let currency = s.core.currency().await?;
    let row = parse_row(e, &obj, &[], currency, s.core.time_zone().await?)
        .map_err(ApiError::invalid_many)?;
    let values = complete_new(e, &row, currency).map_err(ApiError::invalid_many)?;
    let id = new_id(e, &row, &values, 1);
    let r = s.core.create_record(&caller.acting, e, &id, values).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location(e, &id))],
        Json(r),
    )
        .into_response())
}

// ---------------------------------------------------------------- patch

async fn patch(
    e: &'static Entity,
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(Some(e), true))?;
    let obj = json_object(body)?;
    // The record's own currency reads the amounts given; without an amount the core's
    // update reads the record (and answers 404) itself.
    let money = obj
        .keys()
        .any(|k| e.field(k).is_some_and(|f| f.kind == Kind::Money));
    let existing = match money {
        true => Some(find(&s.store, e, &id).await?),
        false => None,
    };
    let currency = match existing
        .as_ref()
        .and_then(|r| r.text("currency"))
        .and_then(|c| c.parse().ok())
    {
        Some(c) => c,
        None => s.core.currency().await?,
    };
    let row = match parse_row(e, &obj, &[], currency, s.core.time_zone().await?) {
        Ok(row) => row,
        Err(problems) => {
            // A missing record is named before what is wrong with the body.
            if existing.is_none() {
                find(&s.store, e, &id).await?;
            }
            return Err(ApiError::invalid_many(problems));
        }
    };
    if let Some(other) = &row.id
        && *other != id
    {
        return Err(ApiError::invalid(
            "id",
            format!("is '{other}' but the path says '{id}': an id cannot change"),
        ));
    }
    // Reads the schema's defaults, which hold no time of day.
    let cx = ParseContext {
        currency,
        date_format: None,
        zone: Tz::UTC,
    };
    let mut problems = Vec::new();
    let mut fields = Vec::with_capacity(row.given.len());
    let mut values = Vec::with_capacity(row.given.len());
    for (f, v) in row.given {
        let v = match (v, f.default) {
            // Clearing a field with a default sets the default, as for a new record.
            (Value::Null, Some(d)) => parse_field(f.kind, d, &cx).unwrap_or(Value::Null),
            (v, _) => v,
        };
        if f.required && v.is_null() {
            problems.push(Problem {
                index: None,
                field: f.name.to_string(),
                reason: "is required and cannot be cleared".into(),
            });
        }
        fields.push(f);
        values.push(v);
    }
    if !problems.is_empty() {
        if existing.is_none() {
            find(&s.store, e, &id).await?;
        }
        return Err(ApiError::invalid_many(problems));
    }
    if fields.is_empty() {
        let existing = match existing {
            Some(r) => r,
            None => find(&s.store, e, &id).await?,
        };
        return Ok(Json(existing).into_response());
    }
    let r = s
        .core
        .update_record(&caller.acting, e, &id, fields, values)
        .await?;
    Ok(Json(r).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanta_domain::schema::{CUSTOMERS, FEEDBACK, TRANSACTIONS};
    use serde_json::json;

    fn obj(v: Json_) -> Map<String, Json_> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn bodies_take_finnish_texts_and_minor_units() {
        let row = parse_row(
            &TRANSACTIONS,
            &obj(
                json!({"id": "o1", "customer_id": 17, "occurred_at": "31.12.2024 klo 10.00",
                "amount": "12,50", "cost": 300}),
            ),
            &[],
            Currency::EUR,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(row.value("amount"), Some(&Value::Int(1250)));
        assert_eq!(row.value("cost"), Some(&Value::Int(300)));
        assert_eq!(row.value("customer_id"), Some(&Value::Text("17".into())));
        let values = complete_new(&TRANSACTIONS, &row, Currency::EUR).unwrap();
        let at = |n: &str| {
            &values[TRANSACTIONS
                .fields
                .iter()
                .position(|f| f.name == n)
                .unwrap()]
        };
        assert_eq!(at("kind"), &Value::Text("order".into()));
        assert_eq!(at("currency"), &Value::Text("EUR".into()));
        assert_eq!(at("occurred_at").canonical(), "2024-12-31T10:00:00.000Z");
    }

    #[test]
    fn every_bad_field_is_named() {
        let problems = parse_row(
            &FEEDBACK,
            &obj(
                json!({"nps": 11, "colour": "red", "created_at": "x", "csat": [1],
                "answered_at": "yesterday-ish"}),
            ),
            &[],
            Currency::EUR,
            Tz::UTC,
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for f in ["nps", "colour", "created_at", "csat", "answered_at"] {
            assert!(fields.contains(&f), "{f} not named in {problems:?}");
        }
        let colour = problems.iter().find(|p| p.field == "colour").unwrap();
        assert!(
            colour.reason.contains("is not a field of feedback"),
            "{colour:?}"
        );
        let money = parse_row(
            &TRANSACTIONS,
            &obj(json!({"amount": 12.5})),
            &[],
            Currency::EUR,
            Tz::UTC,
        )
        .unwrap_err();
        assert!(money[0].reason.contains("minor units"), "{money:?}");
        let missing = complete_new(
            &TRANSACTIONS,
            &parse_row(&TRANSACTIONS, &obj(json!({})), &[], Currency::EUR, Tz::UTC).unwrap(),
            Currency::EUR,
        )
        .unwrap_err();
        let names: Vec<&str> = missing.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(names, ["customer_id", "occurred_at", "amount"]);
    }

    #[test]
    fn derived_ids_follow_content() {
        let row = parse_row(
            &CUSTOMERS,
            &obj(json!({"name": "Aino"})),
            &[],
            Currency::EUR,
            Tz::UTC,
        )
        .unwrap();
        let v = complete_new(&CUSTOMERS, &row, Currency::EUR).unwrap();
        assert_eq!(
            new_id(&CUSTOMERS, &row, &v, 1),
            new_id(&CUSTOMERS, &row, &v, 1)
        );
        assert_ne!(
            new_id(&CUSTOMERS, &row, &v, 1),
            new_id(&CUSTOMERS, &row, &v, 2)
        );
        assert!(new_id(&CUSTOMERS, &row, &v, 1).starts_with("h-"));
    }

    #[test]
    fn locations_escape_ids() {
        assert_eq!(
            location(&CUSTOMERS, "a b/ä"),
            "/api/v1/customers/a%20b%2F%C3%A4"
        );
    }
}
