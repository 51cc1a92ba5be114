//! Kanta's HTTP server: the JSON API under `/api/v1` and the server-rendered web UI.
//!
//! - [`router`] builds the axum app over a [`Store`]; [`serve`] runs it on a listener
//!   until Ctrl-C or SIGTERM.
//! - `api` holds the JSON endpoints, errors as RFC 9457 `application/problem+json`.
//! - [`auth`]: passwords (argon2id), sessions, CSRF, API tokens and roles; the extractors
//!   [`auth::Caller`] (API) and [`auth::SignedIn`] (pages).
//! - `account`: sign-in and sign-out, the user's account page, the admin's users and
//!   API tokens pages; `two_factor`: the sign-in's code and set-up steps and the
//!   account's two-factor pages.
//! - `limits`: rate limits per route class (sign-in, public survey pages, API), 429.
//! - `errors`: every error answer in one shape (problem+json for the API, an HTML page
//!   in the user's language for the pages), the router's fallback; handlers use
//!   [`api::problem`] and `render::error_page`.
//! - `pages` renders HTML from askama templates (compile-time checked, escaping
//!   everything a customer wrote).

mod account;
pub mod api;
pub mod auth;
pub mod charts;
mod errors;
pub mod i18n;
mod limits;
mod pages;
mod render;
mod two_factor;

use axum::Router;
use kanta_core::Core;
use kanta_store::Store;
use tokio::net::TcpListener;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The application core: every write and rule goes through it.
    pub core: Core,
    /// The core's store, for reads.
    pub store: Store,
    /// The retention dashboard's per-customer activity, reused while current.
    pub(crate) retention: pages::retention::ActivityCache,
}

/// The whole app: API, pages and assets.
pub fn router(core: Core) -> Router {
    let state = AppState {
        store: core.store().clone(),
        core,
        retention: Default::default(),
    };
    Router::new()
        .merge(api::routes())
        .merge(account::routes())
        .merge(two_factor::routes())
        .merge(pages::routes())
        .fallback(errors::fallback)
        // `api_rate_limit` per caller on `/api/` (see `limits`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::api_limit,
        ))
        // Every error answer in one shape: problem+json for the API, the HTML error
        // page in the user's language for the pages (see `errors`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            errors::humane,
        ))
        // The page's query, for the language switch (`pages::nav::lang_href`).
        .layer(axum::middleware::from_fn(pages::nav::keep_query))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// What every answer tells the browser: run only our own scripts, never be framed, don't
/// guess content types, send no referrer to other sites. Defence in depth behind the
/// templates' escaping.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page that asks for less (the public goals page: no-referrer) keeps its own.
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    r
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: TcpListener, core: Core) -> std::io::Result<()> {
    // The peer's address feeds the sign-in rate limit and the audit log.
    let app = router(core).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
