//! Offers over real HTTP on both backends: a manager makes an offer through the
//! generic API (staff are refused), confirms the groups on `/offers/{id}/send`, sends
//! it by the form; a second send through the API is a 409; the report page and
//! `GET /api/v1/offers/{id}/report` show the groups and the "not enough data yet"
//! state; the drill-down lists the customers of an arm; the value section renders.

use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::CUSTOMERS;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{api_as, page_as, post_form_as, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_through_api_and_pages() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let names = ["name", "tier", "segment", "marketing_consent", "email"];
        let mut c = WriteBatch::new(
            &CUSTOMERS,
            names.iter().map(|n| CUSTOMERS.field(n).unwrap()).collect(),
        );
        for i in 0..50 {
            c.push(
                format!("c{i:02}"),
                vec![
                    Value::Text(format!("Asiakas <b>{i}</b>")),
                    Value::Text(if i < 30 { "A" } else { "B" }.into()),
                    Value::Text("kanta".into()),
                    Value::Bool(true),
                    Value::Text(format!("c{i}@example.fi")),
                ],
            );
        }
        app.core.write_batch(&Acting::cli(), c).await.unwrap();
        let body = r#"{"id": "kevat", "name": "Kevään <kahvi>", "text_fi": "Kahvi -50 %",
            "text_en": "Coffee half price", "channel": "email", "audience": "segment",
            "audience_value": "kanta", "valid_from": "2026-03-01", "valid_until": "2099-03-31",
            "control_percent": 20, "hoped_points": 5, "status": "draft", "code": "KEVAT"}"#;
        let staff = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/offers",
            Some(body),
        )
        .await;
        assert_eq!(staff.status, 403, "{backend}: {}", staff.body);
        let made = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/offers",
            Some(body),
        )
        .await;
        assert_eq!(made.status, 201, "{backend}: {}", made.body);

        let list = page_as(&app, Role::Viewer, "/offers", &[]).await;
        assert_eq!(list.status, 200, "{backend}");
        assert!(
            list.body.contains("Kevään &#60;kahvi&#62;"),
            "{}",
            list.body
        );

        // The confirmation shows the groups' sizes: 30 → 6 control, 20 → 4.
        let confirm = page_as(&app, Role::Manager, "/offers/kevat/send", &[]).await;
        assert_eq!(confirm.status, 200, "{backend}: {}", confirm.body);
        assert!(confirm.body.contains("offer-send-form"));
        assert!(
            confirm
                .body
                .contains("<td>A</td><td class=\"num\">24</td><td class=\"num\">6</td>"),
            "{}",
            confirm.body
        );
        let viewer = page_as(&app, Role::Viewer, "/offers/kevat/send", &[]).await;
        assert_eq!(viewer.status, 403, "{backend}");

        let sent = post_form_as(&app, Role::Manager, "/offers/kevat/send", &[]).await;
        assert_eq!(sent.status, 303, "{backend}: {}", sent.body);
        let again = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/offers/kevat/send",
            None,
        )
        .await;
        assert_eq!(again.status, 409, "{backend}: {}", again.body);

        let report = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/offers/kevat/report",
            None,
        )
        .await;
        assert_eq!(report.status, 200, "{backend}: {}", report.body);
        let j = report.json();
        assert_eq!(j["uplift"]["n_offer"], 40, "{j}");
        assert_eq!(j["uplift"]["n_control"], 10, "{j}");
        assert_eq!(j["uplift"]["not_yet"], "window_open", "{j}");
        assert_eq!(j["told"], 40);

        let page = page_as(&app, Role::Viewer, "/offers/kevat?lang=fi", &[]).await;
        assert_eq!(page.status, 200, "{backend}");
        assert!(page.body.contains("offer-not-yet"), "{}", page.body);
        assert!(page.body.contains("Ostaneiden osuus"), "{}", page.body);
        let drill = page_as(
            &app,
            Role::Viewer,
            "/offers/kevat/customers?arm=control",
            &[],
        )
        .await;
        assert_eq!(drill.status, 200);
        assert_eq!(
            drill.body.matches("href=\"/customers/c").count(),
            10,
            "{}",
            drill.body
        );
        let missing = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/offers/nope/report",
            None,
        )
        .await;
        assert_eq!(missing.status, 404);
    }
}
