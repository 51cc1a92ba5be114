//! The customer list: search by name, email or id (`%`, `_` and `\` are themselves);
//! filters by segment, status, tier, kind, trust balance (`trust=deficit`: the accounts
//! in trust deficit, one click from the filter bar), open cases, and the newest model
//! run's CLV, P(alive) and renewal probability; a sort; pages of 50. Orders, refunds,
//! revenue (orders net of refunds plus subscriptions billed) and the subscription
//! (plan, MRR, next renewal) are the core's figures of each row
//! (`CustomerFigures::of_summary`), the same as the customer page's, in the store's
//! currency. A filter value the list does not know is refused with a 400 page naming
//! the parameter and the values it takes.
//!
//! Owners (issue 12): `owner=me` shows "my customers" (the staff row of the signed-in
//! user's email; a user without one owns nobody), `owner=none` those without an owner,
//! `owner=<staff id>` one staff member's; each row names its owner and shows the
//! health score with its change over 30 days; `sort=health` puts the least healthy
//! first (`customers_health_score_idx`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::figures::CustomerFigures;
use kanta_domain::schema::{CUSTOMER_KINDS, CUSTOMER_STATUSES, TIERS};
use kanta_domain::{Currency, Decimal};
use kanta_store::records::{
    CustomerFilter, CustomerSort, CustomerSummary, OwnerFilter, TrustFilter,
};
use serde::Deserialize;

use super::{PageError, render, store_currency, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

const PAGE: u32 = 50;

/// The list's query string; every part optional. Read as texts, so that a bad value
/// (`offset=-1`, `tier=Z`) is refused by name rather than by the extractor.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListParams {
    search: Option<String>,
    segment: Option<String>,
    status: Option<String>,
    tier: Option<String>,
    kind: Option<String>,
    trust: Option<String>,
    cases: Option<String>,
    clv_min: Option<String>,
    p_alive_below: Option<String>,
    renewal_below: Option<String>,
    /// `me`, `none`, a staff member's id; empty or `all`: anyone's.
    owner: Option<String>,
    sort: Option<String>,
    offset: Option<String>,
}

/// Open cases filter values.
pub(crate) const CASES: &[&str] = &["open", "none"];
/// The thresholds the probability filters offer (any value in 0..1 is taken).
const BELOW: &[&str] = &["0.2", "0.5", "0.8"];

/// A refused filter value: the parameter, the value, and what it takes.
#[derive(Debug)]
pub(crate) struct BadParam {
    pub param: &'static str,
    pub value: String,
    pub allowed: String,
}

impl BadParam {
    fn new(param: &'static str, value: &str, allowed: impl Into<String>) -> BadParam {
        let value: String = value.chars().take(60).collect();
        BadParam {
            param,
            value,
            allowed: allowed.into(),
        }
    }
}

/// A probability given as `0.5`, `0,5` or `50%`, within 0..1.
pub(crate) fn probability(text: &str) -> Option<f64> {
    let t = text.trim().replace(',', ".");
    let (t, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim().to_string(), 100.0),
        None => (t, 1.0),
    };
    let v: f64 = t.parse().ok()?;
    let v = v / scale;
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

impl ListParams {
    fn get(v: &Option<String>) -> &str {
        v.as_deref().map_or("", str::trim)
    }

    /// A filter value, when given: one of `allowed`, or refused.
    fn choice(
        v: &Option<String>,
        param: &'static str,
        allowed: &[&str],
    ) -> Result<Option<String>, BadParam> {
        let v = Self::get(v);
        if v.is_empty() {
            return Ok(None);
        }
        if allowed.contains(&v) {
            Ok(Some(v.to_string()))
        } else {
            Err(BadParam::new(param, v, allowed.join(", ")))
        }
    }

    /// The owner filter: `me` is `my_staff` (the signed-in user's staff row; `None`
    /// when they have none, so the list is empty).
    fn owner(&self, my_staff: Option<&str>) -> Option<OwnerFilter> {
        match Self::get(&self.owner) {
            "" | "all" => None,
            "me" => Some(OwnerFilter::Staff(my_staff.unwrap_or("").to_string())),
            "none" => Some(OwnerFilter::Unowned),
            id => Some(OwnerFilter::Staff(id.to_string())),
        }
    }

    fn filter(&self, currency: Currency) -> Result<CustomerFilter, BadParam> {
        let text = |v: &Option<String>| Some(Self::get(v).to_string()).filter(|s| !s.is_empty());
        let sort = match Self::get(&self.sort) {
            "" => CustomerSort::Name,
            s => CustomerSort::parse(s)
                .ok_or_else(|| BadParam::new("sort", s, CustomerSort::NAMES.join(", ")))?,
        };
        let offset = match Self::get(&self.offset) {
            "" => 0,
            o => o
                .parse::<u64>()
                .map_err(|_| BadParam::new("offset", o, "0, 1, 2, ..."))?,
        };
        let trust = match Self::get(&self.trust) {
            "" => None,
            t => Some(
                TrustFilter::parse(t)
                    .ok_or_else(|| BadParam::new("trust", t, TrustFilter::NAMES.join(", ")))?,
            ),
        };
        let open_cases = Self::choice(&self.cases, "cases", CASES)?.map(|c| c == "open");
        let clv_min_minor = match Self::get(&self.clv_min) {
            "" => None,
            m => Some(
                Decimal::parse(m)
                    .ok()
                    .and_then(|d| d.to_minor(currency).ok())
                    .ok_or_else(|| BadParam::new("clv_min", m, "an amount (1000, 1 000,50)"))?,
            ),
        };
        let prob = |v: &Option<String>, param: &'static str| match Self::get(v) {
            "" => Ok(None),
            p => probability(p)
                .map(Some)
                .ok_or_else(|| BadParam::new(param, p, "0..1 (0.5) or 0..100% (50%)")),
        };
        Ok(CustomerFilter {
            search: text(&self.search),
            segment: text(&self.segment),
            status: Self::choice(&self.status, "status", CUSTOMER_STATUSES)?,
            tier: Self::choice(&self.tier, "tier", TIERS)?,
            kind: Self::choice(&self.kind, "kind", CUSTOMER_KINDS)?,
            trust,
            open_cases,
            clv_min_minor,
            p_alive_below: prob(&self.p_alive_below, "p_alive_below")?,
            renewal_below: prob(&self.renewal_below, "renewal_below")?,
            owner: None,
            sort,
            limit: PAGE,
            offset,
        })
    }
}

/// One option of a filter's select.
pub(crate) struct Choice {
    value: &'static str,
    label: String,
    selected: bool,
}

/// A share as a whole percent (`50 %` in Finnish, `50%` in English).
fn percent(tr: &Tr, v: f64) -> String {
    crate::pages::retention::percent(tr, v.clamp(0.0, 1.0), 0)
}

/// The probability thresholds as choices (`< 50 %`).
fn below_choices(tr: &Tr, chosen: Option<f64>) -> Vec<Choice> {
    BELOW
        .iter()
        .map(|w| {
            let v = probability(w).unwrap_or(0.0);
            Choice {
                value: w,
                label: format!("< {}", percent(tr, v)),
                selected: chosen.is_some_and(|c| (c - v).abs() < 1e-9),
            }
        })
        .collect()
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
    trusts: Vec<Choice>,
    cases: Vec<Choice>,
    p_alive_below: Vec<Choice>,
    renewal_below: Vec<Choice>,
    clv_min: String,
    /// The owner filter: "my customers", "no owner", each staff member.
    owners: Vec<OwnerChoice>,
    /// The signed-in user owns nobody (no staff row of their email) while the list
    /// shows "mine".
    mine_without_staff: bool,
    /// The accounts in trust deficit, deepest first: one click.
    deficit_href: &'static str,
    /// This list is that one.
    deficit_shown: bool,
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

/// One choice of the owner filter.
pub(crate) struct OwnerChoice {
    value: String,
    label: String,
    selected: bool,
}

/// One customer of the list with their figures.
pub(crate) struct Row {
    c: CustomerSummary,
    orders: i64,
    refunds: i64,
    /// Orders net of refunds plus subscriptions billed.
    revenue: String,
    /// Plan, MRR per month and next renewal, when the customer subscribes.
    plan: Option<String>,
    mrr: Option<String>,
    renews: Option<String>,
    clv: Option<String>,
    p_alive: Option<String>,
    renewal_probability: Option<String>,
    /// The health score's change over 30 days: `▲ 5`, `▼ 12` (none when 0 or unknown),
    /// and whether it fell.
    health_change: Option<String>,
    health_fell: bool,
}

fn row(tr: &Tr, c: CustomerSummary, currency: Currency) -> Row {
    let f = CustomerFigures::of_summary(&c, currency.code());
    Row {
        orders: f.orders,
        refunds: f.refunds,
        revenue: tr.money(f.revenue_minor, currency),
        plan: f.plan.clone(),
        mrr: (f.mrr_minor != 0 || f.plan.is_some()).then(|| tr.money(f.mrr_minor, currency)),
        renews: f.next_renewal_on.map(|d| tr.day(&d)),
        clv: c.clv_12_minor.map(|v| tr.money(v, currency)),
        p_alive: c.p_alive.map(|p| percent(tr, p)),
        renewal_probability: c.renewal_probability.map(|p| percent(tr, p)),
        health_change: c.health_change_30.filter(|d| *d != 0).map(|d| {
            if d > 0 {
                format!("▲ {d}")
            } else {
                format!("▼ {}", d.abs())
            }
        }),
        health_fell: c.health_change_30.is_some_and(|d| d < 0),
        c,
    }
}

/// The 400 page of a filter value the list does not take, in the user's language,
/// naming the parameter and the values it takes.
fn bad_param(signed: &SignedIn, b: &BadParam) -> PageError {
    bad_filter_page(
        signed,
        "customers.bad-filter",
        b.param,
        &b.value,
        &b.allowed,
    )
}

/// The 400 page of a list's filter value it does not take: the list's title key, the
/// parameter, the value as given (shortened) and the values it takes.
pub(crate) fn bad_filter_page(
    signed: &SignedIn,
    title_key: &str,
    param: &str,
    value: &str,
    allowed: &str,
) -> PageError {
    let tr = signed.tr;
    let detail = format!(
        "{param}: '{}'. {}: {allowed}",
        crate::errors::short(value, 60),
        tr.t("customers.bad-filter.allowed"),
    );
    PageError::Page(Box::new(crate::render::error_page_with(
        tr,
        Some(signed.me()),
        StatusCode::BAD_REQUEST,
        tr.t(title_key),
        Some(&detail),
    )))
}

/// The query string of the same list at another offset.
/// `clv_min` is the amount as the user wrote it.
fn link(f: &CustomerFilter, sort: &str, offset: u64, clv_min: &str, owner: &str) -> String {
    let mut s = format!("/customers?offset={offset}");
    let trust = f.trust.map(|t| t.name().to_string());
    let cases = f
        .open_cases
        .map(|o| if o { "open" } else { "none" }.to_string());
    let clv = f.clv_min_minor.map(|_| clv_min.to_string());
    let p_alive = f.p_alive_below.map(|v| v.to_string());
    let renewal = f.renewal_below.map(|v| v.to_string());
    for (k, v) in [
        ("search", &f.search),
        ("segment", &f.segment),
        ("status", &f.status),
        ("tier", &f.tier),
        ("kind", &f.kind),
        ("trust", &trust),
        ("cases", &cases),
        ("clv_min", &clv),
        ("p_alive_below", &p_alive),
        ("renewal_below", &renewal),
        ("owner", &Some(owner.to_string()).filter(|o| !o.is_empty())),
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
    let currency = store_currency(&s).await?;
    let mut filter = q.filter(currency).map_err(|b| bad_param(&signed, &b))?;
    let owner_param = ListParams::get(&q.owner);
    let my_staff = if owner_param == "me" {
        s.store.staff_for_email(&signed.user.email).await?
    } else {
        None
    };
    let staff = s.store.staff_choices().await?;
    if !matches!(owner_param, "" | "all" | "me" | "none")
        && !staff.iter().any(|(id, _)| id == owner_param)
    {
        return Err(bad_param(
            &signed,
            &BadParam::new("owner", owner_param, "me, none, all or a staff member's id"),
        ));
    }
    filter.owner = q.owner(my_staff.as_deref());
    let page = s.store.customers(&filter).await?;
    let sort = filter.sort.name();
    let limit = u64::from(filter.limit);
    let clv = ListParams::get(&q.clv_min);
    let prev = (filter.offset > 0).then(|| {
        link(
            &filter,
            sort,
            filter.offset.saturating_sub(limit),
            clv,
            owner_param,
        )
    });
    let next = (filter.offset + limit < page.total)
        .then(|| link(&filter, sort, filter.offset + limit, clv, owner_param));
    let mut owners = vec![
        OwnerChoice {
            value: "me".into(),
            label: tr.t("owners.filter.me").to_string(),
            selected: owner_param == "me",
        },
        OwnerChoice {
            value: "none".into(),
            label: tr.t("owners.filter.none").to_string(),
            selected: owner_param == "none",
        },
    ];
    owners.extend(staff.into_iter().map(|(id, name)| OwnerChoice {
        selected: id == owner_param,
        value: id,
        label: name,
    }));
    let mut sorts = choices(&tr, CustomerSort::NAMES, Some(sort), "customers.sort.");
    for c in &mut sorts {
        if c.value == "health" {
            c.label = tr.t("owners.sort.health").to_string();
        }
    }
    let shown = page.customers.len() as u64;
    let view = CustomersPage {
        me: Some(signed.me()),
        search: ListParams::get(&q.search).to_string(),
        segment: ListParams::get(&q.segment).to_string(),
        statuses: choices(&tr, CUSTOMER_STATUSES, filter.status.as_deref(), ""),
        tiers: choices(&tr, TIERS, filter.tier.as_deref(), ""),
        kinds: choices(&tr, CUSTOMER_KINDS, filter.kind.as_deref(), ""),
        trusts: choices(
            &tr,
            TrustFilter::NAMES,
            filter.trust.map(TrustFilter::name),
            "customers.trust.",
        ),
        cases: choices(
            &tr,
            CASES,
            filter.open_cases.map(|o| if o { "open" } else { "none" }),
            "customers.cases.",
        ),
        p_alive_below: below_choices(&tr, filter.p_alive_below),
        renewal_below: below_choices(&tr, filter.renewal_below),
        clv_min: ListParams::get(&q.clv_min).to_string(),
        deficit_href: "/customers?trust=deficit&sort=trust",
        deficit_shown: filter.trust == Some(TrustFilter::Deficit),
        sorts,
        owners,
        mine_without_staff: owner_param == "me" && my_staff.is_none(),
        first: if shown == 0 { 0 } else { filter.offset + 1 },
        last: filter.offset + shown,
        filtered: filter.search.is_some()
            || filter.segment.is_some()
            || filter.status.is_some()
            || filter.tier.is_some()
            || filter.kind.is_some()
            || filter.trust.is_some()
            || filter.open_cases.is_some()
            || filter.clv_min_minor.is_some()
            || filter.p_alive_below.is_some()
            || filter.renewal_below.is_some()
            || filter.owner.is_some(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_read_as_shares_or_percents() {
        assert_eq!(probability("0.5"), Some(0.5));
        assert_eq!(probability("0,25"), Some(0.25));
        assert_eq!(probability("80%"), Some(0.8));
        assert_eq!(probability("1.5"), None);
        assert_eq!(probability("-0.1"), None);
        assert_eq!(probability("NaN"), None);
        assert_eq!(probability("x"), None);
    }

    #[test]
    fn bad_values_are_named_with_what_is_taken() {
        let q = ListParams {
            tier: Some("Z".into()),
            ..Default::default()
        };
        let e = q.filter(Currency::EUR).unwrap_err();
        assert_eq!((e.param, e.value.as_str()), ("tier", "Z"));
        assert!(e.allowed.contains("A, B, C, D"), "{e:?}");
        let q = ListParams {
            offset: Some("-1".into()),
            ..Default::default()
        };
        assert_eq!(q.filter(Currency::EUR).unwrap_err().param, "offset");
        let q = ListParams {
            trust: Some("deficit".into()),
            clv_min: Some("1 000,50".into()),
            ..Default::default()
        };
        let f = q.filter(Currency::EUR).unwrap();
        assert_eq!(f.trust, Some(TrustFilter::Deficit));
        assert_eq!(f.clv_min_minor, Some(100_050));
    }
}
