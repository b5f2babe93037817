//! Where each thing lives under the home directory. Directories are created on demand.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::fs::ensure_dir;
use crate::store::queue::State;

/// The home directory (`<home>/` in README "On disk").
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }
    pub fn mode_file(&self) -> PathBuf {
        self.root.join("state/mode")
    }
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("state/locks")
    }
    pub fn heartbeats_dir(&self) -> PathBuf {
        self.root.join("state/heartbeats")
    }
    pub fn health_file(&self) -> PathBuf {
        self.root.join("state/health.json")
    }
    pub fn watchdog_file(&self) -> PathBuf {
        self.root.join("state/watchdog.json")
    }
    /// Restart requests (from Slack's /restart-runner): one file per component name, consumed
    /// by the next `watchdog` run.
    pub fn restart_requests_dir(&self) -> PathBuf {
        self.root.join("state/restart-requests")
    }
    pub fn events_file(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }
    pub fn alerts_log(&self) -> PathBuf {
        self.root.join("alerts.log")
    }
    pub fn env_dir(&self, env: &str) -> PathBuf {
        self.root.join(env)
    }
    pub fn queue_dir(&self, env: &str, state: State) -> PathBuf {
        self.root.join(env).join("patches").join(state.as_str())
    }
    pub fn results_dir(&self, env: &str) -> PathBuf {
        self.root.join(env).join("results")
    }
    pub fn result_file(&self, env: &str, id: &str) -> PathBuf {
        self.results_dir(env).join(format!("{id}.json"))
    }
    pub fn backups_dir(&self, env: &str) -> PathBuf {
        self.root.join(env).join("backups")
    }
    pub fn summaries_dir(&self, env: &str) -> PathBuf {
        self.root.join(env).join("summaries")
    }
    pub fn summary_file(&self, env: &str, id: &str) -> PathBuf {
        self.summaries_dir(env).join(format!("{id}.md"))
    }

    /// Create the whole layout for these environments; existing directories are left alone.
    pub fn create_layout<'a>(&self, envs: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let mut dirs = vec![self.locks_dir(), self.heartbeats_dir()];
        for env in envs {
            dirs.extend(State::ALL.iter().map(|s| self.queue_dir(env, *s)));
            dirs.extend([self.results_dir(env), self.backups_dir(env), self.summaries_dir(env)]);
        }
        for dir in dirs {
            ensure_dir(&dir)?;
        }
        Ok(())
    }
}
