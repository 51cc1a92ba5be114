//! Kudos and the ideas box as users meet them, on both backends: `/thanks` shows the
//! signed-in user's thanks (the customer linked for staff, hidden from viewers, a
//! user no staff row has told why), `/kudos` is the managers' (per person, one
//! person's answers); `/ideas` takes an idea from any user, shows it escaped, and
//! only a manager sets its status and reply; the API does the same
//! (`/api/v1/ideas`, `/api/v1/ideas/{id}/status`, `/api/v1/kudos`).

use kanta_core::Acting;
use kanta_domain::schema::{FEEDBACK, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, post_form_as, request, spawn_app};

fn fields(e: &'static kanta_domain::Entity, n: &[&str]) -> Vec<&'static kanta_domain::Field> {
    n.iter().map(|n| e.field(n).unwrap()).collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Staff rows of the staff user (Sanna) and the viewer (Veera); answers naming both,
/// one of them from the customer named `<script>`.
async fn seed(app: &App) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sanna Staff"), text("staff@kanta.test")]);
    s.push(
        "s2".into(),
        [text("Veera Viewer"), text("viewer@kanta.test")],
    );
    app.core.write_batch(&cli, s).await.unwrap();
    let mut f = WriteBatch::new(
        &FEEDBACK,
        fields(
            &FEEDBACK,
            &["customer_id", "answered_at", "nps", "did_well"],
        ),
    );
    let at = |d: &str| Value::Time(kanta_domain::time::parse_timestamp(d, None).unwrap());
    f.push(
        "k1".into(),
        [
            text("evil"),
            at("2026-11-20T10:00:00Z"),
            Value::Int(10),
            text("Kiitos Sannalle! <script>alert(3)</script>"),
        ],
    );
    f.push(
        "k2".into(),
        [
            text("c1"),
            at("2026-11-21T10:00:00Z"),
            Value::Int(9),
            text("Veeralle iso kiitos"),
        ],
    );
    app.core.write_batch(&cli, f).await.unwrap();
}

#[tokio::test]
async fn thanks_reach_the_staff_named_and_managers_see_kudos_per_person() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = page_as(&app, Role::Staff, "/thanks", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Sannalle"), "{}", a.body);
        assert!(
            a.body.contains("&#60;script&#62;alert(3)&#60;/script&#62;"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("<script>alert(3)"), "{}", a.body);
        assert!(a.body.contains("href=\"/customers/evil\""), "{}", a.body);
        assert!(!a.body.contains("Veeralle"), "{}", a.body);
        assert!(a.body.contains("href=\"/thanks\"") && a.body.contains("href=\"/ideas\""));
        assert!(
            !a.body.contains("href=\"/kudos\""),
            "the navigation links kudos for managers only"
        );
        // A viewer reads their thanks without the customer.
        let a = page_as(&app, Role::Viewer, "/thanks?lang=fi", &[]).await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("Veeralle iso kiitos"), "{}", a.body);
        assert!(!a.body.contains("href=\"/customers/c1\""), "{}", a.body);
        assert!(a.body.contains("Asiakkaiden kiitokset"), "{}", a.body);
        // No staff row: told why.
        let a = page_as(&app, Role::Admin, "/thanks", &[]).await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("thanks-no-staff"), "{}", a.body);
        // Kudos per person: managers only.
        let a = page_as(&app, Role::Staff, "/kudos", &[]).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = page_as(&app, Role::Manager, "/kudos", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("Sanna Staff") && a.body.contains("Veera Viewer"));
        assert!(a.body.contains("href=\"/kudos?staff=s1\""), "{}", a.body);
        assert!(a.body.contains("href=\"/kudos\""));
        let a = page_as(&app, Role::Manager, "/kudos?staff=s1", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("Sannalle") && a.body.contains("&#60;script&#62;"));
        // The API: the manager reads anyone's, a viewer not another's.
        let a = api_as(
            &app,
            Some(Role::Manager),
            "GET",
            "/api/v1/kudos?staff=s2",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let j = a.json();
        assert_eq!(j["total"], 1);
        assert_eq!(j["items"][0]["matched"], "Veeralle");
        assert_eq!(j["items"][0]["customer_id"], "c1");
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/kudos?staff=s1",
            None,
        )
        .await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "GET",
            "/api/v1/kudos?staff=nobody",
            None,
        )
        .await;
        assert_eq!(a.status, 404, "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "GET",
            "/api/v1/kudos?who=s1",
            None,
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        // The staff user's own, by session, without naming the staff row.
        let s = &app.sessions[&Role::Staff];
        let a = request(
            &app,
            "GET",
            "/api/v1/kudos",
            &[format!("Cookie: {}", s.cookie())],
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["staff_id"], "s1");
    }
}

#[tokio::test]
async fn any_user_hands_in_ideas_and_only_managers_decide() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = page_as(&app, Role::Viewer, "/ideas", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("id=\"idea-form\"") && a.body.contains("for=\"i-body\""));
        assert!(
            !a.body.contains("id=\"ideas-filter\""),
            "a viewer sees only their own"
        );
        // A viewer hands in an idea with markup: it shows as text.
        let a = post_form_as(
            &app,
            Role::Viewer,
            "/ideas",
            &[
                ("body", "Kahvia jonoon <script>alert(4)</script>"),
                ("customer_id", "c1"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.header("location").as_deref(), Some("/ideas?saved=idea"));
        let a = page_as(&app, Role::Viewer, "/ideas?saved=idea", &[]).await;
        assert!(
            a.body
                .contains("Kahvia jonoon &#60;script&#62;alert(4)&#60;/script&#62;"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("<script>alert(4)"));
        assert!(a.body.contains("ideas-done") && a.body.contains("href=\"/customers/c1\""));
        // Bad input: the form again, the field named, what was typed kept.
        let a = post_form_as(&app, Role::Viewer, "/ideas", &[("body", "  ")]).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("Your idea:"), "{}", a.body);
        let a = post_form_as(
            &app,
            Role::Staff,
            "/ideas",
            &[("body", "Idea <b>"), ("customer_id", "nope")],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("no customer &#39;nope&#39;"), "{}", a.body);
        assert!(a.body.contains("Idea &#60;b&#62;"), "{}", a.body);
        // An unknown customer on the Finnish page: refused in Finnish, nothing stored.
        let a = post_form_as(
            &app,
            Role::Viewer,
            "/ideas?lang=fi",
            &[("body", "Parempi jono"), ("customer_id", "nosuch")],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body.contains("Asiakasta &#39;nosuch&#39; ei ole"),
            "{}",
            a.body
        );
        assert!(a.body.contains("Parempi jono"), "{}", a.body);
        let a = post_form_as(&app, Role::Viewer, "/ideas?lang=fi", &[("body", " ")]).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body.contains("Ideasi: kirjoita idea (kenttä on tyhjä)"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("write the idea"), "{}", a.body);
        // Without the CSRF token: refused.
        let s = &app.sessions[&Role::Viewer];
        let a = request(
            &app,
            "POST",
            "/ideas",
            &[format!("Cookie: {}", s.cookie())],
            Some(("application/x-www-form-urlencoded", "body=x")),
        )
        .await;
        assert_eq!(a.status, 403);
        // The manager sees every idea with its status form.
        let ideas = app.store.ideas(&Default::default()).await.unwrap();
        assert_eq!(ideas.len(), 1, "{backend}");
        let id = ideas[0].id;
        let a = page_as(&app, Role::Manager, "/ideas", &[]).await;
        assert!(
            a.body.contains(&format!("action=\"/ideas/{id}/status\"")),
            "{}",
            a.body
        );
        assert!(a.body.contains("&#60;script&#62;alert(4)"));
        // Staff may not decide; the manager may.
        let path = format!("/ideas/{id}/status");
        let a = post_form_as(
            &app,
            Role::Staff,
            &path,
            &[("status", "done"), ("reply", "x")],
        )
        .await;
        assert_eq!(a.status, 403);
        let a = post_form_as(
            &app,
            Role::Manager,
            &path,
            &[("status", "considered"), ("reply", "Hyvä <i>idea</i>")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let a = post_form_as(
            &app,
            Role::Manager,
            &format!("{path}?lang=fi"),
            &[("status", "bogus"), ("reply", "")],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body
                .contains("Tila: &#39;bogus&#39; ei ole tila: valitse uusi, harkinnassa"),
            "{}",
            a.body
        );
        let a = page_as(&app, Role::Viewer, "/ideas?lang=fi", &[]).await;
        assert!(a.body.contains("harkinnassa"), "{}", a.body);
        assert!(
            a.body.contains("Hyvä &#60;i&#62;idea&#60;/i&#62;"),
            "{}",
            a.body
        );
        let a = page_as(&app, Role::Manager, "/ideas?status=done", &[]).await;
        assert!(a.body.contains("ideas-all-none"), "{}", a.body);

        // The API: list, decide, refuse bad input; a token is no person to hand in.
        let a = api_as(
            &app,
            Some(Role::Manager),
            "GET",
            "/api/v1/ideas?status=considered",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["items"][0]["id"], id);
        assert_eq!(a.json()["items"][0]["reply"], "Hyvä <i>idea</i>");
        let a = api_as(&app, Some(Role::Viewer), "GET", "/api/v1/ideas", None).await;
        assert_eq!(a.json()["items"].as_array().unwrap().len(), 0);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/ideas",
            Some(r#"{"body":"x"}"#),
        )
        .await;
        assert_eq!(a.status, 403, "{}", a.body);
        let spath = format!("/api/v1/ideas/{id}/status");
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            &spath,
            Some(r#"{"status":"done"}"#),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            &spath,
            Some(r#"{"status":"soon"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("status"), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            &spath,
            Some(r#"{"status":"done","reply":"Tehty"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json()["status"], "done");
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/ideas/999999/status",
            Some(r#"{"status":"done"}"#),
        )
        .await;
        assert_eq!(a.status, 404);
        // A session hands one in through the API (with its CSRF token).
        let s = &app.sessions[&Role::Viewer];
        let h = [
            format!("Cookie: {}", s.cookie()),
            format!("X-CSRF-Token: {}", s.csrf),
        ];
        let a = request(
            &app,
            "POST",
            "/api/v1/ideas",
            &h,
            Some(("application/json", r#"{"body":"API idea","theme_id":"x"}"#)),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("theme_id"), "{}", a.body);
        let a = request(
            &app,
            "POST",
            "/api/v1/ideas",
            &h,
            Some((
                "application/json",
                r#"{"body":"API idea","customer_id":"nosuch"}"#,
            )),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body.contains("customer_id") && a.body.contains("nosuch"),
            "{}",
            a.body
        );
        let a = request(
            &app,
            "POST",
            "/api/v1/ideas",
            &h,
            Some(("application/json", r#"{"body":"API idea"}"#)),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.json()["status"], "new");
        let a = request(
            &app,
            "POST",
            "/api/v1/ideas",
            &h,
            Some(("application/json", r#"{"text":"x"}"#)),
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        // Every write audited through the write path.
        let audit = crate::audit_of_entity(&app, "ideas").await;
        assert_eq!(audit.len(), 4, "{backend}: {audit:?}");
    }
}
