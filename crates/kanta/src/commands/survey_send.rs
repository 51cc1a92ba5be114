//! `kanta survey send` and `kanta survey invitations` (issue 13; owner: helper S2).

use std::process::ExitCode;

use clap::Args;

use crate::cli::Cli;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The survey's external id.
    pub survey: String,
}

#[derive(Debug, Args)]
pub struct InvitationsArgs {
    /// The survey's external id.
    pub survey: String,
}

pub async fn send(_cli: &Cli, _a: &SendArgs) -> anyhow::Result<ExitCode> {
    Err(anyhow::anyhow!("kanta survey send is being built"))
}

pub async fn invitations(_cli: &Cli, _a: &InvitationsArgs) -> anyhow::Result<ExitCode> {
    Err(anyhow::anyhow!("kanta survey invitations is being built"))
}
