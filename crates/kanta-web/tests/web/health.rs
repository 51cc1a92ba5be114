//! The health score over real HTTP on both backends: the model page in Finnish and
//! English (method, AUC, Brier, calibration, weights), the API's model and a
//! customer's factors that add up to the logit, and "Refresh now" for managers only.

use chrono::{Days, NaiveDate, TimeZone, Utc};
use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, Entity, TRANSACTIONS, USAGE_EVENTS};
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn batch(e: &'static Entity, names: &[&str]) -> WriteBatch {
    WriteBatch::new(e, names.iter().map(|n| e.field(n).unwrap()).collect())
}

fn noon(day: NaiveDate) -> Value {
    Value::Time(Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap()))
}

/// 300 customers ordering every 7-21 days for 18 months, using the product weekly;
/// half of them stop ordering at some point, their usage falling eight weeks before.
async fn seed(app: &App, today: NaiveDate) {
    let cli = Acting::cli();
    let start = today - Days::new(540);
    let mut state: u64 = 11;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut c = batch(&CUSTOMERS, &["name", "acquired_on"]);
    let mut t = batch(
        &TRANSACTIONS,
        &["customer_id", "occurred_at", "amount", "currency"],
    );
    let mut u = batch(
        &USAGE_EVENTS,
        &["customer_id", "occurred_at", "metric", "value"],
    );
    for i in 0..300 {
        let id = format!("h{i:03}");
        c.push(
            id.clone(),
            [text(&format!("Terve {i}")), Value::Date(start)],
        );
        let stops = (next() < 0.5).then(|| start + Days::new(120 + (next() * 390.0) as u64));
        let mut day = start + Days::new((next() * 14.0) as u64);
        let mut k = 0;
        while day < today && stops.is_none_or(|s| day <= s) {
            t.push(
                format!("{id}-o{k}"),
                [text(&id), noon(day), Value::Int(2_000), text("EUR")],
            );
            k += 1;
            day = day + Days::new(7 + (next() * 14.0) as u64);
        }
        let mut week = start;
        let mut w = 0;
        while week < today {
            let low = stops.is_some_and(|s| week + Days::new(56) >= s);
            let v = if low { 2.0 } else { 10.0 } + (next() * 2.0).round();
            u.push(
                format!("{id}-u{w}"),
                [text(&id), noon(week), text("logins"), Value::Float(v)],
            );
            w += 1;
            week = week + Days::new(7);
        }
    }
    app.core.write_batch(&cli, c).await.unwrap();
    app.core.write_batch(&cli, t).await.unwrap();
    app.core.write_batch(&cli, u).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_page_and_api_show_the_learned_health_score() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Before the first refresh: the page says so, the API answers 404.
        let none = page_as(&app, Role::Viewer, "/health?lang=en", &[]).await;
        assert_eq!(none.status, 200, "{backend}: {}", none.body);
        assert!(none.body.contains("id=\"health-none\""), "{backend}");
        let missing = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/health/model",
            None,
        )
        .await;
        assert_eq!(missing.status, 404, "{backend}");

        let today = app.core.today().await.unwrap();
        seed(&app, today).await;
        let run = app
            .core
            .refresh_health(&Acting::cli(), today)
            .await
            .unwrap();
        assert_eq!(run.method, "learned", "{backend}: {:?}", run.why);

        // The model page, in English and in Finnish.
        let en = page_as(&app, Role::Viewer, "/health?lang=en", &[]).await;
        assert_eq!(en.status, 200, "{backend}");
        for want in [
            "Health score model",
            "learned from this store&#39;s history",
            "Holdout AUC",
            "id=\"health-auc\"",
            "Brier score",
            "Log-loss",
            "id=\"health-calibration\"",
            "Predicted churn",
            "Usage against own baseline",
        ] {
            assert!(
                en.body.contains(want),
                "{backend}: no {want} in {}",
                en.body
            );
        }
        // The viewer has no refresh button.
        assert!(!en.body.contains("action=\"/health/refresh\""), "{backend}");
        let fi = page_as(&app, Role::Viewer, "/health?lang=fi", &[]).await;
        for want in [
            "Terveyspistemalli",
            "AUC testijoukossa",
            "Brier-luku",
            "Kalibrointi",
            "Ennustettu lähtö",
            "Käyttö omaan tasoon nähden",
        ] {
            assert!(fi.body.contains(want), "{backend}: no {want}");
        }
        // The AUC shown is the run's, Finnish style.
        let auc = format!("{:.3}", run.validation.as_ref().unwrap().auc).replace('.', ",");
        assert!(fi.body.contains(&auc), "{backend}: AUC {auc}");
        let by_name = page_as(&app, Role::Viewer, "/health?sort=name&lang=en", &[]).await;
        assert_eq!(by_name.status, 200);

        // The API: the model, and a customer's factors adding up to the logit.
        let model = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/health/model",
            None,
        )
        .await;
        assert_eq!(model.status, 200, "{backend}: {}", model.body);
        let m = model.json();
        assert_eq!(m["method"], "learned");
        assert!(
            m["validation"]["auc"].as_f64().unwrap() > 0.6,
            "{backend}: {m}"
        );
        assert!(
            !m["validation"]["calibration"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let h = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/h001/health",
            None,
        )
        .await;
        assert_eq!(h.status, 200, "{backend}: {}", h.body);
        let h = h.json();
        let sum = h["factors"]
            .as_array()
            .unwrap()
            .iter()
            .fold(h["intercept"].as_f64().unwrap(), |s, f| {
                s + f["contribution"].as_f64().unwrap()
            });
        let logit = h["logit"].as_f64().unwrap();
        assert!((sum - logit).abs() < 1e-9, "{backend}: {sum} vs {logit}");
        let p = h["probability"].as_f64().unwrap();
        assert_eq!(
            h["score"].as_i64().unwrap(),
            (100.0 * (1.0 - p)).round() as i64
        );
        assert_eq!(h["history"].as_array().unwrap().len(), 1);
        let unknown = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/nobody/health",
            None,
        )
        .await;
        assert_eq!(unknown.status, 404, "{backend}");
        let anonymous = api_as(&app, None, "GET", "/api/v1/health/model", None).await;
        assert_eq!(anonymous.status, 401, "{backend}");

        // Refresh now: a viewer and staff are refused, a manager refreshes.
        let before = app.store.health_models(100).await.unwrap().len();
        for role in [Role::Viewer, Role::Staff] {
            let r = post_form_as(&app, role, "/health/refresh", &[]).await;
            assert_eq!(r.status, 403, "{backend}: {role}");
        }
        assert_eq!(app.store.health_models(100).await.unwrap().len(), before);
        let r = post_form_as(&app, Role::Manager, "/health/refresh", &[]).await;
        assert_eq!(r.status, 303, "{backend}: {}", r.body);
        let to = r.header("location").unwrap();
        assert!(to.starts_with("/health?refreshed=302"), "{backend}: {to}");
        assert_eq!(
            app.store.health_models(100).await.unwrap().len(),
            before + 1
        );
        let done = page_as(&app, Role::Manager, &format!("{to}&lang=en"), &[]).await;
        assert!(
            done.body.contains("Health scores refreshed: 302 customers"),
            "{backend}"
        );
        assert!(
            done.body.contains("action=\"/health/refresh\""),
            "{backend}"
        );
    }
}
