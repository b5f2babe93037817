//! `INDEX.md` in each directory of an environment's store: its files and subdirectories with
//! sizes and links. Hidden directories (the summaries' `.archive/` among them) are left out
//! unless `--all`; gen-docs' own temp files always are. The snapshot directories under
//! `backups/` are listed but never written into: they hold copies of the tree's files, one of
//! which could itself be called INDEX.md.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::docs::{Planned, md};
use crate::store::atomic::TEMP_PREFIX;

pub const FILE: &str = "INDEX.md";

/// Files and bytes below a directory.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    files: u64,
    bytes: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.files += o.files;
        self.bytes += o.bytes;
    }
}

struct Walk<'a> {
    all: bool,
    /// Sizes of the files this run is about to write, which win over what is on disk now.
    planned: &'a HashMap<PathBuf, u64>,
    out: Vec<Planned>,
}

/// The INDEX.md of `root` (titled `name`) and of every directory below it that gets one.
pub fn build(root: &Path, name: &str, all: bool, planned: &HashMap<PathBuf, u64>) -> Result<Vec<Planned>> {
    let mut walk = Walk { all, planned, out: Vec::new() };
    walk.dir(root, name, 0)?;
    Ok(walk.out)
}

struct Entry {
    name: String,
    is_dir: bool,
    is_symlink: bool,
    path: PathBuf,
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Walk<'_> {
    /// Index `dir` (after its subdirectories, whose INDEX.md sizes it lists) and return its totals.
    fn dir(&mut self, dir: &Path, title: &str, depth: usize) -> Result<Totals> {
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for entry in self.entries(dir)? {
            if entry.is_dir {
                let sub = format!("{title}/{}", entry.name);
                // `backups/<id>/`: depth 1 is `backups`, its children are snapshots.
                let snapshot = depth == 1 && title.ends_with("/backups");
                let totals = if snapshot { self.du(&entry.path)? } else { self.dir(&entry.path, &sub, depth + 1)? };
                dirs.push((entry.name, totals, !snapshot));
            } else {
                let size = self.size(&entry.path)?;
                files.push((entry.name, size, entry.is_symlink));
            }
        }
        let mut totals = Totals::default();
        let mut text = String::with_capacity(256 + 64 * (dirs.len() + files.len()));
        let _ = writeln!(text, "{}\n\n# Index of {}\n", md::MARKER, md::cell(title, usize::MAX));
        if depth > 0 {
            let _ = writeln!(text, "Up: [../](../{FILE})\n");
        }
        for (_, t, _) in &dirs {
            totals += *t;
        }
        for (_, size, _) in &files {
            totals += Totals { files: 1, bytes: *size };
        }
        let _ = writeln!(
            text,
            "{}, {}, {} in all.\n",
            count(dirs.len() as u64, "directory", "directories"),
            count(files.len() as u64, "file", "files"),
            md::size(totals.bytes)
        );
        if !dirs.is_empty() || !files.is_empty() {
            text.push_str("| name | size |\n|---|---:|\n");
        }
        for (name, t, indexed) in &dirs {
            let target = if *indexed { format!("{name}/{FILE}") } else { format!("{name}/") };
            let link = md::link(&format!("{name}/"), &target);
            let _ = writeln!(text, "| {link} | {}, {} |", count(t.files, "file", "files"), md::size(t.bytes));
        }
        for (name, size, symlink) in &files {
            let note = if *symlink { " (symlink)" } else { "" };
            let _ = writeln!(text, "| {}{note} | {} |", md::link(name, name), md::size(*size));
        }
        let path = dir.join(FILE);
        totals += Totals { files: 1, bytes: text.len() as u64 };
        self.out.push(Planned { path, bytes: text.into_bytes() });
        Ok(totals)
    }

    /// The entries of `dir` worth listing, sorted by name; a missing directory is empty.
    fn entries(&self, dir: &Path) -> Result<Vec<Entry>> {
        let read = match std::fs::read_dir(dir) {
            Ok(r) => Some(r),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
        };
        let mut out = Vec::new();
        for entry in read.into_iter().flatten() {
            let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == FILE || name.starts_with(TEMP_PREFIX) || (name.starts_with('.') && !self.all) {
                continue;
            }
            let kind = entry.file_type().with_context(|| format!("could not stat {}", entry.path().display()))?;
            out.push(Entry { name, is_dir: kind.is_dir(), is_symlink: kind.is_symlink(), path: entry.path() });
        }
        // Files this run is about to create are listed as if they were there already.
        for path in self.planned.keys().filter(|p| p.parent() == Some(dir)) {
            if !out.iter().any(|e| e.path == *path) {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                out.push(Entry { name, is_dir: false, is_symlink: false, path: path.clone() });
            }
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn size(&self, path: &Path) -> Result<u64> {
        if let Some(size) = self.planned.get(path) {
            return Ok(*size);
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) => Ok(m.len()),
            // Removed since the listing (a patch moved on): the next run will not list it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("could not stat {}", path.display())),
        }
    }

    /// Totals of a directory that gets no INDEX.md of its own.
    fn du(&self, dir: &Path) -> Result<Totals> {
        let mut totals = Totals::default();
        for entry in walkdir::WalkDir::new(dir).min_depth(1) {
            let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
            if !entry.file_type().is_dir() {
                let bytes =
                    entry.metadata().with_context(|| format!("could not stat {}", entry.path().display()))?.len();
                totals += Totals { files: 1, bytes };
            }
        }
        Ok(totals)
    }
}
