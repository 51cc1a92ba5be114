//! Server-rendered pages. Templates live in `templates/` and are checked at compile
//! time; askama escapes every value, so whatever a customer wrote shows as text.
//!
//! Pages parse input, call the core (`kanta_core::Core`) and render; every write goes
//! through the core with the signed-in user as its actor, so it is audited.
//!
//! - `nav`: the areas of the main navigation (one line per area).
//! - `customers`: the customer list (search, filters, sort, pages).
//! - `customer`: one customer on one screen, its timeline a page at a time, and its
//!   quick actions (forms that POST and redirect back), one handler driven by a table.
//! - `cases`: the cases list (filters, SLA timers) and one case (its timers, its own
//!   timeline, the forms that move it, its claims).
//! - `retention`: the retention dashboard (leaky bucket, cohorts, survival, tiers).
//! - `service`: the service page (SLA attainment, the small-claim rule's effect,
//!   recovery measured); `claims`: the managers' approval queue and the repeat
//!   claimants.
//! - `owners`: the owners, their proactive share per month, bulk assignment.
//! - `health`: the health score's model page and the customer page's health card.
//! - `admin`: the admin area's pages: the audit log, the jobs and the outbox, the
//!   store settings; `admin::Guarded` is the one guard and render of each.

mod admin;
pub(crate) mod cases;
mod claims;
mod customer;
pub(crate) mod customers;
pub(crate) mod endings;
mod feedback;
mod goals;
pub(crate) mod health;
mod ideas;
mod kudos;
pub(crate) mod nav;
pub mod offers;
mod onboarding;
mod owners;
pub(crate) mod privacy;
pub(crate) mod retention;
mod service;
mod survey_public;
mod survey_waves;
mod surveys;
mod themes;
pub(crate) mod today;
pub(crate) mod value;
pub(crate) mod value_economics;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanta_core::CoreError;
use kanta_domain::Currency;
use kanta_store::accounts::Role;

use crate::AppState;
use crate::api::ApiError;
use crate::auth::{Me, MessagePage, SignedIn, forbidden_page};
use crate::i18n::Tr;
pub(crate) use crate::render::{render, urlencode};

const CSS: &str = include_str!("../../assets/kanta.css");

pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route("/", get(today::home))
        .route("/today", get(today::today))
        .route("/today/{id}/{action}", post(today::action))
        .route(
            "/customers/{id}/next/{action}",
            post(today::customer_action),
        )
        .route("/customers", get(customers::list))
        .route("/customers/{id}", get(customer::page))
        .route("/retention", get(retention::page))
        .route("/cases", get(cases::list))
        .route("/cases/{id}", get(cases::page))
        .route("/cases/{id}/transition", post(cases::transition))
        .route("/cases/{id}/resolve", post(cases::resolve))
        .route("/cases/{id}/assign", post(cases::assign))
        .route("/cases/{id}/note", post(cases::note))
        .route("/cases/{id}/edit", post(cases::edit))
        .route("/cases/{id}/claims", post(cases::claim))
        .route("/cases/{id}/claims/{claim}/decide", post(cases::decide))
        .route("/cases/{id}/claims/{claim}/pay", post(cases::pay))
        .route("/service", get(service::page))
        .route("/health", get(health::page))
        .route("/health/refresh", post(health::refresh))
        .route("/claims", get(claims::list))
        .route("/claims/repeat", get(claims::repeat))
        .route("/claims/{id}/decision", post(claims::decide))
        .route("/owners", get(owners::list))
        .route("/owners/assign", post(owners::assign))
        .route("/onboarding", get(onboarding::page))
        .route("/onboarding/templates", post(onboarding::save_template))
        .route("/onboarding/templates/new", get(onboarding::new_template))
        .route("/onboarding/templates/{id}", get(onboarding::edit_template))
        .route("/customers/{id}/onboarding/start", post(onboarding::start))
        .route(
            "/customers/{id}/onboarding/tasks/{task}/done",
            post(onboarding::task_done),
        )
        .route("/customers/{id}/goals", post(goals::add))
        .route("/customers/{id}/goals/{goal}/notes", post(goals::note))
        .route("/customers/{id}/goals/{goal}/status", post(goals::status))
        .route("/customers/{id}/goal-links", post(goals::create_link))
        .route(
            "/customers/{id}/goal-links/{link}/revoke",
            post(goals::revoke_link),
        )
        .route("/g/{token}", get(goals::public))
        .route("/assets/kanta.css", get(css));
    for action in customer::ACTIONS {
        r = r.route(
            &format!("/customers/{{id}}/{}", action.path),
            post(
                move |s: axum::extract::State<AppState>,
                      signed: SignedIn,
                      id: axum::extract::Path<String>,
                      form: axum::Form<customer::FormInput>| {
                    customer::quick_action(action, s, signed, id, form)
                },
            ),
        );
    }
    r.merge(admin::routes())
        .merge(surveys::routes())
        .merge(survey_public::routes())
        .merge(survey_waves::routes())
        .merge(feedback::routes())
        .merge(themes::routes())
        .merge(kudos::routes())
        .merge(ideas::routes())
        .merge(endings::routes())
        .merge(value::routes())
        .merge(offers::routes())
        .merge(privacy::routes())
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

/// A stored model code (`bgnbd`, `pnbd`, `gg`) as people write it (`BG/NBD`, ...); an
/// unknown code as it is.
pub(crate) fn model_label(code: &str) -> &str {
    match code.parse::<kanta_models::fit::ModelKind>() {
        Ok(k) => k.label(),
        Err(_) => code,
    }
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

impl From<CoreError> for PageError {
    fn from(e: CoreError) -> PageError {
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

/// A core error as the page shows it: the core's refusal (the role is too low) as the
/// 403 page in the user's language, anything else as the API's error.
pub(crate) fn core_error(signed: &SignedIn) -> impl FnOnce(CoreError) -> PageError + '_ {
    move |e| match e {
        CoreError::Forbidden(_) => PageError::Page(Box::new(forbidden_page(
            signed.tr,
            signed.tr.t("auth.forbidden"),
            Some(signed.me()),
        ))),
        other => other.into(),
    }
}

/// A form's gate: the user needs `min`, and the form must carry the session's CSRF
/// token. Either refusal is the 403 page, and nothing is written.
pub(crate) fn form_allowed(signed: &SignedIn, min: Role, csrf: &str) -> Result<(), PageError> {
    signed.require(min)?;
    signed.check_csrf(csrf)?;
    Ok(())
}

/// After a write: to `location` with 303 (the browser GETs it; a reload posts nothing).
pub(crate) fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// A rendered page with another status than 200 (422 for a form sent back).
pub(crate) fn render_status<T: askama::Template>(t: &T, status: StatusCode) -> Response {
    let mut r = render(t);
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

/// The store's currency: money without a currency of its own is shown in it.
pub(crate) async fn store_currency(s: &AppState) -> Result<Currency, PageError> {
    Ok(s.core.currency().await?)
}

/// The 404 page of a customer that does not exist.
pub(crate) fn not_found(tr: Tr, me: Option<Me>) -> PageError {
    let page = MessagePage {
        tr,
        me,
        title: tr.t("customer.not-found.title"),
        text: tr.t("customer.not-found"),
    };
    PageError::Page(Box::new(render_status(&page, StatusCode::NOT_FOUND)))
}
