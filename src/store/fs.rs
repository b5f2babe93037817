//! Directory primitives the rest of the store builds on: create a directory chain durably, and
//! sync a directory so the names in it survive a crash. Both `atomic` (files) and `paths` (the
//! layout) use them, so they live below both.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};

/// `mkdir -p`, durably: each directory it creates is synced into its parent, so that files later
/// synced inside it cannot vanish with it in a crash. An existing directory costs one stat.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.is_dir()).collect();
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            // Created meanwhile by someone else (a concurrent writer): just as good.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e).with_context(|| format!("could not create directory {}", d.display())),
        }
    }
    for d in missing.iter().rev() {
        let parent = d.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        sync_dir(parent)?;
    }
    Ok(())
}

/// fsync a directory so the names in it (new files, renames) survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("could not sync directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_dir_creates_the_missing_chain_and_says_what_is_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        ensure_dir(&deep).unwrap();
        assert!(deep.is_dir());
        ensure_dir(&deep).unwrap();
        std::fs::write(dir.path().join("a/file"), "x").unwrap();
        let err = format!("{:#}", ensure_dir(&dir.path().join("a/file/d")).unwrap_err());
        assert!(err.contains("could not create directory") && err.contains("a/file"), "{err}");
    }
}
