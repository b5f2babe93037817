//! The one exit-code table (README "Exit status"). Nothing below `main` exits the process:
//! commands return an [`Outcome`] or an error, and this module turns either into a code.

use std::fmt;
use std::process::ExitCode;

/// Done; the answer is yes (applied, healthy, nothing to change).
pub(crate) const YES: u8 = 0;
/// Done; the answer is no (a patch refused or failed, a check unhealthy, `--check` found changes).
pub(crate) const NO: u8 = 1;
/// Error: bad usage, bad config, I/O failure.
pub(crate) const ERROR: u8 = 2;
/// Another run holds the lock (EX_TEMPFAIL); `--wait` waits instead.
pub(crate) const BUSY: u8 = 75;

/// The table, as the help text, the man pages and the README print it.
pub const CODES: [(u8, &str); 4] = [
    (YES, "done; the answer is yes (applied, healthy, nothing to change)"),
    (NO, "done; the answer is no (a patch refused or failed, a check unhealthy, --check found changes)"),
    (ERROR, "error: bad usage, bad config, I/O failure"),
    (BUSY, "another run holds the lock (EX_TEMPFAIL); --wait waits instead"),
];

/// The table as `--help` shows it.
pub(crate) fn help_table() -> String {
    let rows: Vec<String> = CODES.iter().map(|(code, meaning)| format!("  {code:<3} {meaning}")).collect();
    format!("Exit status:\n{}", rows.join("\n"))
}

/// What a command that finished has to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Yes,
    No,
}

impl Outcome {
    pub fn from_bool(yes: bool) -> Self {
        if yes { Outcome::Yes } else { Outcome::No }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(match o {
            Outcome::Yes => YES,
            Outcome::No => NO,
        })
    }
}

/// Another process holds a lock this run needs. Maps to exit 75.
#[derive(Debug)]
pub(crate) struct Busy {
    pub what: String,
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is held by another run (use --wait to wait for it)", self.what)
    }
}

impl std::error::Error for Busy {}

/// The exit code for an error: 75 when any cause is [`Busy`], else 2.
pub(crate) fn code_for(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<Busy>()) { BUSY } else { ERROR }
}
