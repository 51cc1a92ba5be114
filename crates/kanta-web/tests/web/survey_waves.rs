//! Sending surveys as a manager meets it, on both backends: the waves page sends a
//! wave (303 and a notice), lists it with its counts; the invitation log says why each
//! customer was skipped, in words, and escapes what customers wrote; a link wave shows
//! the links and their CSV; staff cannot send; bad input is the form again (422) with
//! the field named; the API sends (201) and lists the log, 422 naming the field.

use kanta_core::Acting;
use kanta_core::surveys::SurveyInput;
use kanta_domain::schema::CUSTOMERS;
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

async fn seed(app: &App) {
    let f = ["name", "email", "locale", "survey_consent", "segment"]
        .iter()
        .map(|n| CUSTOMERS.field(n).unwrap())
        .collect();
    let mut c = WriteBatch::new(&CUSTOMERS, f);
    c.push(
        "c1".into(),
        [
            text("Aino Virtanen"),
            text("aino@example.fi"),
            text("fi"),
            Value::Bool(true),
            text("kahvila"),
        ],
    );
    c.push(
        "evil".into(),
        [
            text("<script>alert(1)</script>"),
            text("evil@example.fi"),
            text("en"),
            Value::Bool(false),
            text("kahvila"),
        ],
    );
    c.push(
        "c3".into(),
        [
            text("Ben"),
            Value::Null,
            text("en"),
            Value::Bool(true),
            text("toimisto"),
        ],
    );
    app.core.write_batch(&Acting::cli(), c).await.unwrap();
    let m = Acting::user(
        1,
        "manager@kanta.test",
        Role::Manager,
        kanta_core::Channel::Ui,
    );
    app.core
        .create_survey(
            &m,
            Some("cafe"),
            SurveyInput {
                name: Some("Kahvilan kysely".into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
    app.core
        .set_survey_status(&m, "cafe", "active")
        .await
        .unwrap();
    app.core
        .set_store_setting(&m, "survey_quiet_hours", "none")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_manager_sends_a_wave_and_reads_the_log() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let p = page_as(&app, Role::Manager, "/surveys/cafe/waves", &[]).await;
        assert_eq!(p.status, 200, "{backend}: {}", p.body);
        assert!(p.body.contains("id=\"wave-form\"") && p.body.contains("for=\"w-audience\""));
        // Staff see the page but get no form, and cannot post.
        let p = page_as(&app, Role::Staff, "/surveys/cafe/waves", &[]).await;
        assert_eq!(p.status, 200);
        assert!(!p.body.contains("id=\"wave-form\""));
        let p = post_form_as(
            &app,
            Role::Staff,
            "/surveys/cafe/waves",
            &[("audience", "all"), ("channel", "email")],
        )
        .await;
        assert_eq!(p.status, 403, "{backend}");

        // Bad input: the form again, the field named.
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves",
            &[("audience", "segment"), ("value", ""), ("channel", "email")],
        )
        .await;
        assert_eq!(p.status, 422, "{backend}: {}", p.body);
        assert!(p.body.contains("id=\"waves-error\""), "{}", p.body);

        // A wave to the segment kahvila by email.
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves",
            &[
                ("audience", "segment"),
                ("value", "kahvila"),
                ("channel", "email"),
            ],
        )
        .await;
        assert_eq!(p.status, 303, "{backend}: {}", p.body);
        let p = page_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves?sent=1",
            &["Accept-Language: en".into()],
        )
        .await;
        assert!(p.body.contains("id=\"waves-done\""), "{}", p.body);
        assert!(p.body.contains("id=\"waves-table\""));

        // The log: invited and skipped with the reason in words, names escaped.
        let p = page_as(&app, Role::Viewer, "/surveys/cafe/invitations?lang=en", &[]).await;
        assert_eq!(p.status, 200, "{backend}: {}", p.body);
        assert!(p.body.contains("No survey consent"), "{}", p.body);
        assert!(
            p.body.contains("&lt;script&gt;alert(1)")
                || p.body.contains("&#60;script&#62;alert(1)"),
            "{}",
            p.body
        );
        assert!(!p.body.contains("<script>alert(1)</script>"));
        let p = page_as(
            &app,
            Role::Viewer,
            "/surveys/cafe/invitations?status=skipped&lang=fi",
            &[],
        )
        .await;
        assert!(
            p.body.contains("Ei kyselysuostumusta") && !p.body.contains("Aino Virtanen"),
            "{}",
            p.body
        );
        let p = page_as(
            &app,
            Role::Viewer,
            "/surveys/cafe/invitations?reason=bogus",
            &[],
        )
        .await;
        assert_eq!(p.status, 422);

        // A link wave: the links shown and downloadable.
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves",
            &[
                ("audience", "customers"),
                ("value", "c3"),
                ("channel", "link"),
            ],
        )
        .await;
        assert_eq!(p.status, 200, "{backend}: {}", p.body);
        assert!(
            p.body.contains("id=\"waves-links\"") && p.body.contains("/s/"),
            "{}",
            p.body
        );
        let csv_path = p
            .body
            .split("id=\"waves-csv\"")
            .next()
            .and_then(|b| b.rsplit("href=\"").next())
            .and_then(|h| h.split('"').next())
            .unwrap()
            .to_string();
        let csv = page_as(&app, Role::Manager, &csv_path, &[]).await;
        assert_eq!(csv.status, 200, "{csv_path}");
        assert!(csv.body.starts_with("customer,link\nc3,"), "{}", csv.body);

        // Unknown survey.
        let p = page_as(&app, Role::Manager, "/surveys/nope/waves", &[]).await;
        assert_eq!(p.status, 404, "{backend}");
    }
}

#[tokio::test]
async fn the_api_sends_a_wave_and_lists_the_log() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some("{}"),
        )
        .await;
        assert_eq!(a.status, 403, "{backend}");
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "tier"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("value"), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"channel": "pigeon"}"#),
        )
        .await;
        assert_eq!(a.status, 422);
        assert!(a.body.contains("channel"));
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"dry_run": true}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["wave_id"], serde_json::Value::Null);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "all"}"#),
        )
        .await;
        assert_eq!(a.status, 201, "{backend}: {}", a.body);
        let w = a.json();
        assert_eq!(
            (w["considered"].as_i64(), w["invited"].as_i64()),
            (Some(3), Some(1)),
            "{w}"
        );
        assert_eq!(w["reasons"]["no_consent"], 1);
        assert_eq!(w["reasons"]["no_email"], 1);
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/surveys/cafe/invitations?reason=no_email",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let items = a.json()["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["customer"], "c3");
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/surveys/cafe/waves",
            None,
        )
        .await;
        assert_eq!(a.json()["items"].as_array().unwrap().len(), 1);
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/surveys/cafe/invitations?limit=0",
            None,
        )
        .await;
        assert_eq!(a.status, 422);
    }
}

/// The number of waves of the survey `cafe`.
async fn wave_count(app: &App) -> usize {
    let id = app
        .core
        .store()
        .survey_by_external_id("cafe")
        .await
        .unwrap()
        .unwrap()
        .0;
    app.core.store().survey_waves(id, 100).await.unwrap().len()
}

#[tokio::test]
async fn a_wave_to_nobody_is_refused_and_not_written() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        // The page: a tier not in A-D, a segment without customers; fi and en.
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves?lang=en",
            &[("audience", "tier"), ("value", "Z"), ("channel", "email")],
        )
        .await;
        assert_eq!(p.status, 422, "{backend}: {}", p.body);
        assert!(
            p.body
                .contains("Tier: &#39;Z&#39; is not one of A, B, C, D"),
            "{}",
            p.body
        );
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves?lang=en",
            &[
                ("audience", "segment"),
                ("value", "nosuch"),
                ("channel", "email"),
            ],
        )
        .await;
        assert_eq!(p.status, 422, "{backend}: {}", p.body);
        assert!(
            p.body
                .contains("no customers match segment &#39;nosuch&#39;"),
            "{}",
            p.body
        );
        assert!(p.body.contains("id=\"waves-error\""));
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves?lang=fi",
            &[
                ("audience", "segment"),
                ("value", "nosuch"),
                ("channel", "link"),
            ],
        )
        .await;
        assert_eq!(p.status, 422, "{backend}: {}", p.body);
        assert!(
            p.body
                .contains("segmentissä &#39;nosuch&#39; ei ole yhtään asiakasta"),
            "{}",
            p.body
        );
        let p = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/waves?lang=fi",
            &[("audience", "tier"), ("value", "z"), ("channel", "email")],
        )
        .await;
        assert_eq!(p.status, 422, "{backend}: {}", p.body);
        assert!(
            p.body
                .contains("Luokka: &#39;z&#39; ei ole mikään luokista A, B, C, D"),
            "{}",
            p.body
        );
        // The API: 422 naming the field and reason.
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "tier", "value": "Z"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(
            a.body.contains("'Z' is not one of A, B, C, D") && a.body.contains("tier"),
            "{}",
            a.body
        );
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "segment", "value": "nosuch"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(
            a.body.contains("no customers match segment 'nosuch'"),
            "{}",
            a.body
        );
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "customers", "customers": ["nobody"], "dry_run": true}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "queue"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("contact queue"), "{}", a.body);
        assert_eq!(wave_count(&app).await, 0, "{backend}: no wave written");
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/surveys/cafe/invitations",
            None,
        )
        .await;
        assert_eq!(a.json()["items"].as_array().unwrap().len(), 0, "{backend}");
        // A tier in lower case is a tier; a segment with customers goes out.
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys/cafe/waves",
            Some(r#"{"audience": "segment", "value": "kahvila", "channel": "link"}"#),
        )
        .await;
        assert_eq!(a.status, 201, "{backend}: {}", a.body);
        assert_eq!(wave_count(&app).await, 1, "{backend}");
    }
}
