//! Everything gen-docs knows about an environment's patches: where each one is in the queue and,
//! once it has run, its `results/<id>.json`. The queue directory is the truth about a patch's
//! state; the result says what happened when it ran.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::store::queue::{self, State};
use crate::store::results::PatchResult;
use crate::store::{Home, results};

/// One patch as gen-docs sees it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub state: State,
    /// What happened when it ran; `None` while it waits.
    pub result: Option<PatchResult>,
    /// For a patch that has not run: the description, author and arrival time its envelope gives.
    pub waiting: Option<Waiting>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Waiting {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default, skip)]
    pub received_at: Option<DateTime<Utc>>,
}

impl Record {
    pub fn description(&self) -> Option<&str> {
        self.result
            .as_ref()
            .map_or(self.waiting.as_ref().and_then(|w| w.description.as_deref()), |r| r.description.as_deref())
    }

    pub fn author(&self) -> Option<&str> {
        self.result.as_ref().map_or(self.waiting.as_ref().and_then(|w| w.author.as_deref()), |r| r.author.as_deref())
    }

    pub fn received_at(&self) -> Option<DateTime<Utc>> {
        match &self.result {
            Some(r) => r.received_at.or(Some(r.started_at)),
            None => self.waiting.as_ref().and_then(|w| w.received_at),
        }
    }
}

/// Every patch of `env`: those in the queue and those with a result, in arrival order (then id),
/// so the same store always gives the same list.
pub fn load(home: &Home, env: &str) -> Result<Vec<Record>> {
    let mut states: BTreeMap<String, (State, SystemTime)> = BTreeMap::new();
    for state in State::ALL {
        for entry in queue::list(home, env, state)? {
            states.insert(entry.id, (state, entry.modified));
        }
    }
    let ids = result_ids(&home.results_dir(env))?;
    let mut records = Vec::with_capacity(ids.len().max(states.len()));
    for (id, result) in ids.iter().zip(read_results(home, env, &ids)?) {
        let state = states.remove(id).map_or(result.state, |(s, _)| s);
        records.push(Record { id: id.clone(), state, result: Some(result), waiting: None });
    }
    for (id, (state, modified)) in states {
        let waiting = read_envelope(&home.queue_dir(env, state).join(format!("{id}.json")), modified);
        records.push(Record { id, state, result: None, waiting: Some(waiting) });
    }
    records.sort_by(|a, b| (a.received_at(), &a.id).cmp(&(b.received_at(), &b.id)));
    Ok(records)
}

/// The ids with a `results/<id>.json`, sorted.
fn result_ids(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        if let Some(id) = entry.file_name().to_str().and_then(|n| n.strip_suffix(".json"))
            && queue::valid_id(id)
        {
            ids.push(id.to_string());
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Read and parse the results on a few threads: parsing 100,000 records is most of gen-docs' work.
fn read_results(home: &Home, env: &str, ids: &[String]) -> Result<Vec<PatchResult>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = ids.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .chunks(chunk)
            .map(|ids| {
                scope.spawn(move || {
                    ids.iter()
                        .map(|id| {
                            results::read(home, env, id)?.with_context(|| {
                                format!(
                                    "result {} vanished while gen-docs read it",
                                    home.result_file(env, id).display()
                                )
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for worker in workers {
            out.extend(worker.join().expect("result reader panicked")?);
        }
        Ok(out)
    })
}

/// What a waiting patch's envelope says about itself. The envelope may be any format apply-patch
/// accepts, so anything unreadable simply gives no description; its arrival time is the queue
/// file's, which a move between states keeps.
fn read_envelope(path: &Path, modified: SystemTime) -> Waiting {
    let mut waiting: Waiting =
        std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
    waiting.received_at = Some(DateTime::<Utc>::from(modified));
    waiting
}
