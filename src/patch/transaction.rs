//! Turning a [`Plan`] into disk state, all files or none. Each file is written atomically; before
//! each write the file must still be as the plan found it (someone else's edit in between aborts
//! the patch), and any failure restores the files already written.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result, bail};
use rustix::fs::{AtFlags, Mode, OFlags};

use crate::parallel;
use crate::patch::fence::{Fence, Place, Places};
use crate::patch::plan::{FileChange, Plan, SYMLINK_MODE, Snapshot};
use crate::store::atomic::{self, Dir, Staged};
use crate::store::read;

/// The file as it is on disk now (`None`: absent); a symlink is its target (a patch can have
/// created it, and recovery and revert must see it to remove it).
pub(crate) fn snapshot(fence: &Fence, rel: &str) -> Result<Option<Snapshot>> {
    Ok(find(fence.place(rel, false)?, rel)?.0)
}

/// What is at `rel` now, and, for a regular file, the file open (to be closed once replaced).
fn find(place: Option<Place>, rel: &str) -> Result<(Option<Snapshot>, Option<Opened>)> {
    let Some(place) = place else { return Ok((None, None)) };
    match open_at(Some(place.clone()), rel) {
        Ok(Some(mut opened)) => Ok((Some(opened.read()?), Some(opened))),
        Ok(None) => Ok((None, None)),
        Err(e) => match rustix::fs::readlinkat(place.dir.fd(), place.name.as_str(), Vec::new()) {
            Ok(target) => Ok((Some(Snapshot { bytes: target.into_bytes(), mode: SYMLINK_MODE }), None)),
            Err(_) => Err(e),
        },
    }
}

/// A regular file of the tree, open and stat-ed but not yet read, so that a caller can refuse it
/// by its size first.
pub(crate) struct Opened {
    file: File,
    size: u64,
    mode: u32,
    rel: String,
}

/// Open `rel` for [`Opened::read`] (`None`: absent). A symlink is not followed and a FIFO does
/// not block the open: both are refused as not regular files, and the check is made on the
/// file actually opened, not on a name that could change between a stat and an open.
pub(crate) fn open(fence: &Fence, rel: &str) -> Result<Option<Opened>> {
    // The common case in one call; a symlink on the way (the file's own or a directory's) is
    // taken through the fence's resolution.
    match fence.open_direct(rel, READ_FLAGS) {
        Ok(fd) => opened(File::from(fd), rel).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOSYS | libc::EPERM | libc::EXDEV)) => {
            open_at(fence.place(rel, false)?, rel)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("could not read {rel}"))),
    }
}

/// How a file of the tree is opened for reading: not through a symlink, and without blocking on
/// a FIFO.
const READ_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::NOFOLLOW).union(OFlags::NONBLOCK).union(OFlags::CLOEXEC);

/// [`open`] in the directory found for `rel`, if there is one.
fn open_at(place: Option<Place>, rel: &str) -> Result<Option<Opened>> {
    let Some(place) = place else { return Ok(None) };
    let file = match rustix::fs::openat(place.dir.fd(), place.name.as_str(), READ_FLAGS, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => bail!("{rel} is not a regular file"),
        Err(e) => return Err(anyhow::Error::new(std::io::Error::from(e)).context(format!("could not read {rel}"))),
    };
    opened(file, rel).map(Some)
}

/// A file just opened, checked regular and stat-ed.
fn opened(file: File, rel: &str) -> Result<Opened> {
    let meta = file.metadata().with_context(|| format!("could not read {rel}"))?;
    if !meta.is_file() {
        bail!("{rel} is not a regular file");
    }
    Ok(Opened { file, size: meta.len(), mode: meta.permissions().mode() & 0o7777, rel: rel.to_string() })
}

impl Opened {
    /// Its size in bytes, as the open file's stat gave it.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn read(&mut self) -> Result<Snapshot> {
        let bytes =
            read::read_sized(&mut self.file, self.size).with_context(|| format!("could not read {}", self.rel))?;
        Ok(Snapshot { bytes, mode: self.mode })
    }
}

/// Write one side of a change: the content, or the file's absence.
pub(crate) fn put(fence: &Fence, rel: &str, state: Option<&Snapshot>) -> Result<()> {
    put_in(&Places::new(fence), rel, state)
}

/// [`put`], with the directories already open.
fn put_in(places: &Places, rel: &str, state: Option<&Snapshot>) -> Result<()> {
    match state {
        Some(s) => {
            let place = places.place(rel, true)?.expect("created when missing");
            stage_at(&place, s)?.install()?;
            place.dir.sync()
        }
        None => {
            // Already gone (with its directory, maybe): still prune what is left empty.
            let Some(place) = places.place(rel, false)? else { return prune_empty_dirs(places.fence(), rel) };
            match rustix::fs::unlinkat(place.dir.fd(), place.name.as_str(), AtFlags::empty()) {
                Ok(()) => place.dir.sync()?,
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => {
                    return Err(std::io::Error::from(e)).with_context(|| format!("could not remove {rel}"));
                }
            }
            prune_empty_dirs(places.fence(), &place.rel)
        }
    }
}

/// Remove the directories a deletion left empty, up to the tree root, so a rolled-back creation
/// leaves the tree exactly as it was (as `git apply` does for a deleted file's directory).
/// `rel` is resolved (no symlinked directory on the way).
fn prune_empty_dirs(fence: &Fence, rel: &str) -> Result<()> {
    let mut dir = std::path::Path::new(rel).parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        let abs = fence.join(&d.to_string_lossy());
        match fs::remove_dir(&abs) {
            Ok(()) => crate::store::fs::sync_dir(abs.parent().unwrap_or(fence.root()))?,
            Err(_) => break, // not empty (or not ours to remove): stop here
        }
        dir = d.parent();
    }
    Ok(())
}

/// Apply every change in the plan, or none of them (see [`commit_many`]).
pub(crate) fn commit(fence: &Fence, plan: &Plan) -> Result<()> {
    commit_many(fence, &[plan]).pop().expect("one result for one plan")
}

/// Apply several plans on disjoint files, each all-or-nothing on its own, with their flushes
/// shared; one result per plan, in order.
///
/// The new contents of every plan are first made durable in temp files beside their targets,
/// written and fsynced on several threads; then, plan by plan, each file is checked unchanged
/// since the plan and renamed into place; then each touched directory is synced once. A plan
/// that fails at any step has its temp files removed and the files it already swapped restored;
/// the other plans stand.
pub(crate) fn commit_many(fence: &Fence, plans: &[&Plan]) -> Vec<Result<()>> {
    let changes: Vec<Vec<&FileChange>> =
        plans.iter().map(|p| p.files.iter().filter(|c| c.changes_anything()).collect()).collect();
    let places = Places::new(fence);
    let all: Vec<&FileChange> = changes.iter().flatten().copied().collect();
    let mut staged = stage(&places, &all).into_iter();
    let mut dirs: Vec<Dir> = Vec::new();
    let mut done: Vec<Vec<&FileChange>> = vec![Vec::new(); plans.len()];
    let (installed, synced) = std::thread::scope(|s| {
        let release = closer(s, all.len());
        let mut installed: Vec<Result<Vec<usize>>> = Vec::with_capacity(plans.len());
        for (mine, done) in changes.iter().zip(&mut done) {
            // All of this plan's are taken before any is looked at, so the next plan starts at
            // its own; a failure drops the staged files not yet installed, which removes them.
            let ours: Vec<Result<Option<Staged>>> = staged.by_ref().take(mine.len()).collect();
            let ours: Result<Vec<Option<Staged>>> = ours.into_iter().collect();
            installed.push(ours.and_then(|ours| install(&places, mine, ours, &release, &mut dirs, done)));
        }
        // Each directory a file was renamed into, once (a deletion syncs its own in `put`),
        // while the closers finish.
        let synced: Vec<Result<()>> = parallel::map(&dirs, atomic::FLUSH_THREADS, 1, |d| d.sync());
        (installed, synced)
    });
    installed
        .into_iter()
        .zip(done)
        .map(|(used, done)| {
            let err = match used {
                Ok(used) => match used.iter().find_map(|&d| synced[d].as_ref().err()) {
                    None => return Ok(()),
                    Some(err) => anyhow::anyhow!("{err:#}"),
                },
                Err(err) => err,
            };
            Err(restore(fence, &done, err))
        })
        .collect()
}

/// Install one plan's staged files (`None`: a deletion), each after checking the file is still
/// as the plan found it. The changes made so far go in `done`; the directories renamed into are
/// added to `dirs`, and their indexes there returned.
fn install<'c>(
    places: &Places,
    changes: &[&'c FileChange],
    staged: Vec<Option<Staged>>,
    release: &std::sync::mpsc::SyncSender<Opened>,
    dirs: &mut Vec<Dir>,
    done: &mut Vec<&'c FileChange>,
) -> Result<Vec<usize>> {
    let mut used = Vec::new();
    for (change, staged) in changes.iter().zip(staged) {
        let (now, current) = find(places.place(&change.path, false)?, &change.path)?;
        if now != change.before {
            bail!("{} changed on disk since the patch was checked; nothing was applied", change.path);
        }
        match staged {
            Some(staged) => {
                let d = match dirs.iter().position(|d| d.path() == staged.dir().path()) {
                    Some(d) => d,
                    None => {
                        dirs.push(staged.dir().clone());
                        dirs.len() - 1
                    }
                };
                if !used.contains(&d) {
                    used.push(d);
                }
                staged.install()?
            }
            None => put_in(places, &change.path, None)?,
        }
        // Closed only now that its name is gone (see `closer`); if no closer is left, the failed
        // send hands the file back and it is closed here.
        if let Some(file) = current {
            let _ = release.send(file);
        }
        done.push(change);
    }
    Ok(used)
}

/// Put back the files a failed plan already changed, newest first; `err` says why it failed.
fn restore(fence: &Fence, done: &[&FileChange], err: anyhow::Error) -> anyhow::Error {
    let restore_errors: Vec<String> = done
        .iter()
        .rev()
        .filter_map(|c| put(fence, &c.path, c.before.as_ref()).err().map(|e| format!("{}: {e:#}", c.path)))
        .collect();
    if restore_errors.is_empty() {
        return err;
    }
    err.context(format!("and could not restore: {}", restore_errors.join("; ")))
}

/// Threads that close the files sent to them. The last close of a file whose name a rename or a
/// deletion removed frees its blocks, and on a file system mounted with `discard` that waits for
/// the device: holding each file open until its name is gone, then closing it here, takes those
/// waits out of the rename loop and overlaps them with it. The queue is bounded, so a patch of
/// thousands of files never holds more than a few dozen open: a send waits when it is full.
/// A one-file patch has no loop to overlap with, so it gets no thread (its send fails and the
/// file is closed in place) rather than four threads started and joined for nothing.
fn closer<'scope>(s: &'scope std::thread::Scope<'scope, '_>, changes: usize) -> std::sync::mpsc::SyncSender<Opened> {
    const CLOSERS: usize = 4;
    const QUEUED: usize = 32;
    let (send, receive) = std::sync::mpsc::sync_channel::<Opened>(QUEUED);
    let receive = std::sync::Arc::new(std::sync::Mutex::new(receive));
    for _ in 0..CLOSERS.min(changes.saturating_sub(1)) {
        let receive = std::sync::Arc::clone(&receive);
        s.spawn(move || {
            loop {
                // The lock is let go before the close, so the closes run side by side.
                let next = receive.lock().map(|r| r.recv());
                let Ok(Ok(file)) = next else { break };
                drop(file);
            }
        });
    }
    send
}

/// Write each new content to a temp file beside its target (`None` for a deletion) and fsync it,
/// from several threads: creating a file and waiting for its flush overlap with the others'.
/// One result per change: a plan that fails does not stop the others from staging.
fn stage(places: &Places, changes: &[&FileChange]) -> Vec<Result<Option<Staged>>> {
    parallel::map(changes, atomic::FLUSH_THREADS, 1, |change| {
        let Some(after) = &change.after else { return Ok(None) };
        let place = places.place(&change.path, true)?.expect("created when missing");
        stage_at(&place, after).map(Some)
    })
}

/// A file's new content (or a symlink) staged beside it.
fn stage_at(place: &Place, state: &Snapshot) -> Result<Staged> {
    if state.is_symlink() {
        Staged::link_in(&place.dir, &place.name, &state.bytes)
    } else {
        Staged::new_in(&place.dir, &place.name, &state.bytes, Some(state.mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::results::FileResult;
    use rustix::fs::FileType;
    use std::path::Path;

    fn change(fence: &Fence, path: &str, after: Option<&[u8]>) -> FileChange {
        let result =
            FileResult { path: path.into(), action: "modify".into(), from: None, added: 0, removed: 0, matched: None };
        FileChange {
            path: path.into(),
            before: snapshot(fence, path).unwrap(),
            after: after.map(|b| Snapshot { bytes: b.to_vec(), mode: 0o640 }),
            result,
        }
    }

    fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().strip_prefix(dir).unwrap().display().to_string(), fs::read(e.path()).unwrap()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn open_refuses_what_is_not_a_regular_file_without_blocking_and_snapshot_sees_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, dir.path().join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0)
            .unwrap();
        fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        for name in ["fifo", "link"] {
            let err = open(&fence, name).err().unwrap();
            assert_eq!(err.to_string(), format!("{name} is not a regular file"));
        }
        assert_eq!(snapshot(&fence, "fifo").unwrap_err().to_string(), "fifo is not a regular file");
        let link = Snapshot { bytes: b"real".to_vec(), mode: SYMLINK_MODE };
        assert_eq!(snapshot(&fence, "link").unwrap(), Some(link));
        assert_eq!(snapshot(&fence, "missing").unwrap(), None);
        assert_eq!(snapshot(&fence, "real").unwrap().unwrap().bytes, b"x");
    }

    #[test]
    fn commits_all_files_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "a").unwrap();
        fs::write(dir.path().join("gone"), "x").unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        let plan = Plan {
            files: vec![
                change(&fence, "a", Some(b"A")),
                change(&fence, "new/b", Some(b"B")),
                change(&fence, "gone", None),
            ],
        };
        commit(&fence, &plan).unwrap();
        assert_eq!(listing(dir.path()), vec![("a".into(), b"A".to_vec()), ("new/b".into(), b"B".to_vec())]);
        assert_eq!(fs::metadata(dir.path().join("new/b")).unwrap().permissions().mode() & 0o777, 0o640);
        // Deleting the only file of a directory removes the directory too.
        commit(&fence, &Plan { files: vec![change(&fence, "new/b", None)] }).unwrap();
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn a_file_that_cannot_be_staged_leaves_the_tree_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        for name in &names {
            fs::write(dir.path().join(name), "old").unwrap();
        }
        fs::write(dir.path().join("blocker"), "a file, not a directory").unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        let before = listing(dir.path());
        // The other twenty are staged on other threads, some after the failure.
        let mut files: Vec<FileChange> = names.iter().map(|n| change(&fence, n, Some(b"new"))).collect();
        let mut blocked = change(&fence, "f0", Some(b"x"));
        blocked.path = "blocker/inner".into(); // absent before: its directory is a file
        blocked.before = None;
        files.insert(5, blocked);
        let err = commit(&fence, &Plan { files }).unwrap_err();
        assert!(format!("{err:#}").contains("blocker/inner"), "{err:#}");
        assert_eq!(listing(dir.path()), before, "no file changed and no temp file is left");
    }

    #[test]
    fn a_file_changed_since_the_plan_aborts_everything() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "a").unwrap();
        fs::write(dir.path().join("b"), "b").unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        let plan = Plan { files: vec![change(&fence, "a", Some(b"A")), change(&fence, "b", Some(b"B"))] };
        fs::write(dir.path().join("b"), "someone else").unwrap();
        let err = commit(&fence, &plan).unwrap_err().to_string();
        assert!(err.contains("b changed on disk"), "{err}");
        assert_eq!(listing(dir.path()), vec![("a".into(), b"a".to_vec()), ("b".into(), b"someone else".to_vec())]);
    }

    #[test]
    fn plans_committed_together_stand_or_fall_each_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        fs::write(dir.path().join("blocker"), "a file, not a directory").unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        let first = Plan { files: vec![change(&fence, "a", Some(b"A")), change(&fence, "new/a2", Some(b"A2"))] };
        // Changed on disk after it was planned: its first file is swapped, then put back.
        let second = Plan { files: vec![change(&fence, "new/b2", Some(b"B2")), change(&fence, "b", Some(b"B"))] };
        let mut blocked = change(&fence, "c", Some(b"x"));
        blocked.path = "blocker/inner".into();
        blocked.before = None;
        // Its second file cannot be staged: its first is never written.
        let third = Plan { files: vec![change(&fence, "c", Some(b"C")), blocked] };
        let fourth = Plan { files: vec![change(&fence, "c", None)] };
        fs::write(dir.path().join("b"), "someone else").unwrap();
        let results = commit_many(&fence, &[&first, &second, &third, &fourth]);
        let errors: Vec<String> =
            results.iter().map(|r| r.as_ref().err().map(|e| format!("{e:#}")).unwrap_or_default()).collect();
        assert_eq!(errors[0], "");
        assert!(errors[1].contains("b changed on disk"), "{}", errors[1]);
        assert!(errors[2].contains("blocker/inner"), "{}", errors[2]);
        assert_eq!(errors[3], "");
        assert_eq!(
            listing(dir.path()),
            vec![
                ("a".into(), b"A".to_vec()),
                ("b".into(), b"someone else".to_vec()),
                ("blocker".into(), b"a file, not a directory".to_vec()),
                ("new/a2".into(), b"A2".to_vec()),
            ],
            "the first and fourth applied, nothing of the second and third, no temp file left"
        );
    }

    #[test]
    fn a_write_planned_before_a_directory_became_a_symlink_does_not_leave_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        let plan = Plan { files: vec![change(&fence, "sub/a.txt", Some(b"A"))] };
        // Between the plan and the write, someone replaces the directory with a symlink out.
        fs::remove_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        let err = format!("{:#}", commit(&fence, &plan).unwrap_err());
        assert!(err.contains("leads outside the tree"), "{err}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "nothing written outside");
    }
}
