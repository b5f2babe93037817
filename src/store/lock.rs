//! Per-job, per-environment locks: `state/locks/<job>[.<env>].lock`, held with the standard
//! library's `File::try_lock` (an advisory `flock`, released by the kernel when the process dies,
//! so a crashed run never leaves a stale lock).

use std::fs::{File, OpenOptions, TryLockError};

use anyhow::{Context, Result};

use crate::exit::Busy;
use crate::store::Home;
use crate::store::fs::ensure_dir;

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct Guard {
    _file: File,
}

/// Take the lock for `job` (and `env`, when the job works per environment). Busy → [`Busy`]
/// (exit 75) unless `wait`, which blocks until the holder lets go.
pub(crate) fn acquire(home: &Home, job: &str, env: Option<&str>, wait: bool) -> Result<Guard> {
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
    Ok(Guard { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{BUSY, code_for};

    #[test]
    fn second_holder_is_busy_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let first = acquire(&home, "apply-patch", Some("main"), false).unwrap();
        let err = acquire(&home, "apply-patch", Some("main"), false).unwrap_err();
        assert_eq!(code_for(&err), BUSY);
        assert!(err.to_string().contains("apply-patch.main"), "{err}");
        // Another job or environment is not blocked.
        acquire(&home, "apply-patch", Some("other"), false).unwrap();
        drop(first);
        acquire(&home, "apply-patch", Some("main"), false).unwrap();
    }

    #[test]
    fn wait_blocks_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let held = acquire(&home, "gen-docs", None, false).unwrap();
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = released.clone();
        let waiter = std::thread::spawn(move || {
            let _g = acquire(&Home::new(dir.path()), "gen-docs", None, true).unwrap();
            flag.load(std::sync::atomic::Ordering::SeqCst)
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(held);
        assert!(waiter.join().unwrap(), "the waiter got the lock only after it was released");
    }
}
