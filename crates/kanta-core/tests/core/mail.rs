//! Mail: delivery to a real SMTP server in the test process (`smtp.rs`), errors and
//! their kinds, the password kept out of sight, and the templates.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kanta_core::mail::{Lang, MailError, Mailer, Message, SmtpMailer, TEMPLATES, render};

use crate::smtp::{SmtpServer, closed_port, parse};

const FROM: &str = "Kanta <kanta@example.fi>";
const TIMEOUT: Duration = Duration::from_secs(10);

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::from_url(url, FROM, TIMEOUT).expect("a valid mail URL")
}

fn message(to: &str) -> Message {
    Message {
        to: to.into(),
        subject: "Tervetuloa".into(),
        text: "Hei!".into(),
        html: None,
    }
}

#[tokio::test]
async fn finnish_text_and_html_arrive_intact() {
    let server = SmtpServer::start().await;
    let mailer: Arc<dyn Mailer> = Arc::new(mailer(&server.url()));
    let text = "Hei Åsa!\n\nKiitos käynnistä Kahvila Ääressä. Öisin olemme kiinni.\n.Piste rivin alussa.\n..kaksi\n";
    let html = "<p>Hei Åsa!</p>\n<p>Kiitos käynnistä Kahvila Ääressä. Öisin olemme kiinni.</p>\n";
    let subject =
        "Hyvää syntymäpäivää, Åsa! Ämpäri ja öljy (ÄÖÅ äöå) – pitkä otsikko, joka taitetaan";
    let sent = Message {
        to: "Åsa Öhman <asa@example.fi>".into(),
        subject: subject.into(),
        text: text.into(),
        html: Some(html.into()),
    };
    mailer.send(&sent).await.expect("delivered");

    let received = server.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.from, "kanta@example.fi");
    assert_eq!(r.to, ["asa@example.fi"]);
    assert_eq!(r.login, None);
    let mail = parse(&r.data);
    assert_eq!(mail.subject(), subject);
    assert!(
        mail.header("content-type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{mail:?}"
    );
    assert_eq!(mail.parts.len(), 2);
    assert!(
        mail.parts[0]
            .content_type
            .eq_ignore_ascii_case("text/plain; charset=utf-8")
    );
    assert_eq!(mail.body("text/plain").unwrap(), text);
    assert_eq!(mail.body("text/html").unwrap(), html);
    assert!(mail.header("date").is_some() && mail.header("message-id").is_some());

    // Text alone is one text/plain part.
    let only_text = Message {
        html: None,
        ..sent.clone()
    };
    mailer.send(&only_text).await.expect("delivered");
    let mail = parse(&server.received()[1].data);
    assert!(
        mail.header("content-type")
            .unwrap()
            .eq_ignore_ascii_case("text/plain; charset=utf-8")
    );
    assert_eq!(mail.parts.len(), 1);
    // A single part ends with the blank lines of lettre's framing and SMTP's.
    assert_eq!(mail.body("text/plain").unwrap().trim_end(), text.trim_end());

    // Mostly non-ASCII text goes as base64 rather than quoted-printable.
    let dense = Message {
        text: "äöåÄÖÅ€".repeat(40),
        html: Some(format!("<p>{}</p>", "äöåÄÖÅ€".repeat(40))),
        ..sent
    };
    mailer.send(&dense).await.expect("delivered");
    let mail = parse(&server.received()[2].data);
    assert_eq!(mail.body("text/plain").unwrap(), dense.text);
    assert_eq!(mail.body("text/html").unwrap(), dense.html.unwrap());
}

#[tokio::test]
async fn the_login_in_the_url_reaches_the_server() {
    let server = SmtpServer::start().await;
    let (user, password) = ("kanta@example.fi", "sala:sana/ä%@ö");
    server.require_login(user, password);
    // A '@' left unencoded in the password works too: the last '@' ends it.
    let encoded = "sala%3Asana%2F%C3%A4%25@%C3%B6";
    let url = format!("smtp://kanta%40example.fi:{encoded}@{}", server.addr());
    mailer(&url)
        .send(&message("maija@example.fi"))
        .await
        .unwrap();
    assert_eq!(
        server.received()[0].login,
        Some((user.to_string(), password.to_string()))
    );

    // LOGIN when the server offers only that.
    server.offer_auth("LOGIN");
    mailer(&url)
        .send(&message("maija@example.fi"))
        .await
        .unwrap();
    assert_eq!(
        server.received()[1].login,
        Some((user.to_string(), password.to_string()))
    );

    // localhost counts as this machine.
    let local = format!(
        "smtp://kanta%40example.fi:{encoded}@localhost:{}",
        server.addr().port()
    );
    mailer(&local)
        .send(&message("maija@example.fi"))
        .await
        .unwrap();

    // A wrong password is refused for good, and the error does not show it.
    let wrong = format!("smtp://kanta%40example.fi:V44r4Salasana@{}", server.addr());
    let e = mailer(&wrong)
        .send(&message("maija@example.fi"))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(matches!(e, MailError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("535"), "{e}");
    assert!(!format!("{e} {e:?}").contains("V44r4Salasana"), "{e:?}");

    // No login where one is required: refused for good.
    let e = mailer(&server.url())
        .send(&message("maija@example.fi"))
        .await
        .unwrap_err();
    assert!(!e.is_transient() && e.to_string().contains("530"), "{e}");
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = closed_port();
    let e = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(&message("maija@example.fi"))
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(matches!(e, MailError::Connection { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[tokio::test]
async fn a_stopped_server_is_transient_and_a_restarted_one_takes_mail_again() {
    let mut server = SmtpServer::start().await;
    let mailer = mailer(&server.url());
    server.stop().await;
    let e = mailer.send(&message("maija@example.fi")).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    server.restart().await;
    mailer.send(&message("maija@example.fi")).await.unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_5xx_reply_is_permanent_and_a_4xx_reply_transient() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&server.url());

    server.answer_mail_from(Some(550));
    let e = mailer.send(&message("maija@example.fi")).await.unwrap_err();
    assert!(!e.is_transient(), "{e:?}");
    assert!(matches!(e, MailError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("550"), "{e}");

    server.answer_mail_from(Some(451));
    let e = mailer.send(&message("maija@example.fi")).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(matches!(e, MailError::Deferred { .. }), "{e:?}");
    assert!(e.to_string().contains("451"), "{e}");

    server.answer_mail_from(None);
    mailer.send(&message("maija@example.fi")).await.unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_silent_server_times_out_as_transient() {
    // Accepts the connection and never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let mailer =
        SmtpMailer::from_url(&format!("smtp://{addr}"), FROM, Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let e = mailer.send(&message("maija@example.fi")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.is_transient(), "{e:?}");
    hold.abort();
}

#[tokio::test]
async fn starttls_is_required_when_asked_for() {
    let server = SmtpServer::start().await;
    let url = format!("smtp+starttls://127.0.0.1:{}", server.addr().port());
    let e = mailer(&url)
        .send(&message("maija@example.fi"))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e:?}");
    assert!(e.to_string().contains("STARTTLS"), "{e}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_bad_recipient_is_permanent_and_named() {
    let server = SmtpServer::start().await;
    let e = mailer(&server.url())
        .send(&message("ei osoite"))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e:?}");
    assert!(e.to_string().contains("'ei osoite'"), "{e}");
    assert!(server.received().is_empty());
}

#[test]
fn the_password_never_shows() {
    let password = "Sal41n3n-S4n4";
    for url in [
        format!("smtps://kanta:{password}@mail.example.fi"),
        format!("smtp+starttls://kanta:{password}@mail.example.fi:2587"),
        format!("smtp://kanta:{password}@127.0.0.1:2525"),
    ] {
        let m = mailer(&url);
        let shown = format!("{m:?} {}", m.url());
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("kanta@"), "{shown}");
    }
    let m = mailer(&format!("smtps://kanta:{password}@mail.example.fi"));
    assert_eq!(m.url(), "smtps://kanta@mail.example.fi:465");
    let m = mailer("smtp+starttls://mail.example.fi");
    assert_eq!(m.url(), "smtp+starttls://mail.example.fi:587");
    let m = mailer("smtp://[::1]:2525");
    assert_eq!(m.url(), "smtp://[::1]:2525");

    // Nor in the errors of URLs with a password.
    for url in [
        format!("smtp://kanta:{password}@mail.example.fi:25"),
        format!("smtp://kanta:{password}%zz@localhost"),
        format!("smtp://kanta:{password}@localhost:port"),
        format!("smtp://kanta:{password}/x@"),
        format!("smtp://kanta:{password}/x@localhost/x"),
        format!("smpt://kanta:{password}@localhost"),
        format!("kanta:{password}@localhost"),
    ] {
        let e = SmtpMailer::from_url(&url, FROM, TIMEOUT).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(password), "{url}: {shown}");
    }
}

#[test]
fn bad_settings_are_named() {
    let cases = [
        ("mail.example.fi", "no scheme"),
        ("http://mail.example.fi", "scheme 'http' is unknown"),
        ("smtp://", "no host"),
        ("smtp://:25", "no host"),
        ("smtp://mail.example.fi:abc", "port 'abc'"),
        ("smtp://mail.example.fi:0", "port '0'"),
        ("smtp://mail.example.fi:70000", "port '70000'"),
        ("smtp://mail.example.fi/kanta", "path or query"),
        ("smtp://mail.example.fi?tls=required", "path or query"),
        ("smtp://[::1:25", "no closing ']'"),
        ("smtp://mail example.fi", "not a host name"),
        ("smtp://kanta@localhost", "no password"),
        ("smtp://:salasana@localhost", "no user name"),
        ("smtp://@localhost", "no user name or password"),
        (
            "smtp://kanta:sala%2@localhost",
            "password in the mail URL has an invalid percent",
        ),
        (
            "smtp://kan%zzta:salasana@localhost",
            "user name in the mail URL has an invalid percent",
        ),
        ("smtp://kanta:salasana@mail.example.fi", "smtp+starttls://"),
        ("smtp://kanta:salasana@10.0.0.1", "only to this machine"),
    ];
    for (url, expected) in cases {
        let e = SmtpMailer::from_url(url, FROM, TIMEOUT).unwrap_err();
        assert!(matches!(e, MailError::Config(_)), "{url}: {e:?}");
        assert!(!e.is_transient());
        assert!(e.to_string().contains(expected), "{url}: {e}");
    }
    let e = SmtpMailer::from_url("smtp://localhost", "ei osoite", TIMEOUT).unwrap_err();
    assert!(e.to_string().contains("sender address 'ei osoite'"), "{e}");

    for url in [
        "smtp://localhost",
        "smtp://127.0.0.1:2525/",
        "SMTP://Mail.Example.FI",
        "smtp://kanta:salasana@[::1]:2525",
        "smtps://kanta:salasana@mail.example.fi",
        "smtp+starttls://kanta:salasana@mail.example.fi:587",
    ] {
        SmtpMailer::from_url(url, "kanta@example.fi", TIMEOUT)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn templates_escape_values_in_html_only() {
    let value = "<script>alert('hei')</script> & \"lainaus\"";
    let vars = [
        ("site", "Kahvila & Leipomo"),
        ("kind", "score"),
        ("id", "42"),
        ("error", value),
    ];
    for lang in Lang::ALL {
        let r = render("job_failed", lang, &vars).unwrap();
        assert!(r.text.contains(value), "{}", r.text);
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(
            r.html.contains(
                "&lt;script&gt;alert(&#39;hei&#39;)&lt;/script&gt; &amp; &quot;lainaus&quot;"
            ),
            "{}",
            r.html
        );
        assert!(r.html.contains("Kahvila &amp; Leipomo"));
        assert!(r.subject.contains("score") && r.subject.contains("Kahvila & Leipomo"));
        assert!(r.html.contains(&format!("<html lang=\"{}\">", lang.code())));
    }
    // A value is not read again, and a subject stays one line.
    let r = render(
        "test",
        Lang::En,
        &[("site", "{{time}}\r\nBcc: x@example.fi"), ("time", "now")],
    )
    .unwrap();
    assert_eq!(
        r.subject,
        "Test message from Kanta ({{time}}  Bcc: x@example.fi)"
    );
    assert!(r.text.contains("Site: {{time}}\r\nBcc"));
}

#[test]
fn the_test_message_says_what_it_is() {
    let vars = [("site", "Kahvila Ääri"), ("time", "31.12.2024 klo 10.00")];
    let fi = render("test", Lang::Fi, &vars).unwrap();
    assert_eq!(fi.subject, "Kantan testiviesti (Kahvila Ääri)");
    assert!(
        fi.text.starts_with("Hei!\n\nTämä on Kantan testiviesti."),
        "{}",
        fi.text
    );
    assert!(
        fi.text
            .contains("Palvelu: Kahvila Ääri\nLähetetty: 31.12.2024 klo 10.00")
    );
    assert!(fi.html.contains("Tämä on Kantan testiviesti."));
    let en = render("test", Lang::En, &vars).unwrap();
    assert_eq!(en.subject, "Test message from Kanta (Kahvila Ääri)");
    assert!(en.text.contains("This is a test message from Kanta."));
}

#[test]
fn unknown_templates_and_missing_values_are_named() {
    let e = render("welcome", Lang::Fi, &[]).unwrap_err();
    assert!(matches!(e, MailError::Template { .. }));
    assert!(e.to_string().contains("welcome"), "{e}");
    assert!(e.to_string().contains("job_failed"), "{e}");
    let e = render("job_failed", Lang::En, &[("site", "x"), ("kind", "score")]).unwrap_err();
    assert!(e.to_string().contains("job_failed (en)"), "{e}");
    assert!(e.to_string().contains("{{id}}"), "{e}");
    assert_eq!(Lang::parse("FI-fi"), Some(Lang::Fi));
    assert_eq!(Lang::parse("en"), Some(Lang::En));
    assert_eq!(Lang::parse("sv"), None);
}

/// The `{{name}}`s of a template source.
fn placeholders(source: &str) -> BTreeSet<String> {
    source
        .split("{{")
        .skip(1)
        .map(|s| s.split_once("}}").expect("closed").0.trim().to_string())
        .collect()
}

#[test]
fn every_template_has_both_languages_and_forms_with_the_same_placeholders() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/mail");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        on_disk.insert(entry.unwrap().file_name().into_string().unwrap());
    }
    let mut expected = BTreeSet::new();
    for name in TEMPLATES {
        let sources: Vec<(String, String)> = ["fi.txt", "en.txt", "fi.html", "en.html"]
            .iter()
            .map(|form| {
                let file = format!("{name}.{form}");
                expected.insert(file.clone());
                let source = std::fs::read_to_string(dir.join(&file))
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                (file, source)
            })
            .collect();
        let first = placeholders(&sources[0].1);
        assert!(!first.is_empty(), "{name}");
        for (file, source) in &sources {
            assert_eq!(placeholders(source), first, "{file} and {}", sources[0].0);
            if file.ends_with(".txt") {
                assert!(source.starts_with("Subject: "), "{file}");
            }
        }
        let vars: Vec<(&str, &str)> = first.iter().map(|p| (p.as_str(), "x")).collect();
        for lang in Lang::ALL {
            let r = render(name, lang, &vars).unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty() && !r.html.is_empty());
            assert!(!r.text.contains("{{") && !r.html.contains("{{"));
        }
    }
    assert_eq!(
        on_disk, expected,
        "files under templates/mail/ and TEMPLATES"
    );
}

#[tokio::test]
async fn a_rendered_template_is_delivered() {
    let server = SmtpServer::start().await;
    let vars = [("site", "Kahvila Ääri"), ("time", "31.12.2024 klo 10.00")];
    let rendered = render("test", Lang::Fi, &vars).unwrap();
    let sent = rendered.clone().to("yllapito@example.fi");
    mailer(&server.url()).send(&sent).await.unwrap();
    let mail = parse(&server.received()[0].data);
    assert_eq!(mail.subject(), rendered.subject);
    assert_eq!(mail.body("text/plain").unwrap(), rendered.text);
    assert_eq!(mail.body("text/html").unwrap(), rendered.html);
}
