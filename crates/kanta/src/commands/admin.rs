//! The operator's commands: `kanta config`, `kanta audit`, `kanta jobs` and
//! `kanta mail test`, each a thin shell over the core.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use kanta_core::audit::{AuditQuery, parse_moment};
use kanta_core::config::{Config, EXAMPLE};
use kanta_core::jobs::{JobSettings, MAIL_SEND, Services, run_now};
use kanta_core::mail::{Lang, Mailer, SmtpMailer, render};
use kanta_core::{Acting, Core};
use kanta_store::jobs::JobStatus;

use crate::cli::{AuditArgs, Cli, ConfigCommand, JobsArgs, JobsCommand, MailCommand};
use crate::output;

/// What the job workers need, from the settings.
pub fn job_services(core: &Core, config: &Config) -> anyhow::Result<Services> {
    let mailer: Option<Arc<dyn Mailer>> = match &config.mail.smtp_url {
        Some(url) => Some(Arc::new(SmtpMailer::from_url(
            url.expose(),
            &config.mail.from,
            Duration::from_secs(config.mail.timeout_seconds),
        )?)),
        None => None,
    };
    let every = config.serve.score_every_hours;
    Ok(Services {
        core: core.clone(),
        settings: JobSettings {
            lease: Duration::from_secs(config.jobs.lease_seconds),
            poll: Duration::from_millis(config.jobs.poll_ms),
            retry_base: Duration::from_secs(config.jobs.retry_seconds),
            max_attempts: config.jobs.max_attempts,
            score_every: (every > 0.0).then(|| Duration::from_secs_f64(every * 3600.0)),
            holdout_days: config.scoring.holdout_days,
            margin: config.scoring.margin,
            discount_rate: config.scoring.discount_rate,
            backup_dir: Some(config.backup.dir.trim())
                .filter(|d| !d.is_empty())
                .map(std::path::PathBuf::from),
            backup_every: Duration::from_secs_f64(config.backup.every_hours * 3600.0),
            backup_keep: config.backup.keep,
        },
        mailer,
    })
}

/// `kanta config show | example`.
pub fn config(cli: &Cli, c: &ConfigCommand) -> anyhow::Result<ExitCode> {
    match c {
        ConfigCommand::Example => print!("{EXAMPLE}"),
        ConfigCommand::Show(a) => {
            let config = cli.settings(&[])?;
            if a.json {
                output::print_json(&config.show_json())?;
            } else {
                if let Some(f) = config.file() {
                    println!("Settings file: {}", f.display());
                } else {
                    println!("Settings file: none (kanta config example writes one)");
                }
                let rows: Vec<Vec<String>> = config
                    .show()
                    .into_iter()
                    .map(|s| vec![s.key.to_string(), s.value, s.origin.to_string()])
                    .collect();
                output::table(&["setting", "value", "from"], &rows, &[false; 3]);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kanta audit`.
pub async fn audit(cli: &Cli, a: &AuditArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let zone = core.time_zone().await?;
    let q = AuditQuery {
        actor: a.actor.clone(),
        entity: a.entity.clone(),
        record_id: a.record.clone(),
        since: a
            .since
            .as_deref()
            .map(|t| parse_moment("--since", t, zone))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|t| parse_moment("--until", t, zone))
            .transpose()?,
        before_id: None,
        limit: a.limit,
    };
    let page = core.audit_page(&Acting::cli(), &q).await?;
    // Users by "Name (email)", looked up for the page in one query.
    let labels = core
        .audit_user_labels(&page.items)
        .await
        .unwrap_or_default();
    core.store().close().await;
    if a.json {
        output::print_json(&page)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|r| {
            let e = &r.entry;
            let changes = match e.changes.as_object() {
                Some(m) if !m.is_empty() => m
                    .iter()
                    .map(|(k, v)| format!("{k}: {} → {}", short(&v["before"]), short(&v["after"])))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => match e.details.as_object() {
                    Some(m) if !m.is_empty() => serde_json::Value::Object(m.clone()).to_string(),
                    _ => String::new(),
                },
            };
            vec![
                r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                format!(
                    "{} ({})",
                    e.actor_id
                        .as_ref()
                        .filter(|_| e.actor_kind == "user")
                        .and_then(|id| labels.get(id))
                        .unwrap_or(&e.actor_name),
                    e.actor_kind
                ),
                e.channel.clone(),
                format!("{} {}", e.entity, e.record_id.as_deref().unwrap_or(""))
                    .trim()
                    .to_string(),
                e.action.clone(),
                changes,
            ]
        })
        .collect();
    output::table(
        &["when", "who", "via", "what", "action", "changes"],
        &rows,
        &[false; 6],
    );
    if page.next_cursor.is_some() {
        eprintln!("(older entries: --until or --limit)");
    }
    Ok(ExitCode::SUCCESS)
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => "∅".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 40 {
        s.chars().take(37).chain("...".chars()).collect()
    } else {
        s
    }
}

/// `kanta jobs [retry ID]`.
pub async fn jobs(cli: &Cli, a: &JobsArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    if let Some(JobsCommand::Retry { id }) = &a.command {
        let job = core.retry_job(&acting, *id).await?;
        core.store().close().await;
        eprintln!(
            "Job {} ({}) is queued again; kanta serve's workers will run it.",
            job.id, job.kind
        );
        return Ok(ExitCode::SUCCESS);
    }
    let status = match &a.status {
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            anyhow!("--status: '{s}' is not one of queued, running, done, failed")
        })?),
        None => None,
    };
    let overview = core.jobs_overview(&acting, status).await?;
    core.store().close().await;
    if a.json {
        output::print_json(&overview)?;
        return Ok(ExitCode::SUCCESS);
    }
    let counts: Vec<String> = overview
        .counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("Jobs: {}", counts.join(", "));
    let rows: Vec<Vec<String>> = overview
        .jobs
        .iter()
        .take(a.limit as usize)
        .map(|j| {
            vec![
                j.id.to_string(),
                j.kind.clone(),
                j.status.to_string(),
                format!("{}/{}", j.attempts, j.max_attempts),
                j.run_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                j.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "id",
            "kind",
            "status",
            "attempts",
            "run at (UTC)",
            "last error",
        ],
        &rows,
        &[true, false, false, true, false, false],
    );
    let failed_mail = overview
        .outbox
        .iter()
        .filter(|m| m.status != "sent")
        .count();
    if failed_mail > 0 {
        println!("Outbox: {failed_mail} messages not sent yet (kanta jobs --json lists them).");
    }
    Ok(ExitCode::SUCCESS)
}

/// `kanta mail test ADDRESS`: queue the test message in the outbox and send it now,
/// as a worker would; a failure stays in the outbox for kanta serve's workers to retry.
pub async fn mail(cli: &Cli, c: &MailCommand) -> anyhow::Result<ExitCode> {
    let MailCommand::Test {
        address,
        lang,
        json,
    } = c;
    let config = cli.settings(&[])?;
    if config.mail.smtp_url.is_none() {
        bail!(
            "mail is off: set mail.smtp_url (in kanta.toml, or KANTA_MAIL__SMTP_URL=smtp://HOST:PORT)"
        );
    }
    let core = crate::cli::core_of(&config).await?;
    let lang = match lang {
        Some(l) => Lang::parse(l).ok_or_else(|| anyhow!("--lang: '{l}' is not fi or en"))?,
        None => Lang::parse(&core.store_settings().await?.language).unwrap_or(Lang::Fi),
    };
    let now = chrono::Utc::now();
    let site = format!("Kanta ({})", core.store().url());
    let message = render(
        "test",
        lang,
        &[("site", &site), ("time", &now.to_rfc3339())],
    )?
    .to(address.trim());
    let acting = Acting::cli();
    let key = format!("test-{}", now.timestamp_millis());
    let id = core
        .queue_mail(&acting, &key, &message)
        .await?
        .ok_or_else(|| anyhow!("a test message with the key {key} exists already"))?;
    let services = job_services(&core, &config)?;
    let job = core
        .store()
        .job_by_key(MAIL_SEND, &format!("mail-{id}"))
        .await?
        .ok_or_else(|| anyhow!("the outbox queued message {id} without its job"))?;
    let worker = format!("cli:{}", std::process::id());
    let job = run_now(&services, job.id, &worker).await?.unwrap_or(job);
    let mail = core.store().mail(id).await?;
    core.store().close().await;
    let sent = mail.as_ref().is_some_and(|m| m.status == "sent");
    if *json {
        output::print_json(&serde_json::json!({
            "mail_id": id,
            "job_id": job.id,
            "to": message.to,
            "status": mail.as_ref().map(|m| m.status.clone()),
            "job_status": job.status.to_string(),
            "error": job.last_error,
            "retry_at": (job.status == JobStatus::Queued).then_some(job.run_at),
        }))?;
    } else if sent {
        eprintln!(
            "Sent a test message to {} (outbox message {id}).",
            message.to
        );
    } else {
        let why = job.last_error.clone().unwrap_or_default();
        match job.status {
            JobStatus::Queued => eprintln!(
                "Could not send the test message to {} yet: {why}. It stays in the outbox (message {id}, job {}); kanta serve's workers try again at {} UTC.",
                message.to,
                job.id,
                job.run_at.format("%H:%M:%S")
            ),
            _ => eprintln!(
                "Could not send the test message to {}: {why} (outbox message {id}, job {}).",
                message.to, job.id
            ),
        }
    }
    Ok(if sent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILURE)
    })
}
