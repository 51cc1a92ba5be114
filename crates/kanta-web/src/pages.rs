//! Server-rendered pages. Templates live in `templates/` and are checked at compile
//! time; askama escapes every value, so whatever a customer wrote shows as text.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use kanta_domain::{Currency, Kind, Value};
use kanta_store::read::{CustomerPage, Record, TimelineEvent};

use crate::AppState;
use crate::api::{ApiError, ListQuery};
use crate::i18n::{LANG_COOKIE, Lang, Tr};

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

/// The page's language, and whether it was chosen in this request (`?lang=`).
fn language(query_lang: Option<&str>, headers: &HeaderMap) -> (Tr, bool) {
    let chosen = query_lang.and_then(Lang::parse).is_some();
    (Tr::new(Lang::of_request(query_lang, headers)), chosen)
}

/// Renders a page; a language chosen with `?lang=` is kept in a cookie.
fn render_in<T: Template>(t: &T, tr: Tr, remember: bool) -> Response {
    let mut r = render(t);
    if remember {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            tr.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    tr: Tr,
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
                s.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        s
    }
    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn customers(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (tr, remember) = language(q.lang.as_deref(), &headers);
    let filter = q.filter()?;
    let page = s.store.customers(&filter).await?;
    let counts = s.store.counts().await?;
    let limit = u64::from(filter.limit);
    let prev = (filter.offset > 0).then(|| filter.offset.saturating_sub(limit));
    let next = (filter.offset + limit < page.total).then_some(filter.offset + limit);
    Ok(render_in(
        &CustomersPage {
            tr,
            q,
            page,
            counts,
            first: filter.offset + 1,
            prev,
            next,
        },
        tr,
        remember,
    ))
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

/// The language parameter of pages without other query parameters.
#[derive(Debug, serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

async fn customer(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, ApiError> {
    let (tr, remember) = language(q.lang.as_deref(), &headers);
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
    Ok(render_in(
        &CustomerView {
            tr,
            fields,
            lines,
            revenue,
            orders,
            trust,
            open_cases,
            c,
        },
        tr,
        remember,
    ))
}
