//! Owners as a user meets them, on both backends: "my customers" on the list
//! (`/customers?owner=me`) shows only the signed-in user's, with the owner and health
//! columns and a health sort; `/owners` lists the owners for every role while only a
//! manager's bulk assignment is taken (audited, unknown ids named); the account page's
//! weekly-digest checkbox turns the digest off.

use kanta_core::Acting;
use kanta_domain::schema::{CUSTOMERS, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

use crate::{App, page_as, post_form_as, spawn_app};

fn fields(e: &'static kanta_domain::Entity, n: &[&str]) -> Vec<&'static kanta_domain::Field> {
    n.iter().map(|n| e.field(n).unwrap()).collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Staff rows for the staff and manager test users; c1 and m3 are the staff user's,
/// `evil` the manager's, t4 nobody's.
async fn seed(app: &App) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sanna Staff"), text("staff@kanta.test")]);
    s.push(
        "s2".into(),
        [text("Mikko Manager"), text("manager@kanta.test")],
    );
    app.core.write_batch(&cli, s).await.unwrap();
    let mut c = WriteBatch::new(
        &CUSTOMERS,
        fields(&CUSTOMERS, &["name", "segment", "owner_id"]),
    );
    c.push(
        "c1".into(),
        [text("Aino Virtanen"), text("kahvila"), text("s1")],
    );
    c.push(
        "evil".into(),
        [
            text("<script>alert(1)</script>"),
            text("kahvila"),
            text("s2"),
        ],
    );
    c.push(
        "m3".into(),
        [text("Matti Mine"), text("toimisto"), text("s1")],
    );
    c.push(
        "t4".into(),
        [text("Tuntematon"), text("toimisto"), Value::Null],
    );
    app.core.write_batch(&cli, c).await.unwrap();
}

#[tokio::test]
async fn my_customers_shows_only_mine() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = page_as(&app, Role::Staff, "/customers?owner=me", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("href=\"/customers/c1\""), "{}", a.body);
        assert!(a.body.contains("href=\"/customers/m3\""), "{}", a.body);
        assert!(!a.body.contains("href=\"/customers/evil\""), "{}", a.body);
        assert!(!a.body.contains("href=\"/customers/t4\""), "{}", a.body);
        // The owner column names the owner, linking to their customers.
        assert!(a.body.contains("Sanna Staff") && a.body.contains("/customers?owner=s1"));
        // The manager's are the manager's; the list of nobody's has t4 only.
        let a = page_as(&app, Role::Manager, "/customers?owner=me", &[]).await;
        assert!(
            a.body.contains("href=\"/customers/evil\"")
                && !a.body.contains("href=\"/customers/c1\"")
        );
        let a = page_as(&app, Role::Viewer, "/customers?owner=none", &[]).await;
        assert!(
            a.body.contains("href=\"/customers/t4\"") && !a.body.contains("href=\"/customers/m3\"")
        );
        // A user without a staff row owns nobody, and is told why.
        let a = page_as(&app, Role::Viewer, "/customers?owner=me", &[]).await;
        assert_eq!(a.status, 200);
        assert!(!a.body.contains("href=\"/customers/c1\""), "{}", a.body);
        assert!(
            a.body.contains("no staff member has your email"),
            "{}",
            a.body
        );
        // Paging keeps the filter; an unknown owner is refused by name.
        let a = page_as(&app, Role::Staff, "/customers?owner=nobody-here", &[]).await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(a.body.contains("owner"), "{}", a.body);
        let a = page_as(&app, Role::Staff, "/customers?owner=me&sort=health", &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("health, lowest first"), "{}", a.body);
    }
}

#[tokio::test]
async fn owners_page_reads_for_all_and_assigns_for_managers() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        seed(&app).await;
        let a = page_as(&app, Role::Viewer, "/owners", &[]).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.body);
        assert!(a.body.contains("Sanna Staff") && a.body.contains("Mikko Manager"));
        assert!(a.body.contains("owners-read-only") && !a.body.contains("id=\"owners-assign\""));
        assert!(
            a.body.contains("href=\"/owners\""),
            "the navigation links the page"
        );
        // A staff member's assignment is refused and writes nothing.
        let a = post_form_as(
            &app,
            Role::Staff,
            "/owners/assign",
            &[("by", "segment"), ("segment", "kahvila"), ("owner", "s2")],
        )
        .await;
        assert_eq!(a.status, 403, "{backend}: {}", a.body);
        // Unknown ids are named; nothing changes.
        let a = post_form_as(
            &app,
            Role::Manager,
            "/owners/assign",
            &[
                ("by", "ids"),
                ("ids", "t4\nghost-1, ghost-2"),
                ("owner", "s2"),
            ],
        )
        .await;
        assert_eq!(a.status, 422, "{backend}: {}", a.body);
        assert!(
            a.body.contains("no customer with the id ghost-1, ghost-2"),
            "{}",
            a.body
        );
        assert!(
            a.body.contains("t4\nghost-1, ghost-2"),
            "the form keeps the ids"
        );
        let a = post_form_as(
            &app,
            Role::Manager,
            "/owners/assign",
            &[("by", "segment"), ("segment", "kahvila"), ("owner", "s2")],
        )
        .await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert_eq!(a.header("location").as_deref(), Some("/owners?assigned=1"));
        let a = page_as(&app, Role::Manager, "/owners?assigned=1", &[]).await;
        assert!(
            a.body.contains("Owner changed for 1 customers"),
            "{}",
            a.body
        );
        let c1 = app.store.customer("c1").await.unwrap().unwrap();
        assert!(!c1.get("owner_id").is_null());
        let mine = page_as(&app, Role::Manager, "/customers?owner=me", &[]).await;
        assert!(
            mine.body.contains("href=\"/customers/c1\""),
            "{}",
            mine.body
        );
        let audit = app
            .store
            .audit_page(&kanta_store::audit::AuditQuery {
                entity: Some("customers".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .0;
        let assigned: Vec<_> = audit
            .iter()
            .filter(|e| e.entry.action == "assign_owner")
            .collect();
        assert_eq!(assigned.len(), 1, "{backend}");
        assert_eq!(assigned[0].entry.details["selector"]["segment"], "kahvila");
    }
}

#[tokio::test]
async fn the_account_page_turns_the_weekly_digest_off() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = page_as(&app, Role::Staff, "/account", &[]).await;
        assert!(
            a.body.contains("id=\"digest-form\"") && a.body.contains("checked"),
            "{}",
            a.body
        );
        let user = app
            .store
            .user_by_email("staff@kanta.test")
            .await
            .unwrap()
            .unwrap();
        assert!(app.core.weekly_digest(user.id).await.unwrap());
        let a = post_form_as(&app, Role::Staff, "/account/digest", &[]).await;
        assert_eq!(a.status, 303, "{backend}: {}", a.body);
        assert!(!app.core.weekly_digest(user.id).await.unwrap(), "{backend}");
        let a = page_as(&app, Role::Staff, "/account?saved=digest", &[]).await;
        assert!(a.body.contains("Weekly digest setting saved"), "{}", a.body);
        let a = post_form_as(&app, Role::Staff, "/account/digest", &[("digest", "on")]).await;
        assert_eq!(a.status, 303);
        assert!(app.core.weekly_digest(user.id).await.unwrap());
        // Viewers get no digest and see no checkbox.
        let a = page_as(&app, Role::Viewer, "/account", &[]).await;
        assert!(!a.body.contains("digest-form"));
    }
}
