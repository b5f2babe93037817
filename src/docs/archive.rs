//! archive-summaries: move `summaries/<id>.md` files last modified longer ago than a threshold
//! into `summaries/.archive/YYYY/MM/` (the month of that modification time, UTC). Age is the
//! modification time because many file systems keep no creation time. A summary whose patch is
//! still waiting (incoming, pending, approved, applying) stays, whatever its age. A name already
//! taken in the archive gets a `.1`, `.2`, … suffix; nothing is ever overwritten.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rustix::fs::{AtFlags, RenameFlags};
use serde::Serialize;

use crate::docs::md;
use crate::store::queue::{self, State};
use crate::store::{Home, fs::ensure_dir};

pub(crate) const ARCHIVE_DIR: &str = ".archive";

/// One summary to move.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Move {
    pub id: String,
    #[serde(skip)]
    pub from: PathBuf,
    #[serde(skip)]
    pub to: PathBuf,
    /// Where it goes, relative to `summaries/`.
    #[serde(rename = "to")]
    pub dest: String,
    /// Device and inode of the summary when planned.
    #[serde(skip)]
    pub file: (u64, u64),
}

/// What a run found in one environment's summaries.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Plan {
    pub archived: Vec<Move>,
    /// Summaries younger than the threshold.
    pub young: usize,
    /// Old summaries kept because their patch is still waiting.
    pub waiting: usize,
}

/// Decide what to move; reads only.
pub(crate) fn plan(home: &Home, env: &str, older_than: Duration, now: SystemTime) -> Result<Plan> {
    let mut planner = Planner::new(home, env, older_than, now)?;
    let mut archived = Vec::new();
    while let Some(batch) = planner.next_batch()? {
        archived.extend(batch);
    }
    Ok(Plan { archived, young: planner.young, waiting: planner.waiting })
}

/// Plan and make the moves (see [`move_batches`]), the planning of each batch (a stat per
/// summary) on its own thread, overlapped with the moves of the batches before it.
pub(crate) fn archive(home: &Home, env: &str, older_than: Duration, now: SystemTime) -> Result<Plan> {
    let mut planner = Planner::new(home, env, older_than, now)?;
    if planner.candidates.len() == 0 {
        return Ok(Plan::default());
    }
    let summaries = planner.dir.clone();
    let from_dir = open_dir(&summaries)?;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Move>>(2);
        let planning = scope.spawn(move || -> Result<Planner> {
            while let Some(batch) = planner.next_batch()? {
                if tx.send(batch).is_err() {
                    break; // the moves stopped on an error, which they report
                }
            }
            Ok(planner)
        });
        let moved = move_batches(&summaries, &from_dir, rx, link_at);
        let planner = planning.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the planning thread panicked")));
        let (archived, planner) = (moved?, planner?);
        Ok(Plan { archived, young: planner.young, waiting: planner.waiting })
    })
}

/// Summaries planned, and then moved, per batch. Each batch costs one fsync of its archive
/// directories before its sources are unlinked, so larger batches mean fewer flushes, smaller
/// ones more overlap.
const BATCH: usize = 2048;

/// The plan, a batch at a time, in id order.
struct Planner {
    dir: PathBuf,
    /// Names that look like summaries (not temp files, the archive itself, strangers), by id.
    candidates: std::vec::IntoIter<(String, std::fs::DirEntry)>,
    waiting_ids: HashSet<String>,
    older_than: Duration,
    now: SystemTime,
    taken: Taken,
    young: usize,
    waiting: usize,
}

impl Planner {
    /// List `summaries/` (a missing one has nothing to archive) and the patches still waiting.
    fn new(home: &Home, env: &str, older_than: Duration, now: SystemTime) -> Result<Planner> {
        let dir = home.summaries_dir(env);
        let mut candidates = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => Some(e),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
        };
        for entry in entries.into_iter().flatten() {
            let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
            if let Some(id) =
                entry.file_name().to_str().and_then(|n| n.strip_suffix(".md")).filter(|id| queue::valid_id(id))
            {
                candidates.push((id.to_string(), entry));
            }
        }
        // By id, so collisions are resolved the same way whatever order the directory lists in.
        candidates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Planner {
            dir,
            candidates: candidates.into_iter(),
            waiting_ids: waiting_ids(home, env)?,
            older_than,
            now,
            taken: Taken::default(),
            young: 0,
            waiting: 0,
        })
    }

    /// The moves among the next [`BATCH`] candidates; `None` once all are planned.
    fn next_batch(&mut self) -> Result<Option<Vec<Move>>> {
        let batch: Vec<(String, std::fs::DirEntry)> = self.candidates.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(None);
        }
        let entries: Vec<&std::fs::DirEntry> = batch.iter().map(|(_, e)| e).collect();
        let mut moves = Vec::new();
        for ((id, entry), meta) in batch.iter().zip(stat_all(&entries)?) {
            if !meta.is_file() || (id == "INDEX" && is_generated_index(&entry.path())) {
                continue;
            }
            let modified = meta.modified().with_context(|| format!("could not stat {}", entry.path().display()))?;
            if !self.now.duration_since(modified).is_ok_and(|age| age > self.older_than) {
                self.young += 1;
            } else if self.waiting_ids.contains(id.as_str()) {
                self.waiting += 1;
            } else {
                let file = (meta.dev(), meta.ino());
                let month = DateTime::<Utc>::from(modified).format("%Y/%m").to_string();
                let month_dir = self.dir.join(ARCHIVE_DIR).join(&month);
                let name = self.taken.free_name(&month_dir, id, file)?;
                moves.push(Move {
                    dest: format!("{ARCHIVE_DIR}/{month}/{name}"),
                    to: month_dir.join(&name),
                    from: entry.path(),
                    id: id.clone(),
                    file,
                });
            }
        }
        Ok(Some(moves))
    }
}

/// How a summary gets its archive name: `linkat` in production; tests swap in a failing one to
/// reach the rename fallback.
type LinkFn = fn(&File, &CStr, &File, &CStr) -> std::io::Result<()>;

/// Make a planned run's moves, as [`archive`] does.
#[cfg(test)]
fn apply(plan: &mut Plan) -> Result<()> {
    apply_with(plan, link_at)
}

#[cfg(test)]
fn apply_with(plan: &mut Plan, link: LinkFn) -> Result<()> {
    let Some(first) = plan.archived.first() else { return Ok(()) };
    let summaries = parent(&first.from).to_path_buf();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    tx.send(plan.archived.clone()).expect("the receiver is alive");
    drop(tx);
    plan.archived = move_batches(&summaries, &open_dir(&summaries)?, rx, link)?;
    Ok(())
}

/// Make the moves that arrive on `batches`, summaries of the directory `from_dir`: link each
/// summary under its archive name, then unlink it from `summaries/`. Returns them, with their
/// final names. `link` never replaces a name (it fails with EEXIST), so a name taken since the
/// plan (by anything) gets the next free suffix and `to`/`dest` are updated; a summary gone
/// since the plan is skipped. Where the file system refuses hard links, that summary is moved
/// with `renameat2(RENAME_NOREPLACE)` instead.
///
/// Crash safety: one thread links a batch and hands it to a second thread, which fsyncs the
/// batch's archive directories and only then unlinks the sources (the two overlap: the kernel
/// serialises cross-directory renames but not links and unlinks). So after a crash at any
/// instant each summary is in `summaries/`, in the archive, or in both as two names of one file,
/// never in neither. The next run finishes the last case: the plan keeps that archive name (same device
/// and inode) and the link's EEXIST on the same file just leads to the unlink. A new archive
/// directory is synced into its parents before anything is linked into it, and `summaries/` is
/// synced once at the end, also after an error.
fn move_batches(summaries: &Path, from_dir: &File, batches: Receiver<Vec<Move>>, link: LinkFn) -> Result<Vec<Move>> {
    let mut to_dirs: HashMap<PathBuf, Arc<File>> = HashMap::new();
    let mut moved = Vec::new();
    let result = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<Linked>, Vec<(PathBuf, Arc<File>)>)>(2);
        let unlinker = scope.spawn(move || {
            for (linked, dirs) in rx {
                for (dir, handle) in dirs {
                    sync(&dir, &handle)?;
                }
                linked.iter().try_for_each(|l| unlink_source(from_dir, l))?;
            }
            Ok(())
        });
        let linked = (|| -> Result<()> {
            for mut batch in batches {
                let mut dirs: Vec<PathBuf> = batch.iter().map(|m| parent(&m.to).to_path_buf()).collect();
                dirs.sort();
                dirs.dedup();
                for dir in &dirs {
                    if !to_dirs.contains_key(dir) {
                        to_dirs.insert(dir.clone(), Arc::new(new_archive_dir(dir, summaries)?));
                    }
                }
                let mut linked = Vec::with_capacity(batch.len());
                for m in &mut batch {
                    linked.extend(link_one(from_dir, &to_dirs[parent(&m.to)], m, link)?);
                }
                moved.append(&mut batch);
                let dirs = dirs.into_iter().map(|d| (d.clone(), to_dirs[&d].clone())).collect();
                if tx.send((linked, dirs)).is_err() {
                    break; // the unlinker stopped on an error, which it reports
                }
            }
            Ok(())
        })();
        drop(tx);
        let unlinked = unlinker.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the unlinking thread panicked")));
        linked.and(unlinked)
    });
    // Sources were unlinked only from batches in `moved`.
    if !moved.is_empty() {
        sync(summaries, from_dir)?;
    }
    result.map(|()| moved)
}

/// Open an archive directory for linking into, creating it and making it durable in its parents
/// (up to `summaries/`) first: a summary's only name must never be in a directory a crash loses.
fn new_archive_dir(dir: &Path, summaries: &Path) -> Result<File> {
    ensure_dir(dir)?;
    for ancestor in dir.ancestors().skip(1).take_while(|a| a.starts_with(summaries)) {
        sync(ancestor, &open_dir(ancestor)?)?;
    }
    open_dir(dir)
}

/// A summary now also under its archive name, waiting for its source to be unlinked.
struct Linked {
    from: PathBuf,
    from_name: CString,
    to_dir: Arc<File>,
    to_name: CString,
    /// Device and inode of the summary as planned.
    file: (u64, u64),
}

/// Give `m.from` its archive name without ever replacing a file there. `None` when nothing is left
/// to unlink: the summary is gone, or was renamed because the file system refuses hard links.
fn link_one(from_dir: &File, to_dir: &Arc<File>, m: &mut Move, link: LinkFn) -> Result<Option<Linked>> {
    let from_name = CString::new(m.from.file_name().expect("summary paths have a name").as_bytes())?;
    let (mut by_rename, mut suffix) = (false, 0);
    loop {
        let to_name = CString::new(m.to.file_name().expect("archive paths have a name").as_bytes())?;
        let done = if by_rename {
            rename_noreplace(from_dir, &from_name, to_dir, &to_name)
        } else {
            link(from_dir, &from_name, to_dir, &to_name)
        };
        let err = match done {
            Ok(()) if by_rename => return Ok(None),
            Ok(()) => None,
            // A crashed run linked this very file here: only its unlink is left to do.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && holds(&m.to, m.file) => None,
            Err(e) => Some(e),
        };
        let Some(err) = err else {
            let (from, to_dir) = (m.from.clone(), to_dir.clone());
            return Ok(Some(Linked { from, from_name, to_dir, to_name, file: m.file }));
        };
        match err.raw_os_error() {
            Some(libc::EEXIST) => {
                suffix += 1;
                let name = format!("{}.{suffix}.md", m.id);
                m.to.set_file_name(&name);
                m.dest = format!("{}/{name}", Path::new(&m.dest).parent().expect("dest has a month").display());
            }
            Some(libc::ENOENT) if !m.from.exists() => return Ok(None),
            // No hard links here (ENOTSUP is EOPNOTSUPP on Linux), or too many on this file.
            Some(libc::EPERM | libc::EXDEV | libc::ENOTSUP | libc::EMLINK) if !by_rename => by_rename = true,
            _ => {
                return Err(err).with_context(|| format!("could not move {} to {}", m.from.display(), m.to.display()));
            }
        }
    }
}

/// Unlink a linked summary's source, unless the name now holds another file: something rewrote
/// the summary since the plan (revert does), and the new version stays while the archive name,
/// which may hold either version, is dropped. The check and the unlink are two calls, so a rewrite
/// in the microseconds between them is the one case that loses the newer version.
fn unlink_source(from_dir: &File, l: &Linked) -> Result<()> {
    let (dir, name) = match stat_at(from_dir, &l.from_name) {
        Ok(file) if file == l.file => (from_dir, &l.from_name),
        Ok(_) => (&*l.to_dir, &l.to_name),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("could not stat {}", l.from.display())),
    };
    rustix::fs::unlinkat(dir, name, AtFlags::empty())
        .map_err(std::io::Error::from)
        .with_context(|| format!("could not remove {} after archiving it", l.from.display()))
}

/// Device and inode of `name` in `dir`, not following symlinks.
fn stat_at(dir: &File, name: &CStr) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok((st.st_dev, st.st_ino))
}

fn link_at(from_dir: &File, from: &CStr, to_dir: &File, to: &CStr) -> std::io::Result<()> {
    Ok(rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty())?)
}

/// `renameat2(.., RENAME_NOREPLACE)`, which fails rather than replace an existing name.
fn rename_noreplace(from_dir: &File, from: &CStr, to_dir: &File, to: &CStr) -> std::io::Result<()> {
    Ok(rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE)?)
}

fn open_dir(dir: &Path) -> Result<File> {
    File::open(dir).with_context(|| format!("could not open {}", dir.display()))
}

fn sync(dir: &Path, handle: &File) -> Result<()> {
    handle.sync_all().with_context(|| format!("could not sync directory {}", dir.display()))
}

/// The metadata of each entry (without following symlinks), on a few threads.
fn stat_all(entries: &[&std::fs::DirEntry]) -> Result<Vec<std::fs::Metadata>> {
    crate::parallel::try_map(entries, 4, 1024, |e| {
        e.metadata().with_context(|| format!("could not stat {}", e.path().display()))
    })
}

fn parent(path: &Path) -> &Path {
    path.parent().expect("summary paths have a parent")
}

/// The ids of patches that have not finished, whose summaries must stay where they are.
fn waiting_ids(home: &Home, env: &str) -> Result<HashSet<String>> {
    let mut ids = HashSet::new();
    for state in [State::Incoming, State::Pending, State::Approved, State::Applying] {
        ids.extend(queue::list(home, env, state)?.into_iter().map(|e| e.id));
    }
    Ok(ids)
}

/// gen-docs keeps an INDEX.md in summaries/; it is not a summary.
fn is_generated_index(path: &Path) -> bool {
    use std::io::Read;
    let mut head = vec![0; md::MARKER.len()];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && md::is_generated(&head)
}

/// Whether `path` is a name of `file` (device, inode).
fn holds(path: &Path, file: (u64, u64)) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == file)
}

/// Names already used in each archive month directory, read once per directory.
#[derive(Default)]
struct Taken {
    dirs: HashMap<PathBuf, HashSet<OsString>>,
}

impl Taken {
    /// `<id>.md`, or the first of `<id>.1.md`, `<id>.2.md`, … not taken, or taken by this very
    /// `file` (device, inode): a crashed run's link, which apply finishes. Claims it.
    fn free_name(&mut self, dir: &Path, id: &str, file: (u64, u64)) -> Result<String> {
        if !self.dirs.contains_key(dir) {
            let names = match std::fs::read_dir(dir) {
                Ok(entries) => entries.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<_>>(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
                Err(e) => Err(e),
            }
            .with_context(|| format!("could not list {}", dir.display()))?;
            self.dirs.insert(dir.to_path_buf(), names);
        }
        let names = self.dirs.get_mut(dir).expect("inserted above");
        let name = (0..)
            .map(|n| if n == 0 { format!("{id}.md") } else { format!("{id}.{n}.md") })
            .find(|name| !names.contains(&OsString::from(name)) || holds(&dir.join(name), file))
            .expect("some suffix is free");
        names.insert(OsString::from(&name));
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::atomic;

    fn old_summaries(home: &Home, ids: &[&str]) -> Plan {
        let old = SystemTime::now() - Duration::from_secs(10 * 86_400);
        for id in ids {
            let path = home.summary_file("main", id).unwrap();
            atomic::write(&path, format!("# {id}\n").as_bytes()).unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        plan(home, "main", Duration::from_secs(86_400), SystemTime::now()).unwrap()
    }

    #[test]
    fn archive_plans_and_moves_batch_after_batch() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let now = SystemTime::now();
        let summaries = home.summaries_dir("main");
        std::fs::create_dir_all(&summaries).unwrap();
        // More than two batches, young ones and a waiting patch's among them.
        let ids: Vec<String> = (0..2 * BATCH + 10).map(|i| format!("p{i:05}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let path = summaries.join(format!("{id}.md"));
            std::fs::write(&path, id).unwrap();
            let age = if i % 100 == 7 { 60 } else { 10 * 86_400 };
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(now - Duration::from_secs(age))
                .unwrap();
        }
        queue::enqueue(&home, "main", "p00003", State::Pending, b"{}").unwrap();
        let planned = plan(&home, "main", Duration::from_secs(86_400), now).unwrap();
        let done = archive(&home, "main", Duration::from_secs(86_400), now).unwrap();
        let young = (0..ids.len()).filter(|i| i % 100 == 7).count();
        assert_eq!((done.young, done.waiting, done.archived.len()), (young, 1, ids.len() - young - 1));
        let dests = |p: &Plan| p.archived.iter().map(|m| m.dest.clone()).collect::<Vec<_>>();
        assert_eq!(dests(&done), dests(&planned), "a dry run plans what the run does");
        for m in &done.archived {
            assert_eq!(std::fs::read_to_string(&m.to).unwrap(), m.id);
            assert!(!m.from.exists());
        }
        let left = std::fs::read_dir(&summaries).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count();
        assert_eq!(left, young + 1);
    }

    #[test]
    fn a_name_taken_after_the_plan_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut plan = old_summaries(&home, &["a"]);
        let planned = plan.archived[0].to.clone();
        atomic::write(&planned, b"someone else\n").unwrap();
        atomic::write(&planned.with_file_name("a.1.md"), b"another\n").unwrap();
        apply(&mut plan).unwrap();
        assert_eq!(std::fs::read(&planned).unwrap(), b"someone else\n");
        assert_eq!(plan.archived[0].to, planned.with_file_name("a.2.md"));
        assert!(plan.archived[0].dest.ends_with("/a.2.md"), "{}", plan.archived[0].dest);
        assert_eq!(std::fs::read(&plan.archived[0].to).unwrap(), b"# a\n");
        assert!(!home.summary_file("main", "a").unwrap().exists());
    }

    #[test]
    fn a_summary_gone_since_the_plan_is_skipped_and_the_rest_move() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let old = SystemTime::now() - Duration::from_secs(10 * 86_400);
        for id in ["a", "b"] {
            let path = home.summary_file("main", id).unwrap();
            atomic::write(&path, b"# s\n").unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        let mut plan = plan(&home, "main", Duration::from_secs(86_400), SystemTime::now()).unwrap();
        assert_eq!(plan.archived.len(), 2);
        std::fs::remove_file(home.summary_file("main", "a").unwrap()).unwrap();
        apply(&mut plan).unwrap();
        assert!(!plan.archived[0].to.exists());
        assert_eq!(std::fs::read(&plan.archived[1].to).unwrap(), b"# s\n");
    }

    #[test]
    fn a_crashed_runs_link_is_finished_not_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let first = old_summaries(&home, &["a"]);
        let (from, to) = (first.archived[0].from.clone(), first.archived[0].to.clone());
        std::fs::create_dir_all(parent(&to)).unwrap();
        std::fs::hard_link(&from, &to).unwrap(); // linked, then killed before the unlink
        let mut plan = plan(&home, "main", Duration::from_secs(86_400), SystemTime::now()).unwrap();
        assert_eq!(plan.archived[0].to, to);
        apply(&mut plan).unwrap();
        assert!(!from.exists());
        assert_eq!(std::fs::read(&to).unwrap(), b"# a\n");
        assert_eq!(std::fs::read_dir(parent(&to)).unwrap().count(), 1);
    }

    #[test]
    fn where_links_are_refused_summaries_are_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut plan = old_summaries(&home, &["a", "b"]);
        let planned = plan.archived[1].to.clone();
        atomic::write(&planned, b"someone else\n").unwrap();
        let refuse: LinkFn = |_, _, _, _| Err(std::io::Error::from_raw_os_error(libc::EXDEV));
        apply_with(&mut plan, refuse).unwrap();
        for m in &plan.archived {
            assert!(!m.from.exists());
            assert_eq!(std::fs::read(&m.to).unwrap(), format!("# {}\n", m.id).as_bytes());
        }
        assert_eq!(plan.archived[1].to, planned.with_file_name("b.1.md"));
        assert_eq!(std::fs::read(&planned).unwrap(), b"someone else\n");
    }

    #[test]
    fn a_summary_rewritten_since_the_plan_stays_and_is_not_archived() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut plan = old_summaries(&home, &["a"]);
        atomic::write(&plan.archived[0].from, b"# a, reverted\n").unwrap();
        apply(&mut plan).unwrap();
        assert_eq!(std::fs::read(&plan.archived[0].from).unwrap(), b"# a, reverted\n");
        assert!(!plan.archived[0].to.exists());
    }

    #[test]
    fn other_link_errors_stop_the_run_and_leave_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut plan = old_summaries(&home, &["a"]);
        let fail: LinkFn = |_, _, _, _| Err(std::io::Error::from_raw_os_error(libc::EIO));
        let err = format!("{:#}", apply_with(&mut plan, fail).unwrap_err());
        assert!(err.starts_with("could not move"), "{err}");
        assert!(plan.archived[0].from.exists());
    }
}
