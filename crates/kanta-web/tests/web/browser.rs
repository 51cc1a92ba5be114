//! A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven over
//! WebDriver: a person searches a customer, opens their page and sees the timeline,
//! and reads the retention dashboard; an admin reads the audit log, the jobs and the
//! settings; in Finnish and in English, on a desktop and on a 375 px phone with no
//! sideways scrolling. Screenshots go to `target/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::spawn_app;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    port: u16,
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
    let d = Driver { port, child };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

/// One WebDriver command: the `value` of its JSON answer.
async fn call(d: &Driver, method: &str, path: &str, body: Option<Json>) -> Json {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", d.port))
        .await
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let text = read_answer(&mut s).await;
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let json: Json = serde_json::from_str(rest.trim())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}: {head}\n{rest}"));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path} failed: {json}"
    );
    json["value"].clone()
}

async fn find(d: &Driver, session: &str, css: &str) -> String {
    let v = call(
        d,
        "POST",
        &format!("/session/{session}/element"),
        Some(json!({"using": "css selector", "value": css})),
    )
    .await;
    v[ELEMENT]
        .as_str()
        .unwrap_or_else(|| panic!("no element {css}"))
        .to_string()
}

async fn source(d: &Driver, session: &str) -> String {
    call(d, "GET", &format!("/session/{session}/source"), None)
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Decodes standard base64 (the screenshot).
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0,
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for quad in clean.chunks(4) {
        let n = quad.iter().take_while(|c| **c != b'=').count();
        let v = quad.iter().take(n).enumerate().fold(0u32, |acc, (i, c)| {
            acc | (u32::from(val(*c)) << (18 - 6 * i))
        });
        out.extend_from_slice(&v.to_be_bytes()[1..n.max(1)]);
    }
    out
}

#[tokio::test]
async fn a_person_finds_a_customer_and_reads_the_timeline_in_both_languages() {
    let app = spawn_app("sqlite").await;
    let d = start_driver().await;
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900"]
        }
    }}});
    let session = call(&d, "POST", "/session", Some(caps)).await["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let base = format!("http://{}", app.addr);

    // Sign in through the login form, as a person does.
    call(
        &d,
        "POST",
        &format!("/session/{session}/url"),
        Some(json!({"url": format!("{base}/")})),
    )
    .await;
    wait_for_url(&d, &session, "/login").await;
    let (email, password) = crate::login_of(kanta_store::accounts::Role::Staff);
    for (css, text) in [("#email", email.as_str()), ("#password", password.as_str())] {
        let input = find(&d, &session, css).await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{input}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }
    let button = find(&d, &session, "form button[type=submit]").await;
    call(
        &d,
        "POST",
        &format!("/session/{session}/element/{button}/click"),
        Some(json!({})),
    )
    .await;
    // Signed in once the browser has left the login page (every URL contains "/").
    wait_to_leave(&d, &session, "/login").await;

    for (lang, heading, timeline) in [
        ("fi", "Asiakkaat", "Aikajana"),
        ("en", "Customers", "Timeline"),
    ] {
        call(
            &d,
            "POST",
            &format!("/session/{session}/url"),
            Some(json!({"url": format!("{base}/?lang={lang}")})),
        )
        .await;
        assert!(
            source(&d, &session)
                .await
                .contains(&format!("<h1>{heading}</h1>")),
            "{lang}"
        );

        // Search by part of the name, as a person types it.
        let input = find(&d, &session, "input[name=search]").await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{input}/value"),
            Some(json!({"text": "virta"})),
        )
        .await;
        let button = find(&d, &session, "form.filters button[type=submit]").await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{button}/click"),
            Some(json!({})),
        )
        .await;
        wait_for_url(&d, &session, "search=virta").await;
        let page = source(&d, &session).await;
        assert!(
            page.contains("Aino Virtanen") && !page.contains("alert(1)</td>"),
            "{lang}: search result"
        );

        let link = find(&d, &session, "a[href='/customers/c1']").await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{link}/click"),
            Some(json!({})),
        )
        .await;
        wait_for_url(&d, &session, "/customers/c1").await;
        let page = source(&d, &session).await;
        assert!(
            page.contains(timeline),
            "{lang}: the customer page shows the timeline"
        );
        assert!(
            page.contains(if lang == "fi" { "4,50" } else { "€4.50" }),
            "{lang}: the order's amount"
        );

        // Log a call from the quick action; it shows on the timeline, newest first.
        let note = format!("Soitettu, kaikki hyvin ({lang})");
        let textarea = find(&d, &session, "#i-note").await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{textarea}/value"),
            Some(json!({ "text": note })),
        )
        .await;
        let submit = find(
            &d,
            &session,
            "form[action='/customers/c1/interactions'] button[type=submit]",
        )
        .await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/element/{submit}/click"),
            Some(json!({})),
        )
        .await;
        wait_for_url(&d, &session, "saved=interaction").await;
        let page = source(&d, &session).await;
        let tl = page.split("id=\"timeline\"").nth(1).unwrap_or("");
        assert!(
            tl.contains(&note),
            "{lang}: the logged call is on the timeline"
        );
        assert!(
            tl.find(&note) < tl.find(if lang == "fi" { ">osto<" } else { ">order<" }),
            "{lang}: newest first"
        );
        screenshot(&d, &session, &shots.join(format!("customer-{lang}.png"))).await;

        // The same pages on a phone, 375 px wide.
        resize(&d, &session, 375, 812).await;
        screenshot(
            &d,
            &session,
            &shots.join(format!("customer-{lang}-phone.png")),
        )
        .await;
        call(
            &d,
            "POST",
            &format!("/session/{session}/url"),
            Some(json!({"url": format!("{base}/customers?sort=revenue")})),
        )
        .await;
        let width = page_width(&d, &session).await;
        assert!(
            width.as_i64().unwrap_or(9999) <= 375,
            "{lang}: the list fits a phone without sideways scrolling ({width})"
        );
        screenshot(
            &d,
            &session,
            &shots.join(format!("customers-{lang}-phone.png")),
        )
        .await;
        resize(&d, &session, 1280, 900).await;
        screenshot(&d, &session, &shots.join(format!("customers-{lang}.png"))).await;
    }

    // The retention dashboard, on a desktop and on a phone.
    crate::retention::story(&app.store).await;
    for (lang, heading) in [("fi", "Asiakaspysyvyys"), ("en", "Retention")] {
        call(
            &d,
            "POST",
            &format!("/session/{session}/url"),
            Some(json!({"url": format!("{base}/retention?as_of=2024-06-30&lang={lang}")})),
        )
        .await;
        let page = source(&d, &session).await;
        assert!(page.contains(&format!("<h1>{heading} <small>")), "{lang}");
        assert_eq!(page.matches("<svg ").count(), 4, "{lang}: four charts");
        screenshot(&d, &session, &shots.join(format!("retention-{lang}.png"))).await;
        resize(&d, &session, 375, 812).await;
        let width = page_width(&d, &session).await;
        assert!(
            width.as_i64().unwrap_or(9999) <= 375,
            "{lang}: the dashboard fits a phone without sideways scrolling ({width})"
        );
        screenshot(
            &d,
            &session,
            &shots.join(format!("retention-{lang}-phone.png")),
        )
        .await;
        resize(&d, &session, 1280, 900).await;
    }

    // The admin area, as an admin (the admin's session cookie set in the browser),
    // with a failed job, a queued message and the audit entries of the calls logged
    // above: each page in both languages, on a desktop and on a phone.
    admin_data(&app).await;
    call(
        &d,
        "POST",
        &format!("/session/{session}/cookie"),
        Some(json!({"cookie": {
            "name": "kanta_session",
            "value": app.sessions[&kanta_store::accounts::Role::Admin].secret,
            "path": "/",
            "httpOnly": true
        }})),
    )
    .await;
    for (lang, headings) in [
        ("fi", ["Muutosloki", "Taustatyöt", "Asetukset"]),
        ("en", ["Audit log", "Background jobs", "Settings"]),
    ] {
        for (name, heading) in ["audit", "jobs", "settings"].into_iter().zip(headings) {
            call(
                &d,
                "POST",
                &format!("/session/{session}/url"),
                Some(json!({"url": format!("{base}/admin/{name}?lang={lang}")})),
            )
            .await;
            let page = source(&d, &session).await;
            assert!(
                page.contains(&format!("<h1>{heading}</h1>")),
                "{lang}: /admin/{name}"
            );
            screenshot(
                &d,
                &session,
                &shots.join(format!("admin-{name}-{lang}.png")),
            )
            .await;
            let width = page_width(&d, &session).await;
            assert!(
                width.as_i64().unwrap_or(9999) <= 1280,
                "{lang}: /admin/{name} fits a desktop ({width})"
            );
            resize(&d, &session, 375, 812).await;
            let width = page_width(&d, &session).await;
            assert!(
                width.as_i64().unwrap_or(9999) <= 375,
                "{lang}: /admin/{name} fits a phone without sideways scrolling ({width}): {}",
                too_wide(&d, &session).await
            );
            screenshot(
                &d,
                &session,
                &shots.join(format!("admin-{name}-{lang}-phone.png")),
            )
            .await;
            resize(&d, &session, 1280, 900).await;
        }
    }

    // The escaped customer's page runs no script: no alert is open.
    call(
        &d,
        "POST",
        &format!("/session/{session}/url"),
        Some(json!({"url": format!("{base}/customers/evil")})),
    )
    .await;
    let alert = call_status(&d, &format!("/session/{session}/alert/text")).await;
    assert!(alert.contains("no such alert"), "a script ran: {alert}");
    call(&d, "DELETE", &format!("/session/{session}"), None).await;
}

/// What the admin pages show in the browser test: a job that failed for good with a
/// long error, and a queued message with a long subject.
async fn admin_data(app: &crate::App) {
    use kanta_core::jobs::{JobSettings, Services, work_once};
    app.store
        .enqueue(&kanta_store::jobs::NewJob {
            kind: "mail.send".into(),
            payload: json!({}),
            unique_key: None,
            run_at: chrono::Utc::now(),
            max_attempts: 1,
        })
        .await
        .unwrap();
    let services = Services {
        core: app.core.clone(),
        settings: JobSettings::default(),
        mailer: None,
    };
    assert!(work_once(&services, "browser-test").await.unwrap());
    app.store
        .queue_mail(&kanta_store::outbox::NewMail {
            key: "browser-1".into(),
            to: "a.very.long.address.for.a.narrow.screen@esimerkki-yritys.example.fi".into(),
            subject: "Kiitos käynnistä! Tässä yhteenveto keskustelustamme ja seuraavista askelista"
                .into(),
            text: "sisältö".into(),
            html: None,
        })
        .await
        .unwrap();
}

/// Saves what the browser shows as a PNG.
async fn screenshot(d: &Driver, session: &str, path: &std::path::Path) {
    let shot = call(d, "GET", &format!("/session/{session}/screenshot"), None).await;
    let png = base64(shot.as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    std::fs::write(path, png).unwrap();
}

/// Sets the browser window's size in CSS pixels.
/// The page's width in CSS pixels (wider than the window: it scrolls sideways).
async fn page_width(d: &Driver, session: &str) -> Json {
    call(
        d,
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": "return document.documentElement.scrollWidth;", "args": []})),
    )
    .await
}

/// The elements that reach past the window's right edge (what makes a page scroll
/// sideways), for the message of a failed width check.
async fn too_wide(d: &Driver, session: &str) -> Json {
    let script = "return Array.from(document.querySelectorAll('body *'))\
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)\
        .slice(0, 12)\
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));";
    call(
        d,
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": script, "args": []})),
    )
    .await
}

async fn resize(d: &Driver, session: &str, width: u32, height: u32) {
    call(
        d,
        "POST",
        &format!("/session/{session}/window/rect"),
        Some(json!({"width": width, "height": height})),
    )
    .await;
}

/// Waits until the page's URL contains `needle` (a click's navigation has happened).
async fn wait_to_leave(d: &Driver, session: &str, needle: &str) {
    for _ in 0..100 {
        let url = call(d, "GET", &format!("/session/{session}/url"), None).await;
        if url.as_str().is_some_and(|u| !u.contains(needle)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never left the URL with {needle}");
}

async fn wait_for_url(d: &Driver, session: &str, needle: &str) {
    for _ in 0..100 {
        let url = call(d, "GET", &format!("/session/{session}/url"), None).await;
        if url.as_str().is_some_and(|u| u.contains(needle)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached a URL with {needle}");
}

/// A GET whose error answer is the point: returns the raw answer.
async fn call_status(d: &Driver, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", d.port))
        .await
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    read_answer(&mut s).await
}

/// Reads one HTTP answer: the head, then as many body bytes as Content-Length says
/// (chromedriver may keep the connection open after answering).
async fn read_answer(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), s.read(&mut chunk))
            .await
            .expect("chromedriver answers within a minute")
            .unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            });
            if let Some(len) = len
                && body.len() >= len
            {
                return text.into_owned();
            }
        }
        if n == 0 {
            return text.into_owned();
        }
    }
}
