//! `kanta demo`: build the demo store, then serve it.
//!
//! After the demo's rows are written through the core's one write path (and the B2B
//! relationship survey's waves with their invitation logs), the store is
//! scored (`kanta score`), the health score computed and the contact queue filled,
//! so that the account manager who signs in finds `/today` ready. Two users: the
//! admin and the B2B firm's account manager ([`kanta_demo::ACCOUNT_MANAGER`], role
//! staff, the owner of the accounts planted for the queue), with one new password
//! for both on every run.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use kanta_core::Acting;
use kanta_core::scoring::{ScoreSettings, describe, score_store};
use kanta_core::secrets::new_password;
use kanta_core::survey_send::{PastInvitation, PastWave};
use kanta_domain::time::parse_date;
use kanta_store::accounts::Role;

use crate::cli::{Cli, DemoArgs};

/// The demo's admin user.
pub const DEMO_ADMIN: &str = "demo@kanta.local";

pub async fn run(cli: &Cli, a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let as_of = match &a.as_of {
        Some(d) => parse_date(d, None).map_err(|e| anyhow!("--as-of: {e}"))?,
        // Yesterday in Helsinki: the demo's "now" (midnight after `as_of`) is then
        // not after this moment, so nothing is dated in the future.
        None => {
            chrono::Utc::now()
                .with_timezone(&kanta_domain::time::DEFAULT_ZONE)
                .date_naive()
                - chrono::TimeDelta::days(1)
        }
    };
    let cfg = kanta_demo::DemoConfig {
        seed: a.seed,
        as_of,
        ..Default::default()
    };
    let mut flags = Vec::new();
    if let Some(b) = a.bind {
        flags.push(("serve.bind", b.to_string()));
    }
    let config = cli.settings(&flags)?;
    let core = crate::cli::core_of(&config).await?;
    let store = core.store().clone();
    let acting = Acting::cli();
    let (batches, waves) =
        tokio::task::spawn_blocking(move || kanta_demo::generate_with_waves(&cfg)).await?;
    // A second run keeps the demo offer as sent (its draw and members stay).
    let offer_sent = core
        .offers_list(&acting)
        .await?
        .iter()
        .any(|o| o.external_id == kanta_demo::offers::OFFER_ID && o.status != "draft");
    let mut total = 0u64;
    let mut offer_written = false;
    for b in batches {
        if b.entity.name == "offers" {
            if offer_sent {
                continue;
            }
            offer_written = !b.is_empty();
        }
        let name = b.entity.name;
        let s = core
            .write_batch(&acting, b)
            .await
            .with_context(|| format!("cannot write the demo's {name}"))?;
        total += s.inserted + s.updated + s.unchanged;
    }
    // The relationship survey's waves and their invitation logs (plain tables), so
    // that /feedback shows response rates per wave and channel.
    core.record_past_waves(&acting, &past_waves(&waves))
        .await
        .context("cannot write the demo's survey waves")?;
    // The demo offer, sent on its first day before scoring (every tier still `-`),
    // so the recorded draw is the one kanta_demo::offers used for the true uplift.
    if offer_written {
        core.send_offer(
            &acting,
            kanta_demo::offers::OFFER_ID,
            Some(kanta_demo::offers::send_at(as_of)),
        )
        .await
        .context("cannot send the demo's offer")?;
    }
    // Scores, value tiers and the forecast, as `kanta score` would make them.
    let report = score_store(
        &store,
        &acting,
        &ScoreSettings {
            as_of,
            holdout_days: 91,
            model: None,
            margin: 1.0,
            monthly_discount_rate: 0.01,
            zone: core.time_zone().await?,
        },
    )
    .await
    .context("cannot score the demo's customers")?;
    // The health score and the contact queue, as the daily job would make them.
    let health = core
        .refresh_health(&acting, as_of)
        .await
        .context("cannot compute the demo's health scores")?;
    let queue = core
        .refresh_queue(&acting, as_of)
        .await
        .context("cannot fill the demo's contact queue")?;
    // Profitability (cost to serve, the unprofitable list), as the daily job would.
    let profit = core
        .run_profitability(&acting, Some(as_of))
        .await
        .context("cannot compute the demo's profitability")?;
    // The value page's "+5 points of retention" of the demo's model run, kept with it.
    core.warm_retention_economics(Some(report.purchase_days.clone()))
        .await;
    // The themes of the free-text answers, as the daily job would find them.
    let themes = core
        .run_themes(&acting)
        .await
        .context("cannot find the demo's feedback themes")?;
    // The planner's statistics of the new rows (PostgreSQL), so that the first
    // requests are planned as later ones will be.
    store
        .analyze()
        .await
        .context("cannot analyse the demo's tables")?;
    if a.json {
        let counts = store.counts().await?;
        let map: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).into()))
            .collect();
        crate::output::print_json(&map)?;
    } else {
        eprintln!(
            "Demo data ready in {} ({total} records: a café and a B2B service firm, seed {}, as of {as_of}).",
            store.url(),
            a.seed
        );
        eprint!("{}", describe(&report));
        eprintln!(
            "Health scores for {} customers ({} model); {} customers to contact in the queue.",
            health.customers, health.method, queue.queued
        );
        eprintln!(
            "Profitability for {} customers: {} unprofitable (kanta report value).",
            profit.customers, profit.unprofitable
        );
        eprintln!(
            "{} feedback themes from {} answer texts.",
            themes.themes, themes.texts
        );
    }
    // A demo admin with a new password on every run, printed for the person trying Kanta.
    let password = new_password();
    core.ensure_user(&acting, DEMO_ADMIN, "Demo Admin", Role::Admin, &password)
        .await?;
    // The account manager whose customers the queue's planted accounts are.
    let manager = kanta_demo::ACCOUNT_MANAGER;
    core.ensure_user(&acting, manager.email, manager.name, Role::Staff, &password)
        .await?;
    let also = format!(
        "The account manager {} signs in with the same password: her /today lists whom to contact.",
        manager.email
    );
    if a.no_serve {
        eprintln!(
            "Sign in as {DEMO_ADMIN} with the password {password} once `kanta serve` runs (http://{}).",
            config.serve.bind
        );
        eprintln!("{also}");
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "Sign in at http://{} as {DEMO_ADMIN} with the password {password}",
        config.serve.bind
    );
    eprintln!("{also}");
    crate::cli::serve(core, &config).await?;
    Ok(ExitCode::SUCCESS)
}

/// The demo's waves as the core writes them.
fn past_waves(waves: &[kanta_demo::DemoWave]) -> Vec<PastWave> {
    let ms = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    waves
        .iter()
        .map(|w| PastWave {
            survey: w.survey.to_string(),
            channel: w.channel.to_string(),
            audience: kanta_demo::WAVE_AUDIENCE.to_string(),
            sent_ms: ms(w.sent_at),
            expires_ms: ms(w.sent_at + chrono::TimeDelta::days(kanta_demo::WAVE_LINK_DAYS)),
            invitations: w
                .invitations
                .iter()
                .map(|i| PastInvitation {
                    customer: i.customer.clone(),
                    status: i.status.to_string(),
                    reason: i.reason.map(str::to_string),
                    language: Some(i.language.to_string()),
                    answer: i.answer.as_ref().map(|(id, at)| (id.clone(), ms(*at))),
                })
                .collect(),
        })
        .collect()
}
