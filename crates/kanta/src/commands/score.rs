//! `kanta score`: the command line of [`kanta_core::scoring`].

use anyhow::{anyhow, bail};
use kanta_core::Acting;
use kanta_core::scoring::{CANDIDATES, ScoreSettings, describe, score_store};

/// `kanta score`.
pub async fn run(
    cli: &crate::Cli,
    a: &crate::cli::ScoreArgs,
) -> anyhow::Result<std::process::ExitCode> {
    let model = match &a.model {
        Some(m) => {
            let kind = crate::commands::fit::model_kind(m)?;
            if !CANDIDATES.contains(&kind) {
                bail!("--model: {m} is not a transaction model; use bgnbd, mbgnbd or pnbd");
            }
            Some(kind)
        }
        None => None,
    };
    let config = cli.settings(&[])?;
    let core = crate::cli::core_of(&config).await?;
    let store = core.store().clone();
    // A date is the store's day: a time given with an offset falls on its day in the
    // store's time zone, and today is today there.
    let zone = core.time_zone().await?;
    let as_of = match &a.as_of {
        Some(d) => {
            kanta_domain::time::parse_date_in(d, None, zone).map_err(|e| anyhow!("--as-of: {e}"))?
        }
        None => chrono::Utc::now().with_timezone(&zone).date_naive(),
    };
    let mut report = score_store(
        &store,
        &Acting::cli(),
        &ScoreSettings {
            as_of,
            holdout_days: a.holdout_days.unwrap_or(config.scoring.holdout_days),
            model,
            margin: a.margin.unwrap_or(config.scoring.margin),
            monthly_discount_rate: a.discount_rate.unwrap_or(config.scoring.discount_rate),
            zone,
        },
    )
    .await?;
    // The retention economics' "+5 points" of the new run, kept with it for the value
    // page.
    core.warm_retention_economics(Some(std::mem::take(&mut report.purchase_days)))
        .await;
    store.close().await;
    if a.json {
        crate::output::print_json(&report)?;
    } else {
        print!("{}", describe(&report));
    }
    Ok(std::process::ExitCode::SUCCESS)
}
