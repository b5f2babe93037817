//! Turning a [`Plan`] into disk state, all files or none. Each file is written atomically; before
//! each write the file must still be as the plan found it (someone else's edit in between aborts
//! the patch), and any failure restores the files already written.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Result, bail};

use crate::patch::fence::Fence;
use crate::patch::plan::{FileChange, Plan, Snapshot};
use crate::store::atomic;

/// The file as it is on disk now (`None`: absent).
pub fn snapshot(fence: &Fence, rel: &str) -> Result<Option<Snapshot>> {
    let path = fence.join(rel);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => {
            Ok(Some(Snapshot { bytes: fs::read(&path)?, mode: meta.permissions().mode() & 0o7777 }))
        }
        Ok(_) => bail!("{rel} is not a regular file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("could not read {rel}"))),
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
            Ok(()) => atomic::sync_dir(abs.parent().unwrap_or(fence.root()))?,
            Err(_) => break, // not empty (or not ours to remove): stop here
        }
        dir = d.parent();
    }
    Ok(())
}

/// Apply every change in the plan, or none of them.
pub fn commit(fence: &Fence, plan: &Plan) -> Result<()> {
    let changes: Vec<&FileChange> = plan.files.iter().filter(|c| c.changes_anything()).collect();
    let mut done: Vec<&FileChange> = Vec::new();
    for change in &changes {
        let step = (|| {
            if snapshot(fence, &change.path)? != change.before {
                bail!("{} changed on disk since the patch was checked; nothing was applied", change.path);
            }
            put(fence, &change.path, change.after.as_ref())
        })();
        if let Err(err) = step {
            let restore_errors: Vec<String> = done
                .iter()
                .rev()
                .filter_map(|c| put(fence, &c.path, c.before.as_ref()).err().map(|e| format!("{}: {e:#}", c.path)))
                .collect();
            if restore_errors.is_empty() {
                return Err(err);
            }
            return Err(err.context(format!("and could not restore: {}", restore_errors.join("; "))));
        }
        done.push(change);
    }
    Ok(())
}
