//! Bad input told clearly, never a 500: money beyond the bound, times far ahead,
//! phones that are no phones; and every error answer in one shape (problem+json for
//! the API, an HTML page in the user's language with the navigation for the pages).

use kanta_domain::Value;
use kanta_domain::schema::CUSTOMERS;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use super::{Answer, api_as, page_as, request, spawn_app};

fn problem(a: &Answer) -> serde_json::Value {
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{} {}",
        a.status,
        a.body
    );
    let p = a.json();
    for k in ["type", "title", "status", "detail"] {
        assert!(!p[k].is_null(), "problem+json lacks {k}: {p}");
    }
    assert_eq!(p["status"], a.status, "{p}");
    p
}

fn html(a: &Answer) {
    let ct = a.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{} {ct}: {}", a.status, a.body);
}

#[tokio::test]
async fn an_amount_beyond_the_bound_is_422_naming_the_field_never_500() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for i in 1..=2 {
            let body = format!(
                r#"{{"id":"big{i}","customer_id":"c1","occurred_at":"2024-01-0{i}","amount":9223372036854775807,"currency":"EUR"}}"#
            );
            let a = api_as(
                &app,
                Some(Role::Staff),
                "POST",
                "/api/v1/transactions",
                Some(&body),
            )
            .await;
            assert_eq!(a.status, 422, "{backend} #{i}: {}", a.body);
            let p = problem(&a);
            assert_eq!(p["field"], "amount", "{p}");
            assert!(
                p["detail"].as_str().unwrap().contains(
                    "amount: 92233720368547758.07 is beyond the largest amount Kanta accepts, ±100,000,000,000.00"
                ),
                "{p}"
            );
        }
        // Numbers too large for 64 bits, and a text in major units: the same reason.
        for amount in ["99999999999999999999999", "1e30", "\"100000000000,01\""] {
            let body =
                format!(r#"{{"customer_id":"c1","occurred_at":"2024-01-05","amount":{amount}}}"#);
            let a = api_as(
                &app,
                Some(Role::Staff),
                "POST",
                "/api/v1/transactions",
                Some(&body),
            )
            .await;
            assert_eq!(a.status, 422, "{backend} {amount}: {}", a.body);
            let p = problem(&a);
            assert_eq!(p["field"], "amount", "{p}");
            assert!(
                p["detail"]
                    .as_str()
                    .unwrap()
                    .contains("is beyond the largest amount"),
                "{p}"
            );
        }
        // The bound itself is accepted.
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/transactions",
            Some(r#"{"id":"max","customer_id":"c1","occurred_at":"2024-01-06","amount":10000000000000}"#),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        // And in a batch of events, by index.
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/events",
            Some(r#"{"events":[{"type":"transaction","customer_id":"c1","occurred_at":"2024-01-07","amount":1},{"type":"transaction","customer_id":"c1","occurred_at":"2024-01-07","amount":9223372036854775807}]}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        let p = problem(&a);
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("events[1].amount: 92233720368547758.07 is beyond the largest amount"),
            "{p}"
        );
    }
}

#[tokio::test]
async fn times_far_ahead_or_before_1900_are_422_dates_ahead_are_fine() {
    let app = spawn_app("sqlite").await;
    let post = |body: String| {
        let app = &app;
        async move {
            api_as(
                app,
                Some(Role::Staff),
                "POST",
                "/api/v1/transactions",
                Some(&body),
            )
            .await
        }
    };
    let a = post(r#"{"id":"future","customer_id":"c1","occurred_at":"9999-12-31T23:59:59Z","amount":100,"currency":"EUR"}"#.into()).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let p = problem(&a);
    assert_eq!(p["field"], "occurred_at", "{p}");
    // Within the bound's years but days ahead of now: refused by the setting.
    let ahead = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let a = post(format!(
        r#"{{"customer_id":"c1","occurred_at":"{ahead}","amount":100}}"#
    ))
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let p = problem(&a);
    assert_eq!(p["field"], "occurred_at", "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("more than 24 hours ahead of now")
            && p["detail"]
                .as_str()
                .unwrap()
                .contains("store.max_future_hours"),
        "{p}"
    );
    let a = post(r#"{"customer_id":"c1","occurred_at":"1899-12-31","amount":100}"#.into()).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        problem(&a)["detail"]
            .as_str()
            .unwrap()
            .contains("before 1900")
    );
    // An hour ahead (a clock a little fast) is fine.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let a = post(format!(
        r#"{{"customer_id":"c1","occurred_at":"{soon}","amount":100}}"#
    ))
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // The last purchase is not 9999.
    let c = api_as(
        &app,
        Some(Role::Viewer),
        "GET",
        "/api/v1/customers/c1",
        None,
    )
    .await;
    assert!(!c.body.contains("9999"), "{}", c.body);
    // A subscription's renewal is a future date by nature; only its years are bounded.
    let a = api_as(
        &app,
        Some(Role::Manager),
        "POST",
        "/api/v1/subscriptions",
        Some(r#"{"customer_id":"c1","plan":"Pro","started_on":"2024-01-01","renews_on":"2031-01-01","amount":1000}"#),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api_as(
        &app,
        Some(Role::Manager),
        "POST",
        "/api/v1/subscriptions",
        Some(r#"{"customer_id":"c1","plan":"Pro","started_on":"2024-01-01","renews_on":"9999-01-01","amount":1000}"#),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(problem(&a)["field"], "renews_on");
}

#[tokio::test]
async fn phones_are_checked_and_only_phones_become_tel_links() {
    let app = spawn_app("sqlite").await;
    let a = api_as(
        &app,
        Some(Role::Staff),
        "POST",
        "/api/v1/customers",
        Some(r#"{"id":"p1","name":"Pia","phone":"javascript:alert(1)"}"#),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(problem(&a)["field"], "phone");
    let a = api_as(
        &app,
        Some(Role::Staff),
        "POST",
        "/api/v1/customers",
        Some(r#"{"id":"p2","name":"Pekka","phone":"+358 40 123 4567"}"#),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let page = page_as(&app, Role::Viewer, "/customers/p2", &[]).await;
    assert!(
        page.body.contains(r#"href="tel:+358401234567""#),
        "{}",
        page.body
    );
    // A phone stored before phones were checked is shown as text, not as a link.
    let mut b = WriteBatch::new(
        &CUSTOMERS,
        vec![
            CUSTOMERS.field("name").unwrap(),
            CUSTOMERS.field("phone").unwrap(),
        ],
    );
    b.push(
        "old".into(),
        [
            Value::Text("Old".into()),
            Value::Text("tel:javascript:alert(1)".into()),
        ],
    );
    app.store.write(&b).await.unwrap();
    let page = page_as(&app, Role::Viewer, "/customers/old", &[]).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("href=\"tel:"), "{}", page.body);
    assert!(
        !page.body.contains("javascript:alert(1)\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn pages_answer_errors_with_a_translated_page_and_the_navigation() {
    let app = spawn_app("sqlite").await;
    // A query value the page cannot read.
    for (lang, title) in [("fi", "Virheellinen pyyntö"), ("en", "Bad request")] {
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/customers?offset=-1&lang={lang}"),
            &[],
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        html(&a);
        assert!(a.body.contains(title), "{lang}: {}", a.body);
        assert!(
            a.body.contains(r#"<nav class="areas""#),
            "the navigation: {}",
            a.body
        );
        assert!(
            a.body.contains(&format!(r#"<html lang="{lang}">"#)),
            "{}",
            a.body
        );
    }
    // A page that does not exist, signed in and not.
    let a = page_as(&app, Role::Viewer, "/no/such/page?lang=fi", &[]).await;
    assert_eq!(a.status, 404);
    html(&a);
    assert!(
        a.body.contains("Sivua ei löydy") && a.body.contains(r#"<nav class="areas""#),
        "{}",
        a.body
    );
    let a = request(
        &app,
        "GET",
        "/no/such/page",
        &["Accept-Language: en".into()],
        None,
    )
    .await;
    assert_eq!(a.status, 404);
    html(&a);
    assert!(a.body.contains("Page not found"), "{}", a.body);
    // A page that refuses a value with the API's error shows the page, not JSON.
    let a = page_as(&app, Role::Viewer, "/customers?sort=height&lang=en", &[]).await;
    if a.status != 200 {
        html(&a);
        assert!(a.body.contains(r#"<nav class="areas""#), "{}", a.body);
    }
    // A form that is no form (axum's rejection, plain text until now).
    let a = request(
        &app,
        "POST",
        "/customers/c1/notes?lang=en",
        &[format!("Cookie: {}", app.sessions[&Role::Staff].cookie())],
        Some(("application/json", "{}")),
    )
    .await;
    assert_eq!(a.status, 415, "{}", a.body);
    html(&a);
    assert!(
        a.body.contains("Cannot be accepted") && a.body.contains(r#"<nav class="areas""#),
        "{}",
        a.body
    );
    // A method the page does not take.
    let a = request(&app, "DELETE", "/customers", &[], None).await;
    assert_eq!(a.status, 405);
    html(&a);
    assert!(a.header("allow").is_some(), "{}", a.head);
}

#[tokio::test]
async fn the_api_answers_every_error_as_problem_json() {
    let app = spawn_app("sqlite").await;
    // An unknown entity or endpoint.
    for path in [
        "/api/v1/nonexistent",
        "/api/v1/customers/c1/nothing",
        "/api/nothing",
    ] {
        let a = api_as(&app, Some(Role::Viewer), "GET", path, None).await;
        assert_eq!(a.status, 404, "{path}");
        let p = problem(&a);
        assert!(
            p["detail"].as_str().unwrap().contains("openapi.json"),
            "{p}"
        );
    }
    // A method the endpoint does not take.
    let a = api_as(&app, Some(Role::Admin), "DELETE", "/api/v1/customers", None).await;
    assert_eq!(a.status, 405);
    problem(&a);
    assert!(a.header("allow").is_some(), "{}", a.head);
    // A body that is not JSON, and an integer where a whole number is wanted.
    let a = api_as(
        &app,
        Some(Role::Staff),
        "POST",
        "/api/v1/customers",
        Some("{nope"),
    )
    .await;
    assert_eq!(a.status, 400);
    problem(&a);
    let a = api_as(
        &app,
        Some(Role::Staff),
        "POST",
        "/api/v1/feedback",
        Some(r#"{"customer_id":"c1","answered_at":"2024-01-01","nps":1e23}"#),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let p = problem(&a);
    assert_eq!(p["field"], "nps");
    assert!(
        p["detail"].as_str().unwrap().contains("out of range 0..10"),
        "{p}"
    );
}
