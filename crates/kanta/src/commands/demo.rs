//! `kanta demo`: build the demo store, then serve it.
//!
//! After the demo's rows are written through the core's one write path, the store is
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
    let batches = tokio::task::spawn_blocking(move || kanta_demo::generate(&cfg)).await?;
    let mut total = 0u64;
    for b in batches {
        let name = b.entity.name;
        let s = core
            .write_batch(&acting, b)
            .await
            .with_context(|| format!("cannot write the demo's {name}"))?;
        total += s.inserted + s.updated + s.unchanged;
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
    // The themes of the free-text answers, as the daily job would find them.
    let themes = core
        .run_themes(&acting)
        .await
        .context("cannot find the demo's feedback themes")?;
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
