//! Rate limits per route class (issue 15): a fixed one-minute window per key, kept in
//! the process's memory (each `kanta serve` instance counts its own requests).
//!
//! - The public survey pages: `survey_rate_limit` (`pages::survey_public`).
//! - The sign-in forms (`/login`, its code and set-up steps): `sign_in_rate_limit` per
//!   address ([`sign_in_ok`]), under the failure throttle of `kanta_core::accounts`.
//! - The API: `api_rate_limit` per caller ([`api_limit`], a middleware on `/api/`):
//!   the token's digest, else the session's, else the address.
//!
//! Over a limit the answer is 429 with `Retry-After` (the seconds to the next minute).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::api::ApiError;

/// A fixed one-minute window per key: how many requests it made.
struct Limiter {
    minute: u64,
    counts: HashMap<String, u32>,
}

fn limiter() -> &'static Mutex<Limiter> {
    static L: OnceLock<Mutex<Limiter>> = OnceLock::new();
    L.get_or_init(|| {
        Mutex::new(Limiter {
            minute: 0,
            counts: HashMap::new(),
        })
    })
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds until the current window ends (at least 1): the `Retry-After` of a 429.
pub(crate) fn retry_after() -> u64 {
    (60 - unix_seconds() % 60).max(1)
}

/// Counts a request of each key; false when one of them is over its limit this
/// minute.
pub(crate) fn allowed(keys: &[(String, u32)]) -> bool {
    let minute = unix_seconds() / 60;
    let mut l = limiter().lock().expect("not poisoned");
    if l.minute != minute {
        l.minute = minute;
        l.counts.clear();
    }
    let mut ok = true;
    for (k, limit) in keys {
        let n = l.counts.entry(k.clone()).or_insert(0);
        *n = n.saturating_add(1);
        if *n > *limit {
            ok = false;
        }
    }
    ok
}

/// Whether a request to a sign-in form from `ip` is within `sign_in_rate_limit`.
pub(crate) async fn sign_in_ok(s: &AppState, ip: &str) -> bool {
    let limit = match s.core.security_rules().await {
        Ok(r) => r.sign_in_rate_limit,
        Err(_) => kanta_core::security::SecurityRules::default().sign_in_rate_limit,
    };
    // Keyed by the store too: apps over different stores in one process (tests)
    // count apart.
    allowed(&[(format!("{} si:{ip}", s.store.url()), limit)])
}

/// The middleware of `/api/`: `api_rate_limit` requests a minute per caller.
pub(crate) async fn api_limit(State(s): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let limit = match s.core.security_rules().await {
        Ok(r) => r.api_rate_limit,
        Err(_) => kanta_core::security::SecurityRules::default().api_rate_limit,
    };
    let headers = request.headers();
    // The caller: a bearer token or a session cookie (by a digest, so that no secret
    // is kept in memory), else the address.
    let who = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| format!("t:{}", &kanta_core::secrets::digest(t.trim())[..16]))
        .or_else(|| {
            crate::auth::cookie(headers, crate::auth::SESSION_COOKIE)
                .map(|c| format!("s:{}", &kanta_core::secrets::digest(c)[..16]))
        })
        .unwrap_or_else(|| {
            let ip = crate::auth::client_ip(&s.core, headers, request.extensions())
                .unwrap_or_else(|| "unknown".into());
            format!("a:{ip}")
        });
    if allowed(&[(format!("{} api {who}", s.store.url()), limit)]) {
        return next.run(request).await;
    }
    let mut r = ApiError::too_many(format!(
        "more than {limit} requests a minute (the setting api_rate_limit); try again in a minute"
    ))
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after()));
    debug_assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    r
}
