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
//!
//! The batch goes through the core's one write path, on PostgreSQL first as a shared
//! write (`Core::begin_shared_write`: beside other batches of new events; a batch that
//! meets an existing id or another batch's new customer is rolled back and written
//! again alone, `Core::begin_write`): its write turn, one transaction, the reference policy (`kanta_core::write::check_refs`:
//! transactions create the customers they name, which then count as existing for
//! the batch's interactions and usage events), and one audit entry per entity
//! written (action `create`, with the counts and up to [`AUDITED_IDS`] ids) in the
//! same transaction.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use kanta_core::write::{check_refs, missing_ref_problems, run_info};
use kanta_domain::schema::{Entity, Field, INTERACTIONS, TRANSACTIONS, USAGE_EVENTS};
use kanta_store::audit::AuditEntry;
use kanta_store::{WriteBatch, WriteSummary};
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value as Json_, json};

use super::entities::{complete_new, json_object, new_id, parse_row};
use super::{ApiError, Problem, access};
use crate::AppState;
use crate::auth::Caller;

/// Events one request takes at most.
pub const MAX_EVENTS: usize = 10_000;

/// The largest body the route reads (10,000 events with long notes fit).
pub const MAX_BODY: usize = 32 << 20;

/// Ids an audit entry of a batch lists at most (it counts them all).
pub const AUDITED_IDS: usize = 100;

/// The import log's source of an events batch.
const SOURCE: &str = "api events";

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
#[derive(Clone)]
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
    let currency = s.core.currency().await?;
    let zone = s.core.time_zone().await?;
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
        let row = match parse_row(e, ev, &["type"], currency, zone) {
            Ok(r) => r,
            Err(list) => {
                at(i, list, &mut problems);
                continue;
            }
        };
        let values = match complete_new(e, &row, currency) {
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
    let first = typed.iter().position(|t| !t.batch.is_empty());
    let Some(first) = first else {
        if !problems.is_empty() {
            return Err(ApiError::invalid_many(problems));
        }
        return Ok(Json(IngestSummary::default()).into_response());
    };
    // On PostgreSQL a batch is first written beside other batches (a shared write:
    // new events only); one that meets an existing id (sent before) or a customer
    // another batch created meanwhile is rolled back and written again alone.
    let attempt = if s.core.shares_writes() {
        match write_events(&s, &caller, first, typed.clone(), problems.clone(), true).await {
            Err(e) if e.is_contention() => None,
            done => Some(done),
        }
    } else {
        None
    };
    let done = match attempt {
        Some(done) => done,
        None => write_events(&s, &caller, first, typed, problems, false).await,
    };
    let mut summary = done?.map_err(ApiError::invalid_many)?;
    summary.received = events.len() as u64;
    summary.changed = summary.inserted + summary.updated + summary.customers_created > 0;
    summary.ids = ids;
    Ok(Json(summary).into_response())
}

/// Writes the batch's rows, type by type (`first`: the first type with rows), in one
/// transaction, shared with other batches' or alone ([`kanta_core::Core::begin_shared_write`]);
/// the problems of the request's events (those found parsing them, and every reference
/// to nothing) when there are any, and then nothing is written.
async fn write_events(
    s: &AppState,
    caller: &Caller,
    first: usize,
    mut typed: Vec<Typed>,
    mut problems: Vec<Problem>,
    shared: bool,
) -> Result<Result<IngestSummary, Vec<Problem>>, kanta_core::CoreError> {
    let e = TYPES[first].1;
    let fields = e.fields.iter().collect();
    let mut tx = s
        .core
        .begin_write_sharing(&caller.acting, e, fields, shared)
        .await?;
    // References, checked inside the transaction before anything is written (also
    // when other events are bad already: the answer lists every problem). Customers
    // the batch's transactions name are created by them, so they count as existing.
    let created_by_transactions: HashSet<String> = field_texts(&typed[0].batch, "customer_id")
        .map(str::to_string)
        .collect();
    for t in &mut typed {
        if t.batch.is_empty() {
            continue;
        }
        let missing = check_refs(&mut tx, &mut t.batch, false, &created_by_transactions).await?;
        problems.extend(
            missing_ref_problems(&t.batch, &missing)
                .into_iter()
                .map(|p| Problem {
                    index: p.index.map(|row| t.indexes[row]),
                    ..p
                }),
        );
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.index);
        // Dropping the write rolls its transaction back.
        return Ok(Err(problems));
    }
    let mut summary = IngestSummary::default();
    let mut audit = Vec::new();
    // (type, ids of its rows) of the entity being written.
    let mut current: Option<(usize, Vec<String>)> = None;
    for (t, ty) in typed.into_iter().enumerate() {
        if ty.batch.is_empty() {
            continue;
        }
        let e = TYPES[t].1;
        if let Some((prev, written)) = current.take() {
            let run = run_info(SOURCE, written.len() as u64);
            let done = tx.next_entity(e, e.fields.iter().collect(), &run).await?;
            let base = tx.acting().audit(TYPES[prev].1.name, None, "create");
            audit.extend(entry(&base, &written, &done));
            add(&mut summary, TYPES[prev].0, done);
        }
        let written: Vec<String> = ty
            .batch
            .values
            .chunks(ty.batch.stride())
            .filter_map(|row| row[0].as_text().map(str::to_string))
            .collect();
        current = Some((t, written));
        tx.write(ty.batch).await?;
    }
    if let Some((last, written)) = current {
        let base = tx.acting().audit(TYPES[last].1.name, None, "create");
        let run = run_info(SOURCE, written.len() as u64);
        let done = tx
            .finish_with(&run, move |done| {
                audit.extend(entry(&base, &written, done));
                audit
            })
            .await?;
        add(&mut summary, TYPES[last].0, done);
    }
    Ok(Ok(summary))
}

/// The audit entry of one entity's rows of a batch: the counts and the first
/// [`AUDITED_IDS`] ids; none when the rows changed nothing (the batch was sent before).
fn entry(base: &AuditEntry, ids: &[String], done: &WriteSummary) -> Option<AuditEntry> {
    if done.inserted + done.updated + done.customers_created == 0 {
        return None;
    }
    let mut e = base.clone();
    e.details = json!({
        "source": SOURCE,
        "count": ids.len(),
        "inserted": done.inserted,
        "updated": done.updated,
        "unchanged": done.unchanged,
        "customers_created": done.customers_created,
        "ids": &ids[..ids.len().min(AUDITED_IDS)],
        "ids_truncated": ids.len() > AUDITED_IDS,
    });
    Some(e)
}

fn problem(field: &str, reason: String) -> Problem {
    Problem {
        index: None,
        field: field.to_string(),
        reason,
    }
}

fn add(s: &mut IngestSummary, name: &'static str, w: WriteSummary) {
    s.inserted += w.inserted;
    s.updated += w.updated;
    s.unchanged += w.unchanged;
    s.customers_created += w.customers_created;
    s.by_type.insert(name, w);
}

fn field_texts<'a>(b: &'a WriteBatch, name: &str) -> impl Iterator<Item = &'a str> {
    let k = b.fields.iter().position(|f: &&Field| f.name == name);
    let stride = b.stride();
    b.values
        .chunks(stride)
        .filter_map(move |row| k.and_then(|k| row[k + 1].as_text()))
}
