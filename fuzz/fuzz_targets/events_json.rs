//! The events JSON: `POST /api/v1/events` (kanta-web's `api::events::ingest`, with
//! its parsing in the private `api::entities::{json_object, parse_row,
//! complete_new}`). None of it is public, so the target goes through the nearest
//! public entry point, `kanta_web::router`, over a real SQLite store in a scratch
//! folder (one store for the whole run, a Staff API token; /dev/shm/kanta-fuzz-events-PID,
//! removed by the next run once the process is gone), and sends the input as the
//! request body.
//!
//! Input: a body as it stands when it starts with `{` or `[` (after blanks); else a
//! batch built from it, so that most batches are well formed and reach the checks
//! and the write: one event per line (at most 64), its byte 0 the type (bits 0-1:
//! transaction, interaction, usage) and the id (bits 2-3: none, `e0`..`e7`, the
//! line's byte 1 as digits), byte 1 the customer (`c0`..`c3`; none when bit 7 is
//! set), the rest the values of the type's other fields in schema order, split at
//! `|` (empty: not given; `~` null; `!t`/`!f` a boolean; `#N` a JSON number; else a
//! text).
//!
//! Properties, besides "never panics":
//! - the answer is 200, 400, 413 or 422 (never a 5xx), with a JSON body;
//! - a 200 counts every event: `received` = the events sent = the ids listed =
//!   inserted + updated + unchanged;
//! - a batch that was taken, sent again, is taken again with the same ids and changes
//!   nothing (`changed` false, nothing inserted or updated): ingest is idempotent.
//!
//! A batch is taken whole or not at all, so after a 422 the batch without the events
//! it named is sent (and checked) too: fuzzed values reach the write path more often.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use kanta_core::{Acting, Core};
use kanta_store::Store;
use kanta_store::accounts::Role;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt as _;

struct App {
    rt: tokio::runtime::Runtime,
    router: Router,
    bearer: String,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        // The stores of earlier runs (whose process is gone) go first.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("kanta-fuzz-events-")
                    && !std::path::Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("kanta-fuzz-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let url = format!("sqlite://{}", dir.join("kanta.db").display());
        let (router, token) = rt.block_on(async {
            let store = Store::open(&url).await.expect("a store");
            let core = Core::new(store);
            // Stores with a per-caller API rate limit (6,000 a minute by default)
            // would answer 429 to a fuzzer: lift it where the setting exists.
            let _ = core
                .set_store_setting(&Acting::cli(), "api_rate_limit", "10000000")
                .await;
            let (_, token) = core
                .create_token(&Acting::cli(), "fuzz", Role::Staff)
                .await
                .expect("a token");
            (kanta_web::router(core), token)
        });
        App {
            rt,
            router,
            bearer: format!("Bearer {token}"),
        }
    })
}

fn post(app: &App, body: &[u8]) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/events")
        .header(header::AUTHORIZATION, &app.bearer)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    app.rt.block_on(async {
        let res = app
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router answers");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .expect("the answer's body");
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    })
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no count '{key}' in {v}"))
}

/// The event types and their entities, as `api::events::TYPES` has them.
const TYPES: &[(&str, &kanta_domain::Entity)] = &[
    ("transaction", &kanta_domain::schema::TRANSACTIONS),
    ("interaction", &kanta_domain::schema::INTERACTIONS),
    ("usage", &kanta_domain::schema::USAGE_EVENTS),
];

/// A batch of events built from `data` (see the module's comment).
fn structured(data: &[u8]) -> Vec<u8> {
    let mut events = Vec::new();
    for (n, line) in data.split(|b| *b == b'\n').take(64).enumerate() {
        let [b0, b1, rest @ ..] = line else { continue };
        let (ty, entity) = TYPES[usize::from(b0 & 3) % TYPES.len()];
        let mut ev = serde_json::Map::new();
        ev.insert("type".into(), ty.into());
        match (b0 >> 2) & 3 {
            1 => {
                ev.insert("id".into(), format!("e{}", n % 8).into());
            }
            2 => {
                ev.insert("id".into(), b1.to_string().into());
            }
            _ => {}
        }
        if b1 & 0x80 == 0 {
            ev.insert("customer_id".into(), format!("c{}", b1 % 4).into());
        }
        let text = String::from_utf8_lossy(rest);
        let fields = entity.fields.iter().filter(|f| f.name != "customer_id");
        for (f, v) in fields.zip(text.split('|')) {
            let value = match v {
                "" => continue,
                "~" => Value::Null,
                "!t" => Value::Bool(true),
                "!f" => Value::Bool(false),
                _ => match v.strip_prefix('#').map(serde_json::from_str::<serde_json::Number>) {
                    Some(Ok(num)) => Value::Number(num),
                    _ => Value::String(v.to_string()),
                },
            };
            ev.insert(f.name.into(), value);
        }
        events.push(Value::Object(ev));
    }
    serde_json::to_vec(&serde_json::json!({ "events": events })).expect("JSON")
}

/// Sends `body` and checks the answer (and, when it was taken, the answer to sending
/// it again); returns the first answer.
fn check(app: &App, body: &[u8]) -> (StatusCode, Value) {
    let (status, answer) = post(app, body);
    if std::env::var_os("KANTA_FUZZ_VERBOSE").is_some() {
        eprintln!("{status} {answer}");
    }
    assert!(
        matches!(status.as_u16(), 200 | 400 | 413 | 422),
        "{status} for {:?}: {answer}",
        String::from_utf8_lossy(body)
    );
    if status != StatusCode::OK {
        return (status, answer);
    }
    let sent: Value = serde_json::from_slice(body).expect("a body taken is JSON");
    let events = sent["events"].as_array().expect("a body taken has events").len() as u64;
    assert_eq!(count(&answer, "received"), events, "{answer}");
    let ids = answer["ids"].as_array().expect("ids").clone();
    assert_eq!(ids.len() as u64, events, "{answer}");
    assert_eq!(
        count(&answer, "inserted") + count(&answer, "updated") + count(&answer, "unchanged"),
        events,
        "{answer}"
    );
    // Sent again: the same records, nothing changed.
    let (again, second) = post(app, body);
    assert_eq!(again, StatusCode::OK, "the batch taken once is refused: {second}");
    assert_eq!(second["ids"].as_array(), Some(&ids), "other ids the second time");
    assert_eq!(
        second["changed"],
        Value::Bool(false),
        "the same batch changed the store again: first {answer}, then {second}"
    );
    assert_eq!(count(&second, "inserted") + count(&second, "updated"), 0, "{second}");
    (status, answer)
}

fuzz_target!(|data: &[u8]| {
    let app = app();
    let raw = matches!(data.trim_ascii_start().first(), Some(b'{' | b'['));
    let built;
    let data = if raw {
        data
    } else {
        built = structured(data);
        &built[..]
    };
    let (status, answer) = check(app, data);
    // A batch is taken whole or not at all: without the events the 422 named, the
    // rest is sent again, so that fuzzed values reach the write path more often.
    if status != StatusCode::UNPROCESSABLE_ENTITY {
        return;
    }
    let bad: std::collections::HashSet<u64> = answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["index"].as_u64())
        .collect();
    let Ok(mut sent) = serde_json::from_slice::<Value>(data) else { return };
    let Some(events) = sent.get_mut("events").and_then(Value::as_array_mut) else { return };
    let before = events.len();
    let mut i = 0u64;
    events.retain(|_| {
        i += 1;
        !bad.contains(&(i - 1))
    });
    if bad.is_empty() || events.is_empty() || events.len() == before {
        return;
    }
    check(app, &serde_json::to_vec(&sent).expect("JSON"));
});
