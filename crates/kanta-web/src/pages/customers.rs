//! The customer list: search by name, email or id; filters by segment, status, tier
//! and kind; a sort; pages of 50. Orders, refunds and revenue are the core's figures
//! of each row (`CustomerFigures::of_summary`), the same as the customer page's, in
//! the store's currency.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kanta_core::figures::CustomerFigures;
use kanta_domain::Currency;
use kanta_domain::schema::{CUSTOMER_KINDS, CUSTOMER_STATUSES, TIERS};
use kanta_store::records::{CustomerFilter, CustomerSort, CustomerSummary};
use serde::Deserialize;

use super::{PageError, render, store_currency, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

const PAGE: u32 = 50;

/// The list's query string; every part optional.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListParams {
    search: Option<String>,
    segment: Option<String>,
    status: Option<String>,
    tier: Option<String>,
    kind: Option<String>,
    sort: Option<String>,
    offset: Option<u64>,
}

impl ListParams {
    fn get(v: &Option<String>) -> &str {
        v.as_deref().map_or("", str::trim)
    }

    /// A filter value, when given and one of `allowed` (an unknown word is ignored
    /// rather than matching nothing).
    fn choice(v: &Option<String>, allowed: &[&str]) -> Option<String> {
        let v = Self::get(v);
        allowed.contains(&v).then(|| v.to_string())
    }

    fn filter(&self) -> CustomerFilter {
        let text = |v: &Option<String>| Some(Self::get(v).to_string()).filter(|s| !s.is_empty());
        CustomerFilter {
            search: text(&self.search),
            segment: text(&self.segment),
            status: Self::choice(&self.status, CUSTOMER_STATUSES),
            tier: Self::choice(&self.tier, TIERS),
            kind: Self::choice(&self.kind, CUSTOMER_KINDS),
            sort: CustomerSort::parse(Self::get(&self.sort)).unwrap_or(CustomerSort::Name),
            limit: PAGE,
            offset: self.offset.unwrap_or(0),
        }
    }
}

/// One option of a filter's select.
pub(crate) struct Choice {
    value: &'static str,
    label: String,
    selected: bool,
}

fn choices(tr: &Tr, words: &[&'static str], chosen: Option<&str>, key: &str) -> Vec<Choice> {
    words
        .iter()
        .map(|w| Choice {
            value: w,
            label: if key.is_empty() {
                tr.value(w)
            } else {
                tr.t(&format!("{key}{w}")).to_string()
            },
            selected: chosen == Some(*w),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "customers.html")]
pub(crate) struct CustomersPage {
    tr: Tr,
    me: Option<Me>,
    search: String,
    segment: String,
    statuses: Vec<Choice>,
    tiers: Vec<Choice>,
    kinds: Vec<Choice>,
    sorts: Vec<Choice>,
    /// Customers matching the filters, on all pages.
    total: u64,
    rows: Vec<Row>,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    /// Filters beyond the default: offer to clear them.
    filtered: bool,
}

/// One customer of the list with their figures.
pub(crate) struct Row {
    c: CustomerSummary,
    orders: i64,
    refunds: i64,
    revenue: String,
}

fn row(tr: &Tr, c: CustomerSummary, currency: Currency) -> Row {
    let f = CustomerFigures::of_summary(&c, currency.code());
    Row {
        orders: f.orders,
        refunds: f.refunds,
        revenue: tr.money(f.revenue_minor, currency),
        c,
    }
}

/// The query string of the same list at another offset.
fn link(f: &CustomerFilter, sort: &str, offset: u64) -> String {
    let mut s = format!("/customers?offset={offset}");
    for (k, v) in [
        ("search", &f.search),
        ("segment", &f.segment),
        ("status", &f.status),
        ("tier", &f.tier),
        ("kind", &f.kind),
    ] {
        if let Some(v) = v {
            s.push_str(&format!("&{k}={}", urlencode(v)));
        }
    }
    if !sort.is_empty() {
        s.push_str(&format!("&sort={}", urlencode(sort)));
    }
    s
}

pub(crate) async fn list(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<ListParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let filter = q.filter();
    let (page, currency) = tokio::try_join!(
        async { Ok(s.store.customers(&filter).await?) },
        store_currency(&s)
    )?;
    let sort = CustomerSort::NAMES
        .iter()
        .copied()
        .find(|n| CustomerSort::parse(n) == Some(filter.sort))
        .unwrap_or("name");
    let limit = u64::from(filter.limit);
    let prev =
        (filter.offset > 0).then(|| link(&filter, sort, filter.offset.saturating_sub(limit)));
    let next =
        (filter.offset + limit < page.total).then(|| link(&filter, sort, filter.offset + limit));
    let shown = page.customers.len() as u64;
    let view = CustomersPage {
        me: Some(signed.me()),
        search: ListParams::get(&q.search).to_string(),
        segment: ListParams::get(&q.segment).to_string(),
        statuses: choices(&tr, CUSTOMER_STATUSES, filter.status.as_deref(), ""),
        tiers: choices(&tr, TIERS, filter.tier.as_deref(), ""),
        kinds: choices(&tr, CUSTOMER_KINDS, filter.kind.as_deref(), ""),
        sorts: choices(&tr, CustomerSort::NAMES, Some(sort), "customers.sort."),
        first: if shown == 0 { 0 } else { filter.offset + 1 },
        last: filter.offset + shown,
        filtered: filter.search.is_some()
            || filter.segment.is_some()
            || filter.status.is_some()
            || filter.tier.is_some()
            || filter.kind.is_some(),
        total: page.total,
        rows: page
            .customers
            .into_iter()
            .map(|c| row(&tr, c, currency))
            .collect(),
        prev,
        next,
        tr,
    };
    Ok(render(&view))
}
