//! The one write path. Every write of customers' data (imports, the API, events, the
//! pages' quick actions, later: jobs) goes through a [`WriteTx`]: it takes the
//! process's write turn, opens one store transaction, applies the reference policy
//! ([`ref_rule`], [`WriteTx::check_refs`]) and writes the audit entry of the change in
//! the same transaction ([`WriteTx::finish`]), so a change and its entry are committed,
//! or dropped, together.
//!
//! **Write turns.** Writes of one process take turns: SQLite has one writer at a time
//! anyway, and a transaction that read before it wrote could otherwise fail to upgrade
//! its lock when another committed in between. PostgreSQL gets the same order; writes
//! of several processes are serialised by the database itself (row locks, unique keys).
//! The one exception is a write that only inserts new rows (a batch of new events):
//! on PostgreSQL [`Core::begin_shared_write`] runs it beside other such writes, and
//! when it meets anything more (a row that exists) it fails as contended and is made
//! again alone.

use std::collections::{HashMap, HashSet};

use kanta_domain::schema::{self, CUSTOMERS, Entity, Field, Kind};
use kanta_domain::{Value, WriteBatch};
use kanta_store::audit::AuditEntry;
use kanta_store::write::{RunInfo, WriteSummary, Writer};
use kanta_store::{Record, Store};
use serde_json::{Map, Value as Json};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};

use crate::access::{access, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Problem, Result};

/// What a reference field of an entity may point at.
#[derive(Debug, Clone, Copy)]
pub enum RefRule {
    /// Missing customers are created (transactions, usage events: whatever a
    /// customer's activity brings in names its customer).
    CreatesCustomer,
    /// The referenced record must exist.
    MustExist(&'static Entity),
}

/// The reference policy, in one place: which missing records a write may create and
/// which must exist. `None` when the field is no reference.
pub fn ref_rule(entity: &Entity, field: &Field) -> Option<RefRule> {
    let Kind::Ref(target) = field.kind else {
        return None;
    };
    if target == CUSTOMERS.name && entity.creates_customers {
        return Some(RefRule::CreatesCustomer);
    }
    schema::entity(target).map(RefRule::MustExist)
}

/// The ids a batch's reference field names that do not exist.
#[derive(Debug)]
pub struct MissingRefs {
    /// The field's position in the batch's fields.
    pub field_index: usize,
    pub field: &'static Field,
    pub target: &'static Entity,
    pub missing: HashSet<String>,
}

/// Looks up which external ids exist: the open write transaction, or the store
/// (validation without writing).
pub trait RefLookup {
    fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, i64>>> + Send;
}

impl RefLookup for Store {
    async fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        Ok(self.existing_ids(target, ids).await?.into_iter().collect())
    }
}

impl RefLookup for WriteTx {
    async fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        Ok(self.writer.known(target, ids).await?.into_iter().collect())
    }
}

/// Applies the reference policy to a batch: sets the customers it may create (unless
/// `customers_listed`: the batch's producer named them already) and returns, per
/// reference field that must exist, the ids that do not. Ids in `exist_anyway`
/// (customers another part of the same write creates) count as existing.
pub async fn check_refs(
    lookup: &mut impl RefLookup,
    batch: &mut WriteBatch,
    customers_listed: bool,
    exist_anyway: &HashSet<String>,
) -> Result<Vec<MissingRefs>> {
    let mut out = Vec::new();
    let stride = batch.stride();
    for (k, f) in batch.fields.clone().into_iter().enumerate() {
        let Some(rule) = ref_rule(batch.entity, f) else {
            continue;
        };
        let mut seen = HashSet::new();
        let ids: Vec<String> = batch
            .values
            .chunks(stride)
            .filter_map(|row| row[k + 1].as_text())
            .filter(|id| seen.insert(*id))
            .map(str::to_string)
            .collect();
        match rule {
            RefRule::CreatesCustomer => {
                if !customers_listed {
                    batch.create_customers = ids;
                }
            }
            RefRule::MustExist(target) => {
                let wanted: Vec<String> = ids
                    .into_iter()
                    .filter(|id| !(target.name == CUSTOMERS.name && exist_anyway.contains(id)))
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let known = lookup.known(target, &wanted).await?;
                let missing: HashSet<String> = wanted
                    .into_iter()
                    .filter(|id| !known.contains_key(id))
                    .collect();
                if !missing.is_empty() {
                    out.push(MissingRefs {
                        field_index: k,
                        field: f,
                        target,
                        missing,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A record of the entity in words: "customer", "usage event".
pub fn noun(e: &Entity) -> &'static str {
    match e.name {
        "customers" => "customer",
        "contacts" => "contact",
        "transactions" => "transaction",
        "subscriptions" => "subscription",
        "interactions" => "interaction",
        "cases" => "case",
        "feedback" => "feedback answer",
        "surveys" => "survey",
        "offers" => "offer",
        "usage" => "usage event",
        "staff" => "staff member",
        "trust" => "trust ledger entry",
        "claims" => "claim",
        "onboarding_templates" => "onboarding template",
        "onboarding_steps" => "onboarding step",
        "onboardings" => "onboarding",
        "onboarding_tasks" => "onboarding task",
        "goals" => "goal",
        "goal_notes" => "goal note",
        _ => "record",
    }
}

/// The problems of missing references, one per row that names a missing record.
pub fn missing_ref_problems(batch: &WriteBatch, missing: &[MissingRefs]) -> Vec<Problem> {
    let stride = batch.stride();
    let mut out = Vec::new();
    for (row_index, row) in batch.values.chunks(stride).enumerate() {
        for m in missing {
            if let Some(r) = row[m.field_index + 1].as_text()
                && m.missing.contains(r)
            {
                out.push(Problem {
                    index: Some(row_index),
                    field: m.field.name.to_string(),
                    reason: format!("no {} with id '{r}'", noun(m.target)),
                });
            }
        }
    }
    out
}

/// What is wrong with one row's values, whoever made them (a file, the API, a page,
/// the demo): a time more than `max_future` ahead of now (`store.max_future_hours`: an
/// order dated 9999-12-31 is a typo, not the last purchase) or before 1900, a date
/// outside 1900..=2200, an amount beyond ±[`kanta_domain::money::MAX_MINOR`].
/// Only points in time (`Timestamp`) are bounded by now: a subscription's `renews_on`
/// is a future date by nature. `row` holds the values of `fields`, in order.
pub fn row_problem(
    fields: &[&'static Field],
    row: &[Value],
    latest: chrono::DateTime<chrono::Utc>,
    max_future: chrono::Duration,
) -> Option<(&'static str, String)> {
    use kanta_domain::value::{check_date, check_time, format_time};
    for (f, v) in fields.iter().zip(row) {
        let bad = match (f.kind, v) {
            (Kind::Timestamp, Value::Time(t)) => match check_time(*t) {
                Err(e) => Some(e.to_string()),
                Ok(t) if t > latest => Some(format!(
                    "{} is more than {} hours ahead of now; later times are refused as typos (setting store.max_future_hours)",
                    format_time(&t),
                    max_future.num_hours()
                )),
                Ok(_) => None,
            },
            (Kind::Date, Value::Date(d)) => check_date(*d).err().map(|e| e.to_string()),
            (Kind::Money, Value::Int(m)) => {
                let currency = fields
                    .iter()
                    .position(|g| g.kind == Kind::Currency)
                    .and_then(|i| row.get(i))
                    .and_then(Value::as_text)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(kanta_domain::Currency::EUR);
                kanta_domain::Money::bounded(*m, currency)
                    .err()
                    .map(|e| e.to_string())
            }
            _ => None,
        };
        if let Some(reason) = bad {
            return Some((f.name, reason));
        }
    }
    None
}

/// The problems of a batch's rows by [`row_problem`], each with its row's index.
pub fn value_problems(
    batch: &WriteBatch,
    latest: chrono::DateTime<chrono::Utc>,
    max_future: chrono::Duration,
) -> Vec<Problem> {
    let stride = batch.stride();
    if stride == 0 {
        return Vec::new();
    }
    batch
        .values
        .chunks(stride)
        .enumerate()
        .filter_map(|(i, row)| {
            row_problem(&batch.fields, &row[1..], latest, max_future).map(|(field, reason)| {
                Problem {
                    index: Some(i),
                    field: field.to_string(),
                    reason,
                }
            })
        })
        .collect()
}

/// A write's turn among the process's writes: alone, or beside other shared writes.
enum Turn {
    Alone(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
    Shared(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
}

/// One write in progress: the process's write turn, one store transaction and the
/// actor. Dropped unfinished, it leaves the store as before (no rows, no audit entry).
pub struct WriteTx {
    _turn: Turn,
    writer: Writer,
    acting: Acting,
    entity: &'static Entity,
    /// How far ahead of now a time may lie ([`row_problem`]).
    max_future: chrono::Duration,
    /// The service rules in force, read before the transaction began.
    rules: crate::rules::Rules,
}

impl Core {
    /// Begins a write of rows of `entity` carrying `fields`, by `acting`, who needs the
    /// role [`access`] names for writing the entity.
    pub async fn begin_write(
        &self,
        acting: &Acting,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
    ) -> Result<WriteTx> {
        self.begin_write_sharing(acting, entity, fields, false)
            .await
    }

    /// As [`Core::begin_write`], for a write that only inserts new rows (a batch of
    /// new events), beside other such writes: on PostgreSQL neither the process's write
    /// turn nor the database's write lock is taken alone
    /// ([`kanta_store::Store::shared_writer`]). A write that turns out to need more (a
    /// row that exists, a customer created meanwhile) fails with an error whose
    /// [`CoreError::is_contention`] is true: drop it and make the same write again with
    /// [`Core::begin_write`]. On SQLite it is [`Core::begin_write`].
    pub async fn begin_shared_write(
        &self,
        acting: &Acting,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
    ) -> Result<WriteTx> {
        self.begin_write_sharing(acting, entity, fields, true).await
    }

    /// [`Core::begin_shared_write`] when `shared`, else [`Core::begin_write`].
    pub async fn begin_write_sharing(
        &self,
        acting: &Acting,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
        shared: bool,
    ) -> Result<WriteTx> {
        require(acting, access(Some(entity), true))?;
        let turn = if shared && self.store.shares_writes() {
            Turn::Shared(self.writes.clone().read_owned().await)
        } else {
            Turn::Alone(self.writes.clone().write_owned().await)
        };
        self.begin_write_in(turn, acting, entity, fields).await
    }

    /// Begins a write of plain tables only (no rows of `entity` are written; it names
    /// the transaction's writer) that an actor of role `min` may make: an idea handed in
    /// by any signed-in user (`crate::ideas`). Audit entries go in with
    /// [`WriteTx::finish`] as for any write.
    pub(crate) async fn begin_plain_write(
        &self,
        acting: &Acting,
        min: crate::access::Role,
        entity: &'static Entity,
    ) -> Result<WriteTx> {
        require(acting, min)?;
        let turn = Turn::Alone(self.writes.clone().write_owned().await);
        self.begin_write_in(turn, acting, entity, Vec::new()).await
    }

    /// As [`Core::begin_write`] in a write turn taken already (to read what the write
    /// needs from the store before its transaction holds the database's write lock:
    /// inside it, every read must go through the transaction, or a SQLite pool whose
    /// other connections wait for that lock has none left to give).
    async fn begin_write_in(
        &self,
        turn: Turn,
        acting: &Acting,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
    ) -> Result<WriteTx> {
        // Read before the transaction holds the write lock (see above).
        let today = self.today().await?;
        let rules = self.rules().await?;
        let mut writer = match turn {
            Turn::Alone(_) => self.store.writer(entity, fields).await?,
            Turn::Shared(_) => self.store.shared_writer(entity, fields).await?,
        };
        writer.set_today(today);
        if entity.name == kanta_domain::schema::CUSTOMERS.name {
            // Changes of consent are recorded with where they came from (the row goes
            // in only before a batch that carries a consent field).
            writer.defer_context(crate::privacy::context_of(acting));
        }
        Ok(WriteTx {
            _turn: turn,
            writer,
            acting: acting.clone(),
            entity,
            max_future: self.max_future,
            rules,
        })
    }

    /// Creates one record (the API's POST): refused when the id exists or a reference
    /// names nothing; audited as `create` with every field given.
    ///
    /// A customer's activity (transactions, interactions, usage events) is created in a
    /// shared write first ([`Core::begin_shared_write`]), beside other such creates;
    /// when another write made the same id in the same moment, it is made again alone
    /// and answers the conflict.
    pub async fn create_record(
        &self,
        acting: &Acting,
        e: &'static Entity,
        id: &str,
        values: Vec<Value>,
    ) -> Result<Record> {
        let activity = matches!(e.name, "transactions" | "interactions" | "usage");
        if activity && self.shares_writes() {
            match self.create_in(acting, e, id, values.clone(), true).await {
                Err(err) if err.is_contention() => {}
                done => return done,
            }
        }
        self.create_in(acting, e, id, values, false).await
    }

    async fn create_in(
        &self,
        acting: &Acting,
        e: &'static Entity,
        id: &str,
        values: Vec<Value>,
        shared: bool,
    ) -> Result<Record> {
        let fields: Vec<&'static Field> = e.fields.iter().collect();
        let mut tx = self
            .begin_write_sharing(acting, e, fields.clone(), shared)
            .await?;
        // The id and every record the values name, in one statement: the checks
        // below and the write's own lookups are answered from it.
        let mut wanted = vec![(e, id.to_string())];
        for (f, v) in fields.iter().zip(&values) {
            if let (Kind::Ref(target), Some(r)) = (f.kind, v.as_text())
                && let Some(t) = schema::entity(target)
            {
                wanted.push((t, r.to_string()));
            }
        }
        tx.writer.prefetch(&wanted).await?;
        if !tx.known(e, &[id.to_string()]).await?.is_empty() {
            return Err(CoreError::Conflict {
                field: Some("id".into()),
                message: format!("a {} with id '{id}' exists already", noun(e)),
            });
        }
        let mut changes = Map::new();
        for (f, v) in fields.iter().zip(&values) {
            if !v.is_null() {
                changes.insert(f.name.into(), change(&Value::Null, v));
            }
        }
        self.write_one(tx, id, fields, values, "create", changes)
            .await
    }

    /// Changes the given fields of one record (PATCH, the pages' edits): refused when
    /// the record does not exist or a reference names nothing; audited as `update` with
    /// each changed field before and after (nothing is written or audited when nothing
    /// changes).
    pub async fn update_record(
        &self,
        acting: &Acting,
        e: &'static Entity,
        id: &str,
        fields: Vec<&'static Field>,
        values: Vec<Value>,
    ) -> Result<Record> {
        require(acting, access(Some(e), true))?;
        // The record as it is, read in this write's turn (no other write of this
        // process comes between) but before its transaction takes the write lock.
        let turn = Turn::Alone(self.writes.clone().write_owned().await);
        let before = self
            .store
            .get(e, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no {} with id '{id}'", noun(e))))?;
        let mut changes = Map::new();
        for (f, v) in fields.iter().zip(&values) {
            let old = before.get(f.name);
            if old.canonical() != v.canonical() || old.is_null() != v.is_null() {
                changes.insert(f.name.into(), change(old, v));
            }
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let mut tx = self.begin_write_in(turn, acting, e, fields.clone()).await?;
        // Read in this write's turn: no probe, no insert of a new row.
        tx.writer.mark_present([id.to_string()]);
        self.write_one(tx, id, fields, values, "update", changes)
            .await
    }

    /// Writes one record in `tx` under the reference policy, audited as `action` with
    /// `changes`, and reads it back.
    async fn write_one(
        &self,
        mut tx: WriteTx,
        id: &str,
        fields: Vec<&'static Field>,
        values: Vec<Value>,
        action: &str,
        changes: Map<String, Json>,
    ) -> Result<Record> {
        let e = tx.entity;
        let mut batch = WriteBatch::new(e, fields);
        batch.push(id.to_string(), values);
        let missing = check_refs(&mut tx, &mut batch, false, &HashSet::new()).await?;
        if !missing.is_empty() {
            return Err(CoreError::Invalid(strip_index(missing_ref_problems(
                &batch, &missing,
            ))));
        }
        tx.write(batch).await.map_err(|e| match e {
            CoreError::Invalid(p) => CoreError::Invalid(strip_index(p)),
            e => not_null(e),
        })?;
        let mut entry = tx.acting.audit(e.name, Some(id), action);
        entry.changes = Json::Object(changes);
        let run = run_info(tx.acting.channel.as_str(), 1);
        tx.finish(&run, vec![entry]).await.map_err(not_null)?;
        self.found(e, id).await
    }

    /// Writes a batch of rows in its own transaction (the demo's data, a page's
    /// quick action of several rows): the reference policy applied, refused whole when
    /// a reference names nothing, audited as one `import` entry with the batch's source
    /// and counts.
    pub async fn write_batch(
        &self,
        acting: &Acting,
        mut batch: WriteBatch,
    ) -> Result<WriteSummary> {
        let e = batch.entity;
        let mut tx = self.begin_write(acting, e, batch.fields.clone()).await?;
        let listed = !batch.create_customers.is_empty();
        let missing = check_refs(&mut tx, &mut batch, listed, &HashSet::new()).await?;
        if !missing.is_empty() {
            return Err(CoreError::Invalid(missing_ref_problems(&batch, &missing)));
        }
        let run = RunInfo {
            source: batch.source.clone(),
            rows_read: batch.rows_read.max(batch.len() as u64),
            rejected: batch.rejected,
        };
        let source = batch.source.clone();
        let rows = batch.len();
        tx.write(batch).await?;
        let acting = tx.acting.clone();
        tx.finish_with(&run, move |w| {
            let mut entry = acting.audit(e.name, None, "import");
            entry.details = serde_json::json!({
                "source": source,
                "rows": rows,
                "inserted": w.inserted,
                "updated": w.updated,
                "unchanged": w.unchanged,
                "customers_created": w.customers_created,
            });
            vec![entry]
        })
        .await
    }

    async fn found(&self, e: &'static Entity, id: &str) -> Result<Record> {
        self.store
            .get(e, id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no {} with id '{id}'", noun(e))))
    }
}

/// A column the database keeps non-empty, emptied by a write (SQLite: "NOT NULL
/// constraint failed: table.column"; PostgreSQL: "null value in column \"column\""),
/// as the field's problem rather than a server error.
fn not_null(e: CoreError) -> CoreError {
    let text = e.to_string();
    let column = text
        .split_once("NOT NULL constraint failed: ")
        .and_then(|(_, rest)| rest.split(['.', ' ', ')', '"']).nth(1))
        .or_else(|| {
            text.split_once("null value in column \"")
                .and_then(|(_, rest)| rest.split('"').next())
        });
    match column {
        Some(c) if !c.is_empty() => {
            CoreError::Invalid(vec![Problem::new(c, "cannot be empty: give a value")])
        }
        _ => e,
    }
}

/// A field's change as the audit log keeps it.
pub fn change(before: &Value, after: &Value) -> Json {
    kanta_store::audit::change(serde_json::json!(before), serde_json::json!(after))
}

fn strip_index(mut p: Vec<Problem>) -> Vec<Problem> {
    for x in &mut p {
        x.index = None;
    }
    p
}

/// The import log's record of a write from `source`.
pub fn run_info(source: &str, rows: u64) -> RunInfo {
    RunInfo {
        source: source.into(),
        rows_read: rows,
        rejected: 0,
    }
}

impl WriteTx {
    /// Who writes.
    pub fn acting(&self) -> &Acting {
        &self.acting
    }

    /// The entity being written.
    pub fn entity(&self) -> &'static Entity {
        self.entity
    }

    /// The store's writer, for what a write carries besides rows (mail, jobs).
    pub fn writer_mut(&mut self) -> &mut Writer {
        &mut self.writer
    }

    /// The external ids among `ids` that exist as records of `target` (within this
    /// transaction).
    pub async fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        RefLookup::known(self, target, ids).await
    }

    /// Writes a batch of the current entity (see [`check_refs`] for its references).
    /// Refused whole (422, each row's index) when a row has a value no write takes
    /// ([`row_problem`]: a time far ahead of now, an amount beyond the bound).
    ///
    /// After the rows are merged, the rules of what was written run in the same
    /// transaction: a case's SLA due times, events and trust entries ([`crate::cases`],
    /// [`crate::trust`]), a claim's small-claim rule ([`crate::claims`]), the trust
    /// entries of interactions and feedback.
    pub async fn write(&mut self, batch: WriteBatch) -> Result<()> {
        let problems = value_problems(&batch, self.latest_time(), self.max_future);
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let entity = batch.entity.name;
        let hooked = matches!(
            entity,
            "cases"
                | "claims"
                | "interactions"
                | "feedback"
                | "customers"
                | "subscriptions"
                | "trust"
                | "goals"
                | "onboarding_tasks"
                | "surveys"
                | "offers"
        );
        let ids: Vec<String> = if hooked {
            batch.ids().map(str::to_string).collect()
        } else {
            Vec::new()
        };
        // Rows of customers and subscriptions with a greater id than this are the ones
        // this write inserts (the process holds the write turn; ids only grow, a bulk
        // load into an empty table included): what the owner rule and auto-start
        // onboarding act on, not the existing rows written again.
        // A page's or the API's change of `let_lapse` or `status` changes the queue.
        let lapse_or_status = entity == "customers"
            && batch
                .fields
                .iter()
                .any(|f| matches!(f.name, "let_lapse" | "status"));
        let new_after_id = match entity {
            // A batch of records known to exist inserts none.
            _ if self.writer.all_present(&batch) => 0,
            "customers" | "subscriptions" => self.writer.max_id(batch.entity.table).await?,
            _ => 0,
        };
        let inserted_before = self.writer.inserted();
        self.writer.write(batch).await?;
        if hooked {
            // The rules read and join the rows just written.
            self.writer.merge_written().await?;
        }
        // The owner rule and auto-start onboarding act on the rows this write
        // inserted: an update (a PATCH) has none, and asks nothing of them.
        let inserted = self.writer.inserted() > inserted_before;
        match entity {
            "cases" => crate::cases::after_write(self, &ids).await?,
            "claims" => crate::claims::after_write(self, &ids).await?,
            "interactions" | "feedback" => crate::trust::after_write(self, &ids).await?,
            "customers" => {
                if inserted {
                    crate::owners::after_write(self, &ids, new_after_id).await?;
                    crate::onboarding::after_write(self, &ids, new_after_id).await?;
                }
                if lapse_or_status {
                    crate::endings::after_customers_write(self, &ids).await?;
                }
            }
            "subscriptions" if inserted => {
                crate::onboarding::after_write(self, &ids, new_after_id).await?
            }
            "subscriptions" => {}
            "surveys" => crate::surveys::after_write(self, &ids).await?,
            "offers" => crate::offers::after_write(self, &ids).await?,
            _ => {}
        }
        if entity == "feedback" {
            crate::feedback::after_write(self, &ids).await?;
            crate::kudos::after_write(self, &ids).await?;
        }
        if matches!(
            entity,
            "cases" | "interactions" | "feedback" | "trust" | "goals" | "onboarding_tasks"
        ) {
            crate::queue::after_write(self, &ids).await?;
        }
        Ok(())
    }

    /// The service rules in force for this write (read before it began).
    pub fn rules(&self) -> &crate::rules::Rules {
        &self.rules
    }

    /// The latest time this write accepts ([`row_problem`]).
    pub fn latest_time(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.max_future
    }

    /// How far ahead of now a time may lie (`store.max_future_hours`).
    pub fn max_future(&self) -> chrono::Duration {
        self.max_future
    }

    /// Merges what was written so far and turns to rows of another entity, in the same
    /// transaction (see [`Writer::next_entity`]).
    pub async fn next_entity(
        &mut self,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
        run: &RunInfo,
    ) -> Result<WriteSummary> {
        require(&self.acting, access(Some(entity), true))?;
        self.entity = entity;
        Ok(self.writer.next_entity(entity, fields, run).await?)
    }

    /// Merges, writes the audit entries in the same transaction, and commits.
    pub async fn finish(self, run: &RunInfo, audit: Vec<AuditEntry>) -> Result<WriteSummary> {
        self.finish_with(run, move |_| audit).await
    }

    /// As [`WriteTx::finish`], with audit entries made from what the merge did (an
    /// import's one entry names its counts).
    pub async fn finish_with(
        self,
        run: &RunInfo,
        audit: impl FnOnce(&WriteSummary) -> Vec<AuditEntry> + Send,
    ) -> Result<WriteSummary> {
        Ok(self.writer.finish_audited(run, audit).await?)
    }
}
