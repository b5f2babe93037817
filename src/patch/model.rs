//! What a parsed patch says, whatever format it came in: its metadata and a list of edits. Every
//! format parser produces these; the planner is the only reader.

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

/// The format a patch was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Json,
    Unified,
    Codex,
    SearchReplace,
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
        mode: Option<u32>,
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
        mode: u32,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    /// `None`: the file is created (`/dev/null`, `*** Add File`).
    pub old_path: Option<String>,
    /// `None`: the file is deleted.
    pub new_path: Option<String>,
    /// The file moves from `old_path` to `new_path` (git `rename from/to`, Codex `*** Move to`).
    pub rename: bool,
    /// Permission bits after the patch, where it says (git `new mode`, `new file mode`).
    pub new_mode: Option<u32>,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    /// Where the patch says the old lines start (1-based), when it says.
    pub old_start: Option<usize>,
    pub lines: Vec<Line>,
    /// Codex `@@ text` anchors: lines to find, in order, before the hunk's own lines.
    pub anchors: Vec<String>,
    /// The old lines end at the end of the file (Codex `*** End of File`).
    pub at_eof: bool,
    /// `\ No newline at end of file` after the last old / new line.
    pub old_no_newline: bool,
    pub new_no_newline: bool,
}

impl Hunk {
    /// The lines the file must hold before: context and removed lines.
    pub fn old_lines(&self) -> Vec<&str> {
        self.side(false)
    }

    /// The lines the file holds after: context and added lines.
    pub fn new_lines(&self) -> Vec<&str> {
        self.side(true)
    }

    fn side(&self, new: bool) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Context(t) => Some(t.as_str()),
                Line::Add(t) if new => Some(t.as_str()),
                Line::Remove(t) if !new => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn counts(&self) -> (u64, u64) {
        let added = self.lines.iter().filter(|l| matches!(l, Line::Add(_))).count() as u64;
        let removed = self.lines.iter().filter(|l| matches!(l, Line::Remove(_))).count() as u64;
        (added, removed)
    }
}

/// A hunk line's text, without its prefix or line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Context(String),
    Remove(String),
    Add(String),
}
