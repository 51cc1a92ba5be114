//! The audit log, the jobs, the store's settings and a customer's figures over the
//! JSON API: every write through the API and the pages leaves one entry naming its
//! caller, failed writes leave none, and only admins read the log.

use kanta_core::jobs::{JobSettings, Services, work_once};
use kanta_store::accounts::Role;
use kanta_store::jobs::NewJob;
use kanta_store::outbox::NewMail;
use kanta_store::testing::BACKENDS;
use serde_json::{Value, json};

use crate::auth_tests::sign_in;
use crate::{Answer, App, api_as, login_of, page_as, post_form_as, spawn_app};

async fn call(app: &App, role: Role, method: &str, path: &str, body: Option<Value>) -> Answer {
    let body = body.map(|b| b.to_string());
    api_as(app, Some(role), method, path, body.as_deref()).await
}

/// The audit log's entries matching `query`, newest first, read by the admin.
async fn audit(app: &App, query: &str) -> Vec<Value> {
    let a = call(
        app,
        Role::Admin,
        "GET",
        &format!("/api/v1/audit?{query}"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{query}: {}", a.body);
    a.json()["items"].as_array().unwrap().clone()
}

fn field(a: &Answer) -> Option<String> {
    a.json()["field"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_staff_tokens_patch_is_audited_and_only_admins_read_the_log() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = call(
            &app,
            Role::Staff,
            "PATCH",
            "/api/v1/customers/c1",
            Some(json!({"segment": "kanta-asiakas", "name": "Aino Virtanen"})),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);

        let items = audit(&app, "entity=customers&record=c1").await;
        assert_eq!(items.len(), 1, "{backend}: {items:?}");
        let e = &items[0];
        assert_eq!(e["actor_kind"], "token");
        assert_eq!(e["actor_name"], "staff token");
        assert_eq!(e["channel"], "api");
        assert_eq!(e["action"], "update");
        assert_eq!(e["entity"], "customers");
        assert_eq!(e["record_id"], "c1");
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(
            e["changes"],
            json!({"segment": {"before": "kahvila", "after": "kanta-asiakas"}}),
            "only the changed field"
        );
        assert!(e["actor_id"].is_string());
        assert!(
            chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).is_ok(),
            "{e}"
        );
        // The members in their documented order (as the answer's text has them).
        let a = call(&app, Role::Admin, "GET", "/api/v1/audit?limit=1", None).await;
        let at = |k: &str| {
            a.body
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k}"))
        };
        let order = [
            "items",
            "id",
            "at",
            "actor_kind",
            "actor_id",
            "actor_name",
            "channel",
            "entity",
            "record_id",
            "action",
            "changes",
            "details",
            "ip",
            "next_cursor",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{}", a.body);
        // Filters: by the actor's name, by time (ISO, Finnish, RFC 3339).
        assert_eq!(audit(&app, "actor=staff%20token").await.len(), 1);
        assert_eq!(audit(&app, "actor=viewer%20token").await.len(), 0);
        assert_eq!(
            audit(&app, "entity=customers&since=1.1.2020").await.len(),
            1
        );
        assert_eq!(
            audit(&app, "entity=customers&until=2020-01-01").await.len(),
            0
        );
        assert_eq!(
            audit(&app, "entity=customers&since=2999-01-01T00:00:00Z")
                .await
                .len(),
            0
        );

        // Only admins read the log.
        for role in [Role::Viewer, Role::Staff, Role::Manager] {
            let a = call(&app, role, "GET", "/api/v1/audit", None).await;
            assert_eq!(a.status, 403, "{backend}: {role}: {}", a.body);
        }
        assert_eq!(
            api_as(&app, None, "GET", "/api/v1/audit", None)
                .await
                .status,
            401
        );

        // Bad queries name their parameter.
        for (q, status, name) in [
            ("colour=red", 400, "colour"),
            ("limit=0", 422, "limit"),
            ("limit=1001", 422, "limit"),
            ("since=someday", 422, "since"),
            ("cursor=abc", 422, "cursor"),
        ] {
            let a = call(
                &app,
                Role::Admin,
                "GET",
                &format!("/api/v1/audit?{q}"),
                None,
            )
            .await;
            assert_eq!(
                (a.status, field(&a).as_deref()),
                (status, Some(name)),
                "{q}: {}",
                a.body
            );
        }

        // Pages of the log, newest first, each entry once.
        let everything = audit(&app, "limit=1000").await;
        assert!(everything.len() >= 9, "users, tokens and the patch");
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let a = call(
                &app,
                Role::Admin,
                "GET",
                &format!("/api/v1/audit?limit=2&cursor={cursor}"),
                None,
            )
            .await;
            let page = a.json();
            paged.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(paged, everything);
        let ids: Vec<i64> = paged.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    }
}

#[tokio::test]
async fn refused_writes_leave_no_audit_entry() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // A reference to a staff member that does not exist.
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/interactions",
            Some(
                json!({"id": "i1", "customer_id": "c1", "staff_id": "nobody",
                "occurred_at": "2024-05-01T10:00:00Z", "kind": "call"}),
            ),
        )
        .await;
        assert_eq!(
            (a.status, field(&a).as_deref()),
            (422, Some("staff_id")),
            "{backend}: {}",
            a.body
        );
        // An id that exists already.
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/customers",
            Some(json!({"id": "c1", "name": "Toinen Aino"})),
        )
        .await;
        assert_eq!(
            (a.status, field(&a).as_deref()),
            (409, Some("id")),
            "{}",
            a.body
        );
        // A change to what is there already changes nothing.
        let a = call(
            &app,
            Role::Staff,
            "PATCH",
            "/api/v1/customers/c1",
            Some(json!({"segment": "kahvila"})),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        // A batch with a bad event writes nothing.
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/events",
            Some(json!({"events": [
                {"type": "transaction", "customer_id": "k1", "occurred_at": "2024-05-01", "amount": 100},
                {"type": "interaction", "customer_id": "ghost", "occurred_at": "2024-05-01", "kind": "call"}]})),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.body);
        for entity in ["interactions", "customers", "transactions"] {
            assert_eq!(
                audit(&app, &format!("entity={entity}")).await,
                Vec::<Value>::new(),
                "{backend}: {entity}"
            );
        }
        assert!(
            audit(&app, "actor=staff%20token").await.is_empty(),
            "{backend}"
        );
        // A good POST is one entry with every field given.
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/customers",
            Some(json!({"id": "c7", "name": "Eino", "segment": "uusi"})),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let items = audit(&app, "entity=customers").await;
        assert_eq!(items.len(), 1);
        assert_eq!(
            (&items[0]["action"], &items[0]["record_id"]),
            (&json!("create"), &json!("c7"))
        );
        assert_eq!(
            items[0]["changes"]["name"],
            json!({"before": null, "after": "Eino"})
        );
    }
}

#[tokio::test]
async fn an_events_batch_is_audited_once_per_entity() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let mut events: Vec<Value> = (0..150)
            .map(|i| {
                json!({"type": "transaction", "id": format!("t{i:03}"),
                    "customer_id": format!("k{}", i % 3),
                    "occurred_at": "2024-02-01T10:00:00Z", "amount": 100 + i})
            })
            .collect();
        // An interaction with a customer the batch's transactions create.
        events.push(
            json!({"type": "interaction", "id": "i1", "customer_id": "k1",
            "occurred_at": "2024-02-02T10:00:00Z", "kind": "call"}),
        );
        events.push(
            json!({"type": "interaction", "id": "i2", "customer_id": "c1",
            "occurred_at": "2024-02-02T11:00:00Z", "kind": "email"}),
        );
        events.push(json!({"type": "usage", "id": "u1", "customer_id": "k2",
            "occurred_at": "2024-02-03", "metric": "logins", "value": 2}));
        let batch = json!({ "events": events });
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/events",
            Some(batch.clone()),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert_eq!(a.json()["inserted"], 153);

        let items = audit(&app, "actor=staff%20token").await;
        let mut entities: Vec<&str> = items
            .iter()
            .map(|e| e["entity"].as_str().unwrap())
            .collect();
        entities.sort_unstable();
        assert_eq!(
            entities,
            ["interactions", "transactions", "usage"],
            "{backend}: one entry per entity, none per row: {items:?}"
        );
        for e in &items {
            assert_eq!(
                (&e["action"], &e["channel"], &e["actor_kind"]),
                (&json!("create"), &json!("api"), &json!("token"))
            );
            assert!(e["record_id"].is_null());
        }
        let t = items
            .iter()
            .find(|e| e["entity"] == "transactions")
            .unwrap();
        assert_eq!(t["details"]["count"], 150);
        assert_eq!(t["details"]["inserted"], 150);
        assert_eq!(t["details"]["customers_created"], 3);
        assert_eq!(t["details"]["ids"].as_array().unwrap().len(), 100);
        assert_eq!(t["details"]["ids"][0], "t000");
        assert_eq!(t["details"]["ids_truncated"], true);
        let i = items
            .iter()
            .find(|e| e["entity"] == "interactions")
            .unwrap();
        assert_eq!(i["details"]["ids"], json!(["i1", "i2"]));
        assert_eq!(i["details"]["count"], 2);

        // The same batch again changes nothing, and adds no entry.
        let a = call(&app, Role::Staff, "POST", "/api/v1/events", Some(batch)).await;
        assert_eq!(a.json()["changed"], false, "{}", a.body);
        assert_eq!(audit(&app, "actor=staff%20token").await.len(), 3);
    }
}

#[tokio::test]
async fn sign_ins_tokens_and_role_changes_are_audited() {
    let app = spawn_app("sqlite").await;
    let (viewer, _) = login_of(Role::Viewer);
    let wrong = "not-the-Password-42";
    assert_eq!(sign_in(&app, &viewer, wrong, &[]).await.status, 401);
    let (staff, staff_pw) = login_of(Role::Staff);
    assert_eq!(sign_in(&app, &staff, &staff_pw, &[]).await.status, 303);

    let a = call(&app, Role::Admin, "GET", "/api/v1/audit?entity=users", None).await;
    assert!(!a.body.contains(wrong), "the password tried is never kept");
    let items = a.json()["items"].as_array().unwrap().clone();
    let failed = items
        .iter()
        .find(|e| e["action"] == "sign_in_failed")
        .expect("the failure is audited");
    assert_eq!(failed["actor_name"], viewer.as_str());
    assert_eq!(failed["ip"], "127.0.0.1");
    assert_eq!(failed["channel"], "ui");
    let ok = items
        .iter()
        .find(|e| e["action"] == "sign_in")
        .expect("the sign-in is audited");
    assert_eq!(
        (&ok["actor_kind"], &ok["actor_name"], &ok["ip"]),
        (&json!("user"), &json!(staff), &json!("127.0.0.1"))
    );

    // A token made and revoked on the admin's page.
    let made = post_form_as(
        &app,
        Role::Admin,
        "/admin/tokens",
        &[("name", "kassa"), ("role", "staff")],
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let t = app.store.tokens().await.unwrap();
    let id = t.iter().find(|t| t.name == "kassa").unwrap().id;
    let a = post_form_as(
        &app,
        Role::Admin,
        &format!("/admin/tokens/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(a.status, 303);
    let items = audit(&app, &format!("entity=api_tokens&record={id}")).await;
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token_revoke", "token_create"]);
    for e in &items {
        assert_eq!(
            (&e["actor_name"], &e["channel"]),
            (&json!("admin@kanta.test"), &json!("ui"))
        );
    }
    assert_eq!(items[1]["changes"]["name"]["after"], "kassa");
    let start = made.body.find("<code id=\"shown-secret\">").unwrap() + 24;
    let secret = &made.body[start + 14..start + 70];
    let text = serde_json::to_string(&items).unwrap();
    assert!(!text.contains(secret), "no secret: {text}");

    // A role change, with the role before and after.
    let u = app.store.user_by_email(&staff).await.unwrap().unwrap();
    let a = post_form_as(
        &app,
        Role::Admin,
        &format!("/admin/users/{}", u.id),
        &[("role", "manager"), ("active", "on")],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let items = audit(&app, &format!("entity=users&record={}", u.id)).await;
    let change = items
        .iter()
        .find(|e| e["action"] == "role_change")
        .expect("the role change is audited");
    assert_eq!(
        change["changes"]["role"],
        json!({"before": "staff", "after": "manager"})
    );
    assert_eq!(change["actor_name"], "admin@kanta.test");

    // Signing out too.
    let page = page_as(&app, Role::Viewer, "/account", &[]).await;
    assert_eq!(page.status, 200);
    let a = post_form_as(&app, Role::Viewer, "/logout", &[]).await;
    assert_eq!(a.status, 303);
    let out = audit(&app, "entity=users&actor=viewer%40kanta.test").await;
    assert!(out.iter().any(|e| e["action"] == "sign_out"), "{out:?}");
}

#[tokio::test]
async fn a_customer_shows_orders_and_refunds_apart() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let tx = |id: &str, day: u32, amount: i64| {
            json!({"type": "transaction", "id": id, "customer_id": "C1",
                "occurred_at": format!("2024-03-{day:02}T10:00:00Z"), "amount": amount})
        };
        let batch = json!({"events": [
            tx("o1", 1, 1000), tx("o2", 5, 2000), tx("o3", 9, 3000), tx("r1", 10, -500)]});
        let a = call(&app, Role::Staff, "POST", "/api/v1/events", Some(batch)).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);

        let a = call(&app, Role::Viewer, "GET", "/api/v1/customers/C1", None).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let f = &a.json()["figures"];
        assert_eq!(f["orders"], 3, "{backend}: {}", a.body);
        assert_eq!(f["refunds"], 1);
        assert_eq!(f["revenue_minor"], 5500, "net of the refund");
        assert_eq!(f["refunded_minor"], 500);
        assert_eq!(f["average_order_minor"], 2000);
        assert_eq!(f["currency"], "EUR");
        assert_eq!(f["first_purchase_at"], "2024-03-01T10:00:00Z");
        assert_eq!(f["trust_balance"], 0);
        // The first integer whose key names refunds is the count.
        let first = first_int_key_matching(&a.body, "refund");
        assert_eq!(first, Some(("refunds".to_string(), 1)), "{}", a.body);
        let at = |k: &str| a.body.find(&format!("\"{k}\":")).unwrap();
        let order = [
            "orders",
            "refunds",
            "revenue_minor",
            "refunded_minor",
            "average_order_minor",
            "currency\":\"EUR\",\"first_purchase_at",
            "last_purchase_at",
            "trust_balance",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{}", a.body);
        // Other entities come as they are.
        let a = call(&app, Role::Viewer, "GET", "/api/v1/transactions/r1", None).await;
        assert_eq!(a.json()["kind"], "refund");
        assert!(a.json().get("figures").is_none());
    }
}

/// The first `"key": integer` of a JSON text whose key contains `part`.
fn first_int_key_matching(text: &str, part: &str) -> Option<(String, i64)> {
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let end = after.find('"')?;
        let key = &after[..end];
        let tail = after[end + 1..].trim_start();
        if let Some(v) = tail.strip_prefix(':') {
            let v = v.trim_start();
            let digits: String = v
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            if key.contains(part)
                && let Ok(n) = digits.parse()
            {
                return Some((key.to_string(), n));
            }
        }
        rest = &after[end + 1..];
    }
    None
}

#[tokio::test]
async fn managers_set_the_currency_that_bodies_default_to() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = call(&app, Role::Viewer, "GET", "/api/v1/settings", None).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let items = a.json()["items"].as_array().unwrap().clone();
        let currency = items.iter().find(|s| s["key"] == "currency").unwrap();
        assert_eq!(
            (&currency["value"], &currency["set"]),
            (&json!("EUR"), &json!(false))
        );

        let set = async |role, value: &str| {
            let body = json!({ "value": value });
            call(&app, role, "PUT", "/api/v1/settings/currency", Some(body)).await
        };
        let a = set(Role::Staff, "SEK").await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = set(Role::Manager, "kruunu").await;
        assert_eq!(
            (a.status, field(&a).as_deref()),
            (422, Some("currency")),
            "{}",
            a.body
        );
        let a = call(
            &app,
            Role::Manager,
            "PUT",
            "/api/v1/settings/currency",
            Some(json!({"value": 5})),
        )
        .await;
        assert_eq!((a.status, field(&a).as_deref()), (422, Some("value")));
        let a = call(
            &app,
            Role::Manager,
            "PUT",
            "/api/v1/settings/colour",
            Some(json!({"value": "red"})),
        )
        .await;
        assert_eq!(a.status, 404, "{}", a.body);
        let a = set(Role::Manager, " sek ").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            (&a.json()["value"], &a.json()["set"]),
            (&json!("SEK"), &json!(true))
        );

        // Money given without a currency is now in kronor, in records and in events.
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/transactions",
            Some(json!({"id": "s1", "customer_id": "c1", "occurred_at": "2024-06-01", "amount": "12,50"})),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            (&a.json()["currency"], &a.json()["amount"]),
            (&json!("SEK"), &json!(1250))
        );
        let a = call(
            &app,
            Role::Staff,
            "POST",
            "/api/v1/events",
            Some(
                json!({"events": [{"type": "transaction", "id": "s2", "customer_id": "c1",
                "occurred_at": "2024-06-02", "amount": 700}]}),
            ),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = call(&app, Role::Viewer, "GET", "/api/v1/transactions/s2", None).await;
        assert_eq!(a.json()["currency"], "SEK");
        let a = call(
            &app,
            Role::Viewer,
            "GET",
            "/api/v1/transactions?currency=SEK",
            None,
        )
        .await;
        assert_eq!(
            a.json()["items"].as_array().map(Vec::len),
            Some(2),
            "{}",
            a.body
        );

        let items = audit(&app, "entity=settings").await;
        assert_eq!(items.len(), 1, "{backend}: the refused changes left none");
        assert_eq!(items[0]["action"], "setting_change");
        assert_eq!(items[0]["actor_name"], "manager token");
        assert_eq!(
            items[0]["changes"]["currency"],
            json!({"before": "EUR", "after": "SEK"})
        );
    }
}

#[tokio::test]
async fn admins_list_and_retry_failed_jobs() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // A mail job that names no message fails for good when a worker runs it.
        let id = app
            .store
            .enqueue(&NewJob {
                kind: "mail.send".into(),
                payload: json!({}),
                unique_key: None,
                run_at: chrono::Utc::now(),
                max_attempts: 3,
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
                subject: "Tervetuloa".into(),
                text: "salainen sisältö".into(),
                html: Some("<p>salainen sisältö</p>".into()),
            })
            .await
            .unwrap();

        for role in [Role::Viewer, Role::Staff, Role::Manager] {
            let a = call(&app, role, "GET", "/api/v1/jobs", None).await;
            assert_eq!(a.status, 403, "{backend}: {role}");
            let a = call(
                &app,
                role,
                "POST",
                &format!("/api/v1/jobs/{id}/retry"),
                None,
            )
            .await;
            assert_eq!(a.status, 403, "{backend}: {role}");
        }
        let a = call(&app, Role::Admin, "GET", "/api/v1/jobs", None).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        let j = a.json();
        assert_eq!(j["counts"]["failed"], 1, "{}", a.body);
        assert_eq!(j["counts"]["queued"], 1, "the new message's job");
        assert_eq!(j["jobs"].as_array().unwrap().len(), 2);
        assert_eq!(j["outbox"][0]["subject"], "Tervetuloa");
        assert_eq!(j["outbox"][0]["status"], "queued");
        assert!(!a.body.contains("salainen"), "no bodies: {}", a.body);
        let a = call(&app, Role::Admin, "GET", "/api/v1/jobs?status=failed", None).await;
        let jobs = a.json()["jobs"].as_array().unwrap().clone();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0]["id"], id);
        assert_eq!(jobs[0]["status"], "failed");
        assert!(
            jobs[0]["last_error"].as_str().unwrap().contains("mail_id"),
            "{jobs:?}"
        );
        let a = call(&app, Role::Admin, "GET", "/api/v1/jobs?status=lost", None).await;
        assert_eq!((a.status, field(&a).as_deref()), (422, Some("status")));
        let a = call(&app, Role::Admin, "GET", "/api/v1/jobs?kind=x", None).await;
        assert_eq!((a.status, field(&a).as_deref()), (400, Some("kind")));

        let a = call(
            &app,
            Role::Admin,
            "POST",
            &format!("/api/v1/jobs/{id}/retry"),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            (&a.json()["status"], &a.json()["attempts"]),
            (&json!("queued"), &json!(0))
        );
        let a = call(
            &app,
            Role::Admin,
            "POST",
            &format!("/api/v1/jobs/{id}/retry"),
            None,
        )
        .await;
        assert_eq!(a.status, 409, "only failed jobs: {}", a.body);
        let a = call(&app, Role::Admin, "POST", "/api/v1/jobs/999999/retry", None).await;
        assert_eq!(a.status, 404);
        let a = call(&app, Role::Admin, "POST", "/api/v1/jobs/x/retry", None).await;
        assert_eq!(a.status, 404);

        let items = audit(&app, "entity=jobs").await;
        assert_eq!(items.len(), 1, "{backend}: {items:?}");
        assert_eq!(items[0]["action"], "job_retry");
        assert_eq!(items[0]["record_id"], id.to_string());
        assert_eq!(items[0]["actor_name"], "admin token");
        assert_eq!(items[0]["details"]["kind"], "mail.send");
    }
}
