//! Issue 13 API: see ARCHITECTURE.md (stub until its helper fills it).

use axum::Router;
use serde_json::{Map, Value};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

/// This module's paths and schemas for `docs/openapi.json`.
pub fn openapi(_paths: &mut Map<String, Value>, _schemas: &mut Map<String, Value>) {}
