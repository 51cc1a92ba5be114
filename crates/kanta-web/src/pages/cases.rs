//! Cases: the list (`/cases`, filtered by status, SLA, owner, category and severity,
//! a page at a time) and one case (`/cases/{id}`): its header, its SLA timers in
//! words, its own timeline and the forms that move it (a step of its life cycle,
//! resolve, assign, a note, a claim; on a claim a manager's decision and the
//! payment). Every form POSTs, goes through the core with the signed-in user (so it
//! is audited and the SLA and trust rules hold) and redirects back with a notice;
//! a form with a mistake comes back (422) with what was typed and the error by the
//! field.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kanta_core::CoreError;
use kanta_core::cases::{CaseDetail, CaseFilter, CaseRow, NewCase, Resolution, SlaFilter};
use kanta_core::claims::{Claim, NewClaim};
use kanta_domain::schema::{CASE_CHANNELS, CASE_STATUSES, CLAIM_KINDS, SEVERITIES, STAFF};
use kanta_domain::{Currency, Value};
use kanta_store::accounts::Role;
use kanta_store::keyset::RecordQuery;
use serde::Deserialize;

use super::customer::{capitalize, word};
use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Cases per page of the list.
const PAGE: u32 = 50;
/// Longest free text a form takes.
const MAX_TEXT: usize = 5000;
/// Longest reason of a decision.
const MAX_REASON: usize = 500;

// ---------------------------------------------------------------- words

/// A length of time in words, the two largest units: `2 h 15 min`, `3 d 4 h`
/// (`3 vrk 4 h` in Finnish), `5 min`, `under a minute`.
pub(crate) fn duration_words(tr: &Tr, seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let day = tr.t("case.unit.day");
    match (d, h, m) {
        (0, 0, 0) => tr.t("case.under-a-minute").to_string(),
        (0, 0, m) => format!("{m}\u{a0}min"),
        (0, h, 0) => format!("{h}\u{a0}h"),
        (0, h, m) => format!("{h}\u{a0}h {m}\u{a0}min"),
        (d, 0, _) => format!("{d}\u{a0}{day}"),
        (d, h, _) => format!("{d}\u{a0}{day} {h}\u{a0}h"),
    }
}

/// A timer in words: `2 h 15 min left`, `overdue by 1 h`.
pub(crate) fn left_words(tr: &Tr, seconds_left: i64) -> String {
    let key = if seconds_left >= 0 {
        "case.timer.left"
    } else {
        "case.timer.overdue"
    };
    tr.t(key)
        .replace("{time}", &duration_words(tr, seconds_left))
}

/// A timer of a case: what it is for, its due time and where it stands.
pub(crate) struct TimerView {
    pub(crate) step: String,
    pub(crate) due: String,
    /// `2 h left`, `overdue by 1 h`, `met 12.5.2026 klo 9.00`, `met late ...`.
    pub(crate) state: String,
    /// `good`, `warn` (within the warning hours), `bad` (breached or overdue).
    pub(crate) tone: &'static str,
}

fn timer_view(tr: &Tr, t: &kanta_core::cases::Timer) -> TimerView {
    let (state, tone) = match t.met_at {
        Some(at) if t.breached => (
            tr.t("case.timer.met-late")
                .replace("{at}", &tr.date_time(&at)),
            "bad",
        ),
        Some(at) => (
            tr.t("case.timer.met").replace("{at}", &tr.date_time(&at)),
            "good",
        ),
        None => (
            left_words(tr, t.seconds_left),
            if t.seconds_left < 0 || t.breached {
                "bad"
            } else if t.seconds_left < 4 * 3600 {
                "warn"
            } else {
                ""
            },
        ),
    };
    TimerView {
        step: tr.t(&format!("case.step.{}", t.step)).to_string(),
        due: tr.date_time(&t.due_at),
        state,
        tone,
    }
}

/// The row's timer as the list shows it: the next target's time left or overdue,
/// else whether the case met its targets.
fn row_timer(tr: &Tr, r: &CaseRow, now: DateTime<Utc>) -> (String, &'static str) {
    match r.sla_due_at {
        Some(due) => {
            let left = (due - now).num_seconds();
            let tone = if left < 0 || r.breached {
                "bad"
            } else if left < 4 * 3600 {
                "warn"
            } else {
                ""
            };
            (left_words(tr, left), tone)
        }
        None if r.breached => (tr.t("case.timer.late").to_string(), "bad"),
        None if r.resolved_at.is_some() => (tr.t("case.timer.within").to_string(), "good"),
        None => (String::new(), ""),
    }
}

/// `yes`, `no` or `unknown` for "our fault".
fn fault_word(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// "Our fault" from a form: `yes`, `no`, or anything else for not known.
pub(crate) fn parse_fault(v: &str) -> Option<bool> {
    match v.trim() {
        "yes" | "on" | "true" | "kyllä" => Some(true),
        "no" | "false" | "ei" => Some(false),
        _ => None,
    }
}

fn checked(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| matches!(v, "on" | "yes" | "true" | "1"))
}

/// A claim's amount as typed: `12,50`, `12.50`, `12`, `1 200,00`; more than zero, in
/// the currency's minor units.
pub(crate) fn parse_amount(text: &str, currency: Currency) -> Result<i64, &'static str> {
    let t: String = text
        .trim()
        .trim_end_matches('€')
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    if t.is_empty() {
        return Err("form.required");
    }
    let d = kanta_domain::Decimal::parse(&t).map_err(|_| "form.amount")?;
    // More decimals than the currency has (`12,505 €`) is a typing mistake, not a
    // rounding to make.
    let digits = currency.minor_digits();
    if d.scale > digits && d.mantissa % 10i128.pow(d.scale - digits) != 0 {
        return Err("form.amount");
    }
    let minor = d.to_minor(currency).map_err(|_| "form.amount")?;
    if minor <= 0 {
        return Err("form.amount");
    }
    Ok(minor)
}

/// The staff members a case can be given to: (external id, name), active ones by name.
pub(crate) async fn staff_choices(s: &AppState) -> Result<Vec<(String, String)>, PageError> {
    let mut q = RecordQuery::new(&STAFF);
    q.limit = kanta_store::keyset::MAX_LIMIT;
    let page = s.store.list(&q).await?;
    let mut out: Vec<(String, String)> = page
        .items
        .iter()
        .filter(|r| r.get("active") != &Value::Bool(false))
        .map(|r| {
            (
                r.external_id.clone(),
                r.text("name").unwrap_or(&r.external_id).to_string(),
            )
        })
        .collect();
    out.sort_by_key(|a| a.1.to_lowercase());
    Ok(out)
}

/// A core refusal of a form's values as the form's errors (field, reason); anything
/// else stays an error of the page.
fn invalid_or(signed: &SignedIn, e: CoreError) -> Result<Vec<(String, String)>, PageError> {
    let tr = signed.tr;
    match e {
        CoreError::Invalid(problems) => Ok(problems
            .into_iter()
            .map(|p| {
                let text = refusal(&tr, &p.reason);
                (p.field, text)
            })
            .collect()),
        CoreError::Conflict { field, message } => Ok(vec![(
            field.unwrap_or_else(|| "form".into()),
            refusal(&tr, &message),
        )]),
        other => Err(core_error(signed)(other)),
    }
}

/// The core's refusals the pages know, by a phrase of the core's (English) text, and
/// the i18n key that says it in the page's language.
const REFUSALS: &[(&str, &str)] = &[
    (
        "resolved before it is closed",
        "case.refused.close-unresolved",
    ),
    (
        "only a resolved or closed case is reopened",
        "case.refused.reopen-open",
    ),
    ("reopen it first", "case.refused.reopen-first"),
    (
        "not a step of a case's life cycle",
        "case.refused.not-a-step",
    ),
    (
        "already: only pending claims are decided",
        "case.refused.decided-already",
    ),
    (
        "only approved claims are paid",
        "case.refused.pay-not-approved",
    ),
    ("was paid already", "case.refused.paid-already"),
    ("a reason is required", "case.refused.reason"),
    ("to add a claim", "case.refused.claim-closed"),
];

/// A refusal of the core in the page's language where the page knows it, else the
/// core's own words.
pub(crate) fn refusal(tr: &Tr, message: &str) -> String {
    if let Some((_, key)) = REFUSALS.iter().find(|(p, _)| message.contains(p)) {
        return tr.t(key).to_string();
    }
    // "the case is waiting already"
    if message.starts_with("the case is ") && message.ends_with(" already") {
        return tr.t("case.refused.same").to_string();
    }
    message.to_string()
}

// ---------------------------------------------------------------- the list

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListQuery {
    status: String,
    /// `breaching` or `due_soon`.
    sla: String,
    mine: String,
    owner: String,
    category: String,
    severity: String,
    customer: String,
    after: String,
    saved: String,
}

pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

pub(crate) struct RowView {
    id: String,
    href: String,
    customer_href: String,
    customer: String,
    opened: String,
    category: String,
    severity: String,
    severe: bool,
    status: String,
    owner: Option<String>,
    summary: Option<String>,
    our_fault: bool,
    timer: String,
    timer_tone: &'static str,
    escalation: bool,
}

#[derive(Template)]
#[template(path = "cases.html")]
pub(crate) struct CasesView {
    tr: Tr,
    me: Option<Me>,
    statuses: Vec<Choice>,
    slas: Vec<Choice>,
    severities: Vec<Choice>,
    owners: Vec<Choice>,
    mine: bool,
    categories: Vec<Choice>,
    customer: String,
    rows: Vec<RowView>,
    next: Option<String>,
    first: Option<String>,
    filtered: bool,
    warn_hours: String,
}

fn row_view(tr: &Tr, r: &CaseRow, now: DateTime<Utc>) -> RowView {
    let (timer, timer_tone) = row_timer(tr, r, now);
    RowView {
        href: format!("/cases/{}", urlencode(&r.id)),
        customer_href: format!("/customers/{}", urlencode(&r.customer_id)),
        customer: r
            .customer_name
            .clone()
            .unwrap_or_else(|| r.customer_id.clone()),
        opened: tr.date_time(&r.opened_at),
        category: capitalize(&word(tr, &r.category)),
        severity: tr.value(&r.severity),
        severe: matches!(r.severity.as_str(), "high" | "critical"),
        status: tr.t(&format!("case.status.{}", r.status)).to_string(),
        owner: r.owner_name.clone().or_else(|| r.owner_id.clone()),
        summary: r.summary.clone(),
        our_fault: r.our_fault == Some(true),
        timer,
        timer_tone,
        escalation: r.escalation_of.is_some(),
        id: r.id.clone(),
    }
}

fn nonempty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let status = nonempty(&q.status).unwrap_or_else(|| "open".into());
    let statuses_allowed: Vec<&str> = ["open", "all"]
        .into_iter()
        .chain(CASE_STATUSES.iter().copied())
        .collect();
    if !statuses_allowed.contains(&status.as_str()) {
        return Err(bad_filter(&signed, "status", &status, &statuses_allowed));
    }
    let sla = match q.sla.trim() {
        "" => None,
        "breaching" => Some(SlaFilter::Breaching),
        "due_soon" => Some(SlaFilter::DueSoon),
        other => {
            return Err(bad_filter(
                &signed,
                "sla",
                other,
                &["breaching", "due_soon"],
            ));
        }
    };
    let mine = checked(&Some(q.mine.clone()));
    let severity = nonempty(&q.severity);
    if let Some(v) = &severity
        && !SEVERITIES.contains(&v.as_str())
    {
        return Err(bad_filter(&signed, "severity", v, SEVERITIES));
    }
    let filter = CaseFilter {
        status: Some(status.clone()),
        sla,
        mine,
        owner: nonempty(&q.owner),
        customer: nonempty(&q.customer),
        category: nonempty(&q.category),
        severity: severity.clone(),
        escalations: false,
        after: nonempty(&q.after),
        limit: PAGE,
    };
    let (page, staff, categories) = tokio::try_join!(
        async {
            s.core
                .cases_page(&signed.acting(), &filter)
                .await
                .map_err(core_error(&signed))
        },
        staff_choices(&s),
        async { Ok::<_, PageError>(s.store.case_categories().await?) },
    )?;
    let warn_hours = s
        .core
        .store_settings()
        .await
        .ok()
        .and_then(|st| st.value("sla_warn_hours").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "4".to_string());
    let now = Utc::now();
    let rows: Vec<RowView> = page.rows.iter().map(|r| row_view(&tr, r, now)).collect();
    // The query without its cursor: the next page's link adds one.
    let mut params: Vec<(&str, String)> = Vec::new();
    if status != "open" {
        params.push(("status", status.clone()));
    }
    if !q.sla.trim().is_empty() {
        params.push(("sla", q.sla.trim().to_string()));
    }
    if mine {
        params.push(("mine", "on".into()));
    }
    for (k, v) in [
        ("owner", &q.owner),
        ("category", &q.category),
        ("customer", &q.customer),
    ] {
        if let Some(v) = nonempty(v) {
            params.push((k, v));
        }
    }
    if let Some(v) = &severity {
        params.push(("severity", v.clone()));
    }
    let base: String = std::iter::once("/cases?".to_string())
        .chain(params.iter().map(|(k, v)| format!("{k}={}&", urlencode(v))))
        .collect();
    let next = page
        .next
        .as_ref()
        .map(|c| format!("{base}after={}", urlencode(c)));
    let first = nonempty(&q.after).map(|_| base.trim_end_matches(['&', '?']).to_string());
    let choice = |value: &str, label: String, selected: bool| Choice {
        value: value.to_string(),
        label,
        selected,
    };
    let mut statuses = vec![
        choice("open", tr.t("cases.status.open").into(), status == "open"),
        choice("all", tr.t("cases.status.all").into(), status == "all"),
    ];
    // "open" above is every case not yet resolved or closed; the steps after it
    // one by one.
    for st in CASE_STATUSES.iter().filter(|s| **s != "open") {
        statuses.push(choice(
            st,
            tr.t(&format!("case.status.{st}")).into(),
            status == *st,
        ));
    }
    let v = CasesView {
        statuses,
        slas: vec![
            choice(
                "breaching",
                tr.t("cases.sla.breaching").into(),
                q.sla.trim() == "breaching",
            ),
            choice(
                "due_soon",
                tr.t("cases.sla.due-soon").replace("{hours}", &warn_hours),
                q.sla.trim() == "due_soon",
            ),
        ],
        severities: SEVERITIES
            .iter()
            .map(|w| choice(w, tr.value(w), severity.as_deref() == Some(*w)))
            .collect(),
        owners: staff
            .into_iter()
            .map(|(id, name)| {
                let selected = q.owner.trim() == id;
                choice(&id, name, selected)
            })
            .collect(),
        mine,
        categories: {
            let chosen = q.category.trim();
            let mut c: Vec<Choice> = categories
                .iter()
                .map(|k| choice(k, capitalize(&word(&tr, k)), chosen == k))
                .collect();
            // A category typed into the address that no case has (yet) stays chosen.
            if !chosen.is_empty() && !categories.iter().any(|k| k == chosen) {
                c.push(choice(chosen, capitalize(&word(&tr, chosen)), true));
            }
            c.sort_by_key(|c| c.label.to_lowercase());
            c
        },
        customer: q.customer.trim().to_string(),
        filtered: !params.is_empty(),
        rows,
        next,
        first,
        warn_hours,
        me: Some(signed.me()),
        tr,
    };
    Ok(render(&v))
}

/// A filter of the list with a value it does not take: a 422 page naming the filter
/// and the values it takes, in the user's language.
fn bad_filter(signed: &SignedIn, filter: &str, value: &str, allowed: &[&str]) -> PageError {
    let tr = signed.tr;
    let label = tr.t(&format!("cases.{filter}")).to_string();
    let words: Vec<String> = allowed
        .iter()
        .map(|w| {
            let said = match filter {
                "status" if *w == "open" || *w == "all" => {
                    tr.t(&format!("cases.status.{w}")).to_string()
                }
                "status" => tr.t(&format!("case.status.{w}")).to_string(),
                "sla" => tr
                    .t(&format!("cases.sla.{}", w.replace('_', "-")))
                    .replace("{hours}", "N"),
                _ => tr.value(w),
            };
            format!("{w} ({said})")
        })
        .collect();
    let value: String = value.chars().take(40).collect();
    let text = tr
        .t("cases.bad-filter")
        .replace("{filter}", &label)
        .replace("{value}", &value)
        .replace("{allowed}", &words.join(", "));
    let page = crate::auth::MessagePage {
        tr,
        me: Some(signed.me()),
        title: tr.t("cases.bad-filter.title"),
        text: &text,
    };
    PageError::Page(Box::new(render_status(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
    )))
}

// ---------------------------------------------------------------- one case

/// What a case page's forms sent, and which form it was.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CaseForm {
    csrf: String,
    to: String,
    note: String,
    resolution: String,
    apology: Option<String>,
    fixed_in_presence: Option<String>,
    our_fault: String,
    owner: String,
    amount: String,
    kind: String,
    approve: String,
    reason: String,
    severity: String,
    /// Where to go afterwards: `claims` for the managers' approval queue.
    back: String,
    #[serde(skip)]
    form: &'static str,
    /// The claim a decision or payment was about.
    #[serde(skip)]
    claim: String,
    #[serde(skip)]
    errors: Vec<(String, String)>,
}

impl CaseForm {
    /// The error of a field of form `form`, if any.
    fn error(&self, form: &str, field: &str) -> Option<&str> {
        if self.form != form {
            return None;
        }
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, e)| e.as_str())
    }

    /// Errors of form `form` that name no field the form shows (`fields`, separated
    /// by commas).
    fn other_errors(&self, form: &str, fields: &str) -> Vec<String> {
        if self.form != form {
            return Vec::new();
        }
        self.errors
            .iter()
            .filter(|(f, _)| !fields.split(',').any(|x| x == f))
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The form's value when it was this form that came back, else "".
    fn kept<'a>(&'a self, form: &str, v: &'a str) -> &'a str {
        if self.form == form { v } else { "" }
    }
}

pub(crate) struct EventView {
    at: String,
    what: String,
    detail: Option<String>,
    note: Option<String>,
    actor: String,
    tone: &'static str,
}

pub(crate) struct ClaimView {
    id: String,
    at: String,
    amount: String,
    kind: String,
    status: String,
    status_word: String,
    auto: bool,
    decided: Option<String>,
    reason: Option<String>,
    paid: Option<String>,
    can_decide: bool,
    can_pay: bool,
}

#[derive(Template)]
#[template(path = "case.html")]
pub(crate) struct CaseView {
    tr: Tr,
    me: Option<Me>,
    id: String,
    customer: String,
    customer_href: String,
    category: String,
    severity: String,
    severe: bool,
    status: String,
    status_word: String,
    owner: Option<String>,
    owner_id: String,
    channel: Option<String>,
    our_fault: String,
    our_fault_word: String,
    opened: String,
    summary: Option<String>,
    resolution: Option<String>,
    apology: Option<String>,
    fixed_in_presence: Option<String>,
    escalation: bool,
    timers: Vec<TimerView>,
    events: Vec<EventView>,
    claims: Vec<ClaimView>,
    /// The steps the case may take now: (status, button text).
    moves: Vec<(&'static str, String)>,
    can_resolve: bool,
    can_write: bool,
    can_claim: bool,
    /// Staff may change "our fault" and the severity of a case not yet resolved.
    can_edit: bool,
    severities: Vec<(&'static str, String)>,
    severity_key: String,
    staff: Vec<(String, String)>,
    kinds: Vec<(&'static str, String)>,
    currency: String,
    csrf: String,
    saved: Option<String>,
    f: CaseForm,
}

impl CaseView {
    fn action(&self, what: &str) -> String {
        format!("/cases/{}/{what}", urlencode(&self.id))
    }

    fn claim_action(&self, claim: &str, what: &str) -> String {
        format!(
            "/cases/{}/claims/{}/{what}",
            urlencode(&self.id),
            urlencode(claim)
        )
    }
}

/// The steps a case in `status` may take, as buttons (resolving has its own form).
fn moves(tr: &Tr, status: &str) -> Vec<(&'static str, String)> {
    let to: &[&'static str] = match status {
        "open" => &["in_progress", "waiting"],
        "in_progress" => &["waiting"],
        "waiting" => &["in_progress"],
        "resolved" => &["closed", "open"],
        "closed" => &["open"],
        _ => &[],
    };
    to.iter()
        .map(|t| (*t, tr.t(&format!("case.move.{t}")).to_string()))
        .collect()
}

/// Who did a step, as people say it: a user by their name, the SLA job as "SLA
/// check", an import by its file; "imported" when nothing better is known.
pub(crate) fn actor_words(tr: &Tr, actor: &str, users: &Users) -> String {
    let a = actor.trim();
    if let Some(name) = users.get(&a.to_lowercase()) {
        return name.clone();
    }
    match a {
        "" | "unknown" => tr.t("case.actor.imported").to_string(),
        kanta_core::cases::SLA_JOB => tr.t("case.actor.sla").to_string(),
        _ if is_file_name(a) => tr.t("case.actor.import").replace("{file}", a),
        _ => tr.text_or(&format!("case.actor.{a}"), a),
    }
}

fn is_file_name(a: &str) -> bool {
    let l = a.to_ascii_lowercase();
    [".csv", ".json", ".jsonl", ".xlsx", ".tsv", ".txt"]
        .iter()
        .any(|e| l.ends_with(e))
}

/// The signed-in users by email (lower case) and by id: their names.
pub(crate) type Users = std::collections::HashMap<String, String>;

pub(crate) async fn users(s: &AppState) -> Result<Users, PageError> {
    let list = s.store.users().await?;
    let mut out = Users::new();
    for u in list {
        out.insert(u.id.to_string(), u.name.clone());
        out.insert(u.email.to_lowercase(), u.name);
    }
    Ok(out)
}

/// An amount as the core writes it on a timeline (`50.00 EUR`) in the page's money
/// format; anything else as it is.
fn money_text(tr: &Tr, t: &str, store: Currency) -> String {
    let parsed = t.trim().split_once(' ').and_then(|(n, c)| {
        let currency: Currency = c.trim().parse().ok()?;
        let d = kanta_domain::Decimal::parse(n.trim()).ok()?;
        d.to_minor(currency).ok().map(|m| tr.money(m, currency))
    });
    parsed.unwrap_or_else(|| {
        t.parse::<i64>()
            .map_or_else(|_| t.to_string(), |m| tr.money(m, store))
    })
}

/// A time as the SLA job writes it (`2026-11-09 14:17 (Europe/Helsinki)`) in the
/// page's date format; `None` when it is not one.
fn zoned_text(tr: &Tr, t: &str) -> Option<String> {
    let (local, zone) = t.trim().split_once(" (")?;
    let zone: kanta_domain::time::Tz = zone.trim_end_matches(')').parse().ok()?;
    let naive = chrono::NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%d %H:%M").ok()?;
    let at = chrono::TimeZone::from_local_datetime(&zone, &naive).earliest()?;
    Some(tr.date_time(&at.with_timezone(&Utc)))
}

/// A word the core writes on a timeline (a status, a claim's kind or status) in the
/// page's language.
fn step_word(tr: &Tr, w: &str) -> String {
    if CASE_STATUSES.contains(&w) {
        return tr.t(&format!("case.status.{w}")).to_string();
    }
    if w == "pending" {
        return tr.t("case.claim.pending").to_string();
    }
    word(tr, w)
}

fn event_view(
    tr: &Tr,
    e: &kanta_core::cases::CaseEvent,
    currency: Currency,
    users: &Users,
) -> EventView {
    let sw = |s: &str| step_word(tr, s);
    let detail = match e.kind.as_str() {
        "status" | "reopened" | "resolved" | "closed" | "opened" => match (&e.from, &e.to) {
            (Some(f), Some(t)) => Some(format!("{} → {}", sw(f), sw(t))),
            (None, Some(t)) => Some(sw(t)),
            _ => None,
        },
        // Owners are staff ids: by their names where the register has them.
        "owner" => {
            let name = |v: &Option<String>| match v {
                Some(id) => users.get(id).cloned().unwrap_or_else(|| id.clone()),
                None => "–".into(),
            };
            Some(format!("{} → {}", name(&e.from), name(&e.to)))
        }
        "claim" | "claim_paid" => e.to.as_ref().map(|t| money_text(tr, t, currency)),
        "claim_approved" | "claim_refused" => e.to.as_ref().map(|t| sw(t)),
        "sla_warning" | "sla_breach" => {
            e.to.as_ref()
                .map(|s| tr.text_or(&format!("case.step.{s}"), s))
        }
        _ => e.to.as_ref().map(|t| sw(t)),
    };
    let note = e
        .note
        .as_ref()
        .map(|n| match (e.kind.as_str(), n.as_str()) {
            ("claim", k) if CLAIM_KINDS.contains(&k) => tr.value(k),
            (_, kanta_core::claims::AT_ONCE) => tr.t("case.claim.at-once").to_string(),
            (_, kanta_core::claims::WAITS) => tr.t("case.claim.pending").to_string(),
            ("sla_warning" | "sla_breach", t) => zoned_text(tr, t)
                .map_or_else(|| t.to_string(), |d| format!("{} {d}", tr.t("case.due"))),
            (_, t) => t.to_string(),
        });
    EventView {
        at: tr.date_time(&e.at),
        what: tr.text_or(&format!("case.event.{}", e.kind), &e.kind.replace('_', " ")),
        detail,
        note,
        actor: actor_words(tr, &e.actor, users),
        tone: match e.kind.as_str() {
            "sla_breach" | "escalated" | "claim_refused" => "bad",
            "resolved" | "claim_approved" | "claim_paid" => "good",
            "sla_warning" => "warn",
            _ => "",
        },
    }
}

fn claim_view(
    tr: &Tr,
    c: &Claim,
    manager: bool,
    staff: bool,
    store: Currency,
    users: &Users,
) -> ClaimView {
    let currency = c.currency.parse().unwrap_or(store);
    ClaimView {
        id: c.id.clone(),
        at: tr.date_time(&c.claimed_at),
        amount: tr.money(c.amount_minor, currency),
        kind: word(tr, &c.kind),
        status_word: if c.paid_at.is_some() {
            tr.t("case.claim.paid").to_string()
        } else {
            tr.t(&format!("case.claim.{}", c.status)).to_string()
        },
        auto: c.auto_approved,
        decided: c.decided_at.map(|t| {
            let who = c
                .decided_by
                .as_deref()
                .map(|a| actor_words(tr, a, users))
                .unwrap_or_default();
            format!("{} {who}", tr.date_time(&t)).trim().to_string()
        }),
        reason: c.decision_reason.clone(),
        paid: c.paid_at.map(|t| {
            let who = c
                .paid_by
                .as_deref()
                .map(|a| actor_words(tr, a, users))
                .unwrap_or_default();
            format!("{} {who}", tr.date_time(&t)).trim().to_string()
        }),
        can_decide: manager && c.status == "pending",
        can_pay: staff && c.status == "approved" && c.paid_at.is_none(),
        status: c.status.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CaseQuery {
    saved: String,
}

/// The notices `?saved=` names.
const NOTICES: &[&str] = &[
    "transition",
    "resolve",
    "assign",
    "note",
    "claim",
    "decision",
    "pay",
    "edit",
];

async fn case_view(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
    f: CaseForm,
    saved: Option<String>,
) -> Result<CaseView, PageError> {
    let tr = signed.tr;
    let (d, staff, currency, users) = tokio::try_join!(
        async {
            s.core
                .case_detail(&signed.acting(), id)
                .await
                .map_err(|e| match e {
                    CoreError::NotFound(_) => case_not_found(signed),
                    other => core_error(signed)(other),
                })
        },
        staff_choices(s),
        super::store_currency(s),
        users(s),
    )?;
    Ok(detail_view(
        tr, signed, d, staff, currency, &users, f, saved,
    ))
}

#[allow(clippy::too_many_arguments)]
fn detail_view(
    tr: Tr,
    signed: &SignedIn,
    d: CaseDetail,
    staff: Vec<(String, String)>,
    currency: Currency,
    users: &Users,
    f: CaseForm,
    saved: Option<String>,
) -> CaseView {
    let role = signed.user.role;
    let (staff_role, manager) = (role >= Role::Staff, role >= Role::Manager);
    let c = &d.case;
    // The staff register's ids by name too, for the owner's steps on the timeline.
    let mut names = users.clone();
    for (id, name) in &staff {
        names.entry(id.clone()).or_insert_with(|| name.clone());
    }
    let users = &names;
    let yes_no = |b: Option<bool>| b.map(|b| tr.value(if b { "yes" } else { "no" }));
    CaseView {
        id: c.id.clone(),
        customer: c
            .customer_name
            .clone()
            .unwrap_or_else(|| c.customer_id.clone()),
        customer_href: format!("/customers/{}", urlencode(&c.customer_id)),
        category: capitalize(&word(&tr, &c.category)),
        severity: tr.value(&c.severity),
        severe: matches!(c.severity.as_str(), "high" | "critical"),
        status_word: tr.t(&format!("case.status.{}", c.status)).to_string(),
        owner: c.owner_name.clone().or_else(|| c.owner_id.clone()),
        owner_id: c.owner_id.clone().unwrap_or_default(),
        channel: c.channel.as_deref().map(|w| tr.value(w)),
        our_fault: fault_word(c.our_fault).to_string(),
        our_fault_word: tr
            .t(&format!("case.fault.{}", fault_word(c.our_fault)))
            .to_string(),
        opened: tr.date_time(&c.opened_at),
        summary: c.summary.clone(),
        resolution: d.resolution.clone(),
        apology: yes_no(d.apology),
        fixed_in_presence: yes_no(d.fixed_in_presence),
        escalation: c.escalation_of.is_some(),
        timers: d.timers.iter().map(|t| timer_view(&tr, t)).collect(),
        // Newest first, as the customer's timeline.
        events: d
            .events
            .iter()
            .rev()
            .map(|e| event_view(&tr, e, currency, users))
            .collect(),
        claims: d
            .claims
            .iter()
            .map(|k| claim_view(&tr, k, manager, staff_role, currency, users))
            .collect(),
        moves: if staff_role {
            moves(&tr, &c.status)
        } else {
            Vec::new()
        },
        can_resolve: staff_role && matches!(c.status.as_str(), "open" | "in_progress" | "waiting"),
        can_write: staff_role,
        // The core refuses claims on a closed case: no form for one.
        can_claim: staff_role && c.status != "closed",
        can_edit: staff_role && !matches!(c.status.as_str(), "resolved" | "closed"),
        severities: SEVERITIES.iter().map(|w| (*w, tr.value(w))).collect(),
        severity_key: c.severity.clone(),
        staff,
        kinds: CLAIM_KINDS.iter().map(|k| (*k, tr.value(k))).collect(),
        currency: currency.code().to_string(),
        csrf: signed.csrf.clone(),
        saved,
        f,
        status: c.status.clone(),
        me: Some(signed.me()),
        tr,
    }
}

fn case_not_found(signed: &SignedIn) -> PageError {
    let tr = signed.tr;
    let page = crate::auth::MessagePage {
        tr,
        me: Some(signed.me()),
        title: tr.t("customer.not-found.title"),
        text: tr.t("case.not-found"),
    };
    PageError::Page(Box::new(render_status(&page, StatusCode::NOT_FOUND)))
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, PageError> {
    let saved = NOTICES
        .iter()
        .find(|n| **n == q.saved)
        .map(|n| format!("case.saved.{n}"));
    let v = case_view(&s, &signed, &id, CaseForm::default(), saved).await?;
    Ok(render(&v))
}

/// Sends a form back (422) with what was typed and the errors.
async fn sent_back(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
    f: CaseForm,
) -> Result<Response, PageError> {
    let v = case_view(s, signed, id, f, None).await?;
    Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
}

/// After a write: back to the case (or the approval queue) with its notice.
fn done(id: &str, f: &CaseForm, saved: &str) -> Response {
    if f.back == "claims" {
        return see_other(format!("/claims?saved={saved}"));
    }
    see_other(format!("/cases/{}?saved={saved}", urlencode(id)))
}

fn required(tr: &Tr, errors: &mut Vec<(String, String)>, field: &str, v: &str, max: usize) {
    let t = v.trim();
    if t.is_empty() {
        errors.push((field.into(), tr.t("form.required").into()));
    } else if t.chars().count() > max {
        errors.push((field.into(), format!("{} {max}", tr.t("form.too-long"))));
    }
}

fn optional(tr: &Tr, errors: &mut Vec<(String, String)>, field: &str, v: &str) -> Option<String> {
    let t = v.trim();
    if t.chars().count() > MAX_TEXT {
        errors.push((
            field.into(),
            format!("{} {MAX_TEXT}", tr.t("form.too-long")),
        ));
    }
    (!t.is_empty()).then(|| t.to_string())
}

/// Runs a form: checks the role and the CSRF token, reads it (`check` adds errors),
/// writes it through the core (`write`); a mistake in either sends the form back.
macro_rules! run_form {
    ($s:expr, $signed:expr, $id:expr, $f:expr, $form:expr, $role:expr, $saved:expr, $write:expr) => {{
        form_allowed(&$signed, $role, &$f.csrf)?;
        $f.form = $form;
        if !$f.errors.is_empty() {
            return sent_back(&$s, &$signed, &$id, $f).await;
        }
        match $write.await {
            Ok(_) => Ok(done(&$id, &$f, $saved)),
            Err(e) => {
                $f.errors = invalid_or(&$signed, e)?;
                sent_back(&$s, &$signed, &$id, $f).await
            }
        }
    }};
}

pub(crate) async fn transition(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let to = f.to.trim().to_string();
    if !["in_progress", "waiting", "closed", "open"].contains(&to.as_str()) {
        f.errors.push(("to".into(), tr.t("form.choose").into()));
    }
    let note = optional(&tr, &mut f.errors, "note", &f.note);
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "transition",
        Role::Staff,
        "transition",
        s.core.case_transition(&acting, &id, &to, note)
    )
}

pub(crate) async fn resolve(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    required(&tr, &mut f.errors, "resolution", &f.resolution, MAX_TEXT);
    let note = optional(&tr, &mut f.errors, "note", &f.note);
    let r = Resolution {
        resolution: f.resolution.trim().to_string(),
        apology: checked(&f.apology),
        fixed_in_presence: checked(&f.fixed_in_presence),
        our_fault: parse_fault(&f.our_fault),
        note,
    };
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "resolve",
        Role::Staff,
        "resolve",
        s.core.resolve_case(&acting, &id, r)
    )
}

pub(crate) async fn assign(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let owner = nonempty(&f.owner);
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "assign",
        Role::Staff,
        "assign",
        s.core.assign_case(&acting, &id, owner)
    )
}

pub(crate) async fn note(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    required(&tr, &mut f.errors, "note", &f.note, MAX_TEXT);
    let text = f.note.trim().to_string();
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "note",
        Role::Staff,
        "note",
        s.core.add_case_note(&acting, &id, text)
    )
}

pub(crate) async fn claim(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let currency = super::store_currency(&s).await?;
    let amount = match parse_amount(&f.amount, currency) {
        Ok(m) => m,
        Err(key) => {
            f.errors.push(("amount".into(), tr.t(key).into()));
            0
        }
    };
    let kind = if f.kind.trim().is_empty() {
        "refund".to_string()
    } else {
        f.kind.trim().to_string()
    };
    if !CLAIM_KINDS.contains(&kind.as_str()) {
        f.errors.push(("kind".into(), tr.t("form.choose").into()));
    }
    let c = NewClaim {
        amount_minor: amount,
        currency,
        kind,
    };
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "claim",
        Role::Staff,
        "claim",
        s.core.add_claim(&acting, &id, c)
    )
}

pub(crate) async fn decide(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, claim)): Path<(String, String)>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    f.claim.clone_from(&claim);
    let approve = match f.approve.trim() {
        "yes" | "approve" | "true" => Some(true),
        "no" | "refuse" | "false" => Some(false),
        _ => None,
    };
    if approve.is_none() {
        f.errors
            .push(("approve".into(), tr.t("form.choose").into()));
    }
    required(&tr, &mut f.errors, "reason", &f.reason, MAX_REASON);
    let reason = f.reason.trim().to_string();
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "decision",
        Role::Manager,
        "decision",
        s.core
            .decide_claim(&acting, &claim, approve.unwrap_or(false), reason)
    )
}

pub(crate) async fn pay(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, claim)): Path<(String, String)>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    f.claim.clone_from(&claim);
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "pay",
        Role::Staff,
        "pay",
        s.core.pay_claim(&acting, &claim)
    )
}

/// Changes "our fault" (yes, no, not known) and the severity of a case through the
/// one write path: the SLA dues follow the severity and the trust rules run in the
/// write's hook (a flip to "our fault" writes its mistake entry).
pub(crate) async fn edit(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<CaseForm>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let severity = f.severity.trim().to_string();
    if !SEVERITIES.contains(&severity.as_str()) {
        f.errors
            .push(("severity".into(), tr.t("form.choose").into()));
    }
    let fault = parse_fault(&f.our_fault);
    let fields: Vec<&'static kanta_domain::schema::Field> = ["our_fault", "severity"]
        .iter()
        .filter_map(|n| kanta_domain::schema::CASES.field(n))
        .collect();
    let values = vec![
        fault.map_or(Value::Null, Value::Bool),
        Value::Text(severity),
    ];
    let acting = signed.acting();
    run_form!(
        s,
        signed,
        id,
        f,
        "edit",
        Role::Staff,
        "edit",
        s.core
            .update_record(&acting, &kanta_domain::schema::CASES, &id, fields, values)
    )
}

/// Opens a case from a customer page's form (see `customer::quick_action`).
pub(crate) fn new_case(
    customer_id: &str,
    given: &[(&'static str, Value)],
    claim: Option<NewClaim>,
) -> NewCase {
    let text = |n: &str| {
        given
            .iter()
            .find(|(k, _)| *k == n)
            .and_then(|(_, v)| v.as_text().map(str::to_string))
    };
    NewCase {
        customer_id: customer_id.to_string(),
        category: text("category").unwrap_or_default(),
        severity: text("severity"),
        channel: text("channel"),
        our_fault: given
            .iter()
            .find(|(k, _)| *k == "our_fault")
            .and_then(|(_, v)| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            }),
        summary: text("summary"),
        owner_id: text("staff_id"),
        opened_at: None,
        claim,
    }
}

/// The channels a case form offers.
pub(crate) fn channels(tr: &Tr) -> Vec<(&'static str, String)> {
    CASE_CHANNELS.iter().map(|c| (*c, tr.value(c))).collect()
}

/// The claim kinds a form offers.
pub(crate) fn claim_kinds(tr: &Tr) -> Vec<(&'static str, String)> {
    CLAIM_KINDS.iter().map(|c| (*c, tr.value(c))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn timers_in_words() {
        let (fi, en) = (Tr::new(Lang::Fi), Tr::new(Lang::En));
        assert_eq!(
            left_words(&en, 2 * 3600 + 15 * 60),
            "2\u{a0}h 15\u{a0}min left"
        );
        assert_eq!(left_words(&en, -3600), "overdue by 1\u{a0}h");
        assert_eq!(left_words(&fi, -3600), "myöhässä 1\u{a0}h");
        assert_eq!(left_words(&fi, 90 * 60), "1\u{a0}h 30\u{a0}min jäljellä");
        assert_eq!(
            duration_words(&en, 3 * 86_400 + 4 * 3600 + 5),
            "3\u{a0}d 4\u{a0}h"
        );
        assert_eq!(duration_words(&fi, 86_400), "1\u{a0}vrk");
        assert_eq!(duration_words(&en, 30), "under a minute");
    }

    #[test]
    fn amounts_as_people_type_them() {
        let eur = Currency::EUR;
        assert_eq!(parse_amount("12,50", eur), Ok(1250));
        assert_eq!(parse_amount("12.50", eur), Ok(1250));
        assert_eq!(parse_amount("120", eur), Ok(12000));
        assert_eq!(parse_amount("1 200,00 €", eur), Ok(120_000));
        assert_eq!(parse_amount("", eur), Err("form.required"));
        assert_eq!(parse_amount("-5", eur), Err("form.amount"));
        assert_eq!(parse_amount("12,505", eur), Err("form.amount"));
        assert_eq!(parse_amount("abc", eur), Err("form.amount"));
    }

    #[test]
    fn timeline_values_in_the_pages_words() {
        let fi = Tr::new(Lang::Fi);
        assert_eq!(money_text(&fi, "50.00 EUR", Currency::EUR), "50,00\u{a0}€");
        assert_eq!(money_text(&fi, "1250", Currency::EUR), "12,50\u{a0}€");
        assert_eq!(money_text(&fi, "soon", Currency::EUR), "soon");
        let zoned = zoned_text(&fi, "2026-11-09 14:17 (Europe/Helsinki)").unwrap();
        assert!(zoned.contains("9.11.2026"), "{zoned}");
        assert_eq!(zoned_text(&fi, "whenever"), None);
        let mut users = Users::new();
        users.insert("staff@kanta.test".into(), "Sanna".into());
        assert_eq!(actor_words(&fi, "Staff@Kanta.test", &users), "Sanna");
        assert_eq!(actor_words(&fi, "cases.sla", &users), "SLA-valvonta");
        assert_eq!(actor_words(&fi, "unknown", &users), "tuotu");
        assert_eq!(
            actor_words(&fi, "cases.csv", &users),
            "tuonti tiedostosta cases.csv"
        );
        assert_eq!(step_word(&fi, "in_progress"), "Työn alla");
        assert_eq!(
            refusal(
                &fi,
                "a case cannot move from open to closed: a case is resolved before it is closed"
            ),
            fi.t("case.refused.close-unresolved")
        );
        assert_eq!(refusal(&fi, "something new"), "something new");
    }

    #[test]
    fn our_fault_three_ways() {
        assert_eq!(parse_fault("yes"), Some(true));
        assert_eq!(parse_fault("no"), Some(false));
        assert_eq!(parse_fault("unknown"), None);
        assert_eq!(parse_fault(""), None);
    }
}
