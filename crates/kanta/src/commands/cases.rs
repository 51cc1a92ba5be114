//! `kanta cases sla-check`: the SLA job run once, now (`Core::run_sla_check`).

use std::process::ExitCode;
use std::time::Instant;

use crate::cli::{Cli, JsonArg};
use crate::output;

pub async fn sla_check(cli: &Cli, a: &JsonArg) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let started = Instant::now();
    let done = core.run_sla_check(chrono::Utc::now()).await;
    let seconds = started.elapsed().as_secs_f64();
    core.store().close().await;
    let done = done?;
    if a.json {
        output::print_json(&serde_json::json!({
            "warned": done.warned,
            "breached": done.breached,
            "mails": done.mails,
            "seconds": seconds,
        }))?;
    } else {
        println!(
            "SLA check: {} targets near warned of, {} breaches told of, {} mails queued ({seconds:.2} s)",
            done.warned, done.breached, done.mails
        );
    }
    Ok(ExitCode::SUCCESS)
}
