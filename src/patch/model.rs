//! What a parsed patch says, whatever format it came in: its metadata and a list of edits. Every
//! format parser produces these; the planner is the only reader.

use anyhow::{Result, bail};
use serde::Serialize;

/// Who sent the patch and what it asks for besides the edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub id: Option<String>,
    pub env: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    /// Commands carried by the patch; run only where the environment allows patch commands.
    pub validate: Vec<String>,
    pub callback_url: Option<String>,
}

/// The format a patch was read as, or is forced to with `apply-patch --format` (the variants'
/// docs are that flag's help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// JSON envelope with `patch` text or `operations`.
    Json,
    /// Unified diff, git-style or plain.
    Unified,
    /// Codex `*** Begin Patch` envelope.
    Codex,
    /// `<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE` blocks.
    SearchReplace,
    /// The seed system's legacy JSON shapes.
    Legacy,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Unified => "unified",
            Format::Codex => "codex",
            Format::SearchReplace => "search-replace",
            Format::Legacy => "legacy",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub meta: Meta,
    pub format: Format,
    /// Applied in order; several edits may touch the same file.
    pub edits: Vec<Edit>,
    /// What reading the patch forgave, for the report (a hunk given twice, applied once).
    pub notes: Vec<String>,
}

impl Patch {
    /// Every path the patch names, as written (for a fence pre-check before queueing).
    pub fn paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self.edits.iter().flat_map(Edit::paths) {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
        out
    }
}

impl Edit {
    /// The paths this edit names, as written.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Edit::Diff(d) => d.old_path.iter().chain(&d.new_path).map(String::as_str).collect(),
            Edit::Move { path, to } => vec![path, to],
            Edit::Write { path, .. }
            | Edit::Replace { path, .. }
            | Edit::Regex { path, .. }
            | Edit::Delete { path }
            | Edit::Chmod { path, .. } => vec![path],
        }
    }
}

/// One step of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Hunks against one text file (unified diff, Codex, SEARCH/REPLACE), maybe with a create,
    /// delete, rename or mode change.
    Diff(FileDiff),
    /// Set the whole content; with `create`, the file must not exist yet (or already hold it).
    Write {
        path: String,
        contents: Vec<u8>,
        mode: Option<Mode>,
        create: bool,
    },
    /// Literal text replacement; `count` is how many occurrences there must be (default 1).
    Replace {
        path: String,
        search: String,
        replace: String,
        count: Option<usize>,
    },
    /// Regular-expression replacement of every match; `count`, when given, is how many matches
    /// there must be.
    Regex {
        path: String,
        pattern: String,
        replacement: String,
        count: Option<usize>,
    },
    Delete {
        path: String,
    },
    Move {
        path: String,
        to: String,
    },
    Chmod {
        path: String,
        mode: Mode,
    },
}

/// Permission bits a patch asks a file to have. [`Mode::new`] is the one way a mode from a
/// patch enters the model, whatever its format, and it takes only the permission bits (0777 at
/// most): a patch may not make a file setuid, setgid or sticky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(u32);

impl Mode {
    pub fn new(bits: u32) -> Result<Mode> {
        if bits & !0o777 == 0 {
            return Ok(Mode(bits));
        }
        let special: Vec<&str> = [(0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky")]
            .into_iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, name)| name)
            .collect();
        if special.is_empty() || bits > 0o7777 {
            bail!("mode {bits:o} is not a permission mode: only permission bits (0777 at most) may come from a patch");
        }
        bail!(
            "mode {bits:o} would set the {} bit: only permission bits (0777 at most) may come from a patch",
            special.join(" and ")
        )
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

/// A git file mode (`100644`, `100755`, `120000`): a regular file's permission bits, or a
/// symlink whose target is the file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    File(Mode),
    Symlink,
}

impl FileMode {
    /// Read a git mode: `100xxx` is a regular file, `120000` a symlink; bare permission bits
    /// (`755`) are a regular file too. Directories and submodules are refused.
    pub fn from_git(raw: u32) -> Result<FileMode> {
        match raw & !0o7777 {
            0o120000 => Ok(FileMode::Symlink),
            0o100000 | 0 => Mode::new(raw & 0o7777).map(FileMode::File),
            _ => bail!(
                "mode {raw:o} is neither a regular file nor a symlink (directories and submodules are not supported)"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    /// `None`: the file is created (`/dev/null`, `*** Add File`).
    pub old_path: Option<String>,
    /// `None`: the file is deleted.
    pub new_path: Option<String>,
    /// The file moves from `old_path` to `new_path` (git `rename from/to`, Codex `*** Move to`).
    pub rename: bool,
    /// The mode after the patch, where it says (git `new mode`, `new file mode`).
    pub new_mode: Option<FileMode>,
    pub hunks: Vec<Hunk>,
}

/// One hunk. Its lines' texts sit one after another in one string, so a large diff costs an
/// allocation per hunk rather than one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    /// Where the patch says the old lines start (1-based), when it says.
    pub old_start: Option<usize>,
    /// Every line's text, without its prefix or line ending, end to end.
    text: String,
    /// Each line's kind and where its text ends in `text`.
    lines: Vec<(Line, usize)>,
    /// Codex `@@ text` anchors: lines to find, in order, before the hunk's own lines.
    pub anchors: Vec<String>,
    /// The old lines end at the end of the file (Codex `*** End of File`).
    pub at_eof: bool,
    /// `\ No newline at end of file` after the last old / new line.
    pub old_no_newline: bool,
    pub new_no_newline: bool,
}

/// What a hunk line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Context,
    Remove,
    Add,
}

impl Hunk {
    /// Room for `lines` more lines without reallocating (the text grows as it comes).
    pub fn reserve(&mut self, lines: usize) {
        self.lines.reserve(lines);
    }

    pub fn push(&mut self, kind: Line, text: &str) {
        self.text.push_str(text);
        self.lines.push((kind, self.text.len()));
    }

    /// Keep the first `len` lines.
    pub fn truncate(&mut self, len: usize) {
        self.lines.truncate(len);
        self.text.truncate(self.lines.last().map_or(0, |&(_, end)| end));
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn last(&self) -> Option<Line> {
        self.lines.last().map(|&(kind, _)| kind)
    }

    /// Each line's kind and text, in order.
    pub fn lines(&self) -> impl Iterator<Item = (Line, &str)> {
        let starts = std::iter::once(0).chain(self.lines.iter().map(|&(_, end)| end));
        self.lines.iter().zip(starts).map(|(&(kind, end), start)| (kind, &self.text[start..end]))
    }

    /// The lines the file must hold before: context and removed lines.
    pub fn old_lines(&self) -> Vec<&str> {
        self.side(Line::Remove)
    }

    /// The lines the file holds after: context and added lines.
    pub fn new_lines(&self) -> Vec<&str> {
        self.side(Line::Add)
    }

    fn side(&self, changed: Line) -> Vec<&str> {
        self.lines().filter(|&(kind, _)| kind == Line::Context || kind == changed).map(|(_, text)| text).collect()
    }

    pub fn counts(&self) -> (u64, u64) {
        let count = |of: Line| self.lines.iter().filter(|&&(kind, _)| kind == of).count() as u64;
        (count(Line::Add), count(Line::Remove))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permission_bits_come_from_a_patch() {
        assert_eq!(Mode::new(0o755).unwrap().bits(), 0o755);
        assert_eq!(Mode::new(0).unwrap().bits(), 0);
        let err = |bits| Mode::new(bits).unwrap_err().to_string();
        assert_eq!(
            err(0o4755),
            "mode 4755 would set the setuid bit: only permission bits (0777 at most) may come from a patch"
        );
        assert!(err(0o6755).contains("would set the setuid and setgid bit"));
        assert!(err(0o1777).contains("sticky"));
        assert!(err(0o100644).contains("is not a permission mode"));
    }

    #[test]
    fn git_modes_are_files_or_symlinks() {
        assert_eq!(FileMode::from_git(0o100755).unwrap(), FileMode::File(Mode::new(0o755).unwrap()));
        assert_eq!(FileMode::from_git(0o644).unwrap(), FileMode::File(Mode::new(0o644).unwrap()));
        assert_eq!(FileMode::from_git(0o120000).unwrap(), FileMode::Symlink);
        assert!(FileMode::from_git(0o104755).unwrap_err().to_string().contains("setuid"));
        assert!(FileMode::from_git(0o160000).unwrap_err().to_string().contains("submodules"));
    }
}
