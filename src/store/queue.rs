//! The patch queue: one directory per state under `<env>/patches/`, one `<id>.json` envelope per
//! patch. A move between states is a rename within one file system, made durable by syncing
//! both directories, so a patch is in exactly one state at every instant.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::store::{Home, atomic, paths};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Incoming,
    Pending,
    Approved,
    Applying,
    Applied,
    Failed,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Incoming, State::Pending, State::Approved, State::Applying, State::Applied, State::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Incoming => "incoming",
            State::Pending => "pending",
            State::Approved => "approved",
            State::Applying => "applying",
            State::Applied => "applied",
            State::Failed => "failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| anyhow!("unknown patch state {s:?}"))
    }
}

/// One queued patch file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub state: State,
    pub path: PathBuf,
    pub modified: SystemTime,
}

/// Patch ids are file names: 1–128 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !id.starts_with(['.', '-'])
}

pub fn check_id(id: &str) -> Result<()> {
    if valid_id(id) {
        Ok(())
    } else {
        bail!("invalid patch id {id:?}: use 1-128 letters, digits, `.`, `_` or `-`, not starting with `.` or `-`")
    }
}

/// A revert's journal and backup key is `<id>~revert`, which no patch id can take.
pub const REVERT_SUFFIX: &str = "~revert";

/// A journal or backup key: a patch id, or a revert's `<id>~revert`.
pub fn check_key(key: &str) -> Result<()> {
    match key.strip_suffix(REVERT_SUFFIX) {
        Some(id) if valid_id(id) => Ok(()),
        _ => check_id(key),
    }
}

pub fn file_path(home: &Home, env: &str, state: State, id: &str) -> Result<PathBuf> {
    paths::id_path(home.queue_dir(env, state), id, ".json")
}

/// The patches in one state, oldest first (by modification time, then id).
pub fn list(home: &Home, env: &str, state: State) -> Result<Vec<Entry>> {
    let dir = home.queue_dir(env, state);
    let read = match std::fs::read_dir(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
        if !valid_id(id) {
            continue; // temp files and strangers
        }
        let modified = entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        out.push(Entry { id: id.to_string(), state, path: entry.path(), modified });
    }
    out.sort_by(|a, b| (a.modified, &a.id).cmp(&(b.modified, &b.id)));
    Ok(out)
}

/// Where a patch is now, if anywhere.
pub fn find(home: &Home, env: &str, id: &str) -> Result<Option<Entry>> {
    for state in State::ALL {
        let path = file_path(home, env, state, id)?;
        if let Ok(meta) = path.metadata() {
            return Ok(Some(Entry {
                id: id.to_string(),
                state,
                path,
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            }));
        }
    }
    Ok(None)
}

/// Write a new patch envelope straight into `state` (a temp file, fsync, rename, fsync the
/// directory): once this returns, the patch survives a crash.
pub fn enqueue(home: &Home, env: &str, id: &str, state: State, bytes: &[u8]) -> Result<Entry> {
    let path = file_path(home, env, state, id)?;
    atomic::write(&path, bytes)?;
    Ok(Entry { id: id.to_string(), state, path, modified: SystemTime::now() })
}

/// The first half of [`enqueue`], for a caller that commits many patches at once: the envelope
/// durable in a temp file beside its place in `state`, to be installed and its directory synced.
pub fn stage(home: &Home, env: &str, id: &str, state: State, bytes: &[u8]) -> Result<atomic::Staged> {
    atomic::Staged::new(&file_path(home, env, state, id)?, bytes, None)
}

/// Claim a waiting patch: move it to applying/, leaving both directories unsynced. The caller
/// syncs them before it writes anything that depends on the claim (the journal syncs
/// applying/ when it is written, and a settle syncs it with the patch's move), so claims made
/// together share their flushes. Until then a power cut may undo the move, or show the patch
/// in both directories, which recovery folds back into one (an orphan in applying/ is dropped
/// for its waiting copy).
pub fn claim(home: &Home, env: &str, entry: &Entry) -> Result<Entry> {
    let dest = file_path(home, env, State::Applying, &entry.id)?;
    atomic::rename_unsynced(&entry.path, &dest)
        .with_context(|| format!("could not move patch {} from {} to applying", entry.id, entry.state))?;
    Ok(Entry { id: entry.id.clone(), state: State::Applying, path: dest, modified: entry.modified })
}

/// Move several patches, each to its state, durably: the renames first, then one sync of each
/// directory involved, so settling a batch of patches costs two directory syncs, not two each.
/// A crash before the syncs may undo any of the moves (each patch is in one state or the other).
pub fn transition_many(home: &Home, env: &str, moves: &[(&Entry, State)]) -> Result<Vec<Entry>> {
    let mut moved = Vec::with_capacity(moves.len());
    let mut dirs = Vec::new();
    for &(entry, to) in moves {
        let dest = file_path(home, env, to, &entry.id)?;
        atomic::rename_unsynced(&entry.path, &dest)
            .with_context(|| format!("could not move patch {} from {} to {}", entry.id, entry.state, to))?;
        dirs.extend([home.queue_dir(env, to), home.queue_dir(env, entry.state)]);
        moved.push(Entry { id: entry.id.clone(), state: to, path: dest, modified: entry.modified });
    }
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        crate::store::fs::sync_dir(dir)?;
    }
    Ok(moved)
}

/// Move a patch from one state to another, durably.
pub fn transition(home: &Home, env: &str, entry: &Entry, to: State) -> Result<Entry> {
    let dest = file_path(home, env, to, &entry.id)?;
    atomic::rename(&entry.path, &dest)
        .with_context(|| format!("could not move patch {} from {} to {}", entry.id, entry.state, to))?;
    Ok(Entry { id: entry.id.clone(), state: to, path: dest, modified: entry.modified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "patch-1", "2026-11-24T10.00_x", &"x".repeat(128)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "../x", "a b", "é", &"x".repeat(129)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn enqueue_move_find_list() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let a = enqueue(&home, "main", "a", State::Pending, b"{}").unwrap();
        enqueue(&home, "main", "b", State::Pending, b"{}").unwrap();
        assert_eq!(list(&home, "main", State::Pending).unwrap().len(), 2);
        let a = transition(&home, "main", &a, State::Approved).unwrap();
        assert_eq!(find(&home, "main", "a").unwrap().unwrap().state, State::Approved);
        assert_eq!(a.path, home.queue_dir("main", State::Approved).join("a.json"));
        assert!(find(&home, "main", "zzz").unwrap().is_none());
        assert!(find(&home, "main", "../etc").is_err());
    }
}
