//! Signing in and out, the user's own account page, and the admin's pages for users and
//! API tokens.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use kanta_core::CoreError;
use kanta_core::access::ADMIN_AREA;
use kanta_core::accounts::SignIn;
use kanta_store::StoreError;
use kanta_store::accounts::{ApiToken, Role, User};
use serde::Deserialize;

use crate::AppState;
use crate::api::ApiError;
use crate::auth::{self, LOGIN_CSRF_COOKIE, Me, SESSION_COOKIE, SignedIn};
use crate::i18n::{Lang, Tr};
use crate::render::render;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account))
        .route("/account/language", post(set_language))
        .route("/account/time-zone", post(set_time_zone))
        .route("/account/password", post(set_password))
        .route("/account/digest", post(set_digest))
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}", post(change_user))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/users/{id}/unlock", post(unlock_user))
        .route("/admin/tokens", get(tokens).post(add_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

/// A page with secrets or forms of one user: its status, and no caching anywhere.
pub(crate) fn private(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    r
}

/// The longest `next` kept; a longer one goes to `/`.
const MAX_NEXT_LEN: usize = 2048;

/// Where to go after signing in: a plain path on this site, else `/`.
///
/// Accepted: one leading `/` not followed by `/` or `\`, then visible ASCII only (no
/// control characters, no whitespace, no backslash, no non-ASCII), at most
/// [`MAX_NEXT_LEN`] bytes; percent-decoded once more, it must still start with a single
/// `/` and hold no control character or backslash (so `/%2F/host` or `/%09/host`, as
/// the literal text of a form field, are refused too). Browsers drop tabs and newlines
/// from a `Location` and read `\` as `/`, which would turn `/\t/host` into `//host`,
/// another site; the value checked is the one already decoded from the query or form.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if plain_path(n.as_bytes())
                && harmless_decoded(&percent_decode(n))
                && no_dot_segments(&percent_decode(n)) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// One `/`, not followed by `/` or `\`, then visible ASCII but `\`.
fn plain_path(n: &[u8]) -> bool {
    n.len() <= MAX_NEXT_LEN
        && n.first() == Some(&b'/')
        && !matches!(n.get(1), Some(b'/' | b'\\'))
        && n.iter().all(|&b| b.is_ascii_graphic() && b != b'\\')
}

/// Percent-decoded once more: still no second leading `/` or `\`, no control
/// character and no `\` (an encoded space, as in `?q=a%20b`, is fine).
fn harmless_decoded(n: &[u8]) -> bool {
    !matches!(n.get(1), Some(b'/' | b'\\'))
        && !n.iter().any(|&b| b.is_ascii_control() || b == b'\\')
}

/// No `.` or `..` segment in the path (before `?` or `#`): `/.//host` is resolved
/// by browsers to the path `//host`, which is not the plain path it looks like.
fn no_dot_segments(n: &[u8]) -> bool {
    let end = n
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(n.len());
    n[..end]
        .split(|&b| b == b'/')
        .all(|seg| seg != b"." && seg != b"..")
}

/// `%XX` decoded to bytes (a `%` without two hex digits after it stays as it is).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The `name` parameters of a query string, decoded (`+` is a space); the first of
/// each. Never fails: what cannot be read is left out.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let k = String::from_utf8_lossy(&percent_decode(&k.replace('+', " "))).into_owned();
        (k == name)
            .then(|| String::from_utf8_lossy(&percent_decode(&v.replace('+', " "))).into_owned())
    })
}

/// A 303 to `next` (a [`safe_next`] path), or to `/` should it not be a header value.
pub(crate) fn see_other(next: &str) -> Response {
    let to = HeaderValue::from_str(next).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(header::LOCATION, to);
    r
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

/// Renders the login form with a fresh double-submit CSRF cookie.
pub(crate) fn login_page(
    tr: Tr,
    headers: &HeaderMap,
    uri: &Uri,
    next: String,
    email: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = auth::new_secret();
    let page = render(&LoginPage {
        tr,
        me: None,
        csrf: csrf.clone(),
        next,
        email,
        error,
    });
    let mut r = private(page, status);
    let secure = auth::is_https(headers, uri);
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, secure),
    );
    h.append(header::SET_COOKIE, auth::lang_cookie(tr.lang));
    r
}

/// The login page: `?next=` (kept only when [`safe_next`] accepts it) and `?lang=`.
/// Whatever the query holds, the answer is the page or a redirect, never an error.
async fn login_form(
    me: Option<SignedIn>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Response {
    let next = safe_next(query_param(q.as_deref(), "next").as_deref());
    if me.is_some() {
        return see_other(&next);
    }
    let lang = query_param(q.as_deref(), "lang");
    let tr = auth::anonymous_lang(lang.as_deref(), &headers);
    login_page(
        tr,
        &headers,
        &uri,
        next,
        String::new(),
        None,
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    request: Request,
) -> Result<Response, ApiError> {
    let ip = auth::client_ip(&s.core, request.headers(), request.extensions())
        .unwrap_or_else(|| "unknown".to_string());
    let Form(f) = Form::<LoginForm>::from_request(request, &s)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let tr = auth::anonymous_lang(None, &headers);
    let next = safe_next(f.next.as_deref());
    let again = |error: &str, status| {
        login_page(
            tr,
            &headers,
            &uri,
            next.clone(),
            f.email.clone(),
            Some(error.to_string()),
            status,
        )
    };
    if !crate::limits::sign_in_ok(&s, &ip).await {
        let mut r = again(tr.t("auth.rate_limited"), StatusCode::TOO_MANY_REQUESTS);
        r.headers_mut()
            .insert(header::RETRY_AFTER, crate::limits::retry_after().into());
        return Ok(r);
    }
    let sent = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if sent.is_empty() || !auth::same_secret(sent, f.csrf.trim()) {
        return Ok(again(tr.t("auth.login_expired"), StatusCode::FORBIDDEN));
    }
    // The core keeps the sign-in throttle, checks the password, and audits the
    // sign-in or the failure.
    let user = match s.core.sign_in(&f.email, f.password, &ip).await? {
        SignIn::Ok(user) => user,
        SignIn::Refused => return Ok(again(tr.t("auth.bad_login"), StatusCode::UNAUTHORIZED)),
        SignIn::TooMany { wait_seconds } => {
            let text = tr
                .t("auth.too_many")
                .replace("{wait}", &wait_text(&tr, wait_seconds));
            let mut r = again(&text, StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut()
                .insert(header::RETRY_AFTER, wait_seconds.into());
            return Ok(r);
        }
        SignIn::SecondStep { secret, enrol } => {
            return Ok(crate::two_factor::to_second_step(
                &headers, &uri, &secret, enrol, &next,
            ));
        }
    };
    // The redirect first: the session (and its cookie) only once there is one to
    // carry it.
    let mut r = see_other(&next);
    start_session(&s, &user, &headers, &uri, &mut r).await?;
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, auth::is_https(&headers, &uri)),
    );
    Ok(r)
}

/// A wait in whole minutes, rounded up, in the page's language: `1 minute`,
/// `15 minuuttia`.
pub(crate) fn wait_text(tr: &Tr, seconds: i64) -> String {
    let minutes = ((seconds + 59) / 60).max(1);
    if minutes == 1 {
        tr.t("auth.wait_one_minute").to_string()
    } else {
        tr.t("auth.wait_minutes")
            .replace("{n}", &minutes.to_string())
    }
}

/// Starts a session for `user` and sets its cookie on `r`.
pub(crate) async fn start_session(
    s: &AppState,
    user: &User,
    headers: &HeaderMap,
    uri: &Uri,
    r: &mut Response,
) -> Result<(), ApiError> {
    let secret = auth::new_secret();
    let expires = Utc::now() + auth::session_length();
    s.store
        .create_session(
            user.id,
            &auth::digest(&secret),
            &auth::new_secret(),
            expires,
        )
        .await?;
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(
            SESSION_COOKIE,
            &secret,
            auth::session_length().num_seconds(),
            auth::is_https(headers, uri),
        ),
    );
    Ok(())
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    me: SignedIn,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    s.store
        .end_session(&me.session_digest)
        .await
        .map_err(store_err)?;
    s.core
        .sign_out(&me.acting())
        .await
        .map_err(|e| core_err(&me, e))?;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(SESSION_COOKIE, "", 0, auth::is_https(&headers, &uri)),
    );
    Ok(r)
}

fn store_err(e: StoreError) -> Response {
    ApiError::from(e).into_response()
}

/// A refusal of the core as a page: 403 as the forbidden page, the rest as problems.
pub(crate) fn core_err(me: &SignedIn, e: CoreError) -> Response {
    match e {
        CoreError::Forbidden(_) => {
            auth::forbidden_page(me.tr, me.tr.t("auth.forbidden"), Some(me.me()))
        }
        e => ApiError::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    tr: Tr,
    me: Option<Me>,
    user: User,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The store's time zone, named by the "store's zone" choice when known.
    store_zone: Option<String>,
    /// Whether the weekly digest mail is on (staff and above; `None`: not shown).
    weekly_digest: Option<bool>,
    /// The user's two-factor sign-in (`None`: not read, on pages of a failed form).
    two_factor: Option<kanta_core::two_factor::TwoFactorStatus>,
}

/// Time zones the account page offers by name (any other is typed).
const COMMON_ZONES: &[&str] = &[
    "Europe/Helsinki",
    "Europe/Stockholm",
    "Europe/Tallinn",
    "Europe/Oslo",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
];

impl AccountPage {
    fn zone_is(&self, name: &str) -> bool {
        self.user.time_zone.as_deref().unwrap_or("") == name
    }
    /// The zones to choose from: the common ones and the user's own.
    fn zones(&self) -> Vec<&str> {
        let mut z: Vec<&str> = COMMON_ZONES.to_vec();
        if let Some(own) = self.user.time_zone.as_deref()
            && !z.contains(&own)
        {
            z.push(own);
        }
        z
    }
    fn when(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref()
            .map_or_else(String::new, |t| self.tr.date_time(t))
    }
    fn role_text(&self) -> &'static str {
        role_name(&self.tr, self.user.role)
    }
    fn lang_is(&self, code: &str) -> bool {
        self.user.lang.as_deref().unwrap_or("") == code
    }
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    saved: Option<String>,
}

async fn account(
    State(s): State<AppState>,
    me: SignedIn,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.saved.as_deref() {
        Some("language") => Some("account.saved_language"),
        Some("time_zone") => Some("account.saved_time_zone"),
        Some("password") => Some("account.saved_password"),
        Some("digest") => Some("owners.digest.saved"),
        Some("two_factor_off") => Some("two_factor.saved_off"),
        _ => None,
    };
    full_account(&s, &me, notice, None, StatusCode::OK).await
}

/// The account page with everything on it.
async fn full_account(
    s: &AppState,
    me: &SignedIn,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let weekly_digest = if me.user.role >= kanta_core::access::Role::Staff {
        s.core.weekly_digest(me.user.id).await.ok()
    } else {
        None
    };
    let r = render(&AccountPage {
        store_zone: s.core.time_zone().await.ok().map(|z| z.name().to_string()),
        weekly_digest,
        two_factor: s.core.two_factor_status(&me.acting()).await.ok(),
        ..account_view(me, notice, error)
    });
    private(r, status)
}

/// The account page with a form's error (422).
pub(crate) async fn account_error(s: &AppState, me: &SignedIn, error: String) -> Response {
    full_account(s, me, None, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await
}

fn account_view(me: &SignedIn, notice: Option<&'static str>, error: Option<String>) -> AccountPage {
    AccountPage {
        tr: me.tr,
        me: Some(me.me()),
        user: me.user.clone(),
        csrf: me.csrf.clone(),
        notice,
        error,
        store_zone: None,
        weekly_digest: None,
        two_factor: None,
    }
}

fn account_page(
    me: &SignedIn,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let mut r = render(&account_view(me, notice, error));
    *r.status_mut() = status;
    r
}

#[derive(Debug, Deserialize)]
struct TimeZoneForm {
    #[serde(default)]
    csrf: String,
    /// A zone of the list; empty: the store's.
    #[serde(default)]
    zone: String,
    /// Another zone, typed; wins over the list when given.
    #[serde(default)]
    other: String,
}

async fn set_time_zone(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<TimeZoneForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    let chosen = Some(f.other.trim())
        .filter(|o| !o.is_empty())
        .unwrap_or(f.zone.trim());
    match s
        .core
        .set_user_time_zone(&me.acting(), me.user.id, Some(chosen))
        .await
    {
        Ok(_) => Ok(Redirect::to("/account?saved=time_zone").into_response()),
        Err(CoreError::Invalid(_)) => Ok(account_page(
            &me,
            None,
            Some(me.tr.t("account.time_zone.invalid").to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(e) => Err(core_err(&me, e)),
    }
}

#[derive(Debug, Deserialize)]
struct DigestForm {
    #[serde(default)]
    csrf: String,
    /// Present (a checked box): the weekly digest on.
    #[serde(default)]
    digest: Option<String>,
}

/// `POST /account/digest`: the weekly digest mail on or off (audited by the core).
async fn set_digest(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<DigestForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    s.core
        .set_weekly_digest(&me.acting(), me.user.id, f.digest.is_some())
        .await
        .map_err(|e| core_err(&me, e))?;
    Ok(Redirect::to("/account?saved=digest").into_response())
}

#[derive(Debug, Deserialize)]
struct LanguageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

async fn set_language(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<LanguageForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    let lang = Lang::parse(&f.lang).map(Lang::code);
    s.core
        .set_user_language(&me.acting(), me.user.id, lang)
        .await
        .map_err(|e| core_err(&me, e))?;
    Ok(Redirect::to("/account?saved=language").into_response())
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

async fn set_password(
    State(s): State<AppState>,
    me: SignedIn,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<PasswordForm>,
) -> Result<Response, Response> {
    me.check_csrf(&f.csrf)?;
    let tr = me.tr;
    if !auth::verify_password(Some(me.user.password_hash.clone()), f.current).await {
        return Ok(account_page(
            &me,
            None,
            Some(tr.t("account.wrong_current").to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    if f.new != f.repeat {
        return Ok(account_page(
            &me,
            None,
            Some(tr.t("account.mismatch").to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    // A new password ends every session; this one starts afresh.
    match s
        .core
        .set_password(&me.acting(), me.user.id, Some(f.new))
        .await
    {
        Ok(_) => {}
        Err(CoreError::Invalid(_)) => {
            return Ok(account_page(
                &me,
                None,
                Some(tr.t("account.too_short").to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
        Err(e) => return Err(core_err(&me, e)),
    }
    let mut r = Redirect::to("/account?saved=password").into_response();
    start_session(&s, &me.user, &headers, &uri, &mut r)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(r)
}

/// A role and its name in the page's language.
struct RoleChoice {
    code: &'static str,
    name: &'static str,
}

fn role_choices(tr: &Tr) -> Vec<RoleChoice> {
    Role::ALL
        .into_iter()
        .rev()
        .map(|r| RoleChoice {
            code: r.as_str(),
            name: role_name(tr, r),
        })
        .collect()
}

/// A role's name in the page's language.
pub fn role_name(tr: &Tr, r: Role) -> &'static str {
    match r {
        Role::Admin => tr.t("role.admin"),
        Role::Manager => tr.t("role.manager"),
        Role::Staff => tr.t("role.staff"),
        Role::Viewer => tr.t("role.viewer"),
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    my_id: i64,
    users: Vec<User>,
    roles: Vec<RoleChoice>,
    /// A password shown once: (email, password).
    shown: Option<(String, String)>,
    error: Option<String>,
    /// The users whose sign-ins must wait now, by email: until when (the latest).
    locks: std::collections::HashMap<String, DateTime<Utc>>,
}

impl UsersPage {
    fn when(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref()
            .map_or_else(String::new, |t| self.tr.date_time(t))
    }

    /// "Locked after failed sign-ins until ..." when the user's sign-ins must wait.
    fn lock_text(&self, u: &User) -> Option<String> {
        self.locks.get(&u.email).map(|until| {
            self.tr
                .t("admin.users.locked")
                .replace("{until}", &self.tr.date_time(until))
        })
    }
}

async fn users_page(
    s: &AppState,
    me: &SignedIn,
    shown: Option<(String, String)>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, Response> {
    let users = s.store.users().await.map_err(store_err)?;
    let mut locks = std::collections::HashMap::<String, DateTime<Utc>>::new();
    for l in s
        .core
        .sign_in_locks(&me.acting())
        .await
        .map_err(|e| core_err(me, e))?
    {
        let until = locks.entry(l.email).or_insert(l.until);
        *until = (*until).max(l.until);
    }
    let r = render(&UsersPage {
        tr: me.tr,
        me: Some(me.me()),
        csrf: me.csrf.clone(),
        my_id: me.user.id,
        users,
        roles: role_choices(&me.tr),
        shown,
        error,
        locks,
    });
    Ok(private(r, status))
}

async fn users(State(s): State<AppState>, me: SignedIn) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    users_page(&s, &me, None, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
struct AddUserForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    #[serde(default)]
    password: String,
}

async fn add_user(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<AddUserForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    let tr = me.tr;
    let error = |key: &str| Some(tr.t(key).to_string());
    let Some(role) = Role::parse(&f.role) else {
        let e = error("admin.users.bad_role");
        return users_page(&s, &me, None, e, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let password = Some(f.password).filter(|p| !p.is_empty());
    let added = s
        .core
        .add_user(&me.acting(), &f.email, Some(&f.name), role, password)
        .await;
    match added {
        Ok((u, made_up)) => {
            tracing::info!(by = %me.user.email, user = %u.email, role = %u.role, "user added");
            let shown = made_up.map(|p| (u.email.clone(), p));
            users_page(&s, &me, shown, None, StatusCode::CREATED).await
        }
        Err(CoreError::Invalid(problems)) => {
            let key = match problems.first().map(|p| p.field.as_str()) {
                Some("password") => "account.too_short",
                _ => "admin.users.bad_email",
            };
            users_page(&s, &me, None, error(key), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(CoreError::Conflict { .. }) => {
            let e = error("admin.users.exists");
            users_page(&s, &me, None, e, StatusCode::CONFLICT).await
        }
        Err(e) => Err(core_err(&me, e)),
    }
}

#[derive(Debug, Deserialize)]
struct ChangeUserForm {
    #[serde(default)]
    csrf: String,
    role: String,
    /// A checkbox: present when ticked.
    active: Option<String>,
}

async fn change_user(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<ChangeUserForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    let Some(role) = Role::parse(&f.role) else {
        return users_page(
            &s,
            &me,
            None,
            Some(me.tr.t("admin.users.bad_role").to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let active = f.active.is_some();
    // The core keeps the last active admin one (a conflict).
    match s.core.change_user(&me.acting(), id, role, active).await {
        Ok(user) => {
            tracing::info!(by = %me.user.email, user = %user.email, role = %role, active, "user changed");
            Ok(Redirect::to("/admin/users").into_response())
        }
        Err(CoreError::Conflict { .. }) => {
            users_page(
                &s,
                &me,
                None,
                Some(me.tr.t("admin.users.last_admin").to_string()),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(core_err(&me, e)),
    }
}

async fn reset_password(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    let Some(user) = s.store.user(id).await.map_err(store_err)? else {
        return Err(ApiError::not_found(format!("no user {id}")).into_response());
    };
    let password = s
        .core
        .set_password(&me.acting(), id, None)
        .await
        .map_err(|e| core_err(&me, e))?
        .ok_or_else(|| ApiError::internal("no password was made up".into()).into_response())?;
    tracing::info!(by = %me.user.email, user = %user.email, "password reset");
    users_page(&s, &me, Some((user.email, password)), None, StatusCode::OK).await
}

/// Lets a user whose sign-ins must wait sign in at once, from every address (audited
/// as `unlock`).
async fn unlock_user(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    let Some(user) = s.store.user(id).await.map_err(store_err)? else {
        return Err(ApiError::not_found(format!("no user {id}")).into_response());
    };
    s.core
        .unlock_sign_ins(&me.acting(), &user.email)
        .await
        .map_err(|e| core_err(&me, e))?;
    tracing::info!(by = %me.user.email, user = %user.email, "sign-ins unlocked");
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    tokens: Vec<ApiToken>,
    roles: Vec<RoleChoice>,
    /// A new token shown once: (name, token).
    shown: Option<(String, String)>,
    error: Option<String>,
}

impl TokensPage {
    fn when(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref()
            .map_or_else(String::new, |t| self.tr.date_time(t))
    }
    fn role(&self, r: &Role) -> &'static str {
        role_name(&self.tr, *r)
    }
}

async fn tokens_page(
    s: &AppState,
    me: &SignedIn,
    shown: Option<(String, String)>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, Response> {
    let tokens = s.store.tokens().await.map_err(store_err)?;
    let r = render(&TokensPage {
        tr: me.tr,
        me: Some(me.me()),
        csrf: me.csrf.clone(),
        tokens,
        roles: role_choices(&me.tr),
        shown,
        error,
    });
    Ok(private(r, status))
}

async fn tokens(State(s): State<AppState>, me: SignedIn) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    tokens_page(&s, &me, None, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
struct AddTokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
    role: String,
}

async fn add_token(
    State(s): State<AppState>,
    me: SignedIn,
    Form(f): Form<AddTokenForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    let invalid = || me.tr.t("admin.tokens.invalid").to_string();
    let Some(role) = Role::parse(&f.role) else {
        return tokens_page(
            &s,
            &me,
            None,
            Some(invalid()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match s.core.create_token(&me.acting(), &f.name, role).await {
        Ok((t, token)) => {
            tracing::info!(by = %me.user.email, token = %t.name, role = %t.role, "API token created");
            tokens_page(&s, &me, Some((t.name, token)), None, StatusCode::CREATED).await
        }
        Err(CoreError::Invalid(_)) => {
            tokens_page(
                &s,
                &me,
                None,
                Some(invalid()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(core_err(&me, e)),
    }
}

async fn revoke_token(
    State(s): State<AppState>,
    me: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Response> {
    me.require(ADMIN_AREA)?;
    me.check_csrf(&f.csrf)?;
    s.core
        .revoke_token(&me.acting(), id)
        .await
        .map_err(|e| core_err(&me, e))?;
    tracing::info!(by = %me.user.email, token = id, "API token revoked");
    Ok(Redirect::to("/admin/tokens").into_response())
}

#[cfg(test)]
mod tests {
    use super::{query_param, safe_next};

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/customers/c1?lang=fi")),
            "/customers/c1?lang=fi"
        );
        assert_eq!(safe_next(Some("/customers?q=x")), "/customers?q=x");
        assert_eq!(
            safe_next(Some("/customers?q=a%20b&sort=name")),
            "/customers?q=a%20b&sort=name"
        );
        assert_eq!(safe_next(Some("/")), "/");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "\\/evil.example",
            "/\n/x",
            "/\t/evil.example/x",
            "/x\r\nSet-Cookie: a=b",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/customers/ä",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/x%0d%0aSet-Cookie:%20a=b",
            "customers",
            "",
            "javascript:alert(1)",
            "/.//evil.example",
            "/%2e//evil.example",
            "/a/../..//evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(4000)))), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn query_params_are_read_whatever_they_hold() {
        assert_eq!(
            query_param(Some("next=/%0a/x&lang=fi"), "next").as_deref(),
            Some("/\n/x")
        );
        assert_eq!(
            query_param(Some("next=/%0a/x&lang=fi"), "lang").as_deref(),
            Some("fi")
        );
        assert_eq!(
            query_param(Some("next=%ff%fe"), "next").as_deref(),
            Some("\u{fffd}\u{fffd}")
        );
        assert_eq!(query_param(Some("a&next"), "next").as_deref(), Some(""));
        assert_eq!(query_param(Some("x=1"), "next"), None);
        assert_eq!(query_param(None, "next"), None);
    }
}
