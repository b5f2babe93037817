//! Everything gen-docs knows about an environment's patches: where each one is in the queue and,
//! once it has run, its `results/<id>.json`. The queue directory is the truth about a patch's
//! state; the result says what happened when it ran.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::docs::ids_in;
use crate::store::queue::{self, State};
use crate::store::results::PatchResult;
use crate::store::{Home, read};

/// One patch as gen-docs sees it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub id: String,
    pub state: State,
    /// What happened when it ran; `None` while it waits.
    pub result: Option<PatchResult>,
    /// The size of `results/<id>.json` as read, which spares INDEX.md a stat per result.
    pub result_size: Option<u64>,
    /// For a patch that has not run: the description, author and arrival time its envelope gives.
    pub waiting: Option<Waiting>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Waiting {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default, skip)]
    pub received_at: Option<DateTime<Utc>>,
}

impl Record {
    pub(crate) fn description(&self) -> Option<&str> {
        self.result
            .as_ref()
            .map_or(self.waiting.as_ref().and_then(|w| w.description.as_deref()), |r| r.description.as_deref())
    }

    pub(crate) fn author(&self) -> Option<&str> {
        self.result.as_ref().map_or(self.waiting.as_ref().and_then(|w| w.author.as_deref()), |r| r.author.as_deref())
    }

    pub(crate) fn received_at(&self) -> Option<DateTime<Utc>> {
        match &self.result {
            Some(r) => r.received_at.or(Some(r.started_at)),
            None => self.waiting.as_ref().and_then(|w| w.received_at),
        }
    }
}

/// Every patch of `env`: those in the queue and those with a result, in arrival order (then id),
/// so the same store always gives the same list.
pub(crate) fn load(home: &Home, env: &str) -> Result<Vec<Record>> {
    // Names only: a stat per queue file would double the I/O of a large store.
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    for state in State::ALL {
        for id in ids_in(&home.queue_dir(env, state), ".json", false)? {
            states.insert(id, state);
        }
    }
    let ids = ids_in(&home.results_dir(env), ".json", false)?;
    let mut records = Vec::with_capacity(ids.len().max(states.len()));
    for (id, (result, size)) in ids.iter().zip(read_results(home, env, &ids)?) {
        let state = states.remove(id).unwrap_or(result.state);
        records.push(Record { id: id.clone(), state, result: Some(result), result_size: Some(size), waiting: None });
    }
    for (id, state) in states {
        let waiting = read_envelope(&queue::file_path(home, env, state, &id)?);
        records.push(Record { id, state, result: None, result_size: None, waiting: Some(waiting) });
    }
    records.sort_by(|a, b| (a.received_at(), &a.id).cmp(&(b.received_at(), &b.id)));
    Ok(records)
}

/// Read and parse the results on several threads: reading 100,000 small files waits on the disk
/// more than on the CPU, so more requests in flight than cores pays.
fn read_results(home: &Home, env: &str, ids: &[String]) -> Result<Vec<(PatchResult, u64)>> {
    const READERS: usize = 16;
    crate::parallel::try_map(ids, READERS, 1, |id| read_result(&home.result_file(env, id)?))
}

/// A result and the size of its file.
fn read_result(path: &Path) -> Result<(PatchResult, u64)> {
    let read = || {
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        read::read_sized(&mut file, size)
    };
    let bytes = read().with_context(|| format!("could not read result {}", path.display()))?;
    let result =
        serde_json::from_slice(&bytes).with_context(|| format!("could not parse result {}", path.display()))?;
    Ok((result, bytes.len() as u64))
}

/// What a waiting patch's envelope says about itself. The envelope may be any format apply-patch
/// accepts, so anything unreadable simply gives no description; its arrival time is the queue
/// file's modification time, which a move between states keeps.
fn read_envelope(path: &Path) -> Waiting {
    let mut waiting: Waiting =
        std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
    waiting.received_at = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
    waiting
}
