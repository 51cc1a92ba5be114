//! `GET /api/v1/audit`: the audit log, newest first, for admins
//! (`Core::audit_page`, the same use case as `kanta audit`).
//!
//! Query parameters: `actor` (a user's email, a token's name, or their id), `entity`,
//! `record` (a record's id), `since` and `until` (RFC 3339, or a date: `2024-12-31`,
//! `31.12.2024`), `limit` (1-1000, default 50) and `cursor` (the `next_cursor` of the
//! previous page). Any other parameter is refused (400).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kanta_core::access::ADMIN_AREA;
use kanta_core::audit::{AUDIT_PAGE, AUDIT_PAGE_MAX, AuditQuery, parse_cursor, parse_moment};

use super::ApiError;
use super::scores::{param_of, params};
use crate::AppState;
use crate::auth::Caller;

/// The query parameters of the audit log.
pub(crate) const PARAMS: [&str; 7] = [
    "actor", "entity", "record", "since", "until", "limit", "cursor",
];

pub(super) async fn audit(
    caller: Caller,
    State(s): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(ADMIN_AREA)?;
    let ps = params(&q, &PARAMS)?;
    let text = |name: &str| {
        param_of(&ps, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let limit = match param_of(&ps, "limit") {
        None => AUDIT_PAGE,
        Some(v) => {
            let n: i64 = v
                .trim()
                .parse()
                .map_err(|_| ApiError::invalid("limit", format!("'{v}' is not a whole number")))?;
            if !(1..=i64::from(AUDIT_PAGE_MAX)).contains(&n) {
                return Err(ApiError::invalid(
                    "limit",
                    format!("{n} is not within 1..{AUDIT_PAGE_MAX}"),
                ));
            }
            n as u32
        }
    };
    let zone = s.core.time_zone().await?;
    let query = AuditQuery {
        actor: text("actor"),
        entity: text("entity"),
        record_id: text("record"),
        since: text("since")
            .map(|t| parse_moment("since", &t, zone))
            .transpose()?,
        until: text("until")
            .map(|t| parse_moment("until", &t, zone))
            .transpose()?,
        before_id: parse_cursor(param_of(&ps, "cursor").unwrap_or(""))?,
        limit,
    };
    let page = s.core.audit_page(&caller.acting, &query).await?;
    Ok(Json(page).into_response())
}
