//! The OpenAPI 3.1 document of the JSON API, generated from the schema description
//! (`kanta_domain::schema`), so a new entity or field appears in it without an edit
//! here. Served at `GET /api/v1/openapi.json`; a copy is committed as
//! `docs/openapi.json` and a test fails when the two differ.
//!
//! Built with `serde_json` rather than an OpenAPI crate: the document is data, the
//! schema description already is the source of truth, and maps with sorted keys
//! make the output byte-for-byte stable.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use kanta_domain::schema::{ENTITIES, Entity, Field, Kind};
use kanta_store::keyset::{self, MAX_LIMIT, Sort};
use serde_json::{Map, Value, json};

use super::entities::{MAX_ID, noun};
use super::events::{MAX_EVENTS, TYPES};
use kanta_store::accounts::Role;

use super::access;
use crate::auth::Caller;

/// The OpenAPI document as pretty-printed JSON, ending in a newline.
pub fn openapi_json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("JSON values serialize");
    s.push('\n');
    s
}

pub(super) async fn serve(caller: Caller) -> Result<Response, super::ApiError> {
    caller.require(access(None, false))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response())
}

/// `customers` → `Customer`, `usage` → `UsageEvent`.
fn pascal(e: &Entity) -> String {
    noun(e)
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// A record's field never holds null when it is required or has a default.
fn nullable(f: &Field) -> bool {
    !f.required && f.default.is_none()
}

/// The JSON Schema of a field as the API answers it.
fn output_schema(f: &Field) -> Value {
    let mut s = match f.kind {
        Kind::Text | Kind::Ref(_) => json!({"type": "string"}),
        Kind::LongText => json!({"type": "string", "maxLength": kanta_domain::value::MAX_TEXT}),
        Kind::Email => json!({"type": "string", "format": "email"}),
        Kind::Phone => json!({"type": "string", "maxLength": 64}),
        Kind::Currency => json!({"type": "string", "pattern": "^[A-Z]{3}$"}),
        Kind::Int { min, max } => {
            let mut s = json!({"type": "integer", "format": "int64"});
            if min != i64::MIN {
                s["minimum"] = json!(min);
            }
            if max != i64::MAX {
                s["maximum"] = json!(max);
            }
            s
        }
        Kind::Float => json!({"type": "number", "format": "double"}),
        Kind::Money => json!({
            "type": "integer",
            "format": "int64",
            "minimum": -kanta_domain::money::MAX_MINOR,
            "maximum": kanta_domain::money::MAX_MINOR,
        }),
        Kind::Date => json!({"type": "string", "format": "date"}),
        Kind::Timestamp => json!({"type": "string", "format": "date-time"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Choice(values) => json!({"type": "string", "enum": values}),
    };
    s["description"] = json!(describe(f, false));
    if nullable(f) {
        make_nullable(&mut s);
    }
    s
}

/// The JSON Schema of a field as the API takes it in a body: texts as the importer
/// reads them besides the JSON types.
fn input_schema(f: &Field) -> Value {
    let mut s = match f.kind {
        Kind::Int { min, max } => {
            let mut n = json!({"type": "integer"});
            if min != i64::MIN {
                n["minimum"] = json!(min);
            }
            if max != i64::MAX {
                n["maximum"] = json!(max);
            }
            json!({"anyOf": [n, {"type": "string"}]})
        }
        Kind::Float => json!({"type": ["number", "string"]}),
        Kind::Money => json!({"type": ["integer", "string"]}),
        Kind::Bool => json!({"type": ["boolean", "string"]}),
        Kind::Text | Kind::LongText | Kind::Ref(_) => json!({"type": ["string", "number"]}),
        _ => output_schema(&Field {
            required: true,
            ..*f
        }),
    };
    s["description"] = json!(describe(f, true));
    // Null clears a field (or, with a default, sets the default); only required
    // fields refuse it.
    if !f.required {
        make_nullable(&mut s);
    }
    s
}

fn make_nullable(s: &mut Value) {
    if let Some(any) = s.get_mut("anyOf").and_then(Value::as_array_mut) {
        any.push(json!({"type": "null"}));
        return;
    }
    match s.get("type").cloned() {
        Some(Value::String(t)) => s["type"] = json!([t, "null"]),
        Some(Value::Array(mut ts)) => {
            ts.push(json!("null"));
            s["type"] = Value::Array(ts);
        }
        _ => {}
    }
    if let Some(values) = s.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
}

fn describe(f: &Field, input: bool) -> String {
    let mut d = f.doc.to_string();
    match f.kind {
        Kind::Money if input => d.push_str(
            ". A number is minor units (1250 = 12.50); a text is major units as written (\"12,50\", \"1 234,50 €\"), in the row's currency",
        ),
        Kind::Money => d.push_str(". Integer minor units (cents) of the row's currency"),
        Kind::Date if input => d.push_str(". ISO 8601 (2024-12-31) or Finnish (31.12.2024)"),
        Kind::Timestamp if input => d.push_str(
            ". RFC 3339 (2024-12-31T10:00:00Z), or without an offset (2024-12-31 10:00, Finnish 31.12.2024 klo 10.00), read in the store's time zone (the time_zone setting); answers are UTC",
        ),
        Kind::Timestamp => d.push_str(". RFC 3339, UTC"),
        Kind::Bool if input => d.push_str(". true/false, or yes/no, kyllä/ei, 1/0"),
        Kind::Choice(_) if input => d.push_str(" (case is ignored)"),
        Kind::Ref(target) => {
            let target = kanta_domain::schema::entity(target).map_or(target, |t| t.name);
            d.push_str(&format!(" (a record of /api/v1/{target})"));
        }
        Kind::Currency if input => {
            d.push_str(" (default: the store's currency, the `currency` setting)");
        }
        _ => {}
    }
    if let Some(default) = f.default
        && !d.contains("default")
    {
        d.push_str(&format!(" (default {default})"));
    }
    d
}

/// The component schemas of one entity: the record, a new record, a patch, a page.
fn entity_schemas(e: &'static Entity, out: &mut Map<String, Value>) {
    let name = pascal(e);
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"type": "string", "description": "the record's own (external) id"}),
    );
    for f in e.fields {
        props.insert(f.name.into(), output_schema(f));
    }
    for t in ["created_at", "updated_at"] {
        props.insert(
            t.into(),
            json!({"type": "string", "format": "date-time", "readOnly": true,
                   "description": format!("set by the server ({})", t.replace('_', " "))}),
        );
    }
    let all: Vec<&str> = props.keys().map(String::as_str).collect();
    out.insert(
        name.clone(),
        json!({
            "type": "object",
            "title": noun(e),
            "description": format!("A {} (`{}`).", noun(e), e.name),
            "properties": props,
            "required": all,
        }),
    );

    let id = json!({"type": ["string", "number", "null"], "maxLength": MAX_ID,
        "description": "the record's own id; when absent, one is derived from the content (h-…), so the same record sent twice is found again"});
    for (suffix, patch) in [("New", false), ("Patch", true)] {
        let mut props = Map::new();
        if !patch {
            props.insert("id".into(), id.clone());
        } else {
            props.insert(
                "id".into(),
                json!({"type": ["string", "number"], "description": "may be given, but must equal the id in the path"}),
            );
        }
        for f in e.fields {
            props.insert(f.name.into(), input_schema(f));
        }
        let mut s = json!({
            "type": "object",
            "description": if patch {
                format!("Fields of a {} to change; fields not given stay as they are.", noun(e))
            } else {
                format!("A new {}.", noun(e))
            },
            "properties": props,
            "additionalProperties": false,
        });
        let required: Vec<&str> = e
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        if !patch && !required.is_empty() {
            s["required"] = json!(required);
        }
        out.insert(format!("{name}{suffix}"), s);
    }
    out.insert(
        format!("{name}Page"),
        json!({
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": if std::ptr::eq(e, &kanta_domain::schema::CUSTOMERS) {
                    // Customers come with their figures, as one customer does.
                    schema_ref("CustomerWithFigures")
                } else {
                    schema_ref(&name)
                }},
                "next_cursor": {"type": ["string", "null"],
                    "description": "pass as `cursor` for the next page; null on the last page"},
            },
            "required": ["items", "next_cursor"],
        }),
    );
}

fn role_text(r: Role) -> &'static str {
    r.as_str()
}

/// An operation with query parameters.
fn with_parameters(parameters: Vec<Value>, mut op: Map<String, Value>) -> Map<String, Value> {
    op.insert("parameters".into(), Value::Array(parameters));
    op
}

/// An operation with its required role and the problems every authenticated route
/// may answer.
pub(super) fn operation(
    id: String,
    tag: &str,
    summary: String,
    role: Role,
    mut responses: Map<String, Value>,
) -> Map<String, Value> {
    responses.insert("400".into(), response_ref("BadRequest"));
    responses.insert("401".into(), response_ref("Unauthorized"));
    responses.insert("429".into(), response_ref("TooMany"));
    if role != Role::Viewer {
        responses.insert("403".into(), response_ref("Forbidden"));
    }
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    op.insert("tags".into(), json!([tag]));
    op.insert("summary".into(), json!(summary));
    op.insert(
        "description".into(),
        json!(format!("Needs the `{}` role or higher.", role_text(role))),
    );
    op.insert("x-required-role".into(), json!(role_text(role)));
    op.insert("responses".into(), Value::Object(responses));
    op
}

pub(super) fn ok(schema: Value, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

pub(super) fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn list_parameters(e: &'static Entity) -> Vec<Value> {
    let mut sorts: Vec<String> = Vec::new();
    for n in Sort::names(e) {
        sorts.push(n.to_string());
        sorts.push(format!("-{n}"));
    }
    let mut ps = vec![
        json!({"name": "limit", "in": "query", "description": "records per page",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}}),
        json!({"name": "cursor", "in": "query",
               "description": "the `next_cursor` of the previous page (with the same sort)",
               "schema": {"type": "string"}}),
        json!({"name": "sort", "in": "query",
               "description": if std::ptr::eq(e, &kanta_domain::schema::CUSTOMERS) {
                   "the order: a field, or -field for descending; ties and the default go by insertion order. Customers also sort by their figures: revenue (orders net of refunds plus subscriptions billed), last_purchase, mrr, next_renewal (none last), trust_balance, open_cases, and the newest scores' clv (12 months), p_alive and renewal_probability (unscored first ascending, last descending)"
               } else {
                   "the order: a field, or -field for descending; ties and the default go by insertion order"
               },
               "schema": {"type": "string", "enum": sorts}}),
    ];
    if std::ptr::eq(e, &kanta_domain::schema::CUSTOMERS) {
        for (name, description) in [
            (
                "trust",
                "deficit (trust balance below zero) or credit (above zero)",
            ),
            (
                "open_cases",
                "true: with cases not resolved; false: without",
            ),
            (
                "clv_min",
                "CLV over 12 months (newest scores) at least this amount, in major units (1000 or 1 000,50)",
            ),
            (
                "p_alive_below",
                "P(alive) (newest scores) below this: 0..1 (0.5) or a percentage (50%)",
            ),
            (
                "renewal_below",
                "renewal probability (newest scores) below this: 0..1 (0.5) or a percentage (50%)",
            ),
        ] {
            ps.push(
                json!({"name": name, "in": "query", "description": description,
                "schema": {"type": "string"}}),
            );
        }
    }
    if let Some(tf) = e.time_field.and_then(|n| e.field(n)) {
        ps.push(json!({"name": "since", "in": "query",
            "description": format!("{} at or after this", tf.name), "schema": {"type": "string"}}));
        ps.push(json!({"name": "until", "in": "query",
            "description": format!("{} before this", tf.name), "schema": {"type": "string"}}));
    }
    if keyset::searchable(e) {
        ps.push(json!({"name": "search", "in": "query",
            "description": "part of the name, email or id (case ignored; %, _ and \\ are themselves)", "schema": {"type": "string"}}));
    }
    for f in keyset::filterable(e) {
        ps.push(json!({"name": f.name, "in": "query",
            "description": format!("equals: {} (an empty value matches records without one)", f.doc),
            "schema": {"type": "string"}}));
    }
    ps
}

fn id_parameter(e: &Entity) -> Value {
    json!({"name": "id", "in": "path", "required": true,
           "description": format!("the {}'s id", noun(e)), "schema": {"type": "string"}})
}

pub(super) fn responses(list: &[(&str, Value)]) -> Map<String, Value> {
    list.iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn entity_paths(e: &'static Entity, paths: &mut Map<String, Value>) {
    let name = pascal(e);
    let read = access(Some(e), false);
    let write = access(Some(e), true);
    let mut list_op = operation(
        format!("list_{}", e.name),
        e.name,
        format!("List {} (filters, sort, cursor paging)", e.name),
        read,
        responses(&[
            (
                "200",
                ok(schema_ref(&format!("{name}Page")), "a page of records"),
            ),
            ("422", response_ref("Invalid")),
        ]),
    );
    list_op.insert("parameters".into(), json!(list_parameters(e)));
    let mut create = operation(
        format!("create_{}", e.name),
        e.name,
        format!("Create a {}", noun(e)),
        write,
        responses(&[
            (
                "201",
                json!({"description": "created",
                       "headers": {"Location": {"description": "the new record's URL", "schema": {"type": "string"}}},
                       "content": {"application/json": {"schema": schema_ref(&name)}}}),
            ),
            ("409", response_ref("Conflict")),
            ("413", response_ref("TooLarge")),
            ("422", response_ref("Invalid")),
        ]),
    );
    create.insert(
        "requestBody".into(),
        body(schema_ref(&format!("{name}New"))),
    );
    paths.insert(
        format!("/api/v1/{}", e.name),
        json!({"get": list_op, "post": create}),
    );

    let mut item = Map::new();
    item.insert("parameters".into(), json!([id_parameter(e)]));
    item.insert(
        "get".into(),
        Value::Object(operation(
            format!("get_{}", e.name),
            e.name,
            format!("One {}", noun(e)),
            read,
            responses(&[
                if std::ptr::eq(e, &kanta_domain::schema::CUSTOMERS) {
                    (
                        "200",
                        ok(
                            schema_ref("CustomerWithFigures"),
                            "the customer, with their figures",
                        ),
                    )
                } else {
                    ("200", ok(schema_ref(&name), "the record"))
                },
                ("404", response_ref("NotFound")),
            ]),
        )),
    );
    if !e.append_only {
        let mut patch = operation(
            format!("update_{}", e.name),
            e.name,
            format!("Change fields of a {}", noun(e)),
            write,
            responses(&[
                ("200", ok(schema_ref(&name), "the record as changed")),
                ("404", response_ref("NotFound")),
                ("413", response_ref("TooLarge")),
                ("422", response_ref("Invalid")),
            ]),
        );
        patch.insert(
            "requestBody".into(),
            body(schema_ref(&format!("{name}Patch"))),
        );
        item.insert("patch".into(), Value::Object(patch));
    }
    paths.insert(format!("/api/v1/{}/{{id}}", e.name), Value::Object(item));
}

fn event_schemas(out: &mut Map<String, Value>) {
    let mut variants = Vec::new();
    let mut mapping = Map::new();
    for (ty, e) in TYPES {
        let base = pascal(e);
        let name = format!("{base}Event");
        let mut s = out
            .get(&format!("{base}New"))
            .cloned()
            .expect("entity schemas come first");
        s["description"] = json!(format!("A {} as an event.", noun(e)));
        s["properties"]["type"] = json!({"const": ty});
        let mut required = vec![json!("type")];
        if let Some(r) = s.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
        s["required"] = Value::Array(required);
        mapping.insert((*ty).into(), json!(format!("#/components/schemas/{name}")));
        variants.push(schema_ref(&name));
        out.insert(name, s);
    }
    out.insert(
        "EventBatch".into(),
        json!({
            "type": "object",
            "properties": {"events": {
                "type": "array", "maxItems": MAX_EVENTS,
                "items": {"oneOf": variants, "discriminator": {"propertyName": "type", "mapping": mapping}},
            }},
            "required": ["events"],
            "additionalProperties": false,
        }),
    );
    let counts = json!({
        "type": "object",
        "properties": {
            "inserted": {"type": "integer"},
            "updated": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "customers_created": {"type": "integer"},
        },
        "required": ["inserted", "updated", "unchanged", "customers_created"],
    });
    out.insert("WriteCounts".into(), counts);
    out.insert(
        "EventSummary".into(),
        json!({
            "type": "object",
            "properties": {
                "received": {"type": "integer"},
                "inserted": {"type": "integer"},
                "updated": {"type": "integer"},
                "unchanged": {"type": "integer"},
                "customers_created": {"type": "integer", "description": "customers a transaction named first"},
                "changed": {"type": "boolean", "description": "false when the store is as it was (the batch had been sent before)"},
                "ids": {"type": "array", "items": {"type": "string"}, "description": "each event's id, in the request's order"},
                "by_type": {"type": "object", "additionalProperties": schema_ref("WriteCounts")},
            },
            "required": ["received", "inserted", "updated", "unchanged", "customers_created", "changed", "ids", "by_type"],
        }),
    );
}

fn problem_schemas(out: &mut Map<String, Value>) {
    out.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string", "description": "what is wrong, in words"},
                "field": {"type": "string", "description": "the field or parameter at fault"},
                "errors": {"type": "array", "items": schema_ref("ProblemItem"),
                           "description": "every problem, when there are several (at most 100 listed)"},
            },
            "required": ["type", "title", "status", "detail"],
        }),
    );
    out.insert(
        "ProblemItem".into(),
        json!({
            "type": "object",
            "properties": {
                "index": {"type": "integer", "description": "the event's position in the batch, from 0"},
                "field": {"type": "string"},
                "reason": {"type": "string"},
            },
            "required": ["field", "reason"],
        }),
    );
}

/// Model runs and scores (`api/scores.rs`).
fn score_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let viewer = access(None, false);
    let num = |d: &str| json!({"type": "number", "description": d});
    let money = |d: &str| json!({"type": ["integer", "null"], "description": format!("{d}, in minor units of the run's currency (null without a spend model)")});
    schemas.insert(
        "RevenueForecast".into(),
        json!({"type": "object",
            "description": "revenue expected from the scored customers over the next `months`, with a 90% interval from the parameters' estimation uncertainty",
            "properties": {
                "months": {"type": "integer"},
                "expected_minor": {"type": "integer"},
                "lower_minor": {"type": "integer"},
                "upper_minor": {"type": "integer"},
            },
            "required": ["months", "expected_minor", "lower_minor", "upper_minor"]}),
    );
    schemas.insert(
        "ModelRun".into(),
        json!({"type": "object",
            "description": "one run of kanta score: the chosen model, the data window, every candidate's fit and holdout figures, the forecast",
            "properties": {
                "id": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "model": {"type": "string", "enum": ["bgnbd", "mbgnbd", "pnbd", "none"]},
                "spend_model": {"type": ["string", "null"], "enum": ["gg", null]},
                "as_of": {"type": "string", "format": "date", "description": "the day scored at"},
                "calibration_end": {"type": ["string", "null"], "format": "date", "description": "end of the calibration period of the model choice (the holdout follows it)"},
                "first_purchase_on": {"type": ["string", "null"], "format": "date"},
                "customers": {"type": "integer", "description": "customers scored"},
                "currency": {"type": ["string", "null"]},
                "details": {"type": "object", "description": "time_unit, holdout_days, candidates [{model, params, log_likelihood, holdout {customers, actual_total, predicted_total, total_relative_error, mae, rmse, correlation}}], fit and spend {params, std_errors, log_likelihood, n, rows, converged, iterations}, clv {monthly_discount_rate, margin}, subscriptions {model, rule, subscriptions, active, plans [{plan, period, subscriptions, churned, pooled, note, params, std_errors, log_likelihood, converged, survival_sbg, survival_km, max_gap}], pools [...]}, customers {total, buyers, subscribers}, forecast_parts {purchases, subscriptions}, tiers {rule, counts}"},
                "forecast": {"type": "array", "items": schema_ref("RevenueForecast")},
            },
            "required": ["id", "created_at", "model", "as_of", "customers", "details", "forecast"]}),
    );
    schemas.insert(
        "CustomerScore".into(),
        json!({"type": "object",
            "properties": {
                "customer": {"type": "string", "description": "the customer's id"},
                "run_id": {"type": "integer"},
                "tier": {"type": "string", "enum": ["A", "B", "C", "D"], "description": "value tier by ABC analysis of CLV over 12 months: A makes the first 50% of the total, B the next 30%, C the next 15%, D the rest"},
                "p_alive": num("probability that the customer is still a customer (purchase model); for a customer without orders 1 while a subscription runs, else 0"),
                "repeat_purchases": {"type": "integer", "description": "repeat purchase days the scores are based on"},
                "expected_purchases_30": num("expected purchases in the next 30 days"),
                "expected_purchases_90": num("expected purchases in the next 90 days"),
                "expected_purchases_365": num("expected purchases in the next 365 days"),
                "expected_spend_minor": money("expected spend per purchase"),
                "clv_12_minor": money("customer lifetime value over 12 months, discounted: the purchase and subscription parts summed (0 for a customer with neither)"),
                "clv_36_minor": money("customer lifetime value over 36 months, discounted: the parts summed"),
                "purchase_clv_12_minor": money("the purchases' part of clv_12_minor (null without orders)"),
                "purchase_clv_36_minor": money("the purchases' part of clv_36_minor"),
                "renewal_probability": {"type": ["number", "null"], "description": "probability of making the next renewal (sBG per plan; the customer's most valuable active subscription); 0 when it ends before its next renewal; null without an active subscription"},
                "expected_remaining_periods": {"type": ["number", "null"], "description": "expected further payments of the active subscriptions, discounted at the run's rate (DERL, Fader & Hardie 2010)"},
                "subscription_clv_12_minor": money("the subscriptions' part of clv_12_minor (null without an active subscription)"),
                "subscription_clv_36_minor": money("the subscriptions' part of clv_36_minor"),
            },
            "required": ["customer", "run_id", "tier", "p_alive", "repeat_purchases", "expected_purchases_30", "expected_purchases_90", "expected_purchases_365"]}),
    );
    let page = |item: &str| {
        json!({"type": "object", "properties": {
            "items": {"type": "array", "items": schema_ref(item)},
            "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null on the last"}},
            "required": ["items", "next_cursor"]})
    };
    let limit = json!({"name": "limit", "in": "query", "description": "records per page",
        "schema": {"type": "integer", "minimum": 1, "maximum": super::scores::MAX_LIMIT, "default": 100}});
    let cursor = json!({"name": "cursor", "in": "query",
        "description": "the `next_cursor` of the previous page", "schema": {"type": "string"}});
    let run_id = json!({"name": "id", "in": "path", "required": true,
        "description": "the model run's id", "schema": {"type": "string"}});
    let mut list = operation(
        "list_model_runs".into(),
        "models",
        "Model runs, newest first (cursor paging)".into(),
        viewer,
        responses(&[("200", ok(page("ModelRun"), "a page of runs"))]),
    );
    list.insert("parameters".into(), json!([limit, cursor]));
    paths.insert("/api/v1/model-runs".into(), json!({"get": list}));
    paths.insert(
        "/api/v1/model-runs/{id}".into(),
        json!({"parameters": [run_id],
               "get": operation("get_model_run".into(), "models",
                   "A model run: parameters, fit and holdout figures, forecast".into(), viewer,
                   responses(&[("200", ok(schema_ref("ModelRun"), "the run")),
                               ("404", response_ref("NotFound"))]))}),
    );
    let mut scores = operation("list_model_run_scores".into(), "models",
        "A run's customer scores by customer id (cursor paging); runs older than the newest twelve keep no scores".into(), viewer,
        responses(&[("200", ok(page("CustomerScore"), "a page of scores")),
                    ("404", response_ref("NotFound")),
                    ("422", response_ref("Invalid"))]));
    scores.insert("parameters".into(), json!([limit, cursor,
        {"name": "tier", "in": "query", "description": "only this tier", "schema": {"type": "string", "enum": ["A", "B", "C", "D"]}}]));
    paths.insert(
        "/api/v1/model-runs/{id}/scores".into(),
        json!({"parameters": [run_id], "get": scores}),
    );
    let mut one = schema_ref("CustomerScore");
    one = json!({"allOf": [one, {"type": "object", "properties": {
        "model": {"type": "string"}, "as_of": {"type": "string", "format": "date"},
        "currency": {"type": ["string", "null"]}}}]});
    paths.insert(
        "/api/v1/customers/{id}/scores".into(),
        json!({"parameters": [id_parameter(&kanta_domain::schema::CUSTOMERS)],
               "get": operation("customer_scores".into(), "customers",
                   "The customer's scores in the newest run that scored them".into(), viewer,
                   responses(&[("200", ok(one, "the scores")),
                               ("404", response_ref("NotFound"))]))}),
    );
}

/// A customer's figures (`kanta_core::figures::CustomerFigures`), added to
/// `GET /api/v1/customers/{id}`.
fn figure_schemas(out: &mut Map<String, Value>) {
    let int = |d: &str| json!({"type": "integer", "format": "int64", "description": d});
    let time =
        |d: &str| json!({"type": ["string", "null"], "format": "date-time", "description": d});
    out.insert(
        "CustomerFigures".into(),
        json!({"type": "object",
            "description": "what the customer has bought, been given back and been billed for their subscriptions, from the totals the store keeps with the transactions and subscriptions. Subscription revenue is billed periods: the amount at the start of each period from started_on, up to and including the period that holds today, none from ended_on on",
            "properties": {
                "orders": int("orders (transactions of kind order)"),
                "refunds": int("refunds (transactions of kind refund), counted apart from orders"),
                "revenue_minor": int("revenue: orders net of refunds plus subscriptions billed, in minor units"),
                "order_revenue_minor": int("the orders' part of revenue: orders net of refunds"),
                "subscription_revenue_minor": int("the subscriptions' part of revenue: the periods billed to date"),
                "plan": {"type": ["string", "null"], "description": "the active subscriptions' plans, comma-joined"},
                "mrr_minor": int("monthly recurring revenue: the active subscriptions' amounts per month (week × 52 / 12, quarter / 3, year / 12, rounded half away from zero)"),
                "next_renewal_on": {"type": ["string", "null"], "format": "date", "description": "the nearest renewal of a subscription that has not ended"},
                "recurring_revenue": {"type": "object", "description": "the subscription's figures grouped as the customer page shows them: plan, mrr_minor, next_renewal_on, subscription_revenue_minor, currency"},
                "refunded_minor": int("what the refunds gave back, a positive amount in minor units"),
                "average_order_minor": {"type": ["integer", "null"], "format": "int64",
                    "description": "the orders' average value before refunds (null without orders)"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "the currency of the money figures"},
                "first_purchase_at": time("the first order"),
                "last_purchase_at": time("the last order"),
                "trust_balance": int("the trust ledger's balance (credits minus debits)"),
            },
            "required": ["orders", "refunds", "revenue_minor", "order_revenue_minor", "subscription_revenue_minor", "mrr_minor", "refunded_minor", "average_order_minor", "currency", "first_purchase_at", "last_purchase_at"]}),
    );
    out.insert(
        "CustomerWithFigures".into(),
        json!({"allOf": [schema_ref("Customer"), {"type": "object",
            "properties": {"figures": schema_ref("CustomerFigures")},
            "required": ["figures"]}]}),
    );
}

/// The audit log, jobs and settings (`api/audit.rs`, `api/jobs.rs`,
/// `api/settings.rs`).
fn admin_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use kanta_core::access::{ADMIN_AREA, SETTINGS};
    use kanta_core::audit::{AUDIT_PAGE, AUDIT_PAGE_MAX};
    use kanta_store::jobs::JobStatus;
    let text = |d: &str| json!({"type": "string", "description": d});
    let opt_text = |d: &str| json!({"type": ["string", "null"], "description": d});
    let time = |d: &str| json!({"type": "string", "format": "date-time", "description": d});
    let opt_time =
        |d: &str| json!({"type": ["string", "null"], "format": "date-time", "description": d});
    schemas.insert(
        "AuditRecord".into(),
        json!({"type": "object",
            "description": "one entry of the audit log: who did what, through what, to which record",
            "properties": {
                "id": {"type": "integer"},
                "at": time("when (RFC 3339, UTC)"),
                "actor_kind": {"type": "string", "enum": ["user", "token", "cli", "job", "import", "system"],
                    "description": "system: someone not signed in (a failed sign-in)"},
                "actor_id": opt_text("a user's or token's id, the operating-system user, a job's kind"),
                "actor_name": text("a user's email, a token's name, a file, the email tried at a failed sign-in"),
                "channel": {"type": "string", "enum": ["ui", "api", "cli", "import", "job"]},
                "entity": text("the entity or table: customers, users, api_tokens, settings, jobs, ..."),
                "record_id": opt_text("the record's id, when one record"),
                "action": text("create, update, import, sign_in, sign_in_failed, sign_out, role_change, token_create, token_revoke, setting_change, job_retry, score, ..."),
                "changes": {"type": "object", "description": "{field: {before, after}} of the fields changed",
                    "additionalProperties": {"type": "object", "properties": {"before": {}, "after": {}}}},
                "details": {"type": "object", "description": "anything else worth keeping (a batch's counts and ids, ...)"},
                "ip": opt_text("the caller's address, for web requests"),
            },
            "required": ["id", "at", "actor_kind", "actor_id", "actor_name", "channel", "entity", "record_id", "action", "changes", "details", "ip"]}),
    );
    schemas.insert(
        "AuditPage".into(),
        json!({"type": "object", "properties": {
            "items": {"type": "array", "items": schema_ref("AuditRecord")},
            "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next (older) page; null on the last"}},
            "required": ["items", "next_cursor"]}),
    );
    let statuses: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
    schemas.insert(
        "Job".into(),
        json!({"type": "object", "description": "a background job",
            "properties": {
                "id": {"type": "integer"},
                "kind": text("what it does: score, mail.send, ..."),
                "status": {"type": "string", "enum": statuses},
                "payload": {"description": "the job's arguments"},
                "unique_key": opt_text("no other job of its kind has this key"),
                "run_at": time("not before this (a retry's time after a failed attempt)"),
                "attempts": {"type": "integer", "description": "attempts so far (an admin's retry starts again from 0)"},
                "max_attempts": {"type": "integer"},
                "locked_by": opt_text("the worker holding it, while it runs"),
                "lease_until": opt_time("while it runs: when another worker may take it"),
                "last_error": opt_text("the error of the last failed attempt"),
                "created_at": time("enqueued"),
                "updated_at": time("last changed"),
                "finished_at": opt_time("done, or failed for good"),
            },
            "required": ["id", "kind", "status", "payload", "run_at", "attempts", "max_attempts", "created_at", "updated_at"]}),
    );
    schemas.insert(
        "OutboxMessage".into(),
        json!({"type": "object", "description": "a queued mail, without its bodies",
            "properties": {
                "id": {"type": "integer"},
                "key": text("its idempotency key"),
                "to": text("the recipient"),
                "subject": {"type": "string"},
                "status": {"type": "string", "enum": ["queued", "sent", "failed"]},
                "attempts": {"type": "integer"},
                "last_error": opt_text("the error of the last failed attempt"),
                "created_at": time("queued"),
                "sent_at": opt_time("sent"),
            },
            "required": ["id", "key", "to", "subject", "status", "attempts", "created_at"]}),
    );
    let counts: Map<String, Value> = statuses
        .iter()
        .map(|s| ((*s).to_string(), json!({"type": "integer"})))
        .collect();
    schemas.insert(
        "JobsOverview".into(),
        json!({"type": "object", "properties": {
            "counts": {"type": "object", "description": "jobs in each status", "properties": counts, "required": statuses},
            "jobs": {"type": "array", "items": schema_ref("Job"), "description": "the newest 100 jobs (of the status asked for), newest first"},
            "outbox": {"type": "array", "items": schema_ref("OutboxMessage"), "description": "the newest 50 messages, newest first"}},
            "required": ["counts", "jobs", "outbox"]}),
    );
    let keys: Vec<&str> = kanta_core::settings::STORE_SETTINGS
        .iter()
        .map(|d| d.key)
        .collect();
    schemas.insert(
        "StoreSetting".into(),
        json!({"type": "object", "properties": {
            "key": {"type": "string", "enum": keys},
            "value": text("the value in force"),
            "description": text("what it is"),
            "set": {"type": "boolean", "description": "whether the store holds a value (else the default applies)"}},
            "required": ["key", "value", "description", "set"]}),
    );
    schemas.insert(
        "StoreSettingValue".into(),
        json!({"type": "object", "properties": {"value": text("the new value, as typed (e.g. EUR, Europe/Helsinki, fi, mon-fri 08:00-16:00)")},
            "required": ["value"], "additionalProperties": false}),
    );

    let q = |name: &str, d: &str| json!({"name": name, "in": "query", "description": d, "schema": {"type": "string"}});
    let mut audit = operation(
        "audit_log".into(),
        "admin",
        "The audit log, newest first (filters, cursor paging)".into(),
        ADMIN_AREA,
        responses(&[
            ("200", ok(schema_ref("AuditPage"), "a page of entries")),
            ("422", response_ref("Invalid")),
        ]),
    );
    audit.insert(
        "parameters".into(),
        json!([
            q("actor", "who: a user's email, a token's name, or their id (exactly)"),
            q("entity", "the entity or table: customers, users, api_tokens, settings, jobs, ..."),
            q("record", "the record's id"),
            q("since", "entries at or after this: RFC 3339, or a date (2024-12-31, 31.12.2024; its midnight in the store's time zone)"),
            q("until", "entries before this: RFC 3339, or a date (its midnight in the store's time zone)"),
            {"name": "limit", "in": "query", "description": "entries per page",
             "schema": {"type": "integer", "minimum": 1, "maximum": AUDIT_PAGE_MAX, "default": AUDIT_PAGE}},
            q("cursor", "the `next_cursor` of the previous page"),
        ]),
    );
    paths.insert("/api/v1/audit".into(), json!({"get": audit}));

    let mut jobs = operation(
        "list_jobs".into(),
        "admin",
        "Background jobs per status, the newest jobs and the newest outbox messages".into(),
        ADMIN_AREA,
        responses(&[
            ("200", ok(schema_ref("JobsOverview"), "the jobs")),
            ("422", response_ref("Invalid")),
        ]),
    );
    jobs.insert(
        "parameters".into(),
        json!([{"name": "status", "in": "query", "description": "list only jobs of this status",
                "schema": {"type": "string", "enum": statuses}}]),
    );
    paths.insert("/api/v1/jobs".into(), json!({"get": jobs}));
    paths.insert(
        "/api/v1/jobs/{id}/retry".into(),
        json!({"parameters": [{"name": "id", "in": "path", "required": true,
                               "description": "the job's id", "schema": {"type": "string"}}],
               "post": operation("retry_job".into(), "admin",
                   "Queue a failed job again now, its attempts from 0 (audited as job_retry)".into(), ADMIN_AREA,
                   responses(&[("200", ok(schema_ref("Job"), "the job, queued again")),
                               ("404", response_ref("NotFound")),
                               ("409", response_ref("Conflict"))]))}),
    );

    paths.insert(
        "/api/v1/settings".into(),
        json!({"get": operation("list_settings".into(), "settings",
            "The store's settings with their values in force".into(), access(None, false),
            responses(&[("200", ok(json!({"type": "object", "properties": {
                "items": {"type": "array", "items": schema_ref("StoreSetting")}}, "required": ["items"]}),
                "every setting"))]))}),
    );
    let mut set = operation(
        "set_setting".into(),
        "settings",
        "Change one of the store's settings (audited with the value before and after)".into(),
        SETTINGS,
        responses(&[
            (
                "200",
                ok(schema_ref("StoreSetting"), "the setting as changed"),
            ),
            ("404", response_ref("NotFound")),
            ("422", response_ref("Invalid")),
        ]),
    );
    set.insert("requestBody".into(), body(schema_ref("StoreSettingValue")));
    paths.insert(
        "/api/v1/settings/{key}".into(),
        json!({"parameters": [{"name": "key", "in": "path", "required": true,
                               "description": "the setting", "schema": {"type": "string", "enum": keys}}],
               "put": set}),
    );
}

/// The service figures and the recovery report (`api/service.rs`).
fn service_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let viewer = access(None, false);
    let count = |d: &str| json!({"type": "integer", "minimum": 0, "description": d});
    let opt_num = |d: &str| json!({"type": ["number", "null"], "description": d});
    schemas.insert(
        "AttainmentRow".into(),
        json!({"type": "object",
            "description": "SLA attainment of one month (YYYY-MM, by the month of resolution), category or owner (the staff member's name; empty for no owner)",
            "properties": {
                "key": {"type": "string"},
                "resolved": count("cases resolved"),
                "within": count("of them resolved within their resolution target"),
                "late": count("of them resolved after it"),
                "open_breaching": count("cases not resolved and past a target"),
                "percent": opt_num("the share resolved within target (null without resolved cases)"),
            },
            "required": ["key", "resolved", "within", "late", "open_breaching", "percent"]}),
    );
    schemas.insert(
        "ServiceFigures".into(),
        json!({"type": "object", "properties": {
            "months": {"type": "integer", "description": "the months covered, the current one included"},
            "attainment": {"type": "object", "properties": {
                "by_month": {"type": "array", "items": schema_ref("AttainmentRow")},
                "by_category": {"type": "array", "items": schema_ref("AttainmentRow")},
                "by_owner": {"type": "array", "items": schema_ref("AttainmentRow")},
                "total": schema_ref("AttainmentRow")},
                "required": ["by_month", "by_category", "by_owner", "total"]},
            "small_claims": {"type": "object", "description": "the small-claim rule's effect: claims up to the limit are approved at once",
                "properties": {
                    "limit_minor": {"type": "integer", "description": "the small-claim limit, minor units"},
                    "currency": {"type": "string"},
                    "approved_at_once": count("claims approved at once"),
                    "approved_at_once_minor": {"type": "integer", "description": "their total, minor units"},
                    "large": count("claims above the limit"),
                    "large_approved": count("of them approved by a manager"),
                    "large_refused": count("of them refused"),
                    "pending": count("of them waiting"),
                    "median_hours_small": opt_num("median hours from claim to approval, small claims"),
                    "median_hours_large": opt_num("median hours from claim to decision, larger claims"),
                },
                "required": ["limit_minor", "currency", "approved_at_once", "approved_at_once_minor", "large", "large_approved", "large_refused", "pending", "median_hours_small", "median_hours_large"]}},
            "required": ["months", "attainment", "small_claims"]}),
    );
    let interval = json!({"type": "object", "description": "an estimate with its 95% interval",
        "properties": {"value": {"type": ["number", "null"]}, "lo": {"type": ["number", "null"]},
                       "hi": {"type": ["number", "null"]}, "n": {"type": "integer"}},
        "required": ["value", "lo", "hi", "n"]});
    let rate = json!({"type": "object", "description": "k of n, the share p with its Wilson 95% interval",
        "properties": {"k": {"type": "integer"}, "n": {"type": "integer"}, "p": {"type": ["number", "null"]},
                       "lo": {"type": ["number", "null"]}, "hi": {"type": ["number", "null"]}},
        "required": ["k", "n", "p", "lo", "hi"]});
    let groups = kanta_core::recovery::GROUPS;
    schemas.insert(
        "RecoveryReport".into(),
        json!({"type": "object",
            "description": "customers who had a case, by its outcome, against customers who never had one: Kaplan-Meier retention after the case with 95% bands, repurchase within 90 and 180 days, revenue per customer in the 12 months after, and each group compared with the customers without a case",
            "properties": {
                "as_of": {"type": "string", "format": "date"},
                "groups": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string", "enum": groups},
                    "customers": {"type": "integer"},
                    "survival": {"type": "array", "items": {"type": "object", "properties": {
                        "day": {"type": "number"}, "s": {"type": "number"}, "lo": {"type": "number"},
                        "hi": {"type": "number"}, "at_risk": {"type": "integer"}},
                        "required": ["day", "s", "lo", "hi", "at_risk"]},
                        "description": "the Kaplan-Meier curve: days after the case, share still a customer, its 95% band, customers followed"},
                    "retained_365": {"anyOf": [interval.clone(), {"type": "null"}]},
                    "repurchase_90": rate.clone(),
                    "repurchase_180": rate,
                    "revenue_12m": interval},
                    "required": ["key", "customers", "survival", "retained_365", "repurchase_90", "repurchase_180", "revenue_12m"]}},
                "comparisons": {"type": "array", "items": {"type": "object", "properties": {
                    "group": {"type": "string", "enum": groups},
                    "against": {"type": "string", "enum": groups},
                    "measure": {"type": "string"},
                    "difference": {"type": ["number", "null"]},
                    "lo": {"type": ["number", "null"]},
                    "hi": {"type": ["number", "null"]},
                    "p": {"type": ["number", "null"], "description": "retention: the log-rank test's p-value"},
                    "verdict": {"type": "string", "enum": ["better", "worse", "cannot tell", "too few"], "description": "retention: the log-rank test's; otherwise the difference interval's"},
                    "at_365": {"type": ["string", "null"], "description": "retention: the difference at 365 days read by its own interval (better, worse, cannot tell)"}},
                    "required": ["group", "against", "measure", "difference", "lo", "hi", "verdict"]}},
                "note": {"type": ["string", "null"], "description": "said when the groups are too small to tell apart"},
            },
            "required": ["as_of", "groups", "comparisons", "note"]}),
    );
    paths.insert(
        "/api/v1/service".into(),
        json!({"get": with_parameters(vec![json!({"name": "months", "in": "query",
                "description": "months covered, the current one included",
                "schema": {"type": "integer", "minimum": 1, "maximum": super::service::MAX_MONTHS, "default": super::service::MONTHS}})],
            operation("service_figures".into(), "service",
                "SLA attainment per month, category and owner, and the small-claim rule's effect".into(), viewer,
                responses(&[("200", ok(schema_ref("ServiceFigures"), "the figures")),
                            ("422", response_ref("Invalid"))])))}),
    );
    paths.insert(
        "/api/v1/reports/recovery".into(),
        json!({"get": with_parameters(vec![json!({"name": "as_of", "in": "query",
                "description": "the day the report is for (2024-12-31 or 31.12.2024; default today)",
                "schema": {"type": "string"}}),
                json!({"name": "segment", "in": "query",
                "description": "only customers of this segment (default every customer)",
                "schema": {"type": "string"}}),
                json!({"name": "kind", "in": "query",
                "description": "only customers of this kind: person or company (default every kind)",
                "schema": {"type": "string"}})],
            operation("recovery_report".into(), "service",
                "Recovery measured: retention, repurchase and revenue after a case, by outcome, against customers without a case".into(), viewer,
                responses(&[("200", ok(schema_ref("RecoveryReport"), "the report")),
                            ("422", response_ref("Invalid"))])))}),
    );
}

fn document() -> Value {
    let mut schemas = Map::new();
    problem_schemas(&mut schemas);
    let mut paths = Map::new();
    for e in ENTITIES {
        entity_schemas(e, &mut schemas);
        entity_paths(e, &mut paths);
    }
    event_schemas(&mut schemas);
    schemas.insert(
        "Stats".into(),
        json!({"type": "object", "description": "records per entity",
               "additionalProperties": {"type": "integer"}}),
    );
    schemas.insert(
        "TimelineEvent".into(),
        json!({
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "entity": {"type": "string"},
                "kind": {"type": "string", "description": "order, refund, call, case_opened, case_resolved, feedback, usage, trust, subscription_started, subscription_ended, …"},
                "record": {"type": "object", "description": "the record, as GET /api/v1/{entity}/{id} answers it"},
            },
            "required": ["at", "entity", "kind", "record"],
        }),
    );

    let mut events = operation(
        "ingest_events".into(),
        "events",
        format!(
            "Write up to {MAX_EVENTS} transactions, interactions and usage events, all or nothing"
        ),
        access(None, true),
        responses(&[
            ("200", ok(schema_ref("EventSummary"), "what the batch did")),
            ("413", response_ref("TooLarge")),
            ("422", response_ref("Invalid")),
        ]),
    );
    events.insert("requestBody".into(), body(schema_ref("EventBatch")));
    events.insert(
        "description".into(),
        json!(format!(
            "Needs the `{}` role or higher. Idempotent by id: events without one get an id derived from their content, so sending the same batch again changes nothing (`changed: false`). Any invalid event refuses the whole batch (422, each bad event's index, field and reason); more than {MAX_EVENTS} events: 413. Transactions create the customers they name; interactions and usage events need existing ones.",
            role_text(access(None, true))
        )),
    );
    paths.insert("/api/v1/events".into(), json!({"post": events}));

    let viewer = access(None, false);
    paths.insert(
        "/api/v1/customers/{id}/timeline".into(),
        json!({"parameters": [id_parameter(&kanta_domain::schema::CUSTOMERS)],
               "get": with_parameters(vec![
                   json!({"name": "limit", "in": "query", "description": "events per page",
                          "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}),
                   json!({"name": "cursor", "in": "query", "description": "next_cursor of the page before",
                          "schema": {"type": "string"}}),
               ], operation("customer_timeline".into(), "customers",
                   "What happened with a customer, newest first, a page at a time (`limit` 1-1000, default 100; `cursor` from `next_cursor`)".into(), viewer,
                   responses(&[
                       ("200", ok(json!({"type": "object", "required": ["items", "next_cursor"],
                           "properties": {"items": {"type": "array", "items": schema_ref("TimelineEvent")},
                                          "next_cursor": {"type": ["string", "null"]}}}), "a page of the timeline")),
                       ("404", response_ref("NotFound")),
                   ]))) }),
    );
    score_paths(&mut paths, &mut schemas);
    figure_schemas(&mut schemas);
    admin_paths(&mut paths, &mut schemas);
    super::cases::openapi(&mut paths, &mut schemas);
    service_paths(&mut paths, &mut schemas);
    super::economics::openapi(&mut paths, &mut schemas);
    super::value::openapi(&mut paths, &mut schemas);
    super::health::openapi(&mut paths, &mut schemas);
    super::queue::openapi(&mut paths, &mut schemas);
    super::surveys::openapi(&mut paths, &mut schemas);
    super::survey_waves::openapi(&mut paths, &mut schemas);
    super::feedback::openapi(&mut paths, &mut schemas);
    super::themes::openapi(&mut paths, &mut schemas);
    super::ideas::openapi(&mut paths, &mut schemas);
    super::endings::openapi(&mut paths, &mut schemas);
    super::offers::openapi(&mut paths, &mut schemas);
    super::privacy::openapi(&mut paths, &mut schemas);
    paths.insert(
        "/api/v1/stats".into(),
        json!({"get": operation("stats".into(), "meta", "Records per entity".into(), viewer,
            responses(&[("200", ok(schema_ref("Stats"), "counts"))]))}),
    );
    paths.insert(
        "/api/v1/openapi.json".into(),
        json!({"get": operation("openapi".into(), "meta", "This document".into(), viewer,
            responses(&[("200", ok(json!({"type": "object"}), "the OpenAPI document"))]))}),
    );
    paths.insert(
        "/healthz".into(),
        json!({"get": {
            "operationId": "health", "tags": ["meta"], "summary": "Liveness: answers ok",
            "security": [],
            "responses": {"200": {"description": "the server runs",
                "content": {"text/plain": {"schema": {"type": "string", "const": "ok"}}}}},
        }}),
    );

    let problem = |description: &str| {
        json!({"description": description,
               "content": {"application/problem+json": {"schema": schema_ref("Problem")}}})
    };
    let mut tags: Vec<Value> = ENTITIES
        .iter()
        .map(|e| json!({"name": e.name, "description": format!("{} records", noun(e))}))
        .collect();
    tags.push(json!({"name": "events", "description": "batch ingest"}));
    tags.push(json!({"name": "models", "description": "model runs and customer scores (written by kanta score)"}));
    tags.push(
        json!({"name": "admin", "description": "the audit log and background jobs (admins)"}),
    );
    tags.push(json!({"name": "settings", "description": "the store's settings: currency, time zone, language, business hours"}));
    tags.push(json!({"name": "service", "description": "SLA attainment, the small-claim rule's effect, recovery measured"}));
    tags.push(json!({"name": "health", "description": "the health score: the model in use and each customer's score with its reasons"}));
    tags.push(json!({"name": "queue", "description": "whom to contact today: the contact queue and the actions from its rows"}));
    tags.push(json!({"name": "ideas", "description": "the staff's ideas box and kudos"}));
    tags.push(json!({"name": "value", "description": "customer value: profitability and cost to serve, offers' uplift, retention economics"}));
    tags.push(json!({"name": "meta", "description": "health, counts and this document"}));

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kanta API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Kanta's customer-retention store over HTTP",
            "description": "Every entity of the store (customers, contacts, transactions, subscriptions, interactions, cases, feedback, usage, staff, trust) as JSON under /api/v1, and batch ingest of events. A record is its own id as `id`, its fields by name (money in integer minor units beside `currency`, times RFC 3339 UTC), and `created_at`/`updated_at`. Errors are RFC 9457 `application/problem+json` naming the field and the reason. Lists page with an opaque `cursor` (keyset, stable while records are added). Every write is recorded in the audit log (`GET /api/v1/audit`, admins) with its caller and the fields before and after; money given without a currency is in the store's currency (`GET /api/v1/settings`).",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                    "description": "an API token (created by an admin); each token carries a role: viewer < staff < manager < admin"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
                    "description": format!("the web UI's session (the signed-in user's role); writes must also send the session's CSRF token in the {} header", crate::auth::CSRF_HEADER)},
            },
            "schemas": schemas,
            "responses": {
                "BadRequest": problem("the request is malformed (not JSON, an unknown or repeated parameter)"),
                "Unauthorized": problem("no valid token or session"),
                "Forbidden": problem("the token's role is below the one the operation needs"),
                "NotFound": problem("no record with this id"),
                "Conflict": problem("a record with this id exists already, or the record cannot change"),
                "TooLarge": problem("the body or the batch is larger than the API takes"),
                "TooMany": problem("more requests this minute than the setting api_rate_limit allows the caller; `Retry-After` says when to try again"),
                "Invalid": problem("a value is not acceptable: `field` and `errors` say which and why"),
            },
        },
    })
}
