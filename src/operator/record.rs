//! Settling a patch: its result file, its summary, its move to applied/ or failed/, and its line
//! in the audit log — in that order, so a patch found in applied/ or failed/ has its record.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Env;
use super::queue_run::PatchReport;
use crate::patch::summary;
use crate::store::queue::{self, Entry, State};
use crate::store::results::{Outcome, PatchResult, SCHEMA};
use crate::store::{atomic, events};

/// A result for a patch just claimed: an error until something better is known.
pub(super) fn draft(env: &Env, entry: &Entry) -> PatchResult {
    let now = Utc::now();
    PatchResult {
        schema: SCHEMA,
        id: entry.id.clone(),
        env: env.name.to_string(),
        state: State::Applying,
        outcome: Outcome::Error,
        description: None,
        author: None,
        format: "unknown".to_string(),
        received_at: received(entry.modified),
        started_at: now,
        finished_at: now,
        duration_ms: 0,
        files: Vec::new(),
        checks: Vec::new(),
        reason: None,
        reverted_at: None,
        reverted_by: None,
        commit: None,
        revert_commit: None,
    }
}

fn received(modified: SystemTime) -> Option<DateTime<Utc>> {
    (modified != SystemTime::UNIX_EPOCH).then(|| DateTime::<Utc>::from(modified))
}

/// Where a patch with this outcome ends.
pub(super) fn final_state(outcome: Outcome) -> State {
    match outcome {
        Outcome::Applied | Outcome::AlreadyApplied => State::Applied,
        Outcome::Refused | Outcome::RolledBack | Outcome::Error => State::Failed,
    }
}

/// Write the result and summary, move the patch out of applying/, and log it.
pub(super) fn settle(env: &Env, entry: &Entry, result: PatchResult, t0: Instant, actor: &str) -> Result<PatchReport> {
    let mut reports = settle_many(env, vec![(entry.clone(), result, t0)], actor)?;
    Ok(reports.pop().expect("one report for one patch"))
}

/// [`settle`] for several patches at once, in the same order of steps (every record, then every
/// move, then the audit lines), with their flushes shared: the records written and synced
/// together, one sync per queue directory, one append to the audit log. Each patch's
/// `t0` is when its processing started.
pub(super) fn settle_many(
    env: &Env,
    patches: Vec<(Entry, PatchResult, Instant)>,
    actor: &str,
) -> Result<Vec<PatchReport>> {
    let finished_at = Utc::now();
    let mut files = Vec::with_capacity(2 * patches.len());
    let mut results = Vec::with_capacity(patches.len());
    for (entry, mut result, t0) in patches {
        result.state = final_state(result.outcome);
        result.finished_at = finished_at;
        result.duration_ms = t0.elapsed().as_millis() as u64;
        files.extend(record_files(env, &result)?);
        results.push((entry, result));
    }
    let refs: Vec<(&std::path::Path, &[u8])> = files.iter().map(|(p, b)| (p.as_path(), b.as_slice())).collect();
    atomic::write_many(&refs)?;
    let moves: Vec<(&Entry, State)> = results.iter().map(|(e, r)| (e, r.state)).collect();
    queue::transition_many(env.home, env.name, &moves)?;
    let events: Vec<events::Event> = results.iter().map(|(_, result)| event(env, result, actor)).collect();
    events::append_all(env.home, &events)?;
    Ok(results.iter().map(|(_, result)| PatchReport::from(result)).collect())
}

/// The audit line of a settled patch.
fn event(env: &Env, result: &PatchResult, actor: &str) -> events::Event {
    let mut event = events::Event::new(actor, format!("patch.{}", summary::outcome_name(result.outcome)))
        .env(env.name)
        .id(&result.id)
        .with("files", result.files.len());
    if let Some(reason) = &result.reason {
        event = event.with("reason", reason.as_str());
    }
    event
}

/// The result file and the summary rendered from it, flushed together.
pub(super) fn write(env: &Env, result: &PatchResult) -> Result<()> {
    let files = record_files(env, result)?;
    atomic::write_many(&[(&files[0].0, &files[0].1), (&files[1].0, &files[1].1)])
}

/// A result's two files and their contents: the JSON record and the summary rendered from it.
fn record_files(env: &Env, result: &PatchResult) -> Result<[(PathBuf, Vec<u8>); 2]> {
    let mut json = serde_json::to_vec_pretty(result)?;
    json.push(b'\n');
    let summary = summary::render(result).into_bytes();
    Ok([(env.home.result_file(env.name, &result.id)?, json), (env.home.summary_file(env.name, &result.id)?, summary)])
}
