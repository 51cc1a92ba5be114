//! The feedback page, its drill-down to the answers and the report's API, over real
//! HTTP on both backends: figures with intervals and "not enough answers", Finnish
//! and English, every text a customer wrote escaped, bad input named.

use chrono::{Duration, Utc};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;
use serde_json::Value;

use crate::{App, api_as, page_as, spawn_app};

/// 40 answers this month (store time zone): 20 promoters (NPS 10), 10 passives (8),
/// 10 detractors (3) of customer fc1 (segment kahvila) writing about queueing, one
/// with markup; NPS 25. A theme "jonotus" holds the detractors' answers.
async fn lay_out(app: &App) {
    let at = (Utc::now() - Duration::minutes(2))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut sql = String::from(
        "INSERT INTO customers (id, external_id, name, segment, tier) VALUES \
         (101, 'fc1', '<i>Fanni</i>', 'kahvila', 'A');\n",
    );
    for i in 0..40 {
        let (nps, text) = match i {
            0..20 => (10, "NULL".to_string()),
            20..30 => (8, "NULL".to_string()),
            30 => (3, "'Jono <script>alert(1)</script> pitkä'".to_string()),
            _ => (3, "'Jono oli pitkä'".to_string()),
        };
        sql.push_str(&format!(
            "INSERT INTO feedback (id, external_id, customer_id, answered_at, nps, do_better, channel) \
             VALUES ({}, 'ff{i}', 101, '{at}', {nps}, {text}, 'qr');\n",
            1000 + i
        ));
    }
    sql.push_str(
        "INSERT INTO feedback_themes (id, theme_key, label, words, answers, created_ms, updated_ms) \
         VALUES (1, 'jono', 'jonotus', 'jono,pitkä', 10, 0, 0);\n",
    );
    for i in 30..40 {
        sql.push_str(&format!(
            "INSERT INTO feedback_theme_members (feedback_id, field, theme_id, weight) VALUES ({}, 'do_better', 1, 1.0);\n",
            1000 + i
        ));
    }
    app.store.feedback_stats_test_sql(&sql).await.unwrap();
}

#[tokio::test]
async fn the_feedback_page_shows_figures_and_the_answers_behind_them() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        lay_out(&app).await;

        for (lang, words) in [
            (
                "en",
                [
                    "Net Promoter Score",
                    "Reputation exposure",
                    "What drives detractors",
                ],
            ),
            (
                "fi",
                [
                    "Suositteluindeksi",
                    "Maineen kantama",
                    "Mikä tekee arvostelijoita",
                ],
            ),
        ] {
            let a = page_as(&app, Role::Viewer, &format!("/feedback?lang={lang}"), &[]).await;
            assert_eq!(a.status, 200, "{backend} {lang}: {}", a.body);
            for w in words {
                assert!(a.body.contains(w), "{backend} {lang}: no {w}");
            }
            assert!(
                a.body.contains("href=\"/feedback\""),
                "the nav links the page"
            );
            assert!(a.body.contains("id=\"by-period\""));
            assert!(a.body.contains("<svg"), "charts are drawn");
            assert!(a.body.contains("/feedback/themes"));
            assert!(
                a.body.contains("data-theme=\"1\""),
                "{backend}: the theme is listed"
            );
        }
        let a = page_as(&app, Role::Viewer, "/feedback?lang=en", &[]).await;
        // This month: NPS +25 with its interval; the table links to the detractors.
        assert!(a.body.contains("+25 (n 40)"), "{backend}: {}", a.body);
        assert!(a.body.contains("group=detractor"));
        // 3 × 20 promoters = 60, 11 × 10 detractors = 110 in the exposure table.
        assert!(
            a.body.contains(">60<") && a.body.contains(">110<"),
            "{backend}"
        );

        // Fewer answers than the setting: no figure, the n said.
        app.core
            .set_store_setting(&kanta_core::Acting::cli(), "feedback_min_answers", "50")
            .await
            .unwrap();
        let b = page_as(&app, Role::Viewer, "/feedback?lang=en", &[]).await;
        assert!(b.body.contains("not enough answers (40)"), "{backend}");
        assert!(!b.body.contains("+25 (n 40)"), "{backend}");

        // The answers behind this month's detractors: 10, each customer linked, the
        // markup they wrote shown as text.
        let month = Utc::now()
            .with_timezone(&kanta_domain::time::DEFAULT_ZONE)
            .format("%Y-%m")
            .to_string();
        let a = page_as(
            &app,
            Role::Viewer,
            &format!("/feedback/answers?period={month}&group=detractor&lang=en"),
            &[],
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.body.matches("<li data-id=").count(), 10, "{backend}");
        assert!(a.body.contains("href=\"/customers/fc1\""));
        assert!(
            a.body.contains("&#60;i&#62;Fanni&#60;/i&#62;"),
            "{}",
            a.body
        );
        assert!(a.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
        assert!(!a.body.contains("<script>alert(1)"));
        assert!(!a.body.contains("<i>Fanni</i>"));
        // A theme's answers, paged.
        let a = page_as(&app, Role::Viewer, "/feedback/answers?theme=1", &[]).await;
        assert_eq!(a.body.matches("<li data-id=").count(), 10, "{backend}");

        // Bad input: the page says which and why.
        for (path, word) in [
            ("/feedback?months=0&lang=en", "months"),
            ("/feedback?by=year&lang=en", "year"),
            ("/feedback/answers?period=lokakuu&lang=en", "lokakuu"),
            ("/feedback/answers?theme=x&lang=en", "number"),
            ("/feedback/answers?group=angry&lang=en", "angry"),
        ] {
            let a = page_as(&app, Role::Viewer, path, &[]).await;
            assert_eq!(a.status, 400, "{backend} {path}");
            assert!(a.body.contains(word), "{backend} {path}: {}", a.body);
        }

        // The API: the same report as JSON; the answers; bad input is a 422 naming
        // the field.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/feedback/report?by=quarter&months=3",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let v: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["by"], "quarter");
        assert_eq!(v["themes"][0]["label"], "jonotus");
        assert_eq!(v["exposure_detractor"], 11);
        let last = v["periods"].as_array().unwrap().last().unwrap().clone();
        assert!(last["key"].as_str().unwrap().contains("-Q"));
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            &format!("/api/v1/feedback/answers?period={month}&group=detractor&limit=3"),
            None,
        )
        .await;
        let v: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(
            (v["total"].as_i64(), v["items"].as_array().map(Vec::len)),
            (Some(10), Some(3))
        );
        for (path, field) in [
            ("/api/v1/feedback/report?by=year", "by"),
            ("/api/v1/feedback/report?months=500", "months"),
            ("/api/v1/feedback/answers?measure=joy", "measure"),
            ("/api/v1/feedback/answers?limit=0", "limit"),
        ] {
            let a = api_as(&app, Some(Role::Viewer), "GET", path, None).await;
            assert_eq!(a.status, 422, "{backend} {path}: {}", a.body);
            let v: Value = serde_json::from_str(&a.body).unwrap();
            assert_eq!(v["field"], field, "{backend} {path}");
        }
        let a = api_as(&app, None, "GET", "/api/v1/feedback/report", None).await;
        assert_eq!(a.status, 401);
    }
}
