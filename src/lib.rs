//! runner: receive model-written code changes, apply them atomically, check, roll back,
//! summarise and audit. README "Develop" shows the source layout in layers; `main` here is the
//! whole binary.

pub(crate) mod cli;
pub(crate) mod cmd;
pub(crate) mod config;
pub(crate) mod docs;
pub(crate) mod exit;
pub(crate) mod glob;
pub(crate) mod health;
pub(crate) mod http;
pub(crate) mod notify;
pub(crate) mod operator;
pub(crate) mod output;
pub(crate) mod parallel;
pub(crate) mod patch;
pub(crate) mod sign;
pub(crate) mod slack;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod subprocess;
pub(crate) mod time;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// What the integration tests and the benchmarks reach inside the crate. Not an API: everything
/// else is `pub(crate)`, so the compiler reports what nothing uses.
#[doc(hidden)]
pub mod testing {
    pub use crate::cli::Cli;
    pub use crate::exit::CODES;
    pub use crate::patch::fence::Fence;
    pub use crate::patch::{Limits, parse, plan};
    pub use crate::store::{Home, queue, results};
    pub use crate::time::rfc3339;
}

/// Parse the command line, run it, print any error once with its whole chain, and exit. With
/// `--json` an error is also stdout's one JSON document, `{"error": …, "exit": N}`, usage errors
/// included.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are not errors; without --json clap prints and exits as it always does.
        Err(err) if !err.use_stderr() || !json_requested() => err.exit(),
        Err(err) => {
            let text = err.render().to_string();
            let _ = write!(std::io::stderr(), "{text}");
            let message = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            return fail_json(message, err.exit_code() as u8);
        }
    };
    let json = cli.global.json;
    match cmd::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "runner: error: {err:#}");
            let code = exit::code_for(&err);
            if json && !output::printed_json() { fail_json(&format!("{err:#}"), code) } else { ExitCode::from(code) }
        }
    }
}

/// `--json` among the arguments (before any `--`), for errors clap finds before it parsed them.
fn json_requested() -> bool {
    std::env::args_os().skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

/// Print an error as the JSON document and exit with `code`.
fn fail_json(message: &str, code: u8) -> ExitCode {
    match output::json(&serde_json::json!({ "error": message, "exit": code })) {
        Err(err) if !output::is_broken_pipe(&err) => ExitCode::from(exit::ERROR),
        _ => ExitCode::from(code),
    }
}
