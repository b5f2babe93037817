//! Turning a parsed patch and a tree into a [`Plan`]: every path through the fence, every hunk
//! and operation matched against the files as the earlier edits of the same patch leave them.
//! Reads only; the first refusal (in patch order) stops it.

use std::collections::{HashMap, HashSet};

mod relocate;
mod textops;

use crate::patch::fence::Fence;
use crate::patch::hunks;
use crate::patch::model::{Edit, FileDiff, FileMode, Format, Hunk, Mode, Patch};
use crate::patch::plan::{FileChange, Plan, SYMLINK_MODE, Snapshot};
use crate::patch::refusal::Refusal;
use crate::patch::text::{Text, is_binary};
use crate::patch::transaction;
use crate::store::results::FileResult;

/// Limits from the environment's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file a patch may read or produce.
    pub max_file_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_file_size: 8 << 20 }
    }
}

const NEW_FILE_MODE: u32 = 0o644;

/// How a deletion of a file that is not there is reported: done, but visibly (a mistyped path
/// leaves a trace).
const ALREADY_DELETED: &str = "already-deleted";

/// A patch touching at least this many separate files is planned on several threads.
const PARALLEL_FROM: usize = 16;

/// Sets of edits that share no file are planned on a few threads when there are many; the plan
/// and the refusal are those a walk through the edits in order gives.
pub fn plan(patch: &Patch, fence: &Fence, limits: &Limits) -> Result<Plan, Refusal> {
    let moves: Vec<(usize, String, String)> = patch
        .edits
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Edit::Move { path, to } => Some((i + 1, path.clone(), to.clone())),
            Edit::Diff(FileDiff { old_path: Some(path), new_path: Some(to), rename: true, .. }) => {
                Some((i + 1, path.clone(), to.clone()))
            }
            _ => None,
        })
        .collect();
    let names: HashSet<String> = patch.paths().iter().filter_map(|p| fence.normalize(p).ok()).collect();
    let run = |edits: &[usize]| {
        let mut work = Work {
            fence,
            limits: *limits,
            entries: Vec::new(),
            index: HashMap::new(),
            moves: &moves,
            names: &names,
            format: patch.format,
            at: 0,
        };
        for &i in edits {
            let edit = &patch.edits[i];
            work.at = i + 1;
            if let Err(r) = work.edit(edit) {
                return (work.entries, Some((i, if matches!(edit, Edit::Diff(_)) { r } else { r.operation(i + 1) })));
            }
        }
        (work.entries, None)
    };
    let groups = independent(patch, fence);
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(4);
    let results: Vec<Planned> = if groups.len() >= PARALLEL_FROM && workers > 1 {
        crate::parallel::map(&groups, workers, 1, |g| run(g))
    } else {
        vec![run(&(0..patch.edits.len()).collect::<Vec<_>>())]
    };
    let mut entries = Vec::new();
    let mut first_refusal: Option<(usize, Refusal)> = None;
    for (group_entries, refusal) in results {
        entries.extend(group_entries);
        if let Some((i, r)) = refusal
            && first_refusal.as_ref().is_none_or(|(j, _)| i < *j)
        {
            first_refusal = Some((i, r));
        }
    }
    if let Some((_, r)) = first_refusal {
        return Err(r);
    }
    // In the order a sequential walk meets the paths (a stable sort keeps one edit's own order).
    entries.sort_by_key(|e| e.first_edit);
    finish(entries, limits)
}

/// One set of edits planned: its entries, and its refusal with the index of the edit refused.
type Planned = (Vec<Entry>, Option<(usize, Refusal)>);

/// The patch's edits in sets that share no file, each in patch order: edits naming the same
/// path (either end of a move included) are in one set, so each set can be planned on its own
/// and reach the same result as the whole patch in order. Paths are compared normalised; a
/// name the fence refuses keys on itself (its edit is refused wherever it is planned).
fn independent(patch: &Patch, fence: &Fence) -> Vec<Vec<usize>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..patch.edits.len()).collect();
    let mut named: HashMap<String, usize> = HashMap::new();
    for (i, edit) in patch.edits.iter().enumerate() {
        for name in edit.paths() {
            let key = fence.normalize(name).unwrap_or_else(|_| name.to_string());
            let other = *named.entry(key).or_insert(i);
            let (a, b) = (root(&mut parent, other), root(&mut parent, i));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut slot: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..patch.edits.len() {
        let r = root(&mut parent, i);
        let g = *slot.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// One path's state while the patch's edits are worked through.
struct Entry {
    /// As the patch named it (refusals quote it).
    name: String,
    /// The edit that first named it: the order of the plan's files.
    first_edit: usize,
    path: String,
    before: Option<Snapshot>,
    now: Option<Snapshot>,
    /// An edit changed it or found the change already made.
    touched: bool,
    moved_from: Option<String>,
    added: u64,
    removed: u64,
    matched: Vec<String>,
}

impl Entry {
    fn note(&mut self, matched: impl Into<String>) {
        let m = matched.into();
        self.touched = true;
        if !m.is_empty() && !self.matched.contains(&m) {
            self.matched.push(m);
        }
    }

    fn set(&mut self, now: Option<Snapshot>, matched: impl Into<String>) {
        self.now = now;
        self.note(matched);
    }
}

struct Work<'f> {
    fence: &'f Fence,
    limits: Limits,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    /// Every move in the patch: (edit number, from, to).
    moves: &'f [(usize, String, String)],
    /// Every path the patch names, normalised: a path correction must not land on one.
    names: &'f HashSet<String>,
    format: Format,
    /// The edit being worked on.
    at: usize,
}

impl Work<'_> {
    /// The entry for a path the patch names, read from the tree on first use.
    fn entry(&mut self, name: &str) -> Result<usize, Refusal> {
        let path = self.fence.check(name).map_err(|e| Refusal::new(name, format!("{e:#}")))?;
        if let Some(&i) = self.index.get(&path) {
            return Ok(i);
        }
        let unreadable = |e: anyhow::Error| Refusal::new(name, format!("could not read it: {e:#}"));
        let mut opened = transaction::open(self.fence, &path).map_err(unreadable)?;
        // The size first, so a huge file is refused without being read.
        if let Some(opened) = &opened {
            check_size(&self.limits, name, opened.size())?;
        }
        let before = opened.as_mut().map(transaction::Opened::read).transpose().map_err(unreadable)?;
        self.entries.push(Entry {
            name: name.to_string(),
            first_edit: self.at,
            path: path.clone(),
            now: before.clone(),
            before,
            touched: false,
            moved_from: None,
            added: 0,
            removed: 0,
            matched: Vec::new(),
        });
        self.index.insert(path, self.entries.len() - 1);
        Ok(self.entries.len() - 1)
    }

    /// The entry for a file an edit changes in place. A file that is gone because a later move
    /// of this same patch already happened (a patch run twice) is found where it went.
    fn existing(&mut self, name: &str) -> Result<usize, Refusal> {
        let i = self.entry(name)?;
        if self.entries[i].now.is_some() {
            return Ok(i);
        }
        let later: Vec<String> = self
            .moves
            .iter()
            .filter(|(n, from, _)| *n > self.at && from == name)
            .map(|(_, _, to)| to.clone())
            .collect();
        for to in later {
            let j = self.entry(&to)?;
            if self.entries[j].now.is_some() {
                return Ok(j);
            }
        }
        Ok(i)
    }

    /// The file's current content as text, or a refusal saying why it cannot be edited as text.
    fn text(&self, i: usize) -> Result<(Text<'_>, u32), Refusal> {
        let e = &self.entries[i];
        let Some(s) = &e.now else {
            return Err(Refusal::new(&e.name, "it does not exist in the tree"));
        };
        let text = Text::decode(&s.bytes).map_err(|err| Refusal::new(&e.name, err.to_string()))?;
        Ok((text, s.mode))
    }

    fn edit(&mut self, edit: &Edit) -> Result<(), Refusal> {
        match edit {
            Edit::Diff(d) => self.diff(d),
            Edit::Write { path, contents, mode, create } => {
                let i = self.entry(path)?;
                let e = &mut self.entries[i];
                match &e.now {
                    Some(s) if *create && s.bytes == *contents => e.note("already-applied"),
                    Some(_) if *create => {
                        return Err(Refusal::new(path, "it already exists; use `write` to replace it"));
                    }
                    now => {
                        let mode = mode.map(Mode::bits).or(now.as_ref().map(|s| s.mode)).unwrap_or(NEW_FILE_MODE);
                        let (a, r) = line_delta(now.as_ref().map_or(&[][..], |s| &s.bytes), contents);
                        (e.added, e.removed) = (e.added + a, e.removed + r);
                        e.set(Some(Snapshot { bytes: contents.clone(), mode }), "");
                    }
                }
                Ok(())
            }
            Edit::Replace { path, search, replace, count } => self.replace(path, search, replace, *count),
            Edit::Regex { path, pattern, replacement, count } => self.regex(path, pattern, replacement, *count),
            Edit::Delete { path } => {
                let i = self.entry(path)?;
                let e = &mut self.entries[i];
                if e.now.is_none() {
                    e.note(ALREADY_DELETED);
                } else {
                    e.set(None, "");
                }
                Ok(())
            }
            Edit::Move { path, to } => self.rename(path, to).map(|_| ()),
            Edit::Chmod { path, mode } => {
                let i = self.existing(path)?;
                let e = &mut self.entries[i];
                let Some(s) = e.now.as_mut() else {
                    return Err(Refusal::new(path, "it does not exist in the tree"));
                };
                let already = s.mode == mode.bits();
                s.mode = mode.bits();
                e.note(if already { "already-applied" } else { "" });
                Ok(())
            }
        }
    }

    fn diff(&mut self, d: &FileDiff) -> Result<(), Refusal> {
        match (&d.old_path, &d.new_path) {
            (None, Some(path)) => {
                let (text, (added, _)) = self.apply(path, &Text::empty(), &d.hunks)?;
                let i = self.entry(path)?;
                let e = &mut self.entries[i];
                let bytes = text.encode();
                match &e.now {
                    Some(s) if s.bytes == bytes => e.note("already-applied"),
                    Some(_) => {
                        return Err(Refusal::new(
                            path,
                            "the patch creates it, but it already exists with other content",
                        ));
                    }
                    None => {
                        let mode = match d.new_mode {
                            Some(FileMode::Symlink) => {
                                let target = std::str::from_utf8(&bytes).ok().filter(|t| !t.contains('\n'));
                                let target = target.ok_or_else(|| {
                                    Refusal::new(
                                        path,
                                        "the patch makes it a symlink, but its target is not one line of UTF-8",
                                    )
                                })?;
                                self.fence
                                    .check_link(&e.path, target)
                                    .map_err(|err| Refusal::new(path, format!("{err:#}")))?;
                                SYMLINK_MODE
                            }
                            Some(FileMode::File(mode)) => mode.bits(),
                            None => NEW_FILE_MODE,
                        };
                        e.added += added;
                        e.set(Some(Snapshot { bytes, mode }), "");
                    }
                }
                Ok(())
            }
            (Some(path), None) => {
                let i = self.entry(path)?;
                if self.entries[i].now.is_none() {
                    self.entries[i].note(ALREADY_DELETED);
                    return Ok(());
                }
                if !d.hunks.is_empty() {
                    let (text, _) = self.text(i)?;
                    let (left, _) = self.apply(path, &text, &d.hunks)?;
                    if !left.lines.is_empty() {
                        return Err(Refusal::new(
                            path,
                            "the patch deletes it, but it holds lines the patch does not remove",
                        ));
                    }
                }
                let removed = self.entries[i].now.as_ref().map_or(0, |s| line_delta(&s.bytes, b"").1);
                let e = &mut self.entries[i];
                e.removed += removed;
                e.set(None, "");
                Ok(())
            }
            (Some(old), Some(new)) => {
                // Names that differ without a rename: patch whichever exists, the old one first.
                let i = if d.rename {
                    self.rename(old, new)?
                } else {
                    let i = self.existing(old)?;
                    let i = if old != new && self.entries[i].now.is_none() { self.entry(new)? } else { i };
                    // Not in the tree: maybe named with a wrong leading directory. Hunks with
                    // old lines say which file they mean; hunks that only add create it.
                    let anchored = d.hunks.iter().any(|h| !h.old_lines().is_empty());
                    if self.entries[i].now.is_none() && anchored { self.relocate(i, d)?.unwrap_or(i) } else { i }
                };
                self.modify(i, d)
            }
            (None, None) => Err(Refusal::new("/dev/null", "the diff names no file")),
        }
    }

    /// Apply hunks (and a mode change) to an existing file; a missing file whose hunks only add
    /// (SEARCH/REPLACE with an empty SEARCH, `diff -N`) is created.
    fn modify(&mut self, i: usize, d: &FileDiff) -> Result<(), Refusal> {
        let e = &self.entries[i];
        let (bytes, mode, matched, (added, removed)) = match &e.now {
            // A rename or mode change alone: the content as it is, binary or not.
            Some(s) if d.hunks.is_empty() => (s.bytes.clone(), s.mode, String::new(), (0, 0)),
            None if d.hunks.is_empty() => return Err(Refusal::new(&e.name, "it does not exist in the tree")),
            now => {
                let creates = now.is_none() && d.hunks.iter().all(|h| h.old_lines().is_empty());
                let (text, mode) = if creates { (Text::empty(), NEW_FILE_MODE) } else { self.text(i)? };
                let appended;
                let hunks = if self.format == Format::Codex && d.hunks.iter().any(appends) {
                    appended = d.hunks.iter().map(at_end_if_appended).collect::<Vec<_>>();
                    &appended
                } else {
                    &d.hunks
                };
                let applied = hunks::apply(&e.name, &text, hunks)?;
                let matched = applied.matched(d.hunks.len());
                (applied.text.encode(), mode, matched, (applied.added, applied.removed))
            }
        };
        let mode = match d.new_mode {
            Some(FileMode::File(m)) => m.bits(),
            None => mode,
            Some(FileMode::Symlink) => {
                return Err(Refusal::new(&e.name, "the patch turns a file into a symlink, which is not supported"));
            }
        };
        let e = &mut self.entries[i];
        (e.added, e.removed) = (e.added + added, e.removed + removed);
        e.set(Some(Snapshot { bytes, mode }), matched);
        Ok(())
    }

    /// Hunks against a text, as a refusal-or-text with its line counts.
    fn apply<'t>(&self, name: &str, text: &Text<'t>, hunks: &'t [Hunk]) -> Result<(Text<'t>, (u64, u64)), Refusal> {
        let applied = hunks::apply(name, text, hunks)?;
        Ok((applied.text, (applied.added, applied.removed)))
    }

    /// Move `from` to `to` (or find it already moved); returns the entry now holding the file.
    fn rename(&mut self, from: &str, to: &str) -> Result<usize, Refusal> {
        let (a, b) = (self.entry(from)?, self.entry(to)?);
        if a == b {
            return Ok(a);
        }
        match (&self.entries[a].now, &self.entries[b].now) {
            (Some(_), None) => self.rename_entry(a, b),
            (None, Some(_)) => self.entries[b].note("already-applied"),
            (Some(_), Some(_)) => return Err(Refusal::new(to, format!("cannot move {from} here: it already exists"))),
            (None, None) => return Err(Refusal::new(from, "it does not exist in the tree, so it cannot be moved")),
        }
        Ok(b)
    }

    /// Move entry `a`'s current content to entry `b`.
    fn rename_entry(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let now = self.entries[a].now.take();
        let from = self.entries[a].path.clone();
        self.entries[a].note("");
        let e = &mut self.entries[b];
        e.moved_from = Some(from);
        e.set(now, "");
    }
}

/// A Codex chunk of added lines only, with no `@@` anchor: Codex puts it at the end of the file.
fn appends(h: &Hunk) -> bool {
    h.anchors.is_empty() && h.old_lines().is_empty()
}

fn at_end_if_appended(h: &Hunk) -> Hunk {
    let mut h = h.clone();
    h.at_eof |= appends(&h);
    h
}

fn finish(entries: Vec<Entry>, limits: &Limits) -> Result<Plan, Refusal> {
    let mut plan = Plan::default();
    for e in entries.into_iter().filter(|e| e.touched) {
        if let Some(s) = &e.now {
            check_size(limits, &e.name, s.bytes.len() as u64)?;
        }
        let action = match (&e.before, &e.now) {
            (None, None) if e.matched.iter().any(|m| m == ALREADY_DELETED) => "delete",
            (None, None) => continue,
            _ if e.moved_from.is_some() => "move",
            (None, Some(_)) => "create",
            (Some(_), None) => "delete",
            (Some(b), Some(a)) if b.bytes == a.bytes && b.mode != a.mode => "chmod",
            (Some(_), Some(_)) => "modify",
        };
        let unchanged = e.before == e.now;
        let matched = if e.before.is_none() && e.now.is_none() {
            Some(ALREADY_DELETED.to_string())
        } else if unchanged && !e.matched.is_empty() {
            Some("already-applied".to_string())
        } else {
            Some(e.matched.join(", ")).filter(|m| !m.is_empty())
        };
        let result = FileResult {
            path: e.path.clone(),
            action: action.to_string(),
            from: e.moved_from.clone(),
            added: if unchanged { 0 } else { e.added },
            removed: if unchanged { 0 } else { e.removed },
            matched,
        };
        plan.files.push(FileChange { path: e.path, before: e.before, after: e.now, result });
    }
    Ok(plan)
}

/// Lines added and removed between two contents, counted as multisets (whole-file writes have
/// no hunks to count).
fn line_delta(before: &[u8], after: &[u8]) -> (u64, u64) {
    if is_binary(before) || is_binary(after) {
        return (0, 0);
    }
    let mut count: HashMap<&[u8], i64> = HashMap::new();
    for l in before.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        *count.entry(l).or_default() -= 1;
    }
    for l in after.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        *count.entry(l).or_default() += 1;
    }
    let added = count.values().filter(|&&c| c > 0).sum::<i64>() as u64;
    let removed = count.values().filter(|&&c| c < 0).map(|c| -c).sum::<i64>() as u64;
    (added, removed)
}

fn check_size(limits: &Limits, name: &str, size: u64) -> Result<(), Refusal> {
    if size > limits.max_file_size {
        return Err(Refusal::new(
            name,
            format!("it is {size} bytes, over the limit of {} (max_file_size)", limits.max_file_size),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Fence) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        let fence = Fence::new(dir.path(), &[]).unwrap();
        (dir, fence)
    }

    fn plan_limited(fence: &Fence, text: &str, limits: Limits) -> Result<Plan, Refusal> {
        plan(&crate::patch::parse(text.as_bytes(), None, None).unwrap(), fence, &limits)
    }

    fn plan_str(fence: &Fence, text: &str) -> Result<Plan, Refusal> {
        plan_limited(fence, text, Limits::default())
    }

    #[test]
    fn edits_sharing_a_file_or_a_move_are_planned_together() {
        let (_d, fence) = tree(&[]);
        let json = r#"{"operations": [
            {"op": "replace", "path": "a", "search": "1", "replace": "2"},
            {"op": "replace", "path": "b", "search": "1", "replace": "2"},
            {"op": "move", "path": "a", "to": "c"},
            {"op": "replace", "path": "./c", "search": "2", "replace": "3"},
            {"op": "delete", "path": "d"}]}"#;
        let patch = crate::patch::parse(json.as_bytes(), None, None).unwrap();
        assert_eq!(independent(&patch, &fence), vec![vec![0, 2, 3], vec![1], vec![4]]);
    }

    #[test]
    fn many_files_plan_in_patch_order_and_refuse_at_the_first_refused_edit() {
        let names: Vec<String> = (0..PARALLEL_FROM + 4).map(|i| format!("d{}/f{i:02}", i % 3)).collect();
        let diff: String = names.iter().map(|n| format!("--- a/{n}\n+++ b/{n}\n@@ -1 +1 @@\n-x\n+y\n")).collect();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x\n")).collect();
        let (d, fence) = tree(&files);
        let plan = plan_str(&fence, &diff).unwrap();
        assert_eq!(plan.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), names);
        assert!(plan.files.iter().all(|f| f.after.as_ref().unwrap().bytes == b"y\n"));
        // Two files moved on: the refusal is always the earlier one's, whichever thread ends first.
        for n in [&names[3], &names[PARALLEL_FROM]] {
            std::fs::write(d.path().join(n), "z\n").unwrap();
        }
        for _ in 0..5 {
            assert_eq!(plan_str(&fence, &diff).unwrap_err().file, names[3]);
        }
    }

    #[test]
    fn size_limit_applies_before_and_after() {
        let (_d, fence) = tree(&[("big", "0123456789"), ("small", "x")]);
        let small = Limits { max_file_size: 5 };
        let r = plan_limited(&fence, r#"{"operations": [{"op": "delete", "path": "big"}]}"#, small).unwrap_err();
        assert!(r.reason.contains("over the limit of 5"), "{r}");
        let r =
            plan_limited(&fence, r#"{"operations": [{"op": "write", "path": "small", "contents": "123456"}]}"#, small)
                .unwrap_err();
        assert!(r.reason.contains("max_file_size"), "{r}");
    }

    #[test]
    fn edits_build_on_each_other_and_results_say_what_happened() {
        let (_d, fence) = tree(&[("a.txt", "one\ntwo\n"), ("m.sh", "echo\n")]);
        let json = r#"{"operations": [
            {"op": "replace", "path": "a.txt", "search": "one", "replace": "1"},
            {"op": "move", "path": "a.txt", "to": "dir/b.txt"},
            {"op": "replace", "path": "dir/b.txt", "search": "two", "replace": "2"},
            {"op": "chmod", "path": "m.sh", "mode": "755"},
            {"op": "write", "path": "tmp", "contents": "x"},
            {"op": "delete", "path": "tmp"}]}"#;
        let plan = plan_limited(&fence, json, Limits::default()).unwrap();
        let summary: Vec<(String, String, Option<String>)> =
            plan.files.iter().map(|f| (f.path.clone(), f.result.action.clone(), f.result.from.clone())).collect();
        assert_eq!(
            summary,
            vec![
                ("a.txt".into(), "delete".into(), None),
                ("dir/b.txt".into(), "move".into(), Some("a.txt".into())),
                ("m.sh".into(), "chmod".into(), None),
            ]
        );
        assert_eq!(plan.files[1].after.as_ref().unwrap().bytes, b"1\n2\n");
        assert!(!plan.is_noop());
    }

    #[test]
    fn mode_changes_and_renames_leave_content_alone_binary_or_not() {
        let (d, fence) = tree(&[]);
        std::fs::write(d.path().join("tool"), b"\x7fELF\0\x01").unwrap();
        let diff = "diff --git a/tool b/tool\nold mode 100644\nnew mode 100755\n\
                    diff --git a/tool b/bin/tool\nrename from tool\nrename to bin/tool\n";
        let plan = plan_str(&fence, diff).unwrap();
        let moved = plan.files.iter().find(|f| f.path == "bin/tool").unwrap();
        assert_eq!(moved.after, Some(Snapshot { bytes: b"\x7fELF\0\x01".to_vec(), mode: 0o755 }));
        let missing = "diff --git a/nope b/nope\nold mode 100644\nnew mode 100755\n";
        let r = plan_str(&fence, missing).unwrap_err();
        assert!(r.reason.contains("does not exist"), "{r}");
    }

    #[test]
    fn a_directory_or_symlink_is_not_a_file_to_patch() {
        let (d, fence) = tree(&[("dir/x", "x")]);
        std::os::unix::fs::symlink(d.path().join("dir/x"), d.path().join("link")).unwrap();
        for path in ["dir", "link"] {
            let json = format!(r#"{{"operations": [{{"op": "write", "path": "{path}", "contents": "y"}}]}}"#);
            let r = plan_limited(&fence, &json, Limits::default()).unwrap_err();
            assert!(r.reason.contains("not a regular file"), "{path}: {r}");
        }
    }
}
