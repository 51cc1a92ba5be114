//! `/today` and `GET/POST /api/v1/queue` as a user meets them, on both backends: the
//! queue in Finnish and English with every reason in words, logging a call from a
//! row takes it out, `/` is the home page, and the API's list and actions (422 by
//! field, 403 for a viewer's action); the word-of-mouth card (promoters × 3,
//! detractors × 11, following the settings) and a detractor's words escaped on the
//! page and the customer page.

use chrono::{Duration, Utc};
use kanta_core::Acting;
use kanta_domain::schema::{CUSTOMERS, FEEDBACK, STAFF, TRUST_LEDGER, USAGE_EVENTS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

fn fields(e: &'static kanta_domain::Entity, n: &[&str]) -> Vec<&'static kanta_domain::Field> {
    n.iter().map(|n| e.field(n).unwrap()).collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// q1 (the staff user's) answered 2/10 yesterday; q2 is in trust deficit.
async fn seed(app: &App) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sanna Staff"), text("staff@kanta.test")]);
    app.core.write_batch(&cli, s).await.unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
    c.push("q1".into(), [text("Jono Oy"), text("s1")]);
    c.push("q2".into(), [text("Luotto Oy"), Value::Null]);
    app.core.write_batch(&cli, c).await.unwrap();
    let mut f = WriteBatch::new(
        &FEEDBACK,
        fields(&FEEDBACK, &["customer_id", "answered_at", "nps"]),
    );
    f.push(
        "f1".into(),
        [
            text("q1"),
            Value::Time(Utc::now() - Duration::hours(20)),
            Value::Int(2),
        ],
    );
    app.core.write_batch(&cli, f).await.unwrap();
    let mut t = WriteBatch::new(
        &TRUST_LEDGER,
        fields(
            &TRUST_LEDGER,
            &["customer_id", "occurred_at", "delta", "reason"],
        ),
    );
    t.push(
        "t1".into(),
        [
            text("q2"),
            Value::Time(Utc::now() - Duration::days(3)),
            Value::Int(-20),
            text("two late deliveries"),
        ],
    );
    app.core.write_batch(&cli, t).await.unwrap();
    let today = app.core.today().await.unwrap();
    app.core.refresh_queue(&cli, today).await.unwrap();
}

#[tokio::test]
async fn today_in_finnish_and_english_and_a_call_logged_from_a_row() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        // Home: `/` is today's list.
        let a = page_as(&app, Role::Staff, "/", &[]).await;
        assert_eq!(a.status, 303, "{backend}");
        assert_eq!(a.header("location").as_deref(), Some("/today"));

        let a = page_as(&app, Role::Staff, "/today?lang=fi", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Kehen ottaa yhteyttä tänään"), "{}", a.body);
        // Mine by default: the staff user owns q1.
        assert!(a.body.contains("href=\"/customers/q1\""), "{}", a.body);
        assert!(!a.body.contains("href=\"/customers/q2\""), "{}", a.body);
        assert!(
            a.body
                .contains("Antoi suositteluhalukkuudelle arvosanan 2/10"),
            "{}",
            a.body
        );
        let a = page_as(&app, Role::Staff, "/today?owner=all", &[]).await;
        assert!(
            a.body.contains("Luottamustili on miinuksella: -20"),
            "{}",
            a.body
        );
        assert!(a.body.contains("href=\"/customers/q2\""), "{}", a.body);

        // A viewer with no staff row: the team's list by default, in English, no forms.
        let a = page_as(&app, Role::Viewer, "/today?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        assert!(a.body.contains("Whom to contact today"), "{}", a.body);
        assert!(
            a.body
                .contains("Answered 2/10 to \"would you recommend us\"")
                || a.body
                    .contains("Answered 2/10 to &quot;would you recommend us&quot;")
                || a.body
                    .contains("Answered 2/10 to &#34;would you recommend us&#34;"),
            "{}",
            a.body
        );
        assert!(
            a.body.contains("The trust balance is in deficit: -20"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("/today/q1/contact"), "{}", a.body);
        // The reason filter.
        let a = page_as(&app, Role::Viewer, "/today?owner=all&reason=detractor", &[]).await;
        assert!(
            a.body.contains("href=\"/customers/q1\"") && !a.body.contains("href=\"/customers/q2\"")
        );

        // A call logged from q1's row: gone at once, on the timeline.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/today/q1/contact",
            &[
                ("kind", "call"),
                ("outcome", "positive"),
                ("note", "Soitin ja pahoittelin"),
                ("back", "owner=all"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some("/today?owner=all&done=contacted")
        );
        let a = page_as(&app, Role::Staff, "/today?owner=all", &[]).await;
        assert!(!a.body.contains("href=\"/customers/q1\""), "{}", a.body);
        assert!(a.body.contains("href=\"/customers/q2\""), "{}", a.body);
        let a = page_as(&app, Role::Staff, "/customers/q1", &[]).await;
        assert!(a.body.contains("Soitin ja pahoittelin"), "{}", a.body);
        // A dismissal needs a reason: the page says which field.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/today/q2/dismiss",
            &[("reason", " "), ("back", "owner=all")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(a.body.contains("id=\"today-error\""), "{}", a.body);
        let a = post_form_as(
            &app,
            Role::Staff,
            "/today/q2/snooze",
            &[("until", "31.12.2099"), ("back", "owner=all")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: a year at most");
        let until = (app.core.today().await.unwrap() + Duration::days(7))
            .format("%-d.%-m.%Y")
            .to_string();
        let a = post_form_as(
            &app,
            Role::Staff,
            "/today/q2/snooze",
            &[("until", &until), ("back", "owner=all")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let a = page_as(&app, Role::Staff, "/today?owner=all", &[]).await;
        assert!(!a.body.contains("href=\"/customers/q2\""), "{}", a.body);
    }
}

#[tokio::test]
async fn the_queue_api() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/queue?owner=all&limit=10",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        let items = v["items"].as_array().unwrap();
        // q1 and q2, and the app's own customers never contacted (the cadence).
        assert!(items.len() >= 2, "{}", a.body);
        let q2 = items.iter().find(|i| i["customer_id"] == "q2").unwrap();
        assert_eq!(q2["reasons"][0]["key"], "trust_deficit");
        assert_eq!(q2["reasons"][0]["args"]["balance"], -20);
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/queue?reason=vibes",
            None,
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("reason"), "{}", a.body);
        // Actions: a viewer may not; a dismissal without a reason is a 422 naming it.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "POST",
            "/api/v1/queue/q2/dismiss",
            Some(r#"{"reason":"ok"}"#),
        )
        .await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/queue/q2/dismiss",
            Some("{}"),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("\"reason\""), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/queue/q2/contact",
            Some(r#"{"kind":"pigeon"}"#),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("\"kind\""), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/queue/q2/dismiss",
            Some(r#"{"reason":"agreed on the phone"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/queue/q1/contact",
            Some(r#"{"kind":"email","outcome":"neutral"}"#),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["action"], "contacted");
        let a = api_as(&app, Some(Role::Viewer), "GET", "/api/v1/queue", None).await;
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        let left: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["customer_id"].as_str().unwrap())
            .collect();
        assert!(!left.contains(&"q1") && !left.contains(&"q2"), "{}", a.body);
        let a = api_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/queue/nobody/dismiss",
            Some(r#"{"reason":"x"}"#),
        )
        .await;
        assert_eq!(a.status, 404, "{}", a.body);
    }
}

/// A usage drop's metric and a case's reason are said in words in the page's
/// language, and a filter value the list does not take is a 400 page naming it and
/// the values it takes, as the API and `kanta queue` refuse it.
#[tokio::test]
async fn reasons_in_words_and_bad_filters_refused() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        // q1: logins and active users 100 a week for 12 weeks, 50 a week for the last 4.
        let mut u = WriteBatch::new(
            &USAGE_EVENTS,
            fields(
                &USAGE_EVENTS,
                &["customer_id", "occurred_at", "metric", "value"],
            ),
        );
        for w in 0..16i64 {
            let at = Value::Time(Utc::now() - Duration::hours(24 * 7 * w + 84));
            let n = if w < 4 { 50.0 } else { 100.0 };
            for m in ["logins", "active_users"] {
                u.push(
                    format!("{m}-{w}"),
                    [text("q1"), at.clone(), text(m), Value::Float(n)],
                );
            }
        }
        app.core.write_batch(&Acting::cli(), u).await.unwrap();
        let today = app.core.today().await.unwrap();
        app.core.refresh_queue(&Acting::cli(), today).await.unwrap();

        let a = page_as(&app, Role::Staff, "/today?lang=fi&owner=all", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(
            a.body.contains("Käyttö laski 50 %"),
            "{backend}: {}",
            a.body
        );
        assert!(a.body.contains("(kirjautumiset)"), "{}", a.body);
        assert!(a.body.contains("(aktiiviset käyttäjät)"), "{}", a.body);
        for raw in ["(logins)", "(active_users)", "(escalation)", "(bug)"] {
            assert!(!a.body.contains(raw), "{backend}: {raw} in {}", a.body);
        }
        let a = page_as(&app, Role::Staff, "/today?lang=en&owner=all", &[]).await;
        assert!(a.body.contains("(logins)"), "{}", a.body);
        assert!(a.body.contains("(active users)"), "{}", a.body);
        assert!(!a.body.contains("active_users"), "{}", a.body);
        // The customer page's card says the same.
        let a = page_as(&app, Role::Staff, "/customers/q1?lang=fi", &[]).await;
        assert!(a.body.contains("(aktiiviset käyttäjät)"), "{}", a.body);

        // Bad filter values: 400, naming the parameter, the value and what it takes.
        for (query, param, takes) in [
            ("reason=nonsense", "reason", "detractor"),
            ("tier=Z", "tier", "A, B, C, D"),
            ("owner=bogus", "owner", "me, all"),
        ] {
            let a = page_as(&app, Role::Staff, &format!("/today?lang=en&{query}"), &[]).await;
            assert_eq!(a.status, 400, "{backend} {query}: {}", a.body);
            assert!(
                a.body.contains("Today&#39;s list cannot be shown")
                    || a.body.contains("Today&#x27;s list cannot be shown")
                    || a.body.contains("Today's list cannot be shown"),
                "{query}: {}",
                a.body
            );
            assert!(
                a.body.contains(&format!("{param}: ")),
                "{query}: {}",
                a.body
            );
            assert!(a.body.contains(takes), "{query}: {}", a.body);
            assert!(!a.body.contains("id=\"today-queue\""), "{}", a.body);
        }
        let a = page_as(&app, Role::Staff, "/today?lang=fi&tier=Z", &[]).await;
        assert_eq!(a.status, 400);
        assert!(
            a.body.contains("Päivän listaa ei voi näyttää"),
            "{}",
            a.body
        );
        assert!(a.body.contains("Sallitut arvot"), "{}", a.body);
        // What the list takes still works: a lower-case tier, an owner's email.
        let a = page_as(&app, Role::Staff, "/today?tier=a&owner=all", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let a = page_as(&app, Role::Staff, "/today?owner=staff%40kanta.test", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("href=\"/customers/q1\""), "{}", a.body);
        assert!(!a.body.contains("href=\"/customers/q2\""), "{}", a.body);
        assert!(a.body.contains("owner=staff%40kanta.test"), "{}", a.body);
    }
}

/// `text` as the page must show it: escaped, by names or by numbers.
fn shown_escaped(body: &str, text: &str) -> bool {
    let by = |lt: &str, gt: &str, amp: &str, quot: &str, apos: &[&str]| {
        apos.iter().any(|a| {
            body.contains(
                &text
                    .replace('&', amp)
                    .replace('<', lt)
                    .replace('>', gt)
                    .replace('"', quot)
                    .replace('\'', a),
            )
        })
    };
    by("&#60;", "&#62;", "&#38;", "&#34;", &["&#39;", "&#x27;"])
        || by(
            "&lt;",
            "&gt;",
            "&amp;",
            "&quot;",
            &["&#39;", "&#x27;", "&apos;"],
        )
}

/// Three promoters and two detractors this week (written through the core, as an
/// import or the API writes them); `w1`'s detractor answer carries markup.
async fn word_of_mouth(app: &App) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    for (id, name) in [
        ("w1", "Kriittinen Kalle"),
        ("w2", "Tyytyväinen Tiina"),
        ("w3", "Iloinen Ilkka"),
        ("w4", "Suosittelija Sari"),
        ("w5", "Nuiva Niilo"),
    ] {
        c.push(id.into(), [text(name)]);
    }
    app.core.write_batch(&cli, c).await.unwrap();
    let mut f = WriteBatch::new(
        &FEEDBACK,
        fields(
            &FEEDBACK,
            &["customer_id", "answered_at", "nps", "do_better"],
        ),
    );
    let at = Value::Time(Utc::now() - Duration::hours(2));
    for (id, customer, nps, better) in [
        (
            "wf1",
            "w1",
            2,
            Value::Text("<script>alert(1)</script> \"&' jono".into()),
        ),
        ("wf2", "w2", 10, Value::Null),
        ("wf3", "w3", 9, Value::Null),
        ("wf4", "w4", 10, Value::Null),
        ("wf5", "w5", 5, Value::Null),
    ] {
        f.push(
            id.into(),
            [text(customer), at.clone(), Value::Int(nps), better],
        );
    }
    app.core.write_batch(&cli, f).await.unwrap();
    let today = app.core.today().await.unwrap();
    app.core.refresh_queue(&cli, today).await.unwrap();
}

/// The card's sentence (`#today-exposure-text`).
fn exposure_text(body: &str) -> &str {
    body.split("id=\"today-exposure-text\">")
        .nth(1)
        .and_then(|s| s.split("</p>").next())
        .unwrap_or_else(|| panic!("no exposure card: {body}"))
}

/// The word-of-mouth card on `/today` shows promoters × 3 and detractors × 11 in
/// both languages, follows a manager's change of a factor on the settings page, and
/// draws the chart.
#[tokio::test]
async fn the_word_of_mouth_card_shows_promoters_times_3_and_detractors_times_11() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // No answers in the last six months yet (the app's one answer is from 2024).
        let a = page_as(&app, Role::Viewer, "/today?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let none = exposure_text(&a.body);
        assert!(
            none.starts_with("No promoter") && none.ends_with("answers in the last 6 months."),
            "{backend}: {none}"
        );
        assert!(
            !a.body.contains("id=\"today-exposure-chart-title\""),
            "{backend}"
        );

        word_of_mouth(&app).await;
        let a = page_as(&app, Role::Viewer, "/today?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(
            exposure_text(&a.body),
            "In the last 6 months about 9 people have heard of good service (3 promoters × 3) \
             and about 22 of bad service (2 detractors × 11).",
            "{backend}"
        );
        assert!(
            a.body.contains("id=\"today-exposure-chart-title\""),
            "{backend}"
        );
        assert!(a.body.contains("href=\"/feedback#exposure\""));
        let a = page_as(&app, Role::Staff, "/today?lang=fi", &[]).await;
        assert_eq!(
            exposure_text(&a.body),
            "Viimeisen 6 kuukauden aikana noin 9 ihmistä on kuullut hyvästä palvelusta \
             (3 suosittelijaa × 3) ja noin 22 huonosta (2 arvostelijaa × 11).",
            "{backend}"
        );

        // A manager says a dissatisfied customer tells 7 people: 2 × 7 = 14.
        let a = post_form_as(
            &app,
            Role::Manager,
            "/admin/settings?lang=en",
            &[("exposure_detractor", "7")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let a = page_as(&app, Role::Viewer, "/today?lang=en", &[]).await;
        assert_eq!(
            exposure_text(&a.body),
            "In the last 6 months about 9 people have heard of good service (3 promoters × 3) \
             and about 14 of bad service (2 detractors × 7).",
            "{backend}"
        );
    }
}

/// What a detractor wrote (`<script>`, quotes, ampersand) is text on `/today` (the
/// queue's reason) and on the customer page, never markup.
#[tokio::test]
async fn a_detractors_words_are_escaped_on_today_and_the_customer_page() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        word_of_mouth(&app).await;
        let words = "<script>alert(1)</script> \"&' jono";
        for lang in ["en", "fi"] {
            let a = page_as(
                &app,
                Role::Staff,
                &format!("/today?owner=all&reason=detractor&lang={lang}"),
                &[],
            )
            .await;
            assert_eq!(a.status, 200, "{backend}: {}", a.body);
            assert!(
                a.body.contains("href=\"/customers/w1\""),
                "{backend}: {}",
                a.body
            );
            assert!(
                shown_escaped(&a.body, words),
                "{backend} {lang}: the reason quotes the words escaped: {}",
                a.body
            );
            assert!(
                !a.body.contains("<script>alert(1)"),
                "{backend}: {}",
                a.body
            );
            assert!(!a.body.contains("\"&'"), "{backend}");
        }
        let a = page_as(&app, Role::Staff, "/customers/w1?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(
            shown_escaped(&a.body, words),
            "{backend}: the answer on the customer page: {}",
            a.body
        );
        assert!(!a.body.contains("<script>alert(1)"), "{backend}");
        assert!(!a.body.contains("\"&'"), "{backend}");
    }
}
