//! Signatures intake has accepted, kept on disk until they expire, so a signed request replayed
//! by whoever saw it (within its timestamp's window, or a GitHub body re-sent under a new,
//! unsigned delivery id) is answered with what it already made and not queued again, even
//! after a restart. `<home>/state/signatures.json` holds only unexpired entries; it is rewritten
//! atomically by one thread a batch at a time (a `GroupCommit`), and a request that queued a
//! patch waits for its entry to be on disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::http::commit::GroupCommit;
use crate::store::{Home, atomic, read_json};

const FILE: &str = "signatures.json";

/// What an accepted signature made: the patch a replay of it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Unix seconds from which the signature is refused anyway, and is forgotten.
    pub expires: i64,
    pub env: String,
    pub id: String,
}

type Entries = HashMap<String, Seen>;

pub struct Replays {
    entries: Arc<Mutex<Entries>>,
    saves: GroupCommit<()>,
}

impl Replays {
    /// Load what a previous listener remembered, dropping what has expired by `now`.
    pub fn open(home: &Home, now: i64) -> Result<Replays> {
        let path = home.state_dir().join(FILE);
        // A listener killed while saving leaves its temp file: litter once it is dead.
        atomic::remove_orphaned_temps(&home.state_dir())?;
        let mut entries: Entries = read_json(&path, "signature memory")?.unwrap_or_default();
        entries.retain(|_, seen| seen.expires > now);
        let entries = Arc::new(Mutex::new(entries));
        let saved = entries.clone();
        let saves = GroupCommit::start(move |_batch: Vec<()>| save(&path, &saved));
        Ok(Replays { entries, saves })
    }

    /// What the signature named `key` made, if it was accepted before and has not expired.
    pub fn seen(&self, key: &str, now: i64) -> Option<Seen> {
        self.entries.lock().unwrap().get(key).filter(|seen| seen.expires > now).cloned()
    }

    /// Remember an accepted signature; returns once it is on disk.
    pub fn remember(&self, key: &str, seen: Seen) -> Result<()> {
        self.entries.lock().unwrap().insert(key.to_string(), seen);
        self.saves.submit(()).wait()
    }
}

/// Write every unexpired entry; what expired is forgotten here, so the file stays small.
fn save(path: &Path, entries: &Mutex<Entries>) -> Result<()> {
    let now = chrono::Utc::now().timestamp();
    let bytes = {
        let mut entries = entries.lock().unwrap();
        entries.retain(|_, seen| seen.expires > now);
        serde_json::to_vec(&*entries)?
    };
    atomic::write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(expires: i64, id: &str) -> Seen {
        Seen { expires, env: "main".into(), id: id.into() }
    }

    #[test]
    fn remembered_across_a_reopen_until_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let now = chrono::Utc::now().timestamp();
        let replays = Replays::open(&home, now).unwrap();
        assert_eq!(replays.seen("v1=aa", now), None);
        replays.remember("v1=aa", seen(now + 300, "a")).unwrap();
        replays.remember("v1=bb", seen(now + 10, "b")).unwrap();
        assert_eq!(replays.seen("v1=aa", now), Some(seen(now + 300, "a")));
        drop(replays);
        let reopened = Replays::open(&home, now).unwrap();
        assert_eq!(reopened.seen("v1=aa", now).map(|s| s.id), Some("a".into()), "a restart does not forget");
        assert_eq!(reopened.seen("v1=bb", now + 10), None, "expired");
        // Expired entries are pruned from the file at the next save.
        drop(reopened);
        let later = Replays::open(&home, now + 20).unwrap();
        later.remember("v1=cc", seen(now + 400, "c")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("state").join(FILE)).unwrap();
        assert!(text.contains("v1=aa") && text.contains("v1=cc") && !text.contains("v1=bb"), "{text}");
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state").join(FILE), "{torn").unwrap();
        let err = format!("{:#}", Replays::open(&Home::new(dir.path()), 0).err().unwrap());
        assert!(err.contains("signature memory") && err.contains(FILE), "{err}");
    }
}
