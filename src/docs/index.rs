//! `INDEX.md` in each directory of an environment's store: its files and subdirectories with
//! sizes and links. Hidden directories (the summaries' `.archive/` among them) are left out
//! unless `--all`; temp files always are. The snapshot directories under `backups/` are listed
//! by name but never walked or written into: they hold copies of the tree's files, one of which
//! could itself be called INDEX.md.
//!
//! The walk comes in two steps so that gen-docs can run it while it reads the records: [`scan`]
//! indexes every directory below the root, [`finish`] the root itself, once the sizes of the
//! manifest and README about to be written there are known, and the one directory whose files'
//! sizes the records give (`results/`: read whole for the manifest, so 100,000 stats are spared).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::docs::{Planned, md};
use crate::store::atomic::TEMP_PREFIX;

pub(crate) const FILE: &str = "INDEX.md";

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

struct Entry {
    name: String,
    is_dir: bool,
    is_symlink: bool,
    /// Known without a stat (see [`Known`]).
    size: Option<u64>,
    /// Kept for its stat, which resolves the name against the open directory, not the full path.
    dirent: std::fs::DirEntry,
}

/// A subdirectory as its parent lists it.
type Dir = (String, Listing);

#[derive(Debug, Clone, Copy)]
enum Listing {
    Indexed(Totals),
    /// A backup snapshot: listed by name, never walked.
    Snapshot,
    /// The directory [`finish`] indexes.
    Deferred,
}

/// Sizes the caller already has, by file name, for the files of the deferred directory.
pub(crate) type Known<'a> = &'a dyn Fn(&str) -> Option<u64>;

/// A directory listed by the walk but indexed by [`finish`].
struct Deferred {
    dir: PathBuf,
    title: String,
    dirs: Vec<Dir>,
    files: Vec<Entry>,
}

/// The store below the root, indexed; the root's own listing waits for [`finish`].
pub(crate) struct Scan {
    root: PathBuf,
    title: String,
    dirs: Vec<Dir>,
    files: Vec<Entry>,
    out: Vec<Planned>,
    temps: Vec<PathBuf>,
    deferred: Option<Deferred>,
}

/// Index every directory below `root` (titled `name`) but `defer`, a child of the root, and list
/// the root.
pub(crate) fn scan(root: &Path, name: &str, all: bool, defer: &Path) -> Result<Scan> {
    let mut walk = Walk { all, defer, deferred: None, out: Vec::new(), temps: Vec::new() };
    let (dirs, files) = walk.children(root, name, 0)?;
    let Walk { out, temps, deferred, .. } = walk;
    Ok(Scan { root: root.to_path_buf(), title: name.to_string(), dirs, files, out, temps, deferred })
}

/// Index the deferred directory, its files sized by `known` where it can, and the root, listing
/// `planned` (files about to be written in the root) with their new sizes. Returns every INDEX.md
/// and the temp files seen in the directories walked.
pub(crate) fn finish(mut scan: Scan, planned: &[Planned], known: Known) -> Result<(Vec<Planned>, Vec<PathBuf>)> {
    if let Some(mut d) = scan.deferred.take() {
        for entry in &mut d.files {
            entry.size = known(&entry.name);
        }
        let totals = render(&mut scan.out, &d.dir, &d.title, 1, &d.dirs, &sized(d.files)?);
        for (_, listing) in &mut scan.dirs {
            if let Listing::Deferred = listing {
                *listing = Listing::Indexed(totals);
            }
        }
    }
    scan.files.retain(|e| !planned.iter().any(|p| p.path == e.dirent.path()));
    let mut files = Vec::new();
    for p in planned.iter().filter(|p| p.path.parent() == Some(&scan.root)) {
        let name = p.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push((name, p.bytes.len() as u64, false));
    }
    files.extend(sized(scan.files)?);
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    render(&mut scan.out, &scan.root, &scan.title, 0, &scan.dirs, &files);
    Ok((scan.out, scan.temps))
}

struct Walk<'a> {
    all: bool,
    defer: &'a Path,
    deferred: Option<Deferred>,
    out: Vec<Planned>,
    /// Temp files, never listed; kept so gen-docs can remove stale ones without listing again.
    temps: Vec<PathBuf>,
}

impl Walk<'_> {
    /// The subdirectories of `dir` (each indexed first, for its totals) and its files.
    fn children(&mut self, dir: &Path, title: &str, depth: usize) -> Result<(Vec<Dir>, Vec<Entry>)> {
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for entry in self.entries(dir)? {
            if entry.is_dir {
                // `backups/<id>/` (depth 1 is `backups`): snapshots, listed by name only. Walking
                // 100,000 of them for sizes would cost more than everything else gen-docs does.
                let snapshot = depth == 1 && title.ends_with("/backups");
                let title = format!("{title}/{}", entry.name);
                let path = entry.dirent.path();
                let listing = if snapshot {
                    Listing::Snapshot
                } else if depth == 0 && path == self.defer {
                    let (dirs, files) = self.children(&path, &title, 1)?;
                    self.deferred = Some(Deferred { dir: path, title, dirs, files });
                    Listing::Deferred
                } else {
                    Listing::Indexed(self.dir(&path, &title, depth + 1)?)
                };
                dirs.push((entry.name, listing));
            } else {
                files.push(entry);
            }
        }
        Ok((dirs, files))
    }

    /// Index `dir` (after its subdirectories, whose INDEX.md sizes it lists) and return its totals.
    fn dir(&mut self, dir: &Path, title: &str, depth: usize) -> Result<Totals> {
        let (dirs, files) = self.children(dir, title, depth)?;
        let files = sized(files)?;
        Ok(render(&mut self.out, dir, title, depth, &dirs, &files))
    }

    /// The entries of `dir` worth listing, sorted by name; a missing directory is empty.
    fn entries(&mut self, dir: &Path) -> Result<Vec<Entry>> {
        let read = match std::fs::read_dir(dir) {
            Ok(r) => Some(r),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
        };
        let mut out = Vec::new();
        for entry in read.into_iter().flatten() {
            let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                self.temps.push(entry.path());
            }
            if name == FILE || name.starts_with(TEMP_PREFIX) || (name.starts_with('.') && !self.all) {
                continue;
            }
            let kind = entry.file_type().with_context(|| format!("could not stat {}", entry.path().display()))?;
            out.push(Entry { name, is_dir: kind.is_dir(), is_symlink: kind.is_symlink(), size: None, dirent: entry });
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// Write `dir`'s INDEX.md into `out` and return the directory's totals, its INDEX.md included.
fn render(
    out: &mut Vec<Planned>,
    dir: &Path,
    title: &str,
    depth: usize,
    dirs: &[Dir],
    files: &[(String, u64, bool)],
) -> Totals {
    let mut totals = Totals::default();
    for (_, listing) in dirs {
        if let Listing::Indexed(t) = listing {
            totals += *t;
        }
    }
    for (_, size, _) in files {
        totals += Totals { files: 1, bytes: *size };
    }
    let mut text = String::with_capacity(256 + 64 * (dirs.len() + files.len()));
    let _ = writeln!(text, "{}\n\n# Index of {}\n", md::MARKER, md::cell(title, usize::MAX));
    if depth > 0 {
        let _ = writeln!(text, "Up: [../](../{FILE})\n");
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
    for (name, t) in dirs {
        let _ = match t {
            Listing::Indexed(t) => writeln!(
                text,
                "| {} | {}, {} |",
                md::link(&format!("{name}/"), &format!("{name}/{FILE}")),
                count(t.files, "file", "files"),
                md::size(t.bytes)
            ),
            Listing::Snapshot => writeln!(text, "| {} | backup |", md::link(&format!("{name}/"), &format!("{name}/"))),
            Listing::Deferred => unreachable!("finish indexes the deferred directory before its parent"),
        };
    }
    for (name, size, symlink) in files {
        let note = if *symlink { " (symlink)" } else { "" };
        let _ = writeln!(text, "| {}{note} | {} |", md::link(name, name), md::size(*size));
    }
    totals += Totals { files: 1, bytes: text.len() as u64 };
    out.push(Planned { path: dir.join(FILE), bytes: text.into_bytes() });
    totals
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `(name, size, is_symlink)` for each file, stat-ing on a few threads.
fn sized(files: Vec<Entry>) -> Result<Vec<(String, u64, bool)>> {
    let sizes = crate::parallel::try_map(&files, 8, 256, stat_size)?;
    Ok(files.into_iter().zip(sizes).map(|(e, size)| (e.name, size, e.is_symlink)).collect())
}

fn stat_size(entry: &Entry) -> Result<u64> {
    if let Some(size) = entry.size {
        return Ok(size);
    }
    match entry.dirent.metadata() {
        Ok(m) => Ok(m.len()),
        // Removed since the listing (a patch moved on): the next run will not list it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("could not stat {}", entry.dirent.path().display())),
    }
}
