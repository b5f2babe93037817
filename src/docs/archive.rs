//! archive-summaries: move `summaries/<id>.md` files last modified longer ago than a threshold
//! into `summaries/.archive/YYYY/MM/` (the month of that modification time, UTC). Age is the
//! modification time because many file systems keep no creation time. A summary whose patch is
//! still waiting (incoming, pending, approved, applying) stays, whatever its age. A name already
//! taken in the archive gets a `.1`, `.2`, … suffix; nothing is ever overwritten.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::docs::md;
use crate::store::queue::{self, State};
use crate::store::{Home, paths::ensure_dir};

pub const ARCHIVE_DIR: &str = ".archive";

/// One summary to move.
#[derive(Debug, Serialize)]
pub struct Move {
    pub id: String,
    #[serde(skip)]
    pub from: PathBuf,
    #[serde(skip)]
    pub to: PathBuf,
    /// Where it goes, relative to `summaries/`.
    #[serde(rename = "to")]
    pub dest: String,
}

/// What a run found in one environment's summaries.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub archived: Vec<Move>,
    /// Summaries younger than the threshold.
    pub young: usize,
    /// Old summaries kept because their patch is still waiting.
    pub waiting: usize,
}

/// Decide what to move; reads only.
pub fn plan(home: &Home, env: &str, older_than: Duration, now: SystemTime) -> Result<Plan> {
    let dir = home.summaries_dir(env);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Plan::default()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let waiting = waiting_ids(home, env)?;
    let mut taken = Taken::default();
    let mut plan = Plan::default();
    let mut candidates = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        let name = entry.file_name();
        if name.to_str().and_then(|n| n.strip_suffix(".md")).is_some_and(queue::valid_id) {
            candidates.push(entry); // not temp files, the archive itself, strangers
        }
    }
    let mut found = Vec::new();
    for (entry, meta) in candidates.iter().zip(stat_all(&candidates)?) {
        let name = entry.file_name();
        let id = name.to_str().and_then(|n| n.strip_suffix(".md")).expect("filtered above");
        if !meta.is_file() || (id == "INDEX" && is_generated_index(&entry.path())) {
            continue;
        }
        let modified = meta.modified().with_context(|| format!("could not stat {}", entry.path().display()))?;
        if now.duration_since(modified).is_ok_and(|age| age > older_than) {
            if waiting.contains(id) {
                plan.waiting += 1;
            } else {
                found.push((id.to_string(), entry.path(), modified));
            }
        } else {
            plan.young += 1;
        }
    }
    // Sorted, so collisions are resolved the same way whatever order the directory lists in.
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (id, from, modified) in found {
        let month = DateTime::<Utc>::from(modified).format("%Y/%m").to_string();
        let month_dir = dir.join(ARCHIVE_DIR).join(&month);
        let name = taken.free_name(&month_dir, &id)?;
        plan.archived.push(Move { dest: format!("{ARCHIVE_DIR}/{month}/{name}"), to: month_dir.join(&name), from, id });
    }
    Ok(plan)
}

/// Make the moves. Each is one `renameat2(RENAME_NOREPLACE)` relative to directory handles opened
/// once: the kernel refuses rather than overwrite, so a name taken since the plan (by anything)
/// gets the next free suffix and `to`/`dest` are updated. The directories are synced once at the
/// end rather than after every file, which keeps 100,000 moves to seconds. A summary gone since
/// the plan was made is skipped. On an error, the moves already made are still synced.
pub fn apply(plan: &mut Plan) -> Result<()> {
    let mut dirs: HashMap<PathBuf, File> = HashMap::new();
    let moved = (|| {
        for m in &mut plan.archived {
            for dir in [parent(&m.from), parent(&m.to)] {
                if !dirs.contains_key(dir) {
                    ensure_dir(dir)?;
                    let handle = File::open(dir).with_context(|| format!("could not open {}", dir.display()))?;
                    dirs.insert(dir.to_path_buf(), handle);
                }
            }
            move_one(&dirs[parent(&m.from)], &dirs[parent(&m.to)], m)?;
        }
        Ok(())
    })();
    for (dir, handle) in &dirs {
        handle.sync_all().with_context(|| format!("could not sync directory {}", dir.display()))?;
    }
    moved
}

/// Rename `m.from` into its archive directory without ever replacing a file there.
fn move_one(from_dir: &File, to_dir: &File, m: &mut Move) -> Result<()> {
    let from_name = CString::new(m.from.file_name().expect("summary paths have a name").as_bytes())?;
    for n in 1.. {
        let to_name = CString::new(m.to.file_name().expect("archive paths have a name").as_bytes())?;
        let err = match rename_noreplace(from_dir, &from_name, to_dir, &to_name) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        match err.kind() {
            ErrorKind::NotFound if !m.from.exists() => return Ok(()),
            ErrorKind::AlreadyExists => {
                let name = format!("{}.{n}.md", m.id);
                m.to.set_file_name(&name);
                m.dest = format!("{}/{name}", Path::new(&m.dest).parent().expect("dest has a month").display());
            }
            _ => {
                return Err(err).with_context(|| format!("could not move {} to {}", m.from.display(), m.to.display()));
            }
        }
    }
    unreachable!("some suffix is free")
}

/// `renameat2(.., RENAME_NOREPLACE)`; where the file system does not support the flag, a hard link
/// and an unlink, which equally fail rather than replace an existing name.
fn rename_noreplace(from_dir: &File, from: &CStr, to_dir: &File, to: &CStr) -> std::io::Result<()> {
    let (fd, td) = (from_dir.as_raw_fd(), to_dir.as_raw_fd());
    // SAFETY: valid open directory descriptors and NUL-terminated names that outlive the calls.
    unsafe {
        if libc::renameat2(fd, from.as_ptr(), td, to.as_ptr(), libc::RENAME_NOREPLACE) == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
        if libc::linkat(fd, from.as_ptr(), td, to.as_ptr(), 0) != 0 || libc::unlinkat(fd, from.as_ptr(), 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The metadata of each entry (without following symlinks), on a few threads.
fn stat_all(entries: &[std::fs::DirEntry]) -> Result<Vec<std::fs::Metadata>> {
    super::map_on_threads(entries, 4, 1024, |e| {
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

/// Names already used in each archive month directory, read once per directory.
#[derive(Default)]
struct Taken {
    dirs: HashMap<PathBuf, HashSet<OsString>>,
}

impl Taken {
    /// `<id>.md`, or the first of `<id>.1.md`, `<id>.2.md`, … not taken; claims it.
    fn free_name(&mut self, dir: &Path, id: &str) -> Result<String> {
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
            .find(|name| !names.contains(&OsString::from(name)))
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
            let path = home.summary_file("main", id);
            atomic::write(&path, format!("# {id}\n").as_bytes()).unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        plan(home, "main", Duration::from_secs(86_400), SystemTime::now()).unwrap()
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
        assert!(!home.summary_file("main", "a").exists());
    }

    #[test]
    fn a_summary_gone_since_the_plan_is_skipped_and_the_rest_move() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let old = SystemTime::now() - Duration::from_secs(10 * 86_400);
        for id in ["a", "b"] {
            let path = home.summary_file("main", id);
            atomic::write(&path, b"# s\n").unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        let mut plan = plan(&home, "main", Duration::from_secs(86_400), SystemTime::now()).unwrap();
        assert_eq!(plan.archived.len(), 2);
        std::fs::remove_file(home.summary_file("main", "a")).unwrap();
        apply(&mut plan).unwrap();
        assert!(!plan.archived[0].to.exists());
        assert_eq!(std::fs::read(&plan.archived[1].to).unwrap(), b"# s\n");
    }
}
