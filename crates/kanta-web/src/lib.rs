//! Kanta's HTTP server: the JSON API under `/api/v1` and the server-rendered web UI.
//!
//! - [`router`] builds the axum app over a [`Store`]; [`serve`] runs it on a listener
//!   until Ctrl-C or SIGTERM.
//! - `api` holds the JSON endpoints, errors as RFC 9457 `application/problem+json`.
//! - `pages` renders HTML from askama templates (compile-time checked, escaping
//!   everything a customer wrote).

pub mod api;
pub mod charts;
pub mod i18n;
mod pages;

use axum::Router;
use kanta_store::Store;
use tokio::net::TcpListener;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

/// The whole app: API, pages and assets.
pub fn router(store: Store) -> Router {
    let state = AppState { store };
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: TcpListener, store: Store) -> std::io::Result<()> {
    axum::serve(listener, router(store))
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
