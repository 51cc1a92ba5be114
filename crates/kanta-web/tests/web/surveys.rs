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

use crate::{App, form, request, spawn_app};

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
        assert_eq!(get(&app, "/q/nothing").await.status, 410);
        let s = app.store.survey("kahvila").await.unwrap().unwrap();
        assert_eq!(s.answers, 2, "{backend}");
    }
}
