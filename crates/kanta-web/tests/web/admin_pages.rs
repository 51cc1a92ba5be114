//! The admin area's pages over real HTTP on both backends: the audit log (filters,
//! pages, escaping), the jobs and the outbox (the Retry button), the store settings
//! (managers change them; a bad value comes back with its reason), who may open each,
//! and both languages.

use kanta_core::jobs::{JobSettings, Services, work_once};
use kanta_store::accounts::Role;
use kanta_store::jobs::NewJob;
use kanta_store::outbox::NewMail;
use kanta_store::testing::BACKENDS;

use crate::{Answer, App, api_as, audit_of_entity, page_as, post_form_as, spawn_app};

/// The audit page's entries (one `<li class="card">` each).
fn entries(body: &str) -> Vec<&str> {
    body.split("<ol class=\"audit\">")
        .nth(1)
        .and_then(|s| s.split("</ol>").next())
        .unwrap_or("")
        .split("<li class=\"card\">")
        .skip(1)
        .collect()
}

/// The record ids the entries name (`<code>id</code>`).
fn record_ids(body: &str) -> Vec<String> {
    entries(body)
        .iter()
        .filter_map(|e| e.split("<code>").nth(1))
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect()
}

/// The pager link with `rel` (`next`: older entries), as a path.
fn link_rel(body: &str, rel: &str) -> Option<String> {
    let a = body.split("<a href=\"").skip(1).find(|a| {
        a.split('>')
            .next()
            .unwrap_or("")
            .contains(&format!("rel=\"{rel}\""))
    })?;
    Some(
        a.split('"')
            .next()?
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

/// A note logged by the staff user on c1.
async fn note(app: &App, text: &str) {
    let a = post_form_as(app, Role::Staff, "/customers/c1/notes", &[("note", text)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
}

/// The settings form as a manager sends it: every field, `changes` over the defaults.
async fn save_settings(app: &App, role: Role, lang: &str, changes: &[(&str, &str)]) -> Answer {
    let mut fields = vec![
        ("currency", "EUR"),
        ("time_zone", "Europe/Helsinki"),
        ("language", "fi"),
        ("business_hours", "mon-fri 08:00-16:00"),
    ];
    for (k, v) in changes {
        fields.retain(|(f, _)| f != k);
        fields.push((k, v));
    }
    post_form_as(app, role, &format!("/admin/settings?lang={lang}"), &fields).await
}

#[tokio::test]
async fn only_admins_open_the_audit_and_jobs_pages_and_managers_the_settings() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for role in [Role::Viewer, Role::Staff, Role::Manager] {
            for path in ["/admin/audit", "/admin/jobs"] {
                let a = page_as(&app, role, &format!("{path}?lang=en"), &[]).await;
                assert_eq!(a.status, 403, "{backend}: {role} {path}");
                assert!(a.body.contains("Not allowed"), "the 403 page");
                assert!(
                    !a.body.contains("href=\"/admin/audit\""),
                    "not in their nav"
                );
            }
            let a = post_form_as(&app, role, "/admin/jobs/1/retry", &[]).await;
            assert_eq!(a.status, 403, "{backend}: {role} retries");
        }
        for role in [Role::Viewer, Role::Staff] {
            let a = page_as(&app, role, "/admin/settings", &[]).await;
            assert_eq!(a.status, 403, "{backend}: {role} settings");
            let a = save_settings(&app, role, "en", &[("currency", "USD")]).await;
            assert_eq!(a.status, 403, "{backend}: {role} saves settings");
        }
        assert_eq!(app.core.currency().await.unwrap().code(), "EUR");
        let a = page_as(&app, Role::Manager, "/admin/settings?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        assert!(
            a.body
                .contains("<a href=\"/admin/settings\" aria-current=\"page\">Settings</a>")
        );
        assert!(!a.body.contains("href=\"/admin/jobs\""), "{backend}");
        for path in ["/admin/audit", "/admin/jobs", "/admin/settings"] {
            let a = page_as(&app, Role::Admin, &format!("{path}?lang=en"), &[]).await;
            assert_eq!(a.status, 200, "{backend}: admin {path}");
            assert!(
                a.body
                    .contains(&format!("<a href=\"{path}\" aria-current=\"page\">")),
                "{backend}: {path} in the nav, current"
            );
        }
        // Signed out: to the sign-in page.
        let a = crate::request(&app, "GET", "/admin/audit", &[], None).await;
        assert!(matches!(a.status, 302 | 303 | 307), "{}", a.status);
    }
}

#[tokio::test]
async fn the_audit_page_filters_by_entity_and_actor_and_pages() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for i in 0..52 {
            note(&app, &format!("Muistiinpano {i}")).await;
        }
        let a = save_settings(&app, Role::Manager, "en", &[("currency", "SEK")]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);

        let a = page_as(
            &app,
            Role::Admin,
            "/admin/audit?entity=settings&lang=en",
            &[],
        )
        .await;
        assert_eq!(a.status, 200, "{backend}");
        let e = entries(&a.body);
        assert_eq!(e.len(), 1, "{backend}: {}", a.body);
        assert!(e[0].contains("setting changed") && e[0].contains("(manager@kanta.test)</b>"));
        assert!(
            e[0].contains("<th scope=\"row\">currency</th><td>EUR</td><td>SEK</td>"),
            "before and after: {}",
            e[0]
        );
        assert!(a.body.contains("value=\"settings\""), "the filter stays");

        // The staff user's notes: 52, newest first, 50 on a page.
        let first = "/admin/audit?actor=staff%40kanta.test&entity=interactions&lang=en";
        let a = page_as(&app, Role::Admin, first, &[]).await;
        let e = entries(&a.body);
        assert_eq!(e.len(), 50, "{backend}");
        assert!(
            e.iter()
                .all(|e| e.contains("(staff@kanta.test)</b>") && e.contains("created"))
        );
        assert!(e[0].contains("Muistiinpano 51"), "newest first");
        let mut ids = record_ids(&a.body);
        let older = link_rel(&a.body, "next").expect("an Older link");
        assert!(
            older.contains("actor=staff%40kanta.test") && older.contains("entity=interactions"),
            "the Older link keeps the filters: {older}"
        );
        assert!(a.body.contains("Older →"));
        let a = page_as(&app, Role::Admin, &format!("{older}&lang=en"), &[]).await;
        assert_eq!(a.status, 200);
        let e = entries(&a.body);
        assert_eq!(e.len(), 2, "{backend}: the rest");
        assert!(e[1].contains("Muistiinpano 0"));
        assert!(link_rel(&a.body, "next").is_none());
        assert!(a.body.contains("← Newest"));
        ids.extend(record_ids(&a.body));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((ids.len(), unique.len()), (52, 52), "{backend}: each once");

        // No entry of another actor or entity slips through.
        let a = page_as(
            &app,
            Role::Admin,
            "/admin/audit?actor=manager%40kanta.test&entity=interactions&lang=en",
            &[],
        )
        .await;
        assert!(entries(&a.body).is_empty() && a.body.contains("No entries match."));
        let a = page_as(
            &app,
            Role::Admin,
            "/admin/audit?actor=manager@kanta.test",
            &[],
        )
        .await;
        assert!(
            entries(&a.body)
                .iter()
                .all(|e| e.contains("manager@kanta.test"))
        );
        assert!(!entries(&a.body).is_empty());

        // Time filters: a day as "until" takes the whole day; a bad date is refused.
        // The day in the store's zone (Helsinki), as the page reads a date.
        let today = chrono::Utc::now()
            .with_timezone(&kanta_domain::time::DEFAULT_ZONE)
            .format("%Y-%m-%d")
            .to_string();
        let a = page_as(
            &app,
            Role::Admin,
            &format!("/admin/audit?entity=settings&since={today}&until={today}"),
            &[],
        )
        .await;
        assert_eq!(entries(&a.body).len(), 1, "{backend}: today's change");
        let a = page_as(
            &app,
            Role::Admin,
            "/admin/audit?entity=settings&until=2000-01-01",
            &[],
        )
        .await;
        assert!(entries(&a.body).is_empty());
        let a = page_as(&app, Role::Admin, "/admin/audit?since=someday&lang=en", &[]).await;
        assert_eq!(a.status, 422);
        assert!(
            a.body
                .contains("id=\"a-since-error\">Write a date like 2024-12-31"),
            "{}",
            a.body
        );
        assert!(a.body.contains("value=\"someday\""), "what was typed stays");
    }
}

#[tokio::test]
async fn what_customers_wrote_is_escaped_on_the_audit_page() {
    let app = spawn_app("sqlite").await;
    let body = r#"{"id": "x1", "name": "<script>alert('nimi')</script>"}"#;
    let a = api_as(
        &app,
        Some(Role::Staff),
        "POST",
        "/api/v1/customers",
        Some(body),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = post_form_as(
        &app,
        Role::Staff,
        "/customers/x1/interactions",
        &[
            ("kind", "call"),
            ("note", "<img src=x onerror=alert(3)> & \"lainaus\""),
        ],
    )
    .await;
    assert_eq!(a.status, 303);
    let a = page_as(&app, Role::Admin, "/admin/audit?lang=en", &[]).await;
    assert_eq!(a.status, 200);
    assert!(
        !a.body.contains("<script>alert"),
        "a live script:\n{}",
        a.body
    );
    assert!(!a.body.contains("<img src=x"), "a live tag");
    assert!(
        a.body
            .contains("&#60;script&#62;alert(&#39;nimi&#39;)&#60;/script&#62;"),
        "{}",
        a.body
    );
    assert!(
        a.body
            .contains("&#60;img src=x onerror=alert(3)&#62; &#38; &#34;lainaus&#34;")
    );
    // The customer's entry links to the customer's page.
    assert!(
        a.body.contains("<a href=\"/customers/x1\">x1</a>"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn admins_see_jobs_and_the_outbox_and_retry_a_failed_job() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // A mail job that names no message fails for good when a worker runs it.
        let id = app
            .store
            .enqueue(&NewJob {
                kind: "mail.send".into(),
                payload: serde_json::json!({}),
                unique_key: None,
                run_at: chrono::Utc::now(),
                max_attempts: 1,
            })
            .await
            .unwrap()
            .unwrap();
        let services = Services {
            core: app.core.clone(),
            settings: JobSettings::default(),
            mailer: None,
        };
        assert!(work_once(&services, "test-worker").await.unwrap());
        app.store
            .queue_mail(&NewMail {
                key: "welcome-1".into(),
                to: "aino@example.fi".into(),
                subject: "Tervetuloa <b>Kantaan</b>".into(),
                text: "salainen sisältö".into(),
                html: Some("<p>salainen sisältö</p>".into()),
            })
            .await
            .unwrap();

        let a = page_as(&app, Role::Admin, "/admin/jobs?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        for part in [
            "<div class=\"status-failed\"><dt>failed</dt><dd>1</dd></div>",
            "<div class=\"status-queued\"><dt>queued</dt><dd>1</dd></div>",
            "mail.send",
            "1/1",
            &format!("action=\"/admin/jobs/{id}/retry\""),
            &format!(
                "name=\"csrf\" value=\"{}\"",
                app.sessions[&Role::Admin].csrf
            ),
            "aino@example.fi",
            "Tervetuloa &#60;b&#62;Kantaan&#60;/b&#62;",
            "(Helsinki time)",
        ] {
            assert!(a.body.contains(part), "{backend}: {part}:\n{}", a.body);
        }
        assert!(!a.body.contains("salainen"), "no bodies");
        assert_eq!(
            a.body.matches("/retry\"").count(),
            1,
            "Retry on the failed job only"
        );

        let a = page_as(&app, Role::Admin, "/admin/jobs?status=failed&lang=en", &[]).await;
        assert_eq!(a.body.matches("<td>mail.send").count(), 1, "{}", a.body);
        assert!(a.body.contains("<option value=\"failed\" selected>"));
        let a = page_as(&app, Role::Admin, "/admin/jobs?status=done&lang=en", &[]).await;
        assert!(a.body.contains("No jobs."), "{backend}");

        // Without the session's CSRF token the button does nothing.
        let cookie = format!("Cookie: {}", app.sessions[&Role::Admin].cookie());
        let a = crate::request(
            &app,
            "POST",
            &format!("/admin/jobs/{id}/retry"),
            &[cookie],
            Some(("application/x-www-form-urlencoded", "csrf=wrong")),
        )
        .await;
        assert_eq!(a.status, 403);

        let a = post_form_as(&app, Role::Admin, &format!("/admin/jobs/{id}/retry"), &[]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let to = a.header("location").unwrap();
        assert_eq!(to, format!("/admin/jobs?retried={id}"));
        let a = page_as(&app, Role::Admin, &format!("{to}&lang=en"), &[]).await;
        assert!(a.body.contains(&format!("Job #{id} is queued again.")));
        assert!(
            a.body
                .contains("<div class=\"status-failed\"><dt>failed</dt><dd>0</dd></div>")
        );
        let a = post_form_as(&app, Role::Admin, &format!("/admin/jobs/{id}/retry"), &[]).await;
        assert_eq!(a.status, 409, "{backend}: only failed jobs");
        assert!(a.body.contains("was not retried"));

        let items = audit_of_entity(&app, "jobs").await;
        assert_eq!(items.len(), 1, "{backend}");
        let e = &items[0].entry;
        assert_eq!(
            (e.action.as_str(), e.actor_name.as_str(), e.channel.as_str()),
            ("job_retry", "admin@kanta.test", "ui")
        );
    }
}

#[tokio::test]
async fn a_manager_changes_the_currency_and_the_customer_page_shows_it() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = page_as(&app, Role::Manager, "/admin/settings?lang=en", &[]).await;
        for part in [
            "id=\"s-currency\" name=\"currency\" value=\"EUR\"",
            "value=\"mon-fri 08:00-16:00\"",
            "<option value=\"fi\" selected>Finnish</option>",
            "(default)",
        ] {
            assert!(a.body.contains(part), "{backend}: {part}:\n{}", a.body);
        }
        let a = save_settings(&app, Role::Manager, "en", &[("currency", " usd ")]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some("/admin/settings?saved=1")
        );
        let a = page_as(&app, Role::Manager, "/admin/settings?saved=1&lang=en", &[]).await;
        assert!(a.body.contains("The settings are saved."));
        assert!(
            a.body.contains("name=\"currency\" value=\"USD\""),
            "{}",
            a.body
        );

        let (_, _, body) = crate::get(&app, "/customers/c1?lang=en").await;
        let figures = body
            .split("class=\"figures\"")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap();
        assert!(figures.contains("<b>$4.50</b>"), "{backend}: {figures}");
        let (_, _, list) = crate::get(&app, "/customers?search=Aino&lang=en").await;
        assert!(list.contains("$4.50"), "{backend}: the list too");

        // Only what changed is saved and audited: one entry, by the manager, on the pages.
        let items = audit_of_entity(&app, "settings").await;
        assert_eq!(items.len(), 1, "{backend}: {items:?}");
        let e = &items[0].entry;
        assert_eq!(
            (e.actor_name.as_str(), e.channel.as_str()),
            ("manager@kanta.test", "ui")
        );
        assert_eq!(e.changes["currency"]["after"], "USD");
    }
}

#[tokio::test]
async fn a_bad_setting_comes_back_with_its_reason_and_nothing_is_saved() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = save_settings(
            &app,
            Role::Manager,
            "en",
            &[("currency", "SEK"), ("business_hours", "fri-mon 16-8")],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}");
        assert!(
            a.body.contains("aria-invalid=\"true\"")
                && a.body.contains("id=\"s-business_hours-error\">&#39;fri-mon 16-8&#39; is not business hours like mon-fri 08:00-16:00"),
            "{backend}: the reason by the field:\n{}",
            a.body
        );
        assert!(
            a.body.contains("value=\"fri-mon 16-8\""),
            "what was typed stays"
        );
        assert!(a.body.contains("name=\"currency\" value=\"SEK\""));
        assert_eq!(
            app.core.currency().await.unwrap().code(),
            "EUR",
            "{backend}: nothing saved"
        );
        let a = save_settings(&app, Role::Manager, "fi", &[("business_hours", "aina")]).await;
        assert_eq!(a.status, 422);
        assert!(
            a.body
                .contains("id=\"s-business_hours-error\">Kirjoita päivät ja kellonajat"),
            "{backend}: in Finnish:\n{}",
            a.body
        );
        let a = save_settings(&app, Role::Manager, "en", &[("currency", "euro")]).await;
        assert_eq!(a.status, 422);
        assert!(
            a.body
                .contains("id=\"s-currency-error\">&#39;euro&#39; is not a currency code")
        );
        let items = audit_of_entity(&app, "settings").await;
        assert!(items.is_empty(), "{backend}: nothing audited");
    }
}

#[tokio::test]
async fn the_admin_pages_speak_finnish_and_english() {
    let app = spawn_app("sqlite").await;
    note(&app, "Kieli").await;
    for (path, fi, en) in [
        (
            "/admin/audit",
            ["<h1>Muutosloki</h1>", "Alkaen", "luotu", "kanava: sivut"],
            ["<h1>Audit log</h1>", "From", "created", "via the pages"],
        ),
        (
            // Failed ones: none (a note's write queues a contact-queue refresh).
            "/admin/jobs?status=failed",
            [
                "<h1>Taustatyöt</h1>",
                "Lähtevät viestit",
                "Ei töitä.",
                "jonossa",
            ],
            ["<h1>Background jobs</h1>", "Outbox", "No jobs.", "queued"],
        ),
        (
            "/admin/settings",
            [
                "<h1>Asetukset</h1>",
                "Valuutta",
                "Aukioloajat",
                "Tallenna asetukset",
            ],
            [
                "<h1>Settings</h1>",
                "Currency",
                "Business hours",
                "Save settings",
            ],
        ),
    ] {
        for (lang, parts) in [("fi", fi), ("en", en)] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let a = page_as(&app, Role::Admin, &format!("{path}{sep}lang={lang}"), &[]).await;
            assert_eq!(a.status, 200, "{path} {lang}");
            assert!(a.body.contains(&format!("<html lang=\"{lang}\">")));
            for part in parts {
                assert!(a.body.contains(part), "{path} {lang}: {part}:\n{}", a.body);
            }
        }
    }
    // Every input of the new pages has a label.
    for path in ["/admin/audit", "/admin/jobs", "/admin/settings"] {
        let body = page_as(&app, Role::Admin, path, &[]).await.body;
        for tag in body.split('<').filter(|t| {
            (t.starts_with("input") || t.starts_with("select") || t.starts_with("textarea"))
                && !t.contains("type=\"hidden\"")
        }) {
            let id = tag.split("id=\"").nth(1).and_then(|r| r.split('"').next());
            let id = id.unwrap_or_else(|| panic!("{path}: no id on <{tag}"));
            assert!(
                body.contains(&format!("for=\"{id}\"")),
                "{path}: no label for {id}"
            );
        }
    }
}

/// A survey link's days that are no whole number from 1 to 365, sent from the
/// Finnish settings page, come back (422) with a Finnish reason by the field and
/// what was typed; nothing of the form is saved (the other change neither), nothing
/// audited.
#[tokio::test]
async fn a_bad_survey_link_days_is_refused_in_finnish_and_nothing_is_saved() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for bad in ["0", "abc", "-3", "366"] {
            let a = save_settings(
                &app,
                Role::Manager,
                "fi",
                &[("survey_link_days", bad), ("exposure_promoter", "5")],
            )
            .await;
            assert_eq!(a.status, 422, "{backend} {bad}: {}", a.body);
            assert!(a.body.contains("<html lang=\"fi\">"), "{backend}");
            assert!(
                a.body.contains(
                    "id=\"s-survey_link_days-error\">Kirjoita päivien määrä väliltä 1–365.</p>"
                ),
                "{backend} {bad}: the Finnish reason by the field:\n{}",
                a.body
            );
            assert!(
                a.body.contains(&format!(
                    "id=\"s-survey_link_days\" name=\"survey_link_days\" value=\"{bad}\" \
                     aria-describedby=\"s-survey_link_days-help s-survey_link_days-error\" \
                     aria-invalid=\"true\""
                )),
                "{backend} {bad}: what was typed stays, marked invalid:\n{}",
                a.body
            );
            for english in ["is not a number of days", "a whole number from"] {
                assert!(
                    !a.body.contains(english),
                    "{backend} {bad}: English: {english}"
                );
            }
            let settings = app.core.store_settings().await.unwrap();
            assert_eq!(settings.value("survey_link_days"), None, "{backend} {bad}");
            assert_eq!(settings.value("exposure_promoter"), None, "{backend} {bad}");
        }
        assert!(
            audit_of_entity(&app, "settings").await.is_empty(),
            "{backend}: nothing audited"
        );
        // A good value is saved.
        let a = save_settings(&app, Role::Manager, "fi", &[("survey_link_days", "14")]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        let settings = app.core.store_settings().await.unwrap();
        assert_eq!(settings.value("survey_link_days"), Some("14"), "{backend}");
    }
}
