//! What a queue run does first, under the environment's lock: settle whatever a dead run left in
//! applying/. A journaled patch is rolled back and recorded as failed; a patch claimed but never
//! journaled wrote nothing to the tree and goes back to pending; a journal whose patch was already
//! settled (or whose revert was already recorded) is simply removed.

use std::time::Instant;

use anyhow::Result;

use super::process::PatchReport;
use super::{Env, record, revert};
use crate::patch::{backup, journal};
use crate::store::atomic;
use crate::store::events::{self, Event};
use crate::store::queue::{self, State};
use crate::store::results::{self, Outcome};

pub(super) fn recover(env: &Env, actor: &str) -> Result<Vec<PatchReport>> {
    let settled = |key: &str| -> Result<bool> {
        if let Some(id) = revert::patch_of(key) {
            return Ok(results::read(env.home, env.name, id)?.is_some_and(|r| r.reverted_at.is_some()));
        }
        Ok(queue::find(env.home, env.name, key)?.is_some_and(|e| matches!(e.state, State::Applied | State::Failed)))
    };
    let mut reports = Vec::new();
    for rolled in journal::recover(env.home, env.name, &env.fence, &settled)? {
        let mut reason =
            "a run was interrupted while applying this patch; its files were restored from the backup".to_string();
        if !rolled.conflicts.is_empty() {
            reason.push_str(&format!(
                " except {}, which changed since and were left as they are",
                rolled.conflicts.join(", ")
            ));
        }
        if let Some(id) = revert::patch_of(&rolled.key) {
            events::append(
                env.home,
                &Event::new(actor, "patch.revert-recovered").env(env.name).id(id).with("reason", reason.as_str()),
            )?;
            backup::remove(&backup::dir(env.home, env.name, &rolled.key))?;
            continue;
        }
        let Some(entry) = queue::find(env.home, env.name, &rolled.key)?.filter(|e| e.state == State::Applying) else {
            continue; // the envelope is gone (removed by hand): nothing left to record
        };
        let mut result = results::read(env.home, env.name, &entry.id)?.unwrap_or_else(|| record::draft(env, &entry));
        result.outcome = Outcome::Error;
        result.checks.clear();
        result.reason = Some(reason);
        let report = record::settle(env, &entry, result, Instant::now(), actor)?;
        backup::remove(&backup::dir(env.home, env.name, &rolled.key))?;
        reports.push(report);
    }
    // Temp files of result and summary writes a dead run never finished (only this job,
    // under this lock, writes there).
    for dir in [env.home.results_dir(env.name), env.home.summaries_dir(env.name)] {
        atomic::remove_stale_temps(&dir, "")?;
    }
    // Claimed but never journaled: nothing was written to the tree. Back to pending; the mode
    // decides again whether it applies.
    for entry in queue::list(env.home, env.name, State::Applying)? {
        queue::transition(env.home, env.name, &entry, State::Pending)?;
        events::append(env.home, &Event::new(actor, "patch.requeued").env(env.name).id(&entry.id))?;
    }
    Ok(reports)
}
