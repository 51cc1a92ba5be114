//! Issue 13 pages: see ARCHITECTURE.md (stub until its helper fills it).

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
