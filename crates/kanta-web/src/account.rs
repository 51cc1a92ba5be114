//! Signing in and out, the user's own account page, and the admin's pages for users and
//! API tokens.

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use kanta_core::CoreError;
use kanta_core::access::ADMIN_AREA;
use kanta_core::accounts::{LOGIN_WINDOW_MINUTES, SignIn};
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
        .route("/account/password", post(set_password))
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}", post(change_user))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/tokens", get(tokens).post(add_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

/// A page with secrets or forms of one user: its status, and no caching anywhere.
fn private(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    r
}

/// Where to go after signing in: a path on this site, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
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

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

/// Renders the login form with a fresh double-submit CSRF cookie.
fn login_page(
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

async fn login_form(
    me: Option<SignedIn>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if me.is_some() {
        return Redirect::to(&next).into_response();
    }
    let tr = auth::anonymous_lang(q.lang.as_deref(), &headers);
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
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
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
    let sent = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if sent.is_empty() || !auth::same_secret(sent, f.csrf.trim()) {
        return Ok(again(tr.t("auth.login_expired"), StatusCode::FORBIDDEN));
    }
    // The core checks the rate limit and the password, and audits the sign-in or the
    // failure.
    let user = match s.core.sign_in(&f.email, f.password, &ip).await? {
        SignIn::Ok(user) => user,
        SignIn::Refused => return Ok(again(tr.t("auth.bad_login"), StatusCode::UNAUTHORIZED)),
        SignIn::TooMany => {
            let mut r = again(tr.t("auth.too_many"), StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut()
                .insert(header::RETRY_AFTER, (LOGIN_WINDOW_MINUTES * 60).into());
            return Ok(r);
        }
    };
    let mut r = Redirect::to(&next).into_response();
    start_session(&s, &user, &headers, &uri, &mut r).await?;
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(LOGIN_CSRF_COOKIE, "", 0, auth::is_https(&headers, &uri)),
    );
    Ok(r)
}

/// Starts a session for `user` and sets its cookie on `r`.
async fn start_session(
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
fn core_err(me: &SignedIn, e: CoreError) -> Response {
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
}

impl AccountPage {
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

async fn account(me: SignedIn, Query(q): Query<NoticeQuery>) -> Response {
    let notice = match q.saved.as_deref() {
        Some("language") => Some("account.saved_language"),
        Some("password") => Some("account.saved_password"),
        _ => None,
    };
    account_page(&me, notice, None, StatusCode::OK)
}

fn account_page(
    me: &SignedIn,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let mut r = render(&AccountPage {
        tr: me.tr,
        me: Some(me.me()),
        user: me.user.clone(),
        csrf: me.csrf.clone(),
        notice,
        error,
    });
    *r.status_mut() = status;
    r
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
}

impl UsersPage {
    fn when(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref()
            .map_or_else(String::new, |t| self.tr.date_time(t))
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
    let r = render(&UsersPage {
        tr: me.tr,
        me: Some(me.me()),
        csrf: me.csrf.clone(),
        my_id: me.user.id,
        users,
        roles: role_choices(&me.tr),
        shown,
        error,
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
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/customers/c1?lang=fi")),
            "/customers/c1?lang=fi"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
