//! Offers with a control group (issue 14; `kanta_core::offers`):
//!
//! - `GET /offers` (anyone signed in): every offer with its status, window and arms.
//! - `GET /offers/{id}`: the groups per tier, who was left out and why, redemptions,
//!   and the uplift per metric (offer against control, absolute and relative with 95%
//!   intervals, each interval drawn as a bar around zero), or "not enough data yet"
//!   with the customers per group the hoped effect needs.
//! - `GET /offers/{id}/send` (managers): the confirmation with the groups' sizes
//!   (the core's preview); `POST` sends (CSRF checked), 303 to the offer.
//! - `GET /offers/{id}/customers?arm=offer|control`: the customers behind a figure.
//! - `GET /offers/new` and `GET /offers/{id}/edit` (managers): the offer's form, every
//!   field labelled with its help (the audience a select, its value explained); `POST`
//!   (CSRF checked) saves a draft through `Core::save_offer` (Finnish money and dates,
//!   every rule of the core), 303 to the offer, or the form again with the input kept
//!   and each problem by its field (422). A sent offer cannot be edited (409).
//! - [`value_section`]: the value page's offers section (the lead places it).
//!
//! Offers are also made and edited through the generic entity API or import (the
//! core's write hook checks them).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use kanta_core::CoreError;
use kanta_core::offers::{OfferInput, OfferReport, OfferSent, OfferSummary};
use kanta_domain::Currency;
use kanta_models::uplift::{Interval, MetricComparison, NotYet};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::retention::{count, decimal, percent};
use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/offers", get(list))
        .route("/offers/new", get(new_form).post(create))
        .route("/offers/{id}", get(show))
        .route("/offers/{id}/edit", get(edit_form).post(update))
        .route("/offers/{id}/send", get(confirm).post(send))
        .route("/offers/{id}/customers", get(customers))
}

pub(crate) struct Row {
    id: String,
    name: String,
    status: String,
    channel: String,
    valid: String,
    offer: String,
    control: String,
    draft: bool,
}

#[derive(Template)]
#[template(path = "offers.html")]
pub(crate) struct OffersPage {
    tr: Tr,
    me: Option<Me>,
    manager: bool,
    rows: Vec<Row>,
}

pub(crate) struct MetricRow {
    key: &'static str,
    label: String,
    offer: String,
    control: String,
    diff: String,
    relative: String,
    /// An SVG bar of the interval around zero (numbers only, no user text).
    bar: String,
}

#[derive(Template)]
#[template(path = "offer.html")]
pub(crate) struct OfferPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    manager: bool,
    id: String,
    name: String,
    facts: String,
    text: Option<String>,
    notice: Option<String>,
    preview: Option<String>,
    sent: bool,
    groups: String,
    excluded: Vec<String>,
    tiers: Vec<(String, String, String)>,
    not_yet: Option<String>,
    metrics: Vec<MetricRow>,
    net: Option<String>,
}

#[derive(Template)]
#[template(path = "offer_customers.html")]
pub(crate) struct CustomersPage {
    tr: Tr,
    me: Option<Me>,
    id: String,
    name: String,
    heading: String,
    customers: Vec<String>,
}

pub(crate) struct ValueRow {
    id: String,
    name: String,
    offer: String,
    control: String,
    purchase: String,
    net: String,
}

#[derive(Template)]
#[template(path = "parts/offers_value.html")]
pub(crate) struct ValueSection<'a> {
    tr: &'a Tr,
    rows: Vec<ValueRow>,
}

fn word(tr: &Tr, prefix: &str, v: &str) -> String {
    tr.text_or(&format!("{prefix}.{v}"), v)
}

fn excluded_lines(tr: &Tr, ex: &[(String, i64)]) -> Vec<String> {
    ex.iter()
        .map(|(r, n)| {
            format!(
                "{}: {}",
                word(tr, "offers.excluded", r),
                count(tr, *n as u64)
            )
        })
        .collect()
}

fn points(tr: &Tr, x: f64) -> String {
    let s = decimal(tr, x * 100.0, 1);
    let sign = if x >= 0.0 { "+" } else { "" };
    format!("{sign}{s} {}", tr.t("offers.points"))
}

fn signed_money(tr: &Tr, minor: f64, c: Currency) -> String {
    tr.money(minor.round() as i64, c)
}

fn interval_text(i: &Interval, f: &dyn Fn(f64) -> String) -> String {
    format!("{} ({} … {})", f(i.estimate), f(i.low), f(i.high))
}

/// An interval as a horizontal bar on a scale symmetric around zero.
fn bar(i: Option<&Interval>) -> String {
    let Some(i) = i else {
        return String::new();
    };
    let span = i.low.abs().max(i.high.abs()).max(1e-12) * 1.1;
    let x = |v: f64| 100.0 + 90.0 * v / span;
    format!(
        "<svg width=\"200\" height=\"16\" viewBox=\"0 0 200 16\" role=\"img\" aria-hidden=\"true\">\
         <line x1=\"100\" y1=\"0\" x2=\"100\" y2=\"16\" stroke=\"#888\"/>\
         <rect x=\"{:.1}\" y=\"5\" width=\"{:.1}\" height=\"6\" fill=\"#1f5fa8\" opacity=\"0.5\"/>\
         <circle cx=\"{:.1}\" cy=\"8\" r=\"3\" fill=\"#1f5fa8\"/></svg>",
        x(i.low),
        (x(i.high) - x(i.low)).max(1.0),
        x(i.estimate)
    )
}

fn metric(
    tr: &Tr,
    key: &'static str,
    m: &MetricComparison,
    mean: &dyn Fn(f64) -> String,
    diff: &dyn Fn(f64) -> String,
) -> MetricRow {
    MetricRow {
        key,
        label: tr.t(&format!("offers.metric.{key}")).to_string(),
        offer: mean(m.offer.mean),
        control: mean(m.control.mean),
        diff: m
            .absolute
            .map_or("–".into(), |w| interval_text(&w.diff, diff)),
        relative: m.relative.map_or("–".into(), |r| {
            interval_text(&r, &|x| {
                let sign = if x >= 0.0 { "+" } else { "" };
                format!("{sign}{}", percent(tr, x, 1))
            })
        }),
        bar: bar(m.absolute.as_ref().map(|w| &w.diff)),
    }
}

fn tier_rows(tiers: &[kanta_core::offers::TierSplit]) -> Vec<(String, String, String)> {
    tiers
        .iter()
        .map(|t| (t.tier.clone(), t.offer.to_string(), t.control.to_string()))
        .collect()
}

fn facts(tr: &Tr, r: &OfferReport) -> String {
    let o = &r.offer;
    let mut s = format!(
        "{}: {} · {}: {} · {}: {} – {} · {}: {} %",
        tr.t("offers.status"),
        word(tr, "value.offers.status", &o.status),
        tr.t("offers.channel"),
        word(tr, "value.offers.channel", &o.channel),
        tr.t("offers.valid"),
        tr.day(&o.valid_from),
        tr.day(&o.valid_until),
        tr.t("offers.control"),
        o.control_percent
    );
    if let Some(c) = &o.code {
        s.push_str(&format!(" · {}: {c}", tr.t("offers.code")));
    }
    s
}

async fn page_of(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
    preview: Option<OfferSent>,
    notice: Option<String>,
) -> Result<OfferPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let r = s
        .core
        .offer_report(&acting, id)
        .await
        .map_err(core_error(signed))?;
    let currency: Currency = r.offer.currency.parse().unwrap_or(Currency::EUR);
    let text = match tr.lang {
        crate::i18n::Lang::Fi => r.offer.text_fi.clone().or(r.offer.text_en.clone()),
        _ => r.offer.text_en.clone().or(r.offer.text_fi.clone()),
    };
    let mut page = OfferPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        manager: signed.user.role >= Role::Manager,
        id: r.offer.id.clone(),
        name: r.offer.name.clone(),
        facts: facts(&tr, &r),
        text,
        notice,
        preview: None,
        sent: r.uplift.is_some(),
        groups: String::new(),
        excluded: excluded_lines(&tr, &r.excluded),
        tiers: tier_rows(&r.tiers),
        not_yet: None,
        metrics: Vec::new(),
        net: None,
        tr,
    };
    if let Some(p) = preview {
        page.preview = Some(
            tr.t("offers.preview")
                .replace("{considered}", &count(&tr, p.considered as u64))
                .replace("{offer}", &count(&tr, p.offer_arm as u64))
                .replace("{control}", &count(&tr, p.control_arm as u64)),
        );
        page.excluded = excluded_lines(&tr, &p.excluded);
        page.tiers = tier_rows(&p.tiers);
    }
    if let Some(u) = &r.uplift {
        page.groups = tr
            .t("offers.groups-text")
            .replace("{offer}", &count(&tr, u.n_offer))
            .replace("{control}", &count(&tr, u.n_control))
            .replace("{told}", &count(&tr, r.told as u64))
            .replace("{redemptions}", &count(&tr, r.redemptions as u64));
        page.not_yet = u.not_yet.map(|n| match n {
            NotYet::WindowOpen => tr
                .t("offers.not-yet.window")
                .replace("{date}", &tr.day(&r.offer.valid_until)),
            NotYet::TooFew => tr
                .t("offers.not-yet.few")
                .replace("{points}", &decimal(&tr, r.offer.hoped_points, 1))
                .replace("{n}", &count(&tr, u.needed_per_arm.unwrap_or(0))),
        });
        let money = |x: f64| signed_money(&tr, x, currency);
        page.metrics = vec![
            metric(
                &tr,
                "purchase",
                &u.purchase,
                &|x| percent(&tr, x, 1),
                &|x| points(&tr, x),
            ),
            metric(&tr, "orders", &u.orders, &|x| decimal(&tr, x, 2), &|x| {
                decimal(&tr, x, 2)
            }),
            metric(&tr, "revenue", &u.revenue, &money, &money),
        ];
        page.net = u.net_revenue.map(|n| {
            tr.t("offers.net-text")
                .replace("{cost}", &money(u.cost_per_member_minor))
                .replace("{net}", &interval_text(&n, &money))
        });
    }
    Ok(page)
}

/// `GET /offers`.
async fn list(State(s): State<AppState>, signed: SignedIn) -> Result<Response, PageError> {
    let tr = signed.tr;
    let rows = s
        .core
        .offers_list(&signed.acting())
        .await
        .map_err(core_error(&signed))?;
    let day = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|d| tr.day(&d))
            .unwrap_or_else(|_| d.to_string())
    };
    let rows = rows
        .into_iter()
        .map(|r| Row {
            valid: format!("{} – {}", day(&r.valid_from), day(&r.valid_until)),
            status: word(&tr, "value.offers.status", &r.status),
            channel: word(&tr, "value.offers.channel", &r.channel),
            offer: count(&tr, r.offer_members as u64),
            control: count(&tr, r.control_members as u64),
            draft: r.status == "draft",
            id: r.external_id,
            name: r.name,
        })
        .collect();
    Ok(render(&OffersPage {
        me: Some(signed.me()),
        manager: signed.user.role >= Role::Manager,
        rows,
        tr,
    }))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ShowParams {
    sent: Option<String>,
}

/// `GET /offers/{id}`.
async fn show(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ShowParams>,
) -> Result<Response, PageError> {
    let notice = q.sent.map(|_| signed.tr.t("offers.sent").to_string());
    Ok(render(&page_of(&s, &signed, &id, None, notice).await?))
}

/// `GET /offers/{id}/send`: the confirmation with the groups' sizes.
async fn confirm(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let p = s
        .core
        .preview_offer(&signed.acting(), &id)
        .await
        .map_err(core_error(&signed))?;
    Ok(render(&page_of(&s, &signed, &id, Some(p), None).await?))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct SendForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /offers/{id}/send`.
async fn send(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<SendForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, &f.csrf)?;
    s.core
        .send_offer(&signed.acting(), &id, None)
        .await
        .map_err(core_error(&signed))?;
    Ok(see_other(format!("/offers/{}?sent=1", url_escape(&id))))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ArmParams {
    arm: Option<String>,
}

/// `GET /offers/{id}/customers?arm=offer|control`.
async fn customers(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ArmParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let arm = if q.arm.as_deref() == Some("control") {
        "control"
    } else {
        "offer"
    };
    let (view, customers) = s
        .core
        .offer_arm_customers(&signed.acting(), &id, arm)
        .await
        .map_err(core_error(&signed))?;
    Ok(render(&CustomersPage {
        me: Some(signed.me()),
        heading: tr.t(&format!("offers.arm.{arm}")).to_string(),
        id: view.id,
        name: view.name,
        customers,
        tr,
    }))
}

/// The value page's offers section: every sent offer with its arms (each a link to
/// its customers) and the purchase rate's difference and net revenue per customer
/// with their 95% intervals, or "not enough data yet". HTML escaped by its template.
pub fn value_section(tr: &Tr, offers: &[OfferSummary]) -> String {
    let rows = offers
        .iter()
        .map(|o| {
            let currency: Currency = o.currency.parse().unwrap_or(Currency::EUR);
            let not_yet = o.not_yet.map(|_| tr.t("offers.value.not-yet").to_string());
            ValueRow {
                id: o.id.clone(),
                name: o.name.clone(),
                offer: count(tr, o.n_offer),
                control: count(tr, o.n_control),
                purchase: match (&not_yet, o.purchase) {
                    (Some(n), _) => n.clone(),
                    (None, Some(p)) => interval_text(&p, &|x| points(tr, x)),
                    _ => "–".into(),
                },
                net: match (&not_yet, o.net_revenue) {
                    (Some(n), _) => n.clone(),
                    (None, Some(p)) => interval_text(&p, &|x| signed_money(tr, x, currency)),
                    _ => "–".into(),
                },
            }
        })
        .collect();
    ValueSection { tr, rows }.render().unwrap_or_default()
}

// ---------------------------------------------------------------- the form

/// One field of the offer form.
pub(crate) struct FormField {
    key: &'static str,
    label: String,
    help: String,
    /// `text`, `textarea` or `select`.
    kind: &'static str,
    inputmode: &'static str,
    value: String,
    choices: Vec<(String, String)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "offer_form.html")]
pub(crate) struct OfferFormPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    title: String,
    back: String,
    back_label: String,
    action: String,
    locked: bool,
    fields: Vec<FormField>,
    /// Every problem (any shown by its field too).
    errors: Vec<String>,
    /// Problems of no field of the form.
    general: Vec<String>,
}

/// The form's fields in order: (key, kind, inputmode).
const FORM_FIELDS: &[(&str, &str, &str)] = &[
    ("name", "text", "text"),
    ("text_fi", "textarea", "text"),
    ("text_en", "textarea", "text"),
    ("channel", "select", "text"),
    ("audience", "select", "text"),
    ("audience_value", "textarea", "text"),
    ("valid_from", "text", "numeric"),
    ("valid_until", "text", "numeric"),
    ("cost_per_redemption", "text", "decimal"),
    ("code", "text", "text"),
    ("control_percent", "text", "numeric"),
    ("hoped_points", "text", "decimal"),
    ("seed", "text", "numeric"),
];

fn input_value<'a>(i: &'a OfferInput, key: &str) -> &'a str {
    match key {
        "name" => &i.name,
        "text_fi" => &i.text_fi,
        "text_en" => &i.text_en,
        "channel" => &i.channel,
        "audience" => &i.audience,
        "audience_value" => &i.audience_value,
        "valid_from" => &i.valid_from,
        "valid_until" => &i.valid_until,
        "cost_per_redemption" => &i.cost_per_redemption,
        "code" => &i.code,
        "control_percent" => &i.control_percent,
        "hoped_points" => &i.hoped_points,
        _ => &i.seed,
    }
}

/// The form's texts as the core takes them (unknown names ignored).
fn input_of(form: &std::collections::HashMap<String, String>) -> OfferInput {
    let g = |k: &str| form.get(k).cloned().unwrap_or_default();
    OfferInput {
        name: g("name"),
        text_fi: g("text_fi"),
        text_en: g("text_en"),
        channel: g("channel"),
        audience: g("audience"),
        audience_value: g("audience_value"),
        valid_from: g("valid_from"),
        valid_until: g("valid_until"),
        cost_per_redemption: g("cost_per_redemption"),
        code: g("code"),
        control_percent: g("control_percent"),
        hoped_points: g("hoped_points"),
        seed: g("seed"),
    }
}

fn form_page(
    signed: &SignedIn,
    id: Option<&str>,
    input: &OfferInput,
    problems: &[kanta_core::Problem],
    locked: bool,
) -> OfferFormPage {
    let tr = signed.tr;
    let error_of = |key: &str| {
        let reasons: Vec<&str> = problems
            .iter()
            .filter(|p| p.field == key)
            .map(|p| p.reason.as_str())
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    let choices = |key: &str| -> Vec<(String, String)> {
        match key {
            "channel" => kanta_domain::schema::OFFER_CHANNELS
                .iter()
                .map(|c| (c.to_string(), word(&tr, "value.offers.channel", c)))
                .collect(),
            "audience" => kanta_domain::schema::OFFER_AUDIENCES
                .iter()
                .map(|c| (c.to_string(), word(&tr, "offers.audience", c)))
                .collect(),
            _ => Vec::new(),
        }
    };
    let fields = FORM_FIELDS
        .iter()
        .map(|(key, kind, inputmode)| FormField {
            key,
            label: tr.t(&format!("offers.field.{key}")).to_string(),
            help: tr.t(&format!("offers.field.{key}.help")).to_string(),
            kind,
            inputmode,
            value: input_value(input, key).to_string(),
            choices: choices(key),
            error: error_of(key),
        })
        .collect();
    let general = problems
        .iter()
        .filter(|p| !FORM_FIELDS.iter().any(|(k, _, _)| *k == p.field))
        .map(|p| format!("{}: {}", p.field, p.reason))
        .collect();
    let (title, back, back_label, action) = match id {
        Some(id) => (
            tr.t("offers.form.edit-title").to_string(),
            format!("/offers/{}", url_escape(id)),
            input.name.clone(),
            format!("/offers/{}/edit", url_escape(id)),
        ),
        None => (
            tr.t("offers.form.new-title").to_string(),
            "/offers".to_string(),
            tr.t("offers.title").to_string(),
            "/offers/new".to_string(),
        ),
    };
    OfferFormPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        title,
        back,
        back_label,
        action,
        locked,
        fields,
        errors: problems.iter().map(|p| p.reason.clone()).collect(),
        general,
        tr,
    }
}

/// After `Core::save_offer`: 303 to the offer, or the form again (422 with the
/// problems, 409 when the offer was sent).
fn saved(
    signed: &SignedIn,
    id: Option<&str>,
    input: &OfferInput,
    r: Result<kanta_core::offers::OfferView, CoreError>,
) -> Result<Response, PageError> {
    match r {
        Ok(v) => Ok(see_other(format!("/offers/{}", url_escape(&v.id)))),
        Err(CoreError::Invalid(problems)) => Ok(render_status(
            &form_page(signed, id, input, &problems, false),
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(CoreError::Conflict { .. }) => Ok(render_status(
            &form_page(signed, id, input, &[], true),
            axum::http::StatusCode::CONFLICT,
        )),
        Err(e) => Err(core_error(signed)(e)),
    }
}

/// `GET /offers/new`: an empty form (control share 20, hoped effect 5 points).
async fn new_form(signed: SignedIn) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let input = OfferInput {
        channel: "email".into(),
        audience: "everyone".into(),
        control_percent: "20".into(),
        hoped_points: "5".into(),
        ..Default::default()
    };
    Ok(render(&form_page(&signed, None, &input, &[], false)))
}

/// `POST /offers/new`.
async fn create(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    form_allowed(
        &signed,
        Role::Manager,
        f.get("csrf").map(String::as_str).unwrap_or(""),
    )?;
    let input = input_of(&f);
    let r = s.core.save_offer(&signed.acting(), None, &input).await;
    saved(&signed, None, &input, r)
}

/// `GET /offers/{id}/edit`: the draft's form (a sent offer: 409, it cannot be edited).
async fn edit_form(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let v = s
        .core
        .offer(&signed.acting(), &id)
        .await
        .map_err(core_error(&signed))?;
    let input = OfferInput::of_view(&v);
    if v.status != "draft" {
        return Ok(render_status(
            &form_page(&signed, Some(&id), &input, &[], true),
            axum::http::StatusCode::CONFLICT,
        ));
    }
    Ok(render(&form_page(&signed, Some(&id), &input, &[], false)))
}

/// `POST /offers/{id}/edit`.
async fn update(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    form_allowed(
        &signed,
        Role::Manager,
        f.get("csrf").map(String::as_str).unwrap_or(""),
    )?;
    let input = input_of(&f);
    let r = s.core.save_offer(&signed.acting(), Some(&id), &input).await;
    saved(&signed, Some(&id), &input, r)
}
