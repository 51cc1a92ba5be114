//! Cases: their life cycle, SLA timers and the SLA job.
//!
//! **Life cycle.** open → in progress → waiting (on the customer) → resolved → closed;
//! a resolved or closed case can be reopened (open again). In progress and waiting
//! alternate; a case is resolved ([`Core::resolve_case`], with what was fixed) before
//! it is closed. The first move off `open` records the first response. Every step
//! writes the case through the one write path (`begin_write` on cases), a step on the
//! case's own timeline (`case_events`) and an audit entry, in one transaction.
//!
//! **SLA.** Each severity has a policy (settings `sla_low` ... `sla_critical`: first
//! response and resolution targets, in business or calendar hours) counted on the
//! business calendar (`business_hours`, `holidays`, the store's zone):
//! [`kanta_domain::sla`]. [`after_write`] sets the due times of every case written
//! (pages, API, imports) from the rules snapshot of the write. The SLA job
//! ([`SLA_JOB`], every 5 minutes, [`Core::run_sla_check`]) warns the owner
//! `sla_warn_hours` before a target and the managers after a breach, once per case and
//! step (`sla_alerts`), by mail in the job's write.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::schema::{self, CASE_CHANNELS, CASE_STATUSES, CASES, Field, SEVERITIES};
use kanta_domain::sla::{BusinessCalendar, Holidays, SlaPolicy, WeeklyHours};
use kanta_domain::{Value, WriteBatch};
use kanta_store::cases::{CaseQuery, CaseState, NewCaseEvent};
use serde::Serialize;
use serde_json::{Map, json};

use crate::access::{Role, access, require};
use crate::actor::{Acting, Actor};
use crate::mail::{Lang, render};
use crate::settings::{StoreSettings, zone_or_default};
use crate::write::{WriteTx, change, check_refs, missing_ref_problems, run_info};
use crate::{Core, CoreError, Problem, Result};

pub use kanta_store::cases::{CaseEvent, CaseRow};

/// The SLA job's kind (scheduled every 5 minutes while cases are open).
pub const SLA_JOB: &str = "cases.sla";
/// Warn this many hours before a target when the setting is not set.
pub const DEFAULT_WARN_HOURS: f64 = 4.0;
/// Breaches whose target passed longer ago than this (history brought in by an
/// import) are recorded on the case's timeline but mailed to nobody.
pub const STALE_BREACH_DAYS: i64 = 7;
/// Targets the SLA job handles per round (it repeats until none are left).
const SCAN_ROUND: u32 = 5000;

/// The severities, in the order of [`SlaRules::policies`].
pub const SEVERITY_ORDER: [&str; 4] = ["low", "normal", "high", "critical"];

/// The SLA policies per severity and the business calendar they count in.
#[derive(Debug, Clone)]
pub struct SlaRules {
    pub calendar: BusinessCalendar,
    /// low, normal, high, critical.
    pub policies: [SlaPolicy; 4],
    /// Warn the owner this many hours before a target.
    pub warn_hours: f64,
}

impl Default for SlaRules {
    fn default() -> SlaRules {
        SlaRules {
            calendar: BusinessCalendar::default(),
            policies: SEVERITY_ORDER.map(SlaPolicy::default_for),
            warn_hours: DEFAULT_WARN_HOURS,
        }
    }
}

impl SlaRules {
    /// The rules the settings give; a stored value that does not read falls back to
    /// its default.
    pub fn from_settings(s: &StoreSettings) -> SlaRules {
        let calendar = BusinessCalendar {
            zone: zone_or_default(&s.time_zone),
            hours: WeeklyHours::parse(&s.business_hours).unwrap_or_default(),
            holidays: s
                .value("holidays")
                .and_then(|h| Holidays::parse(h).ok())
                .unwrap_or_else(Holidays::finnish),
        };
        let policies = SEVERITY_ORDER.map(|sev| {
            s.value(&format!("sla_{sev}"))
                .and_then(|p| SlaPolicy::parse(p).ok())
                .unwrap_or_else(|| SlaPolicy::default_for(sev))
        });
        let warn_hours = s
            .value("sla_warn_hours")
            .and_then(|v| parse_warn_hours(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_WARN_HOURS);
        SlaRules {
            calendar,
            policies,
            warn_hours,
        }
    }

    /// The policy of a severity (an unknown one: normal's).
    pub fn policy(&self, severity: &str) -> SlaPolicy {
        let i = SEVERITY_ORDER
            .iter()
            .position(|s| *s == severity)
            .unwrap_or(1);
        self.policies[i]
    }

    /// The first-response and resolution due times of a case of `severity` opened at
    /// `opened`.
    pub fn dues(&self, severity: &str, opened: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        self.policy(severity).dues(&self.calendar, opened)
    }
}

/// The setting `sla_warn_hours`: hours, 0 to 168 (`4`, `2,5`).
pub fn parse_warn_hours(s: &str) -> std::result::Result<String, String> {
    let t = s
        .trim()
        .trim_end_matches(['h', 't'])
        .trim()
        .replace(',', ".");
    match t.parse::<f64>() {
        Ok(h) if h.is_finite() && (0.0..=168.0).contains(&h) => Ok(if h.fract() == 0.0 {
            format!("{h:.0}")
        } else {
            format!("{h}")
        }),
        _ => Err(format!(
            "'{}' is not a number of hours from 0 to 168 (e.g. 4 or 2,5)",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// The setting `sla_<severity>`: `8h/40h business` (Finnish `työaika`, `kalenteri`).
pub fn parse_sla_policy(s: &str) -> std::result::Result<String, String> {
    SlaPolicy::parse(s).map(|p| p.normalised())
}

/// The setting `holidays`: `fi`, `none`, dates, or `fi` and dates.
pub fn parse_holidays(s: &str) -> std::result::Result<String, String> {
    Holidays::parse(s).map(|h| h.normalised())
}

/// The SLA filters of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaFilter {
    /// A target missed (open past it, or met late).
    Breaching,
    /// Open, the next target due within `sla_warn_hours`.
    DueSoon,
}

impl SlaFilter {
    /// `breaching`, `due_soon` (also `due-soon`, `soon`).
    pub fn parse(s: &str) -> Option<SlaFilter> {
        match s.trim().to_ascii_lowercase().as_str() {
            "breaching" | "breached" | "overdue" => Some(SlaFilter::Breaching),
            "due_soon" | "due-soon" | "soon" => Some(SlaFilter::DueSoon),
            _ => None,
        }
    }
}

/// What the cases list shows.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// `open` (not resolved or closed; the default), `all`, or one status.
    pub status: Option<String>,
    pub sla: Option<SlaFilter>,
    /// The signed-in user's own cases (the staff member with the user's email).
    pub mine: bool,
    /// The owner's staff id.
    pub owner: Option<String>,
    pub customer: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub escalations: bool,
    /// The previous page's `next`.
    pub after: Option<String>,
    /// Rows per page (default 50, at most 500).
    pub limit: u32,
}

/// One page of cases.
#[derive(Debug, Clone, Serialize)]
pub struct CasePage {
    pub rows: Vec<CaseRow>,
    pub next: Option<String>,
}

/// One SLA target of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timer {
    /// `first_response` or `resolution`.
    pub step: &'static str,
    pub due_at: DateTime<Utc>,
    pub met_at: Option<DateTime<Utc>>,
    /// Until the target (when met: the margin it was met with); negative = overdue.
    pub seconds_left: i64,
    pub breached: bool,
}

/// One case with its timeline, claims and timers.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: CaseRow,
    pub resolution: Option<String>,
    pub apology: Option<bool>,
    pub fixed_in_presence: Option<bool>,
    /// Oldest first.
    pub events: Vec<CaseEvent>,
    pub claims: Vec<crate::claims::Claim>,
    pub timers: Vec<Timer>,
}

/// A case to open.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    pub customer_id: String,
    pub category: String,
    /// Default normal.
    pub severity: Option<String>,
    pub channel: Option<String>,
    pub our_fault: Option<bool>,
    pub summary: Option<String>,
    /// The owner's staff id.
    pub owner_id: Option<String>,
    /// Default now.
    pub opened_at: Option<DateTime<Utc>>,
    /// A compensation claim made with the case (the small-claim rule applies).
    pub claim: Option<crate::claims::NewClaim>,
}

/// How a case was resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// What was fixed.
    pub resolution: String,
    pub apology: bool,
    pub fixed_in_presence: bool,
    /// Whether the mistake was ours (`None`: as recorded before).
    pub our_fault: Option<bool>,
    pub note: Option<String>,
}

/// SLA attainment: the cases resolved within their resolution target.
#[derive(Debug, Clone, Serialize)]
pub struct SlaAttainment {
    /// Oldest month first, every month of the window.
    pub by_month: Vec<AttainmentRow>,
    pub by_category: Vec<AttainmentRow>,
    pub by_owner: Vec<AttainmentRow>,
    pub total: AttainmentRow,
}

/// One row of the attainment figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttainmentRow {
    /// `2026-11`, a category, or an owner's name (empty: no owner).
    pub key: String,
    pub resolved: u64,
    pub within: u64,
    pub late: u64,
    /// Open now and past a target (counted in the current month).
    pub open_breaching: u64,
    /// within / resolved, in percent; `None` when nothing was resolved.
    pub percent: Option<f64>,
}

impl AttainmentRow {
    fn add(&mut self, g: &kanta_store::cases::AttainmentGroup) {
        self.resolved += g.resolved;
        self.within += g.within;
        self.late += g.late;
        self.open_breaching += g.open_breaching;
    }

    fn finish(mut self) -> AttainmentRow {
        self.percent =
            (self.resolved > 0).then(|| self.within as f64 * 100.0 / self.resolved as f64);
        self
    }
}

/// What a run of the SLA job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SlaCheck {
    /// Targets warned of.
    pub warned: u64,
    /// Breaches told of.
    pub breached: u64,
    /// Mails queued.
    pub mails: u64,
}

fn field(name: &str) -> &'static Field {
    CASES
        .field(name)
        .unwrap_or_else(|| panic!("cases has the field {name}"))
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, Value::Time)
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
}

/// Words of a status in messages.
fn status_words(s: &str) -> &str {
    match s {
        "in_progress" => "in progress",
        "waiting" => "waiting on the customer",
        s => s,
    }
}

fn check_choice(field: &str, allowed: &[&'static str], given: &str) -> Result<&'static str> {
    let g = given.trim().to_ascii_lowercase();
    allowed
        .iter()
        .find(|a| **a == g)
        .copied()
        .or_else(|| schema::choice_synonym(allowed, &g))
        .ok_or_else(|| {
            CoreError::invalid(
                field,
                format!(
                    "'{}' is not one of {}",
                    kanta_domain::value::excerpt(given.trim()),
                    allowed.join(", ")
                ),
            )
        })
}

/// Who acts, as the timeline and the claims name them: a signed-in user by their
/// display name (the users table's `name`, else the email), an import by its file
/// (else "import"), the SLA job as "SLA check" in the store's language.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub name: String,
    pub user_id: Option<i64>,
}

/// [`Who`] acts in this write, read through the write's transaction.
pub(crate) async fn who(tx: &mut WriteTx) -> Result<Who> {
    let acting = tx.acting().clone();
    let fi = tx.rules().trust.finnish();
    let name = match &acting.actor {
        Actor::User { id, email, .. } => tx
            .writer_mut()
            .user_display_name(*id)
            .await?
            .unwrap_or_else(|| email.clone()),
        _ => actor_word(&acting, fi),
    };
    Ok(Who {
        name,
        user_id: acting.user_id(),
    })
}

/// The name of an actor that is not a signed-in user, in the store's language
/// (Finnish when `fi`): never "unknown".
pub fn actor_word(acting: &Acting, fi: bool) -> String {
    let import = || if fi { "tuonti" } else { "import" }.to_string();
    let known = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && !s.eq_ignore_ascii_case("unknown")).then(|| s.to_string())
    };
    match &acting.actor {
        Actor::User { email, .. } => email.clone(),
        Actor::Token { name, .. } => known(name).unwrap_or_else(|| "API".into()),
        // The command line writes the demo data and other bulk records.
        Actor::Cli { os_user } => known(os_user).unwrap_or_else(import),
        Actor::Import { file, .. } => known(file)
            .map(|f| {
                std::path::Path::new(&f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(f)
            })
            .unwrap_or_else(import),
        Actor::Job { kind } if kind == SLA_JOB => {
            if fi { "SLA-tarkistus" } else { "SLA check" }.to_string()
        }
        Actor::Job { kind } => kind.clone(),
        Actor::Anonymous { name } => known(name).unwrap_or_else(import),
        Actor::Public { via } => via.clone(),
    }
}

fn event(
    who: &Who,
    case_id: i64,
    at: DateTime<Utc>,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    note: Option<&str>,
) -> NewCaseEvent {
    NewCaseEvent {
        case_id,
        at,
        kind: kind.to_string(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
        note: note.map(str::to_string),
        actor: who.name.clone(),
        user_id: who.user_id,
    }
}

/// Runs in the transaction of every write of cases, after the rows are merged:
/// `ids` are the external ids the batch wrote. Sets their due times from the rules
/// snapshot, writes the timeline's first steps of cases new to the store (opened, and
/// responded, resolved, closed from the row's own times), then applies the trust
/// ledger's rules ([`crate::trust::after_cases`]).
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    apply_sla(tx, ids).await?;
    crate::trust::after_cases(tx, ids).await
}

/// Sets the due times of the cases `ids` (external ids) from the write's rules
/// snapshot and writes the first steps of the timelines of those new to the store
/// (opened; responded, resolved, closed from the rows' own times); no trust rules.
/// For cases written outside [`WriteTx::write`] (the trust ledger's escalations).
pub(crate) async fn apply_sla(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.writer_mut().merge_written().await?;
    let rules = tx.rules().sla.clone();
    let states = tx.writer_mut().cases_by_external_ids(ids).await?;
    let who = who(tx).await?;
    let mut dues = Vec::new();
    let mut events = Vec::new();
    for c in &states {
        let (f, r) = rules.dues(&c.severity, c.opened_at);
        if c.first_response_due_at != Some(f) || c.resolution_due_at != Some(r) {
            dues.push((c.id, Some(f), Some(r)));
        }
        if !c.has_opened_event {
            events.push(event(
                &who,
                c.id,
                c.opened_at,
                "opened",
                None,
                Some(&c.status),
                None,
            ));
            if let Some(t) = c.first_response_at {
                events.push(event(&who, c.id, t, "responded", None, None, None));
            }
            if let Some(t) = c.resolved_at {
                events.push(event(&who, c.id, t, "resolved", None, None, None));
            }
            if let Some(t) = c.closed_at {
                events.push(event(&who, c.id, t, "closed", None, None, None));
            }
        }
    }
    tx.writer_mut().set_case_dues(&dues).await?;
    tx.writer_mut().insert_case_events(&events).await?;
    Ok(())
}

/// A new case id: `case-<yyyymmdd>-<6 hex>`.
fn new_case_id(now: DateTime<Utc>) -> String {
    let hex = crate::secrets::digest(&crate::secrets::new_secret());
    format!("case-{}-{}", now.format("%Y%m%d"), &hex[..6])
}

/// The email of the signed-in user (what "mine" means), if a user acts.
fn user_email(acting: &Acting) -> Option<&str> {
    match &acting.actor {
        Actor::User { email, .. } => Some(email),
        _ => None,
    }
}

impl Core {
    /// A page of the cases list: open cases by their next due time (what needs doing
    /// first comes first), lists with resolved or closed cases newest first.
    pub async fn cases_page(&self, acting: &Acting, f: &CaseFilter) -> Result<CasePage> {
        require(acting, access(Some(&CASES), false))?;
        let status = match f.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => "open".to_string(),
            Some(s) if s.eq_ignore_ascii_case("open") || s.eq_ignore_ascii_case("all") => {
                s.to_ascii_lowercase()
            }
            Some(s) => check_choice("status", CASE_STATUSES, s)
                .map_err(|_| {
                    CoreError::invalid(
                        "status",
                        format!(
                            "'{}' is not open (not resolved or closed), all, or one of {}",
                            kanta_domain::value::excerpt(s),
                            CASE_STATUSES.join(", ")
                        ),
                    )
                })?
                .to_string(),
        };
        let severity = match f
            .severity
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(check_choice("severity", SEVERITIES, s)?.to_string()),
            None => None,
        };
        let mine_email = if f.mine {
            Some(
                user_email(acting)
                    .ok_or_else(|| {
                        CoreError::invalid(
                            "mine",
                            "only a signed-in user has cases of their own (the staff member with the user's email)",
                        )
                    })?
                    .to_string(),
            )
        } else {
            None
        };
        if let Some(a) = &f.after
            && !kanta_store::cases::is_cursor(a)
        {
            return Err(CoreError::invalid(
                "after",
                "not a cursor of this list (use the previous page's next)",
            ));
        }
        let rules = self.rules().await?.sla;
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let q = CaseQuery {
            status,
            breaching: f.sla == Some(SlaFilter::Breaching),
            due_within_hours: (f.sla == Some(SlaFilter::DueSoon)).then_some(rules.warn_hours),
            mine_email,
            owner: clean(&f.owner),
            customer: clean(&f.customer),
            category: clean(&f.category),
            severity,
            escalations: f.escalations,
            after: f.after.clone(),
            limit: if f.limit == 0 { 50 } else { f.limit.min(500) },
            now: Utc::now(),
        };
        let page = self.store().cases_page(&q).await?;
        Ok(CasePage {
            rows: page.rows,
            next: page.next,
        })
    }

    /// One case with its own timeline, claims and SLA timers.
    pub async fn case_detail(&self, acting: &Acting, id: &str) -> Result<CaseDetail> {
        require(acting, access(Some(&CASES), false))?;
        let now = Utc::now();
        let case = self
            .store()
            .case_row(id, now)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no case with id '{id}'")))?;
        let events = self.store().case_events(case.key).await?;
        let claims = self.claims_of_case(acting, id).await?;
        let mut timers = Vec::new();
        let done = case.resolved_at.or(case.closed_at);
        for (step, due, met) in [
            (
                "first_response",
                case.first_response_due_at,
                case.first_response_at.or(done),
            ),
            ("resolution", case.resolution_due_at, done),
        ] {
            if let Some(due) = due {
                timers.push(Timer {
                    step,
                    due_at: due,
                    met_at: met,
                    seconds_left: (due - met.unwrap_or(now)).num_seconds(),
                    breached: met.map_or(now > due, |m| m > due),
                });
            }
        }
        Ok(CaseDetail {
            resolution: case.resolution.clone(),
            apology: case.apology,
            fixed_in_presence: case.fixed_in_presence,
            case,
            events,
            claims,
            timers,
        })
    }

    /// Opens a case (and records its claim, if any, by the small-claim rule);
    /// returns its id.
    pub async fn open_case(&self, acting: &Acting, c: NewCase) -> Result<String> {
        require(acting, access(Some(&CASES), true))?;
        let mut problems = Vec::new();
        let customer = c.customer_id.trim().to_string();
        if customer.is_empty() {
            problems.push(Problem::new(
                "customer_id",
                "is required: the customer's id",
            ));
        }
        let category = c.category.trim().to_string();
        if category.is_empty() {
            problems.push(Problem::new(
                "category",
                "is required: what kind of problem",
            ));
        } else if category.chars().count() > 100 {
            problems.push(Problem::new("category", "is longer than 100 characters"));
        }
        let severity = match c
            .severity
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => "normal",
            Some(s) => match check_choice("severity", SEVERITIES, s) {
                Ok(v) => v,
                Err(CoreError::Invalid(p)) => {
                    problems.extend(p);
                    "normal"
                }
                Err(e) => return Err(e),
            },
        };
        let channel = match c
            .channel
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => match check_choice("channel", CASE_CHANNELS, s) {
                Ok(v) => Some(v),
                Err(CoreError::Invalid(p)) => {
                    problems.extend(p);
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let summary = c
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let owner = c
            .owner_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let now = Utc::now();
        let opened_at = c.opened_at.unwrap_or(now);
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let id = new_case_id(opened_at);
        let names = [
            "customer_id",
            "opened_at",
            "category",
            "severity",
            "status",
            "channel",
            "our_fault",
            "summary",
            "staff_id",
        ];
        let fields: Vec<&'static Field> = names.iter().map(|n| field(n)).collect();
        let values = vec![
            Value::Text(customer.clone()),
            Value::Time(opened_at),
            Value::Text(category),
            Value::Text(severity.into()),
            Value::Text("open".into()),
            opt_text(channel),
            opt_bool(c.our_fault),
            opt_text(summary),
            opt_text(owner),
        ];
        let mut changes = Map::new();
        for (n, v) in names.iter().zip(&values) {
            if !v.is_null() {
                changes.insert((*n).into(), change(&Value::Null, v));
            }
        }
        let mut tx = self.begin_write(acting, &CASES, fields.clone()).await?;
        let mut batch = WriteBatch::new(&CASES, fields);
        batch.push(id.clone(), values);
        let missing = check_refs(&mut tx, &mut batch, false, &Default::default()).await?;
        if !missing.is_empty() {
            let mut p = missing_ref_problems(&batch, &missing);
            for x in &mut p {
                x.index = None;
            }
            return Err(CoreError::Invalid(p));
        }
        tx.write(batch).await.map_err(strip)?;
        let mut entry = tx.acting().audit(CASES.name, Some(&id), "open");
        entry.changes = serde_json::Value::Object(changes);
        let run = run_info(tx.acting().channel.as_str(), 1);
        tx.finish(&run, vec![entry]).await?;
        if let Some(claim) = c.claim {
            self.add_claim(acting, &id, claim).await?;
        }
        Ok(id)
    }

    /// Moves a case to `to`: in_progress, waiting, closed, or open (reopen). Resolving
    /// is [`Core::resolve_case`]. The first move off `open` records the first
    /// response.
    pub async fn case_transition(
        &self,
        acting: &Acting,
        id: &str,
        to: &str,
        note: Option<String>,
    ) -> Result<()> {
        require(acting, access(Some(&CASES), true))?;
        let to = check_choice("to", CASE_STATUSES, to)?;
        if to == "resolved" {
            return Err(CoreError::invalid(
                "to",
                "a case is resolved with what was fixed: use resolve",
            ));
        }
        let note = clean_note(note)?;
        let names = ["status", "first_response_at", "resolved_at", "closed_at"];
        let fields: Vec<&'static Field> = names.iter().map(|n| field(n)).collect();
        let mut tx = self.begin_write(acting, &CASES, fields.clone()).await?;
        let c = case_in(&mut tx, id).await?;
        let from = c.status.as_str();
        let allowed = match (from, to) {
            (a, b) if a == b => {
                return Err(CoreError::Conflict {
                    field: Some("to".into()),
                    message: format!("the case is {} already", status_words(a)),
                });
            }
            ("open" | "waiting", "in_progress")
            | ("open" | "in_progress", "waiting")
            | ("resolved", "closed")
            | ("resolved" | "closed", "open") => true,
            _ => false,
        };
        if !allowed {
            let why = match (from, to) {
                (_, "closed") => "a case is resolved before it is closed".to_string(),
                (_, "open") => "only a resolved or closed case is reopened".to_string(),
                ("resolved" | "closed", _) => format!("the case is {from}: reopen it first"),
                _ => "that is not a step of a case's life cycle".to_string(),
            };
            return Err(CoreError::Conflict {
                field: Some("to".into()),
                message: format!(
                    "a case cannot move from {} to {}: {why}",
                    status_words(from),
                    status_words(to)
                ),
            });
        }
        let now = Utc::now();
        let responded = from == "open" && to != "open" && c.first_response_at.is_none();
        let first = if responded {
            Some(now)
        } else {
            c.first_response_at
        };
        let (resolved, closed) = match to {
            "open" => (None, None),
            "closed" => (c.resolved_at.or(Some(now)), Some(now)),
            _ => (c.resolved_at, c.closed_at),
        };
        let mut batch = WriteBatch::new(&CASES, fields);
        batch.push(
            id.to_string(),
            vec![
                Value::Text(to.into()),
                opt_time(first),
                opt_time(resolved),
                opt_time(closed),
            ],
        );
        tx.write(batch).await.map_err(strip)?;
        let kind = match (from, to) {
            (_, "closed") => "closed",
            (_, "open") => "reopened",
            _ => "status",
        };
        let who = who(&mut tx).await?;
        let mut events = vec![event(
            &who,
            c.id,
            now,
            kind,
            Some(from),
            Some(to),
            note.as_deref(),
        )];
        if responded {
            events.push(event(&who, c.id, now, "responded", None, None, None));
        }
        tx.writer_mut().insert_case_events(&events).await?;
        let mut entry = tx.acting().audit(CASES.name, Some(id), "status");
        let mut changes = Map::new();
        changes.insert(
            "status".into(),
            change(&Value::Text(from.into()), &Value::Text(to.into())),
        );
        if responded {
            changes.insert(
                "first_response_at".into(),
                change(&Value::Null, &Value::Time(now)),
            );
        }
        if to == "open" {
            changes.insert(
                "resolved_at".into(),
                change(&opt_time(c.resolved_at), &Value::Null),
            );
        }
        entry.changes = serde_json::Value::Object(changes);
        if let Some(n) = &note {
            entry.details = json!({ "note": n });
        }
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(())
    }

    /// Resolves an open case: what was fixed, whether we apologised, whether it was
    /// fixed while the customer was there, and whose fault it was.
    pub async fn resolve_case(&self, acting: &Acting, id: &str, r: Resolution) -> Result<()> {
        require(acting, access(Some(&CASES), true))?;
        let resolution = r.resolution.trim().to_string();
        if resolution.is_empty() {
            return Err(CoreError::invalid(
                "resolution",
                "is required: what was fixed",
            ));
        }
        if resolution.chars().count() > 10_000 {
            return Err(CoreError::invalid(
                "resolution",
                "is longer than 10,000 characters",
            ));
        }
        let note = clean_note(r.note)?;
        let names = [
            "status",
            "first_response_at",
            "resolved_at",
            "resolution",
            "apology",
            "fixed_in_presence",
            "our_fault",
        ];
        let fields: Vec<&'static Field> = names.iter().map(|n| field(n)).collect();
        let mut tx = self.begin_write(acting, &CASES, fields.clone()).await?;
        let c = case_in(&mut tx, id).await?;
        if !matches!(c.status.as_str(), "open" | "in_progress" | "waiting") {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!("the case is {} already: reopen it first", c.status),
            });
        }
        let now = Utc::now();
        let responded = c.first_response_at.is_none();
        let our_fault = r.our_fault.or(c.our_fault);
        let mut batch = WriteBatch::new(&CASES, fields);
        batch.push(
            id.to_string(),
            vec![
                Value::Text("resolved".into()),
                Value::Time(c.first_response_at.unwrap_or(now)),
                Value::Time(now),
                Value::Text(resolution.clone()),
                Value::Bool(r.apology),
                Value::Bool(r.fixed_in_presence),
                opt_bool(our_fault),
            ],
        );
        tx.write(batch).await.map_err(strip)?;
        let who = who(&mut tx).await?;
        let mut events = Vec::new();
        if responded {
            events.push(event(&who, c.id, now, "responded", None, None, None));
        }
        events.push(event(
            &who,
            c.id,
            now,
            "resolved",
            Some(&c.status),
            Some("resolved"),
            Some(note.as_deref().unwrap_or(&resolution)),
        ));
        tx.writer_mut().insert_case_events(&events).await?;
        let mut entry = tx.acting().audit(CASES.name, Some(id), "resolve");
        let mut changes = Map::new();
        changes.insert(
            "status".into(),
            change(
                &Value::Text(c.status.clone()),
                &Value::Text("resolved".into()),
            ),
        );
        changes.insert(
            "resolved_at".into(),
            change(&Value::Null, &Value::Time(now)),
        );
        changes.insert(
            "resolution".into(),
            change(&Value::Null, &Value::Text(resolution)),
        );
        changes.insert(
            "apology".into(),
            change(&Value::Null, &Value::Bool(r.apology)),
        );
        changes.insert(
            "fixed_in_presence".into(),
            change(&Value::Null, &Value::Bool(r.fixed_in_presence)),
        );
        if our_fault != c.our_fault {
            changes.insert(
                "our_fault".into(),
                change(&opt_bool(c.our_fault), &opt_bool(our_fault)),
            );
        }
        entry.changes = serde_json::Value::Object(changes);
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(())
    }

    /// Gives a case to an owner (a staff member's id), or to nobody.
    pub async fn assign_case(
        &self,
        acting: &Acting,
        id: &str,
        owner_id: Option<String>,
    ) -> Result<()> {
        require(acting, access(Some(&CASES), true))?;
        let owner = owner_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let fields = vec![field("staff_id")];
        let mut tx = self.begin_write(acting, &CASES, fields.clone()).await?;
        let c = case_in(&mut tx, id).await?;
        if c.staff_ext == owner {
            return Ok(());
        }
        let mut batch = WriteBatch::new(&CASES, fields);
        batch.push(id.to_string(), vec![opt_text(owner.as_deref())]);
        let missing = check_refs(&mut tx, &mut batch, false, &Default::default()).await?;
        if !missing.is_empty() {
            return Err(CoreError::invalid(
                "owner_id",
                format!(
                    "no staff member with id '{}'",
                    owner.as_deref().unwrap_or_default()
                ),
            ));
        }
        tx.write(batch).await.map_err(strip)?;
        let now = Utc::now();
        let who = who(&mut tx).await?;
        let ev = event(
            &who,
            c.id,
            now,
            "owner",
            c.staff_ext.as_deref(),
            owner.as_deref(),
            None,
        );
        tx.writer_mut().insert_case_events(&[ev]).await?;
        let mut entry = tx.acting().audit(CASES.name, Some(id), "assign");
        let mut changes = Map::new();
        changes.insert(
            "staff_id".into(),
            change(
                &opt_text(c.staff_ext.as_deref()),
                &opt_text(owner.as_deref()),
            ),
        );
        entry.changes = serde_json::Value::Object(changes);
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(())
    }

    /// Adds a note to a case's timeline.
    pub async fn add_case_note(&self, acting: &Acting, id: &str, note: String) -> Result<()> {
        require(acting, access(Some(&CASES), true))?;
        let note = clean_note(Some(note))?
            .ok_or_else(|| CoreError::invalid("note", "is empty: write the note"))?;
        let mut tx = self.begin_write(acting, &CASES, Vec::new()).await?;
        let c = case_in(&mut tx, id).await?;
        let who = who(&mut tx).await?;
        let ev = event(&who, c.id, Utc::now(), "note", None, None, Some(&note));
        tx.writer_mut().insert_case_events(&[ev]).await?;
        let mut entry = tx.acting().audit(CASES.name, Some(id), "note");
        entry.details = json!({ "note": note });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        Ok(())
    }

    /// SLA attainment over the last `months` months (this one included, 1 to 36) in
    /// the store's zone: by month of resolution, by category, by owner, and in total.
    pub async fn sla_attainment(&self, acting: &Acting, months: u32) -> Result<SlaAttainment> {
        require(acting, access(Some(&CASES), false))?;
        if !(1..=36).contains(&months) {
            return Err(CoreError::invalid("months", "give 1 to 36 months"));
        }
        let zone = self.time_zone().await?;
        let now = Utc::now();
        let local = now.with_timezone(&zone).date_naive();
        let mut first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
        for _ in 1..months {
            first = first
                .pred_opt()
                .and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1))
                .unwrap_or(first);
        }
        let mut bounds = Vec::new();
        let mut m = first;
        while m <= local {
            let start = zone
                .from_local_datetime(&m.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| {
                    Utc.from_utc_datetime(&m.and_hms_opt(0, 0, 0).unwrap_or_default())
                });
            bounds.push((m.format("%Y-%m").to_string(), start));
            m = (m + Duration::days(32))
                .with_day(1)
                .unwrap_or(m + Duration::days(31));
        }
        let current = local.format("%Y-%m").to_string();
        let groups = self.store().sla_attainment(&bounds, &current, now).await?;
        let mut by_month: Vec<AttainmentRow> = bounds
            .iter()
            .map(|(k, _)| AttainmentRow {
                key: k.clone(),
                ..Default::default()
            })
            .collect();
        let mut by_category: std::collections::BTreeMap<String, AttainmentRow> = Default::default();
        let mut by_owner: std::collections::BTreeMap<String, AttainmentRow> = Default::default();
        let mut total = AttainmentRow {
            key: "total".into(),
            ..Default::default()
        };
        for g in &groups {
            if let Some(r) = by_month.iter_mut().find(|r| r.key == g.month) {
                r.add(g);
            }
            by_category
                .entry(g.category.clone())
                .or_insert_with(|| AttainmentRow {
                    key: g.category.clone(),
                    ..Default::default()
                })
                .add(g);
            let owner = g.owner.clone().unwrap_or_default();
            by_owner
                .entry(owner.clone())
                .or_insert_with(|| AttainmentRow {
                    key: owner,
                    ..Default::default()
                })
                .add(g);
            total.add(g);
        }
        Ok(SlaAttainment {
            by_month: by_month.into_iter().map(AttainmentRow::finish).collect(),
            by_category: by_category
                .into_values()
                .map(AttainmentRow::finish)
                .collect(),
            by_owner: by_owner.into_values().map(AttainmentRow::finish).collect(),
            total: total.finish(),
        })
    }

    /// The SLA job: warns each open case's owner (else the managers) `sla_warn_hours`
    /// before a target and the managers after a breach, once per case and step, by
    /// mail and on the case's timeline, in one write of the job. Breaches older than
    /// [`STALE_BREACH_DAYS`] are recorded without mail.
    pub async fn run_sla_check(&self, now: DateTime<Utc>) -> Result<SlaCheck> {
        let acting = Acting::job(SLA_JOB);
        let settings = self.store_settings().await?;
        let rules = self.rules().await?.sla;
        let zone = rules.calendar.zone;
        let store_lang = Lang::parse(&settings.language).unwrap_or(Lang::Fi);
        // Read before the write takes the lock: the managers and their languages.
        let managers: Vec<(String, Lang)> = self
            .store()
            .users()
            .await?
            .into_iter()
            .filter(|u| u.active && u.role >= Role::Manager)
            .map(|u| {
                let lang = u
                    .lang
                    .as_deref()
                    .and_then(Lang::parse)
                    .unwrap_or(store_lang);
                (u.email, lang)
            })
            .collect();
        let site = format!("Kanta ({})", self.store().url());
        let warn_until = now + Duration::seconds((rules.warn_hours * 3600.0) as i64);
        let stale = now - Duration::days(STALE_BREACH_DAYS);
        let mut tx = self.begin_write(&acting, &CASES, Vec::new()).await?;
        // Cases written before the SLA rules existed get their due times first.
        for _round in 0..100 {
            let ids = tx.writer_mut().cases_without_dues(10_000).await?;
            apply_sla(&mut tx, &ids).await?;
            if ids.len() < 10_000 {
                break;
            }
        }
        let who = who(&mut tx).await?;
        let mut out = SlaCheck::default();
        let mut breaches: Vec<(String, String, DateTime<Utc>)> = Vec::new();
        for _round in 0..100 {
            let due = tx
                .writer_mut()
                .sla_scan(now, warn_until, SCAN_ROUND)
                .await?;
            if due.is_empty() {
                break;
            }
            let mut alerts = Vec::new();
            for d in &due {
                if d.needs_warning {
                    alerts.push((d.case_id, d.step.clone(), "warning".to_string()));
                }
                if d.due_at <= now && d.needs_breach {
                    alerts.push((d.case_id, d.step.clone(), "breach".to_string()));
                }
            }
            let new = tx.writer_mut().insert_sla_alerts(&alerts, now).await?;
            let is_new = |id: i64, step: &str, kind: &str| {
                new.iter()
                    .any(|(c, s, k)| *c == id && s == step && k == kind)
            };
            let mut events = Vec::new();
            for d in &due {
                let breach = d.due_at <= now && is_new(d.case_id, &d.step, "breach");
                // A target already passed is told of as a breach, not warned of.
                let warn = d.due_at > now && is_new(d.case_id, &d.step, "warning");
                if !breach && !warn {
                    continue;
                }
                let kind = if breach { "sla_breach" } else { "sla_warning" };
                let due_text = format!(
                    "{} ({})",
                    d.due_at.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
                    zone.name()
                );
                events.push(event(
                    &who,
                    d.case_id,
                    now,
                    kind,
                    None,
                    Some(&d.step),
                    Some(&due_text),
                ));
                if breach {
                    out.breached += 1;
                    breaches.push((d.case_external_id.clone(), d.step.clone(), d.due_at));
                } else {
                    out.warned += 1;
                }
                if breach && d.due_at < stale {
                    continue;
                }
                let recipients: Vec<(String, Lang)> = match (&d.owner_email, breach) {
                    (Some(e), false) if !e.trim().is_empty() => {
                        vec![(e.trim().to_string(), store_lang)]
                    }
                    _ => managers.clone(),
                };
                for (to, lang) in recipients {
                    let step = step_words(&d.step, lang);
                    let customer = d
                        .customer_name
                        .clone()
                        .unwrap_or_else(|| d.customer_id.clone());
                    let owner = d.owner_name.clone().unwrap_or_else(|| "-".into());
                    let path = format!("/cases/{}", path_segment(&d.case_external_id));
                    let vars = [
                        ("site", site.as_str()),
                        ("case", d.case_external_id.as_str()),
                        ("customer", customer.as_str()),
                        ("category", d.category.as_str()),
                        ("severity", severity_words(&d.severity, lang)),
                        ("path", path.as_str()),
                        ("step", step),
                        ("due", due_text.as_str()),
                        ("owner", owner.as_str()),
                    ];
                    let template = if breach { "sla_breach" } else { "sla_warning" };
                    let m =
                        render(template, lang, &vars).map_err(|e| CoreError::Other(e.into()))?;
                    let key = format!(
                        "{template}:{}:{}:{}",
                        d.case_external_id,
                        d.step,
                        to.to_lowercase()
                    );
                    let m = m.to(to);
                    let queued = tx
                        .writer_mut()
                        .queue_mail(&kanta_store::outbox::NewMail {
                            key,
                            to: m.to,
                            subject: m.subject,
                            text: m.text,
                            html: m.html,
                        })
                        .await?;
                    if queued.is_some() {
                        out.mails += 1;
                    }
                }
            }
            tx.writer_mut().insert_case_events(&events).await?;
            if (due.len() as u32) < SCAN_ROUND {
                break;
            }
        }
        // The trust ledger's mistake of each breach seen (once per case and step).
        crate::trust::breach_entries(&mut tx, &breaches).await?;
        let mut audit = Vec::new();
        if out.warned + out.breached > 0 {
            let mut entry = acting.audit(CASES.name, None, "sla");
            entry.details =
                json!({ "warned": out.warned, "breached": out.breached, "mails": out.mails });
            audit.push(entry);
        }
        tx.finish(&run_info("", 0), audit).await?;
        Ok(out)
    }
}

/// A record id as one segment of a path (`/cases/{id}`): percent-encoded where it
/// is not a letter, digit, `-`, `_`, `.` or `~`.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A severity's name in a message.
fn severity_words(severity: &str, lang: Lang) -> &str {
    match (severity, lang) {
        ("low", Lang::Fi) => "matala",
        ("normal", Lang::Fi) => "normaali",
        ("high", Lang::Fi) => "korkea",
        ("critical", Lang::Fi) => "kriittinen",
        (s, _) => s,
    }
}

/// A step's name in a message.
fn step_words(step: &str, lang: Lang) -> &'static str {
    match (step, lang) {
        ("first_response", Lang::Fi) => "ensivastaus",
        ("first_response", Lang::En) => "first response",
        (_, Lang::Fi) => "ratkaisu",
        (_, Lang::En) => "resolution",
    }
}

/// A note as typed: trimmed, `None` when empty, refused past 10,000 characters.
fn clean_note(note: Option<String>) -> Result<Option<String>> {
    let Some(n) = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > 10_000 {
        return Err(CoreError::invalid(
            "note",
            "is longer than 10,000 characters",
        ));
    }
    Ok(Some(n))
}

/// A case as it is in the write's transaction.
async fn case_in(tx: &mut WriteTx, id: &str) -> Result<CaseState> {
    tx.writer_mut()
        .cases_by_external_ids(&[id.to_string()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| CoreError::NotFound(format!("no case with id '{id}'")))
}

/// One row's problems without the row's index.
fn strip(e: CoreError) -> CoreError {
    match e {
        CoreError::Invalid(mut p) => {
            for x in &mut p {
                x.index = None;
            }
            CoreError::Invalid(p)
        }
        e => e,
    }
}

impl Core {
    /// How the audit log names its user actors: `Name (email)` for each user acting on
    /// `items` (a page of the log), keyed by the entry's `actor_id`; one query for the
    /// page. Other actors keep their stored name.
    pub async fn audit_user_labels(
        &self,
        items: &[crate::audit::AuditRecord],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut ids: Vec<i64> = items
            .iter()
            .filter(|r| r.entry.actor_kind == "user")
            .filter_map(|r| r.entry.actor_id.as_deref()?.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let labels = self.store().user_labels(&ids).await?;
        Ok(labels
            .into_iter()
            .map(|(id, (name, email))| {
                let label = if name.trim().is_empty() {
                    email
                } else {
                    format!("{} ({email})", name.trim())
                };
                (id.to_string(), label)
            })
            .collect())
    }
}
