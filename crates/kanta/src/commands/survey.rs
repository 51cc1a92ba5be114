//! `kanta survey ...` (issue 13; owner: helper S1; `send` and `invitations` are in
//! `survey_send`, helper S2).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::Cli;

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Every survey with its status and answers.
    List,
    /// Send a wave of invitations (see `kanta survey send --help`).
    Send(crate::commands::survey_send::SendArgs),
    /// The invitation log: who was invited or skipped, and why.
    Invitations(crate::commands::survey_send::InvitationsArgs),
}

pub async fn run(cli: &Cli, c: &SurveyCommand) -> anyhow::Result<ExitCode> {
    match c {
        SurveyCommand::List => Err(anyhow::anyhow!("kanta survey list is being built")),
        SurveyCommand::Send(a) => crate::commands::survey_send::send(cli, a).await,
        SurveyCommand::Invitations(a) => crate::commands::survey_send::invitations(cli, a).await,
    }
}
