//! Server-rendered pages. Templates live in `templates/` and are checked at compile
//! time; askama escapes every value, so whatever a customer wrote shows as text.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kanta_domain::{Currency, Kind, Value};
use kanta_store::read::{CustomerPage, Record, TimelineEvent};

use crate::AppState;
use crate::api::{ApiError, ListQuery};
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;
use crate::render::render;

const CSS: &str = include_str!("../assets/kanta.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(customers))
        .route("/customers", get(customers))
        .route("/customers/{id}", get(customer))
        .route("/assets/kanta.css", get(css))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    tr: Tr,
    me: Option<Me>,
    q: ListQuery,
    page: CustomerPage,
    counts: Vec<(&'static str, i64)>,
    first: u64,
    prev: Option<u64>,
    next: Option<u64>,
}

impl CustomersPage {
    fn money(&self, minor: &i64) -> String {
        self.tr.money(*minor, Currency::EUR)
    }
    fn status<'a>(&self, s: &'a str) -> &'a str {
        match s {
            "active" => self.tr.t("customers.status.active"),
            "ended" => self.tr.t("customers.status.ended"),
            other => other,
        }
    }
    fn link(&self, offset: &u64) -> String {
        let mut s = format!("?offset={offset}");
        for (k, v) in [
            ("search", &self.q.search),
            ("segment", &self.q.segment),
            ("status", &self.q.status),
            ("sort", &self.q.sort),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.push_str(&format!("&{k}={}", crate::render::urlencode(v)));
            }
        }
        s
    }
    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

async fn customers(
    State(s): State<AppState>,
    me: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let tr = me.tr;
    let filter = q.filter()?;
    let page = s.store.customers(&filter).await?;
    let counts = s.store.counts().await?;
    let limit = u64::from(filter.limit);
    let prev = (filter.offset > 0).then(|| filter.offset.saturating_sub(limit));
    let next = (filter.offset + limit < page.total).then_some(filter.offset + limit);
    Ok(render(&CustomersPage {
        tr,
        me: Some(me.me()),
        q,
        page,
        counts,
        first: filter.offset + 1,
        prev,
        next,
    }))
}

/// One line of the timeline, ready to show.
struct Line {
    at: String,
    kind: String,
    tone: &'static str,
    details: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerView {
    tr: Tr,
    me: Option<Me>,
    c: Record,
    fields: Vec<(String, String)>,
    lines: Vec<Line>,
    revenue: String,
    orders: usize,
    trust: i64,
    open_cases: usize,
}

fn show(tr: &Tr, r: &Record, name: &str, v: &Value) -> String {
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
        _ => "",
    };
    Line {
        at: tr.date_time(&ev.at),
        kind: tr.event(&ev.kind),
        tone,
        details: r
            .fields
            .iter()
            .filter(|(n, v)| !v.is_null() && !skip.contains(n))
            .map(|(n, v)| (tr.field(n), show(tr, r, n, v)))
            .collect(),
    }
}

async fn customer(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tr = me.tr;
    let Some(c) = s.store.customer(&id).await? else {
        return Err(ApiError::not_found(format!("no customer with id '{id}'")));
    };
    let events = s.store.timeline(&c).await?;
    let revenue: i64 = events
        .iter()
        .filter(|e| e.entity == "transactions")
        .filter_map(|e| e.record.get("amount").as_int())
        .sum();
    let orders = events.iter().filter(|e| e.kind == "order").count();
    let trust = events
        .iter()
        .filter(|e| e.entity == "trust")
        .filter_map(|e| e.record.get("delta").as_int())
        .sum();
    let open_cases = events
        .iter()
        .filter(|e| e.kind == "case_opened" && e.record.get("resolved_at").is_null())
        .count();
    let fields = c
        .fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(n, v)| (tr.field(n), show(&tr, &c, n, v)))
        .collect();
    let mut lines: Vec<Line> = events.iter().map(|e| line(&tr, e)).collect();
    lines.reverse();
    let revenue = tr.money(revenue, Currency::EUR);
    Ok(render(&CustomerView {
        tr,
        me: Some(me.me()),
        fields,
        lines,
        revenue,
        orders,
        trust,
        open_cases,
        c,
    }))
}
