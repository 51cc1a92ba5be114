//! The offer form and the offer mail's one-click unsubscribe, over real HTTP on both
//! backends: a manager makes an offer with Finnish input (`12,50`, `31.12.2026`) and
//! finds it listed and on its page; a bad form is a 422 with each error by its field
//! and the input kept (escaped); staff get 403; a sent offer cannot be edited; the
//! signed link of an offer mail turns marketing consent off (survey consent stays),
//! and an altered link is refused.

use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, OFFERS};
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, audit_of_entity, page_as, post_form_as, request, spawn_app};

/// Customers `m1` (English) and `m2` (Finnish) with email, marketing and survey
/// consent, in segment `kahvila`; `c1` of the app's customers given consent too.
async fn consenting_customers(app: &App) {
    let names = [
        "name",
        "email",
        "segment",
        "locale",
        "marketing_consent",
        "survey_consent",
    ];
    let mut c = WriteBatch::new(
        &CUSTOMERS,
        names.iter().map(|n| CUSTOMERS.field(n).unwrap()).collect(),
    );
    for (id, name, locale) in [
        ("m1", "Mary", "en"),
        ("m2", "Matti", "fi"),
        ("c1", "Aino Virtanen", "fi"),
    ] {
        c.push(
            id.into(),
            vec![
                Value::Text(name.into()),
                Value::Text(format!("{id}@example.fi")),
                Value::Text("kahvila".into()),
                Value::Text(locale.into()),
                Value::Bool(true),
                Value::Bool(true),
            ],
        );
    }
    app.core.write_batch(&Acting::cli(), c).await.unwrap();
}

const GOOD: &[(&str, &str)] = &[
    ("name", "Joulun kahvi"),
    ("text_fi", "Kahvi -20 % joulukuussa"),
    ("text_en", "Coffee 20% off in December"),
    ("channel", "email"),
    ("audience", "segment"),
    ("audience_value", "kahvila"),
    ("valid_from", "1.12.2026"),
    ("valid_until", "31.12.2026"),
    ("cost_per_redemption", "12,50"),
    ("code", "JOULU"),
    ("control_percent", ""),
    ("hoped_points", "5"),
    ("seed", ""),
];

fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    GOOD.iter()
        .map(|(k, v)| {
            changes
                .iter()
                .find(|(c, _)| c == k)
                .map_or((*k, *v), |(c, w)| (*c, *w))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_are_made_and_edited_by_the_form() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        consenting_customers(&app).await;

        // Staff and viewers may not.
        for role in [Role::Staff, Role::Viewer] {
            let a = page_as(&app, role, "/offers/new", &[]).await;
            assert_eq!(a.status, 403, "{backend} {role}");
            let a = post_form_as(&app, role, "/offers/new", GOOD).await;
            assert_eq!(a.status, 403, "{backend} {role}");
        }
        assert!(
            app.store
                .get(&OFFERS, "joulun-kahvi")
                .await
                .unwrap()
                .is_none()
        );

        let form = page_as(&app, Role::Manager, "/offers/new?lang=fi", &[]).await;
        assert_eq!(form.status, 200, "{backend}: {}", form.body);
        assert!(form.body.contains("Uusi tarjous"), "{}", form.body);
        assert!(form.body.contains("Verrokkiryhmän osuus (%)"));
        assert!(form.body.contains("name=\"control_percent\" value=\"20\""));
        assert!(form.body.contains("<option value=\"tier\""));
        let en = page_as(&app, Role::Manager, "/offers/new?lang=en", &[]).await;
        assert!(en.body.contains("Control group share (%)"), "{}", en.body);

        // Finnish money and dates.
        let made = post_form_as(&app, Role::Manager, "/offers/new", GOOD).await;
        assert_eq!(made.status, 303, "{backend}: {}", made.body);
        assert_eq!(
            made.header("location").as_deref(),
            Some("/offers/joulun-kahvi")
        );
        let r = app
            .store
            .get(&OFFERS, "joulun-kahvi")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.get("cost_per_redemption"), &Value::Int(1250), "{backend}");
        assert_eq!(r.get("control_percent"), &Value::Int(20));
        assert_eq!(r.text("status"), Some("draft"));
        assert_eq!(r.get("valid_from").canonical(), "2026-12-01");
        assert_eq!(r.get("valid_until").canonical(), "2026-12-31");
        let seed = r.get("seed").as_int().expect("a seed drawn and recorded");
        let audit = audit_of_entity(&app, "offers").await;
        assert!(
            audit.iter().any(|a| a.entry.action == "create"
                && a.entry.record_id.as_deref() == Some("joulun-kahvi")
                && a.entry.actor_name == "manager@kanta.test"),
            "{backend}: {audit:?}"
        );

        let list = page_as(&app, Role::Manager, "/offers", &[]).await;
        assert!(list.body.contains("Joulun kahvi"), "{}", list.body);
        assert!(list.body.contains("href=\"/offers/new\""));
        assert!(list.body.contains("/offers/joulun-kahvi/edit"));
        let page = page_as(&app, Role::Viewer, "/offers/joulun-kahvi", &[]).await;
        assert_eq!(page.status, 200, "{backend}");
        assert!(page.body.contains("offer-draft"), "{}", page.body);
        assert!(
            !page.body.contains("offer-edit"),
            "viewers get no edit link"
        );
        let page = page_as(&app, Role::Manager, "/offers/joulun-kahvi", &[]).await;
        assert!(page.body.contains("offer-edit"), "{}", page.body);

        // A bad form: every error by its field, the input kept and escaped.
        let bad = post_form_as(
            &app,
            Role::Manager,
            "/offers/new?lang=en",
            &with(&[
                ("name", "<script>alert(1)</script>"),
                ("valid_from", "31.12.2026"),
                ("valid_until", "1.12.2026"),
                ("audience", "tier"),
                ("audience_value", "E"),
            ]),
        )
        .await;
        assert_eq!(bad.status, 422, "{backend}: {}", bad.body);
        assert!(!bad.body.contains("<script>alert(1)"), "{}", bad.body);
        assert!(
            bad.body.contains("&#60;script&#62;alert(1)"),
            "{}",
            bad.body
        );
        assert!(
            bad.body.contains("id=\"o-valid_until-error\""),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("is before the first day"));
        assert!(bad.body.contains("id=\"o-audience_value-error\""));
        assert!(
            bad.body.contains("&#39;E&#39; is not one of A, B, C, D"),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("value=\"31.12.2026\""));
        assert!(bad.body.contains("<option value=\"tier\" selected>"));
        let bad = post_form_as(
            &app,
            Role::Manager,
            "/offers/new",
            &with(&[
                ("name", ""),
                ("audience", "list"),
                ("audience_value", "c1, nobody, ghost"),
                ("control_percent", "95"),
                ("cost_per_redemption", "12,5x"),
            ]),
        )
        .await;
        assert_eq!(bad.status, 422, "{backend}: {}", bad.body);
        assert!(bad.body.contains("id=\"o-name-error\""), "{}", bad.body);
        assert!(
            bad.body.contains("no customer with the ids nobody, ghost"),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("id=\"o-control_percent-error\""));
        assert!(bad.body.contains("id=\"o-cost_per_redemption-error\""));
        assert!(bad.body.contains("c1, nobody, ghost"), "the input is kept");
        // Nothing was written by the refused forms.
        assert_eq!(app.store.offer_list().await.unwrap().len(), 1, "{backend}");

        // Editing the draft.
        let edit = page_as(&app, Role::Manager, "/offers/joulun-kahvi/edit", &[]).await;
        assert_eq!(edit.status, 200, "{backend}: {}", edit.body);
        assert!(edit.body.contains("value=\"12,50\""), "{}", edit.body);
        assert!(edit.body.contains(&format!("value=\"{seed}\"")));
        let staff = page_as(&app, Role::Staff, "/offers/joulun-kahvi/edit", &[]).await;
        assert_eq!(staff.status, 403);
        let seed_text = seed.to_string();
        let mut changed: Vec<(&str, &str)> =
            with(&[("name", "Joulun kahvi 2"), ("control_percent", "0")]);
        changed.retain(|(k, _)| *k != "seed");
        changed.push(("seed", &seed_text));
        let saved = post_form_as(&app, Role::Manager, "/offers/joulun-kahvi/edit", &changed).await;
        assert_eq!(saved.status, 303, "{backend}: {}", saved.body);
        let r = app
            .store
            .get(&OFFERS, "joulun-kahvi")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.text("name"), Some("Joulun kahvi 2"));
        assert_eq!(r.get("control_percent"), &Value::Int(0));
        assert_eq!(r.get("seed"), &Value::Int(seed), "the seed is kept");

        // Sent, it cannot be edited.
        let sent = post_form_as(&app, Role::Manager, "/offers/joulun-kahvi/send", &[]).await;
        assert_eq!(sent.status, 303, "{backend}: {}", sent.body);
        let edit = page_as(&app, Role::Manager, "/offers/joulun-kahvi/edit", &[]).await;
        assert_eq!(edit.status, 409, "{backend}: {}", edit.body);
        assert!(edit.body.contains("offer-locked"));
        assert!(!edit.body.contains("id=\"offer-form\""));
        let again = post_form_as(
            &app,
            Role::Manager,
            "/offers/joulun-kahvi/edit",
            &with(&[("name", "Changed after sending")]),
        )
        .await;
        assert_eq!(again.status, 409, "{backend}: {}", again.body);
        let r = app
            .store
            .get(&OFFERS, "joulun-kahvi")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.text("name"), Some("Joulun kahvi 2"), "{backend}");
        let page = page_as(&app, Role::Manager, "/offers/joulun-kahvi", &[]).await;
        assert!(!page.body.contains("offer-edit"), "{}", page.body);
    }
}

/// The path (`/o/.../unsubscribe`) of the unsubscribe URL in a mail's text.
fn unsubscribe_path(text: &str) -> String {
    let at = text.find("/o/").expect("an unsubscribe link");
    let rest = &text[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

async fn one_click(app: &App, path: &str) -> crate::Answer {
    request(
        app,
        "POST",
        path,
        &[],
        Some((
            "application/x-www-form-urlencoded",
            "List-Unsubscribe=One-Click",
        )),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_mail_unsubscribes_from_marketing_only() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        consenting_customers(&app).await;
        let made = post_form_as(
            &app,
            Role::Manager,
            "/offers/new",
            &with(&[
                ("name", "Kevät"),
                ("audience", "list"),
                ("audience_value", "m1, m2"),
                ("control_percent", "0"),
            ]),
        )
        .await;
        assert_eq!(made.status, 303, "{backend}: {}", made.body);
        let sent = post_form_as(&app, Role::Manager, "/offers/kevat/send", &[]).await;
        assert_eq!(sent.status, 303, "{backend}: {}", sent.body);

        let outbox = app.store.outbox(100).await.unwrap();
        let mails: Vec<_> = outbox
            .iter()
            .filter(|m| m.key.starts_with("offer:"))
            .collect();
        assert_eq!(mails.len(), 2, "{backend}: {outbox:?}");
        let m1 = mails.iter().find(|m| m.to == "m1@example.fi").unwrap();
        let path = unsubscribe_path(&m1.text);
        assert!(path.ends_with("/unsubscribe"), "{path}");
        assert!(m1.text.contains("unsubscribe here"), "English: {}", m1.text);
        let html = m1.html.as_deref().unwrap();
        assert!(html.contains(&format!("{path}\"")), "{html}");
        let m2 = mails.iter().find(|m| m.to == "m2@example.fi").unwrap();
        assert!(m2.text.contains("peru ne tästä"), "Finnish: {}", m2.text);
        assert_ne!(unsubscribe_path(&m2.text), path, "a link per customer");
        // The mail's job carries the URL for `List-Unsubscribe` (RFC 8058).
        let jobs = app.store.jobs(None, 100).await.unwrap();
        let job = jobs
            .iter()
            .find(|j| j.payload["mail_id"].as_i64() == Some(m1.id))
            .unwrap_or_else(|| panic!("{backend}: no job for the mail: {jobs:?}"));
        let url = job.payload["unsubscribe"].as_str().unwrap_or_default();
        assert!(url.ends_with(&path), "{backend}: {url} / {path}");

        // The page, in the customer's language; a GET changes nothing.
        let page = request(&app, "GET", &path, &[], None).await;
        assert_eq!(page.status, 200, "{backend}: {}", page.body);
        assert!(
            page.body.contains("Unsubscribe from offers"),
            "{}",
            page.body
        );
        assert!(page.body.contains("<form method=\"post\""));
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        let fi = request(&app, "GET", &format!("{path}?lang=fi"), &[], None).await;
        assert!(fi.body.contains("Peru tarjoukset"), "{}", fi.body);
        let c = app.store.get(&CUSTOMERS, "m1").await.unwrap().unwrap();
        assert_eq!(c.get("marketing_consent"), &Value::Bool(true));

        // An altered token (payload or signature) is refused and changes nothing.
        let token = path
            .trim_start_matches("/o/")
            .trim_end_matches("/unsubscribe")
            .to_string();
        let (payload, sig) = token.split_once('.').unwrap();
        let other = unsubscribe_path(&m2.text);
        let other_payload = other
            .trim_start_matches("/o/")
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let flip = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            b[0] = if b[0] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        };
        for forged in [
            format!("/o/{other_payload}.{sig}/unsubscribe"),
            format!("/o/{payload}.{}/unsubscribe", flip(sig)),
            format!("/o/{}.{sig}/unsubscribe", flip(payload)),
            "/o/not-a-token/unsubscribe".to_string(),
        ] {
            let a = one_click(&app, &forged).await;
            assert_eq!(a.status, 400, "{backend} {forged}: {}", a.body);
            let a = request(&app, "GET", &forged, &[], None).await;
            assert_eq!(a.status, 400, "{backend} {forged}");
        }
        for id in ["m1", "m2"] {
            let c = app.store.get(&CUSTOMERS, id).await.unwrap().unwrap();
            assert_eq!(c.get("marketing_consent"), &Value::Bool(true), "{id}");
        }

        // RFC 8058's one-click POST, no page needed.
        let a = one_click(&app, &path).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("will not send you offers"), "{}", a.body);
        let c = app.store.get(&CUSTOMERS, "m1").await.unwrap().unwrap();
        assert_eq!(c.get("marketing_consent"), &Value::Bool(false), "{backend}");
        assert!(matches!(c.get("marketing_consent_at"), Value::Time(_)));
        assert_eq!(
            c.get("survey_consent"),
            &Value::Bool(true),
            "survey consent stays"
        );
        let m2 = app.store.get(&CUSTOMERS, "m2").await.unwrap().unwrap();
        assert_eq!(m2.get("marketing_consent"), &Value::Bool(true));
        let audit = audit_of_entity(&app, "customers").await;
        let entry = audit
            .iter()
            .find(|a| a.entry.record_id.as_deref() == Some("m1") && a.entry.action == "update")
            .unwrap_or_else(|| panic!("{backend}: {audit:?}"));
        assert_eq!(entry.entry.actor_id.as_deref(), Some("public"), "{entry:?}");
        assert_eq!(entry.entry.actor_name, "offer link");
        assert!(entry.entry.changes.get("marketing_consent").is_some());
        assert!(entry.entry.changes.get("survey_consent").is_none());
        // Again: a no-op that says it is done.
        let a = one_click(&app, &path).await;
        assert_eq!(a.status, 200);
        let page = request(&app, "GET", &path, &[], None).await;
        assert!(
            !page.body.contains("<form"),
            "done: no button: {}",
            page.body
        );

        // Customers without marketing consent are left out of email offers.
        let made = post_form_as(
            &app,
            Role::Manager,
            "/offers/new",
            &with(&[
                ("name", "Toinen"),
                ("audience", "list"),
                ("audience_value", "m1, m2"),
                ("control_percent", "0"),
            ]),
        )
        .await;
        assert_eq!(made.status, 303, "{backend}: {}", made.body);
        let preview = app
            .core
            .preview_offer(&Acting::cli(), "toinen")
            .await
            .unwrap();
        assert_eq!(preview.offer_arm, 1, "{backend}: {preview:?}");
        assert_eq!(preview.excluded, vec![("no_consent".to_string(), 1)]);
    }
}
