//! `GET /api/v1/value/economics` over real HTTP on both backends: viewers and
//! managers read the retention economics (churn reasons by journey stage, the mean
//! acquisition cost, and, before any model run, why the five-points figure is
//! missing); staff are refused.

use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::CUSTOMERS;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{api_as, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn day(s: &str) -> Value {
    Value::Date(s.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn economics_api_for_viewers_and_managers_not_staff() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let names = [
            "acquired_on",
            "status",
            "ended_on",
            "end_reason_code",
            "acquisition_cost",
        ];
        let mut c = WriteBatch::new(
            &CUSTOMERS,
            names.iter().map(|n| CUSTOMERS.field(n).unwrap()).collect(),
        );
        c.push(
            "x1".into(),
            [
                day("2026-01-01"),
                text("ended"),
                day("2026-03-01"),
                text("abusive"),
                Value::Int(12_000),
            ],
        );
        app.core.write_batch(&Acting::cli(), c).await.unwrap();
        for role in [Role::Viewer, Role::Manager] {
            let r = api_as(&app, Some(role), "GET", "/api/v1/value/economics", None).await;
            assert_eq!(r.status, 200, "{backend} {role}: {}", r.body);
            let j = r.json();
            assert_eq!(j["churn"]["ended"], 1, "{backend}: {j}");
            let first_90 = j["churn"]["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["stage"] == "first_90_days")
                .cloned()
                .unwrap();
            assert_eq!(first_90["reasons"][0][0], "abusive", "{backend}: {j}");
            assert_eq!(j["acquisition"]["mean_minor"], 12_000, "{backend}: {j}");
            assert!(j["five_points"].is_null(), "{backend}: {j}");
            assert!(j["five_points_note"].is_string(), "{backend}: {j}");
            assert_eq!(j["currency"], "EUR");
        }
        let staff = api_as(
            &app,
            Some(Role::Staff),
            "GET",
            "/api/v1/value/economics",
            None,
        )
        .await;
        assert_eq!(staff.status, 403, "{backend}: {}", staff.body);
        let anonymous = api_as(&app, None, "GET", "/api/v1/value/economics", None).await;
        assert_eq!(anonymous.status, 401, "{backend}");
    }
}
