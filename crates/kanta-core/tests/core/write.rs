//! The one write path: each write audited in its own transaction with its actor,
//! only changed fields recorded, the reference policy applied, roles enforced, and
//! an unfinished write leaving nothing behind.

use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, INTERACTIONS, STAFF, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;
use kanta_store::accounts::Role;
use serde_json::json;

use crate::support::{all_fields, assert_empty, audit_log, count, each_core, fields, text, time};

fn customer(name: &str, email: &str) -> Vec<Value> {
    all_fields(
        &CUSTOMERS,
        &[
            ("kind", text("person")),
            ("name", text(name)),
            ("email", text(email)),
            ("survey_consent", Value::Bool(true)),
            ("acquired_on", Value::Date("2023-05-01".parse().unwrap())),
            ("acquisition_cost", Value::Int(1250)),
            ("currency", text("EUR")),
            ("status", text("active")),
            ("let_lapse", Value::Bool(false)),
            ("do_not_contact", Value::Bool(false)),
        ],
    )
}

fn order(customer: &str, day: u32, amount: i64) -> Vec<Value> {
    all_fields(
        &TRANSACTIONS,
        &[
            ("customer_id", text(customer)),
            ("occurred_at", time(2024, 3, day)),
            ("amount", Value::Int(amount)),
            ("currency", text("EUR")),
            ("kind", text(if amount < 0 { "refund" } else { "order" })),
        ],
    )
}

fn staff_member() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

#[tokio::test]
async fn a_created_record_is_audited_with_its_fields_and_actor() {
    each_core(|backend, core| async move {
        let store = core.store();
        let acting = Acting::token(7, "web shop", Role::Staff).from_ip(Some("10.1.2.3".into()));
        let r = core
            .create_record(
                &acting,
                &CUSTOMERS,
                "c1",
                customer("Aino", "aino@example.fi"),
            )
            .await
            .unwrap();
        assert_eq!(r.external_id, "c1");
        assert_eq!(r.text("name"), Some("Aino"));
        assert_eq!(
            store.customer("c1").await.unwrap().unwrap().text("email"),
            Some("aino@example.fi")
        );

        let log = audit_log(store).await;
        assert_eq!(log.len(), 1, "{backend}: {log:?}");
        let e = &log[0].entry;
        assert_eq!(
            (e.action.as_str(), e.entity.as_str(), e.record_id.as_deref()),
            ("create", "customers", Some("c1")),
            "{backend}"
        );
        assert_eq!(
            (
                e.actor_kind.as_str(),
                e.actor_id.as_deref(),
                e.actor_name.as_str()
            ),
            ("token", Some("7"), "web shop"),
            "{backend}"
        );
        assert_eq!(e.channel, "api");
        assert_eq!(e.ip.as_deref(), Some("10.1.2.3"));
        let created = |v: serde_json::Value| json!({ "before": null, "after": v });
        assert_eq!(
            e.changes,
            json!({
                "kind": created(json!("person")),
                "name": created(json!("Aino")),
                "email": created(json!("aino@example.fi")),
                "survey_consent": created(json!(true)),
                "acquired_on": created(json!("2023-05-01")),
                "acquisition_cost": created(json!(1250)),
                "currency": created(json!("EUR")),
                "status": created(json!("active")),
                "let_lapse": created(json!(false)),
                "do_not_contact": created(json!(false)),
            }),
            "{backend}: every field given, none left null"
        );

        // The same id again is a conflict: nothing written, nothing audited.
        let again = core
            .create_record(
                &acting,
                &CUSTOMERS,
                "c1",
                customer("Other", "other@example.fi"),
            )
            .await;
        assert!(
            matches!(again, Err(CoreError::Conflict { .. })),
            "{backend}: {again:?}"
        );
        assert_eq!(
            store.customer("c1").await.unwrap().unwrap().text("name"),
            Some("Aino")
        );
        assert_eq!(audit_log(store).await.len(), 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn an_update_records_only_the_changed_fields() {
    each_core(|backend, core| async move {
        let store = core.store();
        core.create_record(
            &Acting::cli(),
            &CUSTOMERS,
            "c1",
            customer("Aino", "aino@example.fi"),
        )
        .await
        .unwrap();
        let before = store.customer("c1").await.unwrap().unwrap();

        let acting = staff_member();
        let f = fields(&CUSTOMERS, &["name", "email", "segment", "survey_consent"]);
        let r = core
            .update_record(
                &acting,
                &CUSTOMERS,
                "c1",
                f.clone(),
                vec![
                    text("Aino Virtanen"),
                    text("aino@example.fi"),
                    text("vip"),
                    Value::Bool(true),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.text("name"), Some("Aino Virtanen"));
        assert_eq!(r.text("segment"), Some("vip"));
        assert_eq!(r.text("status"), Some("active"), "fields not given stay");

        let log = audit_log(store).await;
        assert_eq!(log.len(), 2, "{backend}: {log:?}");
        let e = &log[1].entry;
        assert_eq!(
            (e.action.as_str(), e.entity.as_str(), e.record_id.as_deref()),
            ("update", "customers", Some("c1"))
        );
        assert_eq!(
            (
                e.actor_kind.as_str(),
                e.actor_id.as_deref(),
                e.actor_name.as_str(),
                e.channel.as_str()
            ),
            ("user", Some("3"), "sanna@example.fi", "ui")
        );
        assert_eq!(
            e.changes,
            json!({
                "name": { "before": "Aino", "after": "Aino Virtanen" },
                "segment": { "before": null, "after": "vip" },
            }),
            "{backend}: only what changed"
        );

        // The same values again: nothing written, no entry.
        let updated = store.customer("c1").await.unwrap().unwrap();
        let same = core
            .update_record(
                &acting,
                &CUSTOMERS,
                "c1",
                f,
                vec![
                    text("Aino Virtanen"),
                    text("aino@example.fi"),
                    text("vip"),
                    Value::Bool(true),
                ],
            )
            .await
            .unwrap();
        assert_eq!(same.updated_at, updated.updated_at, "{backend}");
        assert!(updated.updated_at >= before.updated_at);
        // Every kind of value read back compares equal to itself: dates, money,
        // booleans, codes.
        let all: Vec<_> = CUSTOMERS.fields.iter().collect();
        let values: Vec<Value> = all.iter().map(|f| updated.get(f.name).clone()).collect();
        core.update_record(&acting, &CUSTOMERS, "c1", all, values)
            .await
            .unwrap();
        assert_eq!(
            audit_log(store).await.len(),
            2,
            "{backend}: no change, no entry"
        );

        // Clearing a field is a change to null.
        core.update_record(
            &acting,
            &CUSTOMERS,
            "c1",
            fields(&CUSTOMERS, &["segment"]),
            vec![Value::Null],
        )
        .await
        .unwrap();
        let log = audit_log(store).await;
        assert_eq!(log.len(), 3);
        assert_eq!(
            log[2].entry.changes,
            json!({ "segment": { "before": "vip", "after": null } })
        );

        // A transaction's time and money read back unchanged, too.
        core.create_record(&acting, &TRANSACTIONS, "o1", order("c1", 5, 1990))
            .await
            .unwrap();
        let tx_fields: Vec<_> = TRANSACTIONS.fields.iter().collect();
        let o1 = store.get(&TRANSACTIONS, "o1").await.unwrap().unwrap();
        let values: Vec<Value> = tx_fields.iter().map(|f| o1.get(f.name).clone()).collect();
        core.update_record(&acting, &TRANSACTIONS, "o1", tx_fields, values)
            .await
            .unwrap();
        assert_eq!(
            audit_log(store).await.len(),
            4,
            "{backend}: the create only"
        );

        // A record that does not exist is not found.
        let missing = core
            .update_record(
                &acting,
                &CUSTOMERS,
                "nobody",
                fields(&CUSTOMERS, &["name"]),
                vec![text("X")],
            )
            .await;
        assert!(
            matches!(missing, Err(CoreError::NotFound(_))),
            "{missing:?}"
        );
        assert_eq!(count(store, &CUSTOMERS).await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_missing_staff_member_is_refused_by_field() {
    each_core(|backend, core| async move {
        let store = core.store();
        let acting = staff_member();
        core.create_record(
            &acting,
            &CUSTOMERS,
            "c1",
            customer("Aino", "aino@example.fi"),
        )
        .await
        .unwrap();
        let call_by = |staff: Value| {
            all_fields(
                &INTERACTIONS,
                &[
                    ("customer_id", text("c1")),
                    ("occurred_at", time(2024, 3, 1)),
                    ("kind", text("call")),
                    ("staff_id", staff),
                ],
            )
        };
        let call = |staff: &str| call_by(text(staff));
        let err = core
            .create_record(&acting, &INTERACTIONS, "i1", call("ghost"))
            .await
            .unwrap_err();
        let CoreError::Invalid(problems) = &err else {
            panic!("{backend}: {err:?}");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "staff_id");
        assert!(problems[0].reason.contains("ghost"), "{problems:?}");
        assert_eq!(count(store, &INTERACTIONS).await, 0, "{backend}");
        assert_eq!(
            audit_log(store).await.len(),
            1,
            "{backend}: the customer's entry only"
        );

        // A customer that does not exist is refused the same way (interactions do
        // not create customers).
        let mut to_nobody = call("ghost");
        to_nobody[0] = text("nobody");
        let err = core
            .create_record(&acting, &INTERACTIONS, "i1", to_nobody)
            .await
            .unwrap_err();
        let CoreError::Invalid(problems) = &err else {
            panic!("{backend}: {err:?}");
        };
        let mut named: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        named.sort();
        assert_eq!(named, ["customer_id", "staff_id"], "{problems:?}");
        assert_eq!(count(store, &CUSTOMERS).await, 1);

        // A batch naming a missing staff member is refused whole, by row.
        let mut b = WriteBatch::new(&INTERACTIONS, INTERACTIONS.fields.iter().collect());
        b.push("i2".into(), call_by(Value::Null));
        b.push("i3".into(), call("ghost"));
        let err = core.write_batch(&acting, b).await.unwrap_err();
        let CoreError::Invalid(problems) = &err else {
            panic!("{backend}: {err:?}");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            (problems[0].index, problems[0].field.as_str()),
            (Some(1), "staff_id")
        );
        assert_eq!(
            count(store, &INTERACTIONS).await,
            0,
            "{backend}: all or nothing"
        );

        // Once the staff member exists (a manager's write), the call is written.
        let manager = Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui);
        core.create_record(
            &manager,
            &STAFF,
            "ghost",
            all_fields(
                &STAFF,
                &[("name", text("Kaspar")), ("active", Value::Bool(true))],
            ),
        )
        .await
        .unwrap();
        let r = core
            .create_record(&acting, &INTERACTIONS, "i1", call("ghost"))
            .await
            .unwrap();
        assert_eq!(r.text("staff_id"), Some("ghost"));
        // And an update to a missing one is refused.
        let err = core
            .update_record(
                &acting,
                &INTERACTIONS,
                "i1",
                fields(&INTERACTIONS, &["staff_id"]),
                vec![text("nobody")],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CoreError::Invalid(p) if p[0].field == "staff_id"),
            "{backend}: {err:?}"
        );
        let i1 = store.get(&INTERACTIONS, "i1").await.unwrap().unwrap();
        assert_eq!(i1.text("staff_id"), Some("ghost"));
        assert_eq!(audit_log(store).await.len(), 3, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_transaction_creates_its_missing_customer() {
    each_core(|backend, core| async move {
        let store = core.store();
        let acting = staff_member();
        core.create_record(&acting, &TRANSACTIONS, "o1", order("new-one", 1, 1500))
            .await
            .unwrap();
        let c = store.customer("new-one").await.unwrap();
        assert!(c.is_some(), "{backend}: the policy creates the customer");
        assert_eq!(count(store, &CUSTOMERS).await, 1);
        let log = audit_log(store).await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(
            (log[0].entry.action.as_str(), log[0].entry.entity.as_str()),
            ("create", "transactions")
        );

        // In a batch too.
        let mut b = WriteBatch::new(&TRANSACTIONS, TRANSACTIONS.fields.iter().collect());
        b.push("o2".into(), order("new-one", 2, 100));
        b.push("o3".into(), order("new-two", 3, 200));
        let s = core.write_batch(&acting, b).await.unwrap();
        assert_eq!((s.inserted, s.customers_created), (2, 1), "{backend}");
        assert_eq!(count(store, &CUSTOMERS).await, 2);

        // Emptying a column the store keeps non-empty is the field's problem.
        let e = core
            .update_record(
                &acting,
                &TRANSACTIONS,
                "o1",
                fields(&TRANSACTIONS, &["currency"]),
                vec![Value::Null],
            )
            .await;
        match e {
            Err(CoreError::Invalid(p)) => {
                assert_eq!(p[0].field, "currency", "{backend}: {p:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_is_audited_as_one_entry() {
    each_core(|backend, core| async move {
        let store = core.store();
        let mut b = WriteBatch::new(&TRANSACTIONS, TRANSACTIONS.fields.iter().collect());
        b.source = "demo".into();
        b.push("o1".into(), order("c1", 1, 1000));
        b.push("o2".into(), order("c1", 2, 2000));
        b.push("o3".into(), order("c2", 3, -500));
        let s = core.write_batch(&Acting::cli(), b).await.unwrap();
        assert_eq!(
            (s.inserted, s.updated, s.unchanged, s.customers_created),
            (3, 0, 0, 2)
        );
        assert_eq!(count(store, &TRANSACTIONS).await, 3);

        let log = audit_log(store).await;
        assert_eq!(log.len(), 1, "{backend}: one entry for the batch: {log:?}");
        let e = &log[0].entry;
        assert_eq!(
            (e.action.as_str(), e.entity.as_str(), e.record_id.as_deref()),
            ("import", "transactions", None)
        );
        assert_eq!((e.actor_kind.as_str(), e.channel.as_str()), ("cli", "cli"));
        assert_eq!(e.details["source"], json!("demo"));
        assert_eq!(e.details["rows"], json!(3));
        assert_eq!(e.details["inserted"], json!(3));
        assert_eq!(e.details["customers_created"], json!(2));

        // The same batch again changes nothing, and says so.
        let mut b = WriteBatch::new(&TRANSACTIONS, TRANSACTIONS.fields.iter().collect());
        b.push("o1".into(), order("c1", 1, 1000));
        b.push("o2".into(), order("c1", 2, 2500));
        let s = core.write_batch(&Acting::cli(), b).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (0, 1, 1));
        let log = audit_log(store).await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].entry.details["updated"], json!(1));
        assert_eq!(log[1].entry.details["unchanged"], json!(1));
    })
    .await;
}

#[tokio::test]
async fn a_viewer_may_not_write() {
    each_core(|backend, core| async move {
        let store = core.store();
        let viewer = Acting::token(1, "t", Role::Viewer);
        let r = core
            .create_record(
                &viewer,
                &CUSTOMERS,
                "c1",
                customer("Aino", "aino@example.fi"),
            )
            .await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );
        let mut b = WriteBatch::new(&TRANSACTIONS, TRANSACTIONS.fields.iter().collect());
        b.push("o1".into(), order("c1", 1, 1000));
        let r = core.write_batch(&viewer, b).await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );
        assert!(matches!(
            core.begin_write(&viewer, &CUSTOMERS, Vec::new()).await,
            Err(CoreError::Forbidden(_))
        ));
        // Someone signed in with no role (a failed sign-in) cannot either.
        let anon = Acting::anonymous("x@example.fi", Channel::Ui);
        assert!(matches!(
            core.begin_write(&anon, &CUSTOMERS, Vec::new()).await,
            Err(CoreError::Forbidden(_))
        ));

        core.create_record(
            &Acting::cli(),
            &CUSTOMERS,
            "c1",
            customer("Aino", "aino@example.fi"),
        )
        .await
        .unwrap();
        let r = core
            .update_record(
                &viewer,
                &CUSTOMERS,
                "c1",
                fields(&CUSTOMERS, &["name"]),
                vec![text("Hacked")],
            )
            .await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );
        // The staff register needs a manager.
        let r = core
            .create_record(
                &staff_member(),
                &STAFF,
                "s1",
                all_fields(&STAFF, &[("name", text("Kaspar"))]),
            )
            .await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );

        assert_eq!(
            store.customer("c1").await.unwrap().unwrap().text("name"),
            Some("Aino")
        );
        assert_eq!(
            count(store, &TRANSACTIONS).await + count(store, &STAFF).await,
            0
        );
        assert_eq!(
            audit_log(store).await.len(),
            1,
            "{backend}: the cli's create only"
        );
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_write_leaves_nothing() {
    each_core(|backend, core| async move {
        let store = core.store();
        let acting = staff_member();
        let f: Vec<_> = TRANSACTIONS.fields.iter().collect();
        let mut tx = core
            .begin_write(&acting, &TRANSACTIONS, f.clone())
            .await
            .unwrap();
        let mut b = WriteBatch::new(&TRANSACTIONS, f.clone());
        b.create_customers = vec!["c1".into()];
        b.push("o1".into(), order("c1", 1, 1000));
        b.push("o2".into(), order("c1", 2, 2000));
        tx.write(b).await.unwrap();
        let entry = acting.audit("transactions", None, "import");
        tx.writer_mut().audit(&entry).await.unwrap();
        drop(tx);

        assert_empty(store, backend).await;
        assert!(audit_log(store).await.is_empty(), "{backend}: no entry");

        // The write turn was given back: the next write goes through, alone.
        let mut b = WriteBatch::new(&TRANSACTIONS, f);
        b.push("o3".into(), order("c2", 3, 300));
        core.write_batch(&acting, b).await.unwrap();
        assert_eq!(count(store, &TRANSACTIONS).await, 1, "{backend}");
        assert!(store.get(&TRANSACTIONS, "o1").await.unwrap().is_none());
        assert!(store.customer("c1").await.unwrap().is_none());
        assert_eq!(audit_log(store).await.len(), 1);
    })
    .await;
}

/// Writes of one core take turns: many at once all land, each with its entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_take_turns() {
    each_core(|backend, core| async move {
        let mut tasks = Vec::new();
        for i in 0..8u32 {
            let core: Core = core.clone();
            tasks.push(tokio::spawn(async move {
                let acting =
                    Acting::user(i64::from(i), "sanna@example.fi", Role::Staff, Channel::Ui);
                core.create_record(
                    &acting,
                    &TRANSACTIONS,
                    &format!("o{i}"),
                    order("shared", i + 1, 100),
                )
                .await
                .map(|_| ())
            }));
        }
        for t in tasks {
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
        }
        assert_eq!(count(core.store(), &TRANSACTIONS).await, 8);
        assert_eq!(count(core.store(), &CUSTOMERS).await, 1);
        assert_eq!(audit_log(core.store()).await.len(), 8);
    })
    .await;
}

/// `what` finished within 20 s, and did not fail.
async fn within<T>(what: &str, f: impl std::future::Future<Output = Result<T, CoreError>>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what} waited for a second connection"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Every write use case works on a store with ONE pooled connection: inside a write's
/// transaction nothing reads through the pool. (On SQLite the pool's other connections
/// may all be waiting for the write lock that transaction holds: a read through the
/// pool there would wait for ever. Under load that stalled every write for the busy
/// timeout.)
#[tokio::test]
async fn writes_need_no_second_connection() {
    use kanta_core::import::ImportRequest;
    let db = kanta_store::testing::TestDb::sqlite();
    let store = Store::open_with_connections(&db.url, Some(1))
        .await
        .unwrap();
    let core = Core::new(store.clone());
    let acting = Acting::cli();
    within(
        "create_record",
        core.create_record(
            &acting,
            &CUSTOMERS,
            "c1",
            customer("Aino", "aino@example.fi"),
        ),
    )
    .await;
    within(
        "create_record of a transaction",
        core.create_record(&acting, &TRANSACTIONS, "o1", order("c2", 5, 1990)),
    )
    .await;
    let segment = fields(&CUSTOMERS, &["segment"]);
    within(
        "update_record",
        core.update_record(&acting, &CUSTOMERS, "c1", segment, vec![text("vip")]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.csv");
    std::fs::write(
        &file,
        "id,customer_id,occurred_at,amount\no2,c1,2024-01-02,5.00\no3,c3,2024-01-03,7.00\n",
    )
    .unwrap();
    let req = ImportRequest {
        file: file.clone(),
        options: kanta_import::ImportOptions {
            entity: &TRANSACTIONS,
            format: None,
            delimiter: None,
            has_header: true,
            mapping: Default::default(),
            date_format: None,
            currency: kanta_domain::Currency::EUR,
            zone: kanta_domain::time::Tz::UTC,
        },
        skip_invalid: false,
        rejects_file: None,
        dry_run: false,
    };
    let out = within(
        "import_file",
        core.import_file(&Acting::import("t.csv"), &req, Box::new(|_, _| {})),
    )
    .await;
    assert_eq!(out.summary.inserted, 2);
    within(
        "set_store_setting",
        core.set_store_setting(&acting, "currency", "SEK"),
    )
    .await;
    let mail = kanta_core::mail::Message {
        to: "a@example.fi".into(),
        subject: "s".into(),
        text: "t".into(),
        html: None,
    };
    within("queue_mail", core.queue_mail(&acting, "k1", &mail)).await;
    assert_eq!(audit_log(&store).await.len(), 6);
}
