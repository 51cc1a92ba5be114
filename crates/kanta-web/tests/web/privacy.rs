//! The GDPR's pages and API over real HTTP on both backends: the customer page's
//! consent card, the admin's privacy page (staff get 403), the export as a download,
//! the erasure's confirmation (a wrong id or no reason erases nothing, 422), the
//! erasure itself, and the same through the API with an admin token.

use kanta_domain::schema::CUSTOMERS;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{api_as, audit_of_entity, page_as, post_form_as, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_export_and_erase_a_customer_on_the_pages_and_the_api() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;

        // The consent card is on every customer page; the privacy link only for admins.
        let viewer = page_as(&app, Role::Viewer, "/customers/c1?lang=en", &[]).await;
        assert_eq!(viewer.status, 200, "{backend}");
        assert!(
            viewer.body.contains("id=\"consent-card\""),
            "{}",
            viewer.body
        );
        assert!(!viewer.body.contains("privacy-link"));
        let admin = page_as(&app, Role::Admin, "/customers/c1?lang=en", &[]).await;
        assert!(
            admin.body.contains("/customers/c1/privacy"),
            "{}",
            admin.body
        );

        // Double opt-in: staff ask by mail; the customer's link gives consent on POST.
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/customers/c1/consent-request",
            None,
        )
        .await;
        assert_eq!(a.status, 202, "{backend}: {}", a.body);
        let mails = app.store.outbox(20).await.unwrap();
        let mail = mails
            .iter()
            .find(|m| m.to == "aino@example.fi")
            .expect("mailed");
        let token = mail
            .text
            .split("/c/")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap()
            .to_string();
        let page = crate::request(&app, "GET", &format!("/c/{token}?lang=en"), &[], None).await;
        assert_eq!(page.status, 200, "{backend}: {}", page.body);
        assert!(page.body.contains("Yes, send me offers"), "{}", page.body);
        let done = crate::request(
            &app,
            "POST",
            &format!("/c/{token}?lang=en"),
            &[],
            Some(("application/x-www-form-urlencoded", "")),
        )
        .await;
        assert_eq!(done.status, 200, "{backend}: {}", done.body);
        assert!(
            done.body.contains("your consent is recorded"),
            "{}",
            done.body
        );
        let c = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(c.get("marketing_consent"), &kanta_domain::Value::Bool(true));
        let forged = crate::request(&app, "GET", "/c/forged", &[], None).await;
        assert_eq!(forged.status, 400, "{backend}");
        let card = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
        assert!(
            card.body.contains("confirmation link (double opt-in)"),
            "{}",
            card.body
        );

        for role in [Role::Staff, Role::Manager] {
            let p = page_as(&app, role, "/customers/c1/privacy", &[]).await;
            assert_eq!(p.status, 403, "{backend} {role}");
            let p = page_as(&app, role, "/customers/c1/export.json", &[]).await;
            assert_eq!(p.status, 403, "{backend} {role}");
            let p = post_form_as(
                &app,
                role,
                "/customers/c1/erase",
                &[("reason", "asked"), ("confirm", "c1")],
            )
            .await;
            assert_eq!(p.status, 403, "{backend} {role}");
        }
        let p = page_as(&app, Role::Admin, "/customers/c1/privacy?lang=fi", &[]).await;
        assert_eq!(p.status, 200, "{backend}");
        assert!(p.body.contains("Poista pysyvästi"), "{}", p.body);
        let p = page_as(&app, Role::Admin, "/customers/c1/privacy?lang=en", &[]).await;
        assert!(p.body.contains("Erase permanently"), "{}", p.body);

        // The export: a download of every record, audited.
        let e = page_as(&app, Role::Admin, "/customers/c1/export.json", &[]).await;
        assert_eq!(e.status, 200, "{backend}");
        assert!(
            e.header("content-disposition")
                .is_some_and(|d| d.contains("attachment")),
            "{}",
            e.head
        );
        let json = e.json();
        assert_eq!(json["tables"]["customers"][0]["name"], "Aino Virtanen");
        assert!(json["tables"]["transactions"].as_array().is_some());
        assert!(
            audit_of_entity(&app, "customers")
                .await
                .iter()
                .any(|a| a.entry.action == "export" && a.entry.record_id.as_deref() == Some("c1")),
            "{backend}"
        );

        // The confirmation: a wrong id or no reason erases nothing.
        let bad = post_form_as(
            &app,
            Role::Admin,
            "/customers/c1/erase?lang=en",
            &[("reason", "asked by mail"), ("confirm", "c2")],
        )
        .await;
        assert_eq!(bad.status, 422, "{backend}: {}", bad.body);
        assert!(bad.body.contains("erase-confirm-error"), "{}", bad.body);
        assert!(bad.body.contains("asked by mail"), "the reason is kept");
        let bad = post_form_as(
            &app,
            Role::Admin,
            "/customers/c1/erase",
            &[("reason", " "), ("confirm", "c1")],
        )
        .await;
        assert_eq!(bad.status, 422, "{backend}");
        assert!(app.store.get(&CUSTOMERS, "c1").await.unwrap().is_some());

        let done = post_form_as(
            &app,
            Role::Admin,
            "/customers/c1/erase?lang=en",
            &[("reason", "asked by mail"), ("confirm", "c1")],
        )
        .await;
        assert_eq!(done.status, 200, "{backend}: {}", done.body);
        assert!(done.body.contains("erased-"), "{}", done.body);
        assert!(app.store.get(&CUSTOMERS, "c1").await.unwrap().is_none());
        let gone = page_as(&app, Role::Admin, "/customers/c1/export.json", &[]).await;
        assert_eq!(gone.status, 404, "{backend}");

        // The API: admins only, the id again to confirm.
        let a = api_as(
            &app,
            Some(Role::Manager),
            "GET",
            "/api/v1/customers/evil/export",
            None,
        )
        .await;
        assert_eq!(a.status, 403, "{backend}");
        let a = api_as(
            &app,
            Some(Role::Admin),
            "GET",
            "/api/v1/customers/evil/export",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(
            a.json()["tables"]["customers"][0]["name"],
            "<script>alert(1)</script>"
        );
        let a = api_as(
            &app,
            Some(Role::Admin),
            "GET",
            "/api/v1/customers/evil/export?format=pdf",
            None,
        )
        .await;
        assert_eq!(a.status, 422, "{backend}");
        let a = api_as(
            &app,
            Some(Role::Admin),
            "POST",
            "/api/v1/customers/evil/erase",
            Some(r#"{"reason": "test"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("confirm"), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Admin),
            "POST",
            "/api/v1/customers/evil/erase",
            Some(r#"{"reason": "test", "confirm": "evil"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let new_id = a.json()["new_id"].as_str().unwrap().to_string();
        assert!(new_id.starts_with("erased-"));
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            &format!("/api/v1/customers/{new_id}/consent"),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Admin),
            "GET",
            "/api/v1/customers/evil/export",
            None,
        )
        .await;
        assert_eq!(a.status, 404, "{backend}");
    }
}
