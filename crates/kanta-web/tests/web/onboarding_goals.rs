//! Onboarding and goals over HTTP: the checklists page and its template form
//! (managers write, others read), the customer page's onboarding and goals forms (staff
//! can, viewers cannot), and the customer's goals link opened without signing in, as a
//! phone would: in the customer's language, private headers, and a 404 in both
//! languages once it expired or was revoked.

use chrono::{Duration, Utc};
use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, GOALS, STAFF};
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;

use crate::{App, api_as, page_as, post_form_as, request, spawn_app};

/// The phone the customer opens the link on (no cookie, no session).
const PHONE: &str =
    "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1";

async fn staff_row(app: &App) {
    // The staff test user's staff row, so notes and ticks name them.
    let f = ["name", "email"].map(|n| STAFF.field(n).unwrap()).to_vec();
    let mut s = WriteBatch::new(&STAFF, f);
    s.push(
        "s1".into(),
        [
            Value::Text("Sanna Staff".into()),
            Value::Text("staff@kanta.test".into()),
        ],
    );
    app.core.write_batch(&Acting::cli(), s).await.unwrap();
}

async fn set_locale(app: &App, customer: &str, locale: &str) {
    let f = CUSTOMERS.field("locale").unwrap();
    app.core
        .update_record(
            &Acting::cli(),
            &CUSTOMERS,
            customer,
            vec![f],
            vec![Value::Text(locale.into())],
        )
        .await
        .unwrap();
}

fn location(a: &crate::Answer) -> String {
    a.header("location").unwrap_or_default()
}

#[tokio::test]
async fn managers_write_checklists_and_everyone_reads_them() {
    let app = spawn_app("sqlite").await;
    let a = page_as(&app, Role::Viewer, "/onboarding", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body.contains("href=\"/onboarding\""),
        "nav link: {}",
        a.body
    );
    assert!(!a.body.contains("id=\"new-template\""));
    let a = page_as(&app, Role::Staff, "/onboarding/templates/new", &[]).await;
    assert_eq!(a.status, 403);
    let a = page_as(&app, Role::Manager, "/onboarding/templates/new", &[]).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("name=\"step_0_title\""), "{}", a.body);

    let fields = [
        ("name", "Kahvila start"),
        ("segment", "kahvila"),
        ("plan", ""),
        ("auto_start", "on"),
        ("active", "on"),
        ("step_0_title", "Kick-off call"),
        ("step_0_due", "3"),
        ("step_0_role", "account manager"),
        ("step_0_text", "We call you <b>soon</b>"),
        ("step_1_title", "Training"),
        ("step_1_due", "14"),
        ("step_1_role", ""),
        ("step_1_text", ""),
        ("step_2_title", ""),
        ("step_2_due", ""),
        ("step_2_role", ""),
        ("step_2_text", ""),
    ];
    let a = post_form_as(&app, Role::Staff, "/onboarding/templates", &fields).await;
    assert_eq!(a.status, 403, "staff cannot write checklists");
    let mut bad = fields.to_vec();
    bad[6] = ("step_0_due", "soon");
    let a = post_form_as(&app, Role::Manager, "/onboarding/templates", &bad).await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("Step 1: due days"), "{}", a.body);
    assert!(
        a.body.contains("value=\"Kick-off call\""),
        "the form comes back filled"
    );
    let a = post_form_as(&app, Role::Manager, "/onboarding/templates", &fields).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(location(&a), "/onboarding?saved=template");
    let a = page_as(&app, Role::Viewer, "/onboarding", &[]).await;
    assert!(a.body.contains("Kahvila start") && a.body.contains("Training"));
    assert!(
        a.body.contains("We call you &#60;b&#62;soon")
            || a.body.contains("We call you &lt;b&gt;soon"),
        "{}",
        a.body
    );
    let t = app.core.onboarding_templates(&Acting::cli()).await.unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].steps.len(), 2);
    assert_eq!(t[0].segment.as_deref(), Some("kahvila"));
    // The generic API lists the new entities.
    let a = api_as(
        &app,
        Some(Role::Viewer),
        "GET",
        "/api/v1/onboarding_steps",
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn staff_run_onboarding_from_the_customer_page_and_viewers_cannot() {
    let app = spawn_app("sqlite").await;
    staff_row(&app).await;
    let id = app
        .core
        .save_template(
            &Acting::cli(),
            kanta_core::onboarding::TemplateInput {
                name: "By hand".into(),
                auto_start: false,
                active: true,
                steps: vec![
                    kanta_core::onboarding::StepInput {
                        title: "Call".into(),
                        due_days: 1,
                        ..Default::default()
                    },
                    kanta_core::onboarding::StepInput {
                        title: "Visit".into(),
                        due_days: 7,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let start = [("template", id.as_str())];
    let a = post_form_as(&app, Role::Viewer, "/customers/c1/onboarding/start", &start).await;
    assert_eq!(a.status, 403);
    let a = post_form_as(&app, Role::Staff, "/customers/c1/onboarding/start", &start).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(location(&a), "/customers/c1?saved=onboarding-started");
    let a = post_form_as(&app, Role::Staff, "/customers/c1/onboarding/start", &start).await;
    assert_eq!(a.status, 422, "already under way: {}", a.body);
    let o = app
        .core
        .customer_onboarding(&Acting::cli(), "c1")
        .await
        .unwrap()
        .unwrap();
    let path = |k: &str| format!("/customers/c1/onboarding/tasks/{}/done", crate_enc(k));
    let a = post_form_as(&app, Role::Viewer, &path(&o.tasks[0].id), &[("note", "")]).await;
    assert_eq!(a.status, 403);
    let a = post_form_as(&app, Role::Staff, &path(&o.tasks[0].id), &[("note", "ok")]).await;
    assert_eq!(location(&a), "/customers/c1?saved=onboarding-task");
    let a = post_form_as(&app, Role::Staff, &path(&o.tasks[1].id), &[("note", "")]).await;
    assert_eq!(location(&a), "/customers/c1?saved=onboarding-completed");
    let o = app
        .core
        .customer_onboarding(&Acting::cli(), "c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, "completed");
    assert_eq!(o.tasks[0].done_by.as_deref(), Some("Sanna Staff"));
}

fn crate_enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn staff_keep_goals_and_viewers_cannot() {
    let app = spawn_app("sqlite").await;
    staff_row(&app).await;
    let goal = [
        ("title", "Orders a month"),
        ("measure", "orders"),
        ("baseline", "10"),
        ("target", "20"),
        ("due_on", "31.12.2030"),
    ];
    let a = post_form_as(&app, Role::Viewer, "/customers/c1/goals", &goal).await;
    assert_eq!(a.status, 403);
    let a = post_form_as(&app, Role::Staff, "/customers/c1/goals", &goal).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(location(&a), "/customers/c1?saved=goal#goals");
    let mut bad = goal.to_vec();
    bad[3] = ("target", "lots");
    let a = post_form_as(&app, Role::Staff, "/customers/c1/goals", &bad).await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("target"), "{}", a.body);
    let goals = app.core.customer_goals(&Acting::cli(), "c1").await.unwrap();
    assert_eq!(goals.len(), 1);
    let g = &goals[0].id;
    assert_eq!(goals[0].due_on.unwrap().to_string(), "2030-12-31");
    let note = [
        ("noted_on", "1.12.2026"),
        ("value", "15,5"),
        ("note", "Half way"),
    ];
    let a = post_form_as(
        &app,
        Role::Viewer,
        &format!("/customers/c1/goals/{g}/notes"),
        &note,
    )
    .await;
    assert_eq!(a.status, 403);
    let a = post_form_as(
        &app,
        Role::Staff,
        &format!("/customers/c1/goals/{g}/notes"),
        &note,
    )
    .await;
    assert_eq!(location(&a), "/customers/c1?saved=goal-note#goals");
    // A goal of another customer's page is refused.
    let a = post_form_as(
        &app,
        Role::Staff,
        &format!("/customers/evil/goals/{g}/notes"),
        &note,
    )
    .await;
    assert_eq!(a.status, 404);
    let st = [("status", "at_risk"), ("current", "")];
    let a = post_form_as(
        &app,
        Role::Viewer,
        &format!("/customers/c1/goals/{g}/status"),
        &st,
    )
    .await;
    assert_eq!(a.status, 403);
    let a = post_form_as(
        &app,
        Role::Staff,
        &format!("/customers/c1/goals/{g}/status"),
        &st,
    )
    .await;
    assert_eq!(location(&a), "/customers/c1?saved=goal-status#goals");
    let r = app.store.get(&GOALS, g).await.unwrap().unwrap();
    assert_eq!(r.get("current"), &Value::Float(15.5));
    assert_eq!(r.text("status"), Some("at_risk"));
}

/// Makes a link from the customer page as staff; returns the path `/g/<token>`.
async fn make_link(app: &App, customer: &str) -> String {
    let a = post_form_as(
        app,
        Role::Staff,
        &format!("/customers/{customer}/goal-links"),
        &[("days", "30")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
    let start = a
        .body
        .find("http://localhost/g/")
        .expect("the URL is shown");
    let url = &a.body[start + "http://localhost".len()..];
    url[..url.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_goals_link_opens_on_a_phone_without_signing_in() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        staff_row(&app).await;
        set_locale(&app, "c1", "fi").await;
        app.core
            .add_goal(
                &Acting::user(0, "staff@kanta.test", Role::Staff, kanta_core::Channel::Ui),
                "c1",
                kanta_core::goals::GoalInput {
                    title: "Tilaukset kasvuun".into(),
                    baseline: Some(10.0),
                    target: Some(20.0),
                    current: Some(15.0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let a = post_form_as(
            &app,
            Role::Viewer,
            "/customers/c1/goal-links",
            &[("days", "30")],
        )
        .await;
        assert_eq!(a.status, 403, "{backend}");
        let path = make_link(&app, "c1").await;
        let token = path.strip_prefix("/g/").unwrap();
        assert!(
            !app.store
                .goal_link_digests()
                .await
                .unwrap()
                .iter()
                .any(|d| d == token),
            "{backend}: the token is stored as its digest only"
        );
        let a = request(&app, "GET", &path, &[PHONE.into()], None).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(
            a.body.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            )
        );
        assert!(a.body.contains("<html lang=\"fi\">"), "{}", a.body);
        assert!(
            a.body.contains("Hei Aino"),
            "first name, Finnish: {}",
            a.body
        );
        assert!(a.body.contains("Tilaukset kasvuun") && a.body.contains("50 % matkasta"));
        assert!(!a.body.contains("<script"), "no JavaScript");
        assert!(
            !a.body.contains("Virtanen") && !a.body.contains("goal-"),
            "nothing internal"
        );
        assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(a.header("referrer-policy").as_deref(), Some("no-referrer"));
        assert_eq!(a.header("x-robots-tag").as_deref(), Some("noindex"));
        // An English customer reads English.
        set_locale(&app, "c1", "en").await;
        let a = request(&app, "GET", &path, &[PHONE.into()], None).await;
        assert!(a.body.contains("Hello Aino") && a.body.contains("<html lang=\"en\">"));
        // Revoked: a 404 that says so in both languages, and nothing else.
        let links = app.core.goal_links(&Acting::cli(), "c1").await.unwrap();
        let a = post_form_as(
            &app,
            Role::Viewer,
            &format!("/customers/c1/goal-links/{}/revoke", links[0].id),
            &[],
        )
        .await;
        assert_eq!(a.status, 403);
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/customers/c1/goal-links/{}/revoke", links[0].id),
            &[],
        )
        .await;
        assert_eq!(location(&a), "/customers/c1?saved=goal-link-revoked#goals");
        let a = request(&app, "GET", &path, &[PHONE.into()], None).await;
        assert_eq!(a.status, 404, "{backend}");
        assert!(a.body.contains("ei ole enää voimassa") && a.body.contains("no longer valid"));
        assert!(!a.body.contains("Tilaukset") && !a.body.contains("Aino"));
        assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
        // Expired: made 31 days ago for 30 days.
        let old = app
            .core
            .create_goal_link_at(
                &Acting::cli(),
                "c1",
                Utc::now() - Duration::days(31),
                Some(30),
            )
            .await
            .unwrap();
        let a = request(&app, "GET", &old.path, &[PHONE.into()], None).await;
        assert_eq!(a.status, 404, "{backend}");
        // A guessed token is the same 404.
        let a = request(&app, "GET", &format!("/g/{}", "a".repeat(64)), &[], None).await;
        assert_eq!(a.status, 404);
        assert!(a.body.contains("no longer valid"));
    }
}
