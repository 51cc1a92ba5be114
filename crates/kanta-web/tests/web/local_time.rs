//! Local time: times are stored in UTC and shown on the wall clock of the store's time
//! zone (Europe/Helsinki by default) or the user's own, labelled; times typed without
//! an offset are read in the store's zone; the API keeps UTC.

use kanta_domain::Value;
use kanta_domain::schema::TRANSACTIONS;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use serde_json::json;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

/// Two café orders of c1: a summer morning (UTC+3) and a winter one (UTC+2), both at
/// 8.30 Helsinki time.
async fn with_cafe_orders(app: &App) {
    let fields = ["customer_id", "occurred_at", "amount", "currency", "kind"]
        .iter()
        .map(|n| TRANSACTIONS.field(n).unwrap())
        .collect();
    let mut t = WriteBatch::new(&TRANSACTIONS, fields);
    for (id, at) in [
        ("summer", "2024-06-01T05:30:00Z"),
        ("winter", "2024-01-15T06:30:00Z"),
    ] {
        t.push(
            id.into(),
            [
                Value::Text("c1".into()),
                Value::Time(at.parse().unwrap()),
                Value::Int(380),
                Value::Text("EUR".into()),
                Value::Text("order".into()),
            ],
        );
    }
    app.store.write(&t).await.unwrap();
}

#[tokio::test]
async fn cafe_orders_show_in_helsinki_time_in_both_languages() {
    let app = spawn_app("sqlite").await;
    with_cafe_orders(&app).await;
    let fi = page_as(&app, Role::Staff, "/customers/c1?lang=fi", &[]).await;
    assert_eq!(fi.status, 200, "{}", fi.body);
    for part in ["1.6.2024 klo 8.30", "15.1.2024 klo 8.30", "Helsingin aikaa"] {
        assert!(fi.body.contains(part), "{part}:\n{}", fi.body);
    }
    assert!(!fi.body.contains("klo 5.30") && !fi.body.contains("klo 6.30"));
    let en = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
    for part in ["2024-06-01 08:30", "2024-01-15 08:30", "Helsinki time"] {
        assert!(en.body.contains(part), "{part}:\n{}", en.body);
    }
    // The API keeps UTC.
    let a = api_as(
        &app,
        Some(Role::Viewer),
        "GET",
        "/api/v1/transactions/summer",
        None,
    )
    .await;
    assert_eq!(
        a.json()["occurred_at"],
        "2024-06-01T05:30:00.000Z",
        "{}",
        a.body
    );
}

#[tokio::test]
async fn a_user_with_their_own_zone_sees_their_own_time() {
    let app = spawn_app("sqlite").await;
    with_cafe_orders(&app).await;
    let a = post_form_as(
        &app,
        Role::Staff,
        "/account/time-zone",
        &[("zone", "America/New_York"), ("other", "")],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let page = page_as(&app, Role::Staff, "/account?saved=time_zone&lang=en", &[]).await;
    assert!(page.body.contains("Time zone saved."), "{}", page.body);
    assert!(
        page.body
            .contains("<option value=\"America/New_York\" selected>"),
        "{}",
        page.body
    );
    // Summer in New York is UTC-4, winter UTC-5.
    let en = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
    for part in ["2024-06-01 01:30", "2024-01-15 01:30", "New York time"] {
        assert!(en.body.contains(part), "{part}:\n{}", en.body);
    }
    // Others still see the store's zone.
    let other = page_as(&app, Role::Viewer, "/customers/c1?lang=en", &[]).await;
    assert!(other.body.contains("2024-06-01 08:30"), "{}", other.body);

    // The change is audited with its value before and after.
    let staff_id = app
        .store
        .user_by_email("staff@kanta.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let log = api_as(
        &app,
        Some(Role::Admin),
        "GET",
        &format!("/api/v1/audit?entity=users&record={staff_id}"),
        None,
    )
    .await;
    let items = log.json()["items"].as_array().unwrap().clone();
    assert!(
        items
            .iter()
            .any(|e| e["changes"]["time_zone"]["after"] == "America/New_York"),
        "{items:?}"
    );

    // A zone the database does not know is refused; a typed one wins over the list.
    let a = post_form_as(
        &app,
        Role::Staff,
        "/account/time-zone?lang=en",
        &[("zone", ""), ("other", "Mars/Olympus_Mons")],
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("Europe/Helsinki"), "{}", a.body);
    let a = post_form_as(
        &app,
        Role::Staff,
        "/account/time-zone",
        &[("zone", "UTC"), ("other", "asia/tokyo")],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let en = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
    assert!(
        en.body.contains("2024-06-01 14:30"),
        "Tokyo, UTC+9:\n{}",
        en.body
    );
    // Back to the store's zone.
    let a = post_form_as(&app, Role::Staff, "/account/time-zone", &[("zone", "")]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let en = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
    assert!(en.body.contains("2024-06-01 08:30"), "{}", en.body);
}

#[tokio::test]
async fn the_store_zone_is_checked_and_reads_times_without_an_offset() {
    let app = spawn_app("sqlite").await;
    let put = async |value: &str| {
        let body = json!({ "value": value }).to_string();
        api_as(
            &app,
            Some(Role::Manager),
            "PUT",
            "/api/v1/settings/time_zone",
            Some(&body),
        )
        .await
    };
    let a = put("Europe/Helsingfors").await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.json()["field"], "time_zone", "{}", a.body);
    assert!(a.body.contains("like Europe/Helsinki"), "{}", a.body);

    // A time typed without an offset is read in the store's zone: 10.00 on New
    // Year's Eve in Helsinki (UTC+2) is 08:00 UTC.
    let post = async |at: &str, id: &str| {
        let body =
            json!({"id": id, "customer_id": "c1", "occurred_at": at, "amount": 100}).to_string();
        api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/transactions",
            Some(&body),
        )
        .await
    };
    let a = post("31.12.2024 klo 10.00", "t1").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["occurred_at"], "2024-12-31T08:00:00.000Z");
    // An explicit offset or Z keeps its instant.
    let a = post("2024-12-31T10:00:00Z", "t2").await;
    assert_eq!(a.json()["occurred_at"], "2024-12-31T10:00:00.000Z");
    // A local time the clocks skip is refused, naming the field.
    let a = post("30.3.2025 klo 3.30", "t3").await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains("occurred_at") && a.body.contains("does not exist in Europe/Helsinki"),
        "{}",
        a.body
    );

    // Another store zone reads them there.
    let a = put("America/New_York").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = post("31.12.2024 klo 10.00", "t4").await;
    assert_eq!(
        a.json()["occurred_at"],
        "2024-12-31T15:00:00.000Z",
        "{}",
        a.body
    );
    let page = page_as(&app, Role::Viewer, "/customers/c1?lang=en", &[]).await;
    assert!(
        page.body.contains("2024-12-31 10:00") && page.body.contains("New York time"),
        "{}",
        page.body
    );
}
