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
use crate::store::queue::{self, State};
use crate::store::results::{self, FileResult, Outcome, PatchResult};
use crate::store::{Home, lock};
use crate::time::rfc3339;

const SUFFIX: &str = "~revert";

/// The patch a revert's journal key belongs to.
pub(super) fn patch_of(key: &str) -> Option<&str> {
    key.strip_suffix(SUFFIX)
}

#[derive(Debug, Clone, Serialize)]
pub struct RevertReport {
    pub id: String,
    /// False: refused because files changed since the patch (see `changed_since`).
    pub reverted: bool,
    pub forced: bool,
    /// Files put back as they were before the patch.
    pub restored: Vec<String>,
    /// Files changed by someone else since the patch applied them.
    pub changed_since: Vec<String>,
}

pub fn revert(
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
    let mut result = match target {
        "last" => last_applied(&env)?,
        id => {
            results::read(home, env.name, id)?.with_context(|| format!("no result for patch {id} in {}", env.name))?
        }
    };
    let id = result.id.clone();
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
    let manifest = backup::read(home, env.name, &id)
        .with_context(|| format!("could not revert {id}: its backup is gone (pruned by archive-summaries?)"))?;
    let mut report = RevertReport {
        id: id.clone(),
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
        let before = backup::before(home, env.name, &id, file)?;
        if now != before {
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
    }
    if !report.changed_since.is_empty() && !force {
        report.restored.clear();
        events::append(
            home,
            &Event::new(actor, "patch.revert-refused")
                .env(env.name)
                .id(&id)
                .with("changed_since", report.changed_since.clone()),
        )?;
        return Ok(report);
    }
    let key = format!("{id}{SUFFIX}");
    let journal = journal::apply(home, env.name, &key, &env.fence, &plan, &[])
        .with_context(|| format!("could not revert {id}"))?;
    // A patch git recorded has its revert recorded too; if git refuses, the revert is undone.
    if let (Some(git), Some(_)) = (Git::of(env.cfg), &result.commit) {
        let paths: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
        match git.commit_revert(env.name, &result, &paths)? {
            Ok(commit) => result.revert_commit = Some(commit),
            Err(output) => {
                journal.restore(&env.fence, &plan)?;
                journal.finish()?;
                backup::remove(&backup::dir(home, env.name, &key))?;
                bail!("could not revert {id}: git could not commit the revert, so it was undone: {}", output.trim());
            }
        }
    }
    result.reverted_at = Some(Utc::now());
    result.reverted_by = Some(actor.to_string());
    record::write(&env, &result)?;
    journal.finish()?;
    backup::remove(&backup::dir(home, env.name, &key))?;
    events::append(
        home,
        &Event::new(actor, "patch.reverted")
            .env(env.name)
            .id(&id)
            .with("files", report.restored.clone())
            .with("forced", force),
    )?;
    report.reverted = true;
    Ok(report)
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
