//! `kanta themes ...` (issue 13; owner: helper S4).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::Cli;

#[derive(Debug, Subcommand)]
pub enum ThemesCommand {
    /// Find the themes in the free-text answers now.
    Run,
}

pub async fn run(_cli: &Cli, c: &ThemesCommand) -> anyhow::Result<ExitCode> {
    match c {
        ThemesCommand::Run => Err(anyhow::anyhow!("kanta themes run is being built")),
    }
}
