//! `kanta survey ...` (issue 13): `list`, `show ID`, `create --name ... [--questions-file
//! F]`, `activate ID`, `close ID`, `link ID --customer C [--ignore-consent]` (refused for a customer without survey consent unless the flag is given) over `kanta_core::surveys`;
//! `send` and `invitations` are in `survey_send`.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use kanta_core::Acting;
use kanta_core::surveys::{Question, SurveyInput};

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Every survey with its status and answers.
    List(JsonArg),
    /// One survey: its questions in both languages, version, answers and QR link.
    Show(ShowArgs),
    /// Create a survey as a draft (seed 001's three questions unless a file gives others).
    Create(CreateArgs),
    /// Make a survey active: answerable and sendable.
    Activate(IdArg),
    /// Close a survey: no more answers.
    Close(IdArg),
    /// Print a personal, signed answer link of a survey for one customer.
    Link(LinkArgs),
    /// Send a wave of invitations (see `kanta survey send --help`).
    Send(crate::commands::survey_send::SendArgs),
    /// The invitation log: who was invited or skipped, and why.
    Invitations(crate::commands::survey_send::InvitationsArgs),
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The survey's id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The survey's id.
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The survey's name (for staff).
    #[arg(long)]
    pub name: String,
    /// Its id (made from a random suffix when not given).
    #[arg(long)]
    pub id: Option<String>,
    /// A JSON file of one to three questions: [{"field": "nps", "fi": "...", "en": "..."}].
    #[arg(long, value_name = "FILE")]
    pub questions_file: Option<std::path::PathBuf>,
    /// What the QR code's page asks: none, loyalty, email.
    #[arg(long, value_name = "WHAT")]
    pub anonymous_asks: Option<String>,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The survey's id.
    pub id: String,
    /// The customer's id.
    #[arg(long)]
    pub customer: String,
    /// Make the link although the customer has not consented to surveys (a link to
    /// hand over in person).
    #[arg(long)]
    pub ignore_consent: bool,
}

pub async fn run(cli: &Cli, c: &SurveyCommand) -> anyhow::Result<ExitCode> {
    match c {
        SurveyCommand::List(a) => list(cli, a.json).await,
        SurveyCommand::Show(a) => show(cli, a).await,
        SurveyCommand::Create(a) => create(cli, a).await,
        SurveyCommand::Activate(a) => status(cli, &a.id, "active").await,
        SurveyCommand::Close(a) => status(cli, &a.id, "closed").await,
        SurveyCommand::Link(a) => link(cli, a).await,
        SurveyCommand::Send(a) => crate::commands::survey_send::send(cli, a).await,
        SurveyCommand::Invitations(a) => crate::commands::survey_send::invitations(cli, a).await,
    }
}

async fn list(cli: &Cli, json: bool) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let surveys = core.surveys(&Acting::cli()).await?;
    if json {
        output::print_json(&surveys)?;
        return Ok(ExitCode::SUCCESS);
    }
    if surveys.is_empty() {
        println!("No surveys yet (kanta survey create --name ...).");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = surveys
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                s.status.clone(),
                s.questions
                    .iter()
                    .map(|q| q.field.clone())
                    .collect::<Vec<_>>()
                    .join(","),
                s.version.to_string(),
                s.answers.to_string(),
            ]
        })
        .collect();
    output::table(
        &["id", "name", "status", "questions", "version", "answers"],
        &rows,
        &[false, false, false, false, true, true],
    );
    Ok(ExitCode::SUCCESS)
}

async fn show(cli: &Cli, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let s = core.survey(&Acting::cli(), &a.id).await?;
    if a.json {
        let versions = core.survey_versions(&Acting::cli(), &a.id).await?;
        output::print_json(&serde_json::json!({ "survey": s, "versions": versions }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} ({})", s.name, s.id);
    println!(
        "Status {}, version {}, {} answers",
        s.status, s.version, s.answers
    );
    println!("QR code page: {}", s.qr_url);
    for (i, q) in s.questions.iter().enumerate() {
        println!("{}. [{}] fi: {}", i + 1, q.field, q.fi);
        println!("   {} en: {}", " ".repeat(q.field.len() + 2), q.en);
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(cli: &Cli, a: &CreateArgs) -> anyhow::Result<ExitCode> {
    let questions = match &a.questions_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let qs: Vec<Question> = serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}: not a JSON list of questions like [{{\"field\": \"nps\", \"fi\": \"...\", \"en\": \"...\"}}]: {e}",
                    p.display()
                )
            })?;
            Some(qs)
        }
        None => None,
    };
    let core = cli.open_core().await?;
    let id = core
        .create_survey(
            &Acting::cli(),
            a.id.as_deref(),
            SurveyInput {
                name: Some(a.name.clone()),
                questions,
                anonymous_asks: a.anonymous_asks.clone(),
                ..SurveyInput::default()
            },
        )
        .await?;
    println!("{id}");
    eprintln!("Created survey {id} as a draft; kanta survey activate {id} makes it answerable.");
    Ok(ExitCode::SUCCESS)
}

async fn status(cli: &Cli, id: &str, status: &str) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    core.set_survey_status(&Acting::cli(), id, status).await?;
    println!("Survey {id} is {status}.");
    Ok(ExitCode::SUCCESS)
}

async fn link(cli: &Cli, a: &LinkArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let url = core
        .consented_survey_link(&Acting::cli(), &a.id, &a.customer, a.ignore_consent)
        .await?;
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}
