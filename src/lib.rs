//! runner: receive model-written code changes, apply them atomically, check, roll back,
//! summarise and audit. See DESIGN.md for the architecture; `main` here is the whole binary.

pub mod cli;
pub mod cmd;
pub mod command;
pub mod config;
pub mod docs;
pub mod exit;
pub mod glob;
pub mod health;
pub mod http;
pub mod operator;
pub mod output;
pub mod patch;
pub mod slack;
pub mod status;
pub mod store;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use exit::Outcome;

/// Parse the command line, run it, print any error once with its whole chain, and exit.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "runner: error: {err:#}");
            ExitCode::from(exit::code_for(&err))
        }
    }
}
