//! Settling a patch: its result file, its summary, its move to applied/ or failed/, and its line
//! in the audit log — in that order, so a patch found in applied/ or failed/ has its record.

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
pub(super) fn settle(
    env: &Env,
    entry: &Entry,
    mut result: PatchResult,
    t0: Instant,
    actor: &str,
) -> Result<PatchReport> {
    let state = final_state(result.outcome);
    result.state = state;
    result.finished_at = Utc::now();
    result.duration_ms = t0.elapsed().as_millis() as u64;
    write(env, &result)?;
    queue::transition(env.home, env.name, entry, state)?;
    let mut event = events::Event::new(actor, format!("patch.{}", summary::outcome_name(result.outcome)))
        .env(env.name)
        .id(&result.id)
        .with("files", result.files.len());
    if let Some(reason) = &result.reason {
        event = event.with("reason", reason.as_str());
    }
    events::append(env.home, &event)?;
    Ok(PatchReport::from(&result))
}

/// The result file and the summary rendered from it, flushed together.
pub(super) fn write(env: &Env, result: &PatchResult) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(result)?;
    json.push(b'\n');
    let summary = summary::render(result);
    let (result_file, summary_file) =
        (env.home.result_file(env.name, &result.id)?, env.home.summary_file(env.name, &result.id)?);
    atomic::write_many(&[(&result_file, &json), (&summary_file, summary.as_bytes())])
}
