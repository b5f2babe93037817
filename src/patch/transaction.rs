//! Turning a [`Plan`] into disk state, all files or none. Each file is written atomically; before
//! each write the file must still be as the plan found it (someone else's edit in between aborts
//! the patch), and any failure restores the files already written.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::parallel;
use crate::patch::fence::Fence;
use crate::patch::plan::{FileChange, Plan, Snapshot};
use crate::store::atomic::{self, Staged};
use crate::store::read;

/// The file as it is on disk now (`None`: absent).
pub fn snapshot(fence: &Fence, rel: &str) -> Result<Option<Snapshot>> {
    open(fence, rel)?.as_mut().map(Opened::read).transpose()
}

/// A regular file of the tree, open and stat-ed but not yet read, so that a caller can refuse it
/// by its size first.
pub struct Opened {
    file: File,
    size: u64,
    mode: u32,
    rel: String,
}

/// Open `rel` for [`Opened::read`] (`None`: absent). A symlink is not followed and a FIFO does
/// not block the open: both are refused as not regular files, and the check is made on the
/// file actually opened, not on a name that could change between a stat and an open.
pub fn open(fence: &Fence, rel: &str) -> Result<Option<Opened>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file =
        match fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(fence.join(rel))
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => bail!("{rel} is not a regular file"),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("could not read {rel}"))),
        };
    let meta = file.metadata().with_context(|| format!("could not read {rel}"))?;
    if !meta.is_file() {
        bail!("{rel} is not a regular file");
    }
    Ok(Some(Opened { file, size: meta.len(), mode: meta.permissions().mode() & 0o7777, rel: rel.to_string() }))
}

impl Opened {
    /// Its size in bytes, as the open file's stat gave it.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn read(&mut self) -> Result<Snapshot> {
        let bytes =
            read::read_sized(&mut self.file, self.size).with_context(|| format!("could not read {}", self.rel))?;
        Ok(Snapshot { bytes, mode: self.mode })
    }
}

/// Write one side of a change: the content, or the file's absence.
pub fn put(fence: &Fence, rel: &str, state: Option<&Snapshot>) -> Result<()> {
    let path = fence.join(rel);
    match state {
        Some(s) => atomic::write_with_mode(&path, &s.bytes, Some(s.mode)),
        None => {
            atomic::remove(&path)?;
            prune_empty_dirs(fence, rel)
        }
    }
}

/// Remove the directories a deletion left empty, up to the tree root, so a rolled-back creation
/// leaves the tree exactly as it was (as `git apply` does for a deleted file's directory).
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

/// Apply every change in the plan, or none of them.
///
/// The new contents are first made durable in temp files beside their targets, written and
/// fsynced on several threads; then each file is checked unchanged since the plan and renamed
/// into place; then each touched directory is synced once. Any failure removes the temp files
/// and restores the files already swapped.
pub fn commit(fence: &Fence, plan: &Plan) -> Result<()> {
    let changes: Vec<&FileChange> = plan.files.iter().filter(|c| c.changes_anything()).collect();
    let staged = stage(fence, &changes)?;
    let mut done: Vec<&FileChange> = Vec::new();
    let swapped = std::thread::scope(|s| {
        let release = closer(s, changes.len());
        // A failure drops the staged files not yet installed, which removes their temp files.
        for (change, staged) in changes.iter().zip(staged) {
            let mut current = open(fence, &change.path)?;
            if current.as_mut().map(Opened::read).transpose()? != change.before {
                bail!("{} changed on disk since the patch was checked; nothing was applied", change.path);
            }
            match staged {
                Some(staged) => staged.install()?,
                None => put(fence, &change.path, None)?,
            }
            // Closed only now that its name is gone (see `closer`); if no closer is left, the
            // failed send hands the file back and it is closed here.
            if let Some(file) = current {
                let _ = release.send(file);
            }
            done.push(change);
        }
        sync_dirs(fence, &changes)
    });
    let Err(err) = swapped else { return Ok(()) };
    let restore_errors: Vec<String> = done
        .iter()
        .rev()
        .filter_map(|c| put(fence, &c.path, c.before.as_ref()).err().map(|e| format!("{}: {e:#}", c.path)))
        .collect();
    if restore_errors.is_empty() {
        return Err(err);
    }
    Err(err.context(format!("and could not restore: {}", restore_errors.join("; "))))
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
fn stage(fence: &Fence, changes: &[&FileChange]) -> Result<Vec<Option<Staged>>> {
    parallel::try_map(changes, atomic::FLUSH_THREADS, 1, |change| {
        let Some(after) = &change.after else { return Ok(None) };
        Staged::new(&fence.join(&change.path), &after.bytes, Some(after.mode)).map(Some)
    })
}

/// fsync every directory a change renamed into, once each. A directory a deletion emptied is
/// gone already (`put` prunes it and syncs its parent).
fn sync_dirs(fence: &Fence, changes: &[&FileChange]) -> Result<()> {
    let mut dirs: Vec<PathBuf> =
        changes.iter().filter_map(|c| fence.join(&c.path).parent().map(Path::to_path_buf)).collect();
    dirs.sort();
    dirs.dedup();
    // A deletion may have pruned its emptied directory.
    let handles = dirs
        .iter()
        .filter(|d| d.is_dir())
        .map(|d| File::open(d).with_context(|| format!("could not open directory {}", d.display())))
        .collect::<Result<Vec<File>>>()?;
    parallel::try_map(&handles, atomic::FLUSH_THREADS, 1, |d| {
        d.sync_all().context("could not sync the patched directories")
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::results::FileResult;

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
    fn snapshot_refuses_what_is_not_a_regular_file_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = std::ffi::CString::new(dir.path().join("fifo").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        fs::write(dir.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        for name in ["fifo", "link"] {
            let err = snapshot(&fence, name).unwrap_err();
            assert_eq!(err.to_string(), format!("{name} is not a regular file"));
        }
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
}
