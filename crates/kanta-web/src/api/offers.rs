//! Offers in the API (issue 14); the offers themselves are the generic entity routes
//! (`/api/v1/offers`, managers write, the core's write hook checks them):
//!
//! - `POST /api/v1/offers/{id}/send` (managers): draw the control group and tell the
//!   offer group; `?preview=true` answers the groups' sizes and keeps nothing; `409`
//!   when the offer was sent before.
//! - `GET /api/v1/offers/{id}/report` (everyone signed in): the groups, redemptions
//!   and uplift with 95% intervals (the same JSON as `kanta report offer ID --json`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kanta_store::accounts::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::AppState;
use crate::auth::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/offers/{id}/send", post(send))
        .route("/api/v1/offers/{id}/report", get(report))
}

#[derive(Debug, Deserialize)]
struct SendQuery {
    #[serde(default)]
    preview: bool,
}

async fn send(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SendQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Manager)?;
    let sent = if q.preview {
        s.core.preview_offer(&caller.acting, &id).await?
    } else {
        s.core.send_offer(&caller.acting, &id, None).await?
    };
    Ok(Json(sent).into_response())
}

async fn report(
    caller: Caller,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(s.core.offer_report(&caller.acting, &id).await?).into_response())
}

/// The offers' routes in the OpenAPI document.
pub fn openapi(paths: &mut Map<String, Value>, _schemas: &mut Map<String, Value>) {
    use super::openapi::{ok, operation, response_ref, responses};
    let id = json!({"name": "id", "in": "path", "required": true, "description": "the offer's id", "schema": {"type": "string"}});
    let preview = json!({"name": "preview", "in": "query", "required": false,
        "description": "true: answer the groups' sizes and keep nothing", "schema": {"type": "boolean"}});
    let op = operation(
        "offer_send".into(),
        "offers",
        "Send a draft offer: draw the control group (stratified by tier, seed recorded) and tell the offer group; once".into(),
        Role::Manager,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["offer", "seed", "considered", "excluded", "offer_arm", "control_arm", "tiers"]}),
                    "the groups drawn: sizes per tier, customers left out per reason, mails queued",
                ),
            ),
            ("404", response_ref("NotFound")),
            ("409", response_ref("Conflict")),
        ]),
    );
    paths.insert(
        "/api/v1/offers/{id}/send".into(),
        json!({"parameters": [id.clone(), preview], "post": op}),
    );
    let op = operation(
        "offer_report".into(),
        "offers",
        "An offer's uplift: purchase rate, orders and revenue per customer, offer group against control group, absolute (Welch) and relative (delta method) with 95% intervals, net of the offer's cost".into(),
        Role::Viewer,
        responses(&[
            (
                "200",
                ok(
                    json!({"type": "object", "required": ["offer", "tiers", "excluded", "told", "redemptions", "window_ended", "uplift"]}),
                    "the report",
                ),
            ),
            ("404", response_ref("NotFound")),
        ]),
    );
    paths.insert(
        "/api/v1/offers/{id}/report".into(),
        json!({"parameters": [id], "get": op}),
    );
}
