//! Where each thing lives under the home directory. Directories are created on demand.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::fs::ensure_dir;
use crate::store::queue::{self, State};

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
    pub fn result_file(&self, env: &str, id: &str) -> Result<PathBuf> {
        id_path(self.results_dir(env), id, ".json")
    }
    pub fn backups_dir(&self, env: &str) -> PathBuf {
        self.root.join(env).join("backups")
    }
    pub fn summaries_dir(&self, env: &str) -> PathBuf {
        self.root.join(env).join("summaries")
    }
    pub fn summary_file(&self, env: &str, id: &str) -> Result<PathBuf> {
        id_path(self.summaries_dir(env), id, ".md")
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

/// The one place a patch id becomes a path: `<dir>/<id><ext>`. An id is data (typed by an
/// operator, sent from Slack, read from a result file), so anything but a valid id or journal
/// key ([`queue::check_key`]) is refused here, and no id can name a path outside `dir`.
pub(crate) fn id_path(mut dir: PathBuf, id: &str, ext: &str) -> Result<PathBuf> {
    queue::check_key(id)?;
    dir.push(format!("{id}{ext}"));
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_paths_inside_their_directory_only() {
        let home = Home::new("/h");
        assert_eq!(home.result_file("main", "p-1").unwrap(), Path::new("/h/main/results/p-1.json"));
        assert_eq!(id_path(PathBuf::from("/b"), "p-1~revert", "").unwrap(), Path::new("/b/p-1~revert"));
        for bad in ["/etc/x", "../../x", "a/b", "..", "", "p~other", "~revert", "../x~revert"] {
            let err = home.summary_file("main", bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid patch id"), "{bad:?}: {err}");
        }
    }
}
