//! `revert <id|last>`: put the files an applied patch changed back as they were, from its backup.
//! Files someone changed since the patch are not overwritten unless forced: the revert is refused
//! and names them. The revert is itself a journaled, all-or-nothing apply (under the key
//! `<id>~revert`, which no patch id can take), so a crash mid-way is rolled back by the next run.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use serde::Serialize;

use super::git::Git;
use super::{Env, JOB, record, recover};
use crate::config::Settings;
use crate::patch::backup::{self, Side};
use crate::patch::journal;
use crate::patch::plan::{FileChange, Plan};
use crate::patch::transaction::snapshot;
use crate::store::events::{self, Event};
use crate::store::queue::{self, REVERT_SUFFIX, State};
use crate::store::results::{self, FileResult, Outcome, PatchResult};
use crate::store::{Home, lock};
use crate::time::rfc3339;

/// The patch a revert's journal key belongs to.
pub(super) fn patch_of(key: &str) -> Option<&str> {
    key.strip_suffix(REVERT_SUFFIX)
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RevertReport {
    pub id: String,
    /// False: refused because files changed since the patch (see `changed_since`).
    pub reverted: bool,
    pub forced: bool,
    /// Files put back as they were before the patch.
    pub restored: Vec<String>,
    /// Files changed by someone else since the patch applied them.
    pub changed_since: Vec<String>,
}

pub(crate) fn revert(
    settings: &Settings,
    home: &Home,
    env: &str,
    target: &str,
    force: bool,
    actor: &str,
) -> Result<RevertReport> {
    let env = Env::open(settings, home, env)?;
    let _lock = lock::acquire(home, JOB, Some(env.name), false)?;
    recover::recover(&env, actor)?;
    let mut result = revertible(&env, target)?;
    let id = result.id.clone();
    let manifest = read_backup(&env, &id)?;
    let (plan, mut report) = plan_restore(&env, &id, &manifest, force)?;
    if !report.changed_since.is_empty() && !force {
        report.restored.clear();
        let refused = Event::new(actor, "patch.revert-refused").env(env.name).id(&id);
        events::append(home, &refused.with("changed_since", report.changed_since.clone()))?;
        return Ok(report);
    }
    restore(&env, &mut result, &plan, actor)?;
    let reverted = Event::new(actor, "patch.reverted").env(env.name).id(&id);
    events::append(home, &reverted.with("files", report.restored.clone()).with("forced", force))?;
    report.reverted = true;
    Ok(report)
}

/// The result of the patch `target` names (an id or `last`), if it is one a revert can undo.
fn revertible(env: &Env, target: &str) -> Result<PatchResult> {
    let result = match target {
        "last" => last_applied(env)?,
        id => results::read(env.home, env.name, id)?
            .with_context(|| format!("no result for patch {id} in {}", env.name))?,
    };
    let id = &result.id;
    match result.outcome {
        Outcome::Applied => {}
        Outcome::AlreadyApplied => bail!("patch {id} changed nothing when it ran: there is nothing to revert"),
        other => bail!(
            "patch {id} was not applied ({}): there is nothing to revert",
            crate::patch::summary::outcome_name(other)
        ),
    }
    if let (Some(at), Some(by)) = (&result.reverted_at, &result.reverted_by) {
        bail!("patch {id} was already reverted at {} by {by}", rfc3339::format(at));
    }
    Ok(result)
}

/// The patch's backup manifest, its paths through the fence.
fn read_backup(env: &Env, id: &str) -> Result<backup::Manifest> {
    backup::read(env.home, env.name, id, &env.fence).with_context(|| {
        let gone = backup::dir(env.home, env.name, id).is_ok_and(|d| !d.join(backup::MANIFEST).exists());
        let why = if gone { ": its backup is gone (pruned by archive-summaries?)" } else { "" };
        format!("could not revert {id}{why}")
    })
}

/// What patch `id` changed, as the tree stands now: each file it touched from its backup (before
/// the patch) to its content now, and the files someone else changed since. The dashboard shows
/// this as the diff of an applied patch; it is the revert's plan turned around.
pub(crate) fn changed_by(
    settings: &Settings,
    home: &Home,
    env: &str,
    id: &str,
) -> Result<(Vec<FileChange>, Vec<String>)> {
    let env = Env::open(settings, home, env)?;
    let manifest = read_backup(&env, id)?;
    let (plan, report) = plan_restore(&env, id, &manifest, false)?;
    let made = plan.files.into_iter().map(|c| FileChange { before: c.after, after: c.before, ..c }).collect();
    Ok((made, report.changed_since))
}

/// What putting every backed-up file back would change, and the report of it: which files
/// differ from the backup and which of those someone else changed since the patch.
fn plan_restore(env: &Env, id: &str, manifest: &backup::Manifest, force: bool) -> Result<(Plan, RevertReport)> {
    let mut report = RevertReport {
        id: id.to_string(),
        reverted: false,
        forced: force,
        restored: Vec::new(),
        changed_since: Vec::new(),
    };
    let mut plan = Plan::default();
    for file in &manifest.files {
        let now = snapshot(&env.fence, &file.path)?;
        if file.side(now.as_ref()) == Side::Other {
            report.changed_since.push(file.path.clone());
        }
        let before = backup::before(env.home, env.name, id, file)?;
        if now == before {
            continue;
        }
        let action = match (&now, &before) {
            (None, _) => "create",
            (_, None) => "delete",
            _ => "modify",
        };
        let result = FileResult {
            path: file.path.clone(),
            action: action.into(),
            from: None,
            added: 0,
            removed: 0,
            matched: None,
        };
        report.restored.push(file.path.clone());
        plan.files.push(FileChange { path: file.path.clone(), before: now, after: before, result });
    }
    Ok((plan, report))
}

/// Write the plan as one journaled change (under `<id>~revert`), then record the revert.
fn restore(env: &Env, result: &mut PatchResult, plan: &Plan, actor: &str) -> Result<()> {
    let id = result.id.clone();
    let key = format!("{id}{REVERT_SUFFIX}");
    let journal = journal::apply(env.home, env.name, &key, &env.fence, plan, &[])
        .with_context(|| format!("could not revert {id}"))?;
    // A patch git recorded has its revert recorded too; if git refuses, the revert is undone.
    if let (Some(git), Some(_)) = (Git::of(env.cfg), &result.commit) {
        let paths: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
        match git.commit_revert(env.name, result, &paths)? {
            Ok(commit) => result.revert_commit = Some(commit),
            Err(output) => {
                journal.restore(&env.fence, plan)?;
                journal.finish()?;
                backup::remove(&backup::dir(env.home, env.name, &key)?)?;
                bail!("could not revert {id}: git could not commit the revert, so it was undone: {}", output.trim());
            }
        }
    }
    result.reverted_at = Some(Utc::now());
    result.reverted_by = Some(actor.to_string());
    record::write(env, result)?;
    journal.finish()?;
    backup::remove(&backup::dir(env.home, env.name, &key)?)
}

/// The most recently applied patch that has not been reverted.
fn last_applied(env: &Env) -> Result<PatchResult> {
    let mut last: Option<PatchResult> = None;
    for entry in queue::list(env.home, env.name, State::Applied)? {
        let Some(r) = results::read(env.home, env.name, &entry.id)? else { continue };
        if r.outcome == Outcome::Applied
            && r.reverted_at.is_none()
            && last.as_ref().is_none_or(|l| r.finished_at >= l.finished_at)
        {
            last = Some(r);
        }
    }
    last.with_context(|| format!("no applied patch in {} is left to revert", env.name))
}
