//! The value page, its drill-down and `/api/v1/value*` over real HTTP on both backends:
//! a customer whose cases and contacts cost more than their margin is on the
//! unprofitable list with its reasons in English and Finnish, every figure links to
//! its customers, a customer's name is escaped, managers run the pass (the form and
//! the API), staff are refused.

use chrono::{Duration, Utc};
use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::{CASES, CUSTOMERS, INTERACTIONS, TRANSACTIONS};
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{api_as, page_as, post_form_as, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn batch(e: &'static kanta_domain::schema::Entity, names: &[&str]) -> WriteBatch {
    WriteBatch::new(e, names.iter().map(|n| e.field(n).unwrap()).collect())
}

async fn known_store(core: &kanta_core::Core) {
    let cli = Acting::cli();
    let ago = |d: i64| Value::Time(Utc::now() - Duration::days(d));
    let mut c = batch(&CUSTOMERS, &["name"]);
    c.push("u1".into(), [text("Ulla <b>Kallis</b>")]);
    c.push("p1".into(), [text("Paula Hyvä")]);
    core.write_batch(&cli, c).await.unwrap();
    let mut t = batch(
        &TRANSACTIONS,
        &["customer_id", "occurred_at", "amount", "currency", "cost"],
    );
    t.push(
        "t1".into(),
        [
            text("p1"),
            ago(10),
            Value::Int(50_000),
            text("EUR"),
            Value::Int(20_000),
        ],
    );
    t.push(
        "t2".into(),
        [
            text("u1"),
            ago(10),
            Value::Int(1_000),
            text("EUR"),
            Value::Null,
        ],
    );
    core.write_batch(&cli, t).await.unwrap();
    let mut k = batch(
        &CASES,
        &["customer_id", "opened_at", "category", "severity"],
    );
    for (id, d) in [("k1", 20), ("k2", 30), ("k3", 40)] {
        k.push(
            id.into(),
            [text("u1"), ago(d), text("quality"), text("high")],
        );
    }
    core.write_batch(&cli, k).await.unwrap();
    let mut i = batch(&INTERACTIONS, &["customer_id", "occurred_at", "kind"]);
    i.push("i1".into(), [text("u1"), ago(5), text("meeting")]);
    core.write_batch(&cli, i).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_value_page_names_the_unprofitable_customer_with_its_reasons() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        known_store(&app.core).await;

        // Before the first pass the page says so.
        let before = page_as(&app, Role::Viewer, "/value", &[]).await;
        assert_eq!(before.status, 200, "{backend}: {}", before.body);
        assert!(before.body.contains("id=\"value-no-run\""), "{backend}");

        // Staff may not run it, nor read the figures; a manager runs it by the API.
        let staff = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/value/refresh",
            None,
        )
        .await;
        assert_eq!(staff.status, 403, "{backend}: {}", staff.body);
        let staff_page = page_as(&app, Role::Staff, "/value", &[]).await;
        assert_eq!(staff_page.status, 403, "{backend}");
        let run = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/value/refresh",
            Some(&format!("{{\"as_of\": \"{}\"}}", Utc::now().date_naive())),
        )
        .await;
        assert_eq!(run.status, 200, "{backend}: {}", run.body);
        assert_eq!(run.json()["unprofitable"], 1, "{backend}: {}", run.body);

        // The API: u1 first, with its reasons in Finnish.
        let v = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/value?lang=fi",
            None,
        )
        .await;
        assert_eq!(v.status, 200, "{backend}: {}", v.body);
        let j = v.json();
        assert_eq!(j["totals"]["unprofitable"], 1, "{backend}: {j}");
        let u = &j["unprofitable"][0];
        assert_eq!(u["id"], "u1", "{backend}: {j}");
        // 3 high cases × 2 h × 40,00 € = 240,00 €.
        assert_eq!(u["cost_cases_minor"], 24_000, "{backend}: {j}");
        assert_eq!(
            u["reason_words"][0], "3 vakavuudeltaan korkeaa tapausta maksoi 240,00\u{a0}€",
            "{backend}: {j}"
        );
        let list = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/value/customers?show=cases",
            None,
        )
        .await;
        assert_eq!(list.status, 200, "{backend}: {}", list.body);
        assert_eq!(list.json()["total"], 1);
        let bad = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/value/customers?show=everything",
            None,
        )
        .await;
        assert_eq!(bad.status, 422, "{backend}: {}", bad.body);
        assert!(bad.body.contains("show"), "{backend}: {}", bad.body);

        // The page in English: figures linking to their customers, the list with
        // reasons, the name escaped.
        let page = page_as(&app, Role::Viewer, "/value?lang=en", &[]).await;
        assert_eq!(page.status, 200, "{backend}: {}", page.body);
        let b = &page.body;
        assert!(
            b.contains("href=\"/value/customers?show=unprofitable&amp;sort=margin\"")
                || b.contains("href=\"/value/customers?show=unprofitable&#38;sort=margin\""),
            "{backend}: {}",
            b[b.find("value-figures").unwrap_or(0)..]
                .chars()
                .take(600)
                .collect::<String>()
        );
        assert!(
            b.contains("3 high-severity cases cost €240.00"),
            "{backend}"
        );
        let name = b
            .find("Ulla ")
            .map(|i| b[i..].chars().take(40).collect::<String>());
        assert!(
            b.contains("Ulla &lt;b&gt;Kallis") || b.contains("Ulla &#60;b&#62;Kallis"),
            "{backend}: {name:?}"
        );
        assert!(!b.contains("<b>Kallis"), "{backend}");
        assert!(b.contains("/value/customers?show=bin-"), "{backend}");
        assert!(b.contains("<svg"), "{backend}: the charts");
        let fi = page_as(&app, Role::Viewer, "/value?lang=fi", &[]).await;
        assert!(fi.body.contains("Kannattamattomat asiakkaat"), "{backend}");
        assert!(fi.body.contains("vakavuudeltaan korkeaa"), "{backend}");

        // The drill-down behind the case costs, and a bad filter's 400 page.
        let cases = page_as(
            &app,
            Role::Viewer,
            "/value/customers?show=cases&lang=en",
            &[],
        )
        .await;
        assert_eq!(cases.status, 200, "{backend}");
        assert!(cases.body.contains("data-customer=\"u1\""), "{backend}");
        assert!(!cases.body.contains("data-customer=\"p1\""), "{backend}");
        let bad = page_as(&app, Role::Viewer, "/value/customers?show=nope", &[]).await;
        assert_eq!(bad.status, 400, "{backend}");

        // The manager's form runs the pass again and comes back.
        let form = post_form_as(&app, Role::Manager, "/value/refresh", &[]).await;
        assert_eq!(form.status, 303, "{backend}: {}", form.body);
        assert!(
            form.header("location")
                .unwrap()
                .starts_with("/value?refreshed=")
        );
        let viewer_form = post_form_as(&app, Role::Viewer, "/value/refresh", &[]).await;
        assert_eq!(viewer_form.status, 403, "{backend}");
    }
}
