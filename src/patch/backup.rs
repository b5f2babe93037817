//! `<env>/backups/<key>/`: the originals of every file a patch changes, kept so a crashed run can
//! be rolled back and an applied patch reverted. `<n>` holds the n-th file's old bytes and
//! `manifest.json` says, per path, whether it existed, its mode and the sha256 of its content
//! before and after the patch. The manifest is written last, so a backup with a manifest is whole.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::patch::fence::Fence;
use crate::patch::plan::{Plan, Snapshot};
use crate::store::{Home, atomic, fs::ensure_dir, paths};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub key: String,
    pub files: Vec<BackupFile>,
}

/// One path's two sides, as hashes; the old bytes themselves are in the file named by `blob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BackupFile {
    pub path: String,
    pub existed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_before: Option<String>,
    /// `None`: the patch deletes the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_after: Option<u32>,
    /// Name of the file beside the manifest holding the old bytes (when the file existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// Which side of a patch a file is on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Before,
    After,
    /// Neither: someone else changed it.
    Other,
}

impl BackupFile {
    pub(crate) fn side(&self, now: Option<&Snapshot>) -> Side {
        let digest = |s: Option<&Snapshot>| s.map(|s| (sha256_hex(&s.bytes), s.mode));
        let now = digest(now);
        let before = self.sha256_before.clone().zip(self.mode);
        let after = self.sha256_after.clone().zip(self.mode_after);
        if now == before {
            Side::Before
        } else if now == after {
            Side::After
        } else {
            Side::Other
        }
    }
}

pub(crate) const MANIFEST: &str = "manifest.json";

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::sign::hex(&Sha256::digest(bytes))
}

pub(crate) fn dir(home: &Home, env: &str, key: &str) -> Result<PathBuf> {
    paths::id_path(home.backups_dir(env), key, "")
}

/// Back up the `before` side of every change of each keyed plan, durably, replacing any
/// leftover backup under the same key (from a run that died before its journal existed).
/// `flush_also`: directories the caller needs flushed before the journals, flushed alongside.
/// All or nothing as a call: on an error, some backups may be written and none is to be trusted.
pub(crate) fn write_many(home: &Home, env: &str, plans: &[(&str, &Plan)], flush_also: &[&Path]) -> Result<()> {
    let root = home.backups_dir(env);
    ensure_dir(&root)?;
    let mut manifests: Vec<(PathBuf, Vec<u8>)> = Vec::with_capacity(plans.len());
    let mut blobs: Vec<(PathBuf, &[u8])> = Vec::new();
    for &(key, plan) in plans {
        let dir = dir(home, env, key)?;
        remove(&dir)?;
        fs::create_dir(&dir).with_context(|| format!("could not create backup directory {}", dir.display()))?;
        let mut files = Vec::new();
        for change in plan.files.iter().filter(|c| c.changes_anything()) {
            let blob = change.before.as_ref().map(|before| {
                let name = files.len().to_string();
                blobs.push((dir.join(&name), &before.bytes));
                name
            });
            files.push(BackupFile {
                path: change.path.clone(),
                existed: change.before.is_some(),
                mode: change.before.as_ref().map(|s| s.mode),
                sha256_before: change.before.as_ref().map(|s| sha256_hex(&s.bytes)),
                sha256_after: change.after.as_ref().map(|s| sha256_hex(&s.bytes)),
                mode_after: change.after.as_ref().map(|s| s.mode),
                blob,
            });
        }
        let mut json = serde_json::to_vec_pretty(&Manifest { key: key.to_string(), files })?;
        json.push(b'\n');
        manifests.push((dir.join(MANIFEST), json));
    }
    // Blobs and manifests are flushed together, and only then do their names appear: a manifest
    // is never visible before the bytes it describes are durable. The new directories' names
    // (in backups/) and the caller's directories are flushed while the files are.
    let mut all: Vec<(&Path, &[u8])> = blobs.iter().map(|(p, b)| (p.as_path(), *b)).collect();
    all.extend(manifests.iter().map(|(p, b)| (p.as_path(), b.as_slice())));
    let dirs: Vec<&Path> = flush_also.iter().copied().chain([root.as_path()]).collect();
    std::thread::scope(|s| {
        let dirs = s.spawn(|| dirs.into_iter().try_for_each(crate::store::fs::sync_dir));
        let files = atomic::write_many(&all);
        dirs.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a sync thread panicked")))?;
        files
    })
    .with_context(|| format!("could not write backups in {}", root.display()))
}

/// Read a backup's manifest. It is data read from disk, not trusted: every path it names must pass
/// the environment's fence (and is returned normalised), and every blob must be one of the names
/// [`write`] gives, before anything is restored from it.
pub(crate) fn read(home: &Home, env: &str, key: &str, fence: &Fence) -> Result<Manifest> {
    let path = dir(home, env, key)?.join(MANIFEST);
    let bytes = fs::read(&path).with_context(|| format!("could not read backup manifest {}", path.display()))?;
    let mut manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("could not parse backup manifest {}", path.display()))?;
    for file in &mut manifest.files {
        file.path = fence
            .check(&file.path)
            .with_context(|| format!("its backup manifest names a path the fence refuses ({})", path.display()))?;
        if let Some(blob) = &file.blob
            && (blob.is_empty() || !blob.bytes().all(|b| b.is_ascii_digit()))
        {
            bail!("its backup manifest {} names a blob {blob:?} that is not a backup file", path.display());
        }
    }
    Ok(manifest)
}

/// The old side of one backed-up file, read back from its blob.
pub(crate) fn before(home: &Home, env: &str, key: &str, file: &BackupFile) -> Result<Option<Snapshot>> {
    match (&file.blob, file.mode) {
        (Some(blob), Some(mode)) => {
            let path = dir(home, env, key)?.join(blob);
            let bytes = fs::read(&path)
                .with_context(|| format!("could not read backup of {} ({})", file.path, path.display()))?;
            if sha256_hex(&bytes) != file.sha256_before.as_deref().unwrap_or_default() {
                anyhow::bail!(
                    "backup of {} at {} is damaged (sha256 differs from the manifest)",
                    file.path,
                    path.display()
                );
            }
            Ok(Some(Snapshot { bytes, mode }))
        }
        _ => Ok(None),
    }
}

/// Remove a backup directory; one already gone is not an error.
pub(crate) fn remove(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not remove backup {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_is_read_through_the_fence() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("tree")).unwrap();
        let fence = Fence::new(&tmp.path().join("tree"), &[]).unwrap();
        let home = Home::new(tmp.path().join("home"));
        let manifest = |path: &str, blob: &str| {
            let json = serde_json::json!({"key": "p1", "files": [{"path": path, "existed": true, "mode": 0o644, "blob": blob}]});
            atomic::write(&dir(&home, "main", "p1").unwrap().join(MANIFEST), json.to_string().as_bytes()).unwrap();
            read(&home, "main", "p1", &fence).map(|m| m.files[0].path.clone()).map_err(|e| format!("{e:#}"))
        };
        assert_eq!(manifest("./src//a.rs", "0").unwrap(), "src/a.rs");
        for (path, blob, says) in [
            ("/etc/passwd", "0", "names a path the fence refuses"),
            ("../x", "0", "names a path the fence refuses"),
            (".git/hooks/pre-commit", "0", "names a path the fence refuses"),
            ("a.rs", "../../../etc/shadow", "names a blob \"../../../etc/shadow\" that is not a backup file"),
        ] {
            let err = manifest(path, blob).unwrap_err();
            assert!(err.contains(says), "{path} {blob}: {err}");
        }
    }
}
