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

/// A new headless Chromium session (1280 × 900) on the driver; its id.
async fn new_session(d: &Driver) -> String {
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900"]
        }
    }}});
    call(d, "POST", "/session", Some(caps)).await["sessionId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `target/screenshots`, made if missing: where the browser tests save what they saw.
fn screenshots_dir() -> std::path::PathBuf {
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

#[tokio::test]
async fn a_person_finds_a_customer_and_reads_the_timeline_in_both_languages() {
    let app = spawn_app("sqlite").await;
    let d = start_driver().await;
    let session = new_session(&d).await;
    let shots = screenshots_dir();
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
            Some(json!({"url": format!("{base}/customers?lang={lang}")})),
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
        assert!(page.matches("<svg ").count() >= 4, "{lang}: the charts");
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
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)\
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

/// What the charts of the open page show: each `svg text`'s rendered height (its
/// width when turned on its side), its font size as drawn (the SVG's own size times
/// the scale it is shown at), its text and its class; and the pairs of an axis title
/// and a tick label that overlap.
async fn chart_texts(d: &Driver, session: &str) -> (Vec<(f64, f64, String, String)>, Vec<String>) {
    let script = r#"
        const texts = [], overlaps = [];
        for (const svg of document.querySelectorAll('svg')) {
          const vb = svg.viewBox && svg.viewBox.baseVal;
          const box = svg.getBoundingClientRect();
          const scale = vb && vb.width ? box.width / vb.width : 1;
          for (const t of svg.querySelectorAll('text')) {
            const r = t.getBoundingClientRect();
            const turned = (t.getAttribute('transform') || '').includes('rotate');
            texts.push([turned ? r.width : r.height,
                        parseFloat(getComputedStyle(t).fontSize) * scale,
                        t.textContent, t.getAttribute('class') || '']);
          }
          const ticks = [...svg.querySelectorAll('text.tick')].map(t => [t, t.getBoundingClientRect()]);
          for (const a of svg.querySelectorAll('text.axis-label')) {
            const ra = a.getBoundingClientRect();
            for (const [t, rt] of ticks) {
              if (ra.left < rt.right && rt.left < ra.right && ra.top < rt.bottom && rt.top < ra.bottom) {
                overlaps.push(a.textContent + ' / ' + t.textContent);
              }
            }
          }
        }
        return [texts, overlaps];"#;
    let v = call(
        d,
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": script, "args": []})),
    )
    .await;
    let texts = v[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t[0].as_f64().unwrap(),
                t[1].as_f64().unwrap(),
                t[2].as_str().unwrap().to_string(),
                t[3].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let overlaps = v[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect();
    (texts, overlaps)
}

/// The open page's height in CSS pixels.
async fn page_height(d: &Driver, session: &str) -> f64 {
    call(
        d,
        "POST",
        &format!("/session/{session}/execute/sync"),
        Some(json!({"script": "return document.documentElement.scrollHeight;", "args": []})),
    )
    .await
    .as_f64()
    .unwrap()
}

/// Saves a screenshot of each element `css` selects: `{stem}-{i}.png`.
async fn element_shots(d: &Driver, session: &str, css: &str, stem: &std::path::Path) -> usize {
    let els = call(
        d,
        "POST",
        &format!("/session/{session}/elements"),
        Some(json!({"using": "css selector", "value": css})),
    )
    .await;
    let els = els.as_array().cloned().unwrap_or_default();
    for (i, el) in els.iter().enumerate() {
        let id = el[ELEMENT].as_str().unwrap();
        let shot = call(
            d,
            "GET",
            &format!("/session/{session}/element/{id}/screenshot"),
            None,
        )
        .await;
        let png = base64(shot.as_str().unwrap());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let name = format!(
            "{}-{}.png",
            stem.file_name().unwrap().to_string_lossy(),
            i + 1
        );
        std::fs::write(stem.with_file_name(name), png).unwrap();
    }
    els.len()
}

/// On a 375 px phone, in Finnish and in English: every chart's text on every page
/// that has charts is at least 10 px high (the charts scroll sideways inside their
/// box rather than shrink further), no axis title overlaps a tick, cohort cells of
/// 100% are labelled, and no page scrolls sideways: the retention dashboard, a B2B
/// account with its usage sparklines, a café customer, and a customer whose name
/// and words are long and unbroken. A B2B account's page stays short on a desktop
/// and on a phone. Screenshots of each page and each chart go to
/// `target/screenshots/phone-*.png`.
#[tokio::test]
async fn charts_and_customer_pages_are_legible_on_a_phone() {
    let app = spawn_app("sqlite").await;
    crate::retention::story(&app.store).await;
    crate::save_run(&app.store).await;
    let demo = crate::customer_page::write_demo(&app).await;
    long_words(&app).await;
    let d = start_driver().await;
    let session = new_session(&d).await;
    let shots = screenshots_dir();
    let base = format!("http://{}", app.addr);
    let open = async |path: &str| {
        call(
            &d,
            "POST",
            &format!("/session/{session}/url"),
            Some(json!({"url": format!("{base}{path}")})),
        )
        .await;
    };
    open("/login").await;
    call(
        &d,
        "POST",
        &format!("/session/{session}/cookie"),
        Some(json!({"cookie": {
            "name": "kanta_session",
            "value": app.sessions[&kanta_store::accounts::Role::Staff].secret,
            "path": "/",
            "httpOnly": true
        }})),
    )
    .await;

    let b2b = format!("/customers/{}", demo.b2b);
    let cafe = format!("/customers/{}", demo.cafe);
    let pages: [(&str, &str); 5] = [
        ("retention", "/retention?as_of=2024-06-30"),
        ("b2b", &b2b),
        ("cafe", &cafe),
        ("long", "/customers/long"),
        ("list-long", "/customers?search=Pohjois"),
    ];
    for lang in ["fi", "en"] {
        resize(&d, &session, 1280, 900).await;
        open(&format!("{b2b}?lang={lang}")).await;
        let desktop = page_height(&d, &session).await;
        assert!(
            desktop <= 5_500.0,
            "{lang}: the B2B account's page is {desktop} px tall on a desktop"
        );
        screenshot(&d, &session, &shots.join(format!("b2b-{lang}.png"))).await;
        resize(&d, &session, 375, 812).await;
        for (name, path) in pages {
            let sep = if path.contains('?') { '&' } else { '?' };
            open(&format!("{path}{sep}lang={lang}")).await;
            let (texts, overlaps) = chart_texts(&d, &session).await;
            let small: Vec<_> = texts
                .iter()
                .filter(|(h, f, _, _)| *h < 10.0 || *f < 9.99)
                .collect();
            assert!(
                small.is_empty(),
                "{lang} {name}: chart text under 10 px at 375 px: {small:?}"
            );
            let lowest = texts
                .iter()
                .map(|(h, f, _, _)| (*h, *f))
                .fold((f64::INFINITY, f64::INFINITY), |a, b| {
                    (a.0.min(b.0), a.1.min(b.1))
                });
            if !texts.is_empty() {
                eprintln!(
                    "{lang} {name}: {} chart texts, the smallest {:.1} px high, font {:.1} px",
                    texts.len(),
                    lowest.0,
                    lowest.1
                );
            }
            assert!(
                overlaps.is_empty(),
                "{lang} {name}: axis titles overlap ticks: {overlaps:?}"
            );
            // Nothing reaches past the window's content width (its scroll bar aside).
            let over = call(
                &d,
                "POST",
                &format!("/session/{session}/execute/sync"),
                Some(json!({"script": "const e = document.documentElement; return e.scrollWidth - e.clientWidth;", "args": []})),
            )
            .await;
            assert!(
                over.as_i64().unwrap_or(9999) <= 0,
                "{lang} {name}: the page scrolls sideways by {over} px: {}",
                too_wide(&d, &session).await
            );
            screenshot(
                &d,
                &session,
                &shots.join(format!("phone-{name}-{lang}.png")),
            )
            .await;
            match name {
                "retention" => {
                    assert!(texts.len() > 50, "{lang}: the charts have text");
                    let hundred = if lang == "fi" { "100\u{a0}%" } else { "100%" };
                    assert!(
                        texts
                            .iter()
                            .any(|(_, _, t, c)| t == hundred && c == "cell-text"),
                        "{lang}: 100% cells are labelled"
                    );
                    let grouped = if lang == "fi" { '\u{202f}' } else { ',' };
                    assert!(
                        texts
                            .iter()
                            .any(|(_, _, t, c)| c == "tick" && t.contains(grouped)),
                        "{lang}: ticks group thousands: {texts:?}"
                    );
                    let n = element_shots(
                        &d,
                        &session,
                        ".chart-wrap",
                        &shots.join(format!("phone-retention-{lang}-chart")),
                    )
                    .await;
                    assert!(n >= 4, "{lang}: {n} charts");
                }
                "b2b" => {
                    let phone = page_height(&d, &session).await;
                    assert!(
                        phone <= 13_500.0,
                        "{lang}: the B2B account's page is {phone} px tall on a phone"
                    );
                    let n = element_shots(
                        &d,
                        &session,
                        "section.usage",
                        &shots.join(format!("phone-usage-{lang}")),
                    )
                    .await;
                    assert_eq!(n, 1, "{lang}: the usage block");
                    element_shots(
                        &d,
                        &session,
                        "section.timeline",
                        &shots.join(format!("phone-b2b-timeline-{lang}")),
                    )
                    .await;
                    eprintln!("{lang}: B2B page {desktop} px on a desktop, {phone} px on a phone");
                }
                "cafe" => {
                    element_shots(
                        &d,
                        &session,
                        "section.timeline",
                        &shots.join(format!("phone-cafe-timeline-{lang}")),
                    )
                    .await;
                }
                _ => {}
            }
        }
        // The customer list on a desktop: the table fits its box, and the name
        // column stays readable (names never break a few letters a line), with the
        // long unbroken name among the rows.
        for width in [1280, 1920] {
            resize(&d, &session, width, 900).await;
            for path in [
                "/customers?sort=revenue",
                "/customers?kind=company&sort=mrr",
            ] {
                open(&format!("{path}&lang={lang}")).await;
                let m = call(
                    &d,
                    "POST",
                    &format!("/session/{session}/execute/sync"),
                    Some(
                        json!({"script": "const t = document.querySelector('table.list'); \
                        const names = Array.from(t.querySelectorAll('tbody td:first-child')); \
                        const e = document.documentElement; \
                        return [Math.min(...names.map(c => c.getBoundingClientRect().width)), \
                            t.getBoundingClientRect().width, t.parentElement.clientWidth, \
                            e.scrollWidth - e.clientWidth];", "args": []}),
                    ),
                )
                .await;
                let m: Vec<f64> = m
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                eprintln!(
                    "{lang} {width} px {path}: name column {:.0} px, table {:.0} px in {:.0} px",
                    m[0], m[1], m[2]
                );
                assert!(m[0] >= 120.0, "{lang} {width} px {path}: name column {m:?}");
                assert!(
                    m[1] <= m[2] + 1.0,
                    "{lang} {width} px {path}: table wider than its box {m:?}"
                );
                assert!(
                    m[3] <= 0.0,
                    "{lang} {width} px {path}: the page scrolls sideways {m:?}"
                );
                if path.contains("revenue") {
                    screenshot(
                        &d,
                        &session,
                        &shots.join(format!("customers-{lang}-{width}.png")),
                    )
                    .await;
                }
            }
        }
    }
    call(&d, "DELETE", &format!("/session/{session}"), None).await;
}

/// A customer whose name, id-like words, contact, case and notes are long and
/// unbroken, as imports bring them.
async fn long_words(app: &crate::App) {
    use kanta_domain::Value;
    use kanta_domain::schema::{CASES, CONTACTS, CUSTOMERS, INTERACTIONS};
    let long = "Pohjois-Pohjanmaan_Kiinteistöhuoltopalveluosakeyhtiö_Konsernipalvelut_Oy";
    let f = |e: &'static kanta_domain::Entity, n: &[&str]| {
        n.iter().map(|n| e.field(n).unwrap()).collect::<Vec<_>>()
    };
    let t = |s: &str| Value::Text(s.to_string());
    let now = Value::Time(chrono::Utc::now() - chrono::Duration::days(1));
    let mut c = kanta_store::WriteBatch::new(
        &CUSTOMERS,
        f(
            &CUSTOMERS,
            &["name", "email", "segment", "acquisition_channel"],
        ),
    );
    c.push(
        "long".into(),
        [
            t(long),
            t("laskutus.ja.reskontra.konsernipalvelut@pohjois-pohjanmaan-kiinteistohuolto.example.fi"),
            t("kiinteistöhuoltopalveluosakeyhtiöt"),
            t("messuosastolta-saatu-yhteydenottopyyntö-lomakkeella"),
        ],
    );
    app.store.write(&c).await.unwrap();
    let mut k = kanta_store::WriteBatch::new(
        &CONTACTS,
        f(&CONTACTS, &["customer_id", "name", "title", "email"]),
    );
    k.push(
        "long-c1".into(),
        [
            t("long"),
            t("Maija-Liisa_Kiinteistöhuoltopalvelupäällikkö"),
            t("Kiinteistöhuoltopalveluliiketoimintayksikönjohtaja"),
            t("maija-liisa.kiinteistohuoltopalvelupaallikko@example.fi"),
        ],
    );
    app.store.write(&k).await.unwrap();
    let mut cs = kanta_store::WriteBatch::new(
        &CASES,
        f(&CASES, &["customer_id", "opened_at", "category", "summary"]),
    );
    cs.push(
        "long-case".into(),
        [
            t("long"),
            now.clone(),
            t("laskutusjärjestelmäintegraatiovirhetilanne"),
            t(&"Pitkäsanainenkuvausilmanvälilyöntejä".repeat(4)),
        ],
    );
    app.store.write(&cs).await.unwrap();
    let mut i = kanta_store::WriteBatch::new(
        &INTERACTIONS,
        f(
            &INTERACTIONS,
            &["customer_id", "occurred_at", "kind", "note"],
        ),
    );
    i.push(
        "long-i".into(),
        [
            t("long"),
            now,
            t("note"),
            t(&"https://example.fi/".repeat(8)),
        ],
    );
    app.store.write(&i).await.unwrap();
}
