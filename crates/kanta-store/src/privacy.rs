//! Personal data: what the store holds about one customer (the export), its erasure,
//! the consent ledger, and the write context the ledger's triggers read.
//!
//! **The write context** (migration 0015): a write that may change a customer's consent
//! puts one row in `write_context` inside its transaction ([`Writer::set_context`]) and
//! the writer deletes it before it commits, so no other transaction ever sees it. The
//! triggers on `customers` copy its source, actor, address and wording version into the
//! consent ledger (`consent_entries`) for every change of survey or marketing consent
//! or of "do not contact", on every path (imports, the API, the pages, the links). A row
//! with `unlock` lets the erasure and the retention runs change the append-only tables
//! (the audit log, the ledger) inside their own transaction, and nothing else.
//!
//! **Erasure** ([`Writer::erase_customer`]) anonymises rather than deletes the customer
//! row, so their orders, subscriptions and answers' scores still count in revenue,
//! retention and NPS: the row's external id becomes a random one and its name, email,
//! phone, consents and free text go; every child record's external id is replaced and
//! its free text blanked (transactions, subscriptions, interactions, cases and their
//! steps, claims, feedback, usage); what is only about the person is deleted (contacts,
//! trust entries, goals and their notes and links, onboardings, health history, queue
//! rows, consent entries and requests, survey tokens, their mail and its jobs, theme
//! memberships, kudos); audit entries about any of their records keep their field names
//! with every value replaced, and the public pages' addresses go. Every text left in the
//! audit log, the outbox, the jobs, theme runs and ideas is searched for the person's
//! name, email, phone and words, which are replaced. On SQLite the erasure runs with
//! `secure_delete` on (freed space is zeroed) and the WAL is checkpointed afterwards.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value as Json};
use sqlx::AssertSqlSafe;

use crate::write::{DbTx, on_tx};
use crate::{Backend, Result, Store, Writer, with_pool};

/// Where a write comes from, as the consent ledger records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteContext {
    /// `import`, `api`, `page`, `cli`, `job`, `unsubscribe_link`, `double_opt_in`, ...
    pub source: String,
    /// Who: an email, a token's name, a file, a job's kind.
    pub actor: Option<String>,
    /// The address it came from (a web request's peer, a mail address).
    pub address: Option<String>,
    /// The version of the consent wording shown to the customer, where one was.
    pub wording: Option<String>,
    /// Lets this transaction change the append-only tables (erasure, retention).
    pub unlock: bool,
}

/// What replaces erased values in texts that stay.
pub const ERASED: &str = "[erased]";

/// The tables of a customer's own records with an external id, the entity name the
/// audit log files them under, and how their rows are found (`$1` = the customer).
const CHILD_RECORDS: &[(&str, &str)] = &[
    ("contacts", "customer_id = $1"),
    ("transactions", "customer_id = $1"),
    ("subscriptions", "customer_id = $1"),
    ("interactions", "customer_id = $1"),
    ("cases", "customer_id = $1"),
    ("claims", "customer_id = $1"),
    ("feedback", "customer_id = $1"),
    ("usage_events", "customer_id = $1"),
    ("trust_entries", "customer_id = $1"),
    ("goals", "customer_id = $1"),
    (
        "goal_notes",
        "goal_id IN (SELECT id FROM goals WHERE customer_id = $1)",
    ),
    ("onboardings", "customer_id = $1"),
    (
        "onboarding_tasks",
        "onboarding_id IN (SELECT id FROM onboardings WHERE customer_id = $1)",
    ),
];

/// Every table an export reads, with how the customer's rows are found (`$1` = the
/// customer's internal id). Tokens' digests are left out (`EXPORT_HIDDEN`).
pub const EXPORT_TABLES: &[(&str, &str)] = &[
    ("customers", "id = $1"),
    ("contacts", "customer_id = $1"),
    ("transactions", "customer_id = $1"),
    ("subscriptions", "customer_id = $1"),
    ("interactions", "customer_id = $1"),
    ("cases", "customer_id = $1"),
    (
        "case_events",
        "case_id IN (SELECT id FROM cases WHERE customer_id = $1)",
    ),
    ("claims", "customer_id = $1"),
    ("feedback", "customer_id = $1"),
    ("survey_invitations", "customer_id = $1"),
    ("usage_events", "customer_id = $1"),
    ("trust_entries", "customer_id = $1"),
    ("customer_scores", "customer_id = $1"),
    ("health_scores", "customer_id = $1"),
    ("goals", "customer_id = $1"),
    (
        "goal_notes",
        "goal_id IN (SELECT id FROM goals WHERE customer_id = $1)",
    ),
    ("onboardings", "customer_id = $1"),
    (
        "onboarding_tasks",
        "onboarding_id IN (SELECT id FROM onboardings WHERE customer_id = $1)",
    ),
    (
        "offers",
        "id IN (SELECT offer_id FROM offer_members WHERE customer_id = $1)",
    ),
    ("offer_members", "customer_id = $1"),
    ("redemptions", "customer_id = $1 AND offer_code IS NOT NULL"),
    ("customer_endings", "customer_id = $1"),
    ("customer_profit", "customer_id = $1"),
    ("contact_queue", "customer_id = $1"),
    ("queue_actions", "customer_id = $1"),
    ("consent_entries", "customer_id = $1"),
    ("consent_requests", "customer_id = $1"),
    ("ideas", "customer_id = $1"),
    (
        "outbox",
        "id IN (SELECT mail_id FROM survey_invitations WHERE customer_id = $1 \
         UNION SELECT mail_id FROM offer_members WHERE customer_id = $1 \
         UNION SELECT mail_id FROM customer_endings WHERE customer_id = $1) \
         OR to_addr IN (SELECT email FROM customers WHERE id = $1 \
         UNION SELECT email FROM contacts WHERE customer_id = $1)",
    ),
];

/// Columns an export leaves out: secrets' digests and tokens, which are not the
/// customer's data and would let a reader of the file act as them.
const EXPORT_HIDDEN: &[&str] = &["token_digest", "token_id"];

/// One table's rows of an export, each row a JSON object by column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportTable {
    pub table: String,
    pub rows: Vec<Map<String, Json>>,
}

/// What an erasure changed, by table (rows deleted or anonymised).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureCounts {
    pub deleted: BTreeMap<String, u64>,
    pub anonymised: BTreeMap<String, u64>,
    /// Audit entries whose values were blanked.
    pub audit_entries: u64,
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `survey`, `marketing` or `do_not_contact`.
    pub purpose: String,
    /// Given (or "do not contact" on), withdrawn (off), or unknown.
    pub value: Option<bool>,
    /// The time the source stated for it (`survey_consent_at`, ...).
    pub stated_at: Option<String>,
    pub source: String,
    pub wording: Option<String>,
    pub address: Option<String>,
    pub actor: Option<String>,
}

impl Writer {
    /// Says where this write comes from (see the module documentation); the writer
    /// removes the row again before it commits.
    pub async fn set_context(&mut self, c: &WriteContext) -> Result<()> {
        self.deferred_context = None;
        self.clear_context().await?;
        let sql = if self.tx.is_postgres() {
            "INSERT INTO write_context (source, actor, address, wording, unlock) \
             VALUES ($1, $2, $3, $4, $5)"
        } else {
            "INSERT INTO write_context (source, actor, address, wording, unlock) \
             VALUES ($1, $2, $3, $4, CAST($5 AS INTEGER))"
        };
        on_tx!(&mut self.tx, tx => {
            sqlx::query(sql)
                .bind(&c.source)
                .bind(&c.actor)
                .bind(&c.address)
                .bind(&c.wording)
                .bind(c.unlock)
                .execute(&mut **tx)
                .await?;
        });
        self.context_set = true;
        Ok(())
    }

    /// As [`Writer::set_context`] for a write whose context matters only to the
    /// consent triggers: the row goes in before the first batch of customers that
    /// carries a consent field, and not at all for a write without one (a `PATCH`
    /// of a customer's channel: two statements less).
    pub fn defer_context(&mut self, c: WriteContext) {
        self.deferred_context = Some(c);
    }

    /// Removes the write's context row (before the commit).
    pub(crate) async fn clear_context(&mut self) -> Result<()> {
        if self.context_set {
            on_tx!(&mut self.tx, tx => {
                sqlx::query("DELETE FROM write_context").execute(&mut **tx).await?;
            });
            self.context_set = false;
        }
        Ok(())
    }

    /// The internal id of the customer with this external id, within this transaction.
    pub async fn customer_id_of(&mut self, external_id: &str) -> Result<Option<i64>> {
        Ok(on_tx!(&mut self.tx, tx => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM customers WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(&mut **tx)
            .await?))
    }

    /// Erases the personal data of customer `id` (internal) in this transaction, which
    /// must carry a context with `unlock` ([`Writer::set_context`]); the customer's
    /// row keeps its figures under `new_external_id`. See the module documentation.
    pub async fn erase_customer(
        &mut self,
        id: i64,
        new_external_id: &str,
    ) -> Result<ErasureCounts> {
        let pg = self.tx.is_postgres();
        let tx = &mut self.tx;
        let mut counts = ErasureCounts::default();
        if !pg {
            // Freed space is overwritten with zeros, in this connection, from now on.
            tx.execute_plain("PRAGMA secure_delete = ON").await?;
        }
        let old_external: String = on_tx!(&mut *tx, t => sqlx::query_scalar::<_, String>(
                "SELECT external_id FROM customers WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **t)
                .await?);

        // What to look for in texts that stay: the person's identifiers and words.
        let needles = needles_of(tx, id).await?;

        // Each record's external id, by the entity the audit log names.
        let mut records: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        records.insert("customers", vec![old_external.clone()]);
        for (table, cond) in CHILD_RECORDS {
            let sql = format!("SELECT external_id FROM {table} WHERE {cond}");
            let ids: Vec<String> = on_tx!(&mut *tx, t => sqlx::query_scalar::<_, String>(
                AssertSqlSafe(sql)).bind(id).fetch_all(&mut **t).await?);
            if !ids.is_empty() {
                records.insert(table, ids);
            }
        }
        counts.audit_entries = scrub_audit(tx, &records, &needles, new_external_id).await?;

        // Mail to them or about them, and the jobs that would send it.
        let mail_sql = "SELECT id FROM outbox WHERE id IN (\
             SELECT mail_id FROM survey_invitations WHERE customer_id = $1 \
             UNION SELECT mail_id FROM offer_members WHERE customer_id = $1 \
             UNION SELECT mail_id FROM customer_endings WHERE customer_id = $1) \
             OR to_addr IN (SELECT email FROM customers WHERE id = $1 \
             UNION SELECT email FROM contacts WHERE customer_id = $1)";
        let mut mail_ids: BTreeSet<i64> = on_tx!(&mut *tx, t => sqlx::query_scalar::<_, i64>(
            AssertSqlSafe(mail_sql)).bind(id).fetch_all(&mut **t).await?)
        .into_iter()
        .collect();
        for n in &needles {
            let sql = format!(
                "SELECT id FROM outbox WHERE {f}(subject, $1) > 0 OR {f}(body_text, $1) > 0 \
                 OR {f}(coalesce(body_html, ''), $1) > 0",
                f = if pg { "strpos" } else { "instr" }
            );
            let ids: Vec<i64> = on_tx!(&mut *tx, t => sqlx::query_scalar::<_, i64>(
                AssertSqlSafe(sql)).bind(n).fetch_all(&mut **t).await?);
            mail_ids.extend(ids);
        }
        let mail_json = serde_json::to_string(&mail_ids.iter().collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let keys_json = serde_json::to_string(
            &mail_ids
                .iter()
                .map(|m| format!("mail-{m}"))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_else(|_| "[]".into());
        let (ids_in, keys_in) = if pg {
            (
                "(SELECT (jsonb_array_elements_text($1::jsonb))::bigint)",
                "(SELECT jsonb_array_elements_text($1::jsonb))",
            )
        } else {
            (
                "(SELECT value FROM json_each($1))",
                "(SELECT value FROM json_each($1))",
            )
        };
        let n = tx
            .execute_bound(
                &format!("DELETE FROM jobs WHERE kind = 'mail.send' AND unique_key IN {keys_in}"),
                &keys_json,
            )
            .await?;
        count(&mut counts.deleted, "jobs", n);
        for (table, col) in [
            ("survey_invitations", "mail_id"),
            ("offer_members", "mail_id"),
            ("customer_endings", "mail_id"),
        ] {
            tx.execute_bound(
                &format!("UPDATE {table} SET {col} = NULL WHERE {col} IN {ids_in}"),
                &mail_json,
            )
            .await?;
        }
        let n = tx
            .execute_bound(
                &format!("DELETE FROM outbox WHERE id IN {ids_in}"),
                &mail_json,
            )
            .await?;
        count(&mut counts.deleted, "outbox", n);

        // Only about the person: deleted.
        let deletes: &[(&str, &str)] = &[
            (
                "survey_tokens_used",
                "token_id IN (SELECT token_id FROM survey_invitations \
                 WHERE customer_id = $1 AND token_id IS NOT NULL)",
            ),
            (
                "kudos",
                "feedback_id IN (SELECT id FROM feedback WHERE customer_id = $1)",
            ),
            (
                "feedback_theme_members",
                "feedback_id IN (SELECT id FROM feedback WHERE customer_id = $1)",
            ),
            ("contacts", "customer_id = $1"),
            ("trust_entries", "customer_id = $1"),
            (
                "goal_notes",
                "goal_id IN (SELECT id FROM goals WHERE customer_id = $1)",
            ),
            ("goal_links", "customer_id = $1"),
            ("goals", "customer_id = $1"),
            (
                "onboarding_tasks",
                "onboarding_id IN (SELECT id FROM onboardings WHERE customer_id = $1)",
            ),
            ("onboardings", "customer_id = $1"),
            ("health_scores", "customer_id = $1"),
            ("contact_queue", "customer_id = $1"),
            ("queue_pending", "customer_id = $1"),
            ("queue_actions", "customer_id = $1"),
            ("consent_requests", "customer_id = $1"),
        ];
        for (table, cond) in deletes {
            let n = tx
                .execute_id(&format!("DELETE FROM {table} WHERE {cond}"), id)
                .await?;
            count(&mut counts.deleted, table, n);
        }

        // Kept for the figures, without identifiers or words. External ids become
        // the new customer id with the row's own number (unique, and meaningless
        // outside this store).
        let concat = |table: &str| {
            if pg {
                format!("$2 || '-{table}-' || id::text")
            } else {
                format!("$2 || '-{table}-' || id")
            }
        };
        let anonymise: &[(&str, &str, &str)] = &[
            ("transactions", "order_id = NULL", "customer_id = $1"),
            ("subscriptions", "end_reason = NULL", "customer_id = $1"),
            ("interactions", "note = NULL", "customer_id = $1"),
            (
                "cases",
                "summary = NULL, resolution = NULL",
                "customer_id = $1",
            ),
            ("claims", "decision_reason = NULL", "customer_id = $1"),
            (
                "feedback",
                "did_well = NULL, do_better = NULL, comment = NULL",
                "customer_id = $1",
            ),
            ("usage_events", "", "customer_id = $1"),
        ];
        for (table, set, cond) in anonymise {
            let sep = if set.is_empty() { "" } else { ", " };
            let sql = format!(
                "UPDATE {table} SET external_id = {}{sep}{set} WHERE {cond}",
                concat(table)
            );
            let n = on_tx!(&mut *tx, t => sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .bind(new_external_id)
                .execute(&mut **t)
                .await?
                .rows_affected());
            count(&mut counts.anonymised, table, n);
        }
        let plain: &[(&str, &str)] = &[
            (
                "case_events",
                "UPDATE case_events SET note = NULL \
                 WHERE case_id IN (SELECT id FROM cases WHERE customer_id = $1)",
            ),
            (
                "survey_invitations",
                "UPDATE survey_invitations SET token_id = NULL WHERE customer_id = $1",
            ),
            (
                "customer_endings",
                "UPDATE customer_endings SET note = NULL, decision_note = NULL \
                 WHERE customer_id = $1",
            ),
            (
                "ideas",
                "UPDATE ideas SET customer_id = NULL WHERE customer_id = $1",
            ),
        ];
        for (table, sql) in plain {
            let n = tx.execute_id(sql, id).await?;
            count(&mut counts.anonymised, table, n);
        }
        let (now, yes) = if pg {
            ("now()", "true")
        } else {
            ("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", "1")
        };
        let sql = format!(
            "UPDATE customers SET external_id = $2, name = NULL, email = NULL, phone = NULL, \
             survey_consent = NULL, survey_consent_at = NULL, marketing_consent = NULL, \
             marketing_consent_at = NULL, end_reason = NULL, do_not_contact = {yes}, \
             erased_at = {now}, updated_at = {now} WHERE id = $1"
        );
        on_tx!(&mut *tx, t => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .bind(new_external_id)
                .execute(&mut **t)
                .await?;
        });
        count(&mut counts.anonymised, "customers", 1);
        // The ledger's history of a person who is no longer known (the update above
        // added its own entries, which go too).
        let n = tx
            .execute_id("DELETE FROM consent_entries WHERE customer_id = $1", id)
            .await?;
        count(&mut counts.deleted, "consent_entries", n);

        // Their words wherever else a text may quote them.
        let texts: &[(&str, &str, bool)] = &[
            ("ideas", "body", false),
            ("ideas", "reply", false),
            ("jobs", "payload", true),
            ("jobs", "last_error", false),
            ("feedback_theme_runs", "details", true),
            ("feedback_themes", "label", false),
            ("feedback_changes", "description", false),
            ("case_events", "note", false),
        ];
        for n in &needles {
            for (table, col, json) in texts {
                let needle = if *json { json_escaped(n) } else { n.clone() };
                let sql = if pg && *json {
                    format!(
                        "UPDATE {table} SET {col} = CAST(replace(CAST({col} AS TEXT), $1, $2) AS JSONB) \
                         WHERE strpos(CAST({col} AS TEXT), $1) > 0"
                    )
                } else if pg {
                    format!(
                        "UPDATE {table} SET {col} = replace({col}, $1, $2) WHERE strpos({col}, $1) > 0"
                    )
                } else {
                    format!(
                        "UPDATE {table} SET {col} = replace({col}, $1, $2) WHERE instr({col}, $1) > 0"
                    )
                };
                let changed = on_tx!(&mut *tx, t => sqlx::query(AssertSqlSafe(sql))
                    .bind(&needle)
                    .bind(ERASED)
                    .execute(&mut **t)
                    .await?
                    .rows_affected());
                if changed > 0 {
                    count(&mut counts.anonymised, table, changed);
                }
            }
        }
        if !pg {
            tx.execute_plain("PRAGMA secure_delete = OFF").await?;
        }
        self.mark_written();
        Ok(counts)
    }
}

fn count(map: &mut BTreeMap<String, u64>, table: &str, n: u64) {
    if n > 0 {
        *map.entry(table.to_string()).or_default() += n;
    }
}

/// A text as it appears inside a JSON string (quotes and backslashes escaped).
fn json_escaped(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q[1..q.len().saturating_sub(1)].to_string()
}

/// Texts shorter than this are not searched for elsewhere (they would match words of
/// other people's texts).
const MIN_NEEDLE: usize = 5;

/// The person's name, email and phone, their contacts' and the texts they wrote or
/// that were written about them: what an erasure looks for in texts that stay.
async fn needles_of(tx: &mut DbTx, id: i64) -> Result<Vec<String>> {
    let queries = [
        "SELECT name FROM customers WHERE id = $1",
        "SELECT email FROM customers WHERE id = $1",
        "SELECT phone FROM customers WHERE id = $1",
        "SELECT name FROM contacts WHERE customer_id = $1",
        "SELECT email FROM contacts WHERE customer_id = $1",
        "SELECT phone FROM contacts WHERE customer_id = $1",
        "SELECT comment FROM feedback WHERE customer_id = $1",
        "SELECT did_well FROM feedback WHERE customer_id = $1",
        "SELECT do_better FROM feedback WHERE customer_id = $1",
        "SELECT summary FROM cases WHERE customer_id = $1",
        "SELECT resolution FROM cases WHERE customer_id = $1",
        "SELECT note FROM interactions WHERE customer_id = $1",
        "SELECT reason FROM trust_entries WHERE customer_id = $1 AND source = 'manual'",
        "SELECT title FROM goals WHERE customer_id = $1",
    ];
    let mut out = BTreeSet::new();
    for sql in queries {
        let found: Vec<Option<String>> = on_tx!(&mut *tx, t => sqlx::query_scalar::<_, Option<String>>(
            sql).bind(id).fetch_all(&mut **t).await?);
        for s in found.into_iter().flatten() {
            let s = s.trim().to_string();
            if s.chars().count() >= MIN_NEEDLE {
                out.insert(s);
            }
        }
    }
    // The longest first, so a sentence is replaced whole before a name inside it.
    let mut v: Vec<String> = out.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(v)
}

/// Blanks the audit entries about the customer's records (every value of `changes`,
/// the public pages' addresses) and replaces the needles in any other entry; the
/// customer's own entries are filed under the new id. Returns the entries changed.
async fn scrub_audit(
    tx: &mut DbTx,
    records: &BTreeMap<&str, Vec<String>>,
    needles: &[String],
    new_external_id: &str,
) -> Result<u64> {
    let pg = tx.is_postgres();
    let mut entries: BTreeMap<i64, String> = BTreeMap::new();
    let ids_in = if pg {
        "(SELECT jsonb_array_elements_text($2::jsonb))"
    } else {
        "(SELECT value FROM json_each($2))"
    };
    for (entity, ids) in records {
        for chunk in ids.chunks(10_000) {
            let json = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
            let sql = format!(
                "SELECT id, entity FROM audit_log WHERE entity = $1 AND record_id IN {ids_in}"
            );
            let rows = on_tx!(&mut *tx, t => sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql))
                .bind(*entity)
                .bind(json)
                .fetch_all(&mut **t)
                .await?);
            for (entry, entity) in rows {
                entries.insert(entry, entity);
            }
        }
    }
    let f = if pg { "strpos" } else { "instr" };
    for n in needles {
        let sql = format!(
            "SELECT id, entity FROM audit_log WHERE {f}(CAST(changes AS TEXT), $1) > 0 \
             OR {f}(CAST(details AS TEXT), $1) > 0 OR {f}(coalesce(record_id, ''), $2) > 0 \
             OR {f}(actor_name, $2) > 0"
        );
        let rows = on_tx!(&mut *tx, t => sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql))
            .bind(json_escaped(n))
            .bind(n)
            .fetch_all(&mut **t)
            .await?);
        for (entry, entity) in rows {
            entries.entry(entry).or_insert(entity);
        }
    }
    let about: BTreeMap<&str, BTreeSet<&str>> = records
        .iter()
        .map(|(e, ids)| (*e, ids.iter().map(String::as_str).collect()))
        .collect();
    let read = if pg {
        "SELECT record_id, CAST(changes AS TEXT), CAST(details AS TEXT), actor_name, actor_id, ip \
         FROM audit_log WHERE id = $1"
    } else {
        "SELECT record_id, changes, details, actor_name, actor_id, ip FROM audit_log WHERE id = $1"
    };
    let write = if pg {
        "UPDATE audit_log SET record_id = $2, changes = CAST($3 AS JSONB), \
         details = CAST($4 AS JSONB), actor_name = $5, ip = $6 WHERE id = $1"
    } else {
        "UPDATE audit_log SET record_id = $2, changes = $3, details = $4, actor_name = $5, \
         ip = $6 WHERE id = $1"
    };
    let mut changed = 0;
    for (entry, entity) in &entries {
        type Entry = (
            Option<String>,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let (record_id, changes, mut details, mut actor_name, actor_id, mut ip) = on_tx!(&mut *tx, t => sqlx::query_as::<_, Entry>(read)
                .bind(entry)
                .fetch_one(&mut **t)
                .await?);
        let is_about = record_id
            .as_deref()
            .is_some_and(|rid| about.get(entity.as_str()).is_some_and(|s| s.contains(rid)));
        let mut changes_json: Json = serde_json::from_str(&changes).unwrap_or(Json::Null);
        let new_record = if is_about {
            blank_values(&mut changes_json);
            // A customer on a public page acted from their own address.
            if actor_id.as_deref() == Some("public") {
                ip = None;
            }
            if entity == "customers" {
                Some(new_external_id.to_string())
            } else {
                Some(ERASED.to_string())
            }
        } else {
            record_id.clone()
        };
        let mut changes_text = changes_json.to_string();
        for n in needles {
            let esc = json_escaped(n);
            changes_text = changes_text.replace(&esc, ERASED);
            details = details.replace(&esc, ERASED);
            actor_name = actor_name.replace(n, ERASED);
        }
        let new_record = new_record.map(|r| {
            needles
                .iter()
                .fold(r, |acc, n| acc.replace(n.as_str(), ERASED))
        });
        on_tx!(&mut *tx, t => {
            sqlx::query(write)
                .bind(entry)
                .bind(&new_record)
                .bind(&changes_text)
                .bind(&details)
                .bind(&actor_name)
                .bind(&ip)
                .execute(&mut **t)
                .await?;
        });
        changed += 1;
    }
    Ok(changed)
}

/// Replaces every value in an audit entry's `changes` (`{"field": {"before": v,
/// "after": v}}`) with [`ERASED`], keeping the field names.
fn blank_values(changes: &mut Json) {
    if let Json::Object(fields) = changes {
        for (_, v) in fields.iter_mut() {
            match v {
                Json::Object(ba) => {
                    for (_, x) in ba.iter_mut() {
                        if !x.is_null() {
                            *x = Json::String(ERASED.into());
                        }
                    }
                }
                Json::Null => {}
                other => *other = Json::String(ERASED.into()),
            }
        }
    }
}

impl DbTx {
    pub(crate) async fn execute_plain(&mut self, sql: &str) -> Result<u64> {
        Ok(
            on_tx!(self, t => sqlx::query(AssertSqlSafe(sql.to_string()))
            .execute(&mut **t).await?.rows_affected()),
        )
    }

    pub(crate) async fn execute_id(&mut self, sql: &str, id: i64) -> Result<u64> {
        Ok(
            on_tx!(self, t => sqlx::query(AssertSqlSafe(sql.to_string()))
            .bind(id).execute(&mut **t).await?.rows_affected()),
        )
    }

    pub(crate) async fn execute_bound(&mut self, sql: &str, param: &str) -> Result<u64> {
        Ok(
            on_tx!(self, t => sqlx::query(AssertSqlSafe(sql.to_string()))
            .bind(param).execute(&mut **t).await?.rows_affected()),
        )
    }
}

impl Store {
    /// The internal id of the customer with this external id.
    pub async fn customer_internal_id(&self, external_id: &str) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM customers WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Everything the store holds about customer `id` (internal), table by table (see
    /// [`EXPORT_TABLES`]), and the audit entries about any of their records. Empty
    /// tables are left out.
    pub async fn customer_export(&self, id: i64) -> Result<Vec<ExportTable>> {
        let mut out = Vec::new();
        let mut records: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (table, cond) in EXPORT_TABLES {
            let (table_name, cond) = if *table == "redemptions" {
                ("transactions", *cond)
            } else {
                (*table, *cond)
            };
            let rows = self.rows_as_json(table_name, cond, id).await?;
            if rows.is_empty() {
                continue;
            }
            if CHILD_RECORDS.iter().any(|(t, _)| t == table) || *table == "customers" {
                records.insert(
                    table.to_string(),
                    rows.iter()
                        .filter_map(|r| r.get("external_id").and_then(Json::as_str))
                        .map(str::to_string)
                        .collect(),
                );
            }
            out.push(ExportTable {
                table: table.to_string(),
                rows,
            });
        }
        let mut audit = Vec::new();
        for (entity, ids) in &records {
            for chunk in ids.chunks(10_000) {
                let json = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
                let rows = match &self.backend {
                    Backend::Postgres(pool) => {
                        sqlx::query_scalar::<_, String>(
                            "SELECT row_to_json(a)::text FROM audit_log a WHERE entity = $1 \
                             AND record_id IN (SELECT jsonb_array_elements_text($2::jsonb)) \
                             ORDER BY id",
                        )
                        .bind(entity)
                        .bind(json)
                        .fetch_all(pool)
                        .await?
                    }
                    Backend::Sqlite(pool) => {
                        let cols = sqlite_json_object(pool, "audit_log").await?;
                        sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
                            "SELECT {cols} FROM audit_log WHERE entity = $1 \
                             AND record_id IN (SELECT value FROM json_each($2)) ORDER BY id"
                        )))
                        .bind(entity)
                        .bind(json)
                        .fetch_all(pool)
                        .await?
                    }
                };
                audit.extend(rows.iter().filter_map(|r| parse_row(r)));
            }
        }
        if !audit.is_empty() {
            audit.sort_by_key(|r| r.get("id").and_then(Json::as_i64).unwrap_or_default());
            out.push(ExportTable {
                table: "audit_log".into(),
                rows: audit,
            });
        }
        Ok(out)
    }

    /// The rows of `table` matching `cond` (`$1` = `id`) as JSON objects, without the
    /// hidden columns; JSON kept as text on SQLite is parsed.
    async fn rows_as_json(
        &self,
        table: &str,
        cond: &str,
        id: i64,
    ) -> Result<Vec<Map<String, Json>>> {
        let texts: Vec<String> = match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
                    "SELECT row_to_json(x)::text FROM {table} x WHERE {cond}"
                )))
                .bind(id)
                .fetch_all(pool)
                .await?
            }
            Backend::Sqlite(pool) => {
                let cols = sqlite_json_object(pool, table).await?;
                sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
                    "SELECT {cols} FROM {table} WHERE {cond}"
                )))
                .bind(id)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(texts.iter().filter_map(|t| parse_row(t)).collect())
    }

    /// A customer's consent ledger, oldest first.
    pub async fn consent_history(&self, customer_id: i64) -> Result<Vec<ConsentEntry>> {
        let sql = match &self.backend {
            Backend::Postgres(_) => {
                "SELECT id, at_ms, purpose, value, to_char(stated_at AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), source, wording, address, actor \
                 FROM consent_entries WHERE customer_id = $1 ORDER BY id"
            }
            Backend::Sqlite(_) => {
                "SELECT id, at_ms, purpose, CASE WHEN value IS NULL THEN NULL ELSE value <> 0 END, \
                 stated_at, source, wording, address, actor \
                 FROM consent_entries WHERE customer_id = $1 ORDER BY id"
            }
        };
        type Row9 = (
            i64,
            i64,
            String,
            Option<bool>,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows = with_pool!(self, pool => sqlx::query_as::<_, Row9>(sql)
            .bind(customer_id)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, at, purpose, value, stated_at, source, wording, address, actor)| {
                    ConsentEntry {
                        id,
                        at: crate::from_ms(at),
                        purpose,
                        value,
                        stated_at,
                        source,
                        wording,
                        address,
                        actor,
                    }
                },
            )
            .collect())
    }

    /// Writes the SQLite WAL back into the database file and truncates it (after an
    /// erasure: the WAL's copies of the erased pages go with it). Best effort: readers
    /// holding old snapshots may keep part of it until they finish.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Backend::Sqlite(pool) = &self.backend {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

/// `json_object('c1', c1, ...)` over a SQLite table's columns, without the hidden ones.
async fn sqlite_json_object(pool: &sqlx::SqlitePool, table: &str) -> Result<String> {
    let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(pool)
        .await?;
    let parts: Vec<String> = cols
        .iter()
        .filter(|c| !EXPORT_HIDDEN.contains(&c.as_str()))
        .map(|c| format!("'{c}', \"{c}\""))
        .collect();
    Ok(format!("json_object({})", parts.join(", ")))
}

/// One exported row; JSON kept as text (SQLite's `details`, `changes`) is parsed, and
/// the hidden columns are dropped (PostgreSQL's `row_to_json` has them all).
fn parse_row(text: &str) -> Option<Map<String, Json>> {
    let Json::Object(mut m) = serde_json::from_str(text).ok()? else {
        return None;
    };
    for h in EXPORT_HIDDEN {
        m.remove(*h);
    }
    for v in m.values_mut() {
        if let Json::String(s) = v
            && (s.starts_with('{') || s.starts_with('['))
            && let Ok(parsed) = serde_json::from_str::<Json>(s)
        {
            *v = parsed;
        }
    }
    Some(m)
}

/// When each retention schedule's data is old enough to go (`None`: kept forever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionCutoffs {
    /// Free text of answers given before this.
    pub answer_text: Option<chrono::DateTime<chrono::Utc>>,
    /// Customers with no activity since this are erased.
    pub inactive_customers: Option<chrono::DateTime<chrono::Utc>>,
    /// Audit entries before this are deleted.
    pub audit: Option<chrono::DateTime<chrono::Utc>>,
    /// Closed cases closed before this lose their text.
    pub closed_cases: Option<chrono::DateTime<chrono::Utc>>,
}

/// `(kind, the SQL that counts what would go)`, `$1` = the cutoff as the backend keeps
/// times (text on SQLite, a time on PostgreSQL; `audit` compares milliseconds).
const RETENTION_COUNTS: &[(&str, &str)] = &[
    (
        "answer_text",
        "SELECT count(*) FROM feedback WHERE answered_at < $1 \
         AND (comment IS NOT NULL OR did_well IS NOT NULL OR do_better IS NOT NULL)",
    ),
    (
        "closed_cases",
        "SELECT count(*) FROM cases WHERE closed_at < $1 \
         AND (summary IS NOT NULL OR resolution IS NOT NULL)",
    ),
];

/// Customers with no order, contact, answer or case since `$1`, no subscription running
/// then (`$2`, a date), not erased yet. Without orders, the day they were won (else the
/// day they came into Kanta) is their last activity.
const INACTIVE: &str = "SELECT c.id FROM customers c WHERE c.erased_at IS NULL \
    AND coalesce(c.last_purchase_at, c.acquired_on, c.created_at) < $1 \
    AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = c.id \
        AND (s.ended_on IS NULL OR s.ended_on >= $2)) \
    AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = c.id AND i.occurred_at >= $1) \
    AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.customer_id = c.id AND f.answered_at >= $1) \
    AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.customer_id = c.id AND k.opened_at >= $1) \
    ORDER BY c.id";

impl Writer {
    /// What the retention schedules would remove (`apply` false) or remove now, in this
    /// transaction (which must carry an unlocking context to delete audit entries).
    /// Returns the count per kind: `answer_text`, `closed_cases`,
    /// `inactive_customers`, `audit_entries`.
    pub async fn retention(
        &mut self,
        cut: &RetentionCutoffs,
        apply: bool,
    ) -> Result<BTreeMap<String, u64>> {
        let pg = self.tx.is_postgres();
        let mut out = BTreeMap::new();
        for (kind, sql) in RETENTION_COUNTS {
            let Some(at) = (match *kind {
                "answer_text" => cut.answer_text,
                _ => cut.closed_cases,
            }) else {
                continue;
            };
            let n = self.count_before(sql, at, pg).await?;
            out.insert(kind.to_string(), n);
            if apply && n > 0 {
                let sql = match *kind {
                    "answer_text" => {
                        "UPDATE feedback SET comment = NULL, did_well = NULL, do_better = NULL \
                         WHERE answered_at < $1 \
                         AND (comment IS NOT NULL OR did_well IS NOT NULL OR do_better IS NOT NULL)"
                    }
                    _ => {
                        "UPDATE cases SET summary = NULL, resolution = NULL WHERE closed_at < $1 \
                         AND (summary IS NOT NULL OR resolution IS NOT NULL)"
                    }
                };
                self.count_before(sql, at, pg).await?;
                if *kind == "answer_text" {
                    let members = "DELETE FROM feedback_theme_members WHERE feedback_id IN \
                         (SELECT id FROM feedback WHERE answered_at < $1)";
                    self.count_before(members, at, pg).await?;
                }
            }
        }
        if let Some(at) = cut.inactive_customers {
            let day = at.date_naive();
            let ids: Vec<i64> = if pg {
                on_tx!(&mut self.tx, t => sqlx::query_scalar::<_, i64>(INACTIVE)
                    .bind(at)
                    .bind(day)
                    .fetch_all(&mut **t)
                    .await?)
            } else {
                on_tx!(&mut self.tx, t => sqlx::query_scalar::<_, i64>(INACTIVE)
                    .bind(kanta_domain::value::format_time(&at))
                    .bind(day.format("%Y-%m-%d").to_string())
                    .fetch_all(&mut **t)
                    .await?)
            };
            out.insert("inactive_customers".into(), ids.len() as u64);
            if apply {
                for id in ids {
                    let new_id = format!("erased-r{id}-{}", chrono::Utc::now().timestamp_millis());
                    self.erase_customer(id, &new_id).await?;
                }
            }
        }
        if let Some(at) = cut.audit {
            let ms = at.timestamp_millis();
            let n: i64 = on_tx!(&mut self.tx, t => sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM audit_log WHERE at_ms < $1")
                .bind(ms)
                .fetch_one(&mut **t)
                .await?);
            out.insert("audit_entries".into(), n as u64);
            if apply && n > 0 {
                on_tx!(&mut self.tx, t => {
                    sqlx::query("DELETE FROM audit_log WHERE at_ms < $1")
                        .bind(ms)
                        .execute(&mut **t)
                        .await?;
                });
            }
        }
        if apply {
            self.mark_written();
        }
        Ok(out)
    }

    /// Runs `sql` with the cutoff `at` as the backend keeps times: the count it
    /// selects, or the rows it changed.
    async fn count_before(
        &mut self,
        sql: &str,
        at: chrono::DateTime<chrono::Utc>,
        pg: bool,
    ) -> Result<u64> {
        let counting = sql.starts_with("SELECT");
        Ok(if pg {
            on_tx!(&mut self.tx, t => if counting {
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_string()))
                    .bind(at).fetch_one(&mut **t).await? as u64
            } else {
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .bind(at).execute(&mut **t).await?.rows_affected()
            })
        } else {
            let at = kanta_domain::value::format_time(&at);
            on_tx!(&mut self.tx, t => if counting {
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_string()))
                    .bind(&at).fetch_one(&mut **t).await? as u64
            } else {
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .bind(&at).execute(&mut **t).await?.rows_affected()
            })
        })
    }
}

/// A double opt-in request as its link finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    pub id: i64,
    /// The customer's external id.
    pub customer: String,
    pub locale: Option<String>,
    pub expires_ms: i64,
    pub confirmed_ms: Option<i64>,
}

impl Writer {
    /// Records a double opt-in request for customer `customer_id` (internal), its
    /// link's token kept only as `digest`; returns its id.
    pub async fn add_consent_request(
        &mut self,
        customer_id: i64,
        digest: &str,
        wording: &str,
        address: Option<&str>,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<i64> {
        Ok(on_tx!(&mut self.tx, t => sqlx::query_scalar::<_, i64>(
            "INSERT INTO consent_requests (customer_id, purpose, token_digest, wording, address, \
             created_ms, expires_ms) VALUES ($1, 'marketing', $2, $3, $4, $5, $6) RETURNING id")
            .bind(customer_id)
            .bind(digest)
            .bind(wording)
            .bind(address)
            .bind(now_ms)
            .bind(expires_ms)
            .fetch_one(&mut **t)
            .await?))
    }

    /// Marks request `id` confirmed at `now_ms`, once: false when it was already.
    pub async fn confirm_consent_request(&mut self, id: i64, now_ms: i64) -> Result<bool> {
        Ok(on_tx!(&mut self.tx, t => sqlx::query(
            "UPDATE consent_requests SET confirmed_ms = $2 WHERE id = $1 AND confirmed_ms IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(&mut **t)
            .await?
            .rows_affected())
            == 1)
    }
}

impl Store {
    /// The double opt-in request whose token has this digest.
    pub async fn consent_request(&self, digest: &str) -> Result<Option<ConsentRequest>> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, (i64, String, Option<String>, i64, Option<i64>)>(
            "SELECT r.id, c.external_id, c.locale, r.expires_ms, r.confirmed_ms \
             FROM consent_requests r JOIN customers c ON c.id = r.customer_id \
             WHERE r.token_digest = $1")
            .bind(digest)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(
            |(id, customer, locale, expires_ms, confirmed_ms)| ConsentRequest {
                id,
                customer,
                locale,
                expires_ms,
                confirmed_ms,
            },
        ))
    }
}
