//! Signatures the listener has accepted, kept on disk until they expire, so a signed request
//! replayed by whoever saw it (within its timestamp's window, or a GitHub body re-sent under a
//! new, unsigned delivery id) is answered with what it already did and does nothing again, even
//! after a restart. Intake remembers the patch each signature queued, in
//! `<home>/state/signatures.json`; Slack commands the command each ran, in
//! `<home>/state/slack-signatures.json`. A file holds only unexpired entries; it is rewritten
//! atomically by one thread a batch at a time (a `GroupCommit`), and a request waits for its
//! entry to be on disk before it answers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::http::group_commit::GroupCommit;
use crate::store::{Home, atomic, read_json};

/// The patch a webhook signature queued: what a replay of it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub env: String,
    pub id: String,
}

/// The Slack command a signature ran: a replay of it is answered that it was already run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ran {
    pub command: String,
}

/// What an accepted signature did, and until when it is remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seen<T> {
    /// Unix seconds from which the signature is refused anyway, and is forgotten.
    pub expires: i64,
    #[serde(flatten)]
    pub did: T,
}

type Entries<T> = HashMap<String, Seen<T>>;

pub(crate) struct Replays<T> {
    entries: Arc<Mutex<Entries<T>>>,
    saves: GroupCommit<()>,
}

impl<T: Clone + Serialize + serde::de::DeserializeOwned + Send + 'static> Replays<T> {
    /// Load what a previous listener remembered in `<home>/state/<file>`, dropping what has
    /// expired by `now`.
    pub(crate) fn open(home: &Home, file: &str, now: i64) -> Result<Replays<T>> {
        let path = home.state_dir().join(file);
        // A listener killed while saving leaves its temp file: litter once it is dead.
        atomic::remove_orphaned_temps(&home.state_dir())?;
        let mut entries: Entries<T> = read_json(&path, "signature memory")?.unwrap_or_default();
        entries.retain(|_, seen| seen.expires > now);
        let entries = Arc::new(Mutex::new(entries));
        let saved = entries.clone();
        let saves = GroupCommit::start(move |_batch: Vec<()>| save(&path, &saved));
        Ok(Replays { entries, saves })
    }

    /// What the signature named `key` made, if it was accepted before and has not expired.
    pub(crate) fn seen(&self, key: &str, now: i64) -> Option<Seen<T>> {
        self.entries.lock().unwrap().get(key).filter(|seen| seen.expires > now).cloned()
    }

    /// Remember `key` unless it is remembered already: `None` when this is its first use (and
    /// that is on disk), else what its first use did. For requests that must not run twice at
    /// once either.
    pub(crate) fn first_use(&self, key: &str, seen: Seen<T>, now: i64) -> Result<Option<Seen<T>>> {
        {
            let mut entries = self.entries.lock().unwrap();
            if let Some(earlier) = entries.get(key).filter(|earlier| earlier.expires > now) {
                return Ok(Some(earlier.clone()));
            }
            entries.insert(key.to_string(), seen);
        }
        self.saves.submit(()).wait()?;
        Ok(None)
    }

    /// Remember an accepted signature; returns once it is on disk.
    pub(crate) fn remember(&self, key: &str, seen: Seen<T>) -> Result<()> {
        self.entries.lock().unwrap().insert(key.to_string(), seen);
        self.saves.submit(()).wait()
    }
}

/// Write every unexpired entry; what expired is forgotten here, so the file stays small.
fn save<T: Serialize>(path: &Path, entries: &Mutex<Entries<T>>) -> Result<()> {
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

    const FILE: &str = "signatures.json";

    fn seen(expires: i64, id: &str) -> Seen<Queued> {
        Seen { expires, did: Queued { env: "main".into(), id: id.into() } }
    }

    #[test]
    fn remembered_across_a_reopen_until_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let now = chrono::Utc::now().timestamp();
        let replays = Replays::open(&home, FILE, now).unwrap();
        assert_eq!(replays.seen("v1=aa", now), None);
        replays.remember("v1=aa", seen(now + 300, "a")).unwrap();
        replays.remember("v1=bb", seen(now + 10, "b")).unwrap();
        assert_eq!(replays.seen("v1=aa", now), Some(seen(now + 300, "a")));
        drop(replays);
        let reopened = Replays::<Queued>::open(&home, FILE, now).unwrap();
        assert_eq!(reopened.seen("v1=aa", now).map(|s| s.did.id), Some("a".into()), "a restart does not forget");
        assert_eq!(reopened.seen("v1=bb", now + 10), None, "expired");
        // Expired entries are pruned from the file at the next save.
        drop(reopened);
        let later = Replays::open(&home, FILE, now + 20).unwrap();
        later.remember("v1=cc", seen(now + 400, "c")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("state").join(FILE)).unwrap();
        assert!(text.contains("v1=aa") && text.contains("v1=cc") && !text.contains("v1=bb"), "{text}");
    }

    #[test]
    fn a_first_use_is_told_apart_from_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp();
        let replays = Replays::open(&Home::new(dir.path()), FILE, now).unwrap();
        let ran = |command: &str| Seen { expires: now + 300, did: Ran { command: command.into() } };
        assert_eq!(replays.first_use("v0=aa", ran("/kill confirm"), now).unwrap(), None);
        assert_eq!(replays.first_use("v0=aa", ran("other"), now).unwrap(), Some(ran("/kill confirm")));
        assert_eq!(replays.first_use("v0=aa", ran("later"), now + 300).unwrap(), None, "expired: a first use again");
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state").join(FILE), "{torn").unwrap();
        let err = format!("{:#}", Replays::<Queued>::open(&Home::new(dir.path()), FILE, 0).err().unwrap());
        assert!(err.contains("signature memory") && err.contains(FILE), "{err}");
    }
}
