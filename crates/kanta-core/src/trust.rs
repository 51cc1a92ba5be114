//! The trust ledger's rules (Sewell's bank account of trust): every job done well
//! credits the customer's balance, one mistake costs as much as ten good jobs, and a
//! mistake that lands on a customer already in deficit is escalated at once.
//!
//! **Automatic entries** are written in the transaction of the event that earns them,
//! over the whole batch at once (`kanta_store::trust`: set-based SQL, so an import of
//! 300,000 cases is a few dozen statements):
//! - a good job ([`TrustRules::good_job`], setting `trust_good_job`, default +1): an
//!   interaction with a positive outcome, a case resolved within its SLA, a promoter's
//!   answer (NPS 9-10);
//! - a mistake ([`TrustRules::mistake`], setting `trust_mistake`, default -10): a case
//!   that was our fault, a breached SLA step, a detractor's answer (NPS 0-6).
//!
//! Each names its source (`case`, `interaction`, `feedback`), the record's external id
//! (`source_id`), the event's time and a reason in words; its id is deterministic, so a
//! record written again adds nothing, and a flag that flips back (no longer our fault,
//! a case reopened) adds a correcting entry (the ledger is append-only).
//!
//! **Hooks** ([`crate::write::WriteTx::write`] runs them after the rows are merged):
//! [`after_write`] for interactions and feedback; [`after_cases`], which
//! [`crate::cases`] calls after it set the cases' due times; and [`breach_entries`]
//! (`pub(crate) async fn breach_entries(tx: &mut WriteTx, breaches: &[(String, String,
//! DateTime<Utc>)]) -> Result<u64>`: case external id, step `first_response` or
//! `resolution`, when the target passed) for the SLA job, which sees a target pass
//! unmet. A target met late is seen by [`after_cases`] itself (resolved or first
//! answered after the due time), so a resolve needs no call; both write one entry per
//! case and step.
//!
//! **Escalation:** a mistake whose event happened within the last
//! [`ESCALATION_DAYS`] days (history from an import is recorded, not escalated) and
//! that lands on a customer in deficit (earlier entries summing to zero or less) opens
//! a case (category `escalation`, severity high, owner = the customer's owner,
//! `escalation_of` = the entry: once per mistake), audited as `escalate`, and queues
//! one mail (key `escalation:<entry id>`) to the customer's owner, or, when the
//! customer has no owner with an email, one to each active manager and admin (key
//! `escalation:<entry id>:<user id>`), all in the same transaction. The escalation
//! case gets its due times and the first step of its timeline from
//! [`crate::cases::apply_sla`].
//!
//! **Manual entries** ([`Core::add_trust_entry`]): managers, with a reason, through the
//! one write path, audited. [`Core::trust_history`] reads a customer's balance, the
//! entries that explain it and the chart's points.

use chrono::{DateTime, Utc};
use kanta_domain::Value;
use kanta_domain::WriteBatch;
use kanta_domain::schema::{CUSTOMERS, TRUST_LEDGER};
use kanta_store::outbox::NewMail;
use kanta_store::trust::{Credits, Escalation, LedgerEntry};
use serde::Serialize;
use serde_json::json;

use crate::access::{access, require};
use crate::actor::Acting;
use crate::mail::{Lang, render};
use crate::settings::{DisplayZone, StoreSettings, zone_or_default};
use crate::write::{WriteTx, run_info};
use crate::{Core, CoreError, Result};

/// A good job's credit before a manager sets `trust_good_job`.
pub const DEFAULT_GOOD_JOB: i64 = 1;
/// A mistake's debit before a manager sets `trust_mistake`: ten good jobs.
pub const DEFAULT_MISTAKE: i64 = -10;
/// Only mistakes whose event is at most this many days old escalate.
pub const ESCALATION_DAYS: i64 = 14;
/// The newest entries [`Core::trust_history`] gives.
pub const HISTORY_ENTRIES: u32 = 100;
/// The largest change a manual entry may make, either way (the ledger's field bound).
pub const MAX_MANUAL_DELTA: i64 = 1_000_000;
/// The longest reason a manual entry takes, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The credits of a good job and a mistake, and what the escalation mail needs.
#[derive(Debug, Clone)]
pub struct TrustRules {
    /// A good job's credit (+1).
    pub good_job: i64,
    /// A mistake's debit (-10).
    pub mistake: i64,
    /// The store's language (`fi`, `en`): the mail to a customer's owner is in it.
    pub language: String,
    /// The store's time zone: the mail says when the mistake happened in it.
    pub time_zone: String,
}

impl Default for TrustRules {
    fn default() -> Self {
        TrustRules {
            good_job: DEFAULT_GOOD_JOB,
            mistake: DEFAULT_MISTAKE,
            language: "fi".into(),
            time_zone: kanta_domain::time::DEFAULT_ZONE.name().into(),
        }
    }
}

impl TrustRules {
    /// The rules the settings give (`trust_good_job`, `trust_mistake`; a stored value
    /// that no longer parses falls back to the default).
    pub fn from_settings(s: &StoreSettings) -> TrustRules {
        let read = |key: &str, parse: fn(&str) -> std::result::Result<String, String>, d: i64| {
            s.value(key)
                .and_then(|v| parse(v).ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        TrustRules {
            good_job: read(
                "trust_good_job",
                crate::settings::parse_trust_good_job,
                DEFAULT_GOOD_JOB,
            ),
            mistake: read(
                "trust_mistake",
                crate::settings::parse_trust_mistake,
                DEFAULT_MISTAKE,
            ),
            language: s.language.clone(),
            time_zone: s.time_zone.clone(),
        }
    }

    /// How many good jobs one mistake costs (10 by default).
    pub fn ratio(&self) -> f64 {
        self.mistake.abs() as f64 / self.good_job.max(1) as f64
    }

    /// Whether the store writes in Finnish (its `language`; Finnish unless `en`).
    pub fn finnish(&self) -> bool {
        Lang::parse(&self.language).unwrap_or(Lang::Fi) == Lang::Fi
    }

    fn credits(&self) -> Credits {
        Credits {
            good_job: self.good_job,
            mistake: self.mistake,
        }
    }
}

/// Runs in the transaction of every write of interactions or feedback, after the rows
/// are merged: their good jobs and mistakes, and the escalations of the mistakes.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    let entity = tx.entity().name;
    apply(tx, entity, ids).await
}

/// Runs in the transaction of every write of cases, after [`crate::cases`] set their
/// due times: mistakes (our fault, targets met late) and good jobs (resolved within
/// SLA), corrections of flags that flipped, and escalations.
pub(crate) async fn after_cases(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    apply(tx, "cases", ids).await
}

/// Writes the mistakes of SLA steps that breached: `(case external id, step, when the
/// target passed)`, step `first_response` or `resolution`; once per case and step.
/// Escalates as any mistake does. Returns how many entries were written.
pub(crate) async fn breach_entries(
    tx: &mut WriteTx,
    breaches: &[(String, String, DateTime<Utc>)],
) -> Result<u64> {
    if breaches.is_empty() {
        return Ok(0);
    }
    let mistake = tx.rules().trust.mistake;
    let fi = tx.rules().trust.finnish();
    let applied = tx
        .writer_mut()
        .trust_breaches(breaches, mistake, fi)
        .await?;
    escalate(tx, &applied.mistakes).await?;
    Ok(applied.entries)
}

async fn apply(tx: &mut WriteTx, entity: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let credits = tx.rules().trust.credits();
    let fi = tx.rules().trust.finnish();
    let detractor = if entity == "feedback" {
        crate::feedback::detractor_rule(tx).await?
    } else {
        kanta_store::trust::Detractor::default()
    };
    let applied = tx
        .writer_mut()
        .apply_trust_rules(entity, ids, credits, fi, detractor)
        .await?;
    escalate(tx, &applied.mistakes).await
}

/// Opens the escalation cases of these new mistakes (those that escalate), audits
/// them and queues their mail, in the write's transaction.
async fn escalate(tx: &mut WriteTx, mistakes: &[i64]) -> Result<()> {
    if mistakes.is_empty() {
        return Ok(());
    }
    let since = Utc::now() - chrono::Duration::days(ESCALATION_DAYS);
    let acting = tx.acting().clone();
    let actor = crate::cases::who(tx).await?.name;
    let fi = tx.rules().trust.finnish();
    let opened = tx
        .writer_mut()
        .escalate_mistakes(mistakes, since, &actor, fi)
        .await?;
    if opened.is_empty() {
        return Ok(());
    }
    let case_ids: Vec<String> = opened.iter().map(|e| e.case_external_id.clone()).collect();
    // Due times and the first step of their timelines, as any new case gets.
    crate::cases::apply_sla(tx, &case_ids).await?;
    let rules = tx.rules().trust.clone();
    let managers = if opened.iter().any(|e| e.owner_email.is_none()) {
        tx.writer_mut().managers().await?
    } else {
        Vec::new()
    };
    let store_lang = Lang::parse(&rules.language).unwrap_or(Lang::Fi);
    let zone = DisplayZone(zone_or_default(&rules.time_zone));
    // Escalations with nobody to mail (no owner, no manager yet): one line for all.
    let mut untold = 0usize;
    for e in &opened {
        let mut entry = acting.audit("cases", Some(&e.case_external_id), "escalate");
        entry.details = json!({
            "customer_id": e.customer_id,
            "trust_entry": e.entry_id,
            "reason": e.reason,
            "balance": e.balance,
            "owner": e.owner_name,
        });
        tx.writer_mut().audit(&entry).await?;
        let key = format!("escalation:{}", e.entry_id);
        let recipients: Vec<(String, String, Lang)> = match &e.owner_email {
            Some(email) => vec![(key, email.clone(), store_lang)],
            None => managers
                .iter()
                .map(|m| {
                    let lang = m
                        .lang
                        .as_deref()
                        .and_then(Lang::parse)
                        .unwrap_or(store_lang);
                    (format!("{key}:{}", m.id), m.email.clone(), lang)
                })
                .collect(),
        };
        if recipients.is_empty() {
            untold += 1;
        }
        for (key, to, lang) in recipients {
            queue_escalation_mail(tx, &acting, e, &key, &to, lang, zone).await?;
        }
    }
    if untold > 0 {
        tracing::warn!(
            "{untold} escalation cases opened with no owner or manager with an email to tell; they are in the cases list under the category escalation"
        );
    }
    Ok(())
}

/// The rule of an automatic ledger entry (`our_fault`, `breach_resolution`, ...) from
/// its external id `auto:<source>:<record>:<rule>[:n]`.
pub fn rule_of(external_id: &str, source: &str, source_id: Option<&str>) -> Option<String> {
    let sid = source_id?;
    let rest = external_id.strip_prefix(&format!("auto:{source}:{sid}:"))?;
    Some(rest.split(':').next().unwrap_or(rest).to_string())
}

/// An escalated mistake in words of `lang`, from its rule; an entry no rule wrote
/// keeps its stored reason.
pub fn mistake_words(e: &Escalation, lang: Lang) -> String {
    let rule = rule_of(&e.entry_external_id, &e.source, e.source_id.as_deref());
    let src = e.source_id.as_deref().unwrap_or_default();
    let fi = lang == Lang::Fi;
    match rule.as_deref() {
        Some("our_fault") if fi => format!("tapaus {src} oli meidän vikamme"),
        Some("our_fault") => format!("case {src} was our fault"),
        Some("breach_first_response") if fi => {
            format!("tapauksen {src} ensivastauksen tavoiteaika ylittyi")
        }
        Some("breach_first_response") => format!("case {src} missed its first response target"),
        Some("breach_resolution") if fi => format!("tapauksen {src} ratkaisun tavoiteaika ylittyi"),
        Some("breach_resolution") => format!("case {src} missed its resolution target"),
        Some("detractor") if fi => format!("arvostelijan vastaus ({src})"),
        Some("detractor") => format!("a detractor's answer ({src})"),
        _ => e.reason.clone(),
    }
}

async fn queue_escalation_mail(
    tx: &mut WriteTx,
    acting: &Acting,
    e: &Escalation,
    key: &str,
    to: &str,
    lang: Lang,
    zone: DisplayZone,
) -> Result<()> {
    let customer = e.customer_name.as_deref().unwrap_or(&e.customer_id);
    let when = zone.date_time(e.occurred_at);
    let balance = e.balance.to_string();
    // The mistake in the mail's language, from the rule that wrote it (the stored
    // reason is in the store's language).
    let mistake = mistake_words(e, lang);
    let path = format!("/cases/{}", crate::cases::path_segment(&e.case_external_id));
    let vars = [
        ("customer", customer),
        ("customer_id", e.customer_id.as_str()),
        ("reason", mistake.as_str()),
        ("path", path.as_str()),
        ("when", when.as_str()),
        ("balance", balance.as_str()),
        ("case", e.case_external_id.as_str()),
    ];
    let m = render("escalation", lang, &vars).map_err(|e| CoreError::Other(e.into()))?;
    let id = tx
        .writer_mut()
        .queue_mail(&NewMail {
            key: key.to_string(),
            to: to.to_string(),
            subject: m.subject.clone(),
            text: m.text,
            html: Some(m.html),
        })
        .await?;
    if let Some(id) = id {
        let mut entry = acting.audit("outbox", Some(key), "mail_queued");
        entry.details = json!({ "to": to, "subject": m.subject, "mail_id": id });
        tx.writer_mut().audit(&entry).await?;
    }
    Ok(())
}

/// A customer's trust balance, the entries that explain it and its history.
#[derive(Debug, Clone, Serialize)]
pub struct TrustHistory {
    pub balance: i64,
    /// The balance is zero or below and there is at least one entry.
    pub in_deficit: bool,
    /// The newest entries (at most [`HISTORY_ENTRIES`]), newest first.
    pub entries: Vec<TrustEntry>,
    /// How many entries the customer has in all.
    pub total: u64,
    /// The balance after each entry, oldest first, for the chart (thinned evenly to
    /// about 500 points when there are more).
    pub points: Vec<(DateTime<Utc>, i64)>,
    /// How many good jobs one mistake costs under the rules in force.
    pub good_job: i64,
    pub mistake: i64,
}

/// One ledger entry with the balance after it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrustEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub delta: i64,
    pub reason: String,
    /// `case`, `interaction`, `feedback`, `manual`, `import`, ...
    pub source: String,
    /// The external id of the record it came from.
    pub source_id: Option<String>,
    pub balance_after: i64,
    /// `good_job`, `mistake`, `correction` (of an automatic entry whose rule no longer
    /// holds), `manual` or `imported`: what the pages translate.
    pub kind: &'static str,
    /// The automatic rule that wrote it: `our_fault`, `within_sla`,
    /// `breach_first_response`, `breach_resolution`, `positive`, `detractor`,
    /// `promoter`.
    pub rule: Option<String>,
}

/// The rules that are mistakes (the others are good jobs).
const MISTAKE_RULES: [&str; 4] = [
    "our_fault",
    "breach_first_response",
    "breach_resolution",
    "detractor",
];

impl From<LedgerEntry> for TrustEntry {
    fn from(e: LedgerEntry) -> TrustEntry {
        let rule = e.source_id.as_deref().and_then(|sid| {
            let rest = e
                .external_id
                .strip_prefix(&format!("auto:{}:{sid}:", e.source))?;
            Some(rest.split(':').next().unwrap_or(rest).to_string())
        });
        let kind = match &rule {
            Some(r) if MISTAKE_RULES.contains(&r.as_str()) => {
                if e.delta < 0 {
                    "mistake"
                } else {
                    "correction"
                }
            }
            Some(_) => {
                if e.delta > 0 {
                    "good_job"
                } else {
                    "correction"
                }
            }
            None if e.source == "manual" => "manual",
            None => "imported",
        };
        TrustEntry {
            id: e.external_id,
            at: e.at,
            delta: e.delta,
            reason: e.reason,
            source: e.source,
            source_id: e.source_id,
            balance_after: e.balance_after,
            kind,
            rule,
        }
    }
}

impl Core {
    /// A customer's trust balance, whether they are in deficit, the newest entries
    /// with the balance after each, and the chart's points. Any signed-in role.
    pub async fn trust_history(&self, acting: &Acting, customer_id: &str) -> Result<TrustHistory> {
        require(acting, access(Some(&TRUST_LEDGER), false))?;
        let ledger = self
            .store()
            .trust_ledger(customer_id, HISTORY_ENTRIES)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no customer with id '{customer_id}'")))?;
        let rules = self.rules().await?.trust;
        Ok(TrustHistory {
            balance: ledger.balance,
            in_deficit: ledger.balance <= 0 && ledger.count > 0,
            entries: ledger.entries.into_iter().map(TrustEntry::from).collect(),
            total: ledger.count,
            points: ledger.points,
            good_job: rules.good_job,
            mistake: rules.mistake,
        })
    }

    /// A manager's manual entry: `delta` (not zero, within ±[`MAX_MANUAL_DELTA`]) on the
    /// customer's balance, with a reason (required), now, source `manual`; through the
    /// one write path, audited as `manual_entry`. Manual entries do not escalate.
    pub async fn add_trust_entry(
        &self,
        acting: &Acting,
        customer_id: &str,
        delta: i64,
        reason: String,
    ) -> Result<TrustEntry> {
        require(acting, access(Some(&TRUST_LEDGER), true))?;
        let reason = reason.trim().to_string();
        let mut problems = Vec::new();
        if reason.is_empty() {
            problems.push(crate::Problem::new(
                "reason",
                "a manual entry needs a reason: say in words why the balance changes",
            ));
        } else if reason.chars().count() > MAX_REASON_CHARS {
            problems.push(crate::Problem::new(
                "reason",
                format!("the reason is longer than {MAX_REASON_CHARS} characters"),
            ));
        }
        if delta == 0 {
            problems.push(crate::Problem::new(
                "delta",
                "a change of 0 changes nothing: give a credit (+) or a debit (-)",
            ));
        } else if delta.abs() > MAX_MANUAL_DELTA {
            problems.push(crate::Problem::new(
                "delta",
                format!("{delta} is beyond ±{MAX_MANUAL_DELTA}"),
            ));
        }
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let now = Utc::now();
        let id = format!(
            "manual-{}-{:08x}",
            now.format("%Y%m%dT%H%M%S"),
            rand::random::<u32>()
        );
        let names = ["customer_id", "occurred_at", "delta", "reason", "source"];
        let fields: Vec<_> = names.iter().filter_map(|n| TRUST_LEDGER.field(n)).collect();
        let mut tx = self
            .begin_write(acting, &TRUST_LEDGER, fields.clone())
            .await?;
        if tx
            .known(&CUSTOMERS, &[customer_id.to_string()])
            .await?
            .is_empty()
        {
            return Err(CoreError::NotFound(format!(
                "no customer with id '{customer_id}'"
            )));
        }
        let mut batch = WriteBatch::new(&TRUST_LEDGER, fields);
        batch.push(
            id.clone(),
            [
                Value::Text(customer_id.to_string()),
                Value::Time(now),
                Value::Int(delta),
                Value::Text(reason.clone()),
                Value::Text("manual".into()),
            ],
        );
        tx.write(batch).await?;
        let mut entry = acting.audit("trust", Some(&id), "manual_entry");
        entry.changes = json!({
            "customer_id": { "before": null, "after": customer_id },
            "delta": { "before": null, "after": delta },
            "reason": { "before": null, "after": reason },
        });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        let written =
            self.store().trust_entry(&id).await?.ok_or_else(|| {
                CoreError::NotFound(format!("no trust ledger entry with id '{id}'"))
            })?;
        Ok(written.into())
    }
}
