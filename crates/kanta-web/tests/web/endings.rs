//! Ending a relationship as users meet it, on both backends: the customer page links
//! to the "End the relationship" form and has the let-lapse button; staff propose for
//! their own customer (refused for another's: 403), the form says what is wrong in
//! Finnish and English (422, input kept); `/endings` shows the managers' queue with the
//! decision forms (staff see it read-only), a refusal needs its reason, an approval
//! with today's date ends the customer and queues the notice; the API proposes,
//! decides and lists, and "let lapse" is the customers field of the generic API.

use kanta_core::Acting;
use kanta_domain::schema::{CUSTOMERS, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// The staff user owns `c1` (Aino, email, Finnish) and `c2` (Bob, English, no email).
async fn seed(app: &App) {
    let cli = Acting::cli();
    let f = |e: &'static kanta_domain::Entity, n: &[&str]| {
        n.iter().map(|n| e.field(n).unwrap()).collect::<Vec<_>>()
    };
    let mut s = WriteBatch::new(&STAFF, f(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sanna Staff"), text("staff@kanta.test")]);
    app.core.write_batch(&cli, s).await.unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, f(&CUSTOMERS, &["name", "owner_id", "locale"]));
    c.push("c1".into(), [text("Aino Virtanen"), text("s1"), text("fi")]);
    c.push(
        "c2".into(),
        [text("Bob <b>Brown</b>"), text("s1"), text("en")],
    );
    app.core.write_batch(&cli, c).await.unwrap();
}

#[tokio::test]
async fn staff_propose_managers_decide_and_the_customer_ends() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = page_as(&app, Role::Staff, "/customers/c1", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        assert!(a.body.contains("href=\"/customers/c1/end\""), "{}", a.body);
        assert!(a.body.contains("action=\"/customers/c1/let-lapse\""));
        let a = page_as(&app, Role::Staff, "/customers/c1/end?lang=fi", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Päätä asiakkuus") && a.body.contains("Kannattamaton"));

        // Errors by the field, in both languages, the input kept.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/c2/end?lang=en",
            &[
                ("reason", "unprofitable"),
                ("note", "Pieni kate"),
                ("notify", "yes"),
            ],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("has no email address"), "{}", a.body);
        assert!(a.body.contains("Pieni kate"));
        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/c2/end?lang=fi",
            &[("reason", ""), ("end_on", "1.1.2000")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("Syy: valitse jokin syistä."), "{}", a.body);
        assert!(
            a.body.contains("Päättymispäivä: kirjoita päivämäärä"),
            "{}",
            a.body
        );
        // Another's customer: the 403 page.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/evil/end",
            &[("reason", "abusive")],
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: {}", a.body);

        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/c2/end",
            &[
                ("reason", "unprofitable"),
                ("note", "Four critical cases a month"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let a = page_as(&app, Role::Staff, "/endings?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        assert!(
            a.body.contains("Bob &#60;b&#62;Brown&#60;/b&#62;"),
            "{}",
            a.body
        );
        assert!(a.body.contains("endings-read-only") && !a.body.contains("/decide\""));
        let a = page_as(&app, Role::Manager, "/endings?lang=fi", &[]).await;
        assert!(a.body.contains("Odottaa esihenkilöä") && a.body.contains("Hyväksy"));
        let id = app
            .core
            .endings(&Acting::cli(), &Default::default())
            .await
            .unwrap()[0]
            .id;
        let decide = format!("/endings/{id}/decide");
        let a = post_form_as(&app, Role::Staff, &decide, &[("decision", "approve")]).await;
        assert_eq!(a.status, 403, "{backend}");
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("{decide}?lang=fi"),
            &[("decision", "refuse")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("kirjoita hylkäyksen syy"), "{}", a.body);
        let a = post_form_as(
            &app,
            Role::Manager,
            &decide,
            &[("decision", "approve"), ("note", "OK")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let rec = app.store.get(&CUSTOMERS, "c2").await.unwrap().unwrap();
        assert_eq!(rec.get("status"), &text("ended"), "{backend}");
        assert_eq!(rec.get("end_reason_code"), &text("unprofitable"));
        let a = page_as(&app, Role::Manager, "/endings?lang=en", &[]).await;
        assert!(a.body.contains("Recent endings") && a.body.contains("data-status=\"ended\""));

        // Let lapse from the page: on, said so, no mail.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/c1/let-lapse",
            &[("lapse", "yes")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let rec = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(rec.get("let_lapse"), &Value::Bool(true), "{backend}");
        let a = page_as(
            &app,
            Role::Staff,
            "/customers/c1/end?saved=lapse-on&lang=fi",
            &[],
        )
        .await;
        assert!(a.body.contains("Annetaan hiipua"), "{}", a.body);
        assert!(app.store.outbox(10).await.unwrap().is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn the_api_proposes_decides_lists_and_lets_lapse() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/customers/c1/endings",
            Some(r#"{"reason": "moved_away", "note": "Muutti Ouluun", "notify": false, "end_on": "2030-01-31"}"#),
        )
        .await;
        assert_eq!(a.status, 201, "{backend}: {}", a.body);
        let id = a.json()["id"].as_i64().unwrap();
        assert_eq!(a.json()["status"], "proposed");
        assert_eq!(a.json()["end_on"], "2030-01-31");
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/customers/c1/endings",
            Some(r#"{"reason": "x"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            &format!("/api/v1/endings/{id}/decide"),
            Some(r#"{"decision": "approve"}"#),
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            &format!("/api/v1/endings/{id}/decide"),
            Some(r#"{"decision": "approve"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["status"], "approved");
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/endings?status=approved",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["items"][0]["customer_id"], "c1");
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            &format!("/api/v1/endings/{id}/decide"),
            Some(r#"{"decision": "cancel", "note": "Jäi"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["status"], "cancelled");
        // Let lapse through the generic API.
        let a = api_as(
            &app,
            Some(Role::Staff),
            "PATCH",
            "/api/v1/customers/c1",
            Some(r#"{"let_lapse": true}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let rec = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(rec.get("let_lapse"), &Value::Bool(true), "{backend}");
    }
}
