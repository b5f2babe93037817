//! `state/mode`: whether patches apply on their own (`auto`), only when approved (`manual`),
//! not at all (`paused`), or not at all and the webhook refuses new ones (`lockdown`).

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::store::{Home, atomic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Apply pending and approved patches.
    #[default]
    Auto,
    /// Apply only approved patches.
    Manual,
    /// Apply nothing; keep accepting patches.
    Paused,
    /// Apply nothing and refuse new patches.
    Lockdown,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Manual => "manual",
            Mode::Paused => "paused",
            Mode::Lockdown => "lockdown",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Mode> {
        match s.trim() {
            "auto" => Ok(Mode::Auto),
            "manual" => Ok(Mode::Manual),
            "paused" => Ok(Mode::Paused),
            "lockdown" => Ok(Mode::Lockdown),
            other => Err(anyhow!("unknown mode {other:?}: use auto, manual, paused or lockdown")),
        }
    }
}

/// The current mode; `auto` when none was ever set.
pub(crate) fn read(home: &Home) -> Result<Mode> {
    let path = home.mode_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => text.parse().with_context(|| format!("could not read mode from {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Mode::default()),
        Err(e) => Err(e).with_context(|| format!("could not read mode from {}", path.display())),
    }
}

pub(crate) fn write(home: &Home, mode: Mode) -> Result<()> {
    atomic::write(&home.mode_file(), format!("{mode}\n").as_bytes())
}

/// Set the mode and audit the request (a no-op set too: the log records what operators asked
/// for); returns the previous mode.
pub(crate) fn set(home: &Home, new: Mode, actor: &str) -> Result<Mode> {
    let current = read(home)?;
    if new != current {
        write(home, new)?;
    }
    let event =
        crate::store::events::Event::new(actor, "mode.set").with("from", current.as_str()).with("to", new.as_str());
    crate::store::events::append(home, &event)?;
    Ok(current)
}
