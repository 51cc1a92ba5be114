//! Cases as staff and managers work them: opened from the customer page with a claim
//! (a small one approved at once, a large one waiting for a manager who decides it
//! on the case page), both decisions in the audit log by name; a case that was our
//! fault costs the customer's trust balance 10 with the reason linked to the case;
//! the API's SLA filter; the viewer refused on every form; what a customer wrote
//! shown as text; the pages in Finnish.

use kanta_core::Acting;
use kanta_domain::Value;
use kanta_domain::schema::STAFF;
use kanta_store::WriteBatch;
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;
use serde_json::json;

use crate::{App, api_as, page_as, post_form_as, spawn_app};

/// The staff register: a member for the staff and the manager users (same emails).
async fn add_staff(app: &App) {
    let f = |n: &str| STAFF.field(n).unwrap();
    let mut b = WriteBatch::new(&STAFF, vec![f("name"), f("email")]);
    b.push(
        "s-staff".into(),
        [
            Value::Text("Sanna Staff".into()),
            Value::Text("staff@kanta.test".into()),
        ],
    );
    b.push(
        "s-manager".into(),
        [
            Value::Text("Mikko Manager".into()),
            Value::Text("manager@kanta.test".into()),
        ],
    );
    app.core.write_batch(&Acting::cli(), b).await.unwrap();
}

/// The open cases of a customer through the API, newest last as the API gives them.
async fn cases_of(app: &App, customer: &str) -> Vec<serde_json::Value> {
    let a = api_as(
        app,
        Some(Role::Viewer),
        "GET",
        &format!("/api/v1/cases?customer={customer}&status=all"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["items"].as_array().unwrap().clone()
}

/// The one case of `customer` whose summary is `summary`: its id.
async fn case_with(app: &App, customer: &str, summary: &str) -> String {
    cases_of(app, customer)
        .await
        .into_iter()
        .find(|c| c["summary"] == summary)
        .unwrap_or_else(|| panic!("no case '{summary}'"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn case_json(app: &App, id: &str) -> serde_json::Value {
    let a = api_as(
        app,
        Some(Role::Viewer),
        "GET",
        &format!("/api/v1/cases/{id}"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

/// Opens a case from the customer page's form as staff; 303 back to the page.
async fn open_from_customer_page(app: &App, customer: &str, pairs: &[(&str, &str)]) -> String {
    let a = post_form_as(
        app,
        Role::Staff,
        &format!("/customers/{customer}/cases"),
        pairs,
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let to = a.header("location").unwrap_or_default();
    assert!(
        to.starts_with(&format!("/customers/{customer}?saved=case&case=case-")),
        "{to}"
    );
    to
}

#[tokio::test]
async fn a_small_claim_is_approved_at_once_and_a_large_one_by_a_manager() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        add_staff(&app).await;
        open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "cold coffee"),
                ("severity", "normal"),
                ("channel", "visit"),
                ("our_fault", "unknown"),
                ("summary", "Small one"),
                ("owner", "s-staff"),
                ("amount", "30"),
                ("claim_kind", "refund"),
            ],
        )
        .await;
        let small = case_with(&app, "c1", "Small one").await;
        let c = case_json(&app, &small).await;
        assert_eq!(c["claims"][0]["status"], "approved", "{backend}: {c}");
        assert_eq!(c["claims"][0]["auto_approved"], true);
        assert_eq!(c["claims"][0]["amount"], 3000);
        assert_eq!(c["channel"], "visit");
        assert_eq!(c["staff_id"], "s-staff");
        let page = page_as(&app, Role::Staff, &format!("/cases/{small}?lang=en"), &[]).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("approved at once (small claim)") && page.body.contains("€30.00"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Sanna Staff"), "the owner by name");

        open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "broken machine"),
                ("severity", "high"),
                ("our_fault", "no"),
                ("summary", "Large one"),
                ("amount", "120,00"),
                ("claim_kind", "voucher"),
            ],
        )
        .await;
        let large = case_with(&app, "c1", "Large one").await;
        let c = case_json(&app, &large).await;
        assert_eq!(c["claims"][0]["status"], "pending", "{backend}: {c}");
        assert_eq!(c["claims"][0]["amount"], 12000);
        let claim = c["claims"][0]["id"].as_str().unwrap().to_string();
        // Staff see it waiting, without the decision's form; the manager has it.
        let page = page_as(&app, Role::Staff, &format!("/cases/{large}?lang=en"), &[]).await;
        assert!(page.body.contains("waiting on a manager"), "{}", page.body);
        assert!(!page.body.contains("/decide\""));
        let page = page_as(&app, Role::Manager, &format!("/cases/{large}?lang=en"), &[]).await;
        let decide = format!("/cases/{large}/claims/{claim}/decide");
        assert!(page.body.contains(&decide), "{}", page.body);
        // Staff cannot decide it.
        let a = post_form_as(
            &app,
            Role::Staff,
            &decide,
            &[("approve", "yes"), ("reason", "ok")],
        )
        .await;
        assert_eq!(a.status, 403);
        // A decision without a reason comes back with the error by the field.
        let a = post_form_as(&app, Role::Manager, &decide, &[("approve", "yes")]).await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(a.body.contains("Fill this in."));
        let a = post_form_as(
            &app,
            Role::Manager,
            &decide,
            &[
                ("approve", "yes"),
                ("reason", "A loyal customer; the machine was ours"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(
            a.header("location").as_deref(),
            Some(format!("/cases/{large}?saved=decision").as_str())
        );
        let page = page_as(
            &app,
            Role::Manager,
            &format!("/cases/{large}?saved=decision&lang=en"),
            &[],
        )
        .await;
        assert!(page.body.contains("The decision is saved."));
        assert!(page.body.contains("A loyal customer; the machine was ours"));
        let c = case_json(&app, &large).await;
        assert_eq!(c["claims"][0]["status"], "approved", "{c}");
        // Then paid, by staff.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{large}/claims/{claim}/pay"),
            &[],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let c = case_json(&app, &large).await;
        assert!(c["claims"][0]["paid_at"].is_string(), "{c}");

        // Both decisions are in the audit log, by the users who made them.
        let a = api_as(
            &app,
            Some(Role::Admin),
            "GET",
            "/api/v1/audit?entity=claims&limit=100",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let items = a.json()["items"].as_array().unwrap().clone();
        let by = |who: &str| {
            items
                .iter()
                .filter(|e| e["actor_name"].as_str().is_some_and(|n| n.contains(who)))
                .count()
        };
        assert!(by("staff@kanta.test") >= 2, "{backend}: {items:?}");
        assert!(by("manager@kanta.test") >= 1, "{backend}: {items:?}");
    }
}

#[tokio::test]
async fn our_fault_costs_ten_good_jobs_and_the_reason_links_to_the_case() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        add_staff(&app).await;
        open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "wrong order"),
                ("severity", "normal"),
                ("our_fault", "yes"),
                ("summary", "Ours"),
            ],
        )
        .await;
        let id = case_with(&app, "c1", "Ours").await;
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/c1/trust",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let t = a.json();
        assert_eq!(t["balance"], -10, "{backend}: {t}");
        assert_eq!(t["entries"][0]["source_id"], id.as_str());
        let page = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
        let block = page
            .body
            .split("id=\"trust\"")
            .nth(1)
            .expect("the trust block")
            .split("</section>")
            .next()
            .unwrap();
        assert!(block.contains("\u{2212}10"), "{block}");
        assert!(block.contains(&format!("href=\"/cases/{id}\"")), "{block}");
        // The open cases link to their page.
        assert!(page.body.contains(&format!("href=\"/cases/{id}\"")));
        // The manager's manual entry, through the same form as before.
        let a = post_form_as(
            &app,
            Role::Manager,
            "/customers/c1/trust",
            &[("delta", "+3"), ("reason", "Goodwill")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let t = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/c1/trust",
            None,
        )
        .await
        .json();
        assert_eq!(t["balance"], -7, "{t}");
    }
}

#[tokio::test]
async fn the_api_lists_breaching_cases_with_their_due_times() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for (id, opened) in [
            ("late-1", "2024-01-02T08:00:00Z"),
            ("fresh-1", &chrono::Utc::now().to_rfc3339()[..]),
        ] {
            let a = api_as(
                &app,
                Some(Role::Staff),
                "POST",
                "/api/v1/cases",
                Some(
                    &json!({"id": id, "customer_id": "c1", "opened_at": opened,
                             "category": "billing", "severity": "low"})
                    .to_string(),
                ),
            )
            .await;
            assert_eq!(a.status, 201, "{backend}: {}", a.body);
        }
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/cases?sla=breaching",
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let items = a.json()["items"].as_array().unwrap().clone();
        let ids: Vec<&str> = items.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["late-1"], "{backend}");
        assert_eq!(items[0]["breached"], true);
        assert!(items[0]["sla_due_at"].is_string(), "{:?}", items[0]);
        let all = api_as(&app, Some(Role::Viewer), "GET", "/api/v1/cases", None)
            .await
            .json();
        let fresh = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "fresh-1")
            .unwrap()
            .clone();
        assert_eq!(fresh["breached"], false);
        assert!(fresh["sla_due_at"].is_string());
        // An unknown filter value is refused by name.
        let a = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/cases?sla=soon",
            None,
        )
        .await;
        assert_eq!((a.status, a.json()["field"].as_str()), (422, Some("sla")));
        // The list page with the same filter shows the late case with its timer.
        let page = page_as(&app, Role::Staff, "/cases?sla=breaching&lang=en", &[]).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("/cases/late-1") && !page.body.contains("/cases/fresh-1"));
        assert!(page.body.contains("overdue by"), "{}", page.body);
        let page = page_as(&app, Role::Staff, "/cases?lang=en", &[]).await;
        assert!(page.body.contains("/cases/fresh-1") && page.body.contains("left"));
    }
}

#[tokio::test]
async fn the_viewer_reads_cases_and_changes_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        add_staff(&app).await;
        open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "x"),
                ("severity", "normal"),
                ("summary", "Viewer's"),
                ("amount", "120"),
            ],
        )
        .await;
        let id = case_with(&app, "c1", "Viewer's").await;
        let claim = case_json(&app, &id).await["claims"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let page = page_as(&app, Role::Viewer, &format!("/cases/{id}"), &[]).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("method=\"post\" action=\"/cases/"));
        assert_eq!(page_as(&app, Role::Viewer, "/cases", &[]).await.status, 200);
        for (path, form) in [
            ("/customers/c1/cases".to_string(), vec![("category", "x")]),
            (
                format!("/cases/{id}/transition"),
                vec![("to", "in_progress")],
            ),
            (format!("/cases/{id}/resolve"), vec![("resolution", "x")]),
            (format!("/cases/{id}/assign"), vec![("owner", "s-staff")]),
            (format!("/cases/{id}/note"), vec![("note", "x")]),
            (format!("/cases/{id}/claims"), vec![("amount", "5")]),
            (
                format!("/cases/{id}/claims/{claim}/decide"),
                vec![("approve", "yes"), ("reason", "x")],
            ),
            (format!("/cases/{id}/claims/{claim}/pay"), vec![]),
        ] {
            let a = post_form_as(&app, Role::Viewer, &path, &form).await;
            assert_eq!(a.status, 403, "{backend}: {path}");
        }
        let c = case_json(&app, &id).await;
        assert_eq!(c["status"], "open");
        assert_eq!(c["claims"].as_array().unwrap().len(), 1);
        assert_eq!(c["claims"][0]["status"], "pending");
        // Staff move it along: in progress, then resolved with what was fixed.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{id}/transition"),
            &[("to", "in_progress"), ("note", "Called back")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{id}/resolve"),
            &[
                ("resolution", "Replaced the grinder"),
                ("apology", "on"),
                ("fixed_in_presence", "on"),
                ("our_fault", "no"),
            ],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let c = case_json(&app, &id).await;
        assert_eq!(c["status"], "resolved", "{c}");
        assert_eq!(c["resolution"], "Replaced the grinder");
        let page = page_as(&app, Role::Staff, &format!("/cases/{id}?lang=en"), &[]).await;
        assert!(page.body.contains("Called back") && page.body.contains("Replaced the grinder"));
    }
}

#[tokio::test]
async fn what_a_customer_wrote_is_text_on_both_pages_and_finnish_reads_finnish() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        add_staff(&app).await;
        open_from_customer_page(
            &app,
            "evil",
            &[
                ("category", "<b>bold</b>"),
                ("severity", "normal"),
                ("summary", "<script>alert(3)</script>"),
            ],
        )
        .await;
        let id = case_with(&app, "evil", "<script>alert(3)</script>").await;
        for path in [
            "/customers/evil".to_string(),
            format!("/cases/{id}"),
            "/cases".into(),
        ] {
            let page = page_as(&app, Role::Staff, &path, &[]).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(
                !page.body.contains("<script>alert") && !page.body.contains("<b>bold"),
                "{backend}: {path} shows markup"
            );
            assert!(page.body.contains("alert(3)"), "{path}");
        }
        let page = page_as(&app, Role::Staff, &format!("/cases/{id}?lang=fi"), &[]).await;
        for w in [
            "Palvelutason ajastimet",
            "Mitä tapahtui",
            "Vastuuhenkilö",
            "Avoin",
        ] {
            assert!(page.body.contains(w), "{backend}: {w}");
        }
        assert!(page.body.contains("jäljellä") || page.body.contains("myöhässä"));
        let page = page_as(&app, Role::Staff, "/cases?lang=fi", &[]).await;
        assert!(page.body.contains("Tapaukset") && page.body.contains("Vain omat tapaukseni"));
        let page = page_as(&app, Role::Staff, "/customers/evil?lang=fi", &[]).await;
        assert!(page.body.contains("Kanava") && page.body.contains("Korvauksen laji"));
    }
}

/// The problems a new user met on the cases pages, tried as they met them: the
/// notice after opening a case, only the steps the life cycle allows (and a refusal
/// in the page's language), the timeline in Finnish, category labels and the filter
/// of existing categories, a bad filter answered by name, our fault changed on an
/// open case, the claim form gone from a closed case, a refused payment explained.
#[tokio::test]
async fn a_new_users_trial_of_the_case_pages() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        add_staff(&app).await;
        // A new category typed beside the list is written as a key.
        let to = open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", ""),
                ("category_other", " Cold   Coffee "),
                ("severity", "normal"),
                ("summary", "Small one"),
                ("amount", "30"),
                ("claim_kind", "refund"),
            ],
        )
        .await;
        let small = case_with(&app, "c1", "Small one").await;
        assert_eq!(case_json(&app, &small).await["category"], "cold-coffee");
        let page = page_as(&app, Role::Staff, &format!("{to}&lang=en"), &[]).await;
        let notice = page
            .body
            .split("id=\"case-opened\"")
            .nth(1)
            .expect("the notice of the opened case")
            .split("</p>")
            .next()
            .unwrap()
            .to_string();
        assert!(
            notice.contains(&format!("href=\"/cases/{small}\""))
                && notice.contains("approved at once")
                && notice.contains("€30.00"),
            "{backend}: {notice}"
        );
        // The form offers the categories cases have, by their labels.
        assert!(
            page.body
                .contains("<option value=\"cold-coffee\">Cold coffee</option>"),
            "{backend}: the case form's categories"
        );
        let to = open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "cold-coffee"),
                ("severity", "normal"),
                ("summary", "Large one"),
                ("amount", "120"),
            ],
        )
        .await;
        let large = case_with(&app, "c1", "Large one").await;
        let page = page_as(&app, Role::Staff, &format!("{to}&lang=fi"), &[]).await;
        assert!(
            page.body.contains("odottaa esihenkilön päätöstä")
                && page.body.contains("120,00\u{a0}€"),
            "{backend}: the large claim waits"
        );

        // Only the steps an open case may take; closing it is not offered.
        let page = page_as(&app, Role::Staff, &format!("/cases/{small}?lang=fi"), &[]).await;
        assert!(page.body.contains("name=\"to\" value=\"in_progress\""));
        assert!(page.body.contains("name=\"to\" value=\"waiting\""));
        assert!(
            !page.body.contains("name=\"to\" value=\"closed\""),
            "{backend}"
        );
        // Sent anyway (an old page), the refusal is in Finnish by the buttons.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{small}/transition?lang=fi"),
            &[("to", "closed")],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body.contains("Ratkaise tapaus ensin"),
            "{backend}: {}",
            a.body
        );
        assert!(!a.body.contains("cannot move from"));

        // The timeline in Finnish: no English words, raw values or emails.
        let page = page_as(&app, Role::Staff, &format!("/cases/{small}?lang=fi"), &[]).await;
        let timeline = page.body.split("id=\"events\"").nth(1).unwrap().to_string();
        for raw in [
            "approved at once by the small-claim rule",
            ">refund<",
            "30.00 EUR",
            "approved",
            "staff@kanta.test",
            "unknown",
        ] {
            assert!(!timeline.contains(raw), "{backend}: '{raw}' in {timeline}");
        }
        for fi in ["30,00\u{a0}€", "hyvitys", "hyväksytty heti", "Test staff"] {
            assert!(timeline.contains(fi), "{backend}: no '{fi}' in {timeline}");
        }

        // The list: categories by label in a select of the existing ones; a bad
        // filter value is a 422 page naming the filter and what it takes.
        let page = page_as(&app, Role::Staff, "/cases?lang=en", &[]).await;
        assert!(page.body.contains("<select id=\"f-category\""));
        assert!(
            page.body
                .contains("<option value=\"cold-coffee\">Cold coffee</option>")
        );
        assert!(!page.body.contains(">cold-coffee<"));
        for (q, words) in [
            ("severity=bogus", ["Vakavuus", "critical"]),
            ("sla=bogus", ["Palvelutaso", "due_soon"]),
        ] {
            let a = page_as(&app, Role::Staff, &format!("/cases?{q}&lang=fi"), &[]).await;
            assert_eq!(a.status, 422, "{backend}: {q}");
            for w in words {
                assert!(a.body.contains(w), "{backend}: {q}: no '{w}'");
            }
            assert!(a.body.contains("bogus"));
        }

        // Our fault and severity changed on an open case: the trust rule runs.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{large}/edit"),
            &[("our_fault", "yes"), ("severity", "high")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let c = case_json(&app, &large).await;
        assert_eq!(
            (c["our_fault"].as_bool(), c["severity"].as_str()),
            (Some(true), Some("high"))
        );
        let t = api_as(
            &app,
            Some(Role::Viewer),
            "GET",
            "/api/v1/customers/c1/trust",
            None,
        )
        .await
        .json();
        assert_eq!(t["balance"], -10, "{backend}: {t}");

        // Paying a claim that waits for a manager: 422 with the reason on the page.
        let claim = c["claims"][0]["id"].as_str().unwrap().to_string();
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{large}/claims/{claim}/pay?lang=en"),
            &[],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body
                .contains("Only an approved claim can be recorded as paid."),
            "{backend}: {}",
            a.body
        );

        // Resolved, then closed: no claim form on a closed case.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{small}/resolve"),
            &[("resolution", "New coffee"), ("our_fault", "no")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let page = page_as(&app, Role::Staff, &format!("/cases/{small}?lang=en"), &[]).await;
        assert!(page.body.contains("name=\"to\" value=\"closed\""));
        assert!(
            page.body
                .contains(&format!("action=\"/cases/{small}/claims\""))
        );
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{small}/transition"),
            &[("to", "closed")],
        )
        .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let page = page_as(&app, Role::Staff, &format!("/cases/{small}?lang=en"), &[]).await;
        assert!(
            !page
                .body
                .contains(&format!("action=\"/cases/{small}/claims\""))
        );
        assert!(page.body.contains("name=\"to\" value=\"open\""));
        // A claim sent to the closed case anyway is refused in the page's language.
        let a = post_form_as(
            &app,
            Role::Staff,
            &format!("/cases/{small}/claims?lang=fi"),
            &[("amount", "5"), ("kind", "refund")],
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert!(
            a.body.contains("Tapaus on suljettu"),
            "{backend}: {}",
            a.body
        );
    }
}

/// Repeat claimants are read by every signed-in role, the viewer too.
#[tokio::test]
async fn every_role_reads_the_repeat_claimants() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        open_from_customer_page(
            &app,
            "c1",
            &[
                ("category", "cold-coffee"),
                ("severity", "normal"),
                ("amount", "30"),
            ],
        )
        .await;
        for role in [Role::Viewer, Role::Staff, Role::Manager] {
            let a = page_as(&app, role, "/claims/repeat?lang=en", &[]).await;
            assert_eq!(a.status, 200, "{backend}: {role}");
            assert!(a.body.contains("Repeat claimants"));
            // Both the sum claimed and the sum approved.
            assert!(a.body.contains("Sum claimed") && a.body.contains("Sum approved"));
            assert!(
                a.body.matches("€30.00").count() >= 4,
                "{backend}: {}",
                a.body
            );
        }
    }
}

/// The trust block draws the balance as a line chart with axes and a zero line, and
/// gives its figures as a table.
#[tokio::test]
async fn the_trust_chart_has_axes_a_zero_line_and_its_figures() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        for delta in ["+3", "-10", "+1"] {
            let a = post_form_as(
                &app,
                Role::Manager,
                "/customers/c1/trust",
                &[("delta", delta), ("reason", "Test")],
            )
            .await;
            assert_eq!(a.status, 303, "{}", a.body);
        }
        let page = page_as(&app, Role::Staff, "/customers/c1?lang=en", &[]).await;
        let block = page.body.split("id=\"trust\"").nth(1).unwrap();
        let block = block.split("</section>").next().unwrap();
        assert!(block.contains("<svg"), "{backend}: {block}");
        assert!(
            block.contains(">Balance<") && block.contains(">Time<"),
            "{block}"
        );
        assert!(block.contains("stroke-dasharray=\"4 3\""), "the zero line");
        assert!(block.contains("The balance after each entry"));
        assert!(
            block.contains("\u{2212}6") && block.contains("+3"),
            "{block}"
        );
    }
}
