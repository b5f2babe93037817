//! What a queue run does first, under the environment's lock: settle whatever a dead run left in
//! applying/. A journaled patch is rolled back and recorded as failed; a patch claimed but never
//! journaled wrote nothing to the tree and goes back to pending; a journal whose patch was already
//! settled (or whose revert was already recorded) is simply removed. In a `git = "commit"`
//! environment a patch (or revert) whose commit landed before the run died is settled as done.
//! A patch settled here is called back like any other (`callback_url`).

use std::time::Instant;

use anyhow::Result;

use super::git::Git;
use super::queue_run::PatchReport;
use super::{Env, callback, record, revert};
use crate::patch::{backup, journal};
use crate::store::atomic;
use crate::store::events::{self, Event};
use crate::store::queue::{self, State};
use crate::store::results::{self, Outcome};

pub(super) fn recover(env: &Env, actor: &str) -> Result<Vec<PatchReport>> {
    let git = Git::of(env.cfg);
    let mut reports = match &git {
        Some(git) => settle_committed(env, git, actor)?,
        None => Vec::new(),
    };
    let settled = |key: &str| -> Result<bool> {
        if let Some(id) = revert::patch_of(key) {
            let Some(mut result) = results::read(env.home, env.name, id)? else { return Ok(false) };
            if result.reverted_at.is_some() {
                return Ok(true);
            }
            // A revert whose commit landed before the run died: record it as done.
            let Some(commit) =
                git.as_ref().map(|g| g.find_commit(env.name, "Runner-Reverts", id)).transpose()?.flatten()
            else {
                return Ok(false);
            };
            result.reverted_at = Some(chrono::Utc::now());
            result.reverted_by = Some(actor.to_string());
            result.revert_commit = Some(commit);
            record::write(env, &result)?;
            events::append(
                env.home,
                &Event::new(actor, "patch.reverted").env(env.name).id(id).with("recovered", true),
            )?;
            backup::remove(&backup::dir(env.home, env.name, key)?)?;
            return Ok(true);
        }
        Ok(queue::find(env.home, env.name, key)?.is_some_and(|e| matches!(e.state, State::Applied | State::Failed)))
    };
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
            backup::remove(&backup::dir(env.home, env.name, &rolled.key)?)?;
            continue;
        }
        let Some(entry) = queue::find(env.home, env.name, &rolled.key)?.filter(|e| e.state == State::Applying) else {
            continue; // the envelope is gone (removed by hand): nothing left to record
        };
        let mut result = results::read(env.home, env.name, &entry.id)?.unwrap_or_else(|| record::draft(env, &entry));
        result.outcome = Outcome::Error;
        result.checks.clear();
        result.reason = Some(reason);
        // Read before settling moves it; an unreadable envelope just has no callback.
        let envelope = std::fs::read(&entry.path).unwrap_or_default();
        let report = record::settle(env, &entry, result, Instant::now(), actor)?;
        backup::remove(&backup::dir(env.home, env.name, &rolled.key)?)?;
        callback::settled(env, &entry.id, &envelope, Outcome::Error, actor)?;
        reports.push(report);
    }
    // Temp files of result and summary writes a dead run never finished (only this job,
    // under this lock, writes there).
    for dir in [env.home.results_dir(env.name), env.home.summaries_dir(env.name)] {
        atomic::remove_stale_temps(&dir, "")?;
    }
    // Claimed but never journaled: nothing was written to the tree. Back to pending (the mode
    // decides again whether it applies), unless a power cut kept the waiting copy too, which
    // then stays as it was.
    for entry in queue::list(env.home, env.name, State::Applying)? {
        match queue::find(env.home, env.name, &entry.id)? {
            Some(waiting) if matches!(waiting.state, State::Pending | State::Approved) => atomic::remove(&entry.path)?,
            _ => {
                queue::transition(env.home, env.name, &entry, State::Pending)?;
            }
        }
        events::append(env.home, &Event::new(actor, "patch.requeued").env(env.name).id(&entry.id))?;
    }
    Ok(reports)
}

/// Patches a dead run left in applying/ whose git commit had already landed: their change is
/// recorded in git, so they are settled as applied (with that commit), not rolled back. Their
/// result was written, as applied, just before the commit.
fn settle_committed(env: &Env, git: &Git, actor: &str) -> Result<Vec<PatchReport>> {
    let mut reports = Vec::new();
    for entry in queue::list(env.home, env.name, State::Applying)? {
        let Some(commit) = git.find_commit(env.name, "Runner-Patch", &entry.id)? else { continue };
        let mut result = results::read(env.home, env.name, &entry.id)?.unwrap_or_else(|| record::draft(env, &entry));
        result.outcome = Outcome::Applied;
        result.commit = Some(commit);
        let envelope = std::fs::read(&entry.path).unwrap_or_default();
        let report = record::settle(env, &entry, result, Instant::now(), actor)?;
        callback::settled(env, &entry.id, &envelope, Outcome::Applied, actor)?;
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::operator::{process_queue, revert};
    use crate::patch::plan::{FileChange, Plan};
    use crate::patch::transaction::snapshot;
    use crate::store::Home;

    fn setup() -> (tempfile::TempDir, Settings, Home) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        std::fs::write(dir.path().join("tree/a.txt"), "a1\n").unwrap();
        let settings =
            Settings::from_toml("[env.main]\ntree = \"tree\"\n", Some(&dir.path().join("runner.toml"))).unwrap();
        let home = Home::new(&settings.home);
        let patch = br#"{"id": "p1", "operations": [{"op": "write", "path": "a.txt", "contents": "a2\n"}]}"#;
        queue::enqueue(&home, "main", "p1", State::Pending, patch).unwrap();
        assert!(process_queue(&settings, &home, "main", false, "test").unwrap().ok());
        (dir, settings, home)
    }

    /// What a revert writes before it records itself: the files back to the backup.
    fn start_revert(settings: &Settings, home: &Home) -> journal::Journal {
        let env = Env::open(settings, home, "main").unwrap();
        let manifest = backup::read(home, "main", "p1", &env.fence).unwrap();
        let file = &manifest.files[0];
        let change = FileChange {
            path: file.path.clone(),
            before: snapshot(&env.fence, &file.path).unwrap(),
            after: backup::before(home, "main", "p1", file).unwrap(),
            result: results::read(home, "main", "p1").unwrap().unwrap().files[0].clone(),
        };
        journal::apply(home, "main", "p1~revert", &env.fence, &Plan { files: vec![change] }, &[]).unwrap()
    }

    #[test]
    fn a_revert_killed_before_it_was_recorded_is_undone() {
        let (dir, settings, home) = setup();
        let _journal = start_revert(&settings, &home); // and the process dies
        assert_eq!(std::fs::read_to_string(dir.path().join("tree/a.txt")).unwrap(), "a1\n");
        let report = process_queue(&settings, &home, "main", false, "test").unwrap();
        assert!(report.recovered.is_empty(), "a revert is not a patch to record");
        assert_eq!(std::fs::read_to_string(dir.path().join("tree/a.txt")).unwrap(), "a2\n");
        let events = events::read_all(&home).unwrap().events;
        assert!(events.iter().any(|e| e.action == "patch.revert-recovered" && e.id.as_deref() == Some("p1")));
        assert!(results::read(&home, "main", "p1").unwrap().unwrap().reverted_at.is_none());
        // The patch can still be reverted, for real this time.
        assert!(revert(&settings, &home, "main", "p1", false, "test").unwrap().reverted);
        assert_eq!(std::fs::read_to_string(dir.path().join("tree/a.txt")).unwrap(), "a1\n");
    }

    #[test]
    fn an_unsynced_claim_that_left_two_copies_keeps_the_waiting_one() {
        let (_dir, settings, home) = setup();
        let patch = br#"{"id": "p2", "operations": [{"op": "write", "path": "b.txt", "contents": "b\n"}]}"#;
        queue::enqueue(&home, "main", "p2", State::Approved, patch).unwrap();
        queue::enqueue(&home, "main", "p2", State::Applying, patch).unwrap();
        let env = Env::open(&settings, &home, "main").unwrap();
        recover(&env, "test").unwrap();
        assert_eq!(queue::find(&home, "main", "p2").unwrap().unwrap().state, State::Approved);
        assert!(queue::list(&home, "main", State::Applying).unwrap().is_empty());
    }

    #[test]
    fn a_recorded_revert_whose_journal_came_back_is_left_alone() {
        let (dir, settings, home) = setup();
        assert!(revert(&settings, &home, "main", "last", false, "test").unwrap().reverted);
        // A power cut undid the journal's (unsynced) removal.
        std::fs::write(home.queue_dir("main", State::Applying).join("p1~revert.journal"), "").unwrap();
        process_queue(&settings, &home, "main", false, "test").unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("tree/a.txt")).unwrap(), "a1\n");
        assert!(!home.queue_dir("main", State::Applying).join("p1~revert.journal").exists());
    }
}
