//! A plan: what a patch will do to each file, decided before anything is written. Parsing and
//! matching produce a plan from a patch and a tree; the transaction turns a plan into disk state.
//! Keeping the two apart is what makes a patch all-or-nothing: every hunk of every file is
//! matched first, and only a plan with no refusal reaches the disk.

use crate::store::results::FileResult;

/// A file's content and permission bits; or a symlink's target, with the mode [`SYMLINK_MODE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// The mode of a [`Snapshot`] that is a symlink (git's, and the file type bits of `st_mode`).
pub const SYMLINK_MODE: u32 = 0o120000;

impl Snapshot {
    pub fn is_symlink(&self) -> bool {
        self.mode == SYMLINK_MODE
    }
}

/// One path's before and after. `None` before: the file does not exist yet; `None` after: the
/// patch deletes it. A move is two changes: a delete of the old path and a create of the new.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Relative to the tree, already through the fence.
    pub path: String,
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
    /// What the summary and result say of this file.
    pub result: FileResult,
}

impl FileChange {
    pub fn changes_anything(&self) -> bool {
        self.before != self.after
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub files: Vec<FileChange>,
}

impl Plan {
    /// True when the tree already holds everything the patch asks for.
    pub fn is_noop(&self) -> bool {
        !self.files.iter().any(FileChange::changes_anything)
    }
}
