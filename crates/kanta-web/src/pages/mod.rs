//! Server-rendered pages. Templates live in `templates/` and are checked at compile
//! time; askama escapes every value, so whatever a customer wrote shows as text.
//!
//! - `nav`: the areas of the main navigation (one line per area).
//! - `customers`: the customer list (search, filters, sort, pages).
//! - `customer`: one customer on one screen, and its quick actions (forms that POST
//!   and redirect back).

mod customer;
mod customers;
pub(crate) mod nav;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::i18n::{LANG_COOKIE, Lang, Tr};

const CSS: &str = include_str!("../../assets/kanta.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(customers::list))
        .route("/customers", get(customers::list))
        .route("/customers/{id}", get(customer::page))
        .route(
            "/customers/{id}/interactions",
            post(customer::log_interaction),
        )
        .route("/customers/{id}/cases", post(customer::open_case))
        .route("/customers/{id}/notes", post(customer::add_note))
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

/// Percent-encodes a query or path value.
pub(crate) fn urlencode(s: &str) -> String {
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
