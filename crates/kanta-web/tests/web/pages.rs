//! The customer list's filters, the customer page's sections and its quick actions,
//! over real HTTP on both backends.

use kanta_domain::Value;
use kanta_domain::schema::{
    CASES, CONTACTS, CUSTOMERS, Entity, FEEDBACK, INTERACTIONS, STAFF, TRUST_LEDGER,
};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;
use kanta_store::{Store, WriteBatch};

use crate::{App, audit_of_entity, form, get, page_as, post_form_as, request, spawn_app};

/// The escaped customer's name as askama writes it.
const EVIL: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn at(s: &str) -> Value {
    Value::Time(kanta_domain::time::parse_timestamp(s, None).unwrap())
}

fn batch(e: &'static Entity, names: &[&str], rows: Vec<(&str, Vec<Value>)>) -> WriteBatch {
    let mut b = WriteBatch::new(e, names.iter().map(|n| e.field(n).unwrap()).collect());
    for (id, v) in rows {
        b.push(id.to_string(), v);
    }
    b
}

/// The app's store (the test's own handle on its data).
async fn store(app: &App) -> Store {
    app.store.clone()
}

/// More customers and records than `spawn_app` writes: tiers, kinds, contacts, cases,
/// trust entries and feedback for c1.
async fn more_data(app: &App) {
    let s = store(app).await;
    s.write(&batch(
        &CUSTOMERS,
        &[
            "name", "email", "phone", "segment", "tier", "kind", "status",
        ],
        vec![
            (
                "c1",
                vec![
                    text("Aino Virtanen"),
                    text("aino@example.fi"),
                    text("+358 40 123 4567"),
                    text("kahvila"),
                    text("A"),
                    text("person"),
                    text("active"),
                ],
            ),
            (
                "b2",
                vec![
                    text("Betoni Oy"),
                    text("info@betoni.fi"),
                    Value::Null,
                    text("yritys"),
                    text("B"),
                    text("company"),
                    text("active"),
                ],
            ),
            (
                "e3",
                vec![
                    text("Eero Entinen"),
                    Value::Null,
                    Value::Null,
                    text("kahvila"),
                    text("D"),
                    text("person"),
                    text("ended"),
                ],
            ),
        ],
    ))
    .await
    .unwrap();
    s.write(&batch(
        &CONTACTS,
        &["customer_id", "name", "email", "title", "is_primary"],
        vec![(
            "k1",
            vec![
                text("c1"),
                text("Pekka Päällikkö"),
                text("pekka@example.fi"),
                text("ostopäällikkö"),
                Value::Bool(true),
            ],
        )],
    ))
    .await
    .unwrap();
    s.write(&batch(
        &CASES,
        &[
            "customer_id",
            "opened_at",
            "category",
            "severity",
            "our_fault",
            "summary",
        ],
        vec![(
            "case1",
            vec![
                text("c1"),
                at("2024-05-05T09:00:00Z"),
                text("toimitus"),
                text("high"),
                Value::Bool(true),
                text("Kahvit myöhässä"),
            ],
        )],
    ))
    .await
    .unwrap();
    s.write(&batch(
        &TRUST_LEDGER,
        &["customer_id", "occurred_at", "delta", "reason"],
        vec![
            (
                "t1",
                vec![
                    text("c1"),
                    at("2024-05-01T09:00:00Z"),
                    Value::Int(3),
                    text("hyvä palvelu"),
                ],
            ),
            (
                "t2",
                vec![
                    text("c1"),
                    at("2024-05-05T09:00:00Z"),
                    Value::Int(-10),
                    text("myöhästyminen"),
                ],
            ),
        ],
    ))
    .await
    .unwrap();
    s.write(&batch(
        &FEEDBACK,
        &["customer_id", "answered_at", "nps", "did_well", "do_better"],
        vec![(
            "fb-c1",
            vec![
                text("c1"),
                at("2024-05-06T09:00:00Z"),
                Value::Int(9),
                text("Ystävällinen <b>palvelu</b>"),
                text("Nopeampi toimitus"),
            ],
        )],
    ))
    .await
    .unwrap();
}

/// A form POSTed by a staff member with their CSRF token: (status, head, body).
async fn post(app: &App, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let a = post_form_as(app, Role::Staff, path, form).await;
    (a.status, a.head, a.body)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The names in the list's table, in order.
fn names(body: &str) -> Vec<String> {
    body.split("<tbody>")
        .nth(1)
        .unwrap_or("")
        .split("<td><a href=\"/customers/")
        .skip(1)
        .map(|row| {
            row.split('>')
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn interactions(app: &App, customer: &str) -> Vec<kanta_store::Record> {
    let s = store(app).await;
    let c = s.customer(customer).await.unwrap().unwrap();
    s.records_of_customer(&INTERACTIONS, c.id).await.unwrap()
}

#[tokio::test]
async fn the_list_filters_by_tier_segment_kind_status_and_search() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        more_data(&app).await;
        let list = |q: &'static str| {
            let app = &app;
            async move {
                let (status, _, body) = get(app, &format!("/customers?lang=en&{q}")).await;
                assert_eq!(status, 200, "{backend} {q}");
                names(&body)
            }
        };
        assert_eq!(list("tier=A").await, ["Aino Virtanen"], "{backend}");
        assert_eq!(list("tier=B").await, ["Betoni Oy"]);
        assert_eq!(list("kind=company").await, ["Betoni Oy"]);
        assert_eq!(list("status=ended").await, ["Eero Entinen"]);
        assert_eq!(
            list("segment=kahvila&sort=name").await,
            [EVIL, "Aino Virtanen", "Eero Entinen"]
        );
        assert_eq!(
            list("search=BETONI").await,
            ["Betoni Oy"],
            "case does not matter"
        );
        assert_eq!(
            list("search=info%40betoni").await,
            ["Betoni Oy"],
            "by email"
        );
        assert_eq!(list("search=e3").await, ["Eero Entinen"], "by id");
        assert_eq!(list("tier=A&segment=yritys").await, Vec::<String>::new());
        assert_eq!(
            list("sort=revenue").await[..2],
            ["Aino Virtanen", EVIL],
            "highest revenue first"
        );
        // An unknown word in a filter is refused by name (issue 10), not ignored.
        let (status, _, body) = get(&app, "/customers?lang=en&tier=Z").await;
        assert_eq!(status, 400, "{backend}");
        assert!(
            body.contains("tier") && body.contains("A, B, C, D"),
            "{body}"
        );
        let (_, _, body) = get(&app, "/customers?tier=A&lang=en").await;
        assert!(
            body.contains("<option value=\"A\" selected>"),
            "the chosen tier stays chosen"
        );
        assert!(body.contains("Clear filters"));
    }
}

#[tokio::test]
async fn the_list_pages_with_links_that_keep_the_filters() {
    let app = spawn_app("sqlite").await;
    let s = store(&app).await;
    let rows: Vec<(String, Vec<Value>)> = (0..120)
        .map(|i| {
            (
                format!("p{i:03}"),
                vec![text(&format!("Henkilö {i:03}")), text("A")],
            )
        })
        .collect();
    let mut b = WriteBatch::new(
        &CUSTOMERS,
        vec![
            CUSTOMERS.field("name").unwrap(),
            CUSTOMERS.field("tier").unwrap(),
        ],
    );
    for (id, v) in rows {
        b.push(id, v);
    }
    s.write(&b).await.unwrap();
    let (_, _, body) = get(&app, "/customers?tier=A&sort=id&lang=en").await;
    assert!(body.contains("1–50 of 120"), "{body}");
    let next = "/customers?offset=50&#38;tier=A&#38;sort=id";
    assert!(body.contains(next), "{body}");
    let (_, _, body) = get(&app, "/customers?offset=100&tier=A&sort=id&lang=en").await;
    assert!(body.contains("101–120 of 120"));
    assert_eq!(names(&body).len(), 20);
    assert!(body.contains("rel=\"prev\"") && !body.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_customer_page_shows_what_the_person_on_the_phone_needs() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        more_data(&app).await;
        let (status, _, body) = get(&app, "/customers/c1?lang=en").await;
        assert_eq!(status, 200, "{backend}");
        for part in [
            "<h1>Aino Virtanen",
            "href=\"mailto:aino@example.fi\"",
            "href=\"tel:+358401234567\"",
            "Pekka Päällikkö",
            "ostopäällikkö",
            "main contact",
            "€4.50",
            "Average order",
            "2024-05-02",
            "-7",
            "trust deficit",
            "toimitus",
            "Kahvit myöhässä",
            "NPS 9",
            "promoter",
            "Nopeampi toimitus",
            "Log an interaction",
        ] {
            assert!(body.contains(part), "{backend}: {part} missing:\n{body}");
        }
        // Newest first: the feedback (6 May) before the order (2 May).
        let tl = body.split("id=\"timeline\"").nth(1).unwrap();
        let fb = tl.find("feedback").unwrap();
        let order = tl.find(">order<").unwrap();
        assert!(fb < order, "newest first");
        assert!(
            body.contains("Ystävällinen &#60;b&#62;palvelu&#60;/b&#62;")
                || body.contains("Ystävällinen &lt;b&gt;palvelu&lt;/b&gt;"),
            "feedback is text"
        );

        let (_, _, body) = get(&app, "/customers/c1?lang=fi").await;
        assert!(
            body.contains("luottamusvaje")
                && body.contains("Keskiostos")
                && body.contains("4,50\u{a0}€")
        );
        assert!(body.contains("2.5.2024"), "Finnish date");

        let (status, _, _) = get(&app, "/customers/nobody").await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn quick_actions_write_and_show_on_the_timeline() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (status, head, _) = post(
            &app,
            "/customers/c1/interactions",
            &[
                ("kind", "call"),
                ("direction", "outbound"),
                ("outcome", "positive"),
                ("proactive", "on"),
                ("note", "Soitin ja kysyin kuulumiset"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{backend}: {head}");
        assert_eq!(
            header(&head, "location"),
            Some("/customers/c1?saved=interaction")
        );
        let (_, _, body) = get(&app, "/customers/c1?saved=interaction&lang=en").await;
        assert!(body.contains("The interaction is logged."));
        let tl = body.split("id=\"timeline\"").nth(1).unwrap().to_string();
        assert!(
            tl.contains("Soitin ja kysyin kuulumiset") && tl.contains("outbound"),
            "{tl}"
        );
        assert!(
            tl.find("Soitin").unwrap() < tl.find(">order<").unwrap(),
            "newest first"
        );

        let (status, head, _) = post(
            &app,
            "/customers/c1/cases",
            &[
                ("category", "laskutus"),
                ("severity", "high"),
                ("our_fault", "on"),
                ("summary", "Tuplalasku"),
            ],
        )
        .await;
        // Back to the page, with the new case named (the notice links to it).
        let to = header(&head, "location").unwrap_or_default();
        assert_eq!(status, 303);
        assert!(
            to.starts_with("/customers/c1?saved=case&case=case-"),
            "{to}"
        );
        let (_, _, body) = get(&app, "/customers/c1?lang=en").await;
        let cases = body.split("id=\"cases\"").nth(1).unwrap();
        assert!(
            cases.contains("laskutus")
                && cases.contains("Tuplalasku")
                && cases.contains("our fault")
        );
        assert!(body.contains("case opened"));

        let (status, head, _) = post(
            &app,
            "/customers/c1/notes",
            &[("note", "Muista <b>synttärit</b>")],
        )
        .await;
        assert_eq!(
            (status, header(&head, "location")),
            (303, Some("/customers/c1?saved=note"))
        );
        let (_, _, body) = get(&app, "/customers/c1?lang=en").await;
        assert!(
            body.contains("Muista &#60;b&#62;synttärit&#60;/b&#62;"),
            "the note is text"
        );
        let kinds: Vec<String> = interactions(&app, "c1")
            .await
            .iter()
            .map(|r| r.text("kind").unwrap().to_string())
            .collect();
        assert_eq!(kinds, ["call", "note"], "{backend}");
    }
}

#[tokio::test]
async fn invalid_input_shows_the_error_by_the_field_and_writes_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let long = "x".repeat(5001);
        for (path, form, field, message) in [
            (
                "/customers/c1/interactions",
                vec![("kind", "shout"), ("note", "kept")],
                "i-kind",
                "Choose one of the options.",
            ),
            (
                "/customers/c1/interactions",
                vec![("kind", "call"), ("note", long.as_str())],
                "i-note",
                "Too long",
            ),
            (
                "/customers/c1/cases",
                vec![
                    ("category", "  "),
                    ("severity", "medium"),
                    ("summary", "kept"),
                ],
                "c-category",
                "Fill this in.",
            ),
            (
                "/customers/c1/cases",
                vec![("category", "x"), ("severity", "apocalyptic")],
                "c-severity",
                "Choose one",
            ),
            (
                "/customers/c1/notes",
                vec![("note", "")],
                "n-note",
                "Fill this in.",
            ),
        ] {
            let (status, _, body) = post(&app, path, &form).await;
            assert_eq!(status, 422, "{backend} {path}");
            assert!(
                body.contains(&format!("aria-describedby=\"{field}-error\""))
                    && body.contains(&format!("id=\"{field}-error\">{message}")),
                "{backend} {path}: error by {field}:\n{body}"
            );
            if form.iter().any(|(_, v)| *v == "kept") {
                assert!(
                    body.contains(">kept<") || body.contains("value=\"kept\""),
                    "what was typed stays"
                );
            }
        }
        assert!(
            interactions(&app, "c1").await.is_empty(),
            "{backend}: nothing written"
        );
        let s = store(&app).await;
        let c = s.customer("c1").await.unwrap().unwrap();
        assert!(
            s.records_of_customer(&CASES, c.id)
                .await
                .unwrap()
                .is_empty()
        );
        let (status, _, _) = post(&app, "/customers/nobody/notes", &[("note", "x")]).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn what_customers_write_shows_as_text_on_every_page() {
    let app = spawn_app("postgres").await;
    more_data(&app).await;
    for path in [
        "/today",
        "/customers?search=script",
        "/customers?sort=revenue",
        "/customers/evil",
        "/customers/c1",
    ] {
        let (status, _, body) = get(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<script>alert"), "{path}: live script");
        assert!(
            !body.contains("<img src=x") && !body.contains("<b>palvelu"),
            "{path}: live tag"
        );
    }
    let (_, _, body) = get(&app, "/customers/evil").await;
    assert!(
        body.contains("&#60;img src=x onerror=alert(2)&#62; &#38; more"),
        "{body}"
    );
    assert!(body.contains("<title>&#60;script&#62;alert(1)&#60;/script&#62; · Kanta</title>"));
}

#[tokio::test]
async fn viewers_see_no_forms_and_their_posts_are_refused() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = page_as(&app, Role::Viewer, "/customers/c1?lang=en", &[]).await;
        assert_eq!(a.status, 200, "{backend}");
        assert!(a.body.contains("Timeline") && !a.body.contains("Log an interaction"));
        assert!(!a.body.contains("action=\"/customers/c1/notes\""));
        let staff = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
        assert!(
            staff.body.contains("Log an interaction"),
            "staff see the forms"
        );
        assert!(
            staff.body.contains(&format!(
                "name=\"csrf\" value=\"{}\"",
                app.sessions[&Role::Staff].csrf
            )),
            "every form carries the session's CSRF token"
        );
        for (path, pairs) in [
            ("/customers/c1/interactions", vec![("kind", "call")]),
            (
                "/customers/c1/cases",
                vec![("category", "x"), ("severity", "low")],
            ),
            ("/customers/c1/notes", vec![("note", "x")]),
        ] {
            let a = post_form_as(&app, Role::Viewer, path, &pairs).await;
            assert_eq!(a.status, 403, "{backend} {path}: a viewer may not record");
        }
        assert!(
            interactions(&app, "c1").await.is_empty(),
            "{backend}: nothing written"
        );
    }
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let cookie = format!("Cookie: {}", app.sessions[&Role::Admin].cookie());
        for body in [
            form(&[("note", "x")]),
            form(&[("csrf", "not-the-token"), ("note", "x")]),
            form(&[("csrf", &app.sessions[&Role::Staff].csrf), ("note", "x")]),
        ] {
            let a = request(
                &app,
                "POST",
                "/customers/c1/notes",
                std::slice::from_ref(&cookie),
                Some(("application/x-www-form-urlencoded", &body)),
            )
            .await;
            assert_eq!(a.status, 403, "{backend}: {body}");
        }
        // Signed out: to the sign-in page, nothing written.
        let a = request(
            &app,
            "POST",
            "/customers/c1/notes",
            &[],
            Some(("application/x-www-form-urlencoded", &form(&[("note", "x")]))),
        )
        .await;
        assert!(
            matches!(a.status, 303 | 302 | 307 | 401 | 403),
            "{}",
            a.status
        );
        assert!(
            interactions(&app, "c1").await.is_empty(),
            "{backend}: nothing written"
        );
    }
}

#[tokio::test]
async fn the_navigation_shows_each_role_its_areas() {
    let app = spawn_app("sqlite").await;
    let a = page_as(&app, Role::Admin, "/customers?lang=en", &[]).await;
    assert!(
        a.body
            .contains("<a href=\"/customers\" aria-current=\"page\">Customers</a>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("href=\"/admin/users\"") && a.body.contains("href=\"/admin/tokens\""));
    assert!(a.body.contains("href=\"/account\"") && a.body.contains("action=\"/logout\""));
    assert!(
        a.body.contains("<a class=\"skip\" href=\"#main\">")
            && a.body.contains("<main id=\"main\"")
    );
    let a = page_as(&app, Role::Staff, "/customers?lang=en", &[]).await;
    assert!(!a.body.contains("/admin/users") && !a.body.contains("/admin/tokens"));
    // Every input of the list and the customer page has a label.
    for path in ["/customers?lang=en", "/customers/c1?lang=en"] {
        let body = page_as(&app, Role::Staff, path, &[]).await.body;
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

#[tokio::test]
async fn what_a_user_writes_names_them_when_they_are_on_the_staff_list() {
    let app = spawn_app("sqlite").await;
    // Without a staff record for the user, the entry names no one.
    let (status, _, _) = post(&app, "/customers/c1/notes", &[("note", "Ensimmäinen")]).await;
    assert_eq!(status, 303);
    app.store
        .write(&batch(
            &STAFF,
            &["name", "email"],
            vec![("s-7", vec![text("Sanna Kassa"), text("Staff@Kanta.test")])],
        ))
        .await
        .unwrap();
    let (status, _, _) = post(&app, "/customers/c1/notes", &[("note", "Toinen")]).await;
    assert_eq!(status, 303);
    let notes = interactions(&app, "c1").await;
    let by_note = |n: &str| {
        notes
            .iter()
            .find(|r| r.text("note") == Some(n))
            .unwrap()
            .get("staff_id")
            .clone()
    };
    assert!(by_note("Ensimmäinen").is_null());
    assert_eq!(by_note("Toinen"), text("s-7"));
}

#[tokio::test]
async fn the_customer_page_shows_the_customers_scores() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (_, _, body) = get(&app, "/customers/c1?lang=en").await;
        assert!(body.contains("Value and outlook"), "{backend}");
        assert!(body.contains("Not scored yet"), "{backend}");

        crate::save_run(&app.store).await;
        let (status, _, body) = get(&app, "/customers/c1?lang=en").await;
        assert_eq!(status, 200);
        let card = body
            .split("id=\"value\"")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap();
        for part in [
            "href=\"/customers?tier=A\"",
            "value=\"73\"",
            ">73%</b>",
            "Expected purchases, next 30 days</dt><dd>0.81</dd>",
            "Expected purchases, next 90 days</dt><dd>2.25</dd>",
            "Expected purchases, next 365 days</dt><dd>8.50</dd>",
            "Expected spend per purchase</dt><dd>€8.12</dd>",
            "Customer lifetime value, 12 months</dt><dd>€50.60</dd>",
            "Customer lifetime value, 36 months</dt><dd>€123.45</dd>",
            "BG/NBD",
            "2024-06-30",
        ] {
            assert!(card.contains(part), "{backend}: {part} missing:\n{card}");
        }
        // Scoring set the customer's tier: the badge and the tier's list agree.
        assert!(body.contains("tier-A"), "{backend}");
        let (_, _, list) = get(&app, "/customers?tier=A&lang=en").await;
        assert!(list.contains("/customers/c1"), "{backend}");
        assert!(!list.contains("/customers/evil"), "{backend}");

        let (_, _, fi) = get(&app, "/customers/c1?lang=fi").await;
        for part in [
            "Arvo ja näkymät",
            ">73\u{a0}%</b>",
            "Odotetut ostot, seuraavat 30 päivää</dt><dd>0,81</dd>",
            "Asiakkaan elinkaariarvo, 12 kk</dt><dd>50,60\u{a0}€</dd>",
            "laskettu 30.6.2024",
        ] {
            assert!(fi.contains(part), "{backend}: {part} missing");
        }
    }
}

#[tokio::test]
async fn a_staff_users_quick_action_is_audited_with_their_name() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (status, _, _) = post(
            &app,
            "/customers/c1/interactions",
            &[("kind", "call"), ("note", "Kysyin kuulumiset")],
        )
        .await;
        assert_eq!(status, 303, "{backend}");
        let written = interactions(&app, "c1").await;
        assert_eq!(written.len(), 1);
        let entries = audit_of_entity(&app, "interactions").await;
        assert_eq!(entries.len(), 1, "{backend}: {entries:?}");
        let e = &entries[0].entry;
        assert_eq!(
            (
                e.actor_kind.as_str(),
                e.actor_name.as_str(),
                e.channel.as_str()
            ),
            ("user", "staff@kanta.test", "ui"),
            "{backend}"
        );
        assert_eq!(e.action, "create");
        assert_eq!(
            e.record_id.as_deref(),
            Some(written[0].external_id.as_str())
        );
        assert_eq!(e.changes["note"]["after"], "Kysyin kuulumiset");
        assert_eq!(e.changes["customer_id"]["after"], "c1");
        // The admin reads the same entry on the audit page.
        let a = page_as(
            &app,
            Role::Admin,
            "/admin/audit?entity=interactions&lang=en",
            &[],
        )
        .await;
        assert_eq!(a.status, 200);
        assert!(
            a.body.contains("(staff@kanta.test)</b>")
                && a.body.contains("Kysyin kuulumiset")
                && a.body.contains("via the pages"),
            "{}",
            a.body
        );
    }
}

/// The numbers of a list row's `num opt` cells (orders, refunds) for a customer.
fn list_counts(body: &str, id: &str) -> Vec<String> {
    let row = body
        .split("<tr>")
        .find(|r| r.contains(&format!("href=\"/customers/{id}\"")))
        .unwrap_or_else(|| panic!("no row for {id}:\n{body}"));
    // Orders and refunds (refunds hidden on narrower screens: `opt3`).
    row.replace("num opt opt3", "num opt")
        .split("<td class=\"num opt\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_customer_page_and_the_list_show_the_same_orders_and_refunds() {
    use kanta_domain::schema::TRANSACTIONS;
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let s = store(&app).await;
        s.write(&batch(
            &CUSTOMERS,
            &["name"],
            vec![("r3", vec![text("Raili Palauttaja")])],
        ))
        .await
        .unwrap();
        let tx = |day: u32, amount: i64, kind: &str| {
            vec![
                text("r3"),
                at(&format!("2024-03-{day:02}T10:00:00Z")),
                Value::Int(amount),
                text("EUR"),
                text(kind),
            ]
        };
        s.write(&batch(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
            vec![
                ("r3-o1", tx(1, 1000, "order")),
                ("r3-o2", tx(5, 2000, "order")),
                ("r3-o3", tx(9, 3000, "order")),
                ("r3-r1", tx(10, -500, "refund")),
            ],
        ))
        .await
        .unwrap();

        let (status, _, body) = get(&app, "/customers/r3?lang=en").await;
        assert_eq!(status, 200, "{backend}");
        let figures = body
            .split("class=\"figures\"")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap();
        for part in [
            "<span>Orders</span><b>3</b>",
            "<span>Refunds</span><b>1</b><em>€5.00 refunded</em>",
            "<span>Revenue</span><b>€55.00</b>",
            "<span>Average order</span><b>€20.00</b>",
        ] {
            assert!(figures.contains(part), "{backend}: {part}:\n{figures}");
        }
        let (_, _, list) = get(&app, "/customers?search=Raili&lang=en").await;
        assert_eq!(list_counts(&list, "r3"), ["3", "1"], "{backend}");
        assert!(list.contains("<th scope=\"col\" class=\"num opt opt3\">Refunds</th>"));
        assert!(list.contains("€55.00"), "{backend}: the same revenue");
        // A customer without refunds shows none on the page, 0 in the list.
        let (_, _, body) = get(&app, "/customers/c1?lang=en").await;
        assert!(!body.contains("<span>Refunds</span>"));
        let (_, _, list) = get(&app, "/customers?search=Aino&lang=en").await;
        assert_eq!(list_counts(&list, "c1"), ["1", "0"]);
        let (_, _, fi) = get(&app, "/customers/r3?lang=fi").await;
        assert!(
            fi.contains("<span>Palautukset</span><b>1</b><em>5,00\u{a0}€ palautettu</em>"),
            "{backend}"
        );
    }
}

/// The usage metrics (`m000` ...) a page's timeline shows, in order.
fn metrics_on(body: &str) -> Vec<String> {
    let tl = body.split("id=\"timeline\"").nth(1).unwrap_or("");
    tl.split("<i>metric</i> ")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().trim().to_string())
        .collect()
}

/// The timeline's link with `rel` (`next`: older events) on a customer page.
fn older_link(body: &str) -> Option<String> {
    let tl = body.split("id=\"timeline\"").nth(1)?;
    let a = tl
        .split("<a href=\"")
        .skip(1)
        .find(|a| a.contains("rel=\"next\""))?;
    let href = a.split('"').next()?;
    Some(
        href.trim_end_matches("#timeline")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn the_timeline_is_read_a_page_at_a_time() {
    use kanta_domain::schema::USAGE_EVENTS;
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let s = store(&app).await;
        s.write(&batch(
            &CUSTOMERS,
            &["name"],
            vec![("u1", vec![text("Uuno Käyttäjä")])],
        ))
        .await
        .unwrap();
        // 120 events, three at each of 40 moments: pages end inside a moment.
        let rows: Vec<(String, Vec<Value>)> = (0..120)
            .map(|i| {
                (
                    format!("use-{i:03}"),
                    vec![
                        text("u1"),
                        at(&format!(
                            "2024-04-01T{:02}:{:02}:00Z",
                            i / 3 / 60,
                            (i / 3) % 60
                        )),
                        text(&format!("m{i:03}")),
                        Value::Float(f64::from(i)),
                    ],
                )
            })
            .collect();
        let mut b = WriteBatch::new(
            &USAGE_EVENTS,
            ["customer_id", "occurred_at", "metric", "value"]
                .iter()
                .map(|n| USAGE_EVENTS.field(n).unwrap())
                .collect(),
        );
        for (id, v) in rows {
            b.push(id, v);
        }
        s.write(&b).await.unwrap();

        let mut seen = Vec::new();
        // Usage readings show on the timeline when asked for (`show=usage`).
        let mut path = "/customers/u1?show=usage&lang=en".to_string();
        let mut pages = 0;
        loop {
            let (status, _, body) = get(&app, &path).await;
            assert_eq!(status, 200, "{backend} {path}");
            let shown = metrics_on(&body);
            assert!(shown.len() <= 30, "{backend}: a page holds at most 30");
            seen.extend(shown);
            pages += 1;
            if pages > 1 {
                assert!(
                    body.contains("href=\"/customers/u1?show=usage#timeline\"")
                        && body.contains("Newest events"),
                    "{backend}: a later page links to the newest"
                );
            }
            match older_link(&body) {
                Some(next) => {
                    assert!(body.contains("Older events"));
                    path = format!("{next}&lang=en");
                }
                None => break,
            }
        }
        assert_eq!(pages, 4, "{backend}: 30 + 30 + 30 + 30");
        let want: Vec<String> = (0..120).rev().map(|i| format!("m{i:03}")).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 120, "{backend}: none twice, none skipped");
        // Newest first; events at one moment in a fixed order.
        let moments = |v: &[String]| -> Vec<u32> {
            v.iter()
                .map(|m| m[1..].parse::<u32>().unwrap() / 3)
                .collect()
        };
        assert_eq!(moments(&seen), moments(&want), "{backend}: newest first");

        // A cursor that is not one is ignored: the newest page.
        let (status, _, body) =
            get(&app, "/customers/u1?show=usage&before=yesterday&lang=en").await;
        assert_eq!(status, 200);
        assert_eq!(metrics_on(&body)[0][1..].parse::<u32>().unwrap() / 3, 39);
        assert!(!body.contains("Newest events"));
        let (_, _, fi) = get(&app, "/customers/u1?show=usage&lang=fi").await;
        assert!(fi.contains("Vanhemmat tapahtumat"), "{backend}");
    }
}

#[tokio::test]
async fn managers_add_trust_entries_from_the_customer_page() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let staff = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
        assert!(
            !staff.body.contains("action=\"/customers/c1/trust\""),
            "{backend}: the ledger is the managers'"
        );
        let a = post_form_as(
            &app,
            Role::Staff,
            "/customers/c1/trust",
            &[("delta", "5"), ("reason", "x")],
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: staff may not pay out goodwill");

        let manager = page_as(&app, Role::Manager, "/customers/c1?lang=en", &[]).await;
        assert!(manager.body.contains("Add a trust entry"));
        for bad in ["0", "kymmenen", "2.5", ""] {
            let a = post_form_as(
                &app,
                Role::Manager,
                "/customers/c1/trust?lang=en",
                &[("delta", bad), ("reason", "kept")],
            )
            .await;
            assert_eq!(a.status, 422, "{backend}: {bad:?}");
            assert!(
                a.body.contains("id=\"t-delta-error\">Write a whole number")
                    && a.body.contains("value=\"kept\""),
                "{backend}: {}",
                a.body
            );
        }
        let a = post_form_as(
            &app,
            Role::Manager,
            "/customers/c1/trust",
            &[("delta", "\u{2212}10"), ("reason", "Toimitus myöhässä")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some("/customers/c1?saved=trust")
        );
        let (_, _, body) = get(&app, "/customers/c1?saved=trust&lang=en").await;
        assert!(body.contains("The trust entry is saved."));
        assert!(
            body.contains("<span>Trust balance</span><b>-10</b>"),
            "{backend}: {body}"
        );
        let entries = audit_of_entity(&app, "trust").await;
        assert_eq!(entries.len(), 1, "{backend}");
        let e = &entries[0].entry;
        assert_eq!(e.actor_name, "manager@kanta.test");
        assert_eq!(e.changes["delta"]["after"], -10);
        assert_eq!(e.changes["source"]["after"], "manual");
    }
}
