//! `kanta demo`: build the demo store, then serve it.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use kanta_domain::time::parse_date;

use crate::cli::{Cli, DemoArgs};

/// The demo's admin user.
pub const DEMO_ADMIN: &str = "demo@kanta.local";

pub async fn run(cli: &Cli, a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let as_of = match &a.as_of {
        Some(d) => parse_date(d, None).map_err(|e| anyhow!("--as-of: {e}"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let cfg = kanta_demo::DemoConfig {
        seed: a.seed,
        as_of,
        ..Default::default()
    };
    let store = cli.open_store().await?;
    let batches = tokio::task::spawn_blocking(move || kanta_demo::generate(&cfg)).await?;
    let mut total = 0u64;
    for b in &batches {
        let s = store
            .write(b)
            .await
            .with_context(|| format!("cannot write the demo's {}", b.entity.name))?;
        total += s.inserted + s.updated + s.unchanged;
    }
    // Scores, value tiers and the forecast, as `kanta score` would make them.
    let report = crate::score::score_store(
        &store,
        &crate::score::ScoreSettings {
            as_of,
            holdout_days: 91,
            model: None,
            margin: 1.0,
            monthly_discount_rate: 0.01,
        },
    )
    .await
    .context("cannot score the demo's customers")?;
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
        eprint!("{}", crate::score::describe(&report));
    }
    // A demo admin with a new password on every run, printed for the person trying Kanta.
    let password = kanta_web::auth::new_password();
    crate::users::ensure_user(
        &store,
        DEMO_ADMIN,
        "Demo Admin",
        kanta_store::auth::Role::Admin,
        &password,
        true,
    )
    .await?;
    eprintln!(
        "Sign in at http://{} as {DEMO_ADMIN} with the password {password}",
        a.bind
    );
    if a.no_serve {
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    crate::cli::serve(store, a.bind).await?;
    Ok(ExitCode::SUCCESS)
}
