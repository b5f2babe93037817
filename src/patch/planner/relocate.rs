//! A wrong leading directory: `server.rs` for the only `src/server.rs`, `app/lib/x.js` for
//! `lib/x.js`. When a file a diff changes is not in the tree, the files whose paths end with its
//! path (or with it less leading components, the longest such ending that any file has) are
//! its candidates. One candidate that every hunk matches is taken; several are refused, named.

use std::path::Path;

use walkdir::WalkDir;

use super::Work;
use crate::patch::hunks;
use crate::patch::model::FileDiff;
use crate::patch::refusal::Refusal;

/// Entries the walk looks at before it gives up: past this the tree is too big to be sure a
/// candidate is the only one.
const WALK_LIMIT: usize = 200_000;

/// Directories that hold no files a patch means: version control, the runner home, build
/// output, dependencies and caches.
const SKIPPED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".runner",
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".cache",
    ".gradle",
    ".idea",
];

impl Work<'_> {
    /// The entry of the one file a missing path of a diff must mean, `None` when no file does.
    pub(super) fn relocate(&mut self, missing: usize, d: &FileDiff) -> Result<Option<usize>, Refusal> {
        let (name, path) = (self.entries[missing].name.clone(), self.entries[missing].path.clone());
        let found = candidates(self.fence.root(), &path).map_err(|e| Refusal::new(&name, e))?;
        let one = match &found[..] {
            [] => return Ok(None),
            [one] => one.clone(),
            several => {
                return Err(Refusal::new(
                    &name,
                    format!(
                        "it does not exist in the tree, and {} files end with its path: {}; name the one you mean",
                        several.len(),
                        several.join(", ")
                    ),
                ));
            }
        };
        if self.names.contains(&one) {
            return Err(Refusal::new(
                &name,
                format!("it does not exist in the tree; {one} ends with its path, but the patch changes that file too"),
            ));
        }
        let j = self.entry(&one)?;
        let (text, _) = self.text(j)?;
        hunks::apply(&one, &text, &d.hunks).map_err(|r| {
            let mut r = Refusal { file: name.clone(), ..r };
            r.reason = format!(
                "it does not exist in the tree, and {one}, the only file ending with its path, does not match: {}",
                r.reason
            );
            r
        })?;
        self.index.insert(path.clone(), j);
        self.entries[j].note(format!("path corrected from {path}"));
        Ok(Some(j))
    }
}

/// The files under `root` ending with the longest tail of `path` (whole components) that any
/// file ends with.
pub(super) fn candidates(root: &Path, path: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let Some(&base) = parts.last() else { return Ok(Vec::new()) };
    let mut same_name = Vec::new();
    let walk =
        WalkDir::new(root).follow_links(false).max_depth(64).into_iter().filter_entry(|e| {
            e.depth() == 0 || !(e.file_type().is_dir() && SKIPPED.iter().any(|s| e.file_name() == *s))
        });
    for (seen, entry) in walk.enumerate() {
        if seen >= WALK_LIMIT {
            return Err(format!(
                "it does not exist in the tree, and the tree has too many files (over {WALK_LIMIT}) to look for one ending with its path"
            ));
        }
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_file()
            && entry.file_name() == base
            && let Ok(rel) = entry.path().strip_prefix(root)
        {
            same_name.push(rel.to_string_lossy().into_owned());
        }
    }
    same_name.sort();
    for k in 0..parts.len() {
        let tail = parts[k..].join("/");
        let hits: Vec<String> =
            same_name.iter().filter(|f| **f == tail || f.ends_with(&format!("/{tail}"))).cloned().collect();
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_tail_any_file_has_wins() {
        let dir = tempfile::tempdir().unwrap();
        for f in
            ["src/server.rs", "lib/x.js", "other/x.js", "target/debug/server.rs", ".git/x.js", "a/b/c.py", "d/c.py"]
        {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let found = |p: &str| candidates(dir.path(), p).unwrap();
        assert_eq!(found("server.rs"), vec!["src/server.rs"]);
        assert_eq!(found("app/lib/x.js"), vec!["lib/x.js"]);
        assert_eq!(found("x.js"), vec!["lib/x.js", "other/x.js"]);
        assert_eq!(found("q/c.py"), vec!["a/b/c.py", "d/c.py"]);
        assert_eq!(found("nope.rs"), Vec::<String>::new());
    }
}
