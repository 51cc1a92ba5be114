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
//! - [`value_section`]: the value page's offers section (the lead places it).
//!
//! Offers are made and edited through the generic entity API or import (the core's
//! write hook checks them); a form for new offers on this page is still to come.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use kanta_core::offers::{OfferReport, OfferSent, OfferSummary};
use kanta_domain::Currency;
use kanta_models::uplift::{Interval, MetricComparison, NotYet};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::retention::{count, decimal, percent};
use super::{PageError, core_error, form_allowed, render, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/offers", get(list))
        .route("/offers/{id}", get(show))
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
