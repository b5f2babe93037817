//! The fence: every path a patch names must resolve inside its environment's tree — no `..`, no
//! absolute path outside, nothing under `.git/`, and only the `allowed_paths` globs where they are
//! configured. A symlink already in the tree is judged by where it leads: the rules apply to the
//! path with every symlinked directory resolved, not only to the path as spelled. Writes reach
//! their directory from the tree's root without following any symlink (see [`Fence::place`]),
//! so a symlink swapped in after a path was judged makes the write fail rather than escape.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags};

use crate::glob::Globs;
use crate::store::atomic::Dir;

/// A tree and the globs that fence writes inside it.
#[derive(Debug, Clone)]
pub struct Fence {
    /// The tree, canonical (symlinks resolved), so containment checks compare like with like.
    root: PathBuf,
    /// The tree, open: every directory a write goes to is reached from here.
    root_dir: Dir,
    allowed: Globs,
}

/// Where a checked path's file lives: its directory, open, and its name in it.
#[derive(Debug, Clone)]
pub struct Place {
    pub dir: Dir,
    pub name: String,
    /// The path relative to the tree with its symlinked directories resolved.
    pub rel: String,
}

impl Fence {
    pub fn new(tree: &Path, allowed_paths: &[String]) -> Result<Fence> {
        let root = tree.canonicalize().map_err(|e| anyhow::anyhow!("could not open tree {}: {e}", tree.display()))?;
        if !root.is_dir() {
            bail!("tree {} is not a directory", tree.display());
        }
        let allowed = Globs::new(allowed_paths)?;
        let root_dir = Dir::open(&root)?;
        Ok(Fence { root, root_dir, allowed })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Check a path a patch names and return it normalised, relative to the tree (`src/a.rs`).
    /// The error says what is wrong in words a model or operator can act on.
    pub fn check(&self, name: &str) -> Result<String> {
        let rel = self.normalize(name)?;
        self.resolve(&rel)?;
        Ok(rel)
    }

    /// [`Fence::check`] without looking at the disk: the name rules and `allowed_paths` only.
    pub fn normalize(&self, name: &str) -> Result<String> {
        if name.is_empty() {
            bail!("empty path");
        }
        if name.contains('\0') {
            bail!("path {name:?} contains a NUL byte");
        }
        let path = Path::new(name);
        let rel = if path.is_absolute() {
            match path.strip_prefix(&self.root) {
                Ok(rel) => rel,
                Err(_) => bail!("path {name:?} is absolute and outside the tree {}", self.root.display()),
            }
        } else {
            path
        };
        let mut parts = Vec::new();
        for comp in rel.components() {
            match comp {
                Component::Normal(c) => {
                    let c = c.to_str().ok_or_else(|| anyhow::anyhow!("path {name:?} is not UTF-8"))?;
                    if c == ".git" {
                        bail!("path {name:?} is inside .git/, which patches may not touch");
                    }
                    parts.push(c);
                }
                Component::CurDir => {}
                Component::ParentDir => bail!("path {name:?} contains `..`; name files relative to the tree root"),
                Component::RootDir | Component::Prefix(_) => bail!("path {name:?} is not relative to the tree"),
            }
        }
        if parts.is_empty() {
            bail!("path {name:?} names the tree itself, not a file in it");
        }
        let rel = parts.join("/");
        if !self.allowed.is_empty() && !self.allowed.matches(&rel) {
            bail!("path {rel:?} is outside allowed_paths ({})", self.allowed.sources().join(", "));
        }
        Ok(rel)
    }

    /// A symlink a patch creates at `rel` (a checked path) pointing to `target`: allowed only when
    /// the target, resolved from the link's directory as the kernel will resolve it, is a path the
    /// fence allows (inside the tree, not in `.git/`, within `allowed_paths`).
    pub fn check_link(&self, rel: &str, target: &str) -> Result<()> {
        let refuse = || format!("the symlink {rel} -> {target} leads where patches may not point");
        if target.is_empty() || target.contains('\0') {
            bail!("the symlink {rel} has an empty target or one with a NUL byte");
        }
        // Component by component from the link's directory: what exists is resolved as the
        // kernel will resolve it (`..` from a symlinked directory is its target's parent); from
        // the first missing component on, `..` folds the path as written.
        let mut resolved = self.root.join(split(&self.resolve(rel)?).0);
        let mut exists = match resolved.canonicalize() {
            Ok(real) => {
                resolved = real;
                true
            }
            Err(_) => false,
        };
        for part in Path::new(target).components() {
            match part {
                Component::RootDir => resolved = PathBuf::from("/"),
                Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => _ = resolved.pop(),
                Component::Normal(name) => {
                    resolved.push(name);
                    if exists {
                        match resolved.canonicalize() {
                            Ok(real) => resolved = real,
                            Err(_) => exists = false,
                        }
                    }
                }
            }
        }
        let Ok(inner) = resolved.strip_prefix(&self.root) else {
            bail!("{}: it resolves outside the tree to {}", refuse(), resolved.display());
        };
        self.check(&inner.to_string_lossy()).with_context(refuse)?;
        Ok(())
    }

    /// The absolute path of a checked relative path.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// A normalised path with every symlink among its directories resolved, judged by the same
    /// rules as a spelled path: a symlink that leads out of the tree, into `.git/` or outside
    /// `allowed_paths` is refused. The last component is not resolved: a write replaces a symlink
    /// there rather than following it, and a read refuses it.
    pub(crate) fn resolve(&self, rel: &str) -> Result<String> {
        let (dirs, name) = split(rel);
        let mut at = self.root.clone();
        let mut linked = false;
        for part in dirs.split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            match at.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = at
                        .canonicalize()
                        .with_context(|| format!("path {rel:?} goes through dangling symlink {}", at.display()))?;
                    if !target.starts_with(&self.root) {
                        bail!(
                            "path {rel:?} goes through symlink {} which leads outside the tree to {}",
                            at.display(),
                            target.display()
                        );
                    }
                    (at, linked) = (target, true);
                }
                Ok(_) => {}
                Err(_) => {} // missing: so is all that follows, which a write creates as directories
            }
        }
        if !linked {
            return Ok(rel.to_string());
        }
        let resolved = at.join(name);
        let inner = resolved.strip_prefix(&self.root).expect("checked inside the tree").to_string_lossy();
        self.normalize(&inner).with_context(|| format!("path {rel:?} goes through a symlink to {inner:?}"))
    }

    /// Open the directory that holds `rel` (a checked path), creating missing directories when
    /// `create`; `None` when it does not exist and `create` is false. The directory is reached
    /// from the tree's root with no symlink followed; when the path goes through symlinks in the
    /// tree, it is resolved and judged again now, and the resolved directory is opened the same
    /// way, so nothing swapped in since the check can carry the write elsewhere.
    pub fn place(&self, rel: &str, create: bool) -> Result<Option<Place>> {
        let opened = match self.open_dir(split(rel).0, create) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                let resolved = self.resolve(rel)?;
                (self.open_dir(split(&resolved).0, create), resolved)
            }
            other => (other, rel.to_string()),
        };
        let (dir, rel) = match opened {
            (Ok(Some(dir)), rel) => (dir, rel),
            (Ok(None), _) => return Ok(None),
            (Err(e), resolved) => {
                return Err(e).with_context(|| format!("could not open the directory of {resolved}"));
            }
        };
        let name = split(&rel).1.to_string();
        Ok(Some(Place { dir, name, rel }))
    }

    /// Open the file `rel` (a checked path) in one call when no symlink is on its way: `ELOOP`
    /// (or `ENOSYS` where there is no `openat2`) says to go through [`Fence::place`] instead.
    pub fn open_direct(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::ResolveFlags;
            let beneath = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
            Ok(rustix::fs::openat2(self.root_dir.fd(), rel, flags, Mode::empty(), beneath)?)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (rel, flags);
            Err(io::Error::from_raw_os_error(libc::ENOSYS))
        }
    }

    /// Open `dirs` (relative, `/`-separated) below the root, following no symlink.
    fn open_dir(&self, dirs: &str, create: bool) -> io::Result<Option<Dir>> {
        if dirs.is_empty() {
            return Ok(Some(self.root_dir.clone()));
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::ResolveFlags;
            let beneath = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
            match rustix::fs::openat2(self.root_dir.fd(), dirs, flags, Mode::empty(), beneath) {
                Ok(fd) => return Ok(Some(self.dir(fd, dirs))),
                Err(rustix::io::Errno::NOENT) if !create => return Ok(None),
                // Missing directories are created one by one below; a kernel without openat2
                // (or a sandbox refusing it) is served the same way.
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.walk(dirs, flags, create)
    }

    /// Open `dirs` one component at a time with `O_NOFOLLOW`, creating the missing ones when
    /// `create` (each made durable in its parent).
    fn walk(&self, dirs: &str, flags: OFlags, create: bool) -> io::Result<Option<Dir>> {
        let mut fd: Option<OwnedFd> = None;
        for part in dirs.split('/') {
            let parent = fd.as_ref().map_or(self.root_dir.fd(), |f| std::os::fd::AsFd::as_fd(f));
            let open = || rustix::fs::openat(parent, part, flags | OFlags::NOFOLLOW, Mode::empty());
            let next = match open() {
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(parent, part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rustix::fs::fsync(parent)?;
                    open()?
                }
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                other => other?,
            };
            fd = Some(next);
        }
        Ok(Some(self.dir(fd.expect("dirs is not empty"), dirs)))
    }

    fn dir(&self, fd: OwnedFd, dirs: &str) -> Dir {
        Dir::from_fd(fd, self.root.join(dirs))
    }
}

/// The directories [`Fence::place`] opened, kept for the other files of the same directory: a
/// patch of many files opens each directory once and holds one descriptor per directory, not
/// one per file. A directory stays the one opened even if its path is swapped meanwhile.
#[derive(Debug)]
pub(crate) struct Places<'f> {
    fence: &'f Fence,
    /// Spelled directory → the directory open, and its resolved path.
    dirs: Mutex<HashMap<String, (Dir, String)>>,
}

impl<'f> Places<'f> {
    pub(crate) fn new(fence: &'f Fence) -> Places<'f> {
        Places { fence, dirs: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn fence(&self) -> &'f Fence {
        self.fence
    }

    /// As [`Fence::place`], from the directories already open where it can.
    pub(crate) fn place(&self, rel: &str, create: bool) -> Result<Option<Place>> {
        let (dirs, name) = split(rel);
        let known = self.dirs.lock().unwrap_or_else(|e| e.into_inner()).get(dirs).cloned();
        if let Some((dir, resolved)) = known {
            let rel = if resolved.is_empty() { name.to_string() } else { format!("{resolved}/{name}") };
            return Ok(Some(Place { dir, name: name.to_string(), rel }));
        }
        let place = self.fence.place(rel, create)?;
        if let Some(p) = &place {
            let entry = (p.dir.clone(), split(&p.rel).0.to_string());
            self.dirs.lock().unwrap_or_else(|e| e.into_inner()).insert(dirs.to_string(), entry);
        }
        Ok(place)
    }
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("inlink")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        assert_eq!(fence.check("./src//a.rs").unwrap(), "src/a.rs");
        assert_eq!(fence.check("inlink/x").unwrap(), "inlink/x");
        for bad in ["../x", "a/../../x", "/etc/passwd", ".git/config", "a/.git/HEAD", "out/x", "", "."] {
            assert!(fence.check(bad).is_err(), "{bad:?} should be refused");
        }
        let inside = fence.root().join("a.txt");
        assert_eq!(fence.check(inside.to_str().unwrap()).unwrap(), "a.txt");
        let fenced = Fence::new(dir.path(), &["src/**".into()]).unwrap();
        assert!(fenced.check("src/a.rs").is_ok());
        let err = fenced.check("README.md").unwrap_err().to_string();
        assert!(err.contains("allowed_paths"), "{err}");
    }

    #[test]
    fn a_symlink_is_judged_by_where_it_leads() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [".git/hooks", "src/real", "secrets"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::os::unix::fs::symlink(".git", root.join("gitlink")).unwrap();
        std::os::unix::fs::symlink("../secrets", root.join("src/leak")).unwrap();
        std::os::unix::fs::symlink("real", root.join("src/alias")).unwrap();
        let fence = Fence::new(root, &[]).unwrap();
        let err = format!("{:#}", fence.check("gitlink/hooks/pre-commit").unwrap_err());
        assert!(
            err.contains("goes through a symlink to \".git/hooks/pre-commit\"") && err.contains("inside .git/"),
            "{err}"
        );
        assert_eq!(fence.check("src/leak/key").unwrap(), "src/leak/key", "the whole tree is allowed");
        let fenced = Fence::new(root, &["src/**".into()]).unwrap();
        let err = format!("{:#}", fenced.check("src/leak/key").unwrap_err());
        assert!(err.contains("to \"secrets/key\"") && err.contains("outside allowed_paths (src/**)"), "{err}");
        assert_eq!(fenced.check("src/alias/x.rs").unwrap(), "src/alias/x.rs");
        assert_eq!(fenced.place("src/alias/x.rs", false).unwrap().unwrap().rel, "src/real/x.rs");
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_after_the_check_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        assert_eq!(fence.check("sub/a.txt").unwrap(), "sub/a.txt");
        std::fs::remove_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        let err = format!("{:#}", fence.place("sub/a.txt", true).unwrap_err());
        assert!(err.contains("leads outside the tree"), "{err}");
    }
}
