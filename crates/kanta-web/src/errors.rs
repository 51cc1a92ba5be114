//! Every error answer in one shape: the API's as RFC 9457 `application/problem+json`,
//! the pages' as an HTML page in the user's language with the navigation.
//!
//! Handlers build their own errors with [`crate::api::problem`] (API) and
//! [`crate::render::error_page`] (pages). What no handler of ours wrote (axum's
//! extractor rejections of a query, a path, a form or a JSON body, which are plain
//! text; the router's 404 and 405, which are empty) is turned into the same shape by
//! [`humane`], a layer around the whole app; [`fallback`] answers unknown paths.

use axum::body::Body;
use axum::extract::{OptionalFromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::api::{ApiError, problem};
use crate::auth::SignedIn;
use crate::i18n::{Lang, Tr};
use crate::render::error_page_with;

/// Whether a path belongs to the JSON API (problem+json) rather than the pages.
pub(crate) fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/healthz"
}

/// The longest part of a rejection's text shown back (axum's texts are short; this
/// keeps a pasted value from being echoed whole).
const DETAIL_MAX: usize = 300;

/// The router's answer to a path it does not know.
pub(crate) async fn fallback(method: Method, uri: Uri) -> Response {
    if is_api(uri.path()) {
        return ApiError::not_found(format!(
            "there is no endpoint {method} {}; the API's endpoints are listed in /api/v1/openapi.json",
            short(uri.path(), 120)
        ))
        .into_response();
    }
    // An empty 404: [`humane`] makes it the page in the user's language.
    StatusCode::NOT_FOUND.into_response()
}

/// Turns an error answer that is not in our shape yet (plain text or empty) into a
/// problem+json (API) or an HTML error page (pages). Answers a handler shaped itself
/// (problem+json, HTML) pass unchanged.
pub(crate) async fn humane(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let method = req.method().clone();
    let r = next.run(req).await;
    let status = r.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return r;
    }
    let ctype = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let api = is_api(uri.path());
    let plain = ctype.is_empty() || ctype.starts_with("text/plain");
    // A page handler that answered with the API's error (`PageError::Api`) gets the
    // page too.
    let problem_on_page = !api && ctype.starts_with("application/problem+json");
    if !(plain || problem_on_page) {
        return r;
    }
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let (text, param) = if problem_on_page {
        let p: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        (
            short(p["detail"].as_str().unwrap_or("").trim(), DETAIL_MAX),
            p["field"].as_str().map(str::to_string),
        )
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let text = short(text.trim(), DETAIL_MAX);
        let param = rejected_parameter(&text);
        (text, param)
    };
    let mut out = if api {
        let detail = if text.is_empty() {
            default_detail(status, &method, &uri)
        } else {
            text.clone()
        };
        let e = problem(status, detail);
        match &param {
            Some(p) => e.with_field(p),
            None => e,
        }
        .into_response()
    } else {
        let (tr, me) = viewer(&s, &uri, &headers).await;
        let message = page_message(&tr, status, param.as_deref());
        let detail = (!text.is_empty() && !status.is_server_error()).then_some(text.as_str());
        if method == Method::HEAD {
            let mut r = error_page_with(tr, me, status, &message, detail);
            *r.body_mut() = Body::empty();
            r
        } else {
            error_page_with(tr, me, status, &message, detail)
        }
    };
    // Keep what the client needs from the original answer (405's Allow, 401's
    // WWW-Authenticate).
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    *out.status_mut() = status;
    out
}

/// The detail of an empty error answer of the API.
fn default_detail(status: StatusCode, method: &Method, uri: &Uri) -> String {
    let path = short(uri.path(), 120);
    match status {
        StatusCode::NOT_FOUND => format!("there is nothing at {path}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{path} does not take {method}; the Allow header lists what it takes")
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the body is larger than this endpoint takes".into(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// The query parameter or field an axum rejection names: `offset` of "Failed to
/// deserialize query string: offset: invalid digit found in string".
fn rejected_parameter(text: &str) -> Option<String> {
    let rest = [
        "Failed to deserialize query string: ",
        "Failed to deserialize form: ",
        "Failed to deserialize form body: ",
        "Failed to deserialize the JSON body into the target type: ",
    ]
    .iter()
    .find_map(|p| text.strip_prefix(p))?;
    let (name, _) = rest.split_once(": ")?;
    let name = name.trim();
    (!name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-[]".contains(c)))
    .then(|| name.to_string())
}

/// The sentence of an error page, in the user's language.
fn page_message(tr: &Tr, status: StatusCode, param: Option<&str>) -> String {
    match (status.as_u16(), param) {
        (400 | 422, Some(p)) => tr.t("error.bad_parameter").replace("{name}", p),
        (400, None) => tr.t("error.400").to_string(),
        (404, _) => tr.t("error.404").to_string(),
        (405, _) => tr.t("error.405").to_string(),
        (413, _) => tr.t("error.413").to_string(),
        (415 | 422, None) => tr.t("error.422").to_string(),
        (429, _) => tr.t("error.429").to_string(),
        (s, _) if s >= 500 => tr.t("error.500").to_string(),
        _ => tr.t("error.400").to_string(),
    }
}

/// The language and the signed-in user (for the navigation) of a request.
async fn viewer(s: &AppState, uri: &Uri, headers: &HeaderMap) -> (Tr, Option<crate::auth::Me>) {
    let Ok(req) = axum::http::Request::builder().uri(uri.clone()).body(()) else {
        return (Tr::new(Lang::En), None);
    };
    let (mut parts, ()) = req.into_parts();
    parts.headers = headers.clone();
    match <SignedIn as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, s).await
    {
        Ok(Some(signed)) => (signed.tr, Some(signed.me())),
        _ => {
            let lang = uri.query().and_then(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == "lang")
                    .map(|(_, v)| v)
            });
            (crate::auth::anonymous_lang(lang, headers), None)
        }
    }
}

/// At most `max` characters of `text`, with "…" when cut.
pub(crate) fn short(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_rejected_parameter() {
        assert_eq!(
            rejected_parameter(
                "Failed to deserialize query string: offset: invalid digit found in string"
            )
            .as_deref(),
            Some("offset")
        );
        assert_eq!(rejected_parameter("Invalid URL: x"), None);
        assert_eq!(short("abcdef", 3), "abc…");
        assert_eq!(short("abc", 3), "abc");
    }
}
