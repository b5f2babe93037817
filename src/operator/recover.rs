//! What a queue run does first, under the environment's lock: settle whatever a dead run left in
//! applying/. A journaled patch is rolled back and recorded as failed; a patch claimed but never
//! journaled wrote nothing to the tree and goes back to pending; a journal whose patch was already
//! settled (or whose revert was already recorded) is simply removed. In a `git = "commit"`
//! environment a patch (or revert) whose commit landed before the run died is settled as done.
//! A patch settled here is called back like any other (`callback_url`).

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

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
            rolled.finish()?;
            continue;
        }
        let Some(entry) = queue::find(env.home, env.name, &rolled.key)?.filter(|e| e.state == State::Applying) else {
            rolled.finish()?;
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
        rolled.finish()?;
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
    remove_dead_backups(env)?;
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

/// Backups a killed run left that nothing will use: a revert's with no journal (it died before
/// writing one, or after its revert was recorded), and a patch's with no journal whose patch is
/// not applied (died before its journal, so it was queued again; or after it was recorded as
/// failed). An applied patch keeps its backup for `revert`; a patch not in the queue at all is
/// left alone. Only under the environment's lock, after the journals are settled.
fn remove_dead_backups(env: &Env) -> Result<()> {
    // Names only, one listing per directory: backups of applied patches can be many, and this
    // runs before every queue run.
    let keys = names(&env.home.backups_dir(env.name), "")?;
    if keys.is_empty() {
        return Ok(());
    }
    let journals = names(&env.home.queue_dir(env.name, State::Applying), journal::SUFFIX)?;
    let in_state = |states: &[State]| -> Result<HashSet<String>> {
        let mut ids = HashSet::new();
        for state in states {
            ids.extend(names(&env.home.queue_dir(env.name, *state), ".json")?);
        }
        Ok(ids)
    };
    let applied = in_state(&[State::Applied])?;
    let not_applied = in_state(&[State::Incoming, State::Pending, State::Approved, State::Applying, State::Failed])?;
    for key in keys.iter().filter(|k| !journals.contains(*k)) {
        let dead = match revert::patch_of(key) {
            Some(_) => true,
            None => not_applied.contains(key) && !applied.contains(key),
        };
        if dead {
            backup::remove(&backup::dir(env.home, env.name, key)?)?;
        }
    }
    Ok(())
}

/// The journal or backup keys named `<key><suffix>` in `dir`: hidden names (temp files,
/// archive-summaries' `.pruning.<id>`) and strangers are not keys. A missing directory has none.
fn names(dir: &Path, suffix: &str) -> Result<HashSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut keys = HashSet::new();
    for entry in entries {
        let name = entry.with_context(|| format!("could not list {}", dir.display()))?.file_name();
        if let Some(key) = name.to_str().and_then(|n| n.strip_suffix(suffix))
            && queue::check_key(key).is_ok()
        {
            keys.insert(key.to_string());
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::operator::{process_queue, revert};
    use crate::patch::plan::{FileChange, Plan, Snapshot};
    use crate::patch::transaction::snapshot;
    use crate::store::Home;
    use crate::store::results::FileResult;

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

    #[test]
    fn a_recovery_killed_after_its_rollback_still_records_the_patch_as_failed() {
        let (dir, settings, home) = setup();
        let patch = br#"{"id": "p2", "operations": [{"op": "write", "path": "new/b.txt", "contents": "b\n"}]}"#;
        queue::enqueue(&home, "main", "p2", State::Applying, patch).unwrap();
        let env = Env::open(&settings, &home, "main").unwrap();
        let after = Snapshot { bytes: b"b\n".to_vec(), mode: 0o644 };
        let result = FileResult {
            path: "new/b.txt".into(),
            action: "create".into(),
            from: None,
            added: 1,
            removed: 0,
            matched: None,
        };
        let change = FileChange { path: "new/b.txt".into(), before: None, after: Some(after), result };
        let _journal = journal::apply(&home, "main", "p2", &env.fence, &Plan { files: vec![change] }, &[]).unwrap();
        // The run dies with p2 written; a recovery rolls it back and dies before recording it.
        drop(journal::recover(&home, "main", &env.fence, &|_| Ok(false)).unwrap());
        assert!(!dir.path().join("tree/new").exists());
        let report = process_queue(&settings, &home, "main", false, "test").unwrap();
        assert_eq!(report.recovered.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["p2"]);
        assert_eq!(queue::find(&home, "main", "p2").unwrap().unwrap().state, State::Failed);
        assert_eq!(results::read(&home, "main", "p2").unwrap().unwrap().outcome, Outcome::Error);
        assert!(!dir.path().join("tree/new").exists(), "not applied after all");
    }

    #[test]
    fn backups_a_killed_run_left_are_removed_and_an_applied_patch_keeps_its_own() {
        let (_dir, settings, home) = setup();
        for (id, state) in [("p2", State::Failed), ("p3", State::Pending)] {
            queue::enqueue(&home, "main", id, state, b"{}").unwrap();
        }
        for key in ["p2", "p3", "p1~revert", "p4"] {
            std::fs::create_dir_all(home.backups_dir("main").join(key)).unwrap();
        }
        process_queue(&settings, &home, "main", false, "test").unwrap();
        let mut left: Vec<String> = std::fs::read_dir(home.backups_dir("main"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["p1", "p4"], "p1 is applied; p4 is no patch of the queue");
    }
}
