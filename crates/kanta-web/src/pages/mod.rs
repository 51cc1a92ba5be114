//! Server-rendered pages. Templates live in `templates/` and are checked at compile
//! time; askama escapes every value, so whatever a customer wrote shows as text.
//!
//! - `nav`: the areas of the main navigation (one line per area).
//! - `customers`: the customer list (search, filters, sort, pages).
//! - `customer`: one customer on one screen, and its quick actions (forms that POST
//!   and redirect back).
//! - `retention`: the retention dashboard (leaky bucket, cohorts, survival, tiers).

mod customer;
mod customers;
pub(crate) mod nav;
pub(crate) mod retention;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::api::ApiError;
use crate::auth::{Me, MessagePage};
use crate::i18n::Tr;
pub(crate) use crate::render::{render, urlencode};

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
        .route("/retention", get(retention::page))
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

/// A page's failure: a store error (500), an unknown customer (404), or a refusal
/// the auth extractor already rendered (403).
pub(crate) enum PageError {
    Api(ApiError),
    Page(Box<Response>),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError::Api(e)
    }
}

impl From<kanta_store::StoreError> for PageError {
    fn from(e: kanta_store::StoreError) -> PageError {
        PageError::Api(e.into())
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> PageError {
        PageError::Page(Box::new(r))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Api(e) => e.into_response(),
            PageError::Page(r) => *r,
        }
    }
}

/// The 404 page of a customer that does not exist.
pub(crate) fn not_found(tr: Tr, me: Option<Me>) -> PageError {
    let page = MessagePage {
        tr,
        me,
        title: tr.t("customer.not-found.title"),
        text: tr.t("customer.not-found"),
    };
    let mut r = render(&page);
    *r.status_mut() = StatusCode::NOT_FOUND;
    PageError::Page(Box::new(r))
}
