//! One customer on one screen: who they are and how to reach them, what they are
//! worth (the core's figures), the trust balance, open cases, the latest feedback and
//! the timeline a page at a time, newest first; and the quick actions (log an
//! interaction, open a case, add a note, and for managers a trust entry), plain forms
//! that POST, write one record through the core (audited with the user) and redirect
//! back with 303.
//!
//! The quick actions are one handler ([`quick_action`]) driven by a table
//! ([`ACTIONS`]): each action names its path, the entity it writes, how it reads its
//! form and which form shows its errors.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kanta_core::access::access;
use kanta_core::figures::CustomerFigures;
use kanta_domain::schema::{
    CASE_CHANNELS, CASES, CLAIM_KINDS, CONTACTS, DIRECTIONS, FEEDBACK, INTERACTION_KINDS,
    INTERACTIONS, OUTCOMES, SEVERITIES, SUBSCRIPTIONS, TRUST_LEDGER,
};
use kanta_domain::{Currency, Entity, Kind, Value};
use kanta_store::records::{Record, TimelineEvent};
use kanta_store::scores::{CustomerScore, ModelRun};
use kanta_store::timeline::{TimelineCursor, UsageWeeks};
use serde::Deserialize;

use super::{
    PageError, core_error, form_allowed, not_found, render, render_status, see_other,
    store_currency, urlencode,
};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Longest free text a form takes (a note, a summary).
const MAX_TEXT: usize = 5000;
/// Longest short text (a case's category).
const MAX_SHORT: usize = 100;
/// Longest reason of a trust entry.
const MAX_REASON: usize = 200;
/// The largest change one trust entry makes, either way.
const MAX_DELTA: i64 = 1_000_000;
/// Open cases the page lists at most.
const OPEN_CASES: u32 = 20;
/// Trust entries the page lists.
const TRUST_ENTRIES: usize = 8;
/// Timeline events per page.
pub(crate) const TIMELINE_PAGE: u32 = 30;
/// Weeks of usage the usage block shows per metric.
pub(crate) const USAGE_WEEKS: u32 = 12;

/// What the timeline can show, each a word of `?show=` and the entities behind it;
/// all but usage unless asked (usage is summed up week by week above the timeline).
pub(crate) const TIMELINE_KINDS: &[(&str, &str)] = &[
    ("orders", "transactions"),
    ("subscriptions", "subscriptions"),
    ("interactions", "interactions"),
    ("cases", "cases"),
    ("feedback", "feedback"),
    ("usage", "usage"),
    ("trust", "trust"),
];

/// The kinds the timeline shows: the words of `?show=` (repeated, as a form of
/// checkboxes sends them, or comma-separated), in [`TIMELINE_KINDS`]' order; every
/// kind but usage when none is given or none is known.
pub(crate) fn shown_kinds(raw_query: Option<&str>) -> Vec<&'static str> {
    let asked: Vec<String> = raw_query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "show")
        .flat_map(|(_, v)| {
            v.replace("%2C", ",")
                .replace("%2c", ",")
                .split(',')
                .map(|w| w.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let chosen: Vec<&'static str> = TIMELINE_KINDS
        .iter()
        .map(|(w, _)| *w)
        .filter(|w| asked.iter().any(|a| a == w))
        .collect();
    if chosen.is_empty() {
        default_kinds()
    } else {
        chosen
    }
}

fn default_kinds() -> Vec<&'static str> {
    TIMELINE_KINDS
        .iter()
        .map(|(w, _)| *w)
        .filter(|w| *w != "usage")
        .collect()
}

/// The `show=` part of a timeline link; empty for the default.
fn show_param(kinds: &[&str]) -> String {
    if kinds == default_kinds().as_slice() {
        String::new()
    } else {
        format!("show={}", kinds.join(","))
    }
}

/// One metric of the usage block.
pub(crate) struct UsageView {
    metric: String,
    svg: String,
    latest: String,
    /// `+12 %` against the customer's own baseline.
    change: Option<String>,
    /// `good` when it rose, `bad` when it fell.
    change_tone: &'static str,
    baseline: Option<String>,
}

/// A checkbox of the timeline's filter.
pub(crate) struct KindChoice {
    word: &'static str,
    label: String,
    checked: bool,
}

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
    /// A short explanation under the value (e.g. "trust deficit").
    note: Option<String>,
}

pub(crate) struct ContactView {
    name: String,
    title: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    primary: bool,
}

pub(crate) struct CaseView {
    href: String,
    opened: String,
    category: String,
    severity: String,
    severe: bool,
    summary: Option<String>,
    our_fault: bool,
    status: String,
    /// The next SLA target's time left or overdue, in words.
    timer: String,
    timer_tone: &'static str,
}

/// The trust block: the balance, its history as a small chart and the newest
/// entries explaining it.
pub(crate) struct TrustView {
    balance: String,
    tone: &'static str,
    in_deficit: bool,
    svg: Option<String>,
    /// The chart's figures (date, balance after), newest first, for screen readers.
    points: Vec<(String, String)>,
    entries: Vec<TrustLine>,
    /// The ratio in force: "a mistake costs as much as 10 good jobs".
    rule: Option<String>,
}

pub(crate) struct TrustLine {
    at: String,
    delta: String,
    tone: &'static str,
    reason: String,
    /// The case (or other record) the entry came from, when it has a page.
    href: Option<String>,
}

/// The feedback card: every answer of the customer, newest first
/// (`parts/feedback_card.html`).
pub(crate) struct FeedbackCard {
    pub items: Vec<FeedbackView>,
    /// How many the card lists ([`FEEDBACK_SHOWN`], or all with `?answers=all`).
    pub shown: usize,
    /// The page with every answer, when there are more than shown.
    pub more: Option<String>,
}

impl FeedbackCard {
    /// The answers the card lists.
    pub fn listed(&self) -> &[FeedbackView] {
        &self.items[..self.shown.min(self.items.len())]
    }
}

/// Answers the customer page lists before "all answers".
pub(crate) const FEEDBACK_SHOWN: usize = 5;

pub(crate) struct FeedbackView {
    pub id: String,
    /// The answer's date in the store's zone.
    pub at: String,
    /// The survey's name (Kanta's own survey) or its reference (imports).
    pub survey: Option<String>,
    pub nps: Option<i64>,
    /// promoter, passive or detractor (by NPS).
    pub nps_group: &'static str,
    /// CSAT, CES and yes/no: (label, value).
    pub scores: Vec<(String, String)>,
    /// Free text: (question, text), escaped by the template.
    pub texts: Vec<(String, String)>,
    /// How it came in, in words.
    pub channel: Option<String>,
    /// `detractor` or `promoter` by the settings, else empty.
    pub badge: &'static str,
    pub language: Option<String>,
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
    /// A category none of the cases has yet, typed beside the list.
    category_other: String,
    severity: String,
    summary: String,
    our_fault: Option<String>,
    channel: String,
    owner: String,
    amount: String,
    claim_kind: String,
    delta: String,
    reason: String,
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

/// The quick-action forms: blank, or one of them as it was sent, with errors.
#[derive(Default)]
pub(crate) struct Forms {
    interaction: FormInput,
    case: FormInput,
    note: FormInput,
    trust: FormInput,
}

/// The customer's scores from the newest model run that scored them: the purchase
/// part (P(alive), expected purchases and spend) when the customer buys, the
/// subscription part (renewal probability, expected remaining periods) when they
/// subscribe, and the CLV of both.
pub(crate) struct ScoreView {
    tier: String,
    tier_href: String,
    /// P(alive) as text, and as a whole percent for the meter; none for a customer
    /// the purchase model did not value (a subscriber with no orders).
    p_alive: Option<(String, u32)>,
    /// (i18n key, expected purchases) for 30, 90 and 365 days; empty without a
    /// purchase part.
    purchases: Vec<(&'static str, String)>,
    spend: Option<String>,
    /// The probability of making the next renewal as text, and as a whole percent.
    renewal: Option<(String, u32)>,
    /// Expected further payments of the subscriptions.
    remaining_periods: Option<String>,
    clv_12: Option<String>,
    clv_36: Option<String>,
    /// "purchases €A + subscription €B" under a CLV, when it has both parts.
    clv_12_parts: Option<String>,
    clv_36_parts: Option<String>,
    /// The models that valued the customer: "BG/NBD", "sBG (plan Pro)", or both.
    model: String,
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

/// A probability as a whole percent: the text (`73 %` in Finnish, `73%` in English)
/// and the number for a meter.
fn percent(tr: &Tr, p: f64) -> (String, u32) {
    let p = p.clamp(0.0, 1.0);
    let pct = (p * 100.0).round() as u32;
    (crate::pages::retention::percent(tr, p, 0), pct)
}

/// The sBG fits that valued the customer's running subscriptions: "sBG (plan X)"
/// when the run fitted that plan and billing period on its own, else "sBG" (plans
/// pooled by period).
fn subscription_model(tr: &Tr, run: &ModelRun, subscriptions: &[Record]) -> String {
    let fitted_alone = |plan: &str, period: &str| {
        run.details
            .pointer("/subscriptions/plans")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|ps| {
                ps.iter().any(|p| {
                    let text = |k| p.get(k).and_then(serde_json::Value::as_str);
                    text("plan") == Some(plan)
                        && text("period").is_none_or(|x| x == period)
                        && p.get("pooled") == Some(&serde_json::Value::Bool(false))
                })
            })
    };
    let mut named: Vec<String> = subscriptions
        .iter()
        .filter(|r| match r.get("ended_on") {
            Value::Date(d) => *d > run.as_of,
            _ => true,
        })
        .filter_map(|r| {
            let plan = text_of(r, "plan")?;
            let period = r.text("period").unwrap_or("month");
            fitted_alone(&plan, period).then_some(plan)
        })
        .collect();
    named.sort();
    named.dedup();
    if named.is_empty() {
        "sBG".to_string()
    } else {
        format!("sBG ({} {})", tr.t("customer.score.plan"), named.join(", "))
    }
}

fn score_view(
    tr: &Tr,
    run: &ModelRun,
    s: &CustomerScore,
    store: Currency,
    subscriptions: &[Record],
) -> ScoreView {
    let currency = run
        .currency
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(store);
    let subscribes = s.subscription_clv_12_minor.is_some() || s.renewal_probability.is_some();
    // A run that valued subscribers gives buyers a purchase part; one from before
    // has only the purchase part.
    let values_subscribers = run.details.get("subscriptions").is_some();
    let buys = s.purchase_clv_12_minor.is_some() || (!values_subscribers && !subscribes);
    let money = |m: i64| tr.money(m, currency);
    let parts = |p: Option<i64>, q: Option<i64>| match (p, q) {
        (Some(p), Some(q)) if buys && subscribes => Some(
            tr.t("customer.score.clv-parts")
                .replace("{purchases}", &money(p))
                .replace("{subscriptions}", &money(q)),
        ),
        _ => None,
    };
    let mut models = Vec::new();
    if buys {
        models.push(crate::pages::model_label(&run.model).to_string());
    }
    if subscribes {
        models.push(subscription_model(tr, run, subscriptions));
    }
    ScoreView {
        tier: s.tier.to_string(),
        tier_href: format!("/customers?tier={}", s.tier),
        p_alive: buys.then(|| percent(tr, s.p_alive)),
        purchases: if buys {
            [
                ("customer.score.next-30", s.expected_purchases_30),
                ("customer.score.next-90", s.expected_purchases_90),
                ("customer.score.next-365", s.expected_purchases_365),
            ]
            .into_iter()
            .map(|(key, v)| (key, decimal(tr, v, 2)))
            .collect()
        } else {
            Vec::new()
        },
        spend: s.expected_spend_minor.filter(|_| buys).map(money),
        renewal: s.renewal_probability.map(|p| percent(tr, p)),
        remaining_periods: s.expected_remaining_periods.map(|v| decimal(tr, v, 2)),
        clv_12: s.clv_12_minor.map(money),
        clv_36: s.clv_36_minor.map(money),
        clv_12_parts: parts(s.purchase_clv_12_minor, s.subscription_clv_12_minor),
        clv_36_parts: parts(s.purchase_clv_36_minor, s.subscription_clv_36_minor),
        model: if models.is_empty() {
            // No orders and no running subscription: CLV 0 by the rule, no model.
            tr.t("customer.score.no-model").to_string()
        } else {
            models.join(" + ")
        },
        as_of: tr.day(&run.as_of),
    }
}

#[derive(Template)]
#[template(path = "customer.html")]
pub(crate) struct CustomerView {
    tr: Tr,
    /// The timeline's filter, as checkboxes.
    kinds: Vec<KindChoice>,
    /// Usage, metric by metric, the last weeks.
    usage: Vec<UsageView>,
    /// The timeline with usage readings, when it does not show them.
    usage_href: Option<String>,
    /// The first day of the usage block's last week.
    usage_until: Option<String>,
    me: Option<Me>,
    id: String,
    name: String,
    badges: Vec<(String, String, String)>,
    email: Option<String>,
    phone: Option<String>,
    contacts: Vec<ContactView>,
    facts: Vec<(String, String)>,
    figures: Vec<Figure>,
    /// The subscription's figures (plan, MRR, next renewal, revenue billed), when the
    /// customer subscribes or did.
    subscription: Vec<Figure>,
    score: Option<ScoreView>,
    open_cases: Vec<CaseView>,
    /// More open cases than the page lists: the cases list of the customer.
    more_cases: Option<String>,
    trust: Option<TrustView>,
    feedback_card: FeedbackCard,
    lines: Vec<Line>,
    /// The next (older) page of the timeline, when there is one.
    older: Option<String>,
    /// The first page of the timeline, when this is a later one.
    newest: Option<String>,
    forms: Forms,
    interaction_kinds: Vec<(&'static str, String)>,
    directions: Vec<(&'static str, String)>,
    outcomes: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String)>,
    channels: Vec<(&'static str, String)>,
    claim_kinds: Vec<(&'static str, String)>,
    staff: Vec<(String, String)>,
    /// The owner the case form offers first: the signed-in user's staff member.
    my_staff: String,
    /// The store's currency code, beside the claim's amount.
    currency_code: String,
    can_write: bool,
    /// The user may add trust entries (the role the core asks for the ledger).
    can_trust: bool,
    csrf: String,
    saved: Option<&'static str>,
    /// The categories cases have: (key, label), by label.
    case_categories: Vec<(String, String)>,
    /// After a case was opened here: the notice that links to it and says what
    /// became of its claim.
    case_notice: Option<CaseNotice>,
    /// The customer's owner (staff member) by name, when they have one.
    owner: Option<String>,
    /// The health score and its reasons, after the first health refresh.
    health: Option<crate::pages::health::HealthCardView>,
    /// Why to contact the customer now, and the forms to act on it.
    next_actions: crate::pages::today::NextActions,
    onboarding_card: super::onboarding::OnboardingCard,
    goals_card: super::goals::GoalsCard,
    /// "End the relationship" and "let lapse".
    ending_card: super::endings::EndingCard,
    /// Consent and its ledger; the privacy page's link for admins.
    consent_card: super::privacy::ConsentCard,
}

pub(crate) struct CaseNotice {
    href: String,
    text: String,
    claim: Option<String>,
}

impl CustomerView {
    /// Whether the case form's owner select picks this staff member.
    fn owner_selected(&self, id: &str) -> bool {
        if self.forms.case.owner.is_empty() && !self.forms.case.has_errors() {
            id == self.my_staff
        } else {
            id == self.forms.case.owner
        }
    }

    fn action(&self, what: &str) -> String {
        format!("/customers/{}/{what}", urlencode(&self.id))
    }

    /// The customer's page.
    fn href(&self) -> String {
        format!("/customers/{}", urlencode(&self.id))
    }

    /// A form's label: the field's name, capitalised (`Laji`, `Suunta`).
    fn label(&self, field: &str) -> String {
        capitalize(&self.tr.field(field))
    }
}

/// `laji` → `Laji`.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Fields whose text is a word of a small vocabulary the business uses (a channel,
/// where a trust entry came from, a case's category, a metric).
const WORD_FIELDS: &[&str] = &[
    "source",
    "channel",
    "acquisition_channel",
    "category",
    "metric",
];

/// A word of such a vocabulary as the UI says it (`value.WORD`), else humanised:
/// `cold-coffee` → `cold coffee`.
pub(crate) fn word(tr: &Tr, w: &str) -> String {
    tr.text_or(&format!("value.{w}"), &w.replace(['-', '_'], " "))
}

/// A number as people read it: whole numbers without decimals, others with up to
/// two, thousands grouped, in the language's convention (`1 234,5`, `1,234.5`).
pub(crate) fn number(tr: &Tr, v: f64) -> String {
    let s = if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    crate::charts::localize(s, tr.lang == crate::i18n::Lang::Fi)
}

/// Consent to surveys or marketing as one line: given (on a day), or not given
/// (since a day); `None` when the customer has no answer recorded.
fn consent(tr: &Tr, c: &Record, field: &str) -> Option<String> {
    let day = match c.get(&format!("{field}_at")) {
        Value::Time(t) => Some(tr.date(t)),
        _ => None,
    };
    let text = match (c.get(field), day) {
        (Value::Bool(true), Some(d)) => tr.t("customer.consent.given-on").replace("{date}", &d),
        (Value::Bool(true), None) => tr.t("customer.consent.given").to_string(),
        (Value::Bool(false), Some(d)) => tr
            .t("customer.consent.not-given-since")
            .replace("{date}", &d),
        (Value::Bool(false), None) => tr.t("customer.consent.not-given").to_string(),
        _ => return None,
    };
    Some(text)
}

fn display(
    tr: &Tr,
    r: &Record,
    name: &str,
    v: &Value,
    store: Currency,
    staff: &std::collections::BTreeMap<String, String>,
) -> String {
    let kind = r.entity.field(name).map(|f| f.kind);
    let is_money = kind == Some(Kind::Money);
    match v {
        Value::Text(t) if matches!(kind, Some(Kind::Choice(_))) => tr.value(t),
        Value::Text(t) if name == "staff_id" || name == "owner_id" => {
            staff.get(t).cloned().unwrap_or_else(|| t.clone())
        }
        Value::Text(t) if WORD_FIELDS.contains(&name) => word(tr, t),
        Value::Text(t) if name == "survey_ref" => tr.text_or(&format!("value.{t}"), t),
        Value::Float(f) => number(tr, *f),
        Value::Int(n) if !is_money => number(tr, *n as f64),
        Value::Date(d) => tr.day(d),
        Value::Int(m) if is_money => {
            let c = r
                .text("currency")
                .and_then(|c| c.parse().ok())
                .unwrap_or(store);
            tr.money(*m, c)
        }
        Value::Time(t) => tr.date_time(t),
        Value::Bool(b) => tr.value(if *b { "yes" } else { "no" }),
        other => other.canonical(),
    }
}

fn line(
    tr: &Tr,
    ev: &TimelineEvent,
    store: Currency,
    staff: &std::collections::BTreeMap<String, String>,
) -> Line {
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
            .map(|(n, v)| (tr.field(n), display(tr, r, n, v, store, staff)))
            .collect(),
    }
}

fn text_of(r: &Record, field: &str) -> Option<String> {
    r.text(field)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn time_of(r: &Record, field: &str) -> DateTime<Utc> {
    match r.get(field) {
        Value::Time(t) => *t,
        Value::Date(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
        _ => r.created_at,
    }
}

fn labelled(tr: &Tr, words: &[&'static str]) -> Vec<(&'static str, String)> {
    words.iter().map(|w| (*w, tr.value(w))).collect()
}

/// The key figures, from the core's figures of the customer (the same as the list's).
fn figures(tr: &Tr, f: &CustomerFigures, store: Currency) -> Vec<Figure> {
    let currency = f.currency.parse().unwrap_or(store);
    let figure = |label, value| Figure {
        label,
        value,
        tone: "",
        note: None,
    };
    let parts = (f.subscription_revenue_minor != 0 && f.order_revenue_minor != 0).then(|| {
        tr.t("customer.revenue-parts")
            .replace("{orders}", &tr.money(f.order_revenue_minor, currency))
            .replace(
                "{subscriptions}",
                &tr.money(f.subscription_revenue_minor, currency),
            )
    });
    let mut out = vec![
        Figure {
            note: parts,
            ..figure("customer.revenue", tr.money(f.revenue_minor, currency))
        },
        figure("customer.orders", f.orders.to_string()),
    ];
    if f.refunds > 0 {
        out.push(Figure {
            note: Some(format!(
                "{} {}",
                tr.money(f.refunded_minor, currency),
                tr.t("customer.refunded")
            )),
            ..figure("customer.refunds", f.refunds.to_string())
        });
    }
    if let Some(avg) = f.average_order_minor {
        out.push(figure("customer.average-order", tr.money(avg, currency)));
    }
    if let Some(t) = f.last_purchase_at {
        out.push(figure("customer.last-purchase", tr.date(&t)));
    }
    let trust = f.trust_balance.unwrap_or(0);
    out.push(Figure {
        label: "customer.trust",
        value: format!("{trust:+}"),
        tone: match trust {
            ..0 => "bad",
            0 => "",
            _ => "good",
        },
        note: (trust < 0).then(|| tr.t("customer.trust-deficit").to_string()),
    });
    out
}

/// The subscription block: plan, MRR, next renewal and revenue billed to date (the
/// core's figures: revenue = billed periods); empty for a customer who never
/// subscribed. Without an active subscription the plan is the last one the customer
/// had, "(ended DATE)".
fn subscription_figures(
    tr: &Tr,
    f: &CustomerFigures,
    subscriptions: &[Record],
    store: Currency,
) -> Vec<Figure> {
    if f.plan.is_none()
        && f.mrr_minor == 0
        && f.subscription_revenue_minor == 0
        && subscriptions.is_empty()
    {
        return Vec::new();
    }
    let currency = f.currency.parse().unwrap_or(store);
    let figure = |label, value| Figure {
        label,
        value,
        tone: "",
        note: None,
    };
    let plan = match &f.plan {
        Some(p) => figure("customer.plan", p.clone()),
        None => match last_plan(subscriptions) {
            Some((plan, Some(ended))) => Figure {
                note: Some(
                    tr.t("customer.plan-ended")
                        .replace("{date}", &tr.day(&ended)),
                ),
                ..figure("customer.plan", plan)
            },
            Some((plan, None)) => figure("customer.plan", plan),
            None => figure("customer.plan", "–".into()),
        },
    };
    let mut out = vec![
        plan,
        figure("customer.mrr", tr.money(f.mrr_minor, currency)),
    ];
    if let Some(d) = f.next_renewal_on {
        out.push(figure("customer.next-renewal", tr.day(&d)));
    }
    out.push(figure(
        "customer.subscription-revenue",
        tr.money(f.subscription_revenue_minor, currency),
    ));
    out
}

/// The plan of the customer's latest subscription (the one that ended last, or
/// started last among equals) and the day it ended.
fn last_plan(subscriptions: &[Record]) -> Option<(String, Option<chrono::NaiveDate>)> {
    let date = |r: &Record, field: &str| match r.get(field) {
        Value::Date(d) => Some(*d),
        _ => None,
    };
    subscriptions
        .iter()
        .filter_map(|r| Some((text_of(r, "plan")?, r)))
        .max_by_key(|(_, r)| {
            // A running one (no end) counts as the latest.
            let end = date(r, "ended_on").unwrap_or(chrono::NaiveDate::MAX);
            (end, date(r, "started_on"), r.id)
        })
        .map(|(plan, r)| (plan, date(r, "ended_on")))
}

/// Where the timeline's other pages are: the older page's link, and the newest page's
/// when this is not it; both keep the timeline's filter.
fn timeline_links(
    id: &str,
    kinds: &[&str],
    next: Option<TimelineCursor>,
    shown_from: Option<TimelineCursor>,
) -> (Option<String>, Option<String>) {
    let base = format!("/customers/{}", urlencode(id));
    let show = show_param(kinds);
    let older = next.map(|c| {
        let sep = if show.is_empty() { "" } else { "&" };
        format!(
            "{base}?{show}{sep}before={}#timeline",
            urlencode(&c.encode())
        )
    });
    let newest = shown_from.map(|_| match show.as_str() {
        "" => format!("{base}#timeline"),
        s => format!("{base}?{s}#timeline"),
    });
    (older, newest)
}

/// The usage block: per metric, the last weeks as a sparkline, the latest week's
/// value and its change against the customer's own baseline.
fn usage_views(tr: &Tr, usage: &[UsageWeeks]) -> Vec<UsageView> {
    usage
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let metric = capitalize(&word(tr, &u.metric));
            let title = format!("{metric}: {}", tr.t("customer.usage.weeks"));
            UsageView {
                svg: crate::charts::Sparkline::new(&format!("usage-{i}"), &title, u.values.clone())
                    .baseline(u.baseline)
                    .render(),
                latest: u
                    .latest()
                    .map_or_else(|| "–".to_string(), |v| number(tr, round2(v))),
                change: u.change().map(|c| {
                    let pct = (c * 100.0).round();
                    let sign = if pct > 0.0 {
                        "+"
                    } else if pct < 0.0 {
                        "\u{2212}"
                    } else {
                        "±"
                    };
                    let n = number(tr, pct.abs());
                    match tr.lang {
                        crate::i18n::Lang::Fi => format!("{sign}{n}\u{a0}%"),
                        crate::i18n::Lang::En => format!("{sign}{n}%"),
                    }
                }),
                change_tone: match u.change() {
                    Some(c) if c <= -0.005 => "bad",
                    Some(c) if c >= 0.005 => "good",
                    _ => "",
                },
                baseline: u.baseline.map(|b| number(tr, round2(b))),
                metric,
            }
        })
        .collect()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The trust block from the customer's ledger.
fn trust_view(
    tr: &Tr,
    h: &kanta_core::trust::TrustHistory,
    rules: Option<&kanta_core::rules::Rules>,
) -> TrustView {
    // A small line chart with its axes (the same chart code as /retention's): the
    // balance after each entry, by date, and a dashed zero line.
    let svg = (h.points.len() >= 2).then(|| {
        use crate::charts::{ChartOptions, LineChart, LineSeries, restyle_line_series};
        let n = h.points.len();
        let labels: Vec<String> = h.points.iter().map(|(at, _)| tr.date(at)).collect();
        let svg = LineChart::new(
            ChartOptions::new("trust-chart", tr.t("trust.chart"))
                .decimal_comma(tr.lang == crate::i18n::Lang::Fi)
                .size(420.0, 240.0)
                .x_label(tr.t("trust.axis.time"))
                .y_label(tr.t("trust.axis.balance")),
        )
        .categories(labels)
        .step(true)
        .markers(n <= 30)
        .include_zero(true)
        .series(LineSeries::new(
            tr.t("trust.balance"),
            h.points
                .iter()
                .enumerate()
                .map(|(i, (_, b))| (i as f64, *b as f64)),
        ))
        .series(LineSeries::new(
            tr.t("trust.zero"),
            [(0.0, 0.0), ((n - 1) as f64, 0.0)],
        ))
        .render();
        restyle_line_series(&svg, 1, Some("4 3"), 0.0)
    });
    let points = h
        .points
        .iter()
        .rev()
        .take(TRUST_ENTRIES)
        .map(|(at, b)| (tr.date(at), format!("{b:+}").replace('-', "\u{2212}")))
        .collect();
    let entries = h
        .entries
        .iter()
        .take(TRUST_ENTRIES)
        .map(|e| TrustLine {
            at: tr.date(&e.at),
            delta: format!("{:+}", e.delta).replace('-', "\u{2212}"),
            tone: if e.delta < 0 { "bad" } else { "good" },
            reason: trust_reason(tr, e),
            href: match (e.source.as_str(), &e.source_id) {
                ("case", Some(id)) => Some(format!("/cases/{}", urlencode(id))),
                _ => None,
            },
        })
        .collect();
    TrustView {
        balance: format!("{:+}", h.balance).replace('-', "\u{2212}"),
        tone: match h.balance {
            ..0 => "bad",
            0 => "",
            _ => "good",
        },
        in_deficit: h.in_deficit,
        svg,
        points,
        entries,
        rule: rules.map(|r| {
            let (good, mistake) = (r.trust.good_job, r.trust.mistake);
            let ratio = if good != 0 {
                (mistake / good).abs()
            } else {
                mistake.abs()
            };
            tr.t("trust.rule")
                .replace("{good}", &format!("{good:+}"))
                .replace(
                    "{mistake}",
                    &format!("{mistake:+}").replace('-', "\u{2212}"),
                )
                .replace("{ratio}", &ratio.to_string())
        }),
    }
}

/// The feedback card of a customer's answers: newest first, each with its survey,
/// scores, words, channel and a detractor or promoter badge by the settings.
async fn feedback_card(
    s: &AppState,
    tr: &Tr,
    customer: &str,
    mut answers: Vec<Record>,
    rules: Option<&kanta_core::feedback_settings::FeedbackRules>,
) -> Result<FeedbackCard, PageError> {
    answers.sort_by_key(|r| std::cmp::Reverse((time_of(r, "answered_at"), r.id)));
    let mut surveys: HashMap<String, Option<String>> = HashMap::new();
    for r in &answers {
        if let Some(id) = r.text("survey_id")
            && !surveys.contains_key(id)
        {
            let name = s
                .store
                .get(&kanta_domain::schema::SURVEYS, id)
                .await?
                .and_then(|x| text_of(&x, "name"));
            surveys.insert(id.to_string(), name);
        }
    }
    let default_rules = kanta_core::feedback_settings::FeedbackRules::default();
    let rules = rules.unwrap_or(&default_rules);
    let items: Vec<FeedbackView> = answers
        .iter()
        .map(|r| {
            let nps = r.get("nps").as_int();
            let csat = r.get("csat").as_int();
            let survey = r
                .text("survey_id")
                .map(|id| {
                    surveys
                        .get(id)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| id.to_string())
                })
                .or_else(|| text_of(r, "survey_ref"));
            let mut scores: Vec<(String, String)> = ["csat", "ces"]
                .iter()
                .filter_map(|f| r.get(f).as_int().map(|v| (tr.field(f), v.to_string())))
                .collect();
            if let Value::Bool(b) = r.get("yes_no") {
                scores.push((
                    tr.t("feedback.card.yes-no").to_string(),
                    tr.t(if *b {
                        "feedback.card.yes"
                    } else {
                        "feedback.card.no"
                    })
                    .to_string(),
                ));
            }
            FeedbackView {
                id: r.external_id.clone(),
                at: tr.date(&time_of(r, "answered_at")),
                survey,
                nps,
                nps_group: match nps {
                    Some(0..=6) => "detractor",
                    Some(7..=8) => "passive",
                    Some(_) => "promoter",
                    None => "",
                },
                scores,
                texts: ["did_well", "do_better", "comment"]
                    .iter()
                    .filter_map(|f| text_of(r, f).map(|t| (tr.field(f), t)))
                    .collect(),
                channel: r
                    .text("channel")
                    .map(|c| tr.text_or(&format!("feedback.card.channel.{c}"), c)),
                badge: if rules.is_detractor(nps, csat) {
                    "detractor"
                } else if rules.is_promoter(nps, csat) {
                    "promoter"
                } else {
                    ""
                },
                language: text_of(r, "language"),
            }
        })
        .collect();
    let more = (items.len() > FEEDBACK_SHOWN)
        .then(|| format!("/customers/{}?answers=all#fb", urlencode(customer)));
    Ok(FeedbackCard {
        shown: items.len().min(FEEDBACK_SHOWN),
        items,
        more,
    })
}

/// A trust entry's reason in the page's language where the page knows the rule
/// that wrote it (`trust.reason.SOURCE.RULE`), else as written.
fn trust_reason(tr: &Tr, e: &kanta_core::trust::TrustEntry) -> String {
    match (&e.rule, e.kind) {
        (Some(rule), "good_job" | "mistake") => {
            tr.text_or(&format!("trust.reason.{}.{rule}", e.source), &e.reason)
        }
        _ => e.reason.clone(),
    }
}

/// Everything the page shows, read from the store and the core.
async fn view(
    s: &AppState,
    signed: &SignedIn,
    (c, fig): (Record, CustomerFigures),
    forms: Forms,
    saved: Option<&'static str>,
    cursor: Option<TimelineCursor>,
    kinds: &[&'static str],
) -> Result<CustomerView, PageError> {
    let tr = signed.tr;
    let me = signed.me();
    let entities: Vec<&str> = TIMELINE_KINDS
        .iter()
        .filter(|(w, _)| kinds.contains(w))
        .map(|(_, e)| *e)
        .collect();
    let acting = signed.acting();
    let case_filter = kanta_core::cases::CaseFilter {
        status: Some("open".into()),
        sla: None,
        mine: false,
        owner: None,
        customer: Some(c.external_id.clone()),
        category: None,
        severity: None,
        escalations: false,
        after: None,
        limit: OPEN_CASES,
    };
    let (open, trust, staff, my_staff, case_categories) = tokio::try_join!(
        async {
            s.core
                .cases_page(&acting, &case_filter)
                .await
                .map_err(PageError::from)
        },
        async {
            // A role that may not read the ledger sees the figure only.
            match s.core.trust_history(&acting, &c.external_id).await {
                Ok(h) => Ok(Some(h)),
                Err(kanta_core::CoreError::Forbidden(_)) => Ok(None),
                Err(e) => Err(PageError::from(e)),
            }
        },
        super::cases::staff_choices(s),
        async {
            Ok::<_, PageError>(
                s.store
                    .staff_for_email(&signed.user.email)
                    .await?
                    .unwrap_or_default(),
            )
        },
        async { Ok::<_, PageError>(s.store.case_categories().await?) },
    )?;
    let rules = s.core.rules().await.ok();
    let settings = s
        .core
        .store_settings()
        .await
        .ok()
        .map(|st| kanta_core::feedback_settings::FeedbackRules::from_settings(&st));
    let (
        currency,
        page,
        usage,
        contacts,
        feedback,
        score,
        subscriptions,
        health,
        next_actions,
        onboarding_card,
        goals_card,
    ) = tokio::try_join!(
        store_currency(s),
        async {
            Ok(s.store
                .timeline_page_of(c.id, Some(&entities), cursor, TIMELINE_PAGE)
                .await?)
        },
        async { Ok(s.store.usage_weeks(&c, USAGE_WEEKS).await?) },
        async { Ok(s.store.records_of_customer(&CONTACTS, c.id).await?) },
        async { Ok(s.store.records_of_customer(&FEEDBACK, c.id).await?) },
        async { Ok::<_, PageError>(s.store.customer_score(c.id).await?) },
        async { Ok(s.store.records_of_customer(&SUBSCRIPTIONS, c.id).await?) },
        async {
            Ok::<_, PageError>(
                s.core
                    .customer_health(&acting, &c.external_id)
                    .await?
                    .map(|h| crate::pages::health::health_card(&tr, &h)),
            )
        },
        crate::pages::today::next_actions(s, signed, &c.external_id),
        super::onboarding::onboarding_card(s, signed, &c.external_id),
        super::goals::goals_card(s, signed, &c.external_id),
    )?;

    let score = score.map(|(run, sc)| score_view(&tr, &run, &sc, currency, &subscriptions));

    let now = Utc::now();
    let open_cases: Vec<CaseView> = open
        .rows
        .iter()
        .map(|r| {
            let (timer, timer_tone) = match r.sla_due_at {
                Some(due) => {
                    let left = (due - now).num_seconds();
                    (
                        super::cases::left_words(&tr, left),
                        if left < 0 || r.breached { "bad" } else { "" },
                    )
                }
                None => (String::new(), ""),
            };
            CaseView {
                href: format!("/cases/{}", urlencode(&r.id)),
                opened: tr.date(&r.opened_at),
                category: word(&tr, &r.category),
                severity: tr.value(&r.severity),
                severe: matches!(r.severity.as_str(), "high" | "critical"),
                summary: r.summary.clone(),
                our_fault: r.our_fault == Some(true),
                status: tr.text_or(&format!("case.status.{}", r.status), &r.status),
                timer,
                timer_tone,
            }
        })
        .collect();
    let more_cases = open
        .next
        .as_ref()
        .map(|_| format!("/cases?customer={}", urlencode(&c.external_id)));
    let trust = trust.map(|h| trust_view(&tr, &h, rules.as_ref()));

    let feedback_card = feedback_card(s, &tr, &c.external_id, feedback, settings.as_ref()).await?;

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
        "name",
        "email",
        "phone",
        "tier",
        "kind",
        "segment",
        "status",
        "currency",
        "owner_id",
        "survey_consent_at",
        "marketing_consent_at",
    ];
    // The customer's owner by name.
    let staff_names: std::collections::BTreeMap<String, String> = staff.iter().cloned().collect();
    let facts = c
        .fields
        .iter()
        .filter(|(n, _)| !shown_elsewhere.contains(n))
        .filter_map(|(n, v)| {
            let shown = match *n {
                // One line each: given (on a day) or not.
                "survey_consent" | "marketing_consent" => consent(&tr, &c, n)?,
                _ if v.is_null() => return None,
                // Said only when set: the endings page shows and changes it.
                "let_lapse" | "do_not_contact" if *v == Value::Bool(false) => return None,
                _ => display(&tr, &c, n, v, currency, &staff_names),
            };
            Some((capitalize(&tr.field(n)), shown))
        })
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
    let (older, newest) = timeline_links(&c.external_id, kinds, page.next, cursor);
    let base = format!("/customers/{}", urlencode(&c.external_id));
    let usage_href = (!usage.is_empty() && !kinds.contains(&"usage")).then(|| {
        let mut with: Vec<&str> = kinds.to_vec();
        with.push("usage");
        let with: Vec<&str> = TIMELINE_KINDS
            .iter()
            .map(|(w, _)| *w)
            .filter(|w| with.contains(w))
            .collect();
        format!("{base}?{}#timeline", show_param(&with))
    });

    let ending_card = super::endings::card(&c);
    let consent_card = super::privacy::card(s, signed, &c).await?;
    Ok(CustomerView {
        ending_card,
        consent_card,
        kinds: TIMELINE_KINDS
            .iter()
            .map(|(w, _)| KindChoice {
                word: w,
                label: tr.t(&format!("customer.show.{w}")).to_string(),
                checked: kinds.contains(w),
            })
            .collect(),
        usage: usage_views(&tr, &usage),
        usage_until: usage
            .iter()
            .filter_map(|u| u.weeks.last())
            .max()
            .map(|d| tr.date(&d.and_time(chrono::NaiveTime::MIN).and_utc())),
        usage_href,
        can_write: me.can_record(),
        can_trust: me.role >= access(Some(&TRUST_LEDGER), true),
        csrf: signed.csrf.clone(),
        me: Some(me),
        id: c.external_id.clone(),
        name: text_of(&c, "name").unwrap_or_else(|| c.external_id.clone()),
        badges,
        email: text_of(&c, "email"),
        phone: text_of(&c, "phone"),
        contacts,
        facts,
        figures: figures(&tr, &fig, currency),
        subscription: subscription_figures(&tr, &fig, &subscriptions, currency),
        score,
        open_cases,
        more_cases,
        trust,
        feedback_card,
        lines: page
            .events
            .iter()
            .map(|e| line(&tr, e, currency, &page.staff))
            .collect(),
        older,
        newest,
        forms,
        interaction_kinds: labelled(&tr, &logged_kinds()),
        directions: labelled(&tr, DIRECTIONS),
        outcomes: labelled(&tr, OUTCOMES),
        severities: labelled(&tr, SEVERITIES),
        channels: super::cases::channels(&tr),
        claim_kinds: super::cases::claim_kinds(&tr),
        staff,
        my_staff,
        case_categories: {
            let mut c: Vec<(String, String)> = case_categories
                .into_iter()
                .map(|k| {
                    let l = capitalize(&word(&tr, &k));
                    (k, l)
                })
                .collect();
            c.sort_by_key(|(_, l)| l.to_lowercase());
            c
        },
        currency_code: currency.code().to_string(),
        case_notice: None,
        owner: c
            .text("owner_id")
            .map(|o| staff_names.get(o).cloned().unwrap_or_else(|| o.to_string())),
        health,
        next_actions,
        onboarding_card,
        goals_card,
        saved,
        tr,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    saved: Option<String>,
    /// After a case was opened: its id (the notice links to it).
    case: Option<String>,
    /// Where the timeline's page starts (`TimelineCursor::encode`); a bad one is
    /// ignored (the newest page).
    before: Option<String>,
    /// `all`: the feedback card lists every answer.
    answers: Option<String>,
}

/// The customer with their figures, read in one query; the 404 page when there is none.
async fn find(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
) -> Result<(Record, CustomerFigures), PageError> {
    s.core
        .customer_with_figures(id)
        .await?
        .ok_or_else(|| not_found(signed.tr, Some(signed.me())))
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let c = find(&s, &signed, &id).await?;
    let saved = ACTIONS
        .iter()
        .find(|a| q.saved.as_deref() == Some(a.saved))
        .map(|a| a.notice)
        .or_else(|| {
            q.saved.as_deref().and_then(|k| {
                super::onboarding::saved_notice(k).or_else(|| super::goals::saved_notice(k))
            })
        });
    let cursor = q.before.as_deref().and_then(TimelineCursor::decode);
    let kinds = shown_kinds(raw.as_deref());
    let mut v = view(&s, &signed, c, Forms::default(), saved, cursor, &kinds).await?;
    v.consent_card.requested = q.saved.as_deref() == Some("consent-request");
    if q.answers.as_deref() == Some("all") {
        v.feedback_card.shown = v.feedback_card.items.len();
        v.feedback_card.more = None;
    }
    if saved == Some("customer.saved.case")
        && let Some(case) = q.case.as_deref().filter(|c| !c.trim().is_empty())
    {
        v.case_notice = case_notice(&s, &signed, &v.id, case).await;
        if v.case_notice.is_some() {
            v.saved = None;
        }
    }
    Ok(render(&v))
}

/// The notice after a case was opened: "The case ... is open", a link to it, and
/// whether its claim was approved at once or waits for a manager (read back from the
/// core, so the words are what happened).
async fn case_notice(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
    case: &str,
) -> Option<CaseNotice> {
    let tr = signed.tr;
    let d = s.core.case_detail(&signed.acting(), case).await.ok()?;
    if d.case.customer_id != customer {
        return None;
    }
    let store = s.core.currency().await.unwrap_or(Currency::EUR);
    let claim = d.claims.first().map(|k| {
        let amount = tr.money(k.amount_minor, k.currency.parse().unwrap_or(store));
        let key = if k.status == "pending" {
            "customer.saved.case-pending"
        } else {
            "customer.saved.case-approved"
        };
        tr.t(key).replace("{amount}", &amount)
    });
    Some(CaseNotice {
        href: format!("/cases/{}", urlencode(case)),
        text: tr.t("customer.saved.case-open").replace(
            "{case}",
            &format!(
                "{} ({})",
                capitalize(&word(&tr, &d.case.category)),
                d.case.id
            ),
        ),
        claim,
    })
}

// ---- quick actions ----

type Errors = Vec<(&'static str, String)>;

/// One quick action of the customer page: a form that POSTs to
/// `/customers/{id}/{path}`, writes one record of `entity` through the core and
/// redirects back to the page with `?saved={saved}`.
pub(crate) struct QuickAction {
    /// The last segment of the form's path.
    pub(crate) path: &'static str,
    /// What `?saved=` says afterwards.
    saved: &'static str,
    /// The i18n key of the notice the page then shows.
    notice: &'static str,
    entity: &'static Entity,
    /// The form's fields as the record's values (besides the customer, the time and
    /// the staff member), with any errors by field.
    read: fn(&Tr, &FormInput, &mut Errors) -> Vec<(&'static str, Value)>,
    /// The page's form that shows the errors.
    form: fn(&mut Forms) -> &mut FormInput,
}

/// The quick actions, each one line of routing (`pages::routes`).
pub(crate) static ACTIONS: &[QuickAction] = &[
    QuickAction {
        path: "interactions",
        saved: "interaction",
        notice: "customer.saved.interaction",
        entity: &INTERACTIONS,
        read: read_interaction,
        form: interaction_form,
    },
    QuickAction {
        path: "cases",
        saved: "case",
        notice: "customer.saved.case",
        entity: &CASES,
        read: read_case,
        form: case_form,
    },
    QuickAction {
        path: "notes",
        saved: "note",
        notice: "customer.saved.note",
        entity: &INTERACTIONS,
        read: read_note,
        form: note_form,
    },
    QuickAction {
        path: "trust",
        saved: "trust",
        notice: "customer.saved.trust",
        entity: &TRUST_LEDGER,
        read: read_trust,
        form: trust_form,
    },
];

fn interaction_form(f: &mut Forms) -> &mut FormInput {
    &mut f.interaction
}

fn case_form(f: &mut Forms) -> &mut FormInput {
    &mut f.case
}

fn note_form(f: &mut Forms) -> &mut FormInput {
    &mut f.note
}

fn trust_form(f: &mut Forms) -> &mut FormInput {
    &mut f.trust
}

/// The interaction kinds the "log an interaction" form offers (a note has its own).
fn logged_kinds() -> Vec<&'static str> {
    INTERACTION_KINDS
        .iter()
        .copied()
        .filter(|k| *k != "note")
        .collect()
}

fn read_interaction(tr: &Tr, f: &FormInput, e: &mut Errors) -> Vec<(&'static str, Value)> {
    vec![
        (
            "kind",
            choice(e, tr, "kind", &f.kind, &logged_kinds(), false),
        ),
        (
            "direction",
            choice(e, tr, "direction", &f.direction, DIRECTIONS, true),
        ),
        (
            "outcome",
            choice(e, tr, "outcome", &f.outcome, OUTCOMES, true),
        ),
        ("proactive", Value::Bool(checked(&f.proactive))),
        ("note", optional_text(e, tr, "note", &f.note)),
    ]
}

fn read_case(tr: &Tr, f: &FormInput, e: &mut Errors) -> Vec<(&'static str, Value)> {
    let fault = f
        .our_fault
        .as_deref()
        .and_then(super::cases::parse_fault)
        .map_or(Value::Null, Value::Bool);
    // The claim is checked here (any amount above zero; the currency's decimals when
    // it is written) and given to the core apart from the case's fields.
    if !f.amount.trim().is_empty() {
        if let Err(key) = super::cases::parse_amount(&f.amount, Currency::EUR) {
            e.push(("amount", tr.t(key).to_string()));
        }
        if !f.claim_kind.trim().is_empty() {
            choice(e, tr, "claim_kind", &f.claim_kind, CLAIM_KINDS, false);
        }
    }
    let owner = f.owner.trim();
    // A new category typed beside the list wins over the list; it is written as a
    // key (`Cold coffee` -> `cold-coffee`), as the stored ones are.
    let other = category_key(&f.category_other);
    let category = if other.is_empty() {
        f.category.trim().to_string()
    } else {
        other
    };
    vec![
        (
            "category",
            Value::Text(required(e, tr, "category", &category, MAX_SHORT)),
        ),
        (
            "severity",
            choice(e, tr, "severity", &f.severity, SEVERITIES, false),
        ),
        (
            "channel",
            choice(e, tr, "channel", &f.channel, CASE_CHANNELS, true),
        ),
        ("our_fault", fault),
        ("summary", optional_text(e, tr, "summary", &f.summary)),
        (
            "staff_id",
            if owner.is_empty() {
                Value::Null
            } else {
                Value::Text(owner.to_string())
            },
        ),
    ]
}

/// A category as a key: trimmed, lower case, spaces (and underscores) to hyphens.
pub(crate) fn category_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .replace('_', "-")
        .to_lowercase()
}

fn read_note(tr: &Tr, f: &FormInput, e: &mut Errors) -> Vec<(&'static str, Value)> {
    vec![
        ("kind", Value::Text("note".into())),
        (
            "note",
            Value::Text(required(e, tr, "note", &f.note, MAX_TEXT)),
        ),
    ]
}

fn read_trust(tr: &Tr, f: &FormInput, e: &mut Errors) -> Vec<(&'static str, Value)> {
    vec![
        ("delta", delta(e, tr, &f.delta)),
        (
            "reason",
            Value::Text(required(e, tr, "reason", &f.reason, MAX_REASON)),
        ),
        ("source", Value::Text("manual".into())),
    ]
}

/// A trust entry's change: a whole number other than 0 (`+3`, `-10`, `−10`).
fn delta(f: &mut Errors, tr: &Tr, value: &str) -> Value {
    let v = value.trim().replace('\u{2212}', "-");
    let v = v.strip_prefix('+').unwrap_or(&v);
    match v.parse::<i64>() {
        Ok(n) if n != 0 && n.abs() <= MAX_DELTA => Value::Int(n),
        _ => {
            f.push(("delta", tr.t("form.whole-number").to_string()));
            Value::Null
        }
    }
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

/// A quick action's POST: the role the core asks for writing the entity and the
/// session's CSRF token, the form read (422 with the page and the errors by the
/// field, nothing written), then one audited create through the core and 303 back.
pub(crate) async fn quick_action(
    action: &'static QuickAction,
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(mut f): Form<FormInput>,
) -> Result<Response, PageError> {
    form_allowed(&signed, access(Some(action.entity), true), &f.csrf)?;
    let c = find(&s, &signed, &id).await?;
    let mut errors = Errors::new();
    let given = (action.read)(&signed.tr, &f, &mut errors);
    if !errors.is_empty() {
        f.errors = errors;
        let mut forms = Forms::default();
        *(action.form)(&mut forms) = f;
        let v = view(&s, &signed, c, forms, None, None, &default_kinds()).await?;
        return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let written = if std::ptr::eq(action.entity, &CASES) {
        open_case(&s, &signed, &c.0.external_id, &f, &given)
            .await
            .map(Some)
    } else {
        s.core
            .record_for_customer(&signed.acting(), action.entity, &c.0.external_id, &given)
            .await
            .map(|_| None)
    };
    let opened = written.as_ref().ok().cloned().flatten();
    if let Err(e) = written {
        let kanta_core::CoreError::Invalid(problems) = e else {
            return Err(core_error(&signed)(e));
        };
        // The core's refusal of a value: the form comes back with it by its field.
        f.errors = problems
            .into_iter()
            .map(|p| {
                (
                    form_field(&p.field),
                    format!("{}: {}", tr_field(&signed.tr, &p.field), p.reason),
                )
            })
            .collect();
        let mut forms = Forms::default();
        *(action.form)(&mut forms) = f;
        let v = view(&s, &signed, c, forms, None, None, &default_kinds()).await?;
        return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let case = opened
        .map(|id| format!("&case={}", urlencode(&id)))
        .unwrap_or_default();
    Ok(see_other(format!(
        "/customers/{}?saved={}{case}",
        urlencode(&c.0.external_id),
        action.saved
    )))
}

/// Opens a case (with its claim, when the form has an amount) through the core's
/// use case: the SLA dues, the small-claim rule and the trust rules apply.
async fn open_case(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
    f: &FormInput,
    given: &[(&'static str, Value)],
) -> Result<String, kanta_core::CoreError> {
    let currency = s.core.currency().await?;
    let claim = if f.amount.trim().is_empty() {
        None
    } else {
        let amount_minor = super::cases::parse_amount(&f.amount, currency).map_err(|key| {
            kanta_core::CoreError::Invalid(vec![kanta_core::Problem {
                index: None,
                field: "amount".into(),
                reason: signed.tr.t(key).to_string(),
            }])
        })?;
        let kind = f.claim_kind.trim();
        Some(kanta_core::claims::NewClaim {
            amount_minor,
            currency,
            kind: if kind.is_empty() { "refund" } else { kind }.to_string(),
        })
    };
    let new = super::cases::new_case(customer, given, claim);
    s.core.open_case(&signed.acting(), new).await
}

/// The form field a core problem names (the case form's owner is `staff_id`).
fn form_field(field: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "category",
        "severity",
        "channel",
        "our_fault",
        "summary",
        "amount",
        "kind",
        "note",
        "direction",
        "outcome",
        "delta",
        "reason",
    ];
    match field {
        "staff_id" | "owner" | "owner_id" => "owner",
        "claim_kind" => "claim_kind",
        f => FIELDS.iter().find(|x| **x == f).copied().unwrap_or("form"),
    }
}

fn tr_field(tr: &Tr, field: &str) -> String {
    capitalize(&tr.field(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quick_action_writes_fields_of_its_entity() {
        let tr = Tr::new(crate::i18n::Lang::En);
        for a in ACTIONS {
            let mut errors = Errors::new();
            let given = (a.read)(&tr, &FormInput::default(), &mut errors);
            for (name, _) in &given {
                assert!(a.entity.field(name).is_some(), "{}: {name}", a.path);
            }
            let values = kanta_core::customer_records::record_values(
                a.entity,
                "c1",
                Utc::now(),
                Value::Null,
                &given,
            );
            assert_eq!(values.len(), a.entity.fields.len());
            assert_eq!(values[0], Value::Text("c1".into()), "{}", a.path);
            assert_ne!(tr.t(a.notice), a.notice, "{} has no text", a.notice);
        }
    }

    #[test]
    fn timeline_links_carry_the_cursor() {
        let c = TimelineCursor {
            at: "2024-05-02T08:00:00Z".parse().unwrap(),
            skip: 2,
        };
        let (older, newest) = timeline_links("a b", &default_kinds(), Some(c), None);
        let older = older.unwrap();
        assert!(
            older.starts_with("/customers/a%20b?before=2024-05-02"),
            "{older}"
        );
        let enc = older
            .split("before=")
            .nth(1)
            .unwrap()
            .trim_end_matches("#timeline");
        let back: String = percent_decode(enc);
        assert_eq!(TimelineCursor::decode(&back), Some(c));
        assert_eq!(newest, None);
        let (older, newest) = timeline_links("x", &default_kinds(), None, Some(c));
        assert_eq!(
            (older, newest.as_deref()),
            (None, Some("/customers/x#timeline"))
        );
        // A filter is kept on both links.
        let (older, newest) = timeline_links("x", &["cases", "usage"], Some(c), Some(c));
        assert!(
            older
                .unwrap()
                .starts_with("/customers/x?show=cases,usage&before="),
            "the older page keeps the filter"
        );
        assert_eq!(
            newest.as_deref(),
            Some("/customers/x?show=cases,usage#timeline")
        );
    }

    #[test]
    fn the_timeline_filter_reads_checkboxes_and_lists() {
        assert_eq!(
            shown_kinds(None),
            [
                "orders",
                "subscriptions",
                "interactions",
                "cases",
                "feedback",
                "trust"
            ]
        );
        assert_eq!(shown_kinds(Some("show=usage")), ["usage"]);
        assert_eq!(
            shown_kinds(Some("show=trust&before=x&show=cases")),
            ["cases", "trust"]
        );
        assert_eq!(
            shown_kinds(Some("show=cases%2Corders")),
            ["orders", "cases"]
        );
        assert_eq!(shown_kinds(Some("show=nonsense")), default_kinds());
        assert_eq!(show_param(&default_kinds()), "");
    }

    #[test]
    fn words_and_numbers_as_people_read_them() {
        let (fi, en) = (
            Tr::new(crate::i18n::Lang::Fi),
            Tr::new(crate::i18n::Lang::En),
        );
        assert_eq!(number(&fi, 116.0), "116");
        assert_eq!(number(&en, 1234.0), "1,234");
        assert_eq!(number(&fi, 1234.5), "1\u{202f}234,5");
        assert_eq!(number(&en, 2.25), "2.25");
        assert_eq!(number(&en, 2.10), "2.1");
        assert_eq!(word(&fi, "cold-coffee"), "kylmä kahvi");
        assert_eq!(word(&en, "cold-coffee"), "cold coffee");
        assert_eq!(word(&fi, "counter"), "tiski");
        assert_eq!(word(&en, "some-new_word"), "some new word");
        assert_eq!(capitalize("laji"), "Laji");
        assert_eq!(capitalize("äänestys"), "Äänestys");
        assert_eq!(capitalize(""), "");
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
