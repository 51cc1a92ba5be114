//! Two instances over one database, as two `kanta serve` processes would run: each has
//! its own store (its own connection pool), its own core (its own write turn) and its
//! own server on 127.0.0.1:0. Both are sent a POST creating the same new id at the same
//! moment (each its own values); one must answer 201 and the other 409, never 500 nor
//! two 201s, and the store must hold the record once, with the values of the POST that
//! answered 201 (one `create` in the audit log, a transaction counted once in its
//! customer's figures). On both backends, 20 rounds with fresh ids each; every bad round
//! is listed, with the errors the servers logged.
//!
//! Batches of events sent at the same moment (`concurrent_event_batches_*`): new
//! events, the same events again and events naming the same new customers, over both
//! instances; each event stored once and every customer's figures as if the batches
//! had come one by one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use kanta_core::Core;
use kanta_domain::schema::{CUSTOMERS, TRANSACTIONS};
use kanta_store::Store;
use kanta_store::accounts::Role;
use kanta_store::audit::AuditQuery;
use kanta_store::testing::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

use super::add_users;

const ROUNDS: usize = 20;

/// Two servers over one database, and an admin token both accept.
struct Pair {
    addrs: [SocketAddr; 2],
    token: String,
    /// A third pool on the database, for checking what was written.
    store: Store,
    _db: TestDb,
}

/// Starts two apps over one fresh database holding the customer `c1`.
async fn two_instances(backend: &str) -> Pair {
    let db = TestDb::new(backend);
    let mut addrs = Vec::new();
    let mut token = None;
    for _ in 0..2 {
        // Each instance opens the store itself: its own pool, as a process would.
        let store = Store::open(&db.url).await.expect("store");
        let core = Core::new(store);
        if token.is_none() {
            // Users and tokens live in the database: both instances accept them.
            let (tokens, _) = add_users(&core).await;
            token = Some(tokens[&Role::Admin].clone());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = kanta_web::serve(listener, core).await;
        });
    }
    let pair = Pair {
        addrs: [addrs[0], addrs[1]],
        token: token.unwrap(),
        store: Store::open(&db.url).await.expect("store"),
        _db: db,
    };
    let a = call(
        pair.addrs[0],
        &pair.token,
        "POST",
        "/api/v1/customers",
        &json!({"id": "c1", "name": "Aino Virtanen"}).to_string(),
    )
    .await;
    assert_eq!(a.0, 201, "{backend}: {}", a.1);
    pair
}

/// One request over a new connection: (status, body).
async fn call(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(token, method, path, body).as_bytes())
        .await
        .unwrap();
    answer(&mut s).await
}

fn request(token: &str, method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn answer(s: &mut tokio::net::TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head[9..12].parse().unwrap(), body.to_string())
}

/// Sends `bodies[i]` to `path` on instance `i`, both at the same moment (see
/// [`race_all`]). Answers (status, body) in instance order.
async fn race(pair: &Pair, path: &str, bodies: [String; 2]) -> Vec<(u16, String)> {
    let requests = bodies.into_iter().enumerate().collect::<Vec<_>>();
    race_all(pair, path, requests).await
}

/// POSTs each `(instance, body)` to `path`, all at the same moment: each request is
/// written but for its last byte, all wait at a barrier, then the last bytes go.
/// Answers (status, body) in the requests' order.
async fn race_all(pair: &Pair, path: &str, requests: Vec<(usize, String)>) -> Vec<(u16, String)> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let mut tasks = Vec::new();
    for (instance, body) in requests {
        let req = request(&pair.token, "POST", path, &body).into_bytes();
        let addr = pair.addrs[instance];
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let (head, last) = req.split_at(req.len() - 1);
            s.write_all(head).await.unwrap();
            barrier.wait().await;
            s.write_all(last).await.unwrap();
            answer(&mut s).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// What was wrong with one round's answers, if anything: they must be exactly one 201
/// and one 409 naming the field `id`.
fn wrong(answers: &[(u16, String)]) -> Option<String> {
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    statuses.sort_unstable();
    if statuses != [201, 409] {
        return Some(format!("statuses {statuses:?}: {answers:?}"));
    }
    let conflict = answers.iter().find(|a| a.0 == 409).unwrap();
    let problem: Value = serde_json::from_str(&conflict.1).unwrap_or(Value::Null);
    (problem["field"] != "id").then(|| format!("the 409 names no field id: {}", conflict.1))
}

/// Fails with every bad round and the servers' logged errors, when there was one.
fn assert_all_rounds(what: &str, bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{what}: {} of {ROUNDS} rounds were not one 201 and one 409:\n{}\nserver log errors:\n{}",
        bad.len(),
        bad.join("\n"),
        logged_errors().join("\n")
    );
}

/// How many `create` entries the audit log has for one record.
async fn creates(store: &Store, entity: &str, id: &str) -> usize {
    let (entries, _) = store
        .audit_page(&AuditQuery {
            entity: Some(entity.into()),
            record_id: Some(id.into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    entries
        .iter()
        .filter(|e| e.entry.action == "create")
        .count()
}

/// The record as instance 0 answers it now.
async fn fetch(pair: &Pair, path: &str) -> Value {
    let (status, text) = call(pair.addrs[0], &pair.token, "GET", path, "").await;
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Both instances POST the same new customer id, `ROUNDS` times, each with its own
/// name: the stored name must be the one whose POST answered 201.
async fn same_customer(backend: &str) {
    capture_errors();
    let pair = two_instances(backend).await;
    let mut bad = Vec::new();
    for round in 0..ROUNDS {
        let id = format!("same-{round}");
        let bodies = [0, 1].map(|i| {
            json!({"id": id, "name": format!("Round {round} by instance {i}"), "segment": "kahvila"})
                .to_string()
        });
        let answers = race(&pair, "/api/v1/customers", bodies).await;
        let mut problems = Vec::new();
        if let Some(w) = wrong(&answers) {
            problems.push(w);
        }
        let ids = pair
            .store
            .existing_ids(&CUSTOMERS, std::slice::from_ref(&id))
            .await
            .unwrap();
        if ids.len() != 1 {
            problems.push(format!("{} records stored", ids.len()));
        } else {
            let stored = fetch(&pair, &format!("/api/v1/customers/{id}")).await;
            let winners: Vec<usize> = (0..2).filter(|&i| answers[i].0 == 201).collect();
            let kept = (0..2).find(|&i| stored["name"] == format!("Round {round} by instance {i}"));
            if winners.len() == 1 && kept != Some(winners[0]) {
                problems.push(format!(
                    "instance {} answered 201 but the stored name is {}",
                    winners[0], stored["name"]
                ));
            }
        }
        let n = creates(&pair.store, "customers", &id).await;
        if n != 1 {
            problems.push(format!("{n} create entries in the audit log"));
        }
        if !problems.is_empty() {
            bad.push(format!("round {round} ({id}): {}", problems.join("; ")));
        }
    }
    assert_all_rounds(&format!("{backend}: POST /api/v1/customers"), &bad);
}

/// Both instances POST the same new transaction id (of the customer `c1`), `ROUNDS`
/// times, each with its own amount: the stored amount must be the one whose POST
/// answered 201, and the customer's figures must count each order once.
async fn same_transaction(backend: &str) {
    capture_errors();
    let pair = two_instances(backend).await;
    let mut bad = Vec::new();
    let mut expected_orders = 0;
    for round in 0..ROUNDS {
        let id = format!("same-order-{round}");
        let amount = |i: usize| 1000 * (round + 1) + i;
        let bodies = [0, 1].map(|i| {
            json!({"id": id, "customer_id": "c1",
                   "occurred_at": format!("2024-05-{:02}T08:00:00Z", 1 + round),
                   "amount": amount(i), "currency": "EUR"})
            .to_string()
        });
        let answers = race(&pair, "/api/v1/transactions", bodies).await;
        let mut problems = Vec::new();
        if let Some(w) = wrong(&answers) {
            problems.push(w);
        }
        if pair.store.get(&TRANSACTIONS, &id).await.unwrap().is_none() {
            problems.push("not stored".into());
        } else {
            expected_orders += 1;
            let stored = fetch(&pair, &format!("/api/v1/transactions/{id}")).await;
            let winners: Vec<usize> = (0..2).filter(|&i| answers[i].0 == 201).collect();
            if winners.len() == 1 && stored["amount"] != amount(winners[0]) {
                problems.push(format!(
                    "instance {} answered 201 with amount {} but {} is stored",
                    winners[0],
                    amount(winners[0]),
                    stored["amount"]
                ));
            }
        }
        let n = creates(&pair.store, "transactions", &id).await;
        if n != 1 {
            problems.push(format!("{n} create entries in the audit log"));
        }
        // The customer's figures count the order once, on either instance.
        for (i, addr) in pair.addrs.into_iter().enumerate() {
            let (status, text) = call(addr, &pair.token, "GET", "/api/v1/customers/c1", "").await;
            let c: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status != 200 || c["figures"]["orders"] != expected_orders {
                problems.push(format!(
                    "instance {i}: c1's figures count {} orders, {expected_orders} stored ({status})",
                    c["figures"]["orders"]
                ));
            }
        }
        if !problems.is_empty() {
            bad.push(format!("round {round} ({id}): {}", problems.join("; ")));
        }
    }
    assert_all_rounds(&format!("{backend}: POST /api/v1/transactions"), &bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_same_new_customer_sqlite() {
    same_customer("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_same_new_customer_postgres() {
    same_customer("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_same_new_transaction_sqlite() {
    same_transaction("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_same_new_transaction_postgres() {
    same_transaction("postgres").await;
}

/// One round's event batches: `(instance, body)`. Batches 0 and 1 are new events of
/// overlapping customers, both naming the same two customers the store lacks; batch 2
/// is batch 0 again (every id the same); batch 3 is new events of other customers.
/// A transaction's amount is a number: minor units (cents).
fn event_batches(round: usize) -> Vec<(usize, Vec<Value>)> {
    let customer = |k: usize| match k % 12 {
        10 => format!("new-{round}-a"),
        11 => format!("new-{round}-b"),
        k => format!("c{}", k + 1),
    };
    let batch = |b: usize, customers: &dyn Fn(usize) -> String| -> Vec<Value> {
        let mut events = Vec::new();
        for k in 0..120 {
            let c = customers(k);
            events.push(json!({"type": "transaction", "id": format!("r{round}-b{b}-t{k}"),
                "customer_id": c, "occurred_at": format!("2024-06-{:02}T09:{:02}:00Z", 1 + k % 28, k % 60),
                "amount": 1 + (k + b) % 9, "currency": "EUR"}));
            if k % 4 == 0 {
                events.push(
                    json!({"type": "interaction", "id": format!("r{round}-b{b}-i{k}"),
                    "customer_id": c, "occurred_at": "2024-06-02T10:00:00Z", "kind": "call"}),
                );
            }
            if k % 3 == 0 {
                events.push(json!({"type": "usage", "id": format!("r{round}-b{b}-u{k}"),
                    "customer_id": c, "occurred_at": "2024-06-03", "metric": "logins", "value": 2}));
            }
        }
        events
    };
    let others = |k: usize| format!("other-{round}-{}", k % 7);
    vec![
        (0, batch(0, &customer)),
        (1, batch(1, &|k| customer(k + 5))),
        (1, batch(0, &customer)),
        (0, batch(3, &others)),
    ]
}

/// Batches of events sent at the same moment, over both instances, `ROUNDS / 2` times:
/// on PostgreSQL batches of new events are written beside each other (shared writes),
/// and a batch that meets another's rows (the same events, a customer both create) is
/// written again alone. Every batch must answer 200; every event must be stored once;
/// the customers both batches name must be created once; and every customer's figures
/// must be the sum of the transactions stored, as if the batches had come one by one.
async fn concurrent_events(backend: &str) {
    capture_errors();
    let pair = two_instances(backend).await;
    // The customers the batches name, but for the ones they create.
    for k in 2..=10 {
        let a = call(
            pair.addrs[0],
            &pair.token,
            "POST",
            "/api/v1/customers",
            &json!({"id": format!("c{k}")}).to_string(),
        )
        .await;
        assert_eq!(a.0, 201, "{backend}: {}", a.1);
    }
    let mut bad = Vec::new();
    // Per customer: (orders, cents) of every distinct transaction sent so far.
    let mut expected: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for round in 0..ROUNDS / 2 {
        let batches = event_batches(round);
        let requests = batches
            .iter()
            .map(|(i, events)| (*i, json!({ "events": events }).to_string()))
            .collect();
        let answers = race_all(&pair, "/api/v1/events", requests).await;
        let mut problems = Vec::new();
        let mut distinct = std::collections::BTreeSet::new();
        for ((_, events), (status, text)) in batches.iter().zip(&answers) {
            if *status != 200 {
                problems.push(format!("status {status}: {text}"));
            }
            for e in events {
                if distinct.insert(e["id"].as_str().unwrap().to_string())
                    && e["type"] == "transaction"
                {
                    let f = expected
                        .entry(e["customer_id"].as_str().unwrap().to_string())
                        .or_default();
                    f.0 += 1;
                    f.1 += e["amount"].as_i64().unwrap();
                }
            }
        }
        let summaries: Vec<Value> = answers
            .iter()
            .map(|a| serde_json::from_str(&a.1).unwrap_or(Value::Null))
            .collect();
        let sum = |key: &str| -> i64 { summaries.iter().filter_map(|v| v[key].as_i64()).sum() };
        if sum("inserted") != distinct.len() as i64 {
            problems.push(format!(
                "{} events inserted in all, {} distinct sent",
                sum("inserted"),
                distinct.len()
            ));
        }
        // new-R-a and -b (named by batches 0 and 1, and 0 again) and other-R-0..6.
        if sum("customers_created") != 9 {
            problems.push(format!(
                "{} customers created, not 9",
                sum("customers_created")
            ));
        }
        if !problems.is_empty() {
            bad.push(format!("round {round}: {}", problems.join("; ")));
        }
    }
    let stats = fetch(&pair, "/api/v1/stats").await;
    let sent: i64 = expected.values().map(|f| f.0).sum();
    if stats["transactions"] != sent {
        bad.push(format!(
            "{} transactions stored, {sent} sent",
            stats["transactions"]
        ));
    }
    if stats["customers"] != 1 + 9 + 9 * (ROUNDS / 2) as i64 {
        bad.push(format!("{} customers stored", stats["customers"]));
    }
    for (customer, (orders, cents)) in &expected {
        let c = fetch(&pair, &format!("/api/v1/customers/{customer}")).await;
        let got = (&c["figures"]["orders"], &c["figures"]["revenue_minor"]);
        if got != (&json!(orders), &json!(cents)) {
            bad.push(format!(
                "{customer}: figures {got:?}, the transactions sent make ({orders}, {cents})"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{backend}: concurrent event batches:\n{}\nserver log errors:\n{}",
        bad.join("\n"),
        logged_errors().join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_event_batches_sqlite() {
    concurrent_events("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_event_batches_postgres() {
    concurrent_events("postgres").await;
}

/// The ERROR and WARN events logged in this process (the servers' log), kept so that a
/// failed round can quote why a request answered 500.
fn logged_errors() -> Vec<String> {
    errors().lock().unwrap().clone()
}

fn errors() -> &'static Mutex<Vec<String>> {
    static ERRORS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    ERRORS.get_or_init(Default::default)
}

/// Installs a subscriber that keeps ERROR and WARN events (once per process; another
/// test's subscriber, if any was set first, is left alone).
fn capture_errors() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(Keep);
    });
}

struct Keep;

impl tracing::Subscriber for Keep {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, " {}={v:?}", f.name());
            }
        }
        let mut fields = Fields(format!(
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut fields);
        errors().lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
