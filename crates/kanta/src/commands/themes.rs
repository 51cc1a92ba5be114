//! `kanta themes run|list|rename|merge|split`: the themes in the free-text answers
//! (`kanta_core::themes`). `run` does what the daily job `feedback.themes` does, now;
//! the edits are the managers' (they survive the next run). As the operator.

use std::process::ExitCode;

use clap::Subcommand;
use kanta_core::Acting;

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ThemesCommand {
    /// Find the themes in the free-text answers now.
    Run {
        /// Print what the run did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the themes, largest first.
    List {
        /// Print them as JSON (with every answer's id).
        #[arg(long)]
        json: bool,
    },
    /// Rename a theme (the label stays through later runs).
    Rename { id: i64, label: String },
    /// Merge theme B into theme A (B's answers go to A, now and in later runs).
    Merge { a: i64, b: i64 },
    /// Split the answers containing WORD off theme ID into a new theme.
    Split { id: i64, word: String },
}

pub async fn run(cli: &Cli, c: &ThemesCommand) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    let result = async {
        match c {
            ThemesCommand::Run { json } => {
                let r = core.run_themes(&acting).await?;
                if *json {
                    output::print_json(&r)?;
                } else {
                    println!(
                        "Themes found: {} from {} texts ({} matched to earlier themes, {} new, {} texts in a theme) in {} ms (run {}).",
                        r.themes, r.texts, r.matched, r.created, r.members, r.millis, r.run_id
                    );
                }
            }
            ThemesCommand::List { json } => {
                let themes = core.feedback_themes(&acting).await?;
                if *json {
                    output::print_json(&themes)?;
                } else if themes.is_empty() {
                    println!("No themes yet: run kanta themes run (kanta serve's daily job finds them too).");
                } else {
                    println!("{:>6}  {:>7}  {:<30}  words", "id", "answers", "label");
                    for t in &themes {
                        println!(
                            "{:>6}  {:>7}  {:<30}  {}",
                            t.id,
                            t.count,
                            format!("{}{}", t.label, if t.manual { " *" } else { "" }),
                            t.words.join(", ")
                        );
                        if let Some((_, e)) = t.examples.first() {
                            println!("{:>17}  e.g. \"{}\"", "", e);
                        }
                    }
                }
            }
            ThemesCommand::Rename { id, label } => {
                core.rename_theme(&acting, *id, label).await?;
                println!("Theme {id} renamed to \"{}\".", label.trim());
            }
            ThemesCommand::Merge { a, b } => {
                core.merge_themes(&acting, *a, *b).await?;
                println!("Theme {b} merged into theme {a}.");
            }
            ThemesCommand::Split { id, word } => {
                let child = core.split_theme(&acting, *id, word).await?;
                println!("The answers with \"{}\" split off theme {id} into theme {child}.", word.trim());
            }
        }
        anyhow::Ok(())
    }
    .await;
    core.store().close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}
