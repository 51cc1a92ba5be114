//! The app on 127.0.0.1:0 over a real store, asked over real HTTP and by a real browser.

mod browser;
mod pages;

use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, FEEDBACK, TRANSACTIONS};
use kanta_store::testing::{BACKENDS, TestDb};
use kanta_store::{Store, WriteBatch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct App {
    addr: std::net::SocketAddr,
    _db: TestDb,
}

/// Starts the app on a free port over a fresh store with a few records.
async fn spawn_app(backend: &str) -> App {
    let db = TestDb::new(backend);
    let store = Store::open(&db.url).await.expect("store");
    let f = |e: &'static kanta_domain::Entity, n: &[&str]| {
        n.iter().map(|n| e.field(n).unwrap()).collect::<Vec<_>>()
    };
    let mut c = WriteBatch::new(&CUSTOMERS, f(&CUSTOMERS, &["name", "email", "segment"]));
    c.push(
        "c1".into(),
        [
            Value::Text("Aino Virtanen".into()),
            Value::Text("aino@example.fi".into()),
            Value::Text("kahvila".into()),
        ],
    );
    c.push(
        "evil".into(),
        [
            Value::Text("<script>alert(1)</script>".into()),
            Value::Null,
            Value::Text("kahvila".into()),
        ],
    );
    store.write(&c).await.unwrap();
    let mut t = WriteBatch::new(
        &TRANSACTIONS,
        f(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    let at = |d: &str| Value::Time(kanta_domain::time::parse_timestamp(d, None).unwrap());
    t.push(
        "o1".into(),
        [
            Value::Text("c1".into()),
            at("2024-05-02T08:00:00Z"),
            Value::Int(450),
            Value::Text("EUR".into()),
            Value::Text("order".into()),
        ],
    );
    t.push(
        "o2".into(),
        [
            Value::Text("evil".into()),
            at("2024-05-03T08:00:00Z"),
            Value::Int(100),
            Value::Text("EUR".into()),
            Value::Text("order".into()),
        ],
    );
    store.write(&t).await.unwrap();
    let mut fb = WriteBatch::new(
        &FEEDBACK,
        f(
            &FEEDBACK,
            &["customer_id", "answered_at", "nps", "do_better"],
        ),
    );
    fb.push(
        "f1".into(),
        [
            Value::Text("evil".into()),
            at("2024-05-04T08:00:00Z"),
            Value::Int(3),
            Value::Text("<img src=x onerror=alert(2)> & more".into()),
        ],
    );
    store.write(&fb).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = kanta_web::serve(listener, store).await;
    });
    App { addr, _db: db }
}

/// A plain HTTP/1.1 GET: (status, content type, body).
async fn get(app: &App, path: &str) -> (u16, String, String) {
    let (status, head, body) = get_with(app, path, "").await;
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, ctype, body)
}

/// A GET with extra header lines (each ending in CRLF): (status, head, body).
async fn get_with(app: &App, path: &str, extra: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

#[tokio::test]
async fn pages_and_api_answer_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (status, ctype, body) = get(&app, "/").await;
        assert_eq!(status, 200, "{backend}");
        assert!(ctype.starts_with("text/html"), "{ctype}");
        assert!(
            body.contains("Aino Virtanen") && body.contains("href=\"/customers/c1\""),
            "{body}"
        );

        let (status, _, body) = get(&app, "/customers/c1").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("Timeline") && body.contains("€4.50"),
            "{body}"
        );

        let (status, ctype, body) = get(&app, "/api/v1/customers?search=aino").await;
        assert_eq!((status, ctype.as_str()), (200, "application/json"));
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["total"], 1);
        assert_eq!(page["customers"][0]["id"], "c1");
        assert_eq!(page["customers"][0]["revenue_minor"], 450);

        let (_, _, body) = get(&app, "/api/v1/customers/c1/timeline").await;
        let tl: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(tl[0]["kind"], "order");

        let (status, ctype, body) = get(&app, "/api/v1/customers/nobody").await;
        assert_eq!((status, ctype.as_str()), (404, "application/problem+json"));
        assert!(body.contains("no customer with id 'nobody'"));
        let (status, ctype, body) = get(&app, "/api/v1/customers?limit=0").await;
        assert_eq!((status, ctype.as_str()), (422, "application/problem+json"));
        assert!(body.contains("\"field\":\"limit\""), "{body}");
    }
}

#[tokio::test]
async fn what_customers_write_shows_as_text() {
    let app = spawn_app("sqlite").await;
    for path in ["/", "/customers?search=script", "/customers/evil"] {
        let (status, _, body) = get(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !body.contains("<script>alert"),
            "{path} carries a live script:\n{body}"
        );
        assert!(!body.contains("<img src=x"), "{path} carries a live tag");
    }
    let (_, _, body) = get(&app, "/customers/evil").await;
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(
        body.contains("onerror=alert(2)")
            && (body.contains("&amp; more") || body.contains("&#38; more")),
        "{body}"
    );
}

#[tokio::test]
async fn pages_speak_finnish_and_english() {
    let app = spawn_app("sqlite").await;
    let (_, _, body) = get_with(
        &app,
        "/customers/c1",
        "Accept-Language: fi-FI,fi;q=0.9,en;q=0.5\r\n",
    )
    .await;
    assert!(body.contains("<html lang=\"fi\">"), "{body}");
    assert!(
        body.contains("Aikajana") && body.contains("Luottamussaldo"),
        "{body}"
    );
    assert!(body.contains("4,50\u{a0}€"), "Finnish money: {body}");
    assert!(body.contains("2.5.2024 klo 8.00"), "Finnish time: {body}");

    let (_, _, body) = get_with(&app, "/customers/c1", "Accept-Language: en-GB,en;q=0.9\r\n").await;
    assert!(
        body.contains("<html lang=\"en\">") && body.contains("Timeline") && body.contains("€4.50")
    );
    assert!(body.contains("2024-05-02 08:00"), "{body}");

    // ?lang= wins over the browser and is remembered in a cookie.
    let (_, head, body) = get_with(&app, "/?lang=fi", "Accept-Language: en\r\n").await;
    assert!(body.contains("Asiakkaat") && body.contains("nimi, sähköposti tai tunnus"));
    assert!(
        head.to_ascii_lowercase()
            .contains("set-cookie: kanta_lang=fi;"),
        "{head}"
    );
    let (_, head, body) = get_with(
        &app,
        "/",
        "Accept-Language: en\r\nCookie: kanta_lang=fi\r\n",
    )
    .await;
    assert!(
        body.contains("<h1>Asiakkaat</h1>"),
        "the cookie keeps Finnish"
    );
    assert!(
        !head.to_ascii_lowercase().contains("set-cookie"),
        "no new cookie without ?lang="
    );
}
