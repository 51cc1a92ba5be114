//! The value page (`/value`, every signed-in role) and the customers behind its figures
//! (`/value/customers`).
//!
//! - `/value`: the newest profitability pass (`Core::value_summary`, read from the
//!   stored pass only): revenue, gross margin, cost to serve, margin after cost to serve,
//!   expected future margin and the unprofitable count, each a link to its customers;
//!   the margin distribution and the cost to serve by component as charts with tables
//!   (each bar a link); the unprofitable list with each customer's reasons in words.
//!   Offers' uplift (issue 14 slice B) and retention economics (slice D) have their
//!   places: [`offers_section`] and [`economics_section`]. A manager's "Refresh now"
//!   (`POST /value/refresh`, CSRF-checked) runs the pass as of yesterday.
//! - `/value/customers?show=&sort=&page=`: the customers of a figure (`show`: all,
//!   unprofitable, negative, interactions, cases, compensations, offers, goods, bin-K),
//!   50 a page, each with its figures and, when the margin is negative, its reasons.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use kanta_core::profit::{ProfitCustomer, ProfitQuery, parse_filter, parse_sort};
use kanta_domain::Currency;
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::retention::count;
use super::{PageError, core_error, form_allowed, render, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{BarChart, BarSeries, ChartOptions, NumberFormat};
use crate::i18n::{Lang, Tr};
use crate::render::urlencode;

/// The least role that runs the pass from the page.
pub(crate) const REFRESHES: Role = Role::Manager;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/value", get(page))
        .route("/value/customers", get(customers))
        .route("/value/refresh", post(refresh))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    refreshed: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RefreshForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListParams {
    show: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

/// A headline figure with the link to its customers.
pub(crate) struct Figure {
    id: &'static str,
    label: String,
    value: String,
    href: String,
    negative: bool,
}

/// A row of the bins' or components' table.
pub(crate) struct BarRow {
    label: String,
    value: String,
    customers: String,
    href: String,
}

/// One order the drill-down offers.
pub(crate) struct SortLink {
    href: String,
    label: String,
    current: bool,
}

/// A customer's row of a list.
pub(crate) struct CustomerRow {
    id: String,
    name: String,
    revenue: String,
    gross_margin: String,
    cost_to_serve: String,
    margin_after: String,
    expected: String,
    negative: bool,
    unprofitable: bool,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "value.html")]
pub(crate) struct ValuePage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_refresh: bool,
    notice: Option<String>,
    /// "as of DAY, run at TIME (N customers)", or none before the first pass.
    run_text: Option<String>,
    figures: Vec<Figure>,
    bins_svg: String,
    bins: Vec<BarRow>,
    components_svg: String,
    components: Vec<BarRow>,
    /// The unprofitable list (`parts/value_rows.html` reads `rows`).
    rows: Vec<CustomerRow>,
    unprofitable_total: String,
    offers_html: String,
    economics_html: String,
}

#[derive(Template)]
#[template(path = "value_customers.html")]
pub(crate) struct ValueCustomersPage {
    tr: Tr,
    me: Option<Me>,
    heading: String,
    total: String,
    as_of: String,
    rows: Vec<CustomerRow>,
    sorts: Vec<SortLink>,
    prev: Option<String>,
    next: Option<String>,
}

fn options(tr: &Tr, id: &str, title: &str) -> ChartOptions {
    ChartOptions::new(id, title)
        .decimal_comma(tr.lang == Lang::Fi)
        .empty_text(tr.t("value.no-run"))
}

fn money(tr: &Tr, minor: i64, c: Currency) -> String {
    tr.money(minor, c)
}

/// A margin bin as words: "below -1 000 €", "-100 € … -10 €", "1 000 € or more".
fn bin_label(tr: &Tr, lo: Option<i64>, hi: Option<i64>, c: Currency) -> String {
    let short = |m: i64| {
        let major = m / 10i64.pow(c.minor_digits());
        let n = crate::charts::localize(major.abs().to_string(), tr.lang == Lang::Fi);
        let sign = if major < 0 { "−" } else { "" };
        match tr.lang {
            Lang::Fi => format!("{sign}{n}\u{a0}{}", c.symbol()),
            Lang::En => format!("{sign}{}{n}", c.symbol()),
        }
    };
    match (lo, hi) {
        (None, Some(h)) => tr.t("value.bin.below").replace("{hi}", &short(h)),
        (Some(l), None) => tr.t("value.bin.above").replace("{lo}", &short(l)),
        (Some(l), Some(h)) => format!("{} … {}", short(l), short(h)),
        (None, None) => String::new(),
    }
}

pub(crate) fn customer_row(tr: &Tr, c: &ProfitCustomer, cur: Currency) -> CustomerRow {
    let p = &c.row.profit;
    CustomerRow {
        id: c.row.external_id.clone(),
        name: c
            .row
            .name
            .clone()
            .unwrap_or_else(|| c.row.external_id.clone()),
        revenue: money(tr, p.revenue_minor, cur),
        gross_margin: money(tr, p.gross_margin_minor, cur),
        cost_to_serve: money(tr, p.cost_to_serve_minor, cur),
        margin_after: money(tr, p.margin_after_minor, cur),
        expected: p
            .expected_margin_minor
            .map_or_else(|| "–".into(), |e| money(tr, e, cur)),
        negative: p.margin_after_minor < 0,
        unprofitable: p.unprofitable,
        reasons: c
            .reasons
            .iter()
            .map(|r| r.words(tr.lang == Lang::Fi, cur))
            .collect(),
    }
}

/// The offers' uplift on the value page (`pages::offers::value_section`).
async fn offers_section(s: &AppState, signed: &SignedIn) -> Result<String, PageError> {
    let offers = s.core.offers_overview(&signed.acting()).await?;
    Ok(crate::pages::offers::value_section(&signed.tr, &offers))
}

/// The retention economics on the value page (`pages::value_economics`).
async fn economics_section(s: &AppState, signed: &SignedIn) -> Result<String, PageError> {
    let e = s.core.retention_economics(&signed.acting()).await?;
    Ok(crate::pages::value_economics::section(&signed.tr, &e))
}

/// `GET /value`.
pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let v = s
        .core
        .value_summary(&acting)
        .await
        .map_err(core_error(&signed))?;
    let cur: Currency = v.currency.parse().unwrap_or(Currency::EUR);
    let t = &v.totals;
    let figures = if v.run.is_some() {
        let m = |minor: i64| (money(&tr, minor, cur), minor < 0);
        let n = |k: i64, alarm: bool| (count(&tr, k.max(0) as u64), alarm && k > 0);
        // (id, label key, (value, shown as negative), show, sort) of each figure; each
        // links to the customers behind it.
        [
            (
                "revenue",
                "value.revenue",
                (m(t.revenue_minor).0, false),
                "all",
                "revenue",
            ),
            (
                "gross-margin",
                "value.gross-margin",
                m(t.gross_margin_minor),
                "goods",
                "revenue",
            ),
            (
                "cost-to-serve",
                "value.cost-to-serve",
                (m(t.cost_to_serve_minor).0, false),
                "all",
                "cost",
            ),
            (
                "margin-after",
                "value.margin-after",
                m(t.margin_after_minor),
                "all",
                "margin",
            ),
            (
                "negative",
                "value.negative-count",
                n(t.negative_margin, false),
                "negative",
                "margin",
            ),
            (
                "expected",
                "value.expected",
                m(t.expected_margin_minor),
                "all",
                "margin",
            ),
            (
                "unprofitable-count",
                "value.unprofitable-count",
                n(t.unprofitable, true),
                "unprofitable",
                "margin",
            ),
        ]
        .into_iter()
        .map(|(id, key, (value, negative), show, sort)| Figure {
            id,
            label: tr.t(key).into(),
            value,
            href: format!("/value/customers?show={show}&sort={sort}"),
            negative,
        })
        .collect()
    } else {
        Vec::new()
    };

    let bin_labels: Vec<String> = v
        .bins
        .iter()
        .map(|b| bin_label(&tr, b.lo_minor, b.hi_minor, cur))
        .collect();
    let bin_links: Vec<Option<String>> = v
        .bins
        .iter()
        .map(|b| Some(format!("/value/customers?show=bin-{}", b.index)))
        .collect();
    let bins_svg = BarChart::new(
        options(&tr, "value-margins", tr.t("value.margins.title"))
            .size(640.0, 260.0)
            .y_format(NumberFormat::Fixed(0))
            .y_label(tr.t("value.customers"))
            .x_label(tr.t("value.margin-after")),
        bin_labels.clone(),
    )
    .series(
        BarSeries::new(
            tr.t("value.customers"),
            v.bins.iter().map(|b| b.customers as f64),
        )
        .links(bin_links.clone()),
    )
    .render();
    let bins = v
        .bins
        .iter()
        .zip(bin_labels)
        .map(|(b, label)| BarRow {
            label,
            value: String::new(),
            customers: count(&tr, b.customers.max(0) as u64),
            href: format!("/value/customers?show=bin-{}", b.index),
        })
        .collect();

    let comp_labels: Vec<String> = v
        .components
        .iter()
        .map(|c| tr.t(&format!("value.component.{}", c.key)).to_string())
        .collect();
    let unit = 10f64.powi(cur.minor_digits() as i32);
    let components_svg = BarChart::new(
        options(&tr, "value-components", tr.t("value.components.title"))
            .size(640.0, 260.0)
            .y_format(NumberFormat::Fixed(0))
            .y_label(&format!(
                "{} ({})",
                tr.t("value.cost-to-serve"),
                cur.symbol()
            )),
        comp_labels.clone(),
    )
    .series(
        BarSeries::new(
            tr.t("value.cost-to-serve"),
            v.components.iter().map(|c| c.cost_minor as f64 / unit),
        )
        .links(
            v.components
                .iter()
                .map(|c| Some(format!("/value/customers?show={}&sort=cost", c.key))),
        ),
    )
    .render();
    let components = v
        .components
        .iter()
        .zip(comp_labels)
        .map(|(c, label)| BarRow {
            label,
            value: money(&tr, c.cost_minor, cur),
            customers: count(&tr, c.customers.max(0) as u64),
            href: format!("/value/customers?show={}&sort=cost", c.key),
        })
        .collect();

    let run_text = v.run.as_ref().map(|r| {
        tr.t("value.run")
            .replace("{as_of}", &tr.day(&r.as_of))
            .replace("{at}", &tr.date_time(&r.ran_at))
            .replace("{customers}", &count(&tr, r.customers.max(0) as u64))
    });
    let notice = q.refreshed.map(|n| {
        tr.t("value.refreshed")
            .replace("{customers}", &count(&tr, n as u64))
    });
    let view = ValuePage {
        tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_refresh: signed.user.role >= REFRESHES,
        notice,
        run_text,
        figures,
        bins_svg,
        bins,
        components_svg,
        components,
        rows: v
            .unprofitable
            .iter()
            .map(|c| customer_row(&tr, c, cur))
            .collect(),
        unprofitable_total: count(&tr, t.unprofitable.max(0) as u64),
        offers_html: offers_section(&s, &signed).await?,
        economics_html: economics_section(&s, &signed).await?,
    };
    Ok(render(&view))
}

fn bad(signed: &SignedIn, message: String) -> PageError {
    PageError::Page(Box::new(crate::render::error_page(
        signed.tr,
        Some(signed.me()),
        StatusCode::BAD_REQUEST,
        &message,
    )))
}

/// `GET /value/customers`.
pub(crate) async fn customers(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<ListParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let cur = s.core.currency().await?;
    let show = q.show.as_deref().unwrap_or("all").trim().to_string();
    let sort_text = q.sort.as_deref().unwrap_or("margin").trim().to_string();
    let filter = parse_filter(&show, cur).map_err(|e| bad(&signed, e.to_string()))?;
    let sort = parse_sort(&sort_text).map_err(|e| bad(&signed, e.to_string()))?;
    let page: i64 = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => 0,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000).contains(n))
            .ok_or_else(|| {
                bad(
                    &signed,
                    format!(
                        "page: '{}' is not a page number",
                        crate::errors::short(p, 40)
                    ),
                )
            })?,
    };
    let r = s
        .core
        .profit_customers(&signed.acting(), &ProfitQuery { filter, sort, page })
        .await
        .map_err(core_error(&signed))?;
    let cur: Currency = r.currency.parse().unwrap_or(cur);
    let base = format!(
        "/value/customers?show={}&sort={}",
        urlencode(&show),
        urlencode(&sort_text)
    );
    let heading = if let Some(k) = show.strip_prefix("bin-") {
        let edges = kanta_core::profit::margin_edges(cur);
        let k: usize = k.parse().unwrap_or(0);
        format!(
            "{}: {}",
            tr.t("value.margin-after"),
            bin_label(
                &tr,
                k.checked_sub(1).and_then(|i| edges.get(i).copied()),
                edges.get(k).copied(),
                cur
            )
        )
    } else {
        tr.text_or(&format!("value.show.{show}"), &show)
    };
    let sorts = ["margin", "cost", "revenue"]
        .iter()
        .map(|k| SortLink {
            href: format!("/value/customers?show={}&sort={k}", urlencode(&show)),
            label: tr.t(&format!("value.sort.{k}")).to_string(),
            current: *k == sort_text,
        })
        .collect();
    let view = ValueCustomersPage {
        tr,
        me: Some(signed.me()),
        heading,
        total: count(&tr, r.total.max(0) as u64),
        as_of: r.as_of.map(|d| tr.day(&d)).unwrap_or_default(),
        rows: r.rows.iter().map(|c| customer_row(&tr, c, cur)).collect(),
        sorts,
        prev: (r.page > 0).then(|| format!("{base}&page={}", r.page - 1)),
        next: ((r.page + 1) * r.per_page < r.total).then(|| format!("{base}&page={}", r.page + 1)),
    };
    Ok(render(&view))
}

/// `POST /value/refresh`: a manager runs the pass as of yesterday.
pub(crate) async fn refresh(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<RefreshForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, REFRESHES, &f.csrf)?;
    let run = s
        .core
        .run_profitability(&signed.acting(), None)
        .await
        .map_err(core_error(&signed))?;
    Ok(see_other(format!("/value?refreshed={}", run.customers)))
}
