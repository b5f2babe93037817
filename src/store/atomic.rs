//! Durable writes: a temp file in the same directory, fsync, rename over the target, fsync the
//! directory. A crash at any instant leaves the old file or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::parallel;
use crate::store::fs::{ensure_dir, sync_dir};

/// Temp files start with this prefix so a crashed writer's leftovers can be recognised.
pub(crate) const TEMP_PREFIX: &str = ".runner-tmp.";

/// A name for a temp file beside `target`, unique within this process and across processes.
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    target.with_file_name(temp_name(target.file_name().and_then(|n| n.to_str()).unwrap_or("file")))
}

/// The name of a temp file beside the file `name`.
fn temp_name(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Asked once: `process::id` is a system call each time, and a patch stages a hundred files.
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    format!("{TEMP_PREFIX}{pid}.{n}.{name}")
}

/// Replace `path` with `bytes` atomically and durably, creating parent directories.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, None)
}

/// As [`write`], with explicit permission bits (`None`: 0644 for a new file, the old file's mode
/// for an existing one).
pub(crate) fn write_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let staged = Staged::new(path, bytes, mode)?;
    let dir = staged.dir().clone();
    staged.install()?;
    dir.sync()
}

/// A directory held open: the names in it are reached through its descriptor, not by resolving
/// its path again, so a directory swapped for a symlink after it was opened changes nothing.
#[derive(Debug, Clone)]
pub struct Dir {
    fd: Arc<OwnedFd>,
    path: PathBuf,
}

impl Dir {
    /// Open a directory by path (of the home: trusted), creating it when missing.
    pub fn open(path: &Path) -> Result<Dir> {
        let open = || rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty());
        let fd = match open() {
            Err(rustix::io::Errno::NOENT) => {
                ensure_dir(path)?;
                open()
            }
            other => other,
        }
        .with_context(|| format!("could not open directory {}", path.display()))?;
        Ok(Dir::from_fd(fd, path.to_path_buf()))
    }

    /// A directory opened by the caller (the fence, without following symlinks); `path` is where
    /// it is, for messages.
    pub fn from_fd(fd: OwnedFd, path: PathBuf) -> Dir {
        Dir { fd: Arc::new(fd), path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// fsync the directory so the names in it survive a crash.
    pub fn sync(&self) -> Result<()> {
        rustix::fs::fsync(&*self.fd).with_context(|| format!("could not sync directory {}", self.path.display()))
    }
}

/// New content made durable in a temp file beside its target, not yet in place: the first half
/// of [`write`], for a caller that installs many files and syncs their directory once. Dropped
/// uninstalled, the temp file is removed. Both names are reached through the directory's
/// descriptor, and neither is followed if it is a symlink.
#[derive(Debug)]
pub struct Staged {
    dir: Dir,
    temp: Option<String>,
    name: String,
}

impl Staged {
    /// Write and fsync the temp file (mode as for [`write_with_mode`]).
    pub fn new(target: &Path, bytes: &[u8], mode: Option<u32>) -> Result<Staged> {
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        Staged::new_in(&Dir::open(parent(target))?, name, bytes, mode)
    }

    /// As [`Staged::new`], for the file `name` in an open directory.
    pub fn new_in(dir: &Dir, name: &str, bytes: &[u8], mode: Option<u32>) -> Result<Staged> {
        let target = || dir.path.join(name);
        let mode = mode
            .or_else(|| {
                let stat = rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
                (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile).then_some(stat.st_mode & 0o7777)
            })
            .unwrap_or(0o644);
        let temp = temp_name(name);
        let mut file =
            open_new_at(dir, &temp, mode).with_context(|| format!("could not write {}", target().display()))?;
        // From here a failure drops `staged`, which removes the temp file.
        let staged = Staged { dir: dir.clone(), temp: Some(temp), name: name.to_string() };
        (|| {
            file.write_all(bytes)?;
            file.sync_all()
        })()
        .with_context(|| format!("could not write {}", target().display()))?;
        Ok(staged)
    }

    /// A symlink `name` -> `target` in an open directory, made under a temp name like a file, so
    /// that installing it is the same rename. (Its directory's sync makes it durable.)
    pub fn link_in(dir: &Dir, name: &str, target: &[u8]) -> Result<Staged> {
        let temp = temp_name(name);
        rustix::fs::symlinkat(target, dir.fd(), temp.as_str())
            .with_context(|| format!("could not create symlink {}", dir.path.join(name).display()))?;
        Ok(Staged { dir: dir.clone(), temp: Some(temp), name: name.to_string() })
    }

    /// The directory the file goes into, to sync once it is installed.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Rename the temp file over the target. The caller syncs the target's directory before
    /// anything relies on the new name.
    pub fn install(mut self) -> Result<()> {
        let temp = self.temp.take().expect("a staged file is installed once");
        rustix::fs::renameat(self.dir.fd(), temp.as_str(), self.dir.fd(), self.name.as_str()).map_err(|e| {
            let _ = rustix::fs::unlinkat(self.dir.fd(), temp.as_str(), AtFlags::empty());
            anyhow::Error::new(std::io::Error::from(e))
                .context(format!("could not write {}", self.dir.path.join(&self.name).display()))
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = rustix::fs::unlinkat(self.dir.fd(), temp.as_str(), AtFlags::empty());
        }
    }
}

/// Create a temp file with exactly `mode`, and its directory only when it is missing: the common
/// case (the directory exists, the umask leaves `mode` alone) costs one system call.
pub(crate) fn open_new(tmp: &Path, mode: u32) -> std::io::Result<File> {
    let open = || OpenOptions::new().write(true).create_new(true).mode(mode).open(tmp);
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ensure_dir(parent(tmp)).map_err(std::io::Error::other)?;
            open()
        }
        other => other,
    }?;
    exact_mode(file, mode)
}

/// Create the new file `name` in `dir` with exactly `mode`, never through a symlink.
fn open_new_at(dir: &Dir, name: &str, mode: u32) -> std::io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir.fd(), name, flags, Mode::from_raw_mode(mode))?;
    exact_mode(File::from(fd), mode)
}

/// The umask narrows the mode `open` gives, and the special bits are best set explicitly.
fn exact_mode(file: File, mode: u32) -> std::io::Result<File> {
    if mode & 0o7000 != 0 || umask().is_none_or(|umask| mode & umask != 0) {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// The process's umask, read once (Linux's /proc tells it without changing it, which `umask(2)`
/// cannot); `None` where it is unknown, and then every new file gets an explicit chmod.
fn umask() -> Option<u32> {
    static UMASK: OnceLock<Option<u32>> = OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let value = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(value.trim(), 8).ok()
    })
}

/// Create `path` with `bytes` only if nothing is there yet: the content is made durable in a
/// temp file first, then hard-linked into place, which fails rather than overwrite.
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    ensure_dir(dir)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result.with_context(|| format!("could not create {}", path.display()))?;
    sync_dir(dir)
}

/// Files flushed at once. Files written and flushed together overlap their waits on the disk
/// (and a journaling file system commits them in one transaction instead of one each).
pub(crate) const FLUSH_THREADS: usize = 8;

/// Replace several files, each atomically and durably as [`write`] does, with their flushes
/// overlapped: the temp files are written and fsynced concurrently, then renamed, then their
/// directories synced concurrently. Not all-or-nothing across files: after a crash each file is
/// old or new on its own.
pub(crate) fn write_many(files: &[(&Path, &[u8])]) -> Result<()> {
    // A failure drops the files not yet installed, which removes their temp files.
    for staged in parallel::try_map(files, FLUSH_THREADS, 1, |&(path, bytes)| Staged::new(path, bytes, None))? {
        staged.install()?;
    }
    let mut dirs: Vec<&Path> = files.iter().map(|(p, _)| parent(p)).collect();
    dirs.sort();
    dirs.dedup();
    parallel::try_map(&dirs, FLUSH_THREADS, 1, |d| sync_dir(d))?;
    Ok(())
}

/// Create empty marker files durably. They have no content to tear, so they need no temp
/// file: creating each and then syncing their directories once is enough.
pub(crate) fn touch_all(paths: &[&Path]) -> Result<()> {
    for path in paths {
        open_new(path, 0o644)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => OpenOptions::new().write(true).open(path),
                _ => Err(e),
            })
            .with_context(|| format!("could not create {}", path.display()))?;
    }
    let mut dirs: Vec<&Path> = paths.iter().map(|p| parent(p)).collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter().try_for_each(sync_dir)
}

/// Write a value as pretty JSON with a final newline.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write(path, &bytes)
}

/// Rename within one file system and make both directories durable.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<()> {
    rename_unsynced(from, to)?;
    sync_dir(parent(to))?;
    if parent(from) != parent(to) {
        sync_dir(parent(from))?;
    }
    Ok(())
}

/// Rename within one file system, creating the target's directory if missing, and leave the
/// syncing to the caller (who must do it before anything depends on the move).
pub(crate) fn rename_unsynced(from: &Path, to: &Path) -> Result<()> {
    let moved = match fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && from.exists() => {
            ensure_dir(parent(to))?;
            fs::rename(from, to)
        }
        other => other,
    };
    moved.with_context(|| format!("could not move {} to {}", from.display(), to.display()))
}

/// Remove a file durably; a file already gone is not an error.
pub(crate) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not remove {}", path.display())),
    }
}

/// Remove the temp files killed writers left in `dir`: those whose name ends with `suffix` (the
/// target's `.name`), or all of them with `""`. Only where no live writer can be at work, that is
/// under the lock of the one job that writes there.
pub(crate) fn remove_stale_temps(dir: &Path, suffix: &str) -> Result<()> {
    remove_temps(dir, |name| name.ends_with(suffix))
}

/// Remove the temp files in `dir` whose writer is gone (the process id in the name is no live
/// process): safe in a directory that several processes write to, where [`remove_stale_temps`]
/// is not. A reused process id only keeps a leftover longer.
pub(crate) fn remove_orphaned_temps(dir: &Path) -> Result<()> {
    remove_temps(dir, orphaned)
}

/// Whether a temp file's name says its writer is gone (see [`remove_orphaned_temps`]).
pub(crate) fn orphaned(name: &str) -> bool {
    writer_pid(name).is_some_and(|pid| !alive(pid))
}

fn remove_temps(dir: &Path, stale: impl Fn(&str) -> bool) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && stale(&name) {
            remove(&entry.path())?;
        }
    }
    Ok(())
}

/// The process id [`temp_path`] put in a temp file's name.
fn writer_pid(name: &str) -> Option<libc::pid_t> {
    name.strip_prefix(TEMP_PREFIX)?.split('.').next()?.parse().ok().filter(|&pid| pid > 0)
}

fn alive(pid: libc::pid_t) -> bool {
    // Signal 0 sends nothing; it only asks whether the process exists.
    rustix::process::Pid::from_raw(pid)
        .is_none_or(|pid| rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_and_keep_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.txt");
        write(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o755);
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn new_files_get_exactly_their_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        // The test runs under the usual umask (022 or 002), which would narrow these.
        for mode in [0o666, 0o664, 0o640, 0o700] {
            let p = dir.path().join(format!("{mode:o}"));
            write_with_mode(&p, b"x", Some(mode)).unwrap();
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o7777, mode);
        }
        assert!(umask().is_some(), "Linux reports the umask in /proc/self/status");
    }

    #[test]
    fn write_many_replaces_each_file_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("sub/b"));
        write(&a, b"old").unwrap();
        fs::set_permissions(&a, fs::Permissions::from_mode(0o600)).unwrap();
        write_many(&[(&a, b"A"), (&b, b"B")]).unwrap();
        assert_eq!((fs::read(&a).unwrap(), fs::read(&b).unwrap()), (b"A".to_vec(), b"B".to_vec()));
        assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o600);
        // A directory in the way of the second rename: the call fails and leaves no temp files.
        let blocked = dir.path().join("d");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write_many(&[(&a, b"A2"), (&blocked, b"x")]).is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().starts_with(TEMP_PREFIX)), "{names:?}");
    }

    #[test]
    fn only_temps_of_dead_writers_are_orphans() {
        let dir = tempfile::tempdir().unwrap();
        // No process has an id this large (Linux's pid_max is at most 2^22).
        let dead = dir.path().join(format!("{TEMP_PREFIX}999999999.0.a.json"));
        let live = temp_path(&dir.path().join("b.json"));
        let other = dir.path().join("c.json");
        for p in [&dead, &live, &other] {
            fs::write(p, "x").unwrap();
        }
        remove_orphaned_temps(dir.path()).unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn failed_write_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write(&p, b"old").unwrap();
        // A directory in the way of the rename makes the write fail after the temp file exists.
        let blocked = dir.path().join("d");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write(&blocked, b"new").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
