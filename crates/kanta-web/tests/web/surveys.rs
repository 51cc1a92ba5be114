//! The public survey pages over HTTP, as a phone opens them (no session, no
//! JavaScript): a personal link's form in the customer's language with a switch, an
//! answer that comes back with its problems (422), is saved once and thanked for, a
//! second answer refused, expired and altered links with pages of their own, the
//! 429 page over the rate limit, the one-click unsubscribe and the QR code's
//! anonymous page tied to a customer by loyalty number.

use kanta_core::surveys::{LinkClaims, SurveyInput, new_token_id, sign_link, verify_link};
use kanta_core::{Acting, Channel};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, FEEDBACK};
use kanta_store::accounts::Role;

use crate::{App, api_as, form, page_as, post_form_as, request, spawn_app};

const PHONE: &str =
    "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1";

fn manager() -> Acting {
    Acting::user(0, "manager@kanta.test", Role::Manager, Channel::Ui)
}

async fn setup(app: &App, asks: &str) {
    let f = |n| CUSTOMERS.field(n).unwrap();
    app.core
        .update_record(
            &Acting::cli(),
            &CUSTOMERS,
            "c1",
            vec![f("locale"), f("survey_consent")],
            vec![Value::Text("fi".into()), Value::Bool(true)],
        )
        .await
        .unwrap();
    app.core
        .create_survey(
            &manager(),
            Some("kahvila"),
            SurveyInput {
                name: Some("Kahvila".into()),
                anonymous_asks: Some(asks.into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
    app.core
        .set_survey_status(&manager(), "kahvila", "active")
        .await
        .unwrap();
}

async fn link(app: &App) -> String {
    let url = app
        .core
        .survey_link(&manager(), "kahvila", "c1")
        .await
        .unwrap();
    format!("/s/{}", url.rsplit('/').next().unwrap())
}

async fn post(app: &App, path: &str, pairs: &[(&str, &str)]) -> crate::Answer {
    request(
        app,
        "POST",
        path,
        &[PHONE.into()],
        Some(("application/x-www-form-urlencoded", &form(pairs))),
    )
    .await
}

async fn get(app: &App, path: &str) -> crate::Answer {
    request(app, "GET", path, &[PHONE.into()], None).await
}

fn private(a: &crate::Answer) {
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(a.header("x-robots-tag").as_deref(), Some("noindex"));
    assert!(!a.body.contains("<script"), "no JavaScript: {}", a.body);
}

#[tokio::test]
async fn a_customer_answers_a_link_once_on_a_phone() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        setup(&app, "none").await;
        let path = link(&app).await;

        let a = get(&app, &path).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        private(&a);
        assert!(a.body.contains("<html lang=\"fi\">"));
        assert!(a.body.contains("width=device-width, initial-scale=1"));
        assert!(a.body.contains("Hei Aino"), "{}", a.body);
        assert!(a.body.contains("Mitä teimme hyvin?"));
        // Every input has its label.
        for n in 0..=10 {
            assert!(a.body.contains(&format!("<label for=\"q-nps-{n}\">")));
            assert!(a.body.contains(&format!("id=\"q-nps-{n}\"")));
        }
        assert!(a.body.contains("<label for=\"q-did_well\">"));
        assert!(a.body.contains("?lang=en"), "a switch to English");
        let en = get(&app, &format!("{path}?lang=en")).await;
        assert!(en.body.contains("<html lang=\"en\">"));
        assert!(en.body.contains("What did we do well?"));

        // A bad answer: the form again with the problem, what was typed kept.
        let a = post(
            &app,
            &format!("{path}?lang=fi"),
            &[("nps", "11"), ("did_well", "Kahvi <b>hyvää</b>")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("Valitse yksi vaihtoehdoista."));
        assert!(
            a.body.contains("Kahvi &#60;b&#62;hyvää&#60;/b&#62;")
                || a.body.contains("Kahvi &lt;b&gt;hyvää&lt;/b&gt;"),
            "{}",
            a.body
        );

        let said = "<script>alert(1)</script> jono";
        let a = post(
            &app,
            &format!("{path}?lang=fi"),
            &[("nps", "3"), ("do_better", said)],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let to = a.header("location").unwrap();
        assert!(to.ends_with("/thanks?lang=fi"), "{to}");
        let t = get(&app, &to).await;
        assert_eq!(t.status, 200);
        assert!(t.body.contains("Kiitos vastauksestasi!"));

        let token = path.strip_prefix("/s/").unwrap();
        let tid = verify_link(&app.core.survey_key().await.unwrap(), token)
            .unwrap()
            .token_id;
        let f = app
            .store
            .get(&FEEDBACK, &format!("svy-{tid}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.get("nps"), &Value::Int(3), "{backend}");
        assert_eq!(f.get("do_better"), &Value::Text(said.into()));

        // Again: refused with its own page; the page itself says so too.
        let a = post(&app, &path, &[("nps", "10")]).await;
        assert_eq!(a.status, 410, "{backend}");
        assert!(a.body.contains("Olet jo vastannut"), "{}", a.body);
        let a = get(&app, &path).await;
        assert_eq!(a.status, 410);
        private(&a);

        // Expired and altered links.
        let sid = app.store.survey("kahvila").await.unwrap().unwrap().id;
        let old = sign_link(
            &app.core.survey_key().await.unwrap(),
            &LinkClaims {
                survey_id: sid,
                customer_id: None,
                token_id: new_token_id(),
                expires_ms: 1_000,
            },
        );
        let a = get(&app, &format!("/s/{old}?lang=en")).await;
        assert_eq!(a.status, 410);
        assert!(a.body.contains("This link has expired"), "{}", a.body);
        let fresh = link(&app).await;
        let altered = format!("{}x{}", &fresh[..10], &fresh[11..]);
        let a = get(&app, &format!("{altered}?lang=en")).await;
        assert_eq!(a.status, 400, "{backend}");
        assert!(a.body.contains("This link is not valid"));
        let a = get(&app, "/s/garbage").await;
        assert_eq!(a.status, 400);
    }
}

#[tokio::test]
async fn too_many_requests_get_a_429_page() {
    let app = spawn_app("sqlite").await;
    setup(&app, "none").await;
    app.core
        .set_store_setting(&manager(), "survey_rate_limit", "3")
        .await
        .unwrap();
    let path = link(&app).await;
    for _ in 0..3 {
        assert_eq!(get(&app, &path).await.status, 200);
    }
    let a = get(&app, &path).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("retry-after").as_deref(), Some("60"));
    assert!(a.body.contains("<h1>"), "a page, not an error: {}", a.body);
}

#[tokio::test]
async fn unsubscribing_is_one_click_and_recorded() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        setup(&app, "none").await;
        let path = link(&app).await;
        let a = get(&app, &format!("{path}/unsubscribe")).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        private(&a);
        assert!(a.body.contains("<form method=\"post\""));
        // A GET changed nothing.
        let c = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(c.get("survey_consent"), &Value::Bool(true));
        // RFC 8058: a POST with List-Unsubscribe=One-Click.
        let a = post(
            &app,
            &format!("{path}/unsubscribe"),
            &[("List-Unsubscribe", "One-Click")],
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("emme enää lähetä"), "{}", a.body);
        let c = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
        assert_eq!(c.get("survey_consent"), &Value::Bool(false), "{backend}");
    }
}

#[tokio::test]
async fn the_qr_page_takes_anonymous_answers() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        setup(&app, "loyalty").await;
        let a = get(&app, "/q/kahvila?lang=fi").await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        private(&a);
        assert!(
            a.body
                .contains("<label for=\"who\">Kanta-asiakasnumerosi</label>")
        );
        let a = post(&app, "/q/kahvila?lang=fi", &[("nps", "9"), ("who", "c1")]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let a = post(&app, "/q/kahvila?lang=en", &[("did_well", "Nice")]).await;
        assert_eq!(a.status, 303, "{backend}");
        let a = post(&app, "/q/kahvila?lang=en", &[]).await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(a.body.contains("Please answer at least one question."));
        let a = get(&app, "/q/nothing?lang=en").await;
        assert_eq!(a.status, 404, "{backend}: {}", a.body);
        assert!(a.body.contains("No such survey"), "{}", a.body);
        app.core
            .set_survey_status(&manager(), "kahvila", "closed")
            .await
            .unwrap();
        assert_eq!(get(&app, "/q/kahvila").await.status, 410);
        let s = app.store.survey("kahvila").await.unwrap().unwrap();
        assert_eq!(s.answers, 2, "{backend}");
    }
}

/// A GET as `role` whose body is bytes (an image): (status, head, body).
async fn bytes_as(app: &App, role: Role, path: &str) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        app.sessions[&role].cookie()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(buf[..at].to_vec()).unwrap();
    (head[9..12].parse().unwrap(), head, buf[at + 4..].to_vec())
}

#[tokio::test]
async fn a_manager_makes_previews_and_activates_a_survey() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        let a = page_as(&app, Role::Manager, "/surveys/new?lang=fi", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        // No question chosen: said so, in the page's language.
        let none = [
            ("name", "Kahvila"),
            ("q0_field", ""),
            ("q0_fi", "Mitä teimme hyvin?"),
            ("q0_en", "What did we do well?"),
        ];
        let a = post_form_as(&app, Role::Manager, "/surveys?lang=fi", &none).await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(
            a.body.contains("valitse vähintään yksi kysymys"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("is not a survey field"), "{}", a.body);
        let a = post_form_as(&app, Role::Manager, "/surveys?lang=en", &none).await;
        assert!(
            a.body.contains("choose at least one question"),
            "{}",
            a.body
        );
        // A wording missing: Finnish on a Finnish page, English on an English one.
        let no_fi = [
            ("name", "Kahvila"),
            ("q0_field", "nps"),
            ("q0_fi", ""),
            ("q0_en", "Would you recommend us?"),
        ];
        let a = post_form_as(&app, Role::Manager, "/surveys?lang=fi", &no_fi).await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(
            a.body
                .contains("kysymykseltä 1 (nps) puuttuu suomenkielinen muotoilu"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("has no Finnish wording"), "{}", a.body);
        let a = post_form_as(&app, Role::Manager, "/surveys?lang=en", &no_fi).await;
        assert!(
            a.body.contains("question 1 (nps) has no Finnish wording"),
            "{}",
            a.body
        );
        // Staff cannot make one.
        let good = [
            ("id", "cafe"),
            ("name", "Café <b>counter</b>"),
            ("anonymous_asks", "none"),
            ("q0_field", "nps"),
            ("q0_fi", "Suosittelisitko meitä?"),
            ("q0_en", "Would you recommend us?"),
            ("q1_field", "did_well"),
            ("q1_fi", "Mikä oli hyvää?"),
            ("q1_en", "What was good?"),
            ("q2_field", ""),
            ("q2_fi", ""),
            ("q2_en", ""),
        ];
        let a = post_form_as(&app, Role::Staff, "/surveys", &good).await;
        assert_eq!(a.status, 403, "{backend}");
        let a = post_form_as(&app, Role::Manager, "/surveys?lang=en", &good).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some("/surveys/cafe?saved=created")
        );
        // The preview in both languages; the name escaped.
        let a = page_as(&app, Role::Manager, "/surveys/cafe?saved=created", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        for text in [
            "Suosittelisitko meitä?",
            "Would you recommend us?",
            "Mikä oli hyvää?",
            "What was good?",
        ] {
            assert!(a.body.contains(text), "{text}: {}", a.body);
        }
        assert!(!a.body.contains("<b>counter</b>"), "escaped");
        // Not answerable before it is active.
        assert_eq!(get(&app, "/q/cafe").await.status, 410);
        let a = post_form_as(
            &app,
            Role::Staff,
            "/surveys/cafe/status",
            &[("status", "active")],
        )
        .await;
        assert_eq!(a.status, 403, "{backend}");
        let a = post_form_as(
            &app,
            Role::Manager,
            "/surveys/cafe/status",
            &[("status", "active")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let s = app.store.survey("cafe").await.unwrap().unwrap();
        assert_eq!((s.status.as_str(), s.version), ("active", 1), "{backend}");
        let a = get(&app, "/q/cafe?lang=en").await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Would you recommend us?"));
        // The QR code as SVG and PNG, and the printable page (everyone signed in).
        let (status, head, body) = bytes_as(&app, Role::Viewer, "/surveys/cafe/qr.svg").await;
        assert_eq!(status, 200, "{backend}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: image/svg+xml")
        );
        let svg = String::from_utf8(body).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        let (status, head, body) = bytes_as(&app, Role::Viewer, "/surveys/cafe/qr.png").await;
        assert_eq!(status, 200, "{backend}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: image/png")
        );
        assert!(body.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
        assert!(body.len() > 200);
        let a = page_as(&app, Role::Viewer, "/surveys/cafe/print", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("/q/cafe"), "{}", a.body);
        assert_eq!(
            bytes_as(&app, Role::Viewer, "/surveys/nosuch/qr.png")
                .await
                .0,
            404
        );
    }
}

#[tokio::test]
async fn the_api_takes_questions_as_json_and_wants_a_manager() {
    for backend in ["sqlite", "postgres"] {
        let app = spawn_app(backend).await;
        let body = r#"{"id": "api1", "name": "By API", "status": "draft",
            "questions": [{"field": "nps", "fi": "Suosittelisitko?", "en": "Recommend?"}]}"#;
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/surveys",
            Some(body),
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/surveys",
            Some(body),
        )
        .await;
        assert_eq!(a.status, 201, "{backend}: {}", a.body);
        let s = app.store.survey("api1").await.unwrap().unwrap();
        assert_eq!(s.version, 1);
        assert!(s.questions.contains("Suosittelisitko?"), "{}", s.questions);
        // Questions as a JSON text still do; bad ones are named.
        let bad = r#"{"questions": [{"field": "nps", "fi": "", "en": "Recommend?"}]}"#;
        let a = api_as(
            &app,
            Some(Role::Manager),
            "PATCH",
            "/api/v1/surveys/api1",
            Some(bad),
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(a.body.contains("has no Finnish wording"), "{}", a.body);
        // Staff cannot change a survey through the generic routes.
        let patch = r#"{"name": "Changed by staff"}"#;
        let a = api_as(
            &app,
            Some(Role::Staff),
            "PATCH",
            "/api/v1/surveys/api1",
            Some(patch),
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: {}", a.body);
        let a = api_as(
            &app,
            Some(Role::Manager),
            "PATCH",
            "/api/v1/surveys/api1",
            Some(r#"{"questions": [{"field": "csat", "fi": "Tyytyväinen?", "en": "Satisfied?"}]}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let s = app.store.survey("api1").await.unwrap().unwrap();
        assert_eq!(s.version, 2, "{backend}");
    }
}

#[tokio::test]
async fn viewing_and_unsubscribing_are_not_blocked_by_the_answer_limit() {
    let app = spawn_app("sqlite").await;
    setup(&app, "none").await;
    app.core
        .set_store_setting(&manager(), "survey_rate_limit", "3")
        .await
        .unwrap();
    // Three answers from one address, the fourth refused...
    for _ in 0..3 {
        let a = post(&app, "/q/kahvila?lang=en", &[("nps", "9")]).await;
        assert_eq!(a.status, 303, "{}", a.body);
    }
    let a = post(&app, "/q/kahvila?lang=en", &[("nps", "9")]).await;
    assert_eq!(a.status, 429);
    // ...while the page still opens for the next customer at the same address (ten
    // times the setting), and a link's unsubscribe works.
    for _ in 0..25 {
        assert_eq!(get(&app, "/q/kahvila").await.status, 200);
    }
    let path = link(&app).await;
    let a = post(
        &app,
        &format!("{path}/unsubscribe"),
        &[("List-Unsubscribe", "One-Click")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let c = app.store.get(&CUSTOMERS, "c1").await.unwrap().unwrap();
    assert_eq!(c.get("survey_consent"), &Value::Bool(false));
    // Opening the page is limited too, at ten times the setting.
    let mut last = 200;
    for _ in 0..10 {
        last = get(&app, "/q/kahvila").await.status;
    }
    assert_eq!(last, 429);
}
