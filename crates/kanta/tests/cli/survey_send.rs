//! Survey waves with the real binary: `kanta survey send` queues a wave, two `kanta
//! serve` processes on one PostgreSQL database send it to a loopback SMTP server, one
//! is killed with `kill -9` in the middle, and no recipient receives the invitation
//! twice (the messages the killed one had begun end as "may have been sent", never
//! sent again). `kanta survey invitations` prints the log.
//!
//! The wave has `KANTA_KILL_WAVE` customers (default 3,000, to stay within a minute in
//! a debug build; `benches/survey_wave.sh` runs 10,000 on a release build).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kanta_core::access::Role;
use kanta_core::surveys::SurveyInput;
use kanta_core::{Acting, Channel, Core};
use kanta_domain::schema::CUSTOMERS;
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;

use crate::helpers::{Env, Serve, runtime, wait_for, without_settings};
use crate::smtp::SmtpServer;

fn manager() -> Acting {
    Acting::user(1, "manager@example.fi", Role::Manager, Channel::Ui)
}

/// `n` consenting customers (every 10th without consent), a survey `wave` active, no
/// quiet hours.
async fn setup(url: &str, n: usize) {
    let store = Store::open(url).await.expect("open");
    let core = Core::new(store.clone());
    core.set_store_setting(&manager(), "survey_quiet_hours", "none")
        .await
        .unwrap();
    let f = ["name", "email", "locale", "survey_consent"]
        .iter()
        .map(|x| CUSTOMERS.field(x).unwrap())
        .collect();
    let mut b = WriteBatch::new(&CUSTOMERS, f);
    for i in 0..n {
        b.push(
            format!("c{i}"),
            vec![
                Value::Text(format!("Asiakas {i}")),
                Value::Text(format!("asiakas{i}@example.fi")),
                Value::Text(if i % 4 == 0 { "en" } else { "fi" }.into()),
                Value::Bool(i % 10 != 9),
            ],
        );
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
    core.create_survey(
        &manager(),
        Some("wave"),
        SurveyInput {
            name: Some("Kahvilan kysely".into()),
            ..SurveyInput::default()
        },
    )
    .await
    .unwrap();
    core.set_survey_status(&manager(), "wave", "active")
        .await
        .unwrap();
    store.close().await;
}

fn outbox_counts(rt: &tokio::runtime::Runtime, url: &str) -> HashMap<String, i64> {
    rt.block_on(async {
        let store = Store::open(url).await.expect("open");
        let c = store.outbox_counts().await.expect("counts");
        store.close().await;
        c.into_iter().collect()
    })
}

fn serve(env: &Env, smtp: &SmtpServer) -> std::process::Command {
    let mut c = env.cmd();
    without_settings(&mut c)
        .args(["serve", "--bind", "127.0.0.1:0", "--score-every-hours", "0"])
        .env("KANTA_MAIL__SMTP_URL", smtp.url())
        .env("KANTA_JOBS__LEASE_SECONDS", "3")
        .env("KANTA_JOBS__RETRY_SECONDS", "1")
        .env("KANTA_JOBS__POLL_MS", "50");
    c
}

#[test]
fn two_servers_killed_mid_wave_send_no_invitation_twice() {
    let n: usize = std::env::var("KANTA_KILL_WAVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let invited = n - n / 10;
    let env = Env::new("postgres");
    let rt = runtime();
    rt.block_on(setup(&env.db.url, n));

    // The wave, from the command line.
    let t = Instant::now();
    let wave = env.json(&["survey", "send", "wave"]);
    let queued = t.elapsed();
    assert_eq!(wave["invited"], invited as i64, "{wave}");
    assert_eq!(wave["reasons"][0][0], "no_consent", "{wave}");
    assert_eq!(wave["mails"], invited as i64);
    let log = env.json(&["survey", "invitations", "wave", "--reason", "no_consent"]);
    assert_eq!(log["items"].as_array().unwrap().len(), n / 10);
    let text = env.ok(&["survey", "invitations", "wave", "--limit", "5"]);
    assert!(
        text.contains("invited") && text.contains("customer"),
        "{text}"
    );

    let smtp = rt.block_on(SmtpServer::start());
    let started = Instant::now();
    let mut a = Serve::start(&mut serve(&env, &smtp));
    let b = Serve::start(&mut serve(&env, &smtp));
    // Kill A with kill -9 in the middle of the wave.
    wait_for(
        "a quarter of the wave sent",
        Duration::from_secs(120),
        || (smtp.received().len() >= invited / 4).then_some(()),
    );
    a.kill();
    let at_kill = smtp.received().len();
    let counts = wait_for(
        "every message sent or failed",
        Duration::from_secs(300),
        || {
            let c = outbox_counts(&rt, &env.db.url);
            (c.get("queued").copied().unwrap_or(0) == 0).then_some(c)
        },
    );
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));

    let received = smtp.received();
    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for r in &received {
        for to in &r.to {
            *per_recipient.entry(to.clone()).or_default() += 1;
        }
    }
    let twice: Vec<_> = per_recipient.iter().filter(|(_, n)| **n > 1).collect();
    let sent = counts.get("sent").copied().unwrap_or(0);
    let failed = counts.get("failed").copied().unwrap_or(0);
    let doubt = counts.get("may_have_been_sent").copied().unwrap_or(0);
    eprintln!(
        "survey kill test: {n} customers, {invited} invited, queued in {queued:?} (CLI, debug); \
         {} received at the SMTP server ({at_kill} when A was killed), {sent} sent, \
         {doubt} ended \"may have been sent\", {} duplicates, all settled in {took:?}",
        received.len(),
        twice.len()
    );
    assert!(
        twice.is_empty(),
        "recipients that got two mails: {twice:?}\n{}",
        b.log()
    );
    assert_eq!(sent + failed, invited as i64, "{counts:?}");
    assert_eq!(
        failed, doubt,
        "every failure is a message a dead sender had begun"
    );
    // Every message recorded sent arrived; the begun ones arrived at most once.
    assert!(received.len() as i64 >= sent && received.len() as i64 <= sent + doubt);
    assert_eq!(per_recipient.len(), received.len());
    // A killed sender leaves at most the messages its workers had begun: each of its
    // two workers (serve.workers' default) sends MAIL_PARALLEL side by side.
    let most = 2 * kanta_core::jobs::MAIL_PARALLEL as i64;
    assert!(doubt <= most, "{doubt} in doubt, more than {most}");
    drop(b);
}

/// A wave to nobody is refused (exit 1, the reason named) and no wave is written: a
/// tier not in A-D, a segment no customer is in, listed ids that match no one.
#[test]
fn a_wave_to_nobody_is_refused() {
    for backend in crate::helpers::BACKENDS {
        let env = Env::new(backend);
        let rt = runtime();
        rt.block_on(setup(&env.db.url, 20));
        for (args, says) in [
            (
                vec!["survey", "send", "wave", "--tier", "Z"],
                "tier: 'Z' is not one of A, B, C, D",
            ),
            (
                vec!["survey", "send", "wave", "--segment", "nosuch"],
                "no customers match segment 'nosuch'",
            ),
            (
                vec!["survey", "send", "wave", "--customers", "x1,x2"],
                "no customers match the ids given",
            ),
        ] {
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(1), "{backend} {args:?}");
            let err = crate::helpers::stderr(&out);
            assert!(err.contains(says), "{backend} {args:?}: {err}");
        }
        // Tiers in any case are accepted; nobody is in tier b, so it is refused too.
        let out = env.run(&["survey", "send", "wave", "--tier", "b", "--dry-run"]);
        let err = crate::helpers::stderr(&out);
        assert!(
            err.contains("no customers match tier 'B'"),
            "{backend}: {err}"
        );
        let waves: i64 = rt.block_on(async {
            let store = Store::open(&env.db.url).await.expect("open");
            let id = store
                .survey_by_external_id("wave")
                .await
                .unwrap()
                .unwrap()
                .0;
            let n = store.survey_waves(id, 10).await.unwrap().len() as i64;
            store.close().await;
            n
        });
        assert_eq!(waves, 0, "{backend}: no wave row written");
        let log = env.json(&["survey", "invitations", "wave"]);
        assert_eq!(log["items"].as_array().unwrap().len(), 0, "{backend}");
        // A real audience still goes out.
        let wave = env.json(&["survey", "send", "wave", "--channel", "link"]);
        assert_eq!(wave["considered"], 20, "{backend}: {wave}");
    }
}
