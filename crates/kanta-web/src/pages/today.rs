//! `/today`: the signed-in user's home page, whom to contact today and why.
//!
//! - The contact queue (`Core::queue_page`) ordered by value at risk, each row with
//!   the customer (a link), tier, owner, value at risk (the store's money format in
//!   the page's language), health score, and every reason as a sentence in the user's
//!   language (`today.reason.<key>[.<variant>]` with the reason's arguments; a
//!   metric or a case's category is a vocabulary word, `value.*` else humanised, so
//!   `active_users` reads "aktiiviset käyttäjät" on a Finnish page).
//! - Per row three small forms (staff and above; viewers read): log a contact (kind,
//!   outcome, note), snooze until a date (`31.12.2026` or `2026-12-31`), dismiss with a
//!   reason. Each POSTs, calls the core and 303s back; the row is gone at once. The
//!   customer page's next-actions card ([`next_actions`], `parts/next_actions.html`)
//!   posts the same forms to `/customers/{id}/next/{action}`, which go back there.
//! - Filters (GET, no JavaScript): mine (the default when the user owns customers) or
//!   the team (or a staff member's email), a reason, a tier; keyset pages. A value a
//!   filter does not take is a 400 page naming it and the values it takes, as the API
//!   and `kanta queue` refuse it. The empty state says why: never
//!   computed, nothing to do, the filters, or no staff record with the user's email.
//! - A small card of the reputation exposure (seed 000: good service is told to about
//!   3 people, bad to about 11; `Core::feedback_exposure`): the last
//!   [`HOME_MONTHS`] months' people told of good and of bad service as a two-series
//!   bar chart (the charts of `/feedback`), the sums in a sentence, and a link to
//!   `/feedback`. Every role that sees the page sees it.
//! - `/` for a signed-in user is this page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::CoreError;
use kanta_core::exposure::{ExposureSummary, HOME_MONTHS};
use kanta_core::queue::{
    ContactInput, CustomerQueue, OwnerFilter, QueueEntry, QueueFilter, REASON_KEYS, Reason,
};
use kanta_domain::schema::{INTERACTION_KINDS, OUTCOMES, TIERS};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::customer::word;
use super::feedback::period_label;
use super::retention::count;
use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{BarChart, BarSeries, ChartOptions};
use crate::i18n::{Lang, Tr};

/// The least role that acts from the queue.
pub(crate) const ACTS: Role = Role::Staff;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct TodayParams {
    owner: Option<String>,
    reason: Option<String>,
    tier: Option<String>,
    cursor: Option<String>,
    /// After an action: what was done (`contacted`, `snoozed`, `dismissed`).
    done: Option<String>,
}

/// An action's form (the fields of all three; each form sends its own).
#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
    /// The list's query to go back to (`owner=me&reason=...`).
    #[serde(default)]
    back: String,
}

/// A choice of a select.
pub(crate) struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One row of the queue as the page shows it.
pub(crate) struct Row {
    /// The customer's id in a path.
    path: String,
    name: String,
    tier: String,
    owner: String,
    value: String,
    health: String,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "today.html")]
pub(crate) struct TodayPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_act: bool,
    rows: Vec<Row>,
    owners: Vec<Opt>,
    reasons: Vec<Opt>,
    tiers: Vec<Opt>,
    kinds: Vec<Opt>,
    outcomes: Vec<Opt>,
    /// The list's query, kept by the forms.
    back: String,
    next: Option<String>,
    total: String,
    empty: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    refreshed: Option<String>,
    exposure: ExposureCard,
}

/// The reputation exposure card.
pub(crate) struct ExposureCard {
    /// "Last 6 months: good service told to about 120 people, bad to about 44."
    text: String,
    /// The chart (our own SVG, its texts escaped by the chart code); empty when no
    /// answer of the months was a promoter's or a detractor's.
    svg: String,
}

/// The card of the last months' exposure: the sums in words and the chart.
fn exposure_card(tr: &Tr, e: &ExposureSummary) -> ExposureCard {
    let months = HOME_MONTHS.to_string();
    if e.promoters == 0 && e.detractors == 0 {
        return ExposureCard {
            text: tr.t("today.exposure.none").replace("{months}", &months),
            svg: String::new(),
        };
    }
    let text = tr
        .t("today.exposure.text")
        .replace("{months}", &months)
        .replace("{good}", &count(tr, e.told_good))
        .replace("{bad}", &count(tr, e.told_bad))
        .replace("{promoters}", &count(tr, e.promoters))
        .replace("{detractors}", &count(tr, e.detractors))
        .replace("{k_good}", &e.exposure_promoter.to_string())
        .replace("{k_bad}", &e.exposure_detractor.to_string());
    let labels: Vec<String> = e.months.iter().map(|m| period_label(tr, &m.key)).collect();
    let good = tr
        .t("feedback.exposure.good")
        .replace("{k}", &e.exposure_promoter.to_string());
    let bad = tr
        .t("feedback.exposure.bad")
        .replace("{k}", &e.exposure_detractor.to_string());
    // 360 px wide: the chart keeps its text readable and still fits a 375 px screen.
    let svg = BarChart::new(
        ChartOptions::new("today-exposure-chart", tr.t("today.exposure.title"))
            .decimal_comma(tr.lang == Lang::Fi)
            .empty_text(tr.t("feedback.no-answers"))
            .size(360.0, 220.0)
            .y_label(tr.t("feedback.exposure.people"))
            .description(&text),
        labels,
    )
    .series(BarSeries::new(
        &good,
        e.months.iter().map(|m| m.told_good as f64),
    ))
    .series(BarSeries::new(
        &bad,
        e.months.iter().map(|m| m.told_bad as f64),
    ))
    .render();
    ExposureCard { text, svg }
}

/// The customer page's card: this customer's reasons and the three forms. The
/// customer page includes `parts/next_actions.html` with this as `next_actions`
/// (and its `tr`).
pub(crate) struct NextActions {
    pub csrf: String,
    pub can_act: bool,
    /// The customer's id in a path.
    pub path: String,
    pub reasons: Vec<String>,
    pub value: Option<String>,
    /// The newest action taken for the customer, in words.
    pub last_action: Option<String>,
    pub kinds: Vec<Opt>,
    pub outcomes: Vec<Opt>,
}

/// The card alone (what the customer page includes), for tests and to check the part.
#[derive(Template)]
#[template(source = "{% include \"parts/next_actions.html\" %}", ext = "html")]
pub(crate) struct NextActionsCard {
    pub tr: Tr,
    pub next_actions: NextActions,
}

/// A number as the language writes it (`12,5` in Finnish).
fn number(tr: &Tr, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => {
                let x = (n.as_f64().unwrap_or(0.0) * 10.0).round() / 10.0;
                let s = format!("{x}");
                if tr.lang == Lang::Fi {
                    s.replace('.', ",")
                } else {
                    s
                }
            }
        },
        serde_json::Value::String(s) => {
            // Dates as the language writes them.
            match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => tr.day(&d),
                Err(_) => match chrono::DateTime::parse_from_rfc3339(s) {
                    Ok(t) => tr.date_time(&t.with_timezone(&chrono::Utc)),
                    Err(_) => s.clone(),
                },
            }
        }
        serde_json::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// One reason as a sentence in the page's language.
pub(crate) fn sentence(tr: &Tr, r: &Reason) -> String {
    let has = |k: &str| r.args.get(k).is_some_and(|v| !v.is_null());
    let variant = match r.key.as_str() {
        "cadence" if r.args.get("never").and_then(|v| v.as_bool()) == Some(true) => "cadence.never",
        // With what the customer wrote, quoted, when the answer has words.
        "detractor" if has("nps") && has("text") => "detractor.nps.text",
        "detractor" if has("nps") => "detractor.nps",
        "detractor" if has("text") => "detractor.csat.text",
        "detractor" => "detractor.csat",
        // An escalation's case has our own category `escalation`: said once.
        "case" if r.arg("state") == "escalation" && r.arg("category") == "escalation" => {
            "case.escalation.only"
        }
        "case" => match r.arg("state").as_str() {
            "escalation" => "case.escalation",
            "breached" => "case.breached",
            _ => "case.due_soon",
        },
        "goal" if r.arg("status") == "at_risk" => "goal.at_risk",
        "goal" => "goal.due",
        k => k,
    };
    let key = format!("today.reason.{variant}");
    let mut text = tr.text_or(&key, &r.key.replace('_', " "));
    for (name, v) in &r.args {
        let pat = format!("{{{name}}}");
        if text.contains(&pat) {
            let said = match (name.as_str(), v) {
                // Words of the business's vocabularies (`value.*`, else humanised):
                // `active_users` is "aktiiviset käyttäjät" on a Finnish page.
                ("metric" | "category", serde_json::Value::String(w)) => word(tr, w),
                // The customer's own words, as written (the template escapes them).
                ("text", serde_json::Value::String(w)) => w.clone(),
                _ => number(tr, v),
            };
            text = text.replace(&pat, &said);
        }
    }
    text
}

fn opts(tr: &Tr, words: &[&str], selected: &str, prefix: Option<&str>) -> Vec<Opt> {
    words
        .iter()
        .map(|w| Opt {
            value: w.to_string(),
            label: match prefix {
                Some(p) => tr.t(&format!("{p}{w}")).to_string(),
                None => tr.value(w),
            },
            selected: *w == selected,
        })
        .collect()
}

fn entry_row(tr: &Tr, e: &QueueEntry) -> Row {
    let currency = e.currency.parse().unwrap_or(kanta_domain::Currency::EUR);
    Row {
        path: urlencode(&e.customer_id),
        name: e.name.clone().unwrap_or_else(|| e.customer_id.clone()),
        tier: e.tier.clone().unwrap_or_default(),
        owner: e.owner_name.clone().unwrap_or_default(),
        value: tr.money(e.value_at_risk_minor, currency),
        health: e.health_score.map(|h| h.to_string()).unwrap_or_default(),
        reasons: e.reasons.iter().map(|r| sentence(tr, r)).collect(),
    }
}

/// The customer page's next-actions card for a customer (the customer page includes
/// it).
pub(crate) async fn next_actions(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
) -> Result<NextActions, PageError> {
    let tr = signed.tr;
    let q: CustomerQueue = s
        .core
        .customer_queue_reasons(&signed.acting(), customer)
        .await
        .map_err(core_error(signed))?;
    let value = q.entry.as_ref().map(|e| entry_row(&tr, e).value);
    let reasons = q
        .entry
        .as_ref()
        .map(|e| e.reasons.iter().map(|r| sentence(&tr, r)).collect())
        .unwrap_or_default();
    let last_action = q.last_action.map(|(action, until, day)| {
        let t = tr.text_or(&format!("today.last.{action}"), &action);
        t.replace("{day}", &tr.day(&day))
            .replace("{until}", &until.map(|u| tr.day(&u)).unwrap_or_default())
    });
    Ok(NextActions {
        csrf: signed.csrf.clone(),
        can_act: signed.user.role >= ACTS,
        path: urlencode(customer),
        reasons,
        value,
        last_action,
        kinds: opts(&tr, INTERACTION_KINDS, "call", None),
        outcomes: opts(&tr, OUTCOMES, "", None),
    })
}

async fn page(
    s: &AppState,
    signed: &SignedIn,
    q: &TodayParams,
    error: Option<String>,
) -> Result<TodayPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    // A filter value the list does not take is refused by name, as the API and
    // `kanta queue` refuse it, rather than quietly showing the whole list.
    let owner = match given(&q.owner) {
        Some(o) => OwnerFilter::parse(&o).map_err(|_| {
            let email = tr.t("today.bad-filter.email");
            bad_filter(signed, "owner", &o, format!("me, all, {email}"))
        })?,
        None => {
            if s.core
                .owns_customers(&acting)
                .await
                .map_err(core_error(signed))?
            {
                OwnerFilter::Me
            } else {
                OwnerFilter::All
            }
        }
    };
    let owner_word = match &owner {
        OwnerFilter::Me => "me".to_string(),
        OwnerFilter::All => "all".to_string(),
        OwnerFilter::Email(e) => e.clone(),
    };
    let reason = match given(&q.reason) {
        Some(r) if !REASON_KEYS.contains(&r.as_str()) => {
            let allowed: Vec<String> = REASON_KEYS
                .iter()
                .map(|k| format!("{k} ({})", tr.t(&format!("today.key.{k}"))))
                .collect();
            return Err(bad_filter(signed, "reason", &r, allowed.join(", ")));
        }
        r => r,
    };
    let tier = match given(&q.tier).map(|t| t.to_uppercase()) {
        Some(t) if !TIERS.contains(&t.as_str()) => {
            return Err(bad_filter(signed, "tier", &t, TIERS.join(", ")));
        }
        t => t,
    };
    let filter = QueueFilter {
        owner: owner.clone(),
        reason: reason.clone(),
        tier: tier.clone(),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        limit: 50,
    };
    let list = s
        .core
        .queue_page(&acting, &filter)
        .await
        .map_err(core_error(signed))?;
    let mut query = format!("owner={}", urlencode(&owner_word));
    if let Some(r) = &reason {
        query.push_str(&format!("&reason={r}"));
    }
    if let Some(t) = &tier {
        query.push_str(&format!("&tier={t}"));
    }
    let next = list
        .next_cursor
        .as_ref()
        .map(|c| format!("/today?{query}&cursor={}", urlencode(c)));
    let empty = list.items.is_empty().then(|| {
        if list.no_staff_row {
            tr.t("today.empty.no-staff")
                .replace("{email}", &signed.user.email)
        } else if list.refreshed_at.is_none() && list.queue_total == 0 {
            tr.t("today.empty.never").to_string()
        } else if list.queue_total == 0 {
            tr.t("today.empty.none").to_string()
        } else if matches!(owner, OwnerFilter::Me) && reason.is_none() && tier.is_none() {
            tr.t("today.empty.mine")
                .replace("{n}", &list.queue_total.to_string())
        } else {
            tr.t("today.empty.filters")
                .replace("{n}", &list.queue_total.to_string())
        }
    });
    let notice = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "contacted" | "snoozed" | "dismissed"))
        .map(|d| tr.t(&format!("today.done.{d}")).to_string());
    let mut reasons = vec![Opt {
        value: String::new(),
        label: tr.t("today.filter.any").to_string(),
        selected: reason.is_none(),
    }];
    reasons.extend(opts(
        &tr,
        &REASON_KEYS,
        reason.as_deref().unwrap_or(""),
        Some("today.key."),
    ));
    let mut tiers = vec![Opt {
        value: String::new(),
        label: tr.t("today.filter.any").to_string(),
        selected: tier.is_none(),
    }];
    tiers.extend(TIERS.iter().map(|t| Opt {
        value: t.to_string(),
        label: t.to_string(),
        selected: tier.as_deref() == Some(t),
    }));
    let exposure = s
        .core
        .feedback_exposure(&acting, HOME_MONTHS)
        .await
        .map_err(core_error(signed))?;
    Ok(TodayPage {
        exposure: exposure_card(&tr, &exposure),
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_act: signed.user.role >= ACTS,
        rows: list.items.iter().map(|e| entry_row(&tr, e)).collect(),
        owners: {
            let mut o = opts(&tr, &["me", "all"], &owner_word, Some("today.owner."));
            if let OwnerFilter::Email(e) = &owner {
                o.push(Opt {
                    value: e.clone(),
                    label: e.clone(),
                    selected: true,
                });
            }
            o
        },
        reasons,
        tiers,
        kinds: opts(&tr, INTERACTION_KINDS, "call", None),
        outcomes: opts(&tr, OUTCOMES, "", None),
        back: query,
        next,
        total: list.total.to_string(),
        empty,
        notice,
        error,
        refreshed: list.refreshed_at.map(|t| tr.date_time(&t)),
        tr,
    })
}

/// `GET /today`.
pub(crate) async fn today(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<TodayParams>,
) -> Result<Response, PageError> {
    let view = page(&s, &signed, &q, None).await?;
    Ok(render(&view))
}

/// `GET /`: the signed-in user's home is today's queue (the language asked kept).
pub(crate) async fn home(signed: SignedIn, uri: axum::http::Uri) -> Result<Response, PageError> {
    let _ = signed;
    Ok(see_other(match uri.query() {
        Some(q) if !q.is_empty() => format!("/today?{q}"),
        _ => "/today".to_string(),
    }))
}

/// The field of a problem in the page's language.
fn problem_text(tr: &Tr, e: &CoreError) -> Option<String> {
    match e {
        CoreError::Invalid(p) => Some(
            p.iter()
                .map(|p| {
                    let field = tr.text_or(&format!("today.field.{}", p.field), &p.field);
                    let reason = tr.text_or(&format!("today.error.{}", p.field), &p.reason);
                    format!("{field}: {reason}")
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

/// Runs one action of a form on a customer.
async fn act(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
    action: &str,
    f: &ActionForm,
) -> Result<(), CoreError> {
    let acting = signed.acting();
    match action {
        "contact" => {
            let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
            s.core
                .queue_contacted(
                    &acting,
                    customer,
                    ContactInput {
                        kind: f.kind.clone(),
                        outcome: opt(&f.outcome),
                        purpose: None,
                        note: opt(&f.note),
                        at: None,
                    },
                )
                .await
                .map(|_| ())
        }
        "snooze" => {
            let zone = s.core.time_zone().await?;
            let until = kanta_domain::time::parse_date_in(&f.until, None, zone).map_err(|_| {
                CoreError::invalid(
                    "until",
                    if f.until.trim().is_empty() {
                        "required: a date such as 31.12.2026".to_string()
                    } else {
                        format!(
                            "'{}' is not a date such as 31.12.2026",
                            kanta_domain::value::excerpt(f.until.trim())
                        )
                    },
                )
            })?;
            let reason = Some(f.reason.as_str()).filter(|r| !r.trim().is_empty());
            s.core
                .queue_snooze(&acting, customer, until, reason)
                .await
                .map(|_| ())
        }
        "dismiss" => s
            .core
            .queue_dismiss(&acting, customer, &f.reason)
            .await
            .map(|_| ()),
        _ => Err(CoreError::NotFound(format!("no action '{action}'"))),
    }
}

fn done_word(action: &str) -> &'static str {
    match action {
        "contact" => "contacted",
        "snooze" => "snoozed",
        _ => "dismissed",
    }
}

/// `POST /today/{id}/{action}` (`contact`, `snooze`, `dismiss`): back to the list.
pub(crate) async fn action(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, ACTS, &f.csrf)?;
    let back: String = f
        .back
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=&_-.%".contains(*c))
        .collect();
    match act(&s, &signed, &id, &action, &f).await {
        Ok(()) => Ok(see_other(format!(
            "/today?{back}{}done={}",
            if back.is_empty() { "" } else { "&" },
            done_word(&action)
        ))),
        Err(e) => match problem_text(&signed.tr, &e) {
            Some(message) => {
                let q = params_of(&back);
                let view = page(&s, &signed, &q, Some(message)).await?;
                Ok(render_status(&view, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

/// The list's filters from the query a form kept (percent-encoded, as the page
/// wrote it).
fn params_of(back: &str) -> TodayParams {
    format!("/today?{back}")
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| Query::<TodayParams>::try_from_uri(&u).ok())
        .map(|Query(mut q)| {
            q.cursor = None;
            q.done = None;
            q
        })
        .unwrap_or_default()
}

/// The 400 page of a filter value the list does not take, in the user's language,
/// naming the parameter and the values it takes (as `/customers` and `/retention`
/// answer theirs).
fn bad_filter(signed: &SignedIn, param: &str, value: &str, allowed: String) -> PageError {
    super::customers::bad_filter_page(signed, "today.bad-filter", param, value, &allowed)
}

/// `POST /customers/{id}/next/{action}`: the customer page's card; back to the page.
pub(crate) async fn customer_action(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, ACTS, &f.csrf)?;
    match act(&s, &signed, &id, &action, &f).await {
        Ok(()) => Ok(see_other(format!(
            "/customers/{}?done={}#next-actions",
            urlencode(&id),
            done_word(&action)
        ))),
        Err(e) => match problem_text(&signed.tr, &e) {
            Some(message) => {
                let tr = signed.tr;
                let page = crate::auth::MessagePage {
                    tr,
                    me: Some(signed.me()),
                    title: tr.t("today.error.title"),
                    text: &message,
                };
                Ok(render_status(&page, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use serde_json::json;

    fn reason(key: &str, args: serde_json::Value) -> Reason {
        serde_json::from_value(json!({ "key": key, "args": args })).unwrap()
    }

    #[test]
    fn metrics_and_categories_in_the_page_language() {
        let (fi, en) = (Tr::new(Lang::Fi), Tr::new(Lang::En));
        let drop = |m: &str| {
            reason(
                "usage_drop",
                json!({"metric": m, "drop_pct": 50, "recent_per_week": 5.5,
                       "baseline_per_week": 11}),
            )
        };
        let s = sentence(&fi, &drop("logins"));
        assert!(s.contains("(kirjautumiset)") && s.contains("5,5"), "{s}");
        let s = sentence(&fi, &drop("active_users"));
        assert!(s.contains("(aktiiviset käyttäjät)"), "{s}");
        let s = sentence(&en, &drop("active_users"));
        assert!(s.contains("(active users)"), "{s}");
        let s = sentence(&en, &drop("api_calls"));
        assert!(s.contains("(api calls)") && !s.contains('_'), "{s}");
        // A case: a known category in words; an escalation's own category said once.
        let case = |category: &str, state: &str| {
            reason(
                "case",
                json!({"case_id": "c1", "category": category, "state": state}),
            )
        };
        assert_eq!(
            sentence(&fi, &case("bug", "breached")),
            "Tapaus c1 (ohjelmavirhe) on ylittänyt tavoiteaikansa"
        );
        assert_eq!(
            sentence(&fi, &case("escalation", "escalation")),
            "Eskaloitu tapaus c1 on auki"
        );
        assert_eq!(
            sentence(&en, &case("Kassajono", "escalation")),
            "Escalated case c1 (Kassajono) is open"
        );
    }
}
