//! Background jobs with real `kanta serve` processes: two servers on one PostgreSQL
//! database score once; a server killed (`kill -9`) while sending a message hands it
//! over to another when its lease ends, and the message arrives once; a job that failed
//! for good is shown by `kanta jobs` and queued again by `kanta jobs retry`, audited.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma};
use serde_json::Value;

use crate::helpers::{
    BACKENDS, Env, Serve, Tarpit, mail_jobs, output_within, runtime, stderr, wait_for,
    without_settings,
};
use crate::smtp::{SmtpServer, closed_port};

/// About 2,000 customers' orders over the last 700 days, dates relative to today.
fn recent_orders() -> String {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let today = chrono::Utc::now().date_naive();
    let rates = Gamma::new(0.8, 1.0 / 20.0).unwrap();
    let lives = Exp::new(1.0 / 400.0).unwrap();
    let mut s = String::from("id,customer_id,occurred_at,amount,currency\n");
    let mut n = 0;
    for c in 0..2000 {
        let rate: f64 = rates.sample(&mut rng);
        let life: f64 = lives.sample(&mut rng);
        let start = rng.random_range(0..700i64);
        let mut day = start;
        while day < 700 && ((day - start) as f64) < life {
            let d = today - chrono::Duration::days(700 - day);
            let cents = rng.random_range(300..5000);
            let _ = writeln!(s, "o{n},c{c},{d},{}.{:02},EUR", cents / 100, cents % 100);
            n += 1;
            day += if rate > 0.0 {
                (Exp::new(rate).unwrap().sample(&mut rng) as i64).max(1)
            } else {
                700
            };
        }
    }
    s
}

fn serve_cmd(env: &Env) -> std::process::Command {
    let mut c = env.cmd();
    without_settings(&mut c).args(["serve", "--bind", "127.0.0.1:0"]);
    c
}

fn model_runs(env: &Env, rt: &tokio::runtime::Runtime) -> usize {
    rt.block_on(async {
        let store = kanta_store::Store::open(&env.db.url).await.expect("open");
        let n = store.model_runs(None, 100).await.expect("model runs").len();
        store.close().await;
        n
    })
}

#[test]
fn two_servers_on_one_postgres_score_once() {
    let env = Env::new("postgres");
    env.file("orders.csv", &recent_orders());
    env.ok(&["import", "transactions", "orders.csv"]);
    assert!(env.count("customers") > 1500);
    let rt = runtime();
    assert_eq!(model_runs(&env, &rt), 0);

    let started = Instant::now();
    let mut a = Serve::spawn(&mut serve_cmd(&env));
    let mut b = Serve::spawn(&mut serve_cmd(&env));
    a.ready();
    b.ready();
    wait_for("a model run", Duration::from_secs(180), || {
        (model_runs(&env, &rt) >= 1).then_some(())
    });
    let scored = started.elapsed();
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        model_runs(&env, &rt),
        1,
        "two servers stored more than one run (the first after {scored:?})\n{}\n{}",
        a.log(),
        b.log()
    );
    let jobs = env.json(&["jobs"]);
    let scores: Vec<&Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "score")
        .collect();
    assert_eq!(scores.len(), 1, "one score job: {scores:?}");
    assert_eq!(scores[0]["status"], "done", "{scores:?}");
}

#[test]
fn a_message_held_by_a_killed_server_is_sent_once_by_another() {
    let env = Env::new("postgres");
    let rt = runtime();
    let smtp = rt.block_on(SmtpServer::start());
    let tarpit = Tarpit::start();
    let address = "someone@example.fi";

    // Queued while no mail server answers: retried a second later.
    let mut c = env.cmd();
    without_settings(&mut c)
        .env(
            "KANTA_MAIL__SMTP_URL",
            format!("smtp://127.0.0.1:{}", closed_port()),
        )
        .env("KANTA_JOBS__RETRY_SECONDS", "1")
        .args(["mail", "test", address]);
    let out = output_within(&mut c, Duration::from_secs(60));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("stays in the outbox"),
        "{}",
        stderr(&out)
    );

    // Server A takes it to a mail server that never answers.
    let mut a = Serve::start(
        serve_cmd(&env)
            .args(["--score-every-hours", "0"])
            .env("KANTA_MAIL__SMTP_URL", format!("smtp://{}", tarpit.addr))
            .env("KANTA_MAIL__TIMEOUT_SECONDS", "120")
            .env("KANTA_JOBS__LEASE_SECONDS", "3")
            .env("KANTA_JOBS__RETRY_SECONDS", "1"),
    );
    let a_pid = format!(":{}:", a.pid());
    let held = wait_for("server A to hold the job", Duration::from_secs(30), || {
        let job = mail_jobs(&env.json(&["jobs"])).into_iter().next()?;
        (job["status"] == "running" && job["locked_by"].as_str()?.contains(&a_pid)).then_some(job)
    });
    a.kill();
    let killed = Instant::now();

    // Server B, with a mail server that answers, takes it over when A's lease ends.
    let b = Serve::start(
        serve_cmd(&env)
            .args(["--score-every-hours", "0"])
            .env("KANTA_MAIL__SMTP_URL", smtp.url())
            .env("KANTA_JOBS__LEASE_SECONDS", "3")
            .env("KANTA_JOBS__RETRY_SECONDS", "1"),
    );
    let to_us = || smtp.received().iter().filter(|m| m.to == [address]).count();
    wait_for(
        "the message at the SMTP server",
        Duration::from_secs(15),
        || (to_us() >= 1).then_some(()),
    );
    let arrived = killed.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(to_us(), 1, "exactly once\n{}", b.log());
    let job = wait_for("the job done", Duration::from_secs(10), || {
        let job = mail_jobs(&env.json(&["jobs"])).into_iter().next()?;
        (job["status"] == "done").then_some(job)
    });
    assert_eq!(job["id"], held["id"]);
    assert!(job["attempts"].as_i64().unwrap() >= 2, "{job}");
    assert_eq!(env.json(&["jobs"])["outbox"][0]["status"], "sent");
    assert!(arrived < Duration::from_secs(15), "{arrived:?}");
    drop((b, tarpit));
}

#[test]
fn a_failed_job_is_listed_and_retried_by_an_admin() {
    let rt = runtime();
    let smtp = rt.block_on(SmtpServer::start());
    for backend in BACKENDS {
        let env = Env::new(backend);
        // One attempt only, to a port where nobody listens: it fails for good.
        let mut c = env.cmd();
        without_settings(&mut c)
            .env(
                "KANTA_MAIL__SMTP_URL",
                format!("smtp://127.0.0.1:{}", closed_port()),
            )
            .env("KANTA_JOBS__MAX_ATTEMPTS", "1")
            .args(["mail", "test", "retry@example.fi"]);
        let out = output_within(&mut c, Duration::from_secs(60));
        assert!(!out.status.success(), "{backend}");
        let err = stderr(&out);
        assert!(
            err.contains("Could not send the test message to retry@example.fi:")
                && !err.contains("stays in the outbox"),
            "{backend}: {err}"
        );
        let job = mail_jobs(&env.json(&["jobs"]))[0].clone();
        assert_eq!(job["status"], "failed", "{backend}: {job}");
        let id = job["id"].as_i64().unwrap().to_string();

        // The table: counts, the job with its attempts and error, the outbox.
        let table = env.ok(&["jobs"]);
        assert!(
            table.lines().next().unwrap().starts_with("Jobs: ") && table.contains("failed 1"),
            "{backend}: {table}"
        );
        assert!(
            table.contains("ID") && table.contains("KIND") && table.contains("LAST ERROR"),
            "{table}"
        );
        let row = table
            .lines()
            .find(|l| l.contains("mail.send"))
            .unwrap_or_else(|| panic!("{backend}: no job in {table}"));
        assert!(
            row.trim_start().starts_with(&id)
                && row.contains("failed")
                && row.contains("1/8")
                && row.contains("could not talk to the mail server"),
            "{backend}: {row}"
        );
        assert!(
            table.contains("Outbox: 1 messages not sent yet"),
            "{backend}: {table}"
        );
        let failed = env.json(&["jobs", "--status", "failed"]);
        assert_eq!(failed["jobs"].as_array().unwrap().len(), 1);
        assert_eq!(
            env.json(&["jobs", "--status", "done"])["jobs"]
                .as_array()
                .unwrap()
                .len(),
            0
        );

        // Retry: queued again, attempts from 0, and audited.
        let out = env.run(&["jobs", "retry", &id]);
        assert!(out.status.success(), "{backend}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("Job {id} (mail.send) is queued again")),
            "{}",
            stderr(&out)
        );
        let job = mail_jobs(&env.json(&["jobs"]))[0].clone();
        assert_eq!(
            (&job["status"], &job["attempts"]),
            (&"queued".into(), &0.into()),
            "{backend}: {job}"
        );
        let again = env.run(&["jobs", "retry", &id]);
        assert!(!again.status.success());
        assert!(
            stderr(&again).contains("only failed jobs can be retried"),
            "{}",
            stderr(&again)
        );
        let entries = env.json(&["audit", "--entity", "jobs"])["items"].clone();
        let retry = &entries[0];
        assert_eq!(
            (&retry["action"], &retry["record_id"], &retry["channel"]),
            (&"job_retry".into(), &id.as_str().into(), &"cli".into()),
            "{backend}: {entries}"
        );
        assert_eq!(retry["details"]["kind"], "mail.send");
        assert_eq!(
            retry["changes"]["status"],
            serde_json::json!({"before": "failed", "after": "queued"})
        );
        assert!(env.ok(&["audit"]).contains("job_retry"));

        // A server with a mail server that answers sends it.
        let before = smtp.received().len();
        let mut c = serve_cmd(&env);
        c.args(["--score-every-hours", "0"])
            .env("KANTA_MAIL__SMTP_URL", smtp.url());
        let serve = Serve::start(&mut c);
        wait_for("the retried message", Duration::from_secs(20), || {
            (smtp.received().len() > before).then_some(())
        });
        let job = wait_for("the job done", Duration::from_secs(10), || {
            let job = mail_jobs(&env.json(&["jobs"])).into_iter().next()?;
            (job["status"] == "done").then_some(job)
        });
        assert_eq!(job["attempts"], 1, "{backend}: {job}");
        drop(serve);
    }
}
