//! Probes (`health-check`) and the restart state machine (`watchdog`).

pub mod check;
pub mod config;
pub mod launch;
pub mod ping;
pub mod probe;
pub mod process;
pub mod state;

/// `runner: warning: …` on stderr, for trouble that must not fail a monitoring run.
pub(crate) fn warn(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "runner: warning: {text}");
}
