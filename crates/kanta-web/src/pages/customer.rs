//! One customer on one screen: who they are and how to reach them, what they are
//! worth, the trust balance, open cases, the latest feedback and the whole timeline,
//! newest first; and the quick actions (log an interaction, open a case, add a
//! note), plain forms that POST and redirect back with 303.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kanta_domain::schema::{
    CASES, CONTACTS, DIRECTIONS, INTERACTION_KINDS, INTERACTIONS, OUTCOMES, SEVERITIES,
};
use kanta_domain::{Currency, Entity, Kind, Value, ids};
use kanta_store::WriteBatch;
use kanta_store::auth::Role;
use kanta_store::read::{Record, TimelineEvent};
use kanta_store::scores::{CustomerScore, ModelRun};
use serde::Deserialize;

use super::{PageError, not_found, render, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Longest free text a form takes (a note, a summary).
const MAX_TEXT: usize = 5000;
/// Longest short text (a case's category).
const MAX_SHORT: usize = 100;

/// One line of the timeline, ready to show.
pub(crate) struct Line {
    at: String,
    kind: String,
    tone: &'static str,
    details: Vec<(String, String)>,
}

/// A key figure at the top of the page. Model scores (CLV, P(alive), health) join
/// this list when they exist; a figure without a value is left out, never shown empty.
pub(crate) struct Figure {
    label: &'static str,
    value: String,
    tone: &'static str,
    /// A short explanation under the value (e.g. "deficit").
    note: Option<&'static str>,
}

pub(crate) struct ContactView {
    name: String,
    title: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    primary: bool,
}

pub(crate) struct CaseView {
    opened: String,
    category: String,
    severity: String,
    severe: bool,
    summary: Option<String>,
    our_fault: bool,
}

pub(crate) struct FeedbackView {
    at: String,
    nps: Option<i64>,
    /// promoter, passive or detractor.
    nps_group: &'static str,
    scores: Vec<(String, String)>,
    texts: Vec<(String, String)>,
}

/// What a form sent back, and what was wrong with it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FormInput {
    kind: String,
    direction: String,
    outcome: String,
    proactive: Option<String>,
    note: String,
    category: String,
    severity: String,
    summary: String,
    our_fault: Option<String>,
    csrf: String,
    #[serde(skip)]
    errors: Vec<(&'static str, String)>,
}

impl FormInput {
    /// The error of a field, if any.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// The three quick-action forms: blank, or one of them as it was sent, with errors.
#[derive(Default)]
pub(crate) struct Forms {
    interaction: FormInput,
    case: FormInput,
    note: FormInput,
}

/// The customer's scores from the newest model run that scored them.
pub(crate) struct ScoreView {
    tier: String,
    tier_href: String,
    /// P(alive) as text, and as a whole percent for the meter.
    p_alive: String,
    p_alive_pct: u32,
    /// (i18n key, expected purchases) for 30, 90 and 365 days.
    purchases: Vec<(&'static str, String)>,
    spend: Option<String>,
    clv_12: Option<String>,
    clv_36: Option<String>,
    model: &'static str,
    as_of: String,
}

/// `0,42` in Finnish, `0.42` in English.
fn decimal(tr: &Tr, v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if tr.lang == crate::i18n::Lang::Fi {
        s.replace('.', ",")
    } else {
        s
    }
}

fn score_view(tr: &Tr, run: &ModelRun, s: &CustomerScore) -> ScoreView {
    let currency = run
        .currency
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(Currency::EUR);
    let pct = (s.p_alive * 100.0).round().clamp(0.0, 100.0) as u32;
    ScoreView {
        tier: s.tier.to_string(),
        tier_href: format!("/customers?tier={}", s.tier),
        p_alive: match tr.lang {
            crate::i18n::Lang::Fi => format!("{pct}\u{a0}%"),
            crate::i18n::Lang::En => format!("{pct}%"),
        },
        p_alive_pct: pct,
        purchases: vec![
            (
                "customer.score.next-30",
                decimal(tr, s.expected_purchases_30, 2),
            ),
            (
                "customer.score.next-90",
                decimal(tr, s.expected_purchases_90, 2),
            ),
            (
                "customer.score.next-365",
                decimal(tr, s.expected_purchases_365, 1),
            ),
        ],
        spend: s.expected_spend_minor.map(|m| tr.money(m, currency)),
        clv_12: s.clv_12_minor.map(|m| tr.money(m, currency)),
        clv_36: s.clv_36_minor.map(|m| tr.money(m, currency)),
        model: match run.model.as_str() {
            "bgnbd" => "BG/NBD",
            "mbgnbd" => "MBG/NBD",
            _ => "Pareto/NBD",
        },
        as_of: tr.date(&run.as_of.and_time(chrono::NaiveTime::MIN).and_utc()),
    }
}

#[derive(Template)]
#[template(path = "customer.html")]
pub(crate) struct CustomerView {
    tr: Tr,
    me: Option<Me>,
    id: String,
    name: String,
    badges: Vec<(String, String, String)>,
    email: Option<String>,
    phone: Option<String>,
    contacts: Vec<ContactView>,
    facts: Vec<(String, String)>,
    figures: Vec<Figure>,
    score: Option<ScoreView>,
    open_cases: Vec<CaseView>,
    feedback: Option<FeedbackView>,
    lines: Vec<Line>,
    forms: Forms,
    interaction_kinds: Vec<(&'static str, String)>,
    directions: Vec<(&'static str, String)>,
    outcomes: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String)>,
    can_write: bool,
    csrf: String,
    saved: Option<&'static str>,
}

impl CustomerView {
    fn action(&self, what: &str) -> String {
        format!("/customers/{}/{what}", urlencode(&self.id))
    }
}

fn display(tr: &Tr, r: &Record, name: &str, v: &Value) -> String {
    let kind = r.entity.field(name).map(|f| f.kind);
    let is_money = kind == Some(Kind::Money);
    match v {
        Value::Text(t) if matches!(kind, Some(Kind::Choice(_))) => tr.value(t),
        Value::Date(d) => tr.date(&d.and_time(chrono::NaiveTime::MIN).and_utc()),
        Value::Int(m) if is_money => {
            let c = r
                .text("currency")
                .and_then(|c| c.parse().ok())
                .unwrap_or(Currency::EUR);
            tr.money(*m, c)
        }
        Value::Time(t) => tr.date_time(t),
        Value::Bool(b) => tr.value(if *b { "yes" } else { "no" }),
        other => other.canonical(),
    }
}

fn line(tr: &Tr, ev: &TimelineEvent) -> Line {
    let r = &ev.record;
    let skip = [
        "customer_id",
        "occurred_at",
        "opened_at",
        "answered_at",
        "kind",
        "currency",
        "started_on",
    ];
    let tone = match ev.kind.as_str() {
        "refund" | "case_opened" | "subscription_ended" => "bad",
        "case_resolved" | "subscription_started" => "good",
        "trust" if r.get("delta").as_int().unwrap_or(0) < 0 => "bad",
        "trust" => "good",
        "feedback" => match r.get("nps").as_int() {
            Some(0..=6) => "bad",
            Some(9..=10) => "good",
            _ => "",
        },
        _ => "",
    };
    Line {
        at: tr.date_time(&ev.at),
        kind: tr.event(&ev.kind),
        tone,
        details: r
            .fields
            .iter()
            // A "no" (not proactive, not our fault) says little on a timeline.
            .filter(|(n, v)| !v.is_null() && *v != Value::Bool(false) && !skip.contains(n))
            .map(|(n, v)| (tr.field(n), display(tr, r, n, v)))
            .collect(),
    }
}

fn text_of(r: &Record, field: &str) -> Option<String> {
    r.text(field)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn labelled(tr: &Tr, words: &[&'static str]) -> Vec<(&'static str, String)> {
    words.iter().map(|w| (*w, tr.value(w))).collect()
}

/// Everything the page shows, read from the store.
async fn view(
    s: &AppState,
    signed: &SignedIn,
    c: Record,
    forms: Forms,
    saved: Option<&'static str>,
) -> Result<CustomerView, PageError> {
    let tr = signed.tr;
    let me = signed.me();
    let events = s.store.timeline(&c).await?;
    let contacts = s.store.records_of_customer(&CONTACTS, c.id).await?;

    // Value: orders and refunds alike count in revenue; the average is per order.
    let tx = || events.iter().filter(|e| e.entity == "transactions");
    let currency = tx()
        .find_map(|e| e.record.text("currency"))
        .or(c.text("currency"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(Currency::EUR);
    let revenue: i64 = tx().filter_map(|e| e.record.get("amount").as_int()).sum();
    let orders: Vec<&TimelineEvent> = tx().filter(|e| e.kind == "order").collect();
    let order_sum: i64 = orders
        .iter()
        .filter_map(|e| e.record.get("amount").as_int())
        .sum();
    let last_purchase = orders.iter().map(|e| e.at).max();
    let trust: i64 = events
        .iter()
        .filter(|e| e.entity == "trust")
        .filter_map(|e| e.record.get("delta").as_int())
        .sum();

    let mut figures = vec![
        Figure {
            label: "customer.revenue",
            value: tr.money(revenue, currency),
            tone: "",
            note: None,
        },
        Figure {
            label: "customer.orders",
            value: orders.len().to_string(),
            tone: "",
            note: None,
        },
    ];
    if !orders.is_empty() {
        figures.push(Figure {
            label: "customer.average-order",
            value: tr.money(order_sum / orders.len() as i64, currency),
            tone: "",
            note: None,
        });
    }
    if let Some(t) = last_purchase {
        figures.push(Figure {
            label: "customer.last-purchase",
            value: tr.date(&t),
            tone: "",
            note: None,
        });
    }
    figures.push(Figure {
        label: "customer.trust",
        value: format!("{trust:+}"),
        tone: match trust {
            ..0 => "bad",
            0 => "",
            _ => "good",
        },
        note: (trust < 0).then_some("customer.trust-deficit"),
    });

    let score = s
        .store
        .customer_score(c.id)
        .await?
        .map(|(run, sc)| score_view(&tr, &run, &sc));

    let open_cases: Vec<CaseView> = events
        .iter()
        .filter(|e| e.kind == "case_opened" && e.record.get("resolved_at").is_null())
        .rev()
        .map(|e| {
            let r = &e.record;
            let severity = r.text("severity").unwrap_or("medium");
            CaseView {
                opened: tr.date(&e.at),
                category: r.text("category").unwrap_or("").to_string(),
                severity: tr.value(severity),
                severe: matches!(severity, "high" | "critical"),
                summary: text_of(r, "summary"),
                our_fault: r.get("our_fault") == &Value::Bool(true),
            }
        })
        .collect();

    let feedback = events
        .iter()
        .rev()
        .find(|e| e.entity == "feedback")
        .map(|e| {
            let r = &e.record;
            let nps = r.get("nps").as_int();
            FeedbackView {
                at: tr.date(&e.at),
                nps,
                nps_group: match nps {
                    Some(0..=6) => "detractor",
                    Some(7..=8) => "passive",
                    Some(_) => "promoter",
                    None => "",
                },
                scores: ["csat", "ces"]
                    .iter()
                    .filter_map(|f| r.get(f).as_int().map(|v| (tr.field(f), v.to_string())))
                    .collect(),
                texts: ["did_well", "do_better", "comment"]
                    .iter()
                    .filter_map(|f| text_of(r, f).map(|t| (tr.field(f), t)))
                    .collect(),
            }
        });

    let mut badges = Vec::new();
    for f in ["tier", "kind", "segment", "status"] {
        if let Some(v) = c.text(f) {
            let shown = if f == "segment" {
                v.to_string()
            } else {
                tr.value(v)
            };
            badges.push((tr.field(f), shown, format!("{f}-{v}")));
        }
    }
    let shown_elsewhere = [
        "name", "email", "phone", "tier", "kind", "segment", "status", "currency",
    ];
    let facts = c
        .fields
        .iter()
        .filter(|(n, v)| !v.is_null() && !shown_elsewhere.contains(n))
        .map(|(n, v)| (tr.field(n), display(&tr, &c, n, v)))
        .collect();
    let mut contacts: Vec<ContactView> = contacts
        .iter()
        .map(|r| ContactView {
            name: r.text("name").unwrap_or("").to_string(),
            title: text_of(r, "title"),
            email: text_of(r, "email"),
            phone: text_of(r, "phone"),
            primary: r.get("is_primary") == &Value::Bool(true),
        })
        .collect();
    contacts.sort_by_key(|c| !c.primary);

    Ok(CustomerView {
        can_write: me.can_record(),
        csrf: signed.csrf.clone(),
        me: Some(me),
        id: c.external_id.clone(),
        name: text_of(&c, "name").unwrap_or_else(|| c.external_id.clone()),
        badges,
        email: text_of(&c, "email"),
        phone: text_of(&c, "phone"),
        contacts,
        facts,
        figures,
        score,
        open_cases,
        feedback,
        lines: events.iter().rev().map(|e| line(&tr, e)).collect(),
        forms,
        interaction_kinds: labelled(
            &tr,
            &INTERACTION_KINDS
                .iter()
                .copied()
                .filter(|k| *k != "note")
                .collect::<Vec<_>>(),
        ),
        directions: labelled(&tr, DIRECTIONS),
        outcomes: labelled(&tr, OUTCOMES),
        severities: labelled(&tr, SEVERITIES),
        saved,
        tr,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    saved: Option<String>,
}

async fn find(s: &AppState, signed: &SignedIn, id: &str) -> Result<Record, PageError> {
    s.store
        .customer(id)
        .await?
        .ok_or_else(|| not_found(signed.tr, Some(signed.me())))
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let c = find(&s, &signed, &id).await?;
    let saved = match q.saved.as_deref() {
        Some("interaction") => Some("customer.saved.interaction"),
        Some("case") => Some("customer.saved.case"),
        Some("note") => Some("customer.saved.note"),
        _ => None,
    };
    let v = view(&s, &signed, c, Forms::default(), saved).await?;
    Ok(render(&v))
}

// ---- quick actions ----

type Errors = Vec<(&'static str, String)>;

/// Staff and up record; the form must carry the session's CSRF token. Either
/// refusal is a 403 page, and nothing is written.
fn allowed(signed: &SignedIn, f: &FormInput) -> Result<(), PageError> {
    signed.require(Role::Staff)?;
    signed.check_csrf(&f.csrf)?;
    Ok(())
}

/// A required free text: trimmed, not empty, not too long.
fn required(f: &mut Errors, tr: &Tr, field: &'static str, value: &str, max: usize) -> String {
    let v = value.trim();
    if v.is_empty() {
        f.push((field, tr.t("form.required").to_string()));
    } else if v.chars().count() > max {
        f.push((field, format!("{} {max}", tr.t("form.too-long"))));
    }
    v.to_string()
}

fn optional_text(f: &mut Errors, tr: &Tr, field: &'static str, value: &str) -> Value {
    let v = value.trim();
    if v.chars().count() > MAX_TEXT {
        f.push((field, format!("{} {MAX_TEXT}", tr.t("form.too-long"))));
    }
    if v.is_empty() {
        Value::Null
    } else {
        Value::Text(v.to_string())
    }
}

/// One of `words`, or (when `optional`) nothing.
fn choice(
    f: &mut Errors,
    tr: &Tr,
    field: &'static str,
    value: &str,
    words: &[&str],
    optional: bool,
) -> Value {
    let v = value.trim();
    if v.is_empty() && optional {
        return Value::Null;
    }
    if words.contains(&v) {
        Value::Text(v.to_string())
    } else {
        f.push((field, tr.t("form.choose").to_string()));
        Value::Null
    }
}

fn checked(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| matches!(v, "on" | "yes" | "true" | "1"))
}

/// The id of a record written from a form: derived like the importer's, from what
/// the record says and when (a double-submitted form writes one record, not two).
fn new_id(entity: &Entity, customer: &str, at: &DateTime<Utc>, text: &str) -> String {
    let micros = at.timestamp_micros().to_le_bytes();
    ids::derived_id(
        [
            b"web".as_slice(),
            entity.name.as_bytes(),
            customer.as_bytes(),
            &micros,
            text.as_bytes(),
        ],
        1,
    )
}

/// The staff member the signed-in user is (a staff record with their email), as the
/// `staff_id` of what they write; nothing when there is none.
async fn staff_of(s: &AppState, signed: &SignedIn) -> Result<Value, PageError> {
    Ok(s.store
        .staff_for_email(&signed.user.email)
        .await?
        .map_or(Value::Null, Value::Text))
}

fn batch(entity: &'static Entity, names: &[&str]) -> WriteBatch {
    let fields = names
        .iter()
        .map(|n| entity.field(n).expect("the schema has the field"))
        .collect();
    let mut b = WriteBatch::new(entity, fields);
    b.source = "web".into();
    b
}

/// After a write: back to the page, which shows the new entry on the timeline.
fn saved(id: &str, what: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/customers/{}?saved={what}", urlencode(id)),
        )],
    )
        .into_response()
}

/// The page again with the form as sent and its errors; nothing was written.
async fn invalid(
    s: &AppState,
    signed: &SignedIn,
    c: Record,
    forms: Forms,
) -> Result<Response, PageError> {
    let v = view(s, signed, c, forms, None).await?;
    let mut r = render(&v);
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

pub(crate) async fn log_interaction(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<FormInput>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    allowed(&signed, &f)?;
    let c = find(&s, &signed, &id).await?;
    let mut errs = Errors::new();
    let kinds: Vec<&str> = INTERACTION_KINDS
        .iter()
        .copied()
        .filter(|k| *k != "note")
        .collect();
    let kind = choice(&mut errs, &tr, "kind", &f.kind, &kinds, false);
    let direction = choice(&mut errs, &tr, "direction", &f.direction, DIRECTIONS, true);
    let outcome = choice(&mut errs, &tr, "outcome", &f.outcome, OUTCOMES, true);
    let note = optional_text(&mut errs, &tr, "note", &f.note);
    if !errs.is_empty() {
        f.errors = errs;
        let forms = Forms {
            interaction: f,
            ..Forms::default()
        };
        return invalid(&s, &signed, c, forms).await;
    }
    let now = Utc::now();
    let staff = staff_of(&s, &signed).await?;
    let mut b = batch(
        &INTERACTIONS,
        &[
            "customer_id",
            "occurred_at",
            "kind",
            "direction",
            "outcome",
            "proactive",
            "note",
            "staff_id",
        ],
    );
    let ext = new_id(&INTERACTIONS, &c.external_id, &now, &f.note);
    b.push(
        ext,
        [
            Value::Text(c.external_id.clone()),
            Value::Time(now),
            kind,
            direction,
            outcome,
            Value::Bool(checked(&f.proactive)),
            note,
            staff,
        ],
    );
    s.store.write(&b).await?;
    Ok(saved(&c.external_id, "interaction"))
}

pub(crate) async fn open_case(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<FormInput>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    allowed(&signed, &f)?;
    let c = find(&s, &signed, &id).await?;
    let mut errs = Errors::new();
    let category = required(&mut errs, &tr, "category", &f.category, MAX_SHORT);
    let severity = choice(&mut errs, &tr, "severity", &f.severity, SEVERITIES, false);
    let summary = optional_text(&mut errs, &tr, "summary", &f.summary);
    if !errs.is_empty() {
        f.errors = errs;
        let forms = Forms {
            case: f,
            ..Forms::default()
        };
        return invalid(&s, &signed, c, forms).await;
    }
    let now = Utc::now();
    let staff = staff_of(&s, &signed).await?;
    let mut b = batch(
        &CASES,
        &[
            "customer_id",
            "opened_at",
            "category",
            "severity",
            "our_fault",
            "summary",
            "staff_id",
        ],
    );
    let ext = new_id(&CASES, &c.external_id, &now, &category);
    b.push(
        ext,
        [
            Value::Text(c.external_id.clone()),
            Value::Time(now),
            Value::Text(category),
            severity,
            Value::Bool(checked(&f.our_fault)),
            summary,
            staff,
        ],
    );
    s.store.write(&b).await?;
    Ok(saved(&c.external_id, "case"))
}

pub(crate) async fn add_note(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<FormInput>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    allowed(&signed, &f)?;
    let c = find(&s, &signed, &id).await?;
    let mut errs = Errors::new();
    let note = required(&mut errs, &tr, "note", &f.note, MAX_TEXT);
    if !errs.is_empty() {
        f.errors = errs;
        let forms = Forms {
            note: f,
            ..Forms::default()
        };
        return invalid(&s, &signed, c, forms).await;
    }
    let now = Utc::now();
    let staff = staff_of(&s, &signed).await?;
    let mut b = batch(
        &INTERACTIONS,
        &["customer_id", "occurred_at", "kind", "note", "staff_id"],
    );
    let ext = new_id(&INTERACTIONS, &c.external_id, &now, &note);
    b.push(
        ext,
        [
            Value::Text(c.external_id.clone()),
            Value::Time(now),
            Value::Text("note".into()),
            Value::Text(note),
            staff,
        ],
    );
    s.store.write(&b).await?;
    Ok(saved(&c.external_id, "note"))
}
