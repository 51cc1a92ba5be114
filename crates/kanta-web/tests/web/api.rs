//! The JSON API over real HTTP on both backends: lists with cursor paging, get,
//! create, patch, errors, event batches, and the OpenAPI document.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{App, spawn_app};
use kanta_store::accounts::Role;
use kanta_store::testing::BACKENDS;

/// An answer: status, head (lower-cased header lines), body parsed as JSON (or
/// `Value::Null`), and the raw body.
struct Answer {
    status: u16,
    head: String,
    json: Value,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.head.lines().find_map(|l| {
            l.len()
                .ge(&prefix.len())
                .then(|| l.split_at(prefix.len()))
                .filter(|(h, _)| h.eq_ignore_ascii_case(&prefix))
                .map(|(_, v)| v)
        })
    }

    fn problem(&self) -> &Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        &self.json
    }
}

/// One HTTP/1.1 request over a fresh connection, as the admin.
async fn call(app: &App, method: &str, path: &str, body: Option<&str>) -> Answer {
    call_as(app, Some(Role::Admin), method, path, body).await
}

/// One HTTP/1.1 request with the token of `role` (none with `None`).
async fn call_as(
    app: &App,
    role: Option<Role>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Answer {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let body = body.unwrap_or("");
    let auth = role.map_or(String::new(), |r| {
        format!("Authorization: Bearer {}\r\n", app.tokens[&r])
    });
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_string(),
        json: serde_json::from_str(body).unwrap_or(Value::Null),
        text: body.to_string(),
    }
}

async fn get(app: &App, path: &str) -> Answer {
    call(app, "GET", path, None).await
}

async fn post(app: &App, path: &str, body: &Value) -> Answer {
    call(app, "POST", path, Some(&body.to_string())).await
}

async fn patch(app: &App, path: &str, body: &Value) -> Answer {
    call(app, "PATCH", path, Some(&body.to_string())).await
}

/// `n` transactions over three customers, times repeating so sorts have ties.
fn transactions(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "type": "transaction",
                "id": format!("t{:04}", (i * 37) % n),
                "customer_id": format!("k{}", i % 3),
                "occurred_at": format!("2024-02-{:02}T{:02}:00:00Z", 1 + i / 24 % 28, i % 3),
                "amount": 100 + i,
            })
        })
        .collect()
}

/// Every page of a list, following `next_cursor`.
async fn all_pages(app: &App, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}cursor={c}"),
            None => path.to_string(),
        };
        let a = get(app, &url).await;
        assert_eq!(a.status, 200, "{url}: {}", a.text);
        out.extend(a.json["items"].as_array().unwrap().iter().cloned());
        match a.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("{path}: paging does not end");
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn lists_page_through_every_record_once_in_order() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let a = post(
            &app,
            "/api/v1/events",
            &json!({"events": transactions(300)}),
        )
        .await;
        assert_eq!(a.status, 200, "{backend}: {}", a.text);
        let everything = all_pages(&app, "/api/v1/transactions?limit=1000").await;
        assert_eq!(everything.len(), 302, "{backend}: the app's two and ours");
        for (query, expect_len) in [
            ("sort=occurred_at", 302),
            ("sort=-occurred_at", 302),
            ("sort=id", 302),
            ("sort=-id", 302),
            ("customer_id=k1&sort=-occurred_at", 100),
            (
                "customer_id=k2&since=2024-02-05&until=2024-02-09T01:30:00Z&sort=occurred_at",
                32,
            ),
            ("kind=order", 302),
            ("", 302),
        ] {
            let got = all_pages(&app, &format!("/api/v1/transactions?limit=7&{query}")).await;
            let mut want: Vec<&Value> = everything
                .iter()
                .filter(|r| {
                    let p = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(k));
                    p("customer_id=").is_none_or(|c| r["customer_id"] == c)
                        && p("since=").is_none_or(|_| {
                            let t = r["occurred_at"].as_str().unwrap();
                            ("2024-02-05".."2024-02-09T01:30:00Z").contains(&t)
                        })
                })
                .collect();
            assert_eq!(got.len(), expect_len, "{backend} {query}");
            // The order each sort promises; ties go by insertion order.
            let key = |r: &Value| -> String {
                if query.contains("sort=-occurred_at") || query.contains("sort=occurred_at") {
                    r["occurred_at"].as_str().unwrap().to_string()
                } else if query.contains("sort=-id") || query.contains("sort=id") {
                    r["id"].as_str().unwrap().to_string()
                } else {
                    String::new()
                }
            };
            let pos = |r: &Value| everything.iter().position(|x| x["id"] == r["id"]).unwrap();
            want.sort_by(|a, b| key(a).cmp(&key(b)).then(pos(a).cmp(&pos(b))));
            if query.contains("sort=-") {
                want.reverse();
            }
            let want: Vec<Value> = want.into_iter().cloned().collect();
            assert_eq!(ids(&got), ids(&want), "{backend} {query}");
        }
        // A cursor is tied to its sort, and a made-up one is refused.
        let first = get(&app, "/api/v1/transactions?limit=5&sort=-occurred_at").await;
        let c = first.json["next_cursor"].as_str().unwrap();
        let a = get(
            &app,
            &format!("/api/v1/transactions?sort=occurred_at&cursor={c}"),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.text);
        assert_eq!(a.problem()["field"], "cursor");
        let a = get(&app, "/api/v1/transactions?cursor=bm9wZQ").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("cursor"))
        );
        // Unknown and bad parameters name themselves.
        let a = get(&app, "/api/v1/transactions?colour=red").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (400, Some("colour"))
        );
        let a = get(&app, "/api/v1/transactions?sort=amount").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("sort"))
        );
        let a = get(&app, "/api/v1/transactions?limit=1001").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("limit"))
        );
        let a = get(&app, "/api/v1/transactions?kind=gift").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("kind"))
        );
        let a = get(&app, "/api/v1/transactions?since=someday").await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("since"))
        );
        // Customers: search, equality, an empty value for "none".
        let a = get(&app, "/api/v1/customers?search=AINO").await;
        assert_eq!(
            ids(a.json["items"].as_array().unwrap()),
            ["c1"],
            "{}",
            a.text
        );
        let a = get(&app, "/api/v1/customers?segment=kahvila&sort=-id").await;
        assert_eq!(ids(a.json["items"].as_array().unwrap()), ["evil", "c1"]);
        let a = get(&app, "/api/v1/customers?segment=&sort=id").await;
        assert_eq!(ids(a.json["items"].as_array().unwrap()), ["k0", "k1", "k2"]);
    }
}

#[tokio::test]
async fn records_are_created_read_and_patched() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let new = json!({"id": "c9", "name": "Eino Leino", "email": "Eino@Example.FI",
                         "acquired_on": "31.12.2024", "acquisition_cost": "12,50",
                         "survey_consent": "kyllä"});
        let a = post(&app, "/api/v1/customers", &new).await;
        assert_eq!(a.status, 201, "{backend}: {}", a.text);
        assert_eq!(a.header("location"), Some("/api/v1/customers/c9"));
        assert_eq!(a.json["email"], "Eino@example.fi");
        assert_eq!(a.json["acquired_on"], "2024-12-31");
        assert_eq!(a.json["acquisition_cost"], 1250);
        assert_eq!(a.json["currency"], "EUR");
        assert_eq!(a.json["survey_consent"], true);
        assert_eq!(
            a.json["kind"], "person",
            "defaults as the database gives them"
        );
        let got = get(&app, "/api/v1/customers/c9").await;
        let mut record = got.json.clone();
        let figures = record.as_object_mut().unwrap().remove("figures");
        assert_eq!((got.status, &record), (200, &a.json));
        assert_eq!(
            figures.unwrap()["orders"],
            0,
            "a customer comes with figures"
        );

        let again = post(&app, "/api/v1/customers", &new).await;
        assert_eq!(again.status, 409, "{}", again.text);
        assert_eq!(again.problem()["field"], "id");

        // A record without an id gets one from its content: the same content twice
        // is the same record.
        let a = post(
            &app,
            "/api/v1/contacts",
            &json!({"customer_id": "c9", "name": "Aino"}),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.text);
        let id = a.json["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("h-"), "{id}");
        assert_eq!(
            a.header("location"),
            Some(format!("/api/v1/contacts/{id}").as_str())
        );
        let a = post(
            &app,
            "/api/v1/contacts",
            &json!({"customer_id": "c9", "name": "Aino"}),
        )
        .await;
        assert_eq!(a.status, 409);

        // Patch changes only what it names.
        let a = patch(
            &app,
            "/api/v1/customers/c9",
            &json!({"segment": "runoilijat", "phone": null}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.json["segment"], "runoilijat");
        assert_eq!(a.json["name"], "Eino Leino");
        assert_eq!(a.json["acquisition_cost"], 1250);
        let a = patch(&app, "/api/v1/customers/c9", &json!({"kind": null})).await;
        assert_eq!(
            a.json["kind"], "person",
            "clearing a field with a default sets it"
        );
        let a = patch(&app, "/api/v1/customers/nobody", &json!({"name": "X"})).await;
        assert_eq!(a.status, 404);
        assert!(
            a.problem()["detail"]
                .as_str()
                .unwrap()
                .contains("no customer with id 'nobody'")
        );
        let a = patch(
            &app,
            &format!("/api/v1/contacts/{id}"),
            &json!({"name": ""}),
        )
        .await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("name"))
        );
        let a = patch(&app, "/api/v1/customers/c9", &json!({"id": "c10"})).await;
        assert_eq!((a.status, a.problem()["field"].as_str()), (422, Some("id")));

        // 422s name the field and the reason; every bad field is listed.
        let a = post(
            &app,
            "/api/v1/feedback",
            &json!({"nps": 11, "answered_at": "2024-05-01", "colour": 1}),
        )
        .await;
        assert_eq!(a.status, 422, "{}", a.text);
        let p = a.problem();
        let errors = p["errors"].as_array().unwrap();
        let named: Vec<&str> = errors
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(named.contains(&"nps") && named.contains(&"colour"), "{p}");
        assert!(
            errors
                .iter()
                .any(|e| e["reason"] == "11 is out of range 0..10"),
            "{p}"
        );
        assert!(
            p["detail"].as_str().unwrap().starts_with("2 problems"),
            "{p}"
        );
        let a = post(
            &app,
            "/api/v1/interactions",
            &json!({"customer_id": "nobody",
            "occurred_at": "2024-05-01T10:00:00Z", "kind": "call"}),
        )
        .await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("customer_id"))
        );
        assert!(
            a.json["detail"]
                .as_str()
                .unwrap()
                .contains("no customer with id 'nobody'")
        );
        let a = post(
            &app,
            "/api/v1/transactions",
            &json!({"customer_id": "c9", "occurred_at": "2024-05-01", "amount": 12.5}),
        )
        .await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("amount"))
        );
        let a = post(&app, "/api/v1/cases", &json!({"customer_id": "c9"})).await;
        assert_eq!(a.status, 422);
        assert!(
            a.text.contains("opened_at") && a.text.contains("category"),
            "{}",
            a.text
        );
        let a = post(
            &app,
            "/api/v1/customers",
            &json!({"created_at": "2024-01-01"}),
        )
        .await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("created_at"))
        );
        let a = call(&app, "POST", "/api/v1/customers", Some("{not json")).await;
        assert_eq!(a.status, 400);
        a.problem();
        let a = call(&app, "POST", "/api/v1/customers", Some("[1]")).await;
        assert_eq!(a.status, 400);
        let huge = json!({"name": "x".repeat(3 << 20)}).to_string();
        let a = call(&app, "POST", "/api/v1/customers", Some(&huge)).await;
        assert_eq!(a.status, 413, "{}", a.text);
        a.problem();

        // A transaction creates its customer, as an import does; a refund by sign.
        let a = post(
            &app,
            "/api/v1/transactions",
            &json!({"customer_id": "new-one",
            "occurred_at": "1.6.2024 klo 9.30", "amount": "-4,50"}),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.text);
        assert_eq!(
            (a.json["kind"].as_str(), a.json["amount"].as_i64()),
            (Some("refund"), Some(-450))
        );
        // Read in the store's time zone (Helsinki, summer time UTC+3); the API answers UTC.
        assert_eq!(a.json["occurred_at"], "2024-06-01T06:30:00.000Z");
        assert_eq!(get(&app, "/api/v1/customers/new-one").await.status, 200);

        // The trust ledger is append-only: no patch, no second entry with an id.
        let entry = json!({"id": "tr1", "customer_id": "c9", "occurred_at": "2024-06-01T10:00:00Z", "delta": 10, "reason": "fixed fast"});
        assert_eq!(post(&app, "/api/v1/trust", &entry).await.status, 201);
        assert_eq!(post(&app, "/api/v1/trust", &entry).await.status, 409);
        let a = patch(&app, "/api/v1/trust/tr1", &json!({"delta": 100})).await;
        assert_eq!(a.status, 405);

        let a = get(&app, "/api/v1/staff/nobody").await;
        assert_eq!(a.status, 404);
        assert!(
            a.problem()["detail"]
                .as_str()
                .unwrap()
                .contains("no staff member")
        );
    }
}

#[tokio::test]
async fn event_batches_are_idempotent_and_all_or_nothing() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let staff = post(&app, "/api/v1/staff", &json!({"id": "s1", "name": "Sanna"})).await;
        assert_eq!(staff.status, 201, "{}", staff.text);
        let mut events = transactions(50);
        for i in 0..20 {
            events.push(json!({"type": "interaction", "customer_id": "k1", "staff_id": "s1",
                "occurred_at": "2024-03-01T10:00:00Z", "kind": "call", "note": format!("call {i}")}));
            // No ids, identical content: two events, told apart by occurrence.
            events.push(
                json!({"type": "usage", "customer_id": "k2", "occurred_at": "2024-03-01",
                "metric": "logins", "value": "3,5"}),
            );
        }
        let batch = json!({ "events": events });
        let a = post(&app, "/api/v1/events", &batch).await;
        assert_eq!(a.status, 200, "{backend}: {}", a.text);
        assert_eq!(a.json["received"], 90);
        assert_eq!(a.json["inserted"], 90, "{}", a.text);
        assert_eq!(a.json["customers_created"], 3);
        assert_eq!(a.json["changed"], true);
        assert_eq!(a.json["by_type"]["usage"]["inserted"], 20);
        let stats = get(&app, "/api/v1/stats").await.json;
        assert_eq!(
            (stats["transactions"].as_i64(), stats["usage"].as_i64()),
            (Some(52), Some(20))
        );

        let again = post(&app, "/api/v1/events", &batch).await;
        assert_eq!(again.status, 200);
        assert_eq!(
            (
                &again.json["inserted"],
                &again.json["updated"],
                &again.json["unchanged"],
                &again.json["changed"]
            ),
            (&json!(0), &json!(0), &json!(90), &json!(false)),
            "{}",
            again.text
        );
        assert_eq!(again.json["ids"], a.json["ids"]);
        assert_eq!(
            get(&app, "/api/v1/stats").await.json,
            stats,
            "nothing changed"
        );

        // One changed event updates one record.
        let mut changed = batch.clone();
        changed["events"][0]["amount"] = json!(99_999);
        let a = post(&app, "/api/v1/events", &changed).await;
        assert_eq!(
            (&a.json["updated"], &a.json["unchanged"]),
            (&json!(1), &json!(89)),
            "{}",
            a.text
        );

        // Bad events refuse the whole batch, each named by index, field and reason.
        let mut bad = transactions(40);
        for (i, id) in ["n1", "n2", "n3"].iter().enumerate() {
            bad[i]["id"] = json!(id);
        }
        bad[5]["amount"] = json!("lots");
        bad[7]["type"] = json!("gift");
        bad.push(
            json!({"type": "usage", "customer_id": "ghost", "occurred_at": "2024-03-01",
            "metric": "logins", "value": 1}),
        );
        bad.push(json!({"type": "interaction", "customer_id": "k1", "occurred_at": "2024-03-01", "kind": "call", "mood": "good"}));
        let a = post(&app, "/api/v1/events", &json!({"events": bad})).await;
        assert_eq!(a.status, 422, "{}", a.text);
        let errors = a.problem()["errors"].as_array().unwrap().clone();
        let found: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            found,
            [
                (5, "amount"),
                (7, "type"),
                (40, "customer_id"),
                (41, "mood")
            ],
            "{}",
            a.text
        );
        assert_eq!(
            get(&app, "/api/v1/stats").await.json["transactions"],
            52,
            "nothing written"
        );
        assert_eq!(get(&app, "/api/v1/transactions/n1").await.status, 404);
        // A reference to nothing, found inside the transaction, refuses it too.
        let mut bad = transactions(10);
        bad[0]["id"] = json!("n1");
        bad.push(
            json!({"type": "usage", "customer_id": "ghost", "occurred_at": "2024-03-01",
            "metric": "logins", "value": 1}),
        );
        bad.push(
            json!({"type": "interaction", "customer_id": "k1", "staff_id": "nobody",
            "occurred_at": "2024-03-01", "kind": "call"}),
        );
        let a = post(&app, "/api/v1/events", &json!({"events": bad})).await;
        assert_eq!(a.status, 422, "{}", a.text);
        let found: Vec<(u64, &str)> = a.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(found, [(10, "customer_id"), (11, "staff_id")], "{}", a.text);
        assert_eq!(
            get(&app, "/api/v1/transactions/n1").await.status,
            404,
            "{backend}: rolled back"
        );
        // Repeated ids in one batch.
        let a = post(&app, "/api/v1/events", &json!({"events": [
            {"type": "usage", "id": "u", "customer_id": "k1", "occurred_at": "2024-03-01", "metric": "m", "value": 1},
            {"type": "usage", "id": "u", "customer_id": "k1", "occurred_at": "2024-03-02", "metric": "m", "value": 1}]})).await;
        assert_eq!(
            (a.status, a.json["errors"][0]["index"].as_u64()),
            (422, Some(1)),
            "{}",
            a.text
        );

        // 10,000 events are taken; 10,001 are refused.
        let many: Vec<Value> = (0..10_001)
            .map(|i| {
                json!({"type": "usage", "customer_id": "k0", "occurred_at": "2024-04-01T00:00:00Z",
                "metric": "api_calls", "value": i})
            })
            .collect();
        let a = post(&app, "/api/v1/events", &json!({"events": many})).await;
        assert_eq!(a.status, 413, "{}", a.text);
        assert_eq!(a.problem()["field"], "events");
        let a = post(&app, "/api/v1/events", &json!({"events": many[..10_000]})).await;
        assert_eq!(
            (a.status, &a.json["inserted"]),
            (200, &json!(10_000)),
            "{}",
            a.text
        );

        let a = post(&app, "/api/v1/events", &json!({"events": [], "extra": 1})).await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (400, Some("extra"))
        );
        let a = post(&app, "/api/v1/events", &json!({"events": {}})).await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("events"))
        );
    }
}

#[tokio::test]
async fn openapi_lists_every_route_and_matches_the_committed_copy() {
    let app = spawn_app("sqlite").await;
    let served = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    let generated = kanta_web::api::openapi_json();
    assert_eq!(served.text, generated);
    let doc: Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // Every route of the API is in the document...
    let paths = doc["paths"].as_object().unwrap();
    let mut expected = vec![
        ("/healthz", "get"),
        ("/api/v1/stats", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/events", "post"),
        ("/api/v1/customers/{id}/timeline", "get"),
        ("/api/v1/customers/{id}/scores", "get"),
        ("/api/v1/model-runs", "get"),
        ("/api/v1/model-runs/{id}", "get"),
        ("/api/v1/model-runs/{id}/scores", "get"),
        ("/api/v1/audit", "get"),
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs/{id}/retry", "post"),
        ("/api/v1/settings", "get"),
        ("/api/v1/settings/{key}", "put"),
        ("/api/v1/service", "get"),
        ("/api/v1/reports/recovery", "get"),
        ("/api/v1/cases/{id}/transition", "post"),
        ("/api/v1/cases/{id}/resolve", "post"),
        ("/api/v1/cases/{id}/claims", "post"),
        ("/api/v1/claims/{id}/decision", "post"),
        ("/api/v1/claims/{id}/pay", "post"),
        ("/api/v1/claims/repeat", "get"),
        ("/api/v1/customers/{id}/trust", "get"),
        ("/api/v1/customers/{id}/trust", "post"),
        ("/api/v1/health/model", "get"),
        ("/api/v1/customers/{id}/health", "get"),
        ("/api/v1/queue", "get"),
        ("/api/v1/queue/{id}/contact", "post"),
        ("/api/v1/queue/{id}/snooze", "post"),
        ("/api/v1/queue/{id}/dismiss", "post"),
        ("/api/v1/ideas", "get"),
        ("/api/v1/ideas", "post"),
        ("/api/v1/ideas/{id}/status", "post"),
        ("/api/v1/kudos", "get"),
        ("/api/v1/customers/{id}/endings", "post"),
        ("/api/v1/endings", "get"),
        ("/api/v1/endings/{id}/decide", "post"),
        ("/api/v1/customers/{id}/export", "get"),
        ("/api/v1/customers/{id}/erase", "post"),
        ("/api/v1/customers/{id}/consent", "get"),
        ("/api/v1/customers/{id}/consent-request", "post"),
        ("/api/v1/value", "get"),
        ("/api/v1/value/customers", "get"),
        ("/api/v1/value/refresh", "post"),
        ("/api/v1/value/economics", "get"),
        ("/api/v1/offers/{id}/report", "get"),
        ("/api/v1/offers/{id}/send", "post"),
        ("/api/v1/surveys/{id}/activate", "post"),
        ("/api/v1/surveys/{id}/close", "post"),
        ("/api/v1/surveys/{id}/versions", "get"),
        ("/api/v1/answers/{token}", "post"),
        ("/api/v1/surveys/{id}/waves", "get"),
        ("/api/v1/surveys/{id}/waves", "post"),
        ("/api/v1/surveys/{id}/invitations", "get"),
        ("/api/v1/feedback/report", "get"),
        ("/api/v1/feedback/answers", "get"),
        ("/api/v1/feedback/themes", "get"),
        ("/api/v1/feedback/themes/run", "post"),
        ("/api/v1/feedback/themes/{id}/rename", "post"),
        ("/api/v1/feedback/themes/{id}/merge", "post"),
        ("/api/v1/feedback/themes/{id}/split", "post"),
        ("/api/v1/feedback/themes/{id}/changes", "get"),
        ("/api/v1/feedback/themes/{id}/changes", "post"),
    ];
    let mut names = Vec::new();
    for e in kanta_domain::schema::ENTITIES {
        names.push((
            format!("/api/v1/{}", e.name),
            format!("/api/v1/{}/{{id}}", e.name),
            e.append_only,
        ));
    }
    for (list, item, append_only) in &names {
        expected.push((list, "get"));
        expected.push((list, "post"));
        expected.push((item, "get"));
        if !append_only {
            expected.push((item, "patch"));
        }
    }
    for (path, method) in &expected {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // ...and every documented operation is routed.
    let mut n = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            n += 1;
            assert!(
                op["responses"].is_object() && op["operationId"].is_string(),
                "{path}"
            );
            let url = path
                .replace("{id}", "c1")
                .replace("{key}", "currency")
                .replace("{token}", "not-a-token");
            let body = (method != "get").then_some("{}");
            let a = call(&app, &method.to_uppercase(), &url, body).await;
            assert_ne!(
                a.status, 405,
                "{method} {path} is documented but not routed"
            );
            assert!(
                a.status != 404 || a.header("content-type") == Some("application/problem+json"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(
        n,
        expected.len(),
        "documented operations that the test does not know"
    );

    // The committed copy is the generated one.
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var_os("KANTA_WRITE_OPENAPI").is_some() {
        std::fs::write(committed_path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from what the code generates; regenerate it with\n  \
         KANTA_WRITE_OPENAPI=1 cargo test -p kanta-web --test web api::openapi\nand commit it"
    );
}

/// The role each operation needs, as the OpenAPI document states it; every
/// operation answers 401 without a token and 403 for each role below its own.
#[tokio::test]
async fn every_endpoint_wants_its_role() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let doc: Value = serde_json::from_str(&kanta_web::api::openapi_json()).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let url = path
                    .replace("{id}", "c1")
                    .replace("{key}", "currency")
                    .replace("{token}", "not-a-token");
                let m = method.to_uppercase();
                let body = (m != "GET").then_some("{}");
                let Some(role) = op["x-required-role"].as_str() else {
                    // A customer's answer by their link: the signed token is the
                    // permission (this one is no token: 400).
                    if path == "/api/v1/answers/{token}" {
                        let a = call_as(&app, None, &m, &url, body).await;
                        assert_eq!(a.status, 400, "{backend}: {m} {path}: {}", a.text);
                        a.problem();
                        continue;
                    }
                    assert_eq!(path, "/healthz", "{m} {path} states no role");
                    assert_eq!(call_as(&app, None, &m, &url, body).await.status, 200);
                    continue;
                };
                let required = Role::parse(role).unwrap();
                let a = call_as(&app, None, &m, &url, body).await;
                assert_eq!(
                    a.status, 401,
                    "{backend}: {m} {path} without a token: {}",
                    a.text
                );
                a.problem();
                for r in Role::ALL {
                    let a = call_as(&app, Some(r), &m, &url, body).await;
                    if r < required {
                        assert_eq!(a.status, 403, "{backend}: {m} {path} as {r}: {}", a.text);
                        a.problem();
                    } else if r == Role::Staff && m == "GET" && path.starts_with("/api/v1/value") {
                        // The value figures are for viewers (analysts), managers and
                        // admins; staff see their customers' pages (issue 14).
                        assert_eq!(a.status, 403, "{backend}: {m} {path} as {r}: {}", a.text);
                    } else {
                        assert!(
                            ![401, 403, 405].contains(&a.status),
                            "{backend}: {m} {path} as {r}: {} {}",
                            a.status,
                            a.text
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 40, "{checked} operations");
        // The policy itself: staff write customers' records and events, managers the
        // staff register and the trust ledger.
        let role_of = |path: &str, method: &str| {
            doc["paths"][path][method]["x-required-role"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(role_of("/api/v1/transactions", "get"), "viewer");
        assert_eq!(role_of("/api/v1/interactions", "post"), "staff");
        assert_eq!(role_of("/api/v1/customers/{id}", "patch"), "staff");
        assert_eq!(role_of("/api/v1/events", "post"), "staff");
        assert_eq!(role_of("/api/v1/staff", "post"), "manager");
        assert_eq!(role_of("/api/v1/staff/{id}", "patch"), "manager");
        assert_eq!(role_of("/api/v1/trust", "post"), "manager");
        // Surveys (what customers are asked) are the managers'.
        assert_eq!(role_of("/api/v1/surveys", "post"), "manager");
        assert_eq!(role_of("/api/v1/surveys/{id}", "patch"), "manager");
        assert_eq!(role_of("/api/v1/surveys/{id}/activate", "post"), "manager");
        // The audit log and the jobs are the admins'; the settings the managers'.
        assert_eq!(role_of("/api/v1/audit", "get"), "admin");
        assert_eq!(role_of("/api/v1/jobs", "get"), "admin");
        assert_eq!(role_of("/api/v1/jobs/{id}/retry", "post"), "admin");
        assert_eq!(role_of("/api/v1/settings", "get"), "viewer");
        assert_eq!(role_of("/api/v1/settings/{key}", "put"), "manager");
        // With the right role the write goes through.
        let entry = json!({"customer_id": "c1", "occurred_at": "2024-06-01T10:00:00Z", "delta": 1, "reason": "thanks"});
        let a = call_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/trust",
            Some(&entry.to_string()),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = call_as(
            &app,
            Some(Role::Manager),
            "POST",
            "/api/v1/trust",
            Some(&entry.to_string()),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.text);
        let ev = json!({"events": [{"type": "usage", "customer_id": "c1", "occurred_at": "2024-06-01", "metric": "logins", "value": 2}]});
        let a = call_as(
            &app,
            Some(Role::Viewer),
            "POST",
            "/api/v1/events",
            Some(&ev.to_string()),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = call_as(
            &app,
            Some(Role::Staff),
            "POST",
            "/api/v1/events",
            Some(&ev.to_string()),
        )
        .await;
        assert_eq!(
            (a.status, &a.json["inserted"]),
            (200, &json!(1)),
            "{}",
            a.text
        );
    }
}

#[tokio::test]
async fn model_runs_and_scores_are_read_by_run_and_by_customer() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        // Nothing scored yet.
        let a = get(&app, "/api/v1/model-runs").await;
        assert_eq!(
            (a.status, a.json["items"].as_array().unwrap().len()),
            (200, 0)
        );
        let a = get(&app, "/api/v1/customers/c1/scores").await;
        assert_eq!(a.status, 404, "{backend}");
        assert!(a.text.contains("no scores"), "{}", a.text);

        let first = crate::save_run(&app.store).await;
        let second = crate::save_run(&app.store).await;
        // Runs newest first, one page at a time.
        let a = get(&app, "/api/v1/model-runs?limit=1").await;
        assert_eq!(a.status, 200, "{backend}: {}", a.text);
        let run = &a.json["items"][0];
        assert_eq!(run["id"], second);
        assert_eq!(run["model"], "bgnbd");
        assert_eq!(run["as_of"], "2024-06-30");
        assert_eq!(run["customers"], 2);
        assert_eq!(run["details"]["fit"]["params"]["alpha"], 2.5);
        assert_eq!(run["forecast"][0]["expected_minor"], 150_000);
        let cursor = a.json["next_cursor"].as_str().unwrap().to_string();
        let a = get(&app, &format!("/api/v1/model-runs?limit=1&cursor={cursor}")).await;
        assert_eq!(a.json["items"][0]["id"], first);
        assert!(a.json["next_cursor"].is_null());
        let a = get(&app, &format!("/api/v1/model-runs/{first}")).await;
        assert_eq!((a.status, &a.json["id"]), (200, &json!(first)));
        assert_eq!(get(&app, "/api/v1/model-runs/9999").await.status, 404);
        assert_eq!(get(&app, "/api/v1/model-runs/x").await.status, 404);

        // A run's scores by customer id, paged; the tier filter.
        let items = all_pages(&app, &format!("/api/v1/model-runs/{second}/scores?limit=1")).await;
        let customers: Vec<&str> = items
            .iter()
            .map(|s| s["customer"].as_str().unwrap())
            .collect();
        assert_eq!(customers, ["c1", "evil"]);
        assert_eq!(items[0]["tier"], "A");
        assert_eq!(items[0]["p_alive"], 0.734);
        assert_eq!(items[0]["clv_12_minor"], 5060);
        assert!(items[0].get("customer_id").is_none(), "no internal ids");
        let a = get(&app, &format!("/api/v1/model-runs/{second}/scores?tier=c")).await;
        let only: Vec<&str> = a.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["customer"].as_str().unwrap())
            .collect();
        assert_eq!(only, ["evil"]);
        let a = get(&app, &format!("/api/v1/model-runs/{second}/scores?tier=E")).await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (422, Some("tier"))
        );
        let a = get(
            &app,
            &format!("/api/v1/model-runs/{second}/scores?sort=tier"),
        )
        .await;
        assert_eq!(
            (a.status, a.problem()["field"].as_str()),
            (400, Some("sort"))
        );
        let a = get(&app, &format!("/api/v1/model-runs/{second}/scores?limit=0")).await;
        assert_eq!(a.status, 422);

        // A customer's newest scores, with the run's model, date and currency.
        let a = get(&app, "/api/v1/customers/c1/scores").await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.json["run_id"], second);
        assert_eq!(a.json["tier"], "A");
        assert_eq!(a.json["expected_purchases_90"], 2.25);
        assert_eq!(a.json["currency"], "EUR");
        assert_eq!(a.json["as_of"], "2024-06-30");
        assert_eq!(
            get(&app, "/api/v1/customers/nobody/scores").await.status,
            404
        );
    }
}

/// Many writes at once while the job workers claim jobs, as under `kanta serve`: every
/// write answers 200 and is audited. (That no write reads through the pool inside its
/// transaction is proven deterministically on a one-connection store in the core's
/// tests: `write::writes_need_no_second_connection`.)
#[tokio::test]
async fn concurrent_writes_beside_the_job_workers_all_answer() {
    use kanta_core::jobs::{JobSettings, Services, Workers};
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let workers = Workers::start(
            Services {
                core: app.core.clone(),
                settings: JobSettings {
                    poll: std::time::Duration::from_millis(5),
                    score_every: None,
                    ..JobSettings::default()
                },
                mailer: None,
            },
            2,
        );
        let writes = (0..64).map(|i| {
            let app = &app;
            async move {
                patch(
                    app,
                    "/api/v1/customers/c1",
                    &json!({"segment": format!("s{i}")}),
                )
                .await
                .status
            }
        });
        let statuses = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            futures_util::future::join_all(writes),
        )
        .await
        .unwrap_or_else(|_| panic!("{backend}: writes still waiting after 20 s"));
        assert!(
            statuses.iter().all(|s| *s == 200),
            "{backend}: {statuses:?}"
        );
        workers.stop().await;
        let entries = app
            .store
            .audit_page(&kanta_store::audit::AuditQuery {
                entity: Some("customers".into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .0;
        let updates = entries
            .iter()
            .filter(|e| e.entry.action == "update")
            .count();
        assert!(
            updates >= 60,
            "{backend}: {updates} audited updates of 64 writes"
        );
    }
}
