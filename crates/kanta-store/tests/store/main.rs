//! One storage story, run against SQLite and PostgreSQL alike.

use chrono::{TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{self, CUSTOMERS, ENTITIES, Entity, TRANSACTIONS, TRUST_LEDGER};
use kanta_store::audit::AuditEntry;
use kanta_store::records::{CustomerFilter, CustomerSort};
use kanta_store::testing::{BACKENDS, TestDb};
use kanta_store::write::RunInfo;
use kanta_store::{Store, StoreError, WriteBatch};

mod audit;
mod cases;
mod claims;
mod customer_list;
mod jobs;
mod outbox;
mod purchases;
mod retention;
mod scores;
mod settings;
mod subscriptions;
mod timeline;
mod trust;

pub(crate) fn fields(e: &'static Entity, names: &[&str]) -> Vec<&'static schema::Field> {
    names
        .iter()
        .map(|n| e.field(n).unwrap_or_else(|| panic!("{n}")))
        .collect()
}

pub(crate) fn t(day: u32) -> Value {
    Value::Time(Utc.with_ymd_and_hms(2024, 1, day, 12, 0, 0).unwrap())
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// An audit entry of the command line's user `tester`, with empty changes and details.
pub(crate) fn entry(entity: &str, action: &str) -> AuditEntry {
    AuditEntry {
        actor_kind: "cli".into(),
        actor_id: Some("tester".into()),
        actor_name: "tester".into(),
        channel: "cli".into(),
        entity: entity.into(),
        record_id: None,
        action: action.into(),
        changes: serde_json::json!({}),
        details: serde_json::json!({}),
        ip: None,
    }
}

/// Runs a statement on the store's database through a connection of its own, past the
/// store (what the store's API must refuse or cannot do).
pub(crate) async fn raw_execute(store: &Store, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::Executor;
    let url = store.url();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let n = pool.execute(sqlx::AssertSqlSafe(sql.to_string())).await;
        pool.close().await;
        Ok(n?.rows_affected())
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        let n = pool.execute(sqlx::AssertSqlSafe(sql.to_string())).await;
        pool.close().await;
        Ok(n?.rows_affected())
    }
}

/// The one integer a query past the store answers.
pub(crate) async fn raw_count(store: &Store, sql: &str) -> i64 {
    let url = store.url();
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

pub(crate) async fn each_backend<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        f(store.clone()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn tables_have_exactly_the_schema_columns() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url).await.unwrap();
        for e in ENTITIES {
            let mut expected: Vec<String> = ["id", "external_id", "created_at", "updated_at"]
                .iter()
                .map(|s| s.to_string())
                .chain(e.fields.iter().map(|f| f.column.to_string()))
                .chain(e.derived_columns().iter().map(|c| c.to_string()))
                .collect();
            expected.sort();
            let mut actual = store.columns(e.table).await.unwrap();
            actual.sort();
            assert_eq!(actual, expected, "{backend}: table {}", e.table);
        }
        // Opening again applies nothing new and keeps the data.
        store.close().await;
        Store::open(&db.url).await.unwrap().close().await;
    }
}

#[tokio::test]
async fn upserts_are_idempotent_and_count_what_changed() {
    each_backend(|store| async move {
        let mut b = WriteBatch::new(
            &CUSTOMERS,
            fields(&CUSTOMERS, &["name", "email", "segment"]),
        );
        b.push(
            "c1".into(),
            [text("Aino"), text("aino@example.fi"), text("regular")],
        );
        b.push("c2".into(), [text("Bertil"), Value::Null, text("regular")]);
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (2, 0, 0));
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (0, 0, 2));

        // A changed row updates its record; a file with fewer columns leaves the rest alone.
        let mut b = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["email"]));
        b.push("c2".into(), [text("bertil@example.fi")]);
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (0, 1, 0));
        let c2 = store.customer("c2").await.unwrap().unwrap();
        assert_eq!(c2.text("name"), Some("Bertil"));
        assert_eq!(c2.text("email"), Some("bertil@example.fi"));
        assert_eq!(
            c2.text("status"),
            Some("active"),
            "database default applies"
        );
        assert!(c2.updated_at >= c2.created_at);
    })
    .await;
}

/// A few rows naming existing ids (an API update) merge on PostgreSQL straight from
/// the JSON they are held in; a second such batch in the same write joins them in
/// the temporary stage. Either way every row lands, and the counts say what changed.
#[tokio::test]
async fn small_updates_merge_held_rows_and_a_second_batch_joins_a_stage() {
    each_backend(|store| async move {
        let f = fields(&CUSTOMERS, &["name", "segment"]);
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c1".into(), [text("Aino"), text("regular")]);
        b.push("c2".into(), [text("Bertil"), text("regular")]);
        store.write(&b).await.unwrap();

        // One batch: an update, an unchanged row and a new id.
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c1".into(), [text("Aino Virtanen"), text("regular")]);
        b.push("c2".into(), [text("Bertil"), text("regular")]);
        b.push("c3".into(), [text("Cecilia"), Value::Null]);
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (1, 1, 1));

        // Two batches in one write: the first held, the second turns both into a stage.
        let mut w = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c2".into(), [text("Bertil"), text("vip")]);
        w.write(b).await.unwrap();
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c3".into(), [text("Cecilia Ek"), Value::Null]);
        b.push("c4".into(), [text("Daniel"), text("vip")]);
        w.write(b).await.unwrap();
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (1, 2, 0));

        let name_segment = async |id: &str| {
            let c = store.customer(id).await.unwrap().unwrap();
            (
                c.text("name").map(str::to_string),
                c.text("segment").map(str::to_string),
            )
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            name_segment("c1").await,
            (some("Aino Virtanen"), some("regular"))
        );
        assert_eq!(name_segment("c2").await, (some("Bertil"), some("vip")));
        assert_eq!(name_segment("c3").await, (some("Cecilia Ek"), None));
        assert_eq!(name_segment("c4").await, (some("Daniel"), some("vip")));
    })
    .await;
}

/// An update of records read in its write's turn (`mark_present`, an API `PATCH`)
/// changes them and creates nothing: a record another process deleted meanwhile is
/// not brought back with only the fields the update carried.
#[tokio::test]
async fn records_known_to_exist_are_updated_and_never_created() {
    each_backend(|store| async move {
        let f = fields(&CUSTOMERS, &["name", "segment"]);
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c1".into(), [text("Aino"), text("regular")]);
        store.write(&b).await.unwrap();

        let mut w = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        w.mark_present(["c1".to_string(), "gone".to_string()]);
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c1".into(), [text("Aino Virtanen"), text("vip")]);
        b.push("gone".into(), [text("Ghost"), text("vip")]);
        assert!(w.all_present(&b));
        w.write(b).await.unwrap();
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!((s.inserted, s.updated, s.unchanged), (0, 1, 1));
        let c1 = store.customer("c1").await.unwrap().unwrap();
        assert_eq!(c1.text("name"), Some("Aino Virtanen"));
        assert_eq!(c1.text("segment"), Some("vip"));
        assert!(store.customer("gone").await.unwrap().is_none());

        // A batch with an id not marked is merged as any other: the new one is made.
        let mut w = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        w.mark_present(["c1".to_string()]);
        let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
        b.push("c1".into(), [text("Aino"), text("vip")]);
        b.push("c2".into(), [text("Bertil"), Value::Null]);
        assert!(!w.all_present(&b));
        w.write(b).await.unwrap();
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!((s.inserted, s.updated), (1, 1));
        assert!(store.customer("c2").await.unwrap().is_some());
    })
    .await;
}

/// An API create looks up its own id and the records it names in one statement
/// (`prefetch`); the lookups that follow are answered from it, a customer it found
/// absent is created by the write, and after the write it is found.
#[tokio::test]
async fn prefetched_ids_answer_the_lookups_until_the_next_batch() {
    each_backend(|store| async move {
        let mut b = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        b.push("c1".into(), [text("Aino")]);
        store.write(&b).await.unwrap();
        let c1 = store.customer("c1").await.unwrap().unwrap().id;

        let e = schema::entity("interactions").unwrap();
        let f = fields(e, &["customer_id", "occurred_at", "kind"]);
        let mut w = store.writer(e, f.clone()).await.unwrap();
        w.prefetch(&[
            (e, "i1".to_string()),
            (&CUSTOMERS, "c1".to_string()),
            (&CUSTOMERS, "c2".to_string()),
        ])
        .await
        .unwrap();
        assert!(w.known(e, &["i1".to_string()]).await.unwrap().is_empty());
        let found = w
            .known(&CUSTOMERS, &["c1".to_string(), "c2".to_string()])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found.get("c1"), Some(&c1));

        let at = Value::Time(Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap());
        let mut b = WriteBatch::new(e, f.clone());
        b.push("i1".into(), [text("c2"), at, text("call")]);
        b.create_customers = vec!["c2".into()];
        w.write(b).await.unwrap();
        // The write made c2: what the prefetch found absent no longer answers.
        let c2 = w.known(&CUSTOMERS, &["c2".to_string()]).await.unwrap();
        assert_eq!(c2.len(), 1, "{c2:?}");
        let s = w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!((s.inserted, s.customers_created), (1, 1));
        let i1 = store.get(e, "i1").await.unwrap().unwrap();
        assert_eq!(i1.text("customer_id"), Some("c2"));
        assert_eq!(store.customer("c2").await.unwrap().unwrap().id, c2["c2"]);
    })
    .await;
}

/// Shared writers (PostgreSQL) insert beside each other: two open at once, each adding
/// transactions of the same customer, and both sums land in the totals. One that
/// meets an existing id, or an id another shared writer inserted in the same moment,
/// fails as contention (to be made again by a writer alone). On SQLite a shared
/// writer is a writer alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_writers_insert_beside_each_other_and_leave_the_rest_to_a_writer_alone() {
    each_backend(|store| async move {
        let f = fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency"],
        );
        let order = |id: &str, customer: &str, day: u32, cents: i64| {
            let mut b = WriteBatch::new(&TRANSACTIONS, f.clone());
            b.create_customers = vec![customer.to_string()];
            b.push(
                id.to_string(),
                [text(customer), t(day), Value::Int(cents), text("EUR")],
            );
            b
        };
        store.write(&order("o1", "k1", 1, 1000)).await.unwrap();
        let revenue = async |id: &str| {
            let page = store.customers(&CustomerFilter::default()).await.unwrap();
            let c = page.customers.iter().find(|c| c.id == id);
            c.unwrap_or_else(|| panic!("no {id}")).revenue_minor
        };
        if !store.shares_writes() {
            // One writer at a time: a second would wait for the first.
            let mut a = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
            a.write(order("o2", "k1", 2, 5)).await.unwrap();
            a.finish(&RunInfo::default()).await.unwrap();
            assert_eq!(revenue("k1").await, 1005);
            return;
        }
        store.write(&order("o0", "k2", 1, 1100)).await.unwrap();
        let by_revenue = async || {
            let mut q = kanta_store::keyset::RecordQuery::new(&CUSTOMERS);
            q.sort = kanta_store::keyset::Sort::parse(&CUSTOMERS, "-revenue").unwrap();
            let page = store.list(&q).await.unwrap();
            page.items.into_iter().map(|r| r.external_id).collect::<Vec<_>>()
        };
        assert_eq!(by_revenue().await, ["k2", "k1"]);
        // Two open at once, both adding to k1.
        let mut a = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        let mut b = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        a.write(order("o2", "k1", 2, 200)).await.unwrap();
        b.write(order("o3", "k1", 3, 30)).await.unwrap();
        a.finish(&RunInfo::default()).await.unwrap();
        b.finish(&RunInfo::default()).await.unwrap();
        assert_eq!(revenue("k1").await, 1230);
        // The shared writers set k1's sort key themselves, and left the trigger that
        // sets it on any other change of revenue on for the transactions after them.
        assert_eq!(by_revenue().await, ["k1", "k2"]);
        for _ in 0..4 {
            raw_execute(
                &store,
                "UPDATE customers SET revenue_minor = revenue_minor + 1000 WHERE external_id = 'k2'",
            )
            .await
            .unwrap();
        }
        assert_eq!(by_revenue().await, ["k2", "k1"], "the trigger is on again");

        // An id the table holds is left to a writer alone.
        let mut c = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        let e = c.write(order("o1", "k1", 1, 1000)).await.unwrap_err();
        assert!(matches!(e, StoreError::Contended(_)), "{e}");
        drop(c);

        // The same new id from two shared writers at once: the second waits for the
        // first's commit, then fails on the unique index, as contention.
        let mut d = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        let mut e = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        d.write(order("o4", "k1", 4, 4)).await.unwrap();
        let same = order("o4", "k1", 4, 4);
        let second = tokio::spawn(async move {
            match e.write(same).await {
                Ok(()) => e.finish(&RunInfo::default()).await.map(|_| ()),
                Err(err) => Err(err),
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        d.finish(&RunInfo::default()).await.unwrap();
        let err = second.await.unwrap().unwrap_err();
        assert!(err.is_contention(), "{err}");
        assert_eq!(revenue("k1").await, 1234, "o4 counted once");

        // A customer another shared writer created in the meantime: contention too.
        let mut g = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        let mut h = store.shared_writer(&TRANSACTIONS, f.clone()).await.unwrap();
        g.write(order("o5", "k9", 5, 5)).await.unwrap();
        let other = order("o6", "k9", 6, 6);
        let second = tokio::spawn(async move { h.write(other).await });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        g.finish(&RunInfo::default()).await.unwrap();
        let err = second.await.unwrap().unwrap_err();
        assert!(err.is_contention(), "{err}");
        assert_eq!(revenue("k9").await, 5);
    })
    .await;
}

/// Writes cancelled while they wait for the write lock (their clients gone) leave
/// nothing behind: no pooled connection kept in a transaction holding the lock, and
/// the writes after them commit.
#[tokio::test]
async fn a_write_cancelled_while_it_waits_for_the_lock_leaves_no_transaction_open() {
    each_backend(|store| async move {
        if !store.shares_writes() {
            return;
        }
        let f = fields(&CUSTOMERS, &["name"]);
        let alone = store.writer(&CUSTOMERS, f.clone()).await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let (store, f) = (store.clone(), f.clone());
            waiting.push(tokio::spawn(async move {
                store.shared_writer(&CUSTOMERS, f).await.map(|_| ())
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for w in &waiting {
            w.abort();
        }
        for w in waiting {
            let _ = w.await;
        }
        drop(alone);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let writes = async {
            for i in 0..12 {
                let mut b = WriteBatch::new(&CUSTOMERS, f.clone());
                b.push(format!("c{i}"), [text("after")]);
                store.write(&b).await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), writes)
            .await
            .expect("writes after the cancelled ones wait for a lock nobody releases");
        assert_eq!(
            raw_count(
                &store,
                "SELECT count(*) FROM customers WHERE name = 'after'"
            )
            .await,
            12
        );
        assert_eq!(
            raw_count(
                &store,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'"
            )
            .await,
            0
        );
    })
    .await;
}

#[tokio::test]
async fn transactions_create_customers_and_show_on_the_timeline() {
    each_backend(|store| async move {
        let mut b = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency", "kind"],
            ),
        );
        b.create_customers = vec!["k1".into(), "k2".into()];
        b.push(
            "o1".into(),
            [
                text("k1"),
                t(3),
                Value::Int(1250),
                text("EUR"),
                text("order"),
            ],
        );
        b.push(
            "o2".into(),
            [
                text("k1"),
                t(1),
                Value::Int(990),
                text("EUR"),
                text("order"),
            ],
        );
        b.push(
            "o3".into(),
            [
                text("k2"),
                t(2),
                Value::Int(-500),
                text("EUR"),
                text("refund"),
            ],
        );
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.customers_created), (3, 2));
        let s = store.write(&b).await.unwrap();
        assert_eq!((s.inserted, s.unchanged, s.customers_created), (0, 3, 0));

        let k1 = store
            .customer("k1")
            .await
            .unwrap()
            .expect("created by its transactions");
        let mut tl = store.timeline_page(k1.id, None, 1000).await.unwrap().events;
        tl.reverse(); // oldest first
        let kinds: Vec<(String, String)> = tl
            .iter()
            .map(|e| (e.kind.clone(), e.record.external_id.clone()))
            .collect();
        assert_eq!(
            kinds,
            [("order".into(), "o2".into()), ("order".into(), "o1".into())]
        );
        assert_eq!(
            tl[0].record.text("customer_id"),
            Some("k1"),
            "references read back as external ids"
        );
        assert_eq!(tl[1].record.get("amount"), &Value::Int(1250));

        let counts = store.counts().await.unwrap();
        assert!(
            counts.contains(&("customers", 2)) && counts.contains(&("transactions", 3)),
            "{counts:?}"
        );

        let page = store
            .customers(&CustomerFilter {
                sort: CustomerSort::Revenue,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.customers[0].id, "k1");
        assert_eq!(page.customers[0].revenue_minor, 2240);
        assert_eq!(page.customers[0].transactions, 2);
        assert_eq!(
            page.customers[0].last_purchase_at,
            Some(Utc.with_ymd_and_hms(2024, 1, 3, 12, 0, 0).unwrap())
        );
    })
    .await;
}

#[tokio::test]
async fn a_missing_reference_writes_nothing() {
    each_backend(|store| async move {
        let mut b = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency"],
            ),
        );
        b.create_customers = vec!["known".into()];
        b.push(
            "o1".into(),
            [text("known"), t(1), Value::Int(100), text("EUR")],
        );
        b.push(
            "o2".into(),
            [text("ghost"), t(1), Value::Int(100), text("EUR")],
        );
        let err = store.write(&b).await.unwrap_err();
        assert!(matches!(err, StoreError::MissingRef { .. }), "{err}");
        assert!(err.to_string().contains("ghost"), "{err}");
        let counts = store.counts().await.unwrap();
        assert!(
            counts.iter().all(|(_, n)| *n == 0),
            "all or nothing: {counts:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_trust_ledger_is_append_only() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("c1".into(), [text("Aino")]);
        store.write(&c).await.unwrap();
        let f = fields(
            &TRUST_LEDGER,
            &["customer_id", "occurred_at", "delta", "reason"],
        );
        let mut b = WriteBatch::new(&TRUST_LEDGER, f.clone());
        b.push(
            "e1".into(),
            [text("c1"), t(1), Value::Int(1), text("coffee as promised")],
        );
        store.write(&b).await.unwrap();
        assert_eq!(
            store.write(&b).await.unwrap().unchanged,
            1,
            "same entry again is fine"
        );
        let mut changed = WriteBatch::new(&TRUST_LEDGER, f);
        changed.push(
            "e1".into(),
            [text("c1"), t(1), Value::Int(-10), text("rewritten")],
        );
        let err = store.write(&changed).await.unwrap_err();
        assert!(matches!(err, StoreError::AppendOnly), "{err}");
    })
    .await;
}

#[tokio::test]
async fn customer_list_filters_searches_and_pages() {
    each_backend(|store| async move {
        let mut b = WriteBatch::new(
            &CUSTOMERS,
            fields(&CUSTOMERS, &["name", "email", "segment", "status"]),
        );
        for i in 0..30 {
            b.push(
                format!("c{i:02}"),
                [
                    text(&format!("Asiakas {i:02}")),
                    text(&format!("a{i}@example.fi")),
                    text(if i % 3 == 0 { "vip" } else { "regular" }),
                    text(if i % 10 == 0 { "ended" } else { "active" }),
                ],
            );
        }
        b.push(
            "x".into(),
            [
                text("Älä <script>"),
                Value::Null,
                Value::Null,
                text("active"),
            ],
        );
        store.write(&b).await.unwrap();
        let all = |f: CustomerFilter| {
            let store = store.clone();
            async move { store.customers(&f).await.unwrap() }
        };
        let p = all(CustomerFilter {
            segment: Some("vip".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(p.total, 10);
        let p = all(CustomerFilter {
            status: Some("ended".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(p.total, 3);
        let p = all(CustomerFilter {
            search: Some("ASIAKAS 1".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(p.total, 10, "case-insensitive part of the name");
        let p = all(CustomerFilter {
            search: Some("a7@".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(p.customers.len(), 1);
        assert_eq!(p.customers[0].id, "c07");
        let p1 = all(CustomerFilter {
            limit: 20,
            ..Default::default()
        })
        .await;
        let p2 = all(CustomerFilter {
            limit: 20,
            offset: 20,
            ..Default::default()
        })
        .await;
        assert_eq!(
            (p1.customers.len(), p2.customers.len(), p1.total),
            (20, 11, 31)
        );
        assert_eq!(p1.customers[0].name.as_deref(), Some("Asiakas 00"));
        assert_eq!(
            p2.customers.last().unwrap().name.as_deref(),
            Some("Älä <script>")
        );
    })
    .await;
}

/// PostgreSQL compiles no statement with JIT (its thresholds took a few thousand rows'
/// write for a long query, and the compile cost more than the statement), unless the
/// URL asks for it.
#[tokio::test]
async fn postgres_connections_run_without_jit_unless_the_url_asks() {
    let db = TestDb::new("postgres");
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let asked = format!("{}{sep}options=-c%20jit%3Don", db.url);
    for (url, jit) in [(db.url.as_str(), "off"), (asked.as_str(), "on")] {
        let store = Store::open(url).await.unwrap();
        assert_eq!(
            kanta_store::testing::postgres_setting(&store, "jit")
                .await
                .as_deref(),
            Some(jit),
            "{url}"
        );
        store.close().await;
    }
}

/// With autovacuum off, `kanta serve` calls `vacuum_due` every minute: it vacuums and
/// analyses exactly the tables autovacuum's default rule would (here one table with
/// 900 dead rows of 1,000), leaves them clean, then finds nothing due; it does nothing
/// while another process holds its lock, and nothing on SQLite.
#[tokio::test]
async fn vacuum_due_takes_the_dead_rows_autovacuum_would() {
    use sqlx::Connection;
    let sqlite = TestDb::new("sqlite");
    let store = Store::open(&sqlite.url).await.unwrap();
    assert!(!store.autovacuum_off().await.unwrap());
    assert!(store.vacuum_due().await.unwrap().is_empty());
    store.close().await;

    let db = TestDb::new("postgres");
    let store = Store::open(&db.url).await.unwrap();
    let stats = |sql: &'static str| {
        let url = db.url.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let v: Option<i64> = sqlx::query_scalar(sql)
                .fetch_optional(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            v
        }
    };
    let dead = "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'vacuum_probe'";
    // Whatever migrations left due first, so that the probe is the only table due.
    store.vacuum_due().await.unwrap();
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    for sql in [
        "CREATE TABLE vacuum_probe (id INT)",
        "INSERT INTO vacuum_probe SELECT generate_series(1, 1000)",
        "DELETE FROM vacuum_probe WHERE id > 100",
        "SELECT pg_stat_force_next_flush()",
    ] {
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
    let mut seen = None;
    for _ in 0..100 {
        seen = stats(dead).await;
        if seen == Some(900) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, Some(900), "the probe's dead rows in the statistics");

    // Another process holds the lock: this one leaves the work to it.
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(kanta_store::VACUUM_LOCK)
        .execute(&mut other)
        .await
        .unwrap();
    assert!(store.vacuum_due().await.unwrap().is_empty());
    other.close().await.unwrap();

    let done = store.vacuum_due().await.unwrap();
    assert!(done.contains(&"vacuum_probe".to_string()), "{done:?}");
    assert_eq!(stats(dead).await, Some(0));
    assert!(
        stats("SELECT CAST(1 AS BIGINT) FROM pg_stat_user_tables WHERE relname = 'vacuum_probe' AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL")
            .await
            .is_some()
    );
    let again = store.vacuum_due().await.unwrap();
    assert!(!again.contains(&"vacuum_probe".to_string()), "{again:?}");
    store.close().await;
}
