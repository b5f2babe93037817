//! `gen-docs` and `archive-summaries`: the self-organising record of every patch.
//!
//! gen-docs computes every file it would write in memory first ([`plan`]), from the store alone
//! (no clock, sorted orders), then writes only those whose bytes differ ([`write`]), each
//! atomically; `--check` stops after the comparison.

pub(crate) mod archive;
pub(crate) mod index;
pub(crate) mod manifest;
pub(crate) mod md;
pub(crate) mod prune;
pub(crate) mod readme;
pub(crate) mod records;
pub(crate) mod stats;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::{Home, atomic, queue};

/// A file gen-docs means to have on disk.
#[derive(Debug)]
pub(crate) struct Planned {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// How a planned file compares with what is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Unchanged,
    /// Differs (or is missing): written, or with `--check` would be.
    Changed,
    /// A Markdown file gen-docs did not write is in the way; it is left alone.
    Foreign,
}

/// Every file gen-docs generates for `env`, with its content.
pub(crate) struct Generated {
    pub files: Vec<Planned>,
    /// The temp files the walk saw in the directories it indexed, for [`remove_stale_temps`].
    pub temps: Vec<PathBuf>,
}

/// Every file gen-docs generates for `env`, with its content. The directory walk for INDEX.md
/// runs on its own thread while the records are read: both mostly wait on the disk. The walk
/// leaves `results/` to the end, whose sizes the records then give.
pub(crate) fn plan(home: &Home, env: &str, tree: &Path, all: bool) -> Result<Generated> {
    let dir = home.env_dir(env);
    let results = home.results_dir(env);
    std::thread::scope(|scope| {
        let scan = scope.spawn(|| index::scan(&dir, env, all, &results));
        let records = records::load(home, env)?;
        let sizes: HashMap<&str, u64> = records.iter().filter_map(|r| Some((r.id.as_str(), r.result_size?))).collect();
        let known = |name: &str| name.strip_suffix(".json").and_then(|id| sizes.get(id).copied());
        let stats = stats::compute(&records);
        let manifest = manifest::render(env, &records, &stats)?;
        // summaries/INDEX.md is gen-docs' own index, not the summary of a patch.
        let summaries: HashSet<String> =
            ids_in(&home.summaries_dir(env), ".md", false)?.into_iter().filter(|id| id != "INDEX").collect();
        let tree = tree.display().to_string();
        let input = readme::Input { env, tree: &tree, records: &records, stats: &stats, summaries: &summaries };
        let mut out = vec![
            Planned { path: dir.join(manifest::FILE), bytes: manifest },
            Planned { path: dir.join(readme::FILE), bytes: readme::render(&input).into_bytes() },
        ];
        let (indexes, temps) = index::finish(scan.join().expect("index walk panicked")?, &out, &known)?;
        out.extend(indexes);
        Ok(Generated { files: out, temps })
    })
}

/// Compare each planned file with the disk and, unless `check`, write the ones that differ: each
/// atomically, with their flushes overlapped ([`atomic::write_many`]).
pub(crate) fn write(planned: &[Planned], check: bool) -> Result<Vec<Change>> {
    let changes = planned
        .iter()
        .map(|p| match std::fs::read(&p.path) {
            Ok(old) if old == p.bytes => Ok(Change::Unchanged),
            Ok(old) if p.path.extension().is_some_and(|e| e == "md") && !md::is_generated(&old) => Ok(Change::Foreign),
            Ok(_) => Ok(Change::Changed),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Change::Changed),
            Err(e) => Err(e).with_context(|| format!("could not read {}", p.path.display())),
        })
        .collect::<Result<Vec<_>>>()?;
    if !check {
        let files: Vec<(&Path, &[u8])> = planned
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c == Change::Changed)
            .map(|(p, _)| (p.path.as_path(), p.bytes.as_slice()))
            .collect();
        atomic::write_many(&files)?;
    }
    Ok(changes)
}

/// Remove the temp files a killed gen-docs left beside the files it writes (a torn manifest's temp
/// can be tens of megabytes): those the walk saw, which spares listing 100,000-file directories
/// again. Callers hold the environment's gen-docs lock, so no live gen-docs writes them, and this
/// run's own temps are gone; `except` is a directory where another job may write a file of the
/// same name (summaries/, where a patch could be called INDEX).
pub(crate) fn remove_stale_temps(generated: &Generated, except: &Path) -> Result<()> {
    let targets: HashSet<(&Path, String)> = generated
        .files
        .iter()
        .filter_map(|p| Some((p.path.parent()?, format!(".{}", p.path.file_name()?.to_string_lossy()))))
        .filter(|(dir, _)| *dir != except)
        .collect();
    for temp in &generated.temps {
        let (Some(dir), Some(name)) = (temp.parent(), temp.file_name()) else { continue };
        let name = name.to_string_lossy();
        if targets.iter().any(|(d, suffix)| *d == dir && name.ends_with(suffix.as_str())) {
            atomic::remove(temp)?;
        }
    }
    // In `except` apply-patch writes too, under another lock: there only the temps of files
    // gen-docs writes whose writer is gone.
    let mine: Vec<String> = generated
        .files
        .iter()
        .filter(|p| p.path.parent() == Some(except))
        .filter_map(|p| Some(format!(".{}", p.path.file_name()?.to_string_lossy())))
        .collect();
    for temp in generated.temps.iter().filter(|t| t.parent() == Some(except)) {
        let name = temp.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if mine.iter().any(|suffix| name.ends_with(suffix.as_str())) && atomic::orphaned(&name) {
            atomic::remove(temp)?;
        }
    }
    Ok(())
}

/// The sorted ids of the entries `<id><suffix>` in `dir` that are directories (`dirs`) or not;
/// temp files and other strangers are not ids. A missing directory has none.
pub(crate) fn ids_in(dir: &Path, suffix: &str, dirs: bool) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        if let Some(id) = entry.file_name().to_str().and_then(|n| n.strip_suffix(suffix))
            && queue::valid_id(id)
            && entry.file_type().is_ok_and(|t| t.is_dir() == dirs)
        {
            ids.push(id.to_string());
        }
    }
    ids.sort_unstable();
    Ok(ids)
}
