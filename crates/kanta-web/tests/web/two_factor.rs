//! Two-factor sign-in and the rate limits of the sign-in forms and the API, over real
//! HTTP (issue 15).

use kanta_core::Acting;
use kanta_core::two_factor::{DIGITS, code_at};
use kanta_store::accounts::Role;

use crate::auth_tests::{hidden, sign_in};
use crate::{Answer, App, api_as, form, login_of, page_as, request, spawn_app};

fn admin() -> Acting {
    Acting::cli()
}

/// The text of the element with `id` (its first text node).
fn text_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].trim().to_string()
}

/// The current code of a key shown in groups of four.
fn current_code(shown: &str) -> String {
    let key: String = shown.split_whitespace().collect();
    code_at(&key, chrono::Utc::now().timestamp() as u64, DIGITS).unwrap()
}

/// Opens a step's form (with the waiting sign-in's cookie) and posts `code` to it.
async fn post_step(app: &App, path: &str, challenge: &str, code: &str) -> (Answer, Answer) {
    let cookie = format!("Cookie: kanta_2fa={challenge}");
    let page = request(app, "GET", path, std::slice::from_ref(&cookie), None).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    let csrf = hidden(&page.body, "csrf");
    let body = form(&[("csrf", &csrf), ("next", "/customers/c1"), ("code", code)]);
    let a = request(
        app,
        "POST",
        path.split('?').next().unwrap(),
        &[format!(
            "Cookie: kanta_2fa={challenge}; kanta_login_csrf={csrf}"
        )],
        Some(("application/x-www-form-urlencoded", &body)),
    )
    .await;
    (page, a)
}

#[tokio::test]
async fn an_admin_required_to_use_two_factor_cannot_sign_in_with_the_password_alone() {
    let app = spawn_app("sqlite").await;
    app.core
        .set_store_setting(&admin(), "two_factor_admins", "pakollinen")
        .await
        .unwrap();
    let (email, password) = login_of(Role::Admin);

    // The right password: no session, a waiting sign-in that must set it up.
    let a = sign_in(&app, &email, &password, &[]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.header("location").as_deref(),
        Some("/login/setup?next=%2Fcustomers%2Fc1")
    );
    assert!(a.cookie("kanta_session").is_none(), "{}", a.head);
    let challenge = a.cookie("kanta_2fa").expect("a waiting sign-in");
    // The waiting sign-in's cookie is no session.
    let page = request(
        &app,
        "GET",
        "/customers/c1",
        &[format!(
            "Cookie: kanta_2fa={challenge}; kanta_session={challenge}"
        )],
        None,
    )
    .await;
    assert_eq!(page.status, 303, "no page without the second step");

    // A wrong code: the set-up page again, still no session.
    let (setup, a) = post_step(
        &app,
        "/login/setup?next=/customers/c1",
        &challenge,
        "000000",
    )
    .await;
    assert!(setup.body.contains("<svg"), "a QR code");
    let shown = text_of(&setup.body, "totp-secret");
    assert_eq!(shown.split_whitespace().collect::<String>().len(), 32);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.cookie("kanta_session").is_none());
    // The same key is shown again (it was scanned already).
    assert_eq!(text_of(&a.body, "totp-secret"), shown);

    // The app's code: on, the recovery codes shown once, signed in.
    let code = current_code(&shown);
    let (_, a) = post_step(&app, "/login/setup", &challenge, &code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
    let codes: Vec<String> = a
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{}", a.body);
    let session = a.cookie("kanta_session").expect("a session");
    let page = request(
        &app,
        "GET",
        "/customers/c1",
        &[format!("Cookie: kanta_session={session}")],
        None,
    )
    .await;
    assert_eq!(page.status, 200);
    let user = app.store.user_by_email(&email).await.unwrap().unwrap();
    assert!(user.two_factor_since.is_some());
    // The store keeps digests of the recovery codes, never the codes.
    assert_eq!(app.store.recovery_codes_left(user.id).await.unwrap(), 10);
    let found = kanta_store::testing::tables_containing(&app.store, &codes[0]).await;
    assert!(found.is_empty(), "a recovery code is stored: {found:?}");

    // Next sign-in: the password, then a code. The code just used does not work
    // twice; a recovery code does, once.
    let a = sign_in(&app, &email, &password, &[]).await;
    assert_eq!(
        a.header("location").as_deref(),
        Some("/login/code?next=%2Fcustomers%2Fc1")
    );
    let challenge = a.cookie("kanta_2fa").unwrap();
    let (_, a) = post_step(&app, "/login/code", &challenge, &code).await;
    assert_eq!(a.status, 401, "a code is accepted once: {}", a.body);
    assert!(a.cookie("kanta_session").is_none());
    let (_, a) = post_step(&app, "/login/code", &challenge, &codes[3].to_uppercase()).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location").as_deref(), Some("/customers/c1"));
    assert!(a.cookie("kanta_session").is_some());
    // The waiting sign-in is used up.
    let (_, a) = post_step(&app, "/login/code", &challenge, &codes[4]).await;
    assert_eq!(a.status, 401);
    let a = sign_in(&app, &email, &password, &[]).await;
    let challenge = a.cookie("kanta_2fa").unwrap();
    let (_, a) = post_step(&app, "/login/code", &challenge, &codes[3]).await;
    assert_eq!(a.status, 401, "a recovery code works once");
    assert_eq!(app.store.recovery_codes_left(user.id).await.unwrap(), 9);

    // Five wrong codes end the waiting sign-in (the failures so far forgotten first,
    // so that the throttle does not step in before).
    app.core.unlock_sign_ins(&admin(), &email).await.unwrap();
    let a = sign_in(&app, &email, &password, &[]).await;
    let challenge = a.cookie("kanta_2fa").unwrap();
    for i in 0..5 {
        let (_, a) = post_step(&app, "/login/code", &challenge, "111111").await;
        assert_eq!(a.status, 401, "try {i}: {}", a.body);
        if i < 4 {
            assert!(a.body.contains("id=\"code-error\""), "{}", a.body);
        }
    }
    let (_, a) = post_step(&app, "/login/code", &challenge, &current_code(&shown)).await;
    assert_eq!(a.status, 401, "the waiting sign-in ended: {}", a.body);
    assert!(a.body.contains("action=\"/login\""), "back to the password");

    // The audit log has it.
    let log: Vec<String> = crate::audit_of_entity(&app, "users")
        .await
        .into_iter()
        .map(|r| r.entry.action)
        .collect();
    assert!(log.iter().any(|a| a == "two_factor_on"), "{log:?}");
    assert!(log.iter().any(|a| a == "sign_in_password"), "{log:?}");

    // An admin can reset it for a user who lost their phone: then the password again
    // leads to setting it up (still required).
    assert!(app.core.reset_two_factor(&admin(), &email).await.unwrap());
    app.core.unlock_sign_ins(&admin(), &email).await.unwrap();
    let a = sign_in(&app, &email, &password, &[]).await;
    assert_eq!(
        a.header("location").as_deref(),
        Some("/login/setup?next=%2Fcustomers%2Fc1"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn a_user_sets_two_factor_up_from_the_account_page_and_turns_it_off() {
    let app = spawn_app("sqlite").await;
    let page = page_as(&app, Role::Staff, "/account", &[]).await;
    assert!(
        page.body.contains("id=\"two-factor-state\""),
        "{}",
        page.body
    );
    let setup = page_as(&app, Role::Staff, "/account/two-factor", &[]).await;
    assert_eq!(setup.status, 200);
    let shown = text_of(&setup.body, "totp-secret");
    let a = crate::post_form_as(&app, Role::Staff, "/account/two-factor", &[("code", "123")]).await;
    assert_eq!(a.status, 422);
    let a = crate::post_form_as(
        &app,
        Role::Staff,
        "/account/two-factor",
        &[("code", &current_code(&shown))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"recovery-codes\""));
    // Signing in now needs a code.
    let (email, password) = login_of(Role::Staff);
    let a = sign_in(&app, &email, &password, &[]).await;
    assert!(
        a.header("location").unwrap().starts_with("/login/code"),
        "{}",
        a.head
    );
    // Turning it off needs the password.
    let a = crate::post_form_as(
        &app,
        Role::Staff,
        "/account/two-factor/off",
        &[("password", "wrong")],
    )
    .await;
    assert_eq!(a.status, 422);
    let a = crate::post_form_as(
        &app,
        Role::Staff,
        "/account/two-factor/off",
        &[("password", &password)],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = sign_in(&app, &email, &password, &[]).await;
    assert_eq!(a.header("location").as_deref(), Some("/customers/c1"));
    // Managers cannot change the security settings.
    let manager = Acting::user(
        1,
        "manager@kanta.test",
        Role::Manager,
        kanta_core::Channel::Ui,
    );
    assert!(
        app.core
            .set_store_setting(&manager, "two_factor_admins", "required")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_api_and_the_sign_in_form_answer_429_over_their_limits() {
    let app = spawn_app("sqlite").await;
    app.core
        .set_store_setting(&admin(), "api_rate_limit", "5")
        .await
        .unwrap();
    app.core
        .set_store_setting(&admin(), "sign_in_rate_limit", "3")
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            api_as(
                &app,
                Some(Role::Viewer),
                "GET",
                "/api/v1/customers?limit=1",
                None,
            )
            .await
            .status,
        );
    }
    // The minute may turn during the loop: at least five pass, and the rest are 429.
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 5,
        "{statuses:?}"
    );
    let last = api_as(&app, Some(Role::Viewer), "GET", "/api/v1/customers", None).await;
    if last.status == 429 {
        assert!(last.header("retry-after").is_some());
        assert_eq!(last.json()["status"], 429);
    }
    assert!(
        statuses.contains(&429) || last.status == 429,
        "{statuses:?}"
    );
    // Another token counts apart.
    let other = api_as(
        &app,
        Some(Role::Staff),
        "GET",
        "/api/v1/customers?limit=1",
        None,
    )
    .await;
    assert_eq!(other.status, 200);

    let (email, _) = login_of(Role::Viewer);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(sign_in(&app, &email, "wrong password", &[]).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let refused = statuses.iter().position(|s| *s == 429).unwrap();
    assert!(refused >= 3, "three tries pass first: {statuses:?}");
}
