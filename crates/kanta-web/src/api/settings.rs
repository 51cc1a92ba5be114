//! The store's settings (`kanta_core::settings`): `GET /api/v1/settings` (every
//! setting with its value in force) and `PUT /api/v1/settings/{key}` with
//! `{"value": "..."}` (managers; audited with the value before and after).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use kanta_core::access::SETTINGS;
use kanta_core::settings::STORE_SETTINGS;
use serde_json::{Value, json};

use super::entities::json_object;
use super::{ApiError, access};
use crate::AppState;
use crate::auth::Caller;

pub(super) async fn list(caller: Caller, State(s): State<AppState>) -> Result<Response, ApiError> {
    caller.require(access(None, false))?;
    let items = s.core.shown_store_settings().await?;
    Ok(Json(json!({ "items": items })).into_response())
}

pub(super) async fn put(
    caller: Caller,
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(SETTINGS)?;
    if !STORE_SETTINGS.iter().any(|d| d.key == key) {
        return Err(ApiError::not_found(format!(
            "'{key}' is not a store setting; the settings are {}",
            STORE_SETTINGS
                .iter()
                .map(|d| d.key)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut obj = json_object(body)?;
    if let Some(k) = obj.keys().find(|k| *k != "value") {
        return Err(ApiError::bad_field(
            k,
            format!("'{k}' is not a member of the body: send {{\"value\": \"...\"}}"),
        ));
    }
    let value = match obj.remove("value") {
        Some(Value::String(v)) => v,
        Some(other) => {
            return Err(ApiError::invalid(
                "value",
                format!("must be a text, not {other}"),
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "value",
                "is required: send {\"value\": \"...\"}".into(),
            ));
        }
    };
    s.core
        .set_store_setting(&caller.acting, &key, &value)
        .await?;
    let shown = s
        .core
        .shown_store_settings()
        .await?
        .into_iter()
        .find(|d| d.key == key);
    Ok(Json(shown).into_response())
}
