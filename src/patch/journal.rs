//! Crash-safe apply: the journaled variant of [`transaction::commit`]. The order is what makes a
//! kill at any instant recoverable:
//!
//! 1. back up every file's `before` side under `<env>/backups/<key>/` (fsynced, manifest last);
//! 2. write the journal `<env>/patches/applying/<key>.journal` (fsynced);
//! 3. write the files (each atomically, so each is whole: before or after);
//! 4. the caller records the outcome, then [`Journal::finish`] removes the journal.
//!
//! A journal found by a later run means step 4 never happened: [`recover`] puts every file that
//! is on the after side back to its backup, and leaves (and names) any file someone else has
//! changed since. Nothing is written to the tree before the journal exists.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::patch::backup::{self, Side};
use crate::patch::fence::Fence;
use crate::patch::plan::Plan;
use crate::patch::transaction::{self, put, snapshot};
use crate::store::queue::{self, State};
use crate::store::{Home, atomic, paths};

/// Journal files end with this; they sit beside the patch envelopes in `applying/` but are not
/// patches (queue listing only takes `<id>.json`).
pub(crate) const SUFFIX: &str = ".journal";

/// A patch whose files are being written or were written and not yet settled.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
}

fn path(home: &Home, env: &str, key: &str) -> Result<PathBuf> {
    paths::id_path(home.queue_dir(env, State::Applying), key, SUFFIX)
}

/// Back up, journal, and write every change in the plan. On an error the files already written
/// are restored (by `transaction::commit`) and the journal is removed: nothing changed.
/// `flush_also`: directories to make durable before the journal (with the backup's flush).
pub(crate) fn apply(
    home: &Home,
    env: &str,
    key: &str,
    fence: &Fence,
    plan: &Plan,
    flush_also: &[&Path],
) -> Result<Journal> {
    apply_many(home, env, fence, &[(key, plan)], flush_also).pop().expect("one result for one plan")
}

/// [`apply`] for several keyed plans on disjoint files, with each step's flushes shared: every
/// backup, then every journal, then every file. One result per plan, in order; a plan whose
/// files cannot be written is restored and loses its journal without touching the others. A
/// failure the plans share (backing up, journaling) is retried plan by plan, so each gets its
/// own outcome.
pub(crate) fn apply_many(
    home: &Home,
    env: &str,
    fence: &Fence,
    plans: &[(&str, &Plan)],
    flush_also: &[&Path],
) -> Vec<Result<Journal>> {
    let journals = match begin(home, env, plans, flush_also) {
        Ok(journals) => journals,
        Err(_) if plans.len() > 1 => {
            return plans
                .iter()
                .flat_map(|p| apply_many(home, env, fence, std::slice::from_ref(p), flush_also))
                .collect();
        }
        Err(err) => return vec![Err(err)],
    };
    let written: Vec<&Plan> = plans.iter().map(|&(_, plan)| plan).collect();
    transaction::commit_many(fence, &written)
        .into_iter()
        .zip(journals)
        .map(|(written, journal)| match written {
            Ok(()) => Ok(journal),
            Err(err) => journal.finish().and(Err(err)),
        })
        .collect()
}

/// Steps 1 and 2 for every plan: the backups, then the journals, durable.
fn begin(home: &Home, env: &str, plans: &[(&str, &Plan)], flush_also: &[&Path]) -> Result<Vec<Journal>> {
    let keys = || plans.iter().map(|(key, _)| *key).collect::<Vec<_>>().join(", ");
    backup::write_many(home, env, plans, flush_also)
        .with_context(|| format!("could not back up the files of {}", keys()))?;
    let journals: Vec<Journal> =
        plans.iter().map(|(key, _)| Ok(Journal { path: path(home, env, key)? })).collect::<Result<_>>()?;
    // A journal is an empty marker: the backup's manifest says everything recovery needs.
    let paths: Vec<&Path> = journals.iter().map(|j| j.path.as_path()).collect();
    if let Err(err) = atomic::touch_all(&paths) {
        journals.into_iter().try_for_each(Journal::finish)?;
        return Err(err.context("could not write the journal"));
    }
    Ok(journals)
}

impl Journal {
    /// Put every changed file back to its `before` side (after a failed validate command).
    pub(crate) fn restore(&self, fence: &Fence, plan: &Plan) -> Result<()> {
        let errors: Vec<String> = plan
            .files
            .iter()
            .rev()
            .filter(|c| c.changes_anything())
            .filter_map(|c| put(fence, &c.path, c.before.as_ref()).err().map(|e| format!("{}: {e:#}", c.path)))
            .collect();
        if !errors.is_empty() {
            bail!("could not restore {}; the journal stays for the next run to retry", errors.join("; "));
        }
        Ok(())
    }

    /// The outcome is recorded: the patch is settled. The removal needs no directory sync: a
    /// journal that reappears after a power cut belongs to a settled patch, which [`recover`]
    /// recognises (its `settled` test) and just removes.
    pub(crate) fn finish(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("could not remove journal {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// What recovery did with one interrupted patch. Its journal stays until the caller has recorded
/// the outcome and calls [`Recovered::finish`]: a recovery killed in between rolls back again
/// (nothing left to do) and records it then, rather than finding a claimed patch with no
/// journal and queueing it again.
#[derive(Debug, Serialize)]
pub(crate) struct Recovered {
    pub key: String,
    /// Files put back to their backup.
    pub restored: Vec<String>,
    /// Files someone else changed since; left as they are.
    pub conflicts: Vec<String>,
    #[serde(skip)]
    journal: Journal,
}

impl Recovered {
    /// The rollback is recorded: remove the journal.
    pub(crate) fn finish(self) -> Result<()> {
        self.journal.finish()
    }
}

/// Roll back every patch a dead run left journaled in `applying/`, except those `settled` says
/// were recorded before the run died (their journal is just removed). Call under the env's lock.
pub(crate) fn recover(
    home: &Home,
    env: &str,
    fence: &Fence,
    settled: &dyn Fn(&str) -> Result<bool>,
) -> Result<Vec<Recovered>> {
    let dir = home.queue_dir(env, State::Applying);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut keys: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(SUFFIX).map(str::to_string))
        .filter(|name| !name.starts_with(atomic::TEMP_PREFIX) && queue::check_key(name).is_ok())
        .collect();
    keys.sort();
    // Journal writes a dead run never finished; we hold the lock, so they are stale.
    atomic::remove_stale_temps(&dir, SUFFIX)?;
    let mut out = Vec::new();
    for key in keys {
        if settled(&key)? {
            atomic::remove(&path(home, env, &key)?)?;
        } else {
            out.push(
                roll_back(home, env, fence, &key)
                    .with_context(|| format!("could not recover interrupted patch {key}"))?,
            );
        }
    }
    Ok(out)
}

fn roll_back(home: &Home, env: &str, fence: &Fence, key: &str) -> Result<Recovered> {
    let journal = Journal { path: path(home, env, key)? };
    let mut done = Recovered { key: key.to_string(), restored: Vec::new(), conflicts: Vec::new(), journal };
    if !backup::dir(home, env, key)?.join(backup::MANIFEST).exists() {
        // The manifest is durable before the journal is created, so a journal without one is a
        // settled patch's whose backup was dropped (after a rollback) and whose lazy removal a
        // power cut undid: nothing was written under it that is not settled.
        return Ok(done);
    }
    let manifest = backup::read(home, env, key, fence)?;
    for file in manifest.files.iter().rev() {
        remove_stale_temps(fence, &file.path)?;
        let now = snapshot(fence, &file.path)?;
        match file.side(now.as_ref()) {
            // Absent as before: a new file the kill came before, whose directories a write may
            // have created already; `put` removes those it leaves empty.
            Side::Before if !file.existed => put(fence, &file.path, None)?,
            Side::Before => {}
            Side::After => {
                put(fence, &file.path, backup::before(home, env, key, file)?.as_ref())?;
                done.restored.push(file.path.clone());
            }
            Side::Other => done.conflicts.push(file.path.clone()),
        }
    }
    Ok(done)
}

/// A write killed between creating its temp file and renaming it leaves the temp file beside
/// the target: remove those of this path (in its directory as the fence resolves it).
fn remove_stale_temps(fence: &Fence, rel: &str) -> Result<()> {
    match fence.place(rel, false)? {
        Some(place) => atomic::remove_stale_temps(place.dir.path(), &format!(".{}", place.name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::plan::{FileChange, Snapshot};
    use crate::store::results::FileResult;

    fn snap(text: &str) -> Option<Snapshot> {
        Some(Snapshot { bytes: text.as_bytes().to_vec(), mode: 0o644 })
    }

    fn change(path: &str, before: Option<Snapshot>, after: Option<Snapshot>) -> FileChange {
        let result =
            FileResult { path: path.into(), action: "modify".into(), from: None, added: 1, removed: 1, matched: None };
        FileChange { path: path.into(), before, after, result }
    }

    fn setup() -> (tempfile::TempDir, Home, Fence, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("a.txt"), "a1\n").unwrap();
        std::fs::write(tree.join("gone.txt"), "bye\n").unwrap();
        let home = Home::new(dir.path().join("home"));
        let fence = Fence::new(&tree, &[]).unwrap();
        let plan = Plan {
            files: vec![
                change("a.txt", snap("a1\n"), snap("a2\n")),
                change("new/b.txt", None, snap("b\n")),
                change("gone.txt", snap("bye\n"), None),
            ],
        };
        (dir, home, fence, plan)
    }

    fn read(fence: &Fence, rel: &str) -> Option<String> {
        std::fs::read_to_string(fence.join(rel)).ok()
    }

    #[test]
    fn recover_rolls_back_an_unfinished_apply_and_names_conflicts() {
        let (_dir, home, fence, plan) = setup();
        let journal = apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        assert_eq!(read(&fence, "a.txt").as_deref(), Some("a2\n"));
        assert!(journal.path.exists());
        let stale = fence.join(&format!("{}123.0.a.txt", atomic::TEMP_PREFIX));
        std::fs::write(&stale, "half").unwrap();
        // Someone edits the created file after the crash: recovery must not clobber it.
        std::fs::write(fence.join("new/b.txt"), "theirs\n").unwrap();
        let _ = journal; // the run dies here: no restore, no finish
        let mut rec = recover(&home, "main", &fence, &|_| Ok(false)).unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].restored, vec!["gone.txt", "a.txt"]);
        assert_eq!(rec[0].conflicts, vec!["new/b.txt"]);
        assert_eq!(read(&fence, "a.txt").as_deref(), Some("a1\n"));
        assert_eq!(read(&fence, "gone.txt").as_deref(), Some("bye\n"));
        assert_eq!(read(&fence, "new/b.txt").as_deref(), Some("theirs\n"));
        assert!(!stale.exists());
        rec.pop().unwrap().finish().unwrap();
        assert!(recover(&home, "main", &fence, &|_| Ok(false)).unwrap().is_empty(), "the journal is gone");
    }

    #[test]
    fn plans_applied_together_each_get_their_own_outcome() {
        let (_dir, home, fence, plan) = setup();
        let other = Plan { files: vec![change("c.txt", None, snap("c\n"))] };
        let blocked = Plan { files: vec![change("d.txt", None, snap("d\n"))] };
        // What sits where p3's backup goes cannot be removed as a directory: backing up the
        // three together fails, so each is tried alone.
        std::fs::create_dir_all(home.backups_dir("main")).unwrap();
        std::fs::write(backup::dir(&home, "main", "p3").unwrap(), "in the way").unwrap();
        let results = apply_many(&home, "main", &fence, &[("p1", &plan), ("p2", &other), ("p3", &blocked)], &[]);
        let [p1, p2, p3] = <[_; 3]>::try_from(results).unwrap();
        assert!(p1.is_ok() && p2.is_ok(), "{p1:?} {p2:?}");
        let err = format!("{:#}", p3.unwrap_err());
        assert!(err.contains("could not back up the files of p3") && !err.contains("p1"), "{err}");
        assert_eq!((read(&fence, "a.txt").as_deref(), read(&fence, "c.txt").as_deref()), (Some("a2\n"), Some("c\n")));
        assert_eq!(read(&fence, "d.txt"), None);
        assert!(!path(&home, "main", "p3").unwrap().exists(), "no journal for what was not written");
        // Both applied ones are journaled: a crash now rolls back each from its own backup.
        let rec = recover(&home, "main", &fence, &|_| Ok(false)).unwrap();
        assert_eq!(rec.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["p1", "p2"]);
        assert_eq!((read(&fence, "a.txt").as_deref(), read(&fence, "c.txt")), (Some("a1\n"), None));
    }

    #[test]
    fn restore_and_a_changed_file_abort_leave_the_before_side() {
        let (_dir, home, fence, plan) = setup();
        apply(&home, "main", "p1", &fence, &plan, &[]).unwrap().restore(&fence, &plan).unwrap();
        assert_eq!(read(&fence, "a.txt").as_deref(), Some("a1\n"));
        assert_eq!(read(&fence, "new/b.txt"), None);
        assert_eq!(read(&fence, "gone.txt").as_deref(), Some("bye\n"));

        std::fs::write(fence.join("gone.txt"), "edited\n").unwrap();
        let err = apply(&home, "main", "p2", &fence, &plan, &[]).unwrap_err().to_string();
        assert!(err.contains("gone.txt changed on disk"), "{err}");
        assert_eq!(read(&fence, "a.txt").as_deref(), Some("a1\n"));
        assert_eq!(read(&fence, "new/b.txt"), None);
        assert!(!path(&home, "main", "p2").unwrap().exists());
    }

    #[test]
    fn a_damaged_backup_is_refused_not_restored() {
        let (_dir, home, fence, plan) = setup();
        apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        std::fs::write(backup::dir(&home, "main", "p1").unwrap().join("0"), "garbage").unwrap();
        let err = format!("{:#}", recover(&home, "main", &fence, &|_| Ok(false)).unwrap_err());
        assert!(err.contains("damaged"), "{err}");
        assert!(path(&home, "main", "p1").unwrap().exists(), "the journal stays for a later attempt");
    }

    #[test]
    fn a_journal_whose_backup_was_dropped_is_stale() {
        let (_dir, home, fence, plan) = setup();
        let journal = apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        journal.restore(&fence, &plan).unwrap();
        backup::remove(&backup::dir(&home, "main", "p1").unwrap()).unwrap();
        let journal_path = journal.path.clone();
        let mut rec = recover(&home, "main", &fence, &|_| Ok(false)).unwrap();
        assert!(rec[0].restored.is_empty() && rec[0].conflicts.is_empty());
        rec.pop().unwrap().finish().unwrap();
        assert!(!journal_path.exists());
    }

    #[test]
    fn a_settled_journal_is_removed_without_rolling_back() {
        let (_dir, home, fence, plan) = setup();
        apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        assert!(recover(&home, "main", &fence, &|key| Ok(key == "p1")).unwrap().is_empty());
        assert_eq!(read(&fence, "a.txt").as_deref(), Some("a2\n"));
        assert!(!path(&home, "main", "p1").unwrap().exists());
    }

    #[test]
    fn a_new_file_the_kill_came_before_leaves_no_directory_behind() {
        let (_dir, home, fence, plan) = setup();
        let _journal = apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        // As if killed after the directory of new/b.txt was made, before the file was renamed in.
        std::fs::remove_file(fence.join("new/b.txt")).unwrap();
        assert!(fence.join("new").is_dir());
        let rec = recover(&home, "main", &fence, &|_| Ok(false)).unwrap();
        assert_eq!(rec[0].restored, vec!["gone.txt", "a.txt"]);
        assert!(!fence.join("new").exists(), "the directory made for the new file is removed");
    }

    #[test]
    fn the_journal_stays_until_the_rollback_is_recorded() {
        let (_dir, home, fence, plan) = setup();
        let _journal = apply(&home, "main", "p1", &fence, &plan, &[]).unwrap();
        drop(recover(&home, "main", &fence, &|_| Ok(false)).unwrap()); // killed before recording
        assert!(path(&home, "main", "p1").unwrap().exists());
        let rec = recover(&home, "main", &fence, &|_| Ok(false)).unwrap();
        assert!(rec[0].restored.is_empty(), "already rolled back: nothing left to restore");
        rec.into_iter().for_each(|r| r.finish().unwrap());
        assert!(!path(&home, "main", "p1").unwrap().exists());
    }
}
