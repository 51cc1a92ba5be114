//! The trust ledger's rules, in SQL over sets of records: the entries a write of cases,
//! interactions or feedback earns (good jobs and mistakes), the breaches of a case's
//! SLA, the escalation cases of mistakes that land on a customer in deficit, and the
//! ledger as a customer's page reads it (entries with the balance after each, points
//! for the chart).
//!
//! **Automatic entries** carry `source` (`case`, `interaction`, `feedback`),
//! `source_id` (the record's external id), the event's time and a reason in words.
//! Their external id is `auto:<source>:<record id>:<rule>`, so writing the same record
//! again adds nothing. The ledger is append-only: when a rule stops holding (a case no
//! longer our fault, a resolved case reopened, an answer changed) a correcting entry
//! takes back what the rule's entries sum to, and when it holds again a new entry
//! gives it back; these later entries are `...:<rule>:2`, `...:<rule>:3` and so on,
//! so the ids stay deterministic and a unique index keeps two writers from doubling
//! one. A breach stays a breach: its rule is never corrected.
//!
//! Every statement works on up to [`CHUNK`] records at a time (an import of 300,000
//! cases costs a few dozen statements, not a statement per row); the rule's
//! conditions are written once for both backends.

use chrono::{DateTime, Utc};
use kanta_domain::value::format_time;
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::write::{DbTx, on_tx};
use crate::{Result, Store, Writer, with_pool};

/// Records per statement.
pub const CHUNK: usize = 10_000;

/// What a good job and a mistake are worth (a mistake is negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    pub good_job: i64,
    pub mistake: i64,
}

/// What makes an answer a detractor's for the ledger (the settings
/// `detractor_nps_max` and `detractor_csat_max`): NPS up to `nps_max`, or with no NPS
/// a CSAT up to `csat_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detractor {
    pub nps_max: i64,
    pub csat_max: i64,
}

impl Default for Detractor {
    /// NPS 0-6, CSAT 1-2.
    fn default() -> Self {
        Detractor {
            nps_max: 6,
            csat_max: 2,
        }
    }
}

/// One rule: when it holds for a record, the record earns `good_job` or `mistake`.
struct Rule {
    /// The entry's `source`.
    source: &'static str,
    table: &'static str,
    /// The rule's name in the entry's external id.
    tag: &'static str,
    mistake: bool,
    /// When it holds (SQL over the record `r`).
    cond: &'static str,
    /// The event's time (SQL over `r`; not null where `cond` holds).
    at: &'static str,
    /// The reason of the entry it earns, and of the entry that takes it back (SQL text).
    reason_on: &'static str,
    reason_off: &'static str,
    /// The same in Finnish (a store whose `language` is `fi`).
    reason_on_fi: &'static str,
    reason_off_fi: &'static str,
    /// Once earned, never taken back (a breach).
    sticky: bool,
}

const CASE_RULES: &[Rule] = &[
    Rule {
        source: "case",
        table: "cases",
        tag: "our_fault",
        mistake: true,
        cond: "r.our_fault",
        at: "r.opened_at",
        reason_on: "'Mistake: case ' || r.external_id || ' (' || r.category || ') was our fault'",
        reason_off: "'Correction: case ' || r.external_id || ' is no longer marked our fault'",
        reason_on_fi: "'Virhe: tapaus ' || r.external_id || ' (' || r.category || ') oli meidän vikamme'",
        reason_off_fi: "'Korjaus: tapausta ' || r.external_id || ' ei enää merkitty meidän viaksemme'",
        sticky: false,
    },
    Rule {
        source: "case",
        table: "cases",
        tag: "within_sla",
        mistake: false,
        // Both targets met; a case resolved with no first response recorded was
        // first answered at its resolution (as the list's breaching filter counts).
        cond: "r.status IN ('resolved', 'closed') AND r.resolved_at IS NOT NULL \
               AND r.resolution_due_at IS NOT NULL AND r.resolved_at <= r.resolution_due_at \
               AND (r.first_response_due_at IS NULL \
                    OR COALESCE(r.first_response_at, r.resolved_at) <= r.first_response_due_at)",
        at: "r.resolved_at",
        reason_on: "'Good job: case ' || r.external_id || ' (' || r.category || ') resolved within its SLA'",
        reason_off: "'Correction: case ' || r.external_id || ' is no longer resolved within its SLA'",
        reason_on_fi: "'Hyvä työ: tapaus ' || r.external_id || ' (' || r.category || ') ratkaistiin tavoiteajassa'",
        reason_off_fi: "'Korjaus: tapaus ' || r.external_id || ' ei ole enää ratkaistu tavoiteajassa'",
        sticky: false,
    },
    Rule {
        source: "case",
        table: "cases",
        tag: "breach_first_response",
        mistake: true,
        // Met late; with no first response recorded, met at the resolution (or the
        // closing) as the list's breaching filter counts it.
        cond: "r.first_response_due_at IS NOT NULL \
               AND COALESCE(r.first_response_at, r.resolved_at, r.closed_at) > r.first_response_due_at",
        at: "r.first_response_due_at",
        reason_on: "'Mistake: case ' || r.external_id || ' (' || r.category || ') missed its first response target'",
        reason_off: "''",
        reason_on_fi: "'Virhe: tapauksen ' || r.external_id || ' (' || r.category || ') ensivastauksen tavoiteaika ylittyi'",
        reason_off_fi: "''",
        sticky: true,
    },
    Rule {
        source: "case",
        table: "cases",
        tag: "breach_resolution",
        mistake: true,
        cond: "r.resolved_at IS NOT NULL AND r.resolution_due_at IS NOT NULL \
               AND r.resolved_at > r.resolution_due_at",
        at: "r.resolution_due_at",
        reason_on: "'Mistake: case ' || r.external_id || ' (' || r.category || ') missed its resolution target'",
        reason_off: "''",
        reason_on_fi: "'Virhe: tapauksen ' || r.external_id || ' (' || r.category || ') ratkaisun tavoiteaika ylittyi'",
        reason_off_fi: "''",
        sticky: true,
    },
];

const INTERACTION_RULES: &[Rule] = &[Rule {
    source: "interaction",
    table: "interactions",
    tag: "positive",
    mistake: false,
    cond: "r.outcome = 'positive'",
    at: "r.occurred_at",
    reason_on: "'Good job: ' || r.kind || ' with a positive outcome'",
    reason_off: "'Correction: interaction ' || r.external_id || ' no longer has a positive outcome'",
    reason_on_fi: "'Hyvä työ: yhteydenotto (' || r.kind || '), lopputulos myönteinen'",
    reason_off_fi: "'Korjaus: yhteydenoton ' || r.external_id || ' lopputulos ei ole enää myönteinen'",
    sticky: false,
}];

const FEEDBACK_RULES: &[Rule] = &[
    Rule {
        source: "feedback",
        table: "feedback",
        tag: "detractor",
        mistake: true,
        // `{nps_max}` and `{csat_max}` are the settings' whole numbers (`Detractor`).
        cond: "(r.nps IS NOT NULL AND r.nps <= {nps_max}) \
               OR (r.nps IS NULL AND r.csat IS NOT NULL AND r.csat <= {csat_max})",
        at: "r.answered_at",
        reason_on: "'Mistake: a detractor''s answer (' || CASE WHEN r.nps IS NOT NULL \
                    THEN 'would recommend us ' || CAST(r.nps AS TEXT) || '/10' \
                    ELSE 'satisfaction ' || CAST(r.csat AS TEXT) || '/5' END || ')'",
        reason_off: "'Correction: answer ' || r.external_id || ' is no longer a detractor''s'",
        reason_on_fi: "'Virhe: arvostelijan vastaus (' || CASE WHEN r.nps IS NOT NULL \
                       THEN 'suosittelisi meitä ' || CAST(r.nps AS TEXT) || '/10' \
                       ELSE 'tyytyväisyys ' || CAST(r.csat AS TEXT) || '/5' END || ')'",
        reason_off_fi: "'Korjaus: vastaus ' || r.external_id || ' ei ole enää arvostelijan'",
        sticky: false,
    },
    Rule {
        source: "feedback",
        table: "feedback",
        tag: "promoter",
        mistake: false,
        cond: "r.nps IS NOT NULL AND r.nps >= 9",
        at: "r.answered_at",
        reason_on: "'Good job: a promoter''s answer (would recommend us ' || CAST(r.nps AS TEXT) || '/10)'",
        reason_off: "'Correction: answer ' || r.external_id || ' is no longer a promoter''s'",
        reason_on_fi: "'Hyvä työ: suosittelijan vastaus (suosittelisi meitä ' || CAST(r.nps AS TEXT) || '/10)'",
        reason_off_fi: "'Korjaus: vastaus ' || r.external_id || ' ei ole enää suosittelijan'",
        sticky: false,
    },
];

/// The rules of an entity's records (by the entity's name), if it has any.
fn rules_of(entity: &str) -> &'static [Rule] {
    match entity {
        "cases" => CASE_RULES,
        "interactions" => INTERACTION_RULES,
        "feedback" => FEEDBACK_RULES,
        _ => &[],
    }
}

/// The steps of a case's SLA, as [`Writer::trust_breaches`] takes them.
pub const SLA_STEPS: [&str; 2] = ["first_response", "resolution"];

/// What applying rules wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries written.
    pub entries: u64,
    /// The internal ids of the mistakes among them (not corrections): the entries
    /// that may escalate ([`Writer::escalate_mistakes`]).
    pub mistakes: Vec<i64>,
}

impl Applied {
    fn add(&mut self, rows: Vec<(i64, i64)>, mistake: bool) {
        self.entries += rows.len() as u64;
        if mistake {
            self.mistakes
                .extend(rows.into_iter().filter(|(_, d)| *d < 0).map(|(id, _)| id));
        }
    }
}

/// An escalation case opened for a mistake on a customer in deficit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The case's internal and external id.
    pub case_id: i64,
    pub case_external_id: String,
    /// The mistake's ledger entry (internal id) and its reason.
    pub entry_id: i64,
    pub reason: String,
    pub occurred_at: DateTime<Utc>,
    pub customer_id: String,
    pub customer_name: Option<String>,
    /// The balance with the mistake.
    pub balance: i64,
    /// The customer's owner (staff register), when they have one and are active.
    pub owner_name: Option<String>,
    pub owner_email: Option<String>,
    /// The mistake's ledger entry: external id (`auto:<source>:<record>:<rule>`),
    /// source and source record, from which a message names the rule in any language.
    pub entry_external_id: String,
    pub source: String,
    pub source_id: Option<String>,
}

/// A user who hears of escalations when a customer has no owner to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    pub id: i64,
    pub email: String,
    pub lang: Option<String>,
}

/// `col IN` the ids bound at `$n` (SQLite: a JSON array; PostgreSQL: an array, or
/// with `one` a single id: `= ANY(array)` is planned again at every execution, an
/// equality once per connection).
fn in_list(tx: &DbTx, col: &str, n: usize, one: bool) -> String {
    match tx {
        DbTx::Sqlite(_) => format!("{col} IN (SELECT value FROM json_each(${n}))"),
        DbTx::Postgres(_) if one => format!("{col} = ${n}"),
        DbTx::Postgres(_) => format!("{col} = ANY(${n})"),
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The columns an automatic entry is written with.
const INSERT_INTO: &str = "INSERT INTO trust_entries \
    (external_id, customer_id, occurred_at, delta, reason, source, source_id, created_at, updated_at)";

/// The statement that applies `rule` to the records whose external ids are bound at
/// `$1`, returning each entry written (id, delta).
fn rule_sql(tx: &DbTx, rule: &Rule, credit: i64, fi: bool, d: Detractor, one: bool) -> String {
    let now = tx.now();
    let Rule {
        source,
        table,
        tag,
        cond,
        at,
        reason_on,
        reason_off,
        reason_on_fi,
        reason_off_fi,
        sticky,
        ..
    } = rule;
    let (reason_on, reason_off) = if fi {
        (reason_on_fi, reason_off_fi)
    } else {
        (reason_on, reason_off)
    };
    let cond = cond
        .replace("{nps_max}", &d.nps_max.to_string())
        .replace("{csat_max}", &d.csat_max.to_string());
    let ids = in_list(tx, "r.external_id", 1, one);
    let off = if *sticky {
        String::new()
    } else {
        " OR (NOT s.cond AND s.net <> 0)".into()
    };
    // The rule's entries of a record: its base id, or the base id and a number;
    // counted and summed per record in one grouped join (a hash join on PostgreSQL).
    let mine = "t.source = s0.source AND t.source_id = s0.xid \
                AND (t.external_id = s0.base OR substr(t.external_id, 1, length(s0.base) + 1) = s0.base || ':')";
    format!(
        "WITH s0 AS (\
            SELECT r.external_id AS xid, r.customer_id AS cid, '{source}' AS source, \
            (({cond}) IS TRUE) AS cond, {at} AS at, {reason_on} AS r_on, {reason_off} AS r_off, \
            'auto:{source}:' || r.external_id || ':{tag}' AS base \
            FROM {table} r WHERE {ids} AND r.customer_id IS NOT NULL\
         ), e AS (\
            SELECT s0.xid AS xid, count(*) AS n, CAST(sum(t.delta) AS BIGINT) AS net \
            FROM s0 JOIN trust_entries t ON {mine} GROUP BY s0.xid\
         ), s AS (\
            SELECT s0.*, coalesce(e.n, 0) AS n, coalesce(e.net, 0) AS net \
            FROM s0 LEFT JOIN e ON e.xid = s0.xid\
         ) \
         {INSERT_INTO} \
         SELECT CASE WHEN s.n = 0 THEN s.base ELSE s.base || ':' || CAST(s.n + 1 AS TEXT) END, \
            s.cid, CASE WHEN s.cond THEN s.at ELSE {now} END, \
            CASE WHEN s.cond THEN {credit} ELSE -s.net END, \
            CASE WHEN s.cond THEN s.r_on ELSE s.r_off END, s.source, s.xid, {now}, {now} \
         FROM s WHERE (s.cond AND s.net = 0){off} \
         ON CONFLICT (external_id) DO NOTHING RETURNING id, delta"
    )
}

impl Writer {
    /// Applies the trust rules of `entity` (`cases`, `interactions`, `feedback`; any
    /// other has none) to its records `ids` (external ids, merged already in this
    /// transaction): writes the entries they earn and the corrections of those they
    /// no longer earn. Records without a customer earn nothing.
    /// The reasons are in Finnish when `fi` (the store's `language`), else in English.
    pub async fn apply_trust_rules(
        &mut self,
        entity: &str,
        ids: &[String],
        credits: Credits,
        fi: bool,
        detractor: Detractor,
    ) -> Result<Applied> {
        let mut applied = Applied::default();
        let rules = rules_of(entity);
        if let (Some(rule), DbTx::Postgres(c)) = (rules.first(), &mut self.tx)
            && ids.len() > CHUNK
        {
            // A large write (an import): the planner needs the rows just written
            // counted, or it scans the table for every chunk.
            sqlx::query::<Postgres>(AssertSqlSafe(format!("ANALYZE {}", rule.table)))
                .execute(&mut **c)
                .await?;
            sqlx::query::<Postgres>("ANALYZE trust_entries")
                .execute(&mut **c)
                .await?;
        }
        for rule in rules {
            let credit = if rule.mistake {
                credits.mistake
            } else {
                credits.good_job
            };
            let one = ids.len() == 1;
            let sql = rule_sql(&self.tx, rule, credit, fi, detractor, one);
            for chunk in ids.chunks(CHUNK) {
                let rows: Vec<(i64, i64)> = match &mut self.tx {
                    DbTx::Sqlite(c) => {
                        sqlx::query_as::<Sqlite, (i64, i64)>(AssertSqlSafe(sql.clone()))
                            .bind(json(&chunk))
                            .fetch_all(&mut **c)
                            .await?
                    }
                    DbTx::Postgres(c) if one => {
                        sqlx::query_as::<Postgres, (i64, i64)>(AssertSqlSafe(sql.clone()))
                            .bind(&chunk[0])
                            .fetch_all(&mut **c)
                            .await?
                    }
                    DbTx::Postgres(c) => {
                        sqlx::query_as::<Postgres, (i64, i64)>(AssertSqlSafe(sql.clone()))
                            .bind(chunk)
                            .fetch_all(&mut **c)
                            .await?
                    }
                };
                applied.add(rows, rule.mistake);
            }
        }
        if applied.entries > 0 {
            self.mark_written();
        }
        Ok(applied)
    }

    /// Writes the mistakes of breached SLA steps: `(case external id, step, when the
    /// target passed)`, step `first_response` or `resolution`. Once per case and step,
    /// whoever sees the breach first (the SLA job, or a write of the case that met
    /// the target late); cases that do not exist and unknown steps are skipped.
    /// The reasons are in Finnish when `fi`.
    pub async fn trust_breaches(
        &mut self,
        breaches: &[(String, String, DateTime<Utc>)],
        mistake: i64,
        fi: bool,
    ) -> Result<Applied> {
        let now = self.tx.now();
        let input = match self.tx {
            DbTx::Sqlite(_) => {
                "(SELECT value->>0 AS xid, value->>1 AS step, value->>2 AS at FROM json_each($1)) AS x"
            }
            DbTx::Postgres(_) => {
                "UNNEST($1::text[], $2::text[], $3::timestamptz[]) AS x(xid, step, at)"
            }
        };
        let (words, reason) = if fi {
            (
                "CASE x.step WHEN 'first_response' THEN 'ensivastauksen' ELSE 'ratkaisun' END",
                "'Virhe: tapauksen ' || b.xid || ' (' || b.category || ') ' || b.words || ' tavoiteaika ylittyi'",
            )
        } else {
            (
                "CASE x.step WHEN 'first_response' THEN 'first response' ELSE 'resolution' END",
                "'Mistake: case ' || b.xid || ' (' || b.category || ') missed its ' || b.words || ' target'",
            )
        };
        let sql = format!(
            "WITH b AS (\
                SELECT c.external_id AS xid, c.customer_id AS cid, x.at AS at, c.category AS category, \
                {words} AS words, \
                'auto:case:' || c.external_id || ':breach_' || x.step AS base \
                FROM {input} JOIN cases c ON c.external_id = x.xid \
                WHERE x.step IN ('first_response', 'resolution')\
             ) \
             {INSERT_INTO} \
             SELECT b.base, b.cid, b.at, {mistake}, \
                {reason}, \
                'case', b.xid, {now}, {now} \
             FROM b WHERE NOT EXISTS (SELECT 1 FROM trust_entries t WHERE t.external_id = b.base) \
             ON CONFLICT (external_id) DO NOTHING RETURNING id, delta"
        );
        let mut applied = Applied::default();
        for chunk in breaches.chunks(CHUNK) {
            let rows: Vec<(i64, i64)> = match &mut self.tx {
                DbTx::Sqlite(c) => {
                    let rows: Vec<(&str, &str, String)> = chunk
                        .iter()
                        .map(|(id, step, at)| (id.as_str(), step.as_str(), format_time(at)))
                        .collect();
                    sqlx::query_as::<Sqlite, (i64, i64)>(AssertSqlSafe(sql.clone()))
                        .bind(json(&rows))
                        .fetch_all(&mut **c)
                        .await?
                }
                DbTx::Postgres(c) => {
                    sqlx::query_as::<Postgres, (i64, i64)>(AssertSqlSafe(sql.clone()))
                        .bind(chunk.iter().map(|b| b.0.clone()).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|b| b.1.clone()).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|b| b.2).collect::<Vec<_>>())
                        .fetch_all(&mut **c)
                        .await?
                }
            };
            applied.add(rows, true);
        }
        if applied.entries > 0 {
            self.mark_written();
        }
        Ok(applied)
    }

    /// Opens an escalation case for each mistake among `entries` (ledger entries'
    /// internal ids) that happened at or after `since` and landed on a customer
    /// already in deficit: with earlier entries summing to zero or less. The case
    /// (category `escalation`, severity high, open, owned by the customer's owner,
    /// `escalation_of` the entry, id `escalation-<entry id>`) is opened once per
    /// mistake (a unique index), with an `escalated` event naming `actor`. Returns the
    /// cases opened now.
    /// The case's summary is in Finnish when `fi`.
    pub async fn escalate_mistakes(
        &mut self,
        entries: &[i64],
        since: DateTime<Utc>,
        actor: &str,
        fi: bool,
    ) -> Result<Vec<Escalation>> {
        let mut out = Vec::new();
        if entries.is_empty() {
            return Ok(out);
        }
        let now = self.tx.now();
        let ids = in_list(&self.tx, "e.id", 1, false);
        let earlier = "FROM trust_entries p WHERE p.customer_id = e.customer_id AND p.id < e.id";
        // The mistake's reason without its own "Mistake: " (or "Virhe: ").
        let reason = "CASE WHEN e.reason LIKE 'Mistake: %' THEN substr(e.reason, 10) \
                      WHEN e.reason LIKE 'Virhe: %' THEN substr(e.reason, 8) ELSE e.reason END";
        let summary = if fi {
            "'Virhe asiakkaalle, jonka luottamussaldo on jo miinuksella: '"
        } else {
            "'A mistake on a customer already in trust deficit: '"
        };
        let open = format!(
            "INSERT INTO cases (external_id, customer_id, opened_at, category, severity, status, \
                summary, staff_id, escalation_of, created_at, updated_at) \
             SELECT 'escalation-' || CAST(e.id AS TEXT), e.customer_id, {now}, 'escalation', 'high', 'open', \
                {summary} || {reason}, c.owner_id, e.id, {now}, {now} \
             FROM trust_entries e JOIN customers c ON c.id = e.customer_id \
             WHERE {ids} AND e.delta < 0 AND e.occurred_at >= $2 \
                AND EXISTS (SELECT 1 {earlier}) \
                AND (SELECT coalesce(sum(p.delta), 0) {earlier}) <= 0 \
             ON CONFLICT DO NOTHING RETURNING id"
        );
        let mut opened: Vec<i64> = Vec::new();
        for chunk in entries.chunks(CHUNK) {
            opened.extend(match &mut self.tx {
                DbTx::Sqlite(c) => {
                    sqlx::query_scalar::<Sqlite, i64>(AssertSqlSafe(open.clone()))
                        .bind(json(&chunk))
                        .bind(format_time(&since))
                        .fetch_all(&mut **c)
                        .await?
                }
                DbTx::Postgres(c) => {
                    sqlx::query_scalar::<Postgres, i64>(AssertSqlSafe(open.clone()))
                        .bind(chunk)
                        .bind(since)
                        .fetch_all(&mut **c)
                        .await?
                }
            });
        }
        if opened.is_empty() {
            return Ok(out);
        }
        self.mark_written();
        let k_ids = in_list(&self.tx, "k.id", 1, false);
        let event = format!(
            "INSERT INTO case_events (case_id, at, kind, note, actor) \
             SELECT k.id, {now}, 'escalated', k.summary, $2 FROM cases k WHERE {k_ids}"
        );
        let details = format!(
            "SELECT k.id, k.external_id, e.id, e.reason, e.occurred_at, c.external_id, c.name, \
                (SELECT CAST(coalesce(sum(p.delta), 0) AS BIGINT) FROM trust_entries p \
                 WHERE p.customer_id = e.customer_id AND p.id <= e.id), \
                s.name, CASE WHEN s.active IS NOT FALSE THEN s.email END, \
                e.external_id, e.source, e.source_id \
             FROM cases k JOIN trust_entries e ON e.id = k.escalation_of \
             JOIN customers c ON c.id = k.customer_id LEFT JOIN staff s ON s.id = c.owner_id \
             WHERE {k_ids} ORDER BY k.id"
        );
        type Row = (
            i64,
            String,
            i64,
            String,
            DateTime<Utc>,
            String,
            Option<String>,
            i64,
            Option<String>,
            Option<String>,
            String,
            String,
            Option<String>,
        );
        for chunk in opened.chunks(CHUNK) {
            let rows: Vec<Row> = match &mut self.tx {
                DbTx::Sqlite(c) => {
                    sqlx::query::<Sqlite>(AssertSqlSafe(event.clone()))
                        .bind(json(&chunk))
                        .bind(actor)
                        .execute(&mut **c)
                        .await?;
                    sqlx::query_as::<Sqlite, Row>(AssertSqlSafe(details.clone()))
                        .bind(json(&chunk))
                        .fetch_all(&mut **c)
                        .await?
                }
                DbTx::Postgres(c) => {
                    sqlx::query::<Postgres>(AssertSqlSafe(event.clone()))
                        .bind(chunk)
                        .bind(actor)
                        .execute(&mut **c)
                        .await?;
                    sqlx::query_as::<Postgres, Row>(AssertSqlSafe(details.clone()))
                        .bind(chunk)
                        .fetch_all(&mut **c)
                        .await?
                }
            };
            out.extend(rows.into_iter().map(
                |(
                    case_id,
                    case_external_id,
                    entry_id,
                    reason,
                    occurred_at,
                    customer_id,
                    customer_name,
                    balance,
                    owner_name,
                    owner_email,
                    entry_external_id,
                    source,
                    source_id,
                )| {
                    Escalation {
                        case_id,
                        case_external_id,
                        entry_id,
                        reason,
                        occurred_at,
                        customer_id,
                        customer_name,
                        balance,
                        owner_name,
                        owner_email: owner_email.filter(|e| !e.trim().is_empty()),
                        entry_external_id,
                        source,
                        source_id,
                    }
                },
            ));
        }
        Ok(out)
    }

    /// The active users with the role manager or admin, read in this transaction
    /// (who hears of an escalation when the customer has no owner to tell).
    pub async fn managers(&mut self) -> Result<Vec<Manager>> {
        let sql = "SELECT id, email, lang FROM users \
                   WHERE active IS TRUE AND role IN ('manager', 'admin') ORDER BY id";
        let rows: Vec<(i64, String, Option<String>)> =
            on_tx!(&mut self.tx, c => sqlx::query_as(sql).fetch_all(&mut **c).await?);
        Ok(rows
            .into_iter()
            .map(|(id, email, lang)| Manager { id, email, lang })
            .collect())
    }
}

/// One entry of a customer's ledger, with the balance after it (entries in the order
/// they happened: by time, then as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: i64,
    pub external_id: String,
    pub at: DateTime<Utc>,
    pub delta: i64,
    pub reason: String,
    pub source: String,
    pub source_id: Option<String>,
    pub balance_after: i64,
}

/// A customer's ledger as the customer page reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub balance: i64,
    /// How many entries the customer has.
    pub count: u64,
    /// The newest entries, newest first.
    pub entries: Vec<LedgerEntry>,
    /// The balance after each entry, oldest first, thinned evenly to at most
    /// [`MAX_POINTS`] (and the last) when there are more.
    pub points: Vec<(DateTime<Utc>, i64)>,
}

/// Points of a ledger's chart, at most (plus the newest).
pub const MAX_POINTS: i64 = 500;

type EntryRow = (
    i64,
    String,
    DateTime<Utc>,
    i64,
    String,
    String,
    Option<String>,
    i64,
);

fn entry_of(r: EntryRow) -> LedgerEntry {
    LedgerEntry {
        id: r.0,
        external_id: r.1,
        at: r.2,
        delta: r.3,
        reason: r.4,
        source: r.5,
        source_id: r.6,
        balance_after: r.7,
    }
}

/// A customer's entries (customer's internal id at `$1`) with the running balance.
const WITH_BALANCE: &str = "SELECT t.id, t.external_id, t.occurred_at, t.delta, t.reason, t.source, t.source_id, \
     CAST(sum(t.delta) OVER (ORDER BY t.occurred_at, t.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) \
     AS balance_after, \
     row_number() OVER (ORDER BY t.occurred_at, t.id) AS rn, count(*) OVER () AS total \
     FROM trust_entries t WHERE t.customer_id = $1";

impl Store {
    /// The ledger of the customer with this external id: balance, entry count, the
    /// `limit` newest entries and the chart's points; `None` when there is no such
    /// customer.
    pub async fn trust_ledger(&self, customer: &str, limit: u32) -> Result<Option<Ledger>> {
        let entries_sql = format!(
            "SELECT id, external_id, occurred_at, delta, reason, source, source_id, balance_after \
             FROM ({WITH_BALANCE}) x ORDER BY x.occurred_at DESC, x.id DESC LIMIT $2"
        );
        let points_sql = format!(
            "SELECT occurred_at, balance_after FROM ({WITH_BALANCE}) x \
             WHERE x.total <= {MAX_POINTS} OR (x.rn - 1) % ((x.total + {m}) / {MAX_POINTS}) = 0 \
                OR x.rn = x.total \
             ORDER BY x.rn",
            m = MAX_POINTS - 1
        );
        let totals_sql = "SELECT CAST(coalesce(sum(delta), 0) AS BIGINT), count(*) \
                          FROM trust_entries WHERE customer_id = $1";
        with_pool!(self, pool => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE external_id = $1")
                .bind(customer)
                .fetch_optional(pool)
                .await?;
            let Some(id) = id else { return Ok(None) };
            let (balance, count): (i64, i64) = sqlx::query_as(totals_sql).bind(id).fetch_one(pool).await?;
            let rows: Vec<EntryRow> = sqlx::query_as(AssertSqlSafe(entries_sql))
                .bind(id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            let points: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(AssertSqlSafe(points_sql))
                .bind(id)
                .fetch_all(pool)
                .await?;
            Ok(Some(Ledger {
                balance,
                count: count.max(0) as u64,
                entries: rows.into_iter().map(entry_of).collect(),
                points,
            }))
        })
    }

    /// One ledger entry by external id, with the customer's balance after it.
    pub async fn trust_entry(&self, external_id: &str) -> Result<Option<LedgerEntry>> {
        let sql = format!(
            "SELECT id, external_id, occurred_at, delta, reason, source, source_id, balance_after \
             FROM ({}) x WHERE x.external_id = $2",
            WITH_BALANCE.replace(
                "t.customer_id = $1",
                "t.customer_id = (SELECT customer_id FROM trust_entries WHERE external_id = $1)"
            )
        );
        with_pool!(self, pool => {
            let row: Option<EntryRow> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(external_id)
                .bind(external_id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(entry_of))
        })
    }
}
