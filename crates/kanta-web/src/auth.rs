//! Who is asking, and may they: passwords, sessions, CSRF, API tokens and roles.
//!
//! - Passwords are argon2id PHC strings, hashed and checked on the blocking pool (a hash
//!   takes tens of milliseconds of CPU; the async runtime must not wait on it).
//! - A session is a random secret in the `kanta_session` cookie (HttpOnly,
//!   SameSite=Lax, Secure when the request came over https); the store keeps its
//!   SHA-256 digest, the user and a CSRF token that every form sends back.
//! - API tokens are random secrets shown once; the store keeps their SHA-256 digest
//!   and role. They come as `Authorization: Bearer TOKEN`.
//! - [`Caller`] is the API's extractor (token or session; 401 when neither), [`SignedIn`]
//!   the pages' (redirects to the login page when not signed in).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
pub use kanta_core::secrets::{
    MIN_PASSWORD_LEN, TOKEN_PREFIX, check_new_password, digest, hash_password, new_api_token,
    new_password, new_secret, verify_password,
};
use kanta_core::{Acting, Channel};
use kanta_store::accounts::{Role, Session, User};

use crate::AppState;
use crate::api::ApiError;
use crate::i18n::{LANG_COOKIE, Lang, Tr};

/// The cookie holding the session's secret.
pub const SESSION_COOKIE: &str = "kanta_session";
/// The cookie holding the login form's CSRF token (double-submit, before a session).
pub const LOGIN_CSRF_COOKIE: &str = "kanta_login_csrf";
/// The header by which script calls of the API made with a session cookie send its
/// CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 7;
/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request came over https (directly or through a proxy that says so).
pub fn is_https(parts_headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
        || parts_headers
            .get(header::FORWARDED)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"))
}

/// A `Set-Cookie` value for a cookie only the server reads.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("cookie values are hex")
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    kanta_core::secrets::same(a, b)
}

/// Who calls the API: the token, or the user of the session cookie, as the core's
/// write path and audit log know them (their role included).
#[derive(Debug, Clone)]
pub struct Caller {
    pub acting: Acting,
}

/// The peer's address of a connection: the client, or a reverse proxy in front of it
/// (see [`client_ip`]).
pub fn peer_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The client's address of a request (for the audit log and the sign-in throttle):
/// the peer, unless the peer is one of the setting `serve.trusted_proxies`; then the
/// right-most address of `X-Forwarded-For` that is not a trusted proxy
/// (`kanta_core::proxies`). Without trusted proxies the header is never read.
pub fn client_ip(
    core: &kanta_core::Core,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<String> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    core.client_address(peer, forwarded)
        .map(|ip| ip.to_string())
}

impl Caller {
    /// Refuses (403) a caller whose role is below `min` (the core's rule, asked
    /// before the request is parsed).
    pub fn require(&self, min: Role) -> Result<(), ApiError> {
        Ok(kanta_core::access::require(&self.acting, min)?)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Caller, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::unauthorized("the Authorization header must be 'Bearer TOKEN'")
                })?;
            let t = s
                .store
                .token_by_digest(&digest(token))
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized("the API token is unknown or has been revoked")
                })?;
            return Ok(Caller {
                acting: Acting::token(t.id, &t.name, t.role).from_ip(client_ip(
                    &s.core,
                    &parts.headers,
                    &parts.extensions,
                )),
            });
        }
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE)
            && let Some(session) = s.store.session(&digest(secret)).await?
        {
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !safe && !same_secret(sent, &session.csrf) {
                return Err(ApiError::forbidden(format!(
                    "a call with a session cookie must send the session's CSRF token in the {CSRF_HEADER} header"
                )));
            }
            return Ok(Caller {
                acting: Acting::user(
                    session.user.id,
                    &session.user.email,
                    session.user.role,
                    Channel::Api,
                )
                .from_ip(client_ip(&s.core, &parts.headers, &parts.extensions)),
            });
        }
        Err(ApiError::unauthorized(
            "send an API token as 'Authorization: Bearer TOKEN' (an admin creates tokens)",
        ))
    }
}

/// What the page header shows of the signed-in user.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: String,
}

impl Me {
    /// Whether the user may record interactions, cases and notes.
    pub fn can_record(&self) -> bool {
        self.role >= Role::Staff
    }
}

/// A signed-in user on a page, with the page's language.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    /// The session's CSRF token: every form carries it in a hidden `csrf` field.
    pub csrf: String,
    pub tr: Tr,
    /// The session's digest (for sign-out).
    pub session_digest: String,
    /// The peer's address.
    pub ip: Option<String>,
}

impl SignedIn {
    /// The user as the core's write path and audit log know them.
    pub fn acting(&self) -> Acting {
        Acting::user(self.user.id, &self.user.email, self.user.role, Channel::Ui)
            .from_ip(self.ip.clone())
    }

    /// The header's view of the user.
    pub fn me(&self) -> Me {
        Me {
            name: self.user.name.clone(),
            email: self.user.email.clone(),
            role: self.user.role,
            csrf: self.csrf.clone(),
        }
    }

    /// Refuses (403) a form whose CSRF token is not the session's.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, sent: &str) -> Result<(), Response> {
        if same_secret(sent.trim(), &self.csrf) {
            Ok(())
        } else {
            Err(forbidden_page(
                self.tr,
                self.tr.t("auth.csrf_failed"),
                Some(self.me()),
            ))
        }
    }

    /// Refuses (403) a user whose role is below `min`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, min: Role) -> Result<(), Response> {
        if self.user.role >= min {
            Ok(())
        } else {
            Err(forbidden_page(
                self.tr,
                self.tr.t("auth.forbidden"),
                Some(self.me()),
            ))
        }
    }
}

/// A plain page with a title, a text and a link home, as HTML.
#[derive(askama::Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub tr: Tr,
    pub me: Option<Me>,
    pub title: &'a str,
    pub text: &'a str,
}

/// The 403 page.
pub fn forbidden_page(tr: Tr, text: &str, me: Option<Me>) -> Response {
    let page = MessagePage {
        tr,
        me,
        title: tr.t("auth.forbidden_title"),
        text,
    };
    let mut r = crate::render::render(&page);
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// The query's `lang` parameter, if any.
fn query_lang(parts: &Parts) -> Option<Lang> {
    parts
        .uri
        .query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

impl SignedIn {
    async fn of(parts: &Parts, s: &AppState) -> Result<Option<SignedIn>, Response> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let session_digest = digest(secret);
        let Some(Session { mut user, csrf, .. }) = s
            .store
            .session(&session_digest)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
        else {
            return Ok(None);
        };
        // `?lang=` chooses the language and keeps it as the user's setting; else the
        // setting; else the browser's.
        let lang = match query_lang(parts) {
            Some(l) => {
                if user.lang.as_deref() != Some(l.code()) {
                    let acting = Acting::user(user.id, &user.email, user.role, Channel::Ui)
                        .from_ip(client_ip(&s.core, &parts.headers, &parts.extensions));
                    s.core
                        .set_user_language(&acting, user.id, Some(l.code()))
                        .await
                        .map_err(|e| ApiError::from(e).into_response())?;
                    user.lang = Some(l.code().to_string());
                }
                l
            }
            None => user
                .lang
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or_else(|| Lang::of_request(None, &parts.headers)),
        };
        // Times are shown in the user's own zone, else the store's.
        let zone = s
            .core
            .display_zone(user.time_zone.as_deref())
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .zone();
        Ok(Some(SignedIn {
            user,
            csrf,
            tr: Tr::in_zone(lang, zone),
            session_digest,
            ip: client_ip(&s.core, &parts.headers, &parts.extensions),
        }))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<SignedIn, Response> {
        match SignedIn::of(parts, s).await? {
            Some(u) => Ok(u),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                let to = if here == "/" {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", crate::render::urlencode(&here))
                };
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        s: &AppState,
    ) -> Result<Option<SignedIn>, Response> {
        SignedIn::of(parts, s).await
    }
}

/// The language of a page seen without signing in: `?lang=`, the cookie, the browser.
pub fn anonymous_lang(query: Option<&str>, headers: &HeaderMap) -> Tr {
    Tr::new(Lang::of_request(query, headers))
}

/// The duration of a session.
pub fn session_length() -> Duration {
    Duration::days(SESSION_DAYS)
}

/// A `Set-Cookie` that keeps the language of a signed-out visitor.
pub fn lang_cookie(lang: Lang) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    ))
    .expect("language codes are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_hex() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        let (t, p) = new_api_token();
        assert!(t.starts_with("kanta_") && t.starts_with(&p) && p.len() == 14);
    }

    #[test]
    fn digest_is_sha256_hex() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn passwords_are_long_and_from_the_alphabet() {
        let p = new_password();
        assert_eq!(p.chars().count(), 20);
        assert!(
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
        );
        assert!(check_new_password(&p).is_ok());
        assert!(check_new_password("short").is_err());
    }

    #[tokio::test]
    async fn argon2id_hashes_verify_and_reject() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(Some(h.clone()), "correct horse battery".into()).await);
        assert!(!verify_password(Some(h), "Correct horse battery".into()).await);
        assert!(!verify_password(None, "anything".into()).await);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kanta_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn session_cookie_is_httponly_lax_and_secure_on_https() {
        let c = set_cookie(SESSION_COOKIE, "x", 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        let c = set_cookie(SESSION_COOKIE, "x", 60, false);
        assert!(!c.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Manager && Role::Manager > Role::Staff);
        assert!(Role::Staff > Role::Viewer);
        assert_eq!(Role::parse("ADMIN"), Some(Role::Admin));
        assert_eq!(Role::parse("owner"), None);
    }
}
