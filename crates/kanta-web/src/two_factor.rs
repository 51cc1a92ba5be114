//! Two-factor sign-in pages (issue 15; the rules are `kanta_core::two_factor`'s).
//!
//! - `/login/code`: the second step of a sign-in whose password was right: a code
//!   from the authenticator app, or a recovery code.
//! - `/login/setup`: an admin whom the setting `two_factor_admins` requires to use it,
//!   and who has not set it up, does it here before getting a session.
//! - `/account/two-factor`: any user sets it up from their account page; `/off` turns
//!   it off (with the password), `/recovery` makes new recovery codes (with a code).
//! - `/admin/users/{id}/two-factor/reset`: an admin turns it off for a user who lost
//!   their phone and codes.
//!
//! The waiting sign-in's secret travels in the `kanta_2fa` cookie (HttpOnly,
//! SameSite=Lax, ten minutes); the code forms carry the login form's double-submit
//! CSRF token. Recovery codes are shown once, on a page nobody caches.

use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanta_core::access::ADMIN_AREA;
use kanta_core::two_factor::{CHALLENGE_MINUTES, KeySetup, SecondStep};
use serde::Deserialize;

use crate::AppState;
use crate::account::{
    core_err, private, query_param, safe_next, see_other, start_session, wait_text,
};
use crate::api::ApiError;
use crate::auth::{self, LOGIN_CSRF_COOKIE, Me, SignedIn};
use crate::i18n::Tr;
use crate::render::render;

/// The cookie holding a waiting sign-in's secret.
pub const CHALLENGE_COOKIE: &str = "kanta_2fa";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/code", get(code_form).post(code))
        .route("/login/setup", get(setup_form).post(setup))
        .route(
            "/account/two-factor",
            get(account_setup_form).post(account_setup),
        )
        .route("/account/two-factor/off", post(turn_off))
        .route("/account/two-factor/recovery", post(new_codes))
        .route("/admin/users/{id}/two-factor/reset", post(reset))
}

/// After a right password that needs a second step: the waiting sign-in's cookie and
/// a redirect to its form.
pub(crate) fn to_second_step(
    headers: &HeaderMap,
    uri: &Uri,
    secret: &str,
    enrol: bool,
    next: &str,
) -> Response {
    let form = if enrol { "/login/setup" } else { "/login/code" };
    let mut r = see_other(&format!("{form}?next={}", encode(next)));
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(
            CHALLENGE_COOKIE,
            secret,
            CHALLENGE_MINUTES * 60,
            auth::is_https(headers, uri),
        ),
    );
    r
}

/// `next` as a query value.
fn encode(next: &str) -> String {
    crate::render::urlencode(next)
}

fn challenge(headers: &HeaderMap) -> Option<&str> {
    auth::cookie(headers, CHALLENGE_COOKIE).filter(|c| !c.is_empty())
}

/// The QR code of an `otpauth://` address as inline SVG (made here, from no text a
/// user typed but their email inside the code's modules).
fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: without the XML declaration.
            match svg.find("<svg") {
                Some(i) => svg[i..].to_string(),
                None => String::new(),
            }
        }
        Err(_) => String::new(),
    }
}

/// A base32 key in groups of four, as people copy it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "two_factor_setup.html")]
struct SetupPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    next: String,
    /// Where the form posts: `/login/setup` or `/account/two-factor`.
    action: &'static str,
    /// The settings require it (the sign-in's set-up step).
    required: bool,
    qr: String,
    secret: String,
    url: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage {
    tr: Tr,
    me: Option<Me>,
    codes: Vec<String>,
    next: String,
}

/// A page of the sign-in's second step, with a fresh double-submit CSRF cookie.
fn with_login_csrf(
    page: impl FnOnce(String) -> Response,
    headers: &HeaderMap,
    uri: &Uri,
    status: StatusCode,
) -> Response {
    let csrf = auth::new_secret();
    let mut r = private(page(csrf.clone()), status);
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, auth::is_https(headers, uri)),
    );
    r
}

fn code_page(
    tr: Tr,
    headers: &HeaderMap,
    uri: &Uri,
    next: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    with_login_csrf(
        |csrf| {
            render(&CodePage {
                tr,
                me: None,
                csrf,
                next,
                error,
            })
        },
        headers,
        uri,
        status,
    )
}

/// Back to the login form, the waiting sign-in gone: `text` says why.
fn start_again(tr: Tr, headers: &HeaderMap, uri: &Uri, next: &str, text: &str) -> Response {
    let mut r = crate::account::login_page(
        tr,
        headers,
        uri,
        next.to_string(),
        String::new(),
        Some(text.to_string()),
        StatusCode::UNAUTHORIZED,
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(CHALLENGE_COOKIE, "", 0, auth::is_https(headers, uri)),
    );
    r
}

/// `GET /login/code`.
async fn code_form(headers: HeaderMap, uri: Uri, RawQuery(q): RawQuery) -> Response {
    let next = safe_next(query_param(q.as_deref(), "next").as_deref());
    if challenge(&headers).is_none() {
        return see_other(&format!("/login?next={}", encode(&next)));
    }
    let tr = auth::anonymous_lang(None, &headers);
    code_page(tr, &headers, &uri, next, None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// What a step's form posted, checked: the client's address, the form, the page's
/// language, `next`; or the answer when over the rate limit or the CSRF token is off.
async fn step_form(
    s: &AppState,
    headers: &HeaderMap,
    request: Request,
) -> Result<(String, CodeForm, Tr, String), Response> {
    let ip = auth::client_ip(&s.core, request.headers(), request.extensions())
        .unwrap_or_else(|| "unknown".to_string());
    let Form(f) = Form::<CodeForm>::from_request(request, s)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()).into_response())?;
    let tr = auth::anonymous_lang(None, headers);
    let next = safe_next(f.next.as_deref());
    if !crate::limits::sign_in_ok(s, &ip).await {
        let status = StatusCode::TOO_MANY_REQUESTS;
        let mut r = private(
            crate::render::error_page(tr, None, status, tr.t("auth.rate_limited")),
            status,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, crate::limits::retry_after().into());
        return Err(r);
    }
    let sent = auth::cookie(headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if sent.is_empty() || !auth::same_secret(sent, f.csrf.trim()) {
        let status = StatusCode::FORBIDDEN;
        return Err(private(
            crate::render::error_page(tr, None, status, tr.t("auth.login_expired")),
            status,
        ));
    }
    Ok((ip, f, tr, next))
}

/// The session after a passed second step, the waiting sign-in's and CSRF cookies
/// cleared, on `r`.
async fn signed_in(
    s: &AppState,
    user: &kanta_store::accounts::User,
    headers: &HeaderMap,
    uri: &Uri,
    mut r: Response,
) -> Result<Response, Response> {
    start_session(s, user, headers, uri, &mut r)
        .await
        .map_err(IntoResponse::into_response)?;
    let secure = auth::is_https(headers, uri);
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(CHALLENGE_COOKIE, "", 0, secure),
    );
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    );
    Ok(r)
}

/// The answer to a step that did not pass.
fn not_passed(
    step: SecondStep,
    tr: Tr,
    headers: &HeaderMap,
    uri: &Uri,
    next: &str,
    again: impl FnOnce(String) -> Response,
) -> Response {
    match step {
        SecondStep::Wrong { tries_left } => again(
            tr.t("two_factor.wrong_code")
                .replace("{n}", &tries_left.to_string()),
        ),
        SecondStep::TooMany { wait_seconds } => {
            let text = tr
                .t("auth.too_many")
                .replace("{wait}", &wait_text(&tr, wait_seconds));
            let status = StatusCode::TOO_MANY_REQUESTS;
            let mut r = private(crate::render::error_page(tr, None, status, &text), status);
            r.headers_mut()
                .insert(header::RETRY_AFTER, wait_seconds.into());
            r
        }
        SecondStep::Expired | SecondStep::Ok { .. } => {
            start_again(tr, headers, uri, next, tr.t("two_factor.expired"))
        }
    }
}

/// `POST /login/code`.
async fn code(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    request: Request,
) -> Result<Response, Response> {
    let (ip, f, tr, next) = step_form(&s, &headers, request).await?;
    let secret = challenge(&headers).unwrap_or("");
    let step = s
        .core
        .second_factor(secret, &f.code, &ip)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    match step {
        SecondStep::Ok { user, .. } => signed_in(&s, &user, &headers, &uri, see_other(&next)).await,
        other => Ok(not_passed(other, tr, &headers, &uri, &next, |text| {
            code_page(
                tr,
                &headers,
                &uri,
                next.clone(),
                Some(text),
                StatusCode::UNAUTHORIZED,
            )
        })),
    }
}

/// The set-up page of `key`, posting to `action` (`/login/setup`, where the settings
/// require it, or `/account/two-factor`), with `error` when a code was wrong.
fn setup_page(
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    next: String,
    action: &'static str,
    (key, error): (&KeySetup, Option<String>),
) -> Response {
    render(&SetupPage {
        tr,
        me,
        csrf,
        next,
        action,
        required: action == "/login/setup",
        qr: qr_svg(&key.url),
        secret: grouped(&key.secret),
        url: key.url.clone(),
        error,
    })
}

/// `GET /login/setup`.
async fn setup_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Result<Response, Response> {
    let next = safe_next(query_param(q.as_deref(), "next").as_deref());
    let tr = auth::anonymous_lang(None, &headers);
    let Some(secret) = challenge(&headers) else {
        return Ok(see_other(&format!("/login?next={}", encode(&next))));
    };
    let Some((_, key)) = s
        .core
        .enrol_key(secret)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
    else {
        return Ok(start_again(
            tr,
            &headers,
            &uri,
            &next,
            tr.t("two_factor.expired"),
        ));
    };
    Ok(with_login_csrf(
        |csrf| setup_page(tr, None, csrf, next, "/login/setup", (&key, None)),
        &headers,
        &uri,
        StatusCode::OK,
    ))
}

/// `POST /login/setup`.
async fn setup(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    request: Request,
) -> Result<Response, Response> {
    let (ip, f, tr, next) = step_form(&s, &headers, request).await?;
    let secret = challenge(&headers).unwrap_or("").to_string();
    let step = s
        .core
        .enrol_and_sign_in(&secret, &f.code, &ip)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    match step {
        SecondStep::Ok { user, codes, .. } => {
            let page = private(
                render(&CodesPage {
                    tr,
                    me: None,
                    codes,
                    next,
                }),
                StatusCode::OK,
            );
            signed_in(&s, &user, &headers, &uri, page).await
        }
        SecondStep::Wrong { tries_left } => {
            let key = s
                .core
                .enrol_key(&secret)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            let text = tr
                .t("two_factor.wrong_code")
                .replace("{n}", &tries_left.to_string());
            Ok(match key {
                Some((_, key)) => with_login_csrf(
                    |csrf| {
                        setup_page(
                            tr,
                            None,
                            csrf,
                            next.clone(),
                            "/login/setup",
                            (&key, Some(text)),
                        )
                    },
                    &headers,
                    &uri,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                None => start_again(tr, &headers, &uri, &next, tr.t("two_factor.expired")),
            })
        }
        other => Ok(not_passed(other, tr, &headers, &uri, &next, |_| {
            StatusCode::UNAUTHORIZED.into_response()
        })),
    }
}

/// `GET /account/two-factor`: the key to scan, and the code that confirms it.
async fn account_setup_form(State(s): State<AppState>, me: SignedIn) -> Result<Response, Response> {
    if me.user.two_factor_since.is_some() {
        return Ok(see_other("/account"));
    }
    account_setup_page(&s, &me, None, StatusCode::OK).await
}

/// The account's set-up page: the pending key (made when there is none), with
/// `error` when a code was wrong.
async fn account_setup_page(
    s: &AppState,
    me: &SignedIn,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, Response> {
    let key = s
        .core
        .begin_two_factor(&me.acting())
        .await
        .map_err(|e| core_err(me, e))?;
    Ok(private(
        setup_page(
            me.tr,
            Some(me.me()),
            me.csrf.clone(),
            "/account".into(),
            "/account/two-factor",
            (&key, error),
        ),
        status,
    ))
}

#[derive(Debug, Deserialize)]
struct SignedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// The new recovery codes of the signed-in user, shown once.
fn account_codes(me: &SignedIn, codes: Vec<String>) -> Response {
    private(
        render(&CodesPage {
            tr: me.tr,
            me: Some(me.me()),
            codes,
            next: "/account".into(),
        }),
        StatusCode::OK,
    )
}

/// `POST /account/two-factor`: turns it on with a code of the key shown.
async fn account_setup(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<SignedForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    match s.core.confirm_two_factor(&me.acting(), &f.code).await {
        Ok(codes) => Ok(account_codes(&me, codes)),
        Err(kanta_core::CoreError::Invalid(_)) => {
            let error = me.tr.t("two_factor.wrong_setup_code").to_string();
            account_setup_page(&s, &me, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(core_err(&me, e)),
    }
}

/// `POST /account/two-factor/recovery`: new recovery codes, given a current code.
async fn new_codes(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<SignedForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    match s.core.new_recovery_codes(&me.acting(), &f.code).await {
        Ok(codes) => Ok(account_codes(&me, codes)),
        Err(kanta_core::CoreError::Invalid(_)) => Ok(crate::account::account_error(
            &s,
            &me,
            me.tr.t("two_factor.wrong_current_code").to_string(),
        )
        .await),
        Err(e) => Err(core_err(&me, e)),
    }
}

/// `POST /account/two-factor/off`: with the password; refused while required.
async fn turn_off(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<SignedForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    match s.core.turn_off_two_factor(&me.acting(), f.password).await {
        Ok(()) => Ok(see_other("/account?saved=two_factor_off")),
        Err(kanta_core::CoreError::Invalid(p)) => {
            let key = if p.iter().any(|p| p.field == "password") {
                "two_factor.wrong_password"
            } else {
                "two_factor.required_no_off"
            };
            Ok(crate::account::account_error(&s, &me, me.tr.t(key).to_string()).await)
        }
        Err(e) => Err(core_err(&me, e)),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/users/{id}/two-factor/reset` (admins).
async fn reset(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    me.require(ADMIN_AREA)?;
    let user = s
        .store
        .user(id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .ok_or_else(|| {
            core_err(
                &me,
                kanta_core::CoreError::NotFound(format!("there is no user {id}")),
            )
        })?;
    s.core
        .reset_two_factor(&me.acting(), &user.email)
        .await
        .map_err(|e| core_err(&me, e))?;
    Ok(see_other("/admin/users"))
}
