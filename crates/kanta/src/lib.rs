//! The `kanta` command line: parses arguments, opens the store and runs a command.
//! Errors end as one sentence on stderr and a non-zero exit code.

mod cli;
mod commands;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;

/// Exit code for invalid input rows (nothing written).
pub const EXIT_INVALID: u8 = 1;
/// Exit code for any other failure.
pub const EXIT_FAILURE: u8 = 1;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KANTA_LOG")
        .unwrap_or_else(|_| "warn,sqlx=error".into());
    // Colours only for a person at a terminal: a log written to a file or a service
    // manager's journal keeps plain text (and `grep ' WARN '` finds its warnings).
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        // A reader that stopped early (`kanta summary ... | head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<csv::Error>().is_some_and(|ce| {
                        matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
                    })
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", output::sentence(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
