//! Per-job, per-environment locks: `state/locks/<job>[.<env>].lock`, held with the standard
//! library's `File::try_lock` (an advisory `flock`, released by the kernel when the process dies,
//! so a crashed run never leaves a stale lock).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::exit::Busy;
use crate::store::paths::{Home, ensure_dir};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Guard {
    _file: File,
    pub path: PathBuf,
}

/// Take the lock for `job` (and `env`, when the job works per environment). Busy → [`Busy`]
/// (exit 75) unless `wait`, which blocks until the holder lets go.
pub fn acquire(home: &Home, job: &str, env: Option<&str>, wait: bool) -> Result<Guard> {
    let name = match env {
        Some(env) => format!("{job}.{env}"),
        None => job.to_string(),
    };
    let dir = home.locks_dir();
    ensure_dir(&dir)?;
    let path = dir.join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("could not open lock {}", path.display()))?;
    if wait {
        file.lock().with_context(|| format!("could not take lock {}", path.display()))?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Busy { what: format!("lock {name} ({})", path.display()) }.into());
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("could not take lock {}", path.display()));
            }
        }
    }
    Ok(Guard { _file: file, path })
}
