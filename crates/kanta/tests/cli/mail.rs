//! `kanta mail test` against a real SMTP server: delivered in Finnish or English with
//! the letters intact; when the server is down the message stays in the outbox and
//! `kanta serve` sends it, once, when the server is back; without a mail server set,
//! one sentence says what to set.

use std::time::Duration;

use crate::helpers::{Env, Serve, mail_jobs, output_within, runtime, stderr, wait_for};
use crate::smtp::{SmtpServer, parse};

fn to(env: &Env, url: &str) -> std::process::Command {
    let mut c = env.cmd();
    crate::helpers::without_settings(&mut c)
        .env("KANTA_MAIL__SMTP_URL", url)
        .env("KANTA_JOBS__RETRY_SECONDS", "1");
    c
}

#[test]
fn a_test_message_is_delivered_and_a_failed_one_is_sent_once_when_the_server_is_back() {
    let rt = runtime();
    let mut server = rt.block_on(SmtpServer::start());
    let env = Env::new("sqlite");
    let address = "someone@example.fi";
    let to_us = |server: &SmtpServer| {
        server
            .received()
            .into_iter()
            .filter(|m| m.to == [address])
            .collect::<Vec<_>>()
    };

    // Finnish by default (the store's language).
    let out = output_within(
        to(&env, &server.url()).args(["mail", "test", address]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("Sent a test message to someone@example.fi"));
    let got = to_us(&server);
    assert_eq!(got.len(), 1, "one message");
    let m = parse(&got[0].data);
    assert!(
        m.subject().starts_with("Kantan testiviesti"),
        "{}",
        m.subject()
    );
    let text = m.body("text/plain").expect("a text part");
    assert!(
        text.contains("Hei!") && text.contains("Tämä on Kantan testiviesti"),
        "{text}"
    );
    assert!(
        text.contains("sähköpostin lähetys toimii") && text.contains("Lähetetty:"),
        "{text}"
    );
    let html = m.body("text/html").expect("an HTML part");
    assert!(
        html.contains("<html lang=\"fi\">") && html.contains("Tämä on Kantan testiviesti"),
        "{html}"
    );

    // In English when asked.
    let out = output_within(
        to(&env, &server.url()).args(["mail", "test", address, "--lang", "en"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = to_us(&server);
    assert_eq!(got.len(), 2);
    let m = parse(&got[1].data);
    assert!(
        m.subject().starts_with("Test message from Kanta"),
        "{}",
        m.subject()
    );
    let text = m.body("text/plain").unwrap();
    assert!(
        text.contains("Hello,") && text.contains("sending mail works"),
        "{text}"
    );

    // The server is down: the message stays in the outbox with its retry time.
    rt.block_on(server.stop());
    let out = output_within(
        to(&env, &server.url()).args(["mail", "test", address]),
        Duration::from_secs(60),
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("Could not send the test message to someone@example.fi yet")
            && err.contains("It stays in the outbox")
            && err.contains("kanta serve's workers try again at ")
            && err.trim_end().ends_with(" UTC."),
        "{err}"
    );
    let jobs = env.json(&["jobs"]);
    let job = &mail_jobs(&jobs)[0];
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    let last_error = job["last_error"].as_str().expect("the last error");
    assert!(
        last_error.contains("could not talk to the mail server"),
        "{last_error}"
    );
    let mail = &jobs["outbox"][0];
    assert_eq!(
        (&mail["status"], &mail["attempts"], &mail["to"]),
        (&"queued".into(), &1.into(), &address.into()),
        "{mail}"
    );
    assert_eq!(mail["id"], job["payload"]["mail_id"]);

    // Back on the same port: kanta serve sends it, exactly once.
    rt.block_on(server.restart());
    let serve = Serve::start(to(&env, &server.url()).args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--score-every-hours",
        "0",
    ]));
    wait_for("the queued message", Duration::from_secs(20), || {
        (to_us(&server).len() >= 3).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(to_us(&server).len(), 3, "sent once");
    let jobs = env.json(&["jobs"]);
    assert_eq!(mail_jobs(&jobs)[0]["status"], "done", "{jobs}");
    assert_eq!(jobs["outbox"][0]["status"], "sent", "{jobs}");
    drop(serve);
}

#[test]
fn without_a_mail_server_one_sentence_says_to_set_mail_smtp_url() {
    let env = Env::new("sqlite");
    let mut c = env.cmd();
    crate::helpers::without_settings(&mut c).args(["mail", "test", "someone@example.fi"]);
    let out = output_within(&mut c, Duration::from_secs(60));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("set mail.smtp_url"), "{err}");
}
