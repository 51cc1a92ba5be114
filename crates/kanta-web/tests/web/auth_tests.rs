//! Signing in and out, sessions, CSRF, the sign-in rate limit, API tokens and the admin's
//! pages, over real HTTP.

use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, form, login_of, page_as, post_form_as, request, spawn_app};

/// The value of a hidden input in a page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Opens the login page and posts the form: the answer to the post.
pub(crate) async fn sign_in(
    app: &App,
    email: &str,
    password: &str,
    extra: &[String],
) -> crate::Answer {
    let page = request(app, "GET", "/login?next=/customers/c1", extra, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = hidden(&page.body, "csrf");
    assert_eq!(
        page.cookie("kanta_login_csrf").as_deref(),
        Some(csrf.as_str())
    );
    let mut h = vec![format!("Cookie: kanta_login_csrf={csrf}")];
    h.extend_from_slice(extra);
    let body = form(&[
        ("csrf", &csrf),
        ("next", "/customers/c1"),
        ("email", email),
        ("password", password),
    ]);
    request(
        app,
        "POST",
        "/login",
        &h,
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await
}

#[tokio::test]
async fn a_user_signs_in_sees_pages_and_signs_out() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Not signed in: pages send to the login page, which remembers where to go.
        let a = request(&app, "GET", "/customers/c1", &[], None).await;
        assert_eq!(a.status, 303, "{backend}");
        assert_eq!(
            a.header("location").as_deref(),
            Some("/login?next=%2Fcustomers%2Fc1")
        );

        let (email, password) = login_of(Role::Staff);
        let a = sign_in(&app, &email.to_uppercase(), &password, &[]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(a.header("location").as_deref(), Some("/customers/c1"));
        let set = a
            .head
            .lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with("set-cookie: kanta_session=")
            })
            .expect("a session cookie")
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
            "{set}"
        );
        let secret = a.cookie("kanta_session").unwrap();
        let cookie = format!("Cookie: kanta_session={secret}");
        let page = request(
            &app,
            "GET",
            "/customers/c1",
            std::slice::from_ref(&cookie),
            None,
        )
        .await;
        assert_eq!(page.status, 200);
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            page.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert!(
            page.body.contains("Test staff"),
            "the header names the user"
        );
        let user = app.store.user_by_email(&email).await.unwrap().unwrap();
        assert!(user.last_login_at.is_some());

        // Signing out needs the session's CSRF token, then ends the session.
        let csrf = hidden(&page.body, "csrf");
        let a = request(
            &app,
            "POST",
            "/logout",
            std::slice::from_ref(&cookie),
            Some(("application/x-www-form-urlencoded", "csrf=wrong")),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = request(
            &app,
            "POST",
            "/logout",
            std::slice::from_ref(&cookie),
            Some((
                "application/x-www-form-urlencoded",
                &form(&[("csrf", &csrf)]),
            )),
        )
        .await;
        assert_eq!(a.status, 303);
        assert_eq!(a.header("location").as_deref(), Some("/login"));
        let a = request(&app, "GET", "/customers/c1", &[cookie], None).await;
        assert_eq!(a.status, 303, "the session has ended");
    }
}

#[tokio::test]
async fn sign_in_refuses_wrong_passwords_forged_forms_and_too_many_tries() {
    let app = spawn_app("sqlite").await;
    let (email, password) = login_of(Role::Viewer);
    let a = sign_in(&app, &email, "wrong password", &[]).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("The email or the password is wrong."));
    assert!(a.cookie("kanta_session").is_none());
    let a = sign_in(&app, "nobody@kanta.test", &password, &[]).await;
    assert_eq!(a.status, 401, "an unknown email reads the same");

    // A form posted without the login page's cookie (from another site) is refused.
    let body = form(&[("csrf", "x"), ("email", &email), ("password", &password)]);
    let a = request(
        &app,
        "POST",
        "/login",
        &[],
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await;
    assert_eq!(a.status, 403);

    // Over https (as a proxy tells), the cookie is Secure.
    let a = sign_in(
        &app,
        &email,
        &password,
        &["X-Forwarded-Proto: https".into()],
    )
    .await;
    assert_eq!(a.status, 303);
    assert!(
        a.head.contains("; Secure"),
        "the session cookie is Secure over https: {}",
        a.head
    );

    // Five failures of this account from this address make the next try from here
    // wait a minute, even with the right password (the sign-in above wiped the
    // earlier failures); the wait is told in the page's language.
    for _ in 0..5 {
        assert_eq!(sign_in(&app, &email, "wrong", &[]).await.status, 401);
    }
    let a = sign_in(&app, &email, &password, &[]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    let wait: i64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        a.body
            .contains("Too many failed sign-ins. Wait 1 minute and try again."),
        "{}",
        a.body
    );
    assert!(a.cookie("kanta_session").is_none());
    let a = sign_in(&app, &email, &password, &["Accept-Language: fi".into()]).await;
    assert_eq!(a.status, 429);
    assert!(
        a.body.contains("Odota 1 minuutti ja yritä uudelleen."),
        "{}",
        a.body
    );
    // An unknown account reads the same: nothing tells whether an account exists
    // (one failure for it above, four more here).
    for _ in 0..4 {
        assert_eq!(
            sign_in(&app, "nobody@kanta.test", "x", &[]).await.status,
            401
        );
    }
    let a = sign_in(&app, "nobody@kanta.test", "x", &[]).await;
    assert_eq!(a.status, 429);
    assert!(a.body.contains("Wait 1 minute"));
    // Other users are not locked out.
    let (admin, admin_pw) = login_of(Role::Admin);
    assert_eq!(sign_in(&app, &admin, &admin_pw, &[]).await.status, 303);
}

#[tokio::test]
async fn the_api_wants_a_live_token_or_a_session_with_csrf() {
    let app = spawn_app("sqlite").await;
    let a = api_as(&app, None, "GET", "/api/v1/customers/c1", None).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert!(
        a.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let a = request(
        &app,
        "GET",
        "/api/v1/customers/c1",
        &["Authorization: Bearer kanta_not_a_token".into()],
        None,
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("unknown or has been revoked"));
    let a = request(
        &app,
        "GET",
        "/api/v1/customers/c1",
        &["Authorization: Basic YWRtaW46YWRtaW4=".into()],
        None,
    )
    .await;
    assert_eq!(a.status, 401);
    for role in Role::ALL {
        let a = api_as(&app, Some(role), "GET", "/api/v1/customers/c1", None).await;
        assert_eq!(a.status, 200, "{role} reads");
        assert_eq!(a.json()["id"], "c1");
    }
    // The browser's session works for reads; a write with it needs the session's CSRF
    // token in the x-csrf-token header (a form on another site cannot send one).
    let s = &app.sessions[&Role::Staff];
    let cookie = format!("Cookie: {}", s.cookie());
    let a = request(
        &app,
        "GET",
        "/api/v1/stats",
        std::slice::from_ref(&cookie),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    let event = r#"{"events": [{"type": "interaction", "id": "i-csrf", "customer_id": "c1",
        "occurred_at": "2024-05-05T10:00:00Z", "kind": "call"}]}"#;
    let a = request(
        &app,
        "POST",
        "/api/v1/events",
        std::slice::from_ref(&cookie),
        Some(("application/json", event)),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("x-csrf-token"));
    let a = request(
        &app,
        "POST",
        "/api/v1/events",
        &[cookie, format!("X-CSRF-Token: {}", s.csrf)],
        Some(("application/json", event)),
    )
    .await;
    assert!((200..300).contains(&a.status), "{}: {}", a.status, a.body);
    assert!(
        app.store
            .get(&kanta_domain::schema::INTERACTIONS, "i-csrf")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn admin_pages_are_for_admins_only() {
    let app = spawn_app("sqlite").await;
    for role in [Role::Viewer, Role::Staff, Role::Manager] {
        for path in ["/admin/users", "/admin/tokens"] {
            let a = page_as(&app, role, path, &[]).await;
            assert_eq!(a.status, 403, "{role} {path}");
            assert!(a.body.contains("Your role does not allow this."));
        }
        let a = post_form_as(
            &app,
            role,
            "/admin/tokens",
            &[("name", "x"), ("role", "admin")],
        )
        .await;
        assert_eq!(a.status, 403, "{role} may not make tokens");
        let a = post_form_as(
            &app,
            role,
            "/admin/users",
            &[("email", "x@kanta.test"), ("role", "admin")],
        )
        .await;
        assert_eq!(a.status, 403, "{role} may not add users");
        let page = page_as(&app, role, "/customers", &[]).await;
        assert!(
            !page.body.contains("href=\"/admin/users\""),
            "{role} sees no admin links"
        );
    }
    assert!(
        app.store
            .user_by_email("x@kanta.test")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.store.tokens().await.unwrap().len(), 4);
    let a = page_as(&app, Role::Admin, "/customers", &[]).await;
    assert!(a.body.contains("href=\"/admin/users\"") && a.body.contains("href=\"/admin/tokens\""));
}

#[tokio::test]
async fn an_admin_adds_a_user_who_then_signs_in() {
    let app = spawn_app("sqlite").await;
    // Without the CSRF token nothing happens.
    let s = &app.sessions[&Role::Admin];
    let body = form(&[("email", "new@kanta.test"), ("role", "staff")]);
    let a = request(
        &app,
        "POST",
        "/admin/users",
        &[format!("Cookie: {}", s.cookie())],
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await;
    assert_eq!(a.status, 403);
    assert!(
        app.store
            .user_by_email("new@kanta.test")
            .await
            .unwrap()
            .is_none()
    );

    let a = post_form_as(
        &app,
        Role::Admin,
        "/admin/users",
        &[
            ("email", "New@Kanta.test"),
            ("name", "Uusi <Työntekijä>"),
            ("role", "staff"),
            ("password", ""),
        ],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.body.contains("Uusi &#60;Työntekijä&#62;") || a.body.contains("Uusi &lt;Työntekijä&gt;")
    );
    let start = a.body.find("<code id=\"shown-secret\">").unwrap() + 24;
    let password = a.body[start..start + 20].to_string();
    assert_eq!(
        sign_in(&app, "new@kanta.test", &password, &[]).await.status,
        303
    );
    // The password is not shown again.
    let again = page_as(&app, Role::Admin, "/admin/users", &[]).await;
    assert!(!again.body.contains(&password));

    // Bad input is named; a second user with the same email is refused.
    let a = post_form_as(
        &app,
        Role::Admin,
        "/admin/users",
        &[("email", "not-an-email"), ("role", "staff")],
    )
    .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("That is not an email address."));
    let a = post_form_as(
        &app,
        Role::Admin,
        "/admin/users",
        &[("email", "new@kanta.test"), ("role", "viewer")],
    )
    .await;
    assert_eq!(a.status, 409);

    // Deactivating a user ends their sessions and stops their sign-ins.
    let u = app
        .store
        .user_by_email("new@kanta.test")
        .await
        .unwrap()
        .unwrap();
    let a = post_form_as(
        &app,
        Role::Admin,
        &format!("/admin/users/{}", u.id),
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(a.status, 303);
    let u = app
        .store
        .user_by_email("new@kanta.test")
        .await
        .unwrap()
        .unwrap();
    assert!(!u.active && u.role == Role::Viewer);
    assert_eq!(
        sign_in(&app, "new@kanta.test", &password, &[]).await.status,
        401
    );

    // The last active admin cannot be demoted.
    let admin = app
        .store
        .user_by_email("admin@kanta.test")
        .await
        .unwrap()
        .unwrap();
    let a = post_form_as(
        &app,
        Role::Admin,
        &format!("/admin/users/{}", admin.id),
        &[("role", "staff"), ("active", "on")],
    )
    .await;
    assert_eq!(a.status, 409);
    assert!(
        a.body
            .contains("The last active admin must stay an active admin.")
    );
}

#[tokio::test]
async fn an_admin_makes_a_token_that_is_shown_once_works_and_can_be_revoked() {
    let app = spawn_app("sqlite").await;
    let a = post_form_as(
        &app,
        Role::Admin,
        "/admin/tokens",
        &[("name", "verkkokauppa"), ("role", "staff")],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let start = a.body.find("<code id=\"shown-secret\">").unwrap() + 24;
    let token = a.body[start..start + 70].to_string();
    assert!(token.starts_with("kanta_"), "{token}");
    let auth = format!("Authorization: Bearer {token}");
    let r = request(
        &app,
        "GET",
        "/api/v1/customers/c1",
        std::slice::from_ref(&auth),
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    // The list shows the prefix and the last use, never the token.
    let list = page_as(&app, Role::Admin, "/admin/tokens", &[]).await;
    assert!(list.body.contains("verkkokauppa") && list.body.contains(&token[..14]));
    assert!(!list.body.contains(&token));
    let t = app.store.tokens().await.unwrap();
    let t = t.iter().find(|t| t.name == "verkkokauppa").unwrap();
    assert_eq!(t.role, Role::Staff);
    assert!(t.last_used_at.is_some());

    // Only the digest is stored: the secret is nowhere in the database file.
    let db_path = app._db.url.strip_prefix("sqlite://").unwrap().to_string();
    app.store.close().await;
    let mut bytes = std::fs::read(&db_path).unwrap();
    bytes.extend(std::fs::read(format!("{db_path}-wal")).unwrap_or_default());
    let secret = &token.as_bytes()[6..];
    assert!(!bytes.windows(secret.len()).any(|w| w == secret));
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let app = spawn_app("postgres").await;
    let a = post_form_as(
        &app,
        Role::Admin,
        "/admin/tokens",
        &[("name", "old"), ("role", "viewer")],
    )
    .await;
    let start = a.body.find("<code id=\"shown-secret\">").unwrap() + 24;
    let token = a.body[start..start + 70].to_string();
    let auth = format!("Authorization: Bearer {token}");
    assert_eq!(
        request(
            &app,
            "GET",
            "/api/v1/stats",
            std::slice::from_ref(&auth),
            None
        )
        .await
        .status,
        200
    );
    let id = app
        .store
        .tokens()
        .await
        .unwrap()
        .iter()
        .find(|t| t.name == "old")
        .unwrap()
        .id;
    let a = post_form_as(
        &app,
        Role::Admin,
        &format!("/admin/tokens/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(a.status, 303);
    let a = request(&app, "GET", "/api/v1/stats", &[auth], None).await;
    assert_eq!(a.status, 401);
    let list = page_as(&app, Role::Admin, "/admin/tokens", &[]).await;
    assert!(list.body.contains("Revoked"));
}

#[tokio::test]
async fn users_set_their_language_and_password() {
    let app = spawn_app("sqlite").await;
    let a = page_as(&app, Role::Viewer, "/account", &[]).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("viewer@kanta.test") && a.body.contains("Viewer"));
    let a = post_form_as(&app, Role::Viewer, "/account/language", &[("lang", "fi")]).await;
    assert_eq!(a.status, 303);
    let a = page_as(
        &app,
        Role::Viewer,
        "/account?saved=language",
        &["Accept-Language: en".into()],
    )
    .await;
    assert!(
        a.body.contains("Oma tili") && a.body.contains("Kieli tallennettu."),
        "{}",
        a.body
    );

    let (email, old) = login_of(Role::Viewer);
    let a = post_form_as(
        &app,
        Role::Viewer,
        "/account/password",
        &[
            ("current", "not it"),
            ("new", "uusi-salasana-1"),
            ("repeat", "uusi-salasana-1"),
        ],
    )
    .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("Nykyinen salasana on väärin."));
    let a = post_form_as(
        &app,
        Role::Viewer,
        "/account/password",
        &[
            ("current", &old),
            ("new", "uusi-salasana-1"),
            ("repeat", "uusi-salasana-1"),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        a.cookie("kanta_session").is_some(),
        "a fresh session for this browser"
    );
    assert_eq!(sign_in(&app, &email, &old, &[]).await.status, 401);
    assert_eq!(
        sign_in(&app, &email, "uusi-salasana-1", &[]).await.status,
        303
    );
    // The old session ended with the password change.
    let a = page_as(&app, Role::Viewer, "/account", &[]).await;
    assert_eq!(a.status, 303);
}

/// One HTTP/1.1 request to `addr` over a new connection from the local address `from`
/// (any of 127.0.0.0/8 on Linux), as `crate::request` makes them.
async fn request_from(
    addr: std::net::SocketAddr,
    from: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<(&str, &str)>,
) -> crate::Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    match body {
        Some((ctype, text)) => {
            req.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            ));
        }
        None => req.push_str("\r\n"),
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        crate::dechunk(body)
    } else {
        body.to_string()
    };
    crate::Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_string(),
        body,
    }
}

/// Signs in at `addr` from the local address `from`, with `next` in the form (the
/// login page itself opened with `?next=` `next_query`, raw): the answer to the post.
async fn sign_in_from(
    addr: std::net::SocketAddr,
    from: &str,
    email: &str,
    password: &str,
    next_query: &str,
    next: &str,
    extra: &[String],
) -> crate::Answer {
    let page = request_from(
        addr,
        from,
        "GET",
        &format!("/login?next={next_query}"),
        extra,
        None,
    )
    .await;
    assert_eq!(
        page.status, 200,
        "GET /login?next={next_query}: {}",
        page.body
    );
    let csrf = hidden(&page.body, "csrf");
    let mut h = vec![format!("Cookie: kanta_login_csrf={csrf}")];
    h.extend_from_slice(extra);
    let body = form(&[
        ("csrf", &csrf),
        ("next", next),
        ("email", email),
        ("password", password),
    ]);
    request_from(
        addr,
        from,
        "POST",
        "/login",
        &h,
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await
}

#[tokio::test]
async fn next_is_only_ever_a_plain_path_on_this_site() {
    let app = spawn_app("sqlite").await;
    let (email, password) = login_of(Role::Staff);
    // (as in the address, as the form sends it)
    let refused = [
        ("/%0a/x", "/\n/x"),
        ("/%09/evil.example/x", "/\t/evil.example/x"),
        ("//evil.example", "//evil.example"),
        ("/%5Cevil.example", "/\\evil.example"),
        ("https://evil.example", "https://evil.example"),
        ("/%0d%0aSet-Cookie:%20x=y", "/\r\nSet-Cookie: x=y"),
        ("/%252F/evil.example", "/%2F/evil.example"),
        ("/%C3%A4", "/ä"),
    ];
    for (raw, decoded) in refused {
        // The login page never fails on it and keeps `/` instead.
        let page = request(&app, "GET", &format!("/login?next={raw}"), &[], None).await;
        assert_eq!(page.status, 200, "{raw}: {}", page.body);
        assert_eq!(hidden(&page.body, "next"), "/", "{raw}");
        // Signed in already, the page sends home.
        let a = crate::page_as(&app, Role::Viewer, &format!("/login?next={raw}"), &[]).await;
        assert_eq!(a.status, 303, "{raw}");
        assert_eq!(a.header("location").as_deref(), Some("/"), "{raw}");
        // Signing in with it (sent as the form's own value) goes home, with a session.
        let a = sign_in_from(app.addr, "127.0.0.1", &email, &password, raw, decoded, &[]).await;
        assert_eq!(a.status, 303, "{raw}: {}", a.body);
        assert_eq!(a.header("location").as_deref(), Some("/"), "{raw}");
        assert!(a.cookie("kanta_session").is_some(), "{raw}");
    }
    // A plain path, with its query, is kept.
    let page = request(&app, "GET", "/login?next=%2Fcustomers%3Fq%3Dx", &[], None).await;
    assert_eq!(hidden(&page.body, "next"), "/customers?q=x");
    let a = sign_in_from(
        app.addr,
        "127.0.0.1",
        &email,
        &password,
        "%2Fcustomers%3Fq%3Dx",
        "/customers?q=x",
        &[],
    )
    .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location").as_deref(), Some("/customers?q=x"));
    // A broken query is no error either.
    for q in [
        "next=%ff%fe",
        "next&next=/x",
        "next=/a&next=//b",
        "lang=xx&next=",
    ] {
        let page = request(&app, "GET", &format!("/login?{q}"), &[], None).await;
        assert_eq!(page.status, 200, "{q}: {}", page.body);
    }
}

#[tokio::test]
async fn failed_sign_ins_slow_down_that_account_from_that_address_only() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (a_email, a_password) = login_of(Role::Staff);
        let (b_email, b_password) = login_of(Role::Viewer);
        let first = "127.0.0.1";
        let second = "127.0.0.2";
        let sign = |email: &str, password: &str, from: &str| {
            let (email, password, from) =
                (email.to_string(), password.to_string(), from.to_string());
            let addr = app.addr;
            async move { sign_in_from(addr, &from, &email, &password, "/", "/", &[]).await }
        };
        // Six wrong passwords for A from one address: the sixth is told to wait.
        for i in 0..5 {
            assert_eq!(
                sign(&a_email, "wrong", first).await.status,
                401,
                "{backend} try {i}"
            );
        }
        let a = sign(&a_email, "wrong", first).await;
        assert_eq!(a.status, 429, "{backend}: {}", a.body);
        // A colleague at the same address signs in.
        assert_eq!(
            sign(&b_email, &b_password, first).await.status,
            303,
            "{backend}"
        );
        // A from another address gets in.
        let a = sign(&a_email, &a_password, second).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        // ...which does not lift the wait at the first address.
        let a = sign(&a_email, &a_password, first).await;
        assert_eq!(a.status, 429, "{backend}");
        assert!(a.body.contains("Wait 1 minute"), "{}", a.body);

        // The admin sees the lock on the users page, with an Unlock button for A only.
        let a_user = app.store.user_by_email(&a_email).await.unwrap().unwrap();
        let b_user = app.store.user_by_email(&b_email).await.unwrap().unwrap();
        let page = crate::page_as(&app, Role::Admin, "/admin/users", &[]).await;
        assert_eq!(page.status, 200);
        let unlock_a = format!("action=\"/admin/users/{}/unlock\"", a_user.id);
        assert!(page.body.contains(&unlock_a), "{}", page.body);
        assert!(page.body.contains(">Unlock</button>"));
        assert!(
            !page
                .body
                .contains(&format!("/admin/users/{}/unlock", b_user.id))
        );
        // Not without the CSRF token, not by a manager.
        let path = format!("/admin/users/{}/unlock", a_user.id);
        let s = &app.sessions[&Role::Admin];
        let r = request(
            &app,
            "POST",
            &path,
            &[format!("Cookie: {}", s.cookie())],
            Some(("application/x-www-form-urlencoded", "csrf=forged")),
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(
            post_form_as(&app, Role::Manager, &path, &[]).await.status,
            403
        );
        assert_eq!(sign(&a_email, &a_password, first).await.status, 429);
        // The button lets A in at once, and says who did it in the audit log.
        let r = post_form_as(&app, Role::Admin, &path, &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location").as_deref(), Some("/admin/users"));
        let a = sign(&a_email, &a_password, first).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let page = crate::page_as(&app, Role::Admin, "/admin/users", &[]).await;
        assert!(!page.body.contains(&unlock_a));
        let (entries, _) = app
            .store
            .audit_page(&kanta_store::audit::AuditQuery {
                record_id: Some(a_user.id.to_string()),
                ..Default::default()
            })
            .await
            .unwrap();
        let unlock = entries
            .iter()
            .find(|e| e.entry.action == "unlock")
            .expect("an unlock entry");
        assert_eq!(unlock.entry.actor_name, "admin@kanta.test");
        assert_eq!(unlock.entry.channel, "ui");
        assert_eq!(
            unlock.entry.details["failures_cleared"], 5,
            "{:?}",
            unlock.entry
        );
    }
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let app = spawn_app("sqlite").await;
    let (a_email, a_password) = login_of(Role::Staff);
    let xff = |ip: &str| vec![format!("X-Forwarded-For: {ip}")];
    let sign = |addr, password: &str, header: Vec<String>| {
        let (email, password) = (a_email.clone(), password.to_string());
        async move { sign_in_from(addr, "127.0.0.1", &email, &password, "/", "/", &header).await }
    };
    // Without a trusted proxy, a client cannot pose as another by the header.
    for _ in 0..5 {
        assert_eq!(
            sign(app.addr, "wrong", xff("203.0.113.5")).await.status,
            401
        );
    }
    let a = sign(app.addr, &a_password, xff("198.51.100.7")).await;
    assert_eq!(a.status, 429, "the header is ignored: {}", a.body);
    let (entries, _) = app
        .store
        .audit_page(&kanta_store::audit::AuditQuery {
            actor: Some(a_email.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e.entry.action == "sign_in_failed")
            .all(|e| e.entry.ip.as_deref() == Some("127.0.0.1")),
        "{entries:?}"
    );

    // The same store served behind a proxy at 127.0.0.1: the header names the client.
    let proxies = kanta_core::proxies::TrustedProxies::parse_list("127.0.0.1").unwrap();
    let core = app.core.clone().trusting_proxies(proxies);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxied = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = kanta_web::serve(listener, core).await;
    });
    // The failures above came from 127.0.0.1 (the proxy's own address): clients
    // behind it are not slowed by them.
    let a = sign(proxied, &a_password, xff("198.51.100.7")).await;
    assert_eq!(a.status, 303, "{}", a.body);
    for _ in 0..5 {
        assert_eq!(sign(proxied, "wrong", xff("203.0.113.5")).await.status, 401);
    }
    // What the client wrote itself, left of the proxy's entry, is not believed.
    let a = sign(proxied, &a_password, xff("198.51.100.7, 203.0.113.5")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    let a = sign(proxied, &a_password, xff("198.51.100.9")).await;
    assert_eq!(a.status, 303, "another client behind the proxy: {}", a.body);
    let (entries, _) = app
        .store
        .audit_page(&kanta_store::audit::AuditQuery {
            actor: Some(a_email.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries[0].entry.action, "sign_in");
    assert_eq!(entries[0].entry.ip.as_deref(), Some("198.51.100.9"));
    assert_eq!(entries[1].entry.action, "sign_in_failed");
    assert_eq!(entries[1].entry.ip.as_deref(), Some("203.0.113.5"));
}

#[tokio::test]
async fn an_address_spraying_passwords_over_many_accounts_must_wait() {
    let app = spawn_app("postgres").await;
    // 100 failures from one address, a few for each of many accounts (as a spray
    // leaves them), within ten minutes.
    for i in 0..100 {
        app.store
            .record_login_failure(&format!("user{}@kanta.test", i / 4), "127.0.0.1")
            .await
            .unwrap();
    }
    let (admin, admin_pw) = login_of(Role::Admin);
    let a = sign_in_from(app.addr, "127.0.0.1", &admin, &admin_pw, "/", "/", &[]).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body.contains("Wait 10 minutes"), "{}", a.body);
    let wait: i64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((540..=600).contains(&wait), "{wait}");
    // Another address is not held up by it.
    let a = sign_in_from(app.addr, "127.0.0.2", &admin, &admin_pw, "/", "/", &[]).await;
    assert_eq!(a.status, 303, "{}", a.body);
}

#[tokio::test]
async fn many_guesses_sent_at_once_get_no_more_than_five_checked() {
    let app = spawn_app("sqlite").await;
    let (email, password) = login_of(Role::Staff);
    let guesses = (0..16).map(|i| {
        let (email, addr) = (email.clone(), app.addr);
        async move {
            let guess = format!("guess-{i}");
            sign_in_from(addr, "127.0.0.1", &email, &guess, "/", "/", &[]).await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let waited = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + waited, 16);
    assert!(checked <= 5, "{checked} guesses were checked");
    if checked == 5 {
        let a = sign_in_from(app.addr, "127.0.0.1", &email, &password, "/", "/", &[]).await;
        assert_eq!(a.status, 429);
    }
}
