//! Background jobs with real `kanta serve` processes: two servers on one PostgreSQL
//! database score once; a server killed (`kill -9`) while sending a message hands its
//! jobs over to another when its lease ends: the message it had begun ends failed as
//! "may have been sent" and is never sent again, the one it had not begun arrives
//! once; a job that failed
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

/// The outbox's messages by id, as the store has them (the claim included).
fn outbox_mails(env: &Env, rt: &tokio::runtime::Runtime) -> Vec<kanta_store::outbox::Mail> {
    rt.block_on(async {
        let store = kanta_store::Store::open(&env.db.url).await.expect("open");
        let mut m = store.outbox(100).await.expect("outbox");
        store.close().await;
        m.sort_by_key(|m| m.id);
        m
    })
}

/// `kanta mail test ADDRESS` while no mail server answers: the message stays queued
/// (unclaimed) and its job retries a second later.
fn queue_unsent(env: &Env, address: &str) {
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
}

/// At most once: server A claims two messages' jobs and begins sending the first to a
/// mail server that never answers; it is killed (`kill -9`) there. Server B takes both
/// jobs over when A's lease ends: the message A had begun may have reached the server,
/// so it ends failed as "may have been sent" and is never sent again; the one A had
/// not begun is sent by B, once.
#[test]
fn a_message_begun_by_a_killed_server_is_never_sent_again_and_the_rest_once() {
    let env = Env::new("postgres");
    let rt = runtime();
    let smtp = rt.block_on(SmtpServer::start());
    let tarpit = Tarpit::start();
    // One more message than a worker sends side by side: all are claimed together,
    // the first MAIL_PARALLEL are begun, the last waits its turn.
    let n = kanta_core::jobs::MAIL_PARALLEL + 1;
    let addresses: Vec<String> = (0..n).map(|i| format!("someone{i}@example.fi")).collect();
    for a in &addresses {
        queue_unsent(&env, a);
    }
    // All jobs due before A looks, so its one worker claims them together.
    std::thread::sleep(Duration::from_millis(1500));
    let queued = outbox_mails(&env, &rt);
    assert_eq!(queued.len(), n);
    assert!(
        queued
            .iter()
            .all(|m| m.status == "queued" && m.sending_at.is_none()),
        "{queued:?}"
    );

    // Server A (one worker) takes them to a mail server that never answers.
    let mut a = Serve::start(
        serve_cmd(&env)
            .args(["--score-every-hours", "0"])
            .env("KANTA_SERVE__WORKERS", "1")
            .env("KANTA_MAIL__SMTP_URL", format!("smtp://{}", tarpit.addr))
            .env("KANTA_MAIL__TIMEOUT_SECONDS", "120")
            .env("KANTA_JOBS__LEASE_SECONDS", "3")
            .env("KANTA_JOBS__RETRY_SECONDS", "1"),
    );
    let a_pid = format!(":{}:", a.pid());
    let held = wait_for(
        "server A to hold every job",
        Duration::from_secs(30),
        || {
            let jobs = mail_jobs(&env.json(&["jobs"]));
            (jobs.len() == n
                && jobs.iter().all(|j| {
                    j["status"] == "running"
                        && j["locked_by"].as_str().is_some_and(|l| l.contains(&a_pid))
                }))
            .then_some(jobs)
        },
    );
    // A has begun MAIL_PARALLEL messages (claimed, stuck at the tarpit), not the last.
    let begun = wait_for("A to begin its messages", Duration::from_secs(15), || {
        let m = outbox_mails(&env, &rt);
        let claimed: Vec<_> = m.into_iter().filter(|m| m.sending_at.is_some()).collect();
        (claimed.len() == n - 1).then_some(claimed)
    });
    a.kill();
    let not_begun = outbox_mails(&env, &rt)
        .into_iter()
        .find(|m| begun.iter().all(|b| b.id != m.id))
        .unwrap();
    assert!(not_begun.sending_at.is_none() && not_begun.status == "queued");
    let job_of = |mail: i64| {
        held.iter()
            .find(|j| j["payload"]["mail_id"] == mail)
            .unwrap_or_else(|| panic!("no job for message {mail}: {held:?}"))["id"]
            .clone()
    };
    let other_job = job_of(not_begun.id);
    let killed = Instant::now();

    // Server B, with a mail server that answers, takes them over when A's lease ends.
    let b = Serve::start(
        serve_cmd(&env)
            .args(["--score-every-hours", "0"])
            .env("KANTA_MAIL__SMTP_URL", smtp.url())
            .env("KANTA_JOBS__LEASE_SECONDS", "3")
            .env("KANTA_JOBS__RETRY_SECONDS", "1"),
    );
    let to = |address: &str| smtp.received().iter().filter(|m| m.to == [address]).count();
    let settled = wait_for("every job settled", Duration::from_secs(20), || {
        let jobs = mail_jobs(&env.json(&["jobs"]));
        jobs.iter()
            .all(|j| j["status"] == "done" || j["status"] == "failed")
            .then_some(jobs)
    });
    let took = killed.elapsed();
    std::thread::sleep(Duration::from_secs(3));

    // The one not begun: sent by B, once.
    assert_eq!(to(&not_begun.to), 1, "exactly once\n{}", b.log());
    let mails = outbox_mails(&env, &rt);
    let find = |id: i64| mails.iter().find(|m| m.id == id).unwrap();
    assert_eq!(find(not_begun.id).status, "sent", "{mails:?}");
    let job = |id: &Value| settled.iter().find(|j| j["id"] == *id).unwrap().clone();
    let outbox = env.json(&["jobs"])["outbox"].clone();
    let row = |id: i64| {
        outbox
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
            .clone()
    };
    // Those begun: never sent again, failed as "may have been sent".
    for begun in &begun {
        assert_eq!(to(&begun.to), 0, "never again\n{}", b.log());
        let doubt = find(begun.id);
        assert_eq!(doubt.status, "failed", "{mails:?}");
        assert!(
            doubt
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("may have been sent")),
            "{doubt:?}"
        );
        let failed = job(&job_of(begun.id));
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(
            failed["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("may have been sent")),
            "{failed}"
        );
        assert_eq!(row(begun.id)["status"], "failed");
    }
    let done = job(&other_job);
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["attempts"].as_i64().unwrap() >= 2, "{done}");
    // The overview shows the same.
    assert_eq!(row(not_begun.id)["status"], "sent");
    assert!(took < Duration::from_secs(20), "{took:?}");
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
