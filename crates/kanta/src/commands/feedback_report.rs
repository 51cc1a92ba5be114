//! `kanta report feedback [--json]` (issue 13; owner: helper S3).

use std::process::ExitCode;

use clap::Args;

use crate::cli::Cli;

#[derive(Debug, Args)]
pub struct FeedbackReportArgs {
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(_cli: &Cli, _a: &FeedbackReportArgs) -> anyhow::Result<ExitCode> {
    Err(anyhow::anyhow!("kanta report feedback is being built"))
}
