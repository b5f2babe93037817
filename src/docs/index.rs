//! `INDEX.md` in each directory of an environment's store: its files and subdirectories with
//! sizes and links. Hidden directories (the summaries' `.archive/` among them) are left out
//! unless `--all`; temp files always are. The snapshot directories under `backups/` are listed
//! by name but never walked or written into: they hold copies of the tree's files, one of which
//! could itself be called INDEX.md.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::docs::{Planned, md};
use crate::store::atomic::TEMP_PREFIX;

pub const FILE: &str = "INDEX.md";

/// File sizes known without a stat: directory → file name → bytes.
pub type Known = HashMap<PathBuf, HashMap<String, u64>>;

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
    /// Files this run is about to write, listed even before they exist.
    new: &'a [PathBuf],
    /// Sizes already known, by directory and name (the files about to be written, the results
    /// just read): no stat for those.
    known: &'a Known,
    out: Vec<Planned>,
}

/// The INDEX.md of `root` (titled `name`) and of every directory below it that gets one.
pub fn build(root: &Path, name: &str, all: bool, new: &[PathBuf], known: &Known) -> Result<Vec<Planned>> {
    let mut walk = Walk { all, new, known, out: Vec::new() };
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
                // `backups/<id>/` (depth 1 is `backups`): snapshots, listed by name only. Walking
                // 100,000 of them for sizes would cost more than everything else gen-docs does.
                let snapshot = depth == 1 && title.ends_with("/backups");
                let totals = if snapshot {
                    None
                } else {
                    Some(self.dir(&entry.path, &format!("{title}/{}", entry.name), depth + 1)?)
                };
                dirs.push((entry.name, totals));
            } else {
                files.push(entry);
            }
        }
        let sizes = self.sizes(dir, &files)?;
        let files: Vec<(String, u64, bool)> =
            files.into_iter().zip(sizes).map(|(e, size)| (e.name, size, e.is_symlink)).collect();
        let mut totals = Totals::default();
        let mut text = String::with_capacity(256 + 64 * (dirs.len() + files.len()));
        let _ = writeln!(text, "{}\n\n# Index of {}\n", md::MARKER, md::cell(title, usize::MAX));
        if depth > 0 {
            let _ = writeln!(text, "Up: [../](../{FILE})\n");
        }
        for (_, t) in &dirs {
            totals += t.unwrap_or_default();
        }
        for (_, size, _) in &files {
            totals += Totals { files: 1, bytes: *size };
        }
        let _ = writeln!(
            text,
            "{}, {}, {} in all.",
            count(dirs.len() as u64, "directory", "directories"),
            count(files.len() as u64, "file", "files"),
            md::size(totals.bytes)
        );
        if !dirs.is_empty() || !files.is_empty() {
            text.push_str("\n| name | size |\n|---|---:|\n");
        }
        for (name, t) in &dirs {
            let _ = match t {
                Some(t) => writeln!(
                    text,
                    "| {} | {}, {} |",
                    md::link(&format!("{name}/"), &format!("{name}/{FILE}")),
                    count(t.files, "file", "files"),
                    md::size(t.bytes)
                ),
                None => writeln!(text, "| {} | backup |", md::link(&format!("{name}/"), &format!("{name}/"))),
            };
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
        for path in self.new.iter().filter(|p| p.parent() == Some(dir)) {
            if !out.iter().any(|e| e.path == *path) {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                out.push(Entry { name, is_dir: false, is_symlink: false, path: path.clone() });
            }
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The sizes of these files of `dir`, stat-ing on a few threads those not already known.
    fn sizes(&self, dir: &Path, files: &[Entry]) -> Result<Vec<u64>> {
        const STATTERS: usize = 8;
        let known = self.known.get(dir);
        let size = |e: &Entry| match known.and_then(|k| k.get(&e.name)) {
            Some(size) => Ok(*size),
            None => stat_size(&e.path),
        };
        let chunk = files.len().div_ceil(STATTERS).max(256);
        std::thread::scope(|scope| {
            let workers: Vec<_> = files
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(size).collect::<Result<Vec<_>>>()))
                .collect();
            let mut out = Vec::with_capacity(files.len());
            for worker in workers {
                out.extend(worker.join().expect("stat thread panicked")?);
            }
            Ok(out)
        })
    }
}

fn stat_size(path: &Path) -> Result<u64> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(m.len()),
        // Removed since the listing (a patch moved on): the next run will not list it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("could not stat {}", path.display())),
    }
}
