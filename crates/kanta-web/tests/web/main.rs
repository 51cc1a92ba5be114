//! The app on 127.0.0.1:0 over a real store, asked over real HTTP and by a real browser.

mod admin_pages;
mod api;
mod audit;
mod auth_tests;
mod bad_input;
mod browser;
mod cases;
mod customer_list;
mod customer_page;
mod economics;
mod endings;
mod feedback;
mod health;
mod kudos_ideas;
mod local_time;
mod offer_form;
mod offers;
mod onboarding_goals;
mod owners;
mod pages;
mod privacy;
mod retention;
mod service;
mod survey_waves;
mod surveys;
mod themes;
mod today;
mod two_factor;
mod two_instances;
mod value;

use kanta_core::{Acting, Core};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, FEEDBACK, TRANSACTIONS};
use kanta_store::accounts::Role;
use kanta_store::testing::{BACKENDS, TestDb};
use kanta_store::{Store, WriteBatch};
use kanta_web::auth;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct App {
    addr: std::net::SocketAddr,
    /// The app's store, for checking what a request wrote.
    store: Store,
    /// The app's core (over the same store).
    core: Core,
    /// A bearer token for each role.
    tokens: HashMap<Role, String>,
    /// A signed-in session for each role.
    sessions: HashMap<Role, TestSession>,
    _db: TestDb,
}

/// A signed-in session: the cookie's secret and the session's CSRF token.
#[derive(Clone)]
struct TestSession {
    secret: String,
    csrf: String,
}

impl TestSession {
    fn cookie(&self) -> String {
        format!("kanta_session={}", self.secret)
    }
}

/// The email and password of the test user of each role.
fn login_of(role: Role) -> (String, String) {
    (format!("{role}@kanta.test"), format!("{role}-password-123"))
}

/// Makes a user, a session and an API token for every role (through the core, as
/// `kanta user add` and `kanta token create` do).
async fn add_users(core: &Core) -> (HashMap<Role, String>, HashMap<Role, TestSession>) {
    let store = core.store();
    let cli = Acting::cli();
    let mut tokens = HashMap::new();
    let mut sessions = HashMap::new();
    for role in Role::ALL {
        let (email, password) = login_of(role);
        let (user, _) = core
            .add_user(
                &cli,
                &email,
                Some(&format!("Test {role}")),
                role,
                Some(password),
            )
            .await
            .unwrap();
        let (_, token) = core
            .create_token(&cli, &format!("{role} token"), role)
            .await
            .unwrap();
        tokens.insert(role, token);
        let secret = auth::new_secret();
        let csrf = auth::new_secret();
        store
            .create_session(
                user.id,
                &auth::digest(&secret),
                &csrf,
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .await
            .unwrap();
        sessions.insert(role, TestSession { secret, csrf });
    }
    (tokens, sessions)
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
    let core = Core::new(store.clone());
    let (tokens, sessions) = add_users(&core).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = core.clone();
    tokio::spawn(async move {
        let _ = kanta_web::serve(listener, served).await;
    });
    App {
        addr,
        store,
        core,
        tokens,
        sessions,
        _db: db,
    }
}

/// An answer: status, head (status line and headers) and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// The first value of a header (any case).
    fn header(&self, name: &str) -> Option<String> {
        let name = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with(&name)
                .then(|| l[name.len()..].trim().to_string())
        })
    }

    /// The value a `Set-Cookie` header gives `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let v = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            let (k, rest) = v.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a new connection. `headers` are full lines without CRLF;
/// `body` is (content type, text).
async fn request(
    app: &App,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<(&str, &str)>,
) -> Answer {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if let Some((ctype, text)) = body {
        req.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            text.len()
        ));
        req.push_str("\r\n");
        req.push_str(text);
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        status,
        head: head.to_string(),
        body,
    }
}

/// The body of a chunked answer.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A form body from pairs, percent-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A page as the user of `role` sees it.
async fn page_as(app: &App, role: Role, path: &str, extra: &[String]) -> Answer {
    let mut h = vec![format!("Cookie: {}", app.sessions[&role].cookie())];
    h.extend_from_slice(extra);
    request(app, "GET", path, &h, None).await
}

/// A form posted by the user of `role`, with their CSRF token added.
async fn post_form_as(app: &App, role: Role, path: &str, pairs: &[(&str, &str)]) -> Answer {
    let session = &app.sessions[&role];
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(pairs);
    request(
        app,
        "POST",
        path,
        &[format!("Cookie: {}", session.cookie())],
        Some(("application/x-www-form-urlencoded", &form(&all))),
    )
    .await
}

/// An API call with the token of `role` (no token with `None`).
async fn api_as(
    app: &App,
    role: Option<Role>,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Answer {
    let h: Vec<String> = role
        .map(|r| format!("Authorization: Bearer {}", app.tokens[&r]))
        .into_iter()
        .collect();
    request(app, method, path, &h, json.map(|j| ("application/json", j))).await
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
    // As the admin: the session for pages, the token for the API.
    let auth = format!(
        "Cookie: {}\r\nAuthorization: Bearer {}\r\n",
        app.sessions[&Role::Admin].cookie(),
        app.tokens[&Role::Admin]
    );
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{extra}Connection: close\r\n\r\n");
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
        let (status, ctype, body) = get(&app, "/customers").await;
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
        assert!(page["next_cursor"].is_null());
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id"], "c1");

        let (_, _, body) = get(&app, "/api/v1/customers/c1/timeline").await;
        let tl: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(tl["items"][0]["kind"], "order");
        assert!(tl["next_cursor"].is_null());

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
    for path in ["/today", "/customers?search=script", "/customers/evil"] {
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
    // 08:00 UTC is 11.00 in Helsinki (summer time).
    assert!(body.contains("2.5.2024 klo 11.00"), "Finnish time: {body}");

    let (_, _, body) = get_with(&app, "/customers/c1", "Accept-Language: en-GB,en;q=0.9\r\n").await;
    assert!(
        body.contains("<html lang=\"en\">") && body.contains("Timeline") && body.contains("€4.50")
    );
    assert!(body.contains("2024-05-02 11:00"), "{body}");

    // ?lang= wins over the browser and becomes the user's own setting, which then
    // wins over the browser on every page.
    let (_, _, body) = get_with(&app, "/customers?lang=fi", "Accept-Language: en\r\n").await;
    assert!(body.contains("Asiakkaat") && body.contains("nimi, sähköposti tai tunnus"));
    let (_, _, body) = get_with(&app, "/customers", "Accept-Language: en\r\n").await;
    assert!(
        body.contains("<h1>Asiakkaat</h1>"),
        "the user's setting keeps Finnish"
    );
    let admin = app
        .store
        .user_by_email("admin@kanta.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.lang.as_deref(), Some("fi"));
    // Other users still follow their browsers.
    let a = page_as(
        &app,
        Role::Viewer,
        "/customers",
        &["Accept-Language: en".into()],
    )
    .await;
    assert!(a.body.contains("<h1>Customers</h1>"), "{}", a.body);
}

/// A model run scoring c1 (tier A, P(alive) 0.734) and `evil` (tier C), as `kanta
/// score` would store it; returns the run's id.
async fn save_run(store: &Store) -> i64 {
    use kanta_store::scores::{CustomerScore, NewModelRun, RevenueForecast};
    let id_of = async |ext: &str| store.customer(ext).await.unwrap().unwrap().id;
    let score = |customer_id, p_alive, tier| CustomerScore {
        customer_id,
        repeat_purchases: 4,
        p_alive,
        expected_purchases_30: 0.8125,
        expected_purchases_90: 2.25,
        expected_purchases_365: 8.5,
        expected_spend_minor: Some(812),
        clv_12_minor: Some(5_060),
        clv_36_minor: Some(12_345),
        tier,
        ..Default::default()
    };
    let scores = [
        score(id_of("c1").await, 0.734, 'A'),
        score(id_of("evil").await, 0.05, 'C'),
    ];
    let run = NewModelRun {
        model: "bgnbd".into(),
        spend_model: Some("gg".into()),
        as_of: chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
        calibration_end: Some(chrono::NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()),
        first_purchase_on: Some(chrono::NaiveDate::from_ymd_opt(2024, 5, 2).unwrap()),
        currency: Some("EUR".into()),
        details: serde_json::json!({"fit": {"params": {"r": 0.9, "alpha": 2.5, "a": 0.6, "b": 3.5}}}),
        forecast: vec![RevenueForecast {
            months: 1,
            expected_minor: 150_000,
            lower_minor: 140_000,
            upper_minor: 160_000,
        }],
    };
    store
        .save_model_run(
            &run,
            &scores,
            &Acting::cli().audit("model_runs", None, "score"),
        )
        .await
        .unwrap()
}

/// The audit entries of one entity, newest first (the first page).
async fn audit_of_entity(app: &App, entity: &str) -> Vec<kanta_store::audit::AuditRecord> {
    app.store
        .audit_page(&kanta_store::audit::AuditQuery {
            entity: Some(entity.into()),
            ..kanta_store::audit::AuditQuery::default()
        })
        .await
        .unwrap()
        .0
}
