//! What the core's tests share: a throw-away store per backend, the audit log and
//! the record counts as the store has them, values and actors.
#![allow(dead_code)] // a helper for every test file; each uses part of it

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use kanta_core::Core;
use kanta_domain::Value;
use kanta_domain::schema::{Entity, Field};
use kanta_store::Store;
use kanta_store::audit::{AuditQuery, AuditRecord};
use kanta_store::testing::{BACKENDS, TestDb};

/// Runs `f` on a fresh store of each backend, naming the backend. A second store on
/// the same database: `Store::open(store.url())`.
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(&'static str, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        f(backend, store.clone()).await;
        store.close().await;
    }
}

/// Runs `f` with a core over a fresh store of each backend.
pub async fn each_core<F, Fut>(f: F)
where
    F: Fn(&'static str, Core) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend(|backend, store| f(backend, Core::new(store))).await;
}

/// Every audit entry, oldest first.
pub async fn audit_log(store: &Store) -> Vec<AuditRecord> {
    let (mut items, next) = store
        .audit_page(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(next.is_none(), "more audit entries than a test writes");
    items.reverse();
    items
}

/// The audit entries of one action, oldest first.
pub async fn audit_of(store: &Store, action: &str) -> Vec<AuditRecord> {
    audit_log(store)
        .await
        .into_iter()
        .filter(|r| r.entry.action == action)
        .collect()
}

/// How many records the entity has.
pub async fn count(store: &Store, e: &Entity) -> i64 {
    store
        .counts()
        .await
        .unwrap()
        .into_iter()
        .find(|(name, _)| *name == e.name)
        .map(|(_, n)| n)
        .unwrap()
}

/// Every record count is zero.
pub async fn assert_empty(store: &Store, what: &str) {
    let counts = store.counts().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "{what}: {counts:?}");
}

pub fn fields(e: &'static Entity, names: &[&str]) -> Vec<&'static Field> {
    names
        .iter()
        .map(|n| {
            e.field(n)
                .unwrap_or_else(|| panic!("{}: no field {n}", e.name))
        })
        .collect()
}

/// Every field of `e` in schema order, `given` ones set, the rest null.
pub fn all_fields(e: &'static Entity, given: &[(&str, Value)]) -> Vec<Value> {
    for (n, _) in given {
        assert!(e.field(n).is_some(), "{}: no field {n}", e.name);
    }
    e.fields
        .iter()
        .map(|f| {
            given
                .iter()
                .find(|(n, _)| *n == f.name)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null)
        })
        .collect()
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

pub fn time(y: i32, m: u32, d: u32) -> Value {
    Value::Time(at(y, m, d))
}

/// Polls `check` until it gives a value or `limit` passes (then panics with `what`).
pub async fn eventually<T, Fut>(limit: Duration, what: &str, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mail-sending jobs (`mail.send`), newest first. Tests that wait for the mail
/// to settle look at these alone: on a Monday (store time) the workers' scheduler also
/// queues the week's digest and thanks for later in the day.
pub async fn mail_jobs(store: &Store) -> Vec<kanta_store::jobs::Job> {
    store
        .jobs(None, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kanta_core::jobs::MAIL_SEND)
        .collect()
}
