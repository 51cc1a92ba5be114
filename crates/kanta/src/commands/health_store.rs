//! `kanta health refresh` and `kanta health model`: the store's health score
//! (`kanta_core::health`). `refresh` does what the daily job does, now: learns the
//! weights from the store's own history (or takes the expert weights while churn
//! events are few), validates them on the newest snapshot and scores every customer;
//! `model` prints the model in use. (`kanta health fit|predict`, in `health.rs`, run
//! the same engine on a CSV file and use no store.)

use std::process::ExitCode;

use anyhow::anyhow;
use kanta_core::Acting;
use kanta_core::health::HealthModelView;

use crate::cli::{Cli, HealthRefreshArgs, JsonArg};
use crate::output;

pub async fn refresh(cli: &Cli, a: &HealthRefreshArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let zone = core.time_zone().await?;
    let today = core.today().await?;
    let as_of = match &a.as_of {
        Some(d) => {
            kanta_domain::time::parse_date_in(d, None, zone).map_err(|e| anyhow!("--as-of: {e}"))?
        }
        None => today,
    };
    if as_of > today {
        anyhow::bail!(
            "--as-of: {as_of} is after today ({today} in the store's time zone): health is scored on what has happened"
        );
    }
    let run = core.refresh_health(&Acting::cli(), as_of).await;
    core.store().close().await;
    let run = run?;
    if a.json {
        output::print_json(&run)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Health scored as of {}: {} customers with {} weights ({:.1} s, model {}).",
        run.as_of, run.customers, run.method, run.seconds, run.model_id
    );
    println!("Why: {}.", run.why.sentence());
    println!(
        "Training rows: {} (customer × month), churn events: {}.",
        run.rows, run.events
    );
    match &run.validation {
        Some(v) => println!(
            "Holdout (newest snapshot, {} rows, {} churned): AUC {:.3}, Brier {:.3}, log-loss {:.3}.",
            v.n, v.events, v.auc, v.brier, v.log_loss
        ),
        None => println!("No holdout validation: the newest snapshot has only one outcome."),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn model(cli: &Cli, a: &JsonArg) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let view = core.health_model(&Acting::cli()).await;
    core.store().close().await;
    let Some(m) = view? else {
        anyhow::bail!(
            "no health model yet: run kanta health refresh (kanta serve's daily job makes one too)"
        );
    };
    if a.json {
        output::print_json(&m)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_model(&m);
    Ok(ExitCode::SUCCESS)
}

fn print_model(m: &HealthModelView) {
    println!(
        "Health model {} as of {} ({}): {}.",
        m.id,
        m.as_of,
        m.method,
        m.why.sentence()
    );
    println!(
        "Training rows: {}, churn events: {}, snapshots: {}.",
        m.rows,
        m.events,
        m.snapshots.len()
    );
    if let Some(v) = &m.validation {
        println!(
            "Holdout{}: AUC {:.3}, Brier {:.3}, log-loss {:.3} ({} rows, {} churned).",
            m.holdout_day.map(|d| format!(" {d}")).unwrap_or_default(),
            v.auc,
            v.brier,
            v.log_loss,
            v.n,
            v.events
        );
        let rows: Vec<Vec<String>> = v
            .calibration
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    (i + 1).to_string(),
                    format!("{:.1}%", 100.0 * c.mean_predicted),
                    format!("{:.1}%", 100.0 * c.observed_rate),
                    c.count.to_string(),
                    c.events.to_string(),
                ]
            })
            .collect();
        output::table(
            &["decile", "predicted", "observed", "rows", "churned"],
            &rows,
            &[true, true, true, true, true],
        );
    }
    println!(
        "\nPoints = 10 × weight in health-logit units (minus pulls the score down). Starting point {:+}.",
        (10.0 * m.intercept).round() as i64
    );
    let mut rows: Vec<Vec<String>> = Vec::new();
    for f in &m.features {
        for b in &f.bins {
            rows.push(vec![
                f.name.clone(),
                b.label.clone(),
                format!("{:+}", b.points),
                b.count.to_string(),
                b.events.to_string(),
            ]);
        }
    }
    output::table(
        &["feature", "bin", "points", "rows", "churned"],
        &rows,
        &[false, false, true, true, true],
    );
}
