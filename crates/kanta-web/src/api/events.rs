//! `POST /api/v1/events`: a batch of up to [`MAX_EVENTS`] transactions, interactions
//! and usage events, written all or nothing in one transaction and idempotently by
//! external id.
//!
//! Every event is parsed and checked before anything is written (fields, required
//! values, repeated ids, references to customers and staff); any problem refuses
//! the whole batch with a 422 listing each bad event's index, field and reason.
//! Events without an `id` get one derived from their content (and their occurrence
//! among identical events of the batch), so sending the same batch again finds the
//! same records: the answer then counts them all as unchanged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use kanta_domain::schema::{
    CUSTOMERS, Entity, Field, INTERACTIONS, Kind, STAFF, TRANSACTIONS, USAGE_EVENTS,
};
use kanta_store::write::RunInfo;
use kanta_store::{WriteBatch, WriteSummary};
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value as Json_;

use super::entities::{
    DEFAULT_CURRENCY, WRITES, complete_new, json_object, new_id, noun, parse_row,
};
use super::{ApiError, Problem, access};
use crate::AppState;
use crate::auth::Caller;

/// Events one request takes at most.
pub const MAX_EVENTS: usize = 10_000;

/// The largest body the route reads (10,000 events with long notes fit).
pub const MAX_BODY: usize = 32 << 20;

/// The event types and the entity each is written to, in the order they are written
/// (transactions first: they create the customers they name).
pub(crate) const TYPES: &[(&str, &Entity)] = &[
    ("transaction", &TRANSACTIONS),
    ("interaction", &INTERACTIONS),
    ("usage", &USAGE_EVENTS),
];

/// What a batch did, in all and per type.
#[derive(Debug, Default, Serialize)]
pub struct IngestSummary {
    /// Events in the request.
    pub received: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Customers created because a transaction named them first.
    pub customers_created: u64,
    /// False when the store is as it was (the batch had been sent before).
    pub changed: bool,
    /// The event ids, in the request's order (derived ones included).
    pub ids: Vec<String>,
    pub by_type: BTreeMap<&'static str, WriteSummary>,
}

/// One event's rows for its type.
struct Typed {
    batch: WriteBatch,
    /// The index in the request of each row of the batch.
    indexes: Vec<usize>,
}

pub(super) async fn ingest(
    caller: Caller,
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(access(None, true))?;
    let mut obj = json_object(body)?;
    if let Some(k) = obj.keys().find(|k| *k != "events") {
        return Err(ApiError::bad_field(
            k,
            format!("'{k}' is not a member of the body: send {{\"events\": [...]}}"),
        ));
    }
    let events = match obj.remove("events") {
        Some(Json_::Array(a)) => a,
        Some(_) => {
            return Err(ApiError::invalid(
                "events",
                "must be an array of events".into(),
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "events",
                "is required: send {\"events\": [...]}".into(),
            ));
        }
    };
    if events.len() > MAX_EVENTS {
        return Err(ApiError::too_large(
            Some("events"),
            format!(
                "{} events in one request; at most {MAX_EVENTS}: split the batch",
                events.len()
            ),
        ));
    }
    let mut typed: Vec<Typed> = TYPES
        .iter()
        .map(|(_, e)| Typed {
            batch: WriteBatch::new(e, e.fields.iter().collect()),
            indexes: Vec::new(),
        })
        .collect();
    let mut ids: Vec<String> = Vec::with_capacity(events.len());
    let mut problems: Vec<Problem> = Vec::new();
    let at = |index: usize, list: Vec<Problem>, problems: &mut Vec<Problem>| {
        problems.extend(list.into_iter().map(|p| Problem {
            index: Some(index),
            ..p
        }));
    };
    // Where each id was first seen, per type; occurrences of identical content.
    let mut first_seen: Vec<HashMap<String, usize>> = vec![HashMap::new(); TYPES.len()];
    let mut occurrences: HashMap<(usize, String), u32> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        let Json_::Object(ev) = ev else {
            at(
                i,
                vec![problem("", "must be an object".into())],
                &mut problems,
            );
            continue;
        };
        let t = match ev.get("type") {
            Some(Json_::String(t)) => TYPES.iter().position(|(name, _)| name == t),
            _ => None,
        };
        let Some(t) = t else {
            let got = ev.get("type").map_or("nothing".into(), |v| v.to_string());
            at(
                i,
                vec![problem(
                    "type",
                    format!("is {got}, not one of transaction, interaction, usage"),
                )],
                &mut problems,
            );
            continue;
        };
        let e = TYPES[t].1;
        let row = match parse_row(e, ev, &["type"], DEFAULT_CURRENCY) {
            Ok(r) => r,
            Err(list) => {
                at(i, list, &mut problems);
                continue;
            }
        };
        let values = match complete_new(e, &row) {
            Ok(v) => v,
            Err(list) => {
                at(i, list, &mut problems);
                continue;
            }
        };
        let id = if row.id.is_some() {
            new_id(e, &row, &values, 1)
        } else {
            let first = new_id(e, &row, &values, 1);
            let n = occurrences.entry((t, first.clone())).or_insert(0);
            *n += 1;
            if *n == 1 {
                first
            } else {
                new_id(e, &row, &values, *n)
            }
        };
        if let Some(j) = first_seen[t].insert(id.clone(), i) {
            at(
                i,
                vec![problem(
                    "id",
                    format!("'{id}' is also the id of events[{j}]"),
                )],
                &mut problems,
            );
            continue;
        }
        ids.push(id.clone());
        typed[t].indexes.push(i);
        typed[t].batch.push(id, values);
    }
    let _turn = WRITES.lock().await;
    let first = typed.iter().position(|t| !t.batch.is_empty());
    let Some(first) = first else {
        if !problems.is_empty() {
            return Err(ApiError::invalid_many(problems));
        }
        return Ok(Json(IngestSummary::default()).into_response());
    };
    let mut w = s
        .store
        .writer(TYPES[first].1, TYPES[first].1.fields.iter().collect())
        .await?;
    // References, checked inside the transaction before anything is written (also
    // when other events are bad already: the answer lists every problem).
    let created_by_transactions: HashSet<&str> = texts(&typed[0], "customer_id").collect();
    for (t, (_, e)) in TYPES.iter().enumerate() {
        for (k, f) in e.fields.iter().enumerate() {
            let Kind::Ref(target) = f.kind else { continue };
            if target == "customers" && e.creates_customers {
                continue;
            }
            let target_entity: &'static Entity = if target == "customers" {
                &CUSTOMERS
            } else {
                &STAFF
            };
            let wanted: Vec<String> = texts(&typed[t], f.name)
                .filter(|id| target != "customers" || !created_by_transactions.contains(id))
                .collect::<HashSet<&str>>()
                .into_iter()
                .map(str::to_string)
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let known = w.known(target_entity, &wanted).await?;
            let wanted: HashSet<&str> = wanted.iter().map(String::as_str).collect();
            let stride = typed[t].batch.stride();
            for (row, index) in typed[t].batch.values.chunks(stride).zip(&typed[t].indexes) {
                if let Some(r) = row[k + 1].as_text()
                    && wanted.contains(r)
                    && !known.contains_key(r)
                {
                    problems.push(Problem {
                        index: Some(*index),
                        field: f.name.to_string(),
                        reason: format!("no {} with id '{r}'", noun(target_entity)),
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.index);
        // Dropping the writer rolls its transaction back.
        return Err(ApiError::invalid_many(problems));
    }
    let mut summary = IngestSummary {
        received: events.len() as u64,
        ..IngestSummary::default()
    };
    // (type, rows) of the entity being written.
    let mut current: Option<(usize, u64)> = None;
    for (t, ty) in typed.into_iter().enumerate() {
        if ty.batch.is_empty() {
            continue;
        }
        let e = TYPES[t].1;
        if let Some((prev, rows)) = current {
            let done = w
                .next_entity(e, e.fields.iter().collect(), &run(rows))
                .await?;
            add(&mut summary, TYPES[prev].0, done);
        }
        let mut batch = ty.batch;
        if e.creates_customers {
            batch.create_customers = distinct_texts(&batch, "customer_id");
        }
        current = Some((t, batch.len() as u64));
        w.write(batch).await?;
    }
    if let Some((last, rows)) = current {
        let done = w.finish(&run(rows)).await?;
        add(&mut summary, TYPES[last].0, done);
    }
    summary.changed = summary.inserted + summary.updated + summary.customers_created > 0;
    summary.ids = ids;
    Ok(Json(summary).into_response())
}

fn problem(field: &str, reason: String) -> Problem {
    Problem {
        index: None,
        field: field.to_string(),
        reason,
    }
}

fn run(rows: u64) -> RunInfo {
    RunInfo {
        source: "api events".into(),
        rows_read: rows,
        rejected: 0,
    }
}

fn add(s: &mut IngestSummary, name: &'static str, w: WriteSummary) {
    s.inserted += w.inserted;
    s.updated += w.updated;
    s.unchanged += w.unchanged;
    s.customers_created += w.customers_created;
    s.by_type.insert(name, w);
}

/// The texts of field `name` in a type's rows.
fn texts<'a>(t: &'a Typed, name: &str) -> impl Iterator<Item = &'a str> {
    field_texts(&t.batch, name)
}

fn field_texts<'a>(b: &'a WriteBatch, name: &str) -> impl Iterator<Item = &'a str> {
    let k = b.fields.iter().position(|f: &&Field| f.name == name);
    let stride = b.stride();
    b.values
        .chunks(stride)
        .filter_map(move |row| k.and_then(|k| row[k + 1].as_text()))
}

/// Each text of field `name` in the batch, once.
fn distinct_texts(b: &WriteBatch, name: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    field_texts(b, name)
        .filter(|c| seen.insert(*c))
        .map(str::to_string)
        .collect()
}
