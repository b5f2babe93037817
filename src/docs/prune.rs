//! `archive-summaries --prune-backups AGE`: remove backups `revert` can no longer need.
//!
//! The rule: a backup `backups/<id>/` is removed only when
//! 1. its patch is in `applied/`, its result says `applied` and it was not reverted (never a
//!    waiting, failed or reverted patch's, never one without a result, since only the result
//!    says which files it holds);
//! 2. the patch finished longer ago than AGE; and
//! 3. every file it touched (each `path`, and the `from` of a move) was touched again by a newer
//!    applied patch. So for each file, the newest applied patch touching it keeps its backup. A
//!    reverted patch does not count as newer: its change is no longer in the tree.
//!
//! Removal renames the directory to a hidden `.pruning.<id>` first, then deletes that, so a crash
//! never leaves a half-deleted backup under its real name; the next run finishes the deletion.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::docs::ids_in;
use crate::docs::records::Record;
use crate::patch::backup;
use crate::store::queue::State;
use crate::store::results::Outcome;
use crate::store::{Home, atomic};

const PRUNING: &str = ".pruning.";

/// The backups to remove, sorted by id, and how many are kept.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub remove: Vec<String>,
    pub kept: usize,
}

pub(crate) fn plan(
    home: &Home,
    env: &str,
    records: &[Record],
    older_than: Duration,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let backups = ids_in(&home.backups_dir(env), "", true)?;
    let applied: HashMap<&str, &Record> = records
        .iter()
        .filter(|r| {
            r.state == State::Applied
                && r.result.as_ref().is_some_and(|r| r.outcome == Outcome::Applied && r.reverted_at.is_none())
        })
        .map(|r| (r.id.as_str(), r))
        .collect();
    // For each path, the newest applied patch that touched it: (finished_at, id).
    let mut newest: HashMap<&str, (DateTime<Utc>, &str)> = HashMap::new();
    for (id, record) in &applied {
        let result = record.result.as_ref().expect("filtered to records with results");
        for path in touched(record) {
            let key = (result.finished_at, *id);
            newest.entry(path).and_modify(|n| *n = (*n).max(key)).or_insert(key);
        }
    }
    let cutoff = chrono::Duration::from_std(older_than).map_or(DateTime::<Utc>::MIN_UTC, |d| now - d);
    let mut plan = Plan::default();
    for id in backups {
        let prunable = applied.get(id.as_str()).is_some_and(|record| {
            let result = record.result.as_ref().expect("filtered to records with results");
            result.finished_at < cutoff && touched(record).all(|p| newest.get(p).is_some_and(|(_, n)| *n != id))
        });
        if prunable { plan.remove.push(id) } else { plan.kept += 1 }
    }
    Ok(plan)
}

/// Remove the planned backups (and finish any removal a crashed run left).
pub(crate) fn apply(home: &Home, env: &str, plan: &Plan) -> Result<()> {
    let dir = home.backups_dir(env);
    for id in &plan.remove {
        let from = backup::dir(home, env, id)?;
        atomic::rename(&from, &from.with_file_name(format!("{PRUNING}{id}")))?;
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with(PRUNING) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("could not remove backup {}", entry.path().display()))?;
        }
    }
    crate::store::fs::sync_dir(&dir)
}

/// Every path a patch's result names: where files went and where moved files came from.
fn touched(record: &Record) -> impl Iterator<Item = &str> {
    record
        .result
        .iter()
        .flat_map(|r| r.files.iter())
        .flat_map(|f| std::iter::once(f.path.as_str()).chain(f.from.as_deref()))
}
