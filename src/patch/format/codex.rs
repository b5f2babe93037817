//! The Codex `apply_patch` envelope:
//!
//! ```text
//! *** Begin Patch
//! *** Add File: path        (then `+` lines)
//! *** Delete File: path
//! *** Update File: path
//! *** Move to: new/path     (optional)
//! @@ fn anchor()            (optional anchors; then ` `, `-`, `+` lines)
//! *** End of File           (the chunk ends at the end of the file)
//! *** End Patch
//! ```
//!
//! Marker lines may carry spaces around them, as Codex's own parser allows. A shell wrapper
//! around the envelope, `cd sub && apply_patch <<'EOF'`, makes every path relative to `sub`
//! (joined as written, so the fence judges the joined path: a `..` in `sub` is refused there).
//! An envelope without `*** End Patch` was cut off and is refused.

use anyhow::{Result, bail};

use super::{Body, lines, truncated};
use crate::patch::model::{Edit, FileDiff, Hunk, Line};

pub(crate) const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File: ";
const DELETE: &str = "*** Delete File: ";
const UPDATE: &str = "*** Update File: ";
const MOVE: &str = "*** Move to: ";
const END_OF_FILE: &str = "*** End of File";

/// Whether a text is a Codex envelope: a `*** Begin Patch` line. Indented, it counts only in a
/// text that is not a unified diff (where it would be a context line of a file quoting one).
pub(crate) fn detect(text: &str) -> bool {
    let mut indented = false;
    for line in text.lines() {
        if line.trim_end() == BEGIN {
            return true;
        }
        indented |= line.trim() == BEGIN;
    }
    indented && !text.lines().any(|l| l.starts_with("+++ "))
}

pub(crate) fn parse(text: &str) -> Result<Vec<Edit>> {
    let lines = lines(text);
    let Some(begin) = lines.iter().position(|l| l.trim() == BEGIN) else {
        bail!("no `{BEGIN}` line");
    };
    // The last `*** End Patch`: inside a chunk, ` *** End Patch` is a context line (Codex reads
    // it so), a file that quotes an envelope.
    let Some(end) = lines[begin..].iter().rposition(|l| l.trim() == END).map(|e| begin + e) else {
        return Err(cut_off(&lines[begin..]));
    };
    let dir = lines[..begin].iter().rev().find(|l| !l.trim().is_empty()).and_then(|l| workdir(l));
    let path = |p: &str| join(dir.as_deref(), p.trim());
    let lines = &lines[..end];
    let mut edits = Vec::new();
    let mut i = begin + 1;
    while i < lines.len() {
        let line = lines[i].trim();
        let n = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(ADD.trim_end()) {
            let mut hunk = Hunk::default();
            // Bare empty lines count as content only when more `+` lines follow them.
            let mut blanks = 0;
            while i < lines.len() && !is_marker(lines[i]) {
                match lines[i].strip_prefix('+') {
                    Some(t) => {
                        for _ in 0..std::mem::take(&mut blanks) {
                            hunk.push(Line::Add, "");
                        }
                        hunk.push(Line::Add, t);
                    }
                    None if lines[i].trim().is_empty() => blanks += 1,
                    None => bail!("line {}: a line of an added file must start with `+`", i + 1),
                }
                i += 1;
            }
            edits.push(Edit::Diff(FileDiff { new_path: Some(path(name)), hunks: vec![hunk], ..FileDiff::default() }));
        } else if let Some(name) = line.strip_prefix(DELETE.trim_end()) {
            edits.push(Edit::Diff(FileDiff { old_path: Some(path(name)), ..FileDiff::default() }));
        } else if let Some(name) = line.strip_prefix(UPDATE.trim_end()) {
            let name = path(name);
            let mut diff = FileDiff { old_path: Some(name.clone()), new_path: Some(name), ..FileDiff::default() };
            if let Some(to) = lines.get(i).and_then(|l| l.trim().strip_prefix(MOVE.trim_end())) {
                diff.new_path = Some(path(to));
                diff.rename = true;
                i += 1;
            }
            i = chunks(lines, i, &mut diff.hunks)?;
            if diff.hunks.is_empty() && !diff.rename {
                bail!("line {n}: `*** Update File` has no changes");
            }
            edits.push(Edit::Diff(diff));
        } else {
            bail!(
                "line {n}: expected `*** Add File:`, `*** Update File:`, `*** Delete File:` or `{END}`, found {line:?}"
            );
        }
    }
    if edits.is_empty() {
        bail!("the `{BEGIN}` envelope names no files");
    }
    Ok(edits)
}

/// The refusal for an envelope without `*** End Patch`, naming the file (and chunk) it stops in.
fn cut_off(envelope: &[&str]) -> anyhow::Error {
    let why = "there is no `*** End Patch` line";
    let Some(at) = envelope.iter().rposition(|l| [ADD, DELETE, UPDATE].iter().any(|m| l.trim_start().starts_with(m)))
    else {
        return truncated("the envelope", None, why);
    };
    let header = envelope[at].trim();
    let name = header.split_once(": ").map_or(header, |(_, name)| name);
    if !header.starts_with(UPDATE) {
        return truncated(name, None, why);
    }
    let anchors = envelope[at + 1..].iter().filter(|l| l.starts_with("@@")).count();
    truncated(name, Some(anchors.max(1)), why)
}

/// A line that ends an added file's lines or an update's chunks: a `*** ` marker at the start of
/// the line, or indented by anything but the single space of a context line.
fn is_marker(line: &str) -> bool {
    line.starts_with("*** ") || (!line.starts_with(' ') && line.trim_start().starts_with("*** "))
}

/// `sub` from `cd sub && apply_patch <<'EOF'` (or `;` instead of `&&`, inside `bash -lc "…"`).
fn workdir(line: &str) -> Option<String> {
    let at = line.match_indices("cd ").find(|&(i, _)| i == 0 || !line.as_bytes()[i - 1].is_ascii_alphanumeric())?.0;
    let rest = &line[at + 3..];
    let (dir, command) = rest.split_once("&&").or_else(|| rest.split_once(';'))?;
    let command = command.trim_start();
    if !command.starts_with("apply_patch") && !command.starts_with("applypatch") {
        return None;
    }
    let dir = dir.trim().trim_matches(|c| c == '\'' || c == '"').trim_end_matches('/');
    (!dir.is_empty() && dir != ".").then(|| dir.to_string())
}

fn join(dir: Option<&str>, path: &str) -> String {
    match dir {
        Some(dir) if !path.starts_with('/') => format!("{dir}/{path}"),
        _ => path.to_string(),
    }
}

/// Read an Update's chunks up to the next `*** ` header; returns the index after them.
fn chunks(lines: &[&str], mut i: usize, hunks: &mut Vec<Hunk>) -> Result<usize> {
    let mut cur = Body::default();
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == END_OF_FILE {
            cur.hunk.at_eof = true;
        } else if is_marker(line) {
            break;
        } else if let Some(anchor) = line.strip_prefix("@@") {
            if !cur.hunk.is_empty() {
                hunks.push(std::mem::take(&mut cur).finish(true));
            }
            let anchor = anchor.trim();
            if !anchor.is_empty() {
                cur.hunk.anchors.push(anchor.to_string());
            }
        } else if cur.push(line).is_none() {
            bail!("line {}: a changed line must start with ` `, `-` or `+`, found {line:?}", i + 1);
        }
        i += 1;
    }
    let cur = cur.finish(true);
    if !cur.is_empty() {
        hunks.push(cur);
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_update_move_delete() {
        let edits = parse(
            "*** Begin Patch\n*** Add File: new.txt\n+hello\n+\n+world\n*** Update File: src/a.py\n*** Move to: src/b.py\n@@ class A\n@@ def f():\n-    return 1\n+    return 2\n*** End of File\n*** Delete File: old.txt\n*** End Patch\n",
        )
        .unwrap();
        assert_eq!(edits.len(), 3);
        let Edit::Diff(add) = &edits[0] else { panic!() };
        assert_eq!(add.hunks[0].new_lines(), vec!["hello", "", "world"]);
        let Edit::Diff(up) = &edits[1] else { panic!() };
        assert_eq!(up.new_path.as_deref(), Some("src/b.py"));
        assert!(up.rename);
        assert_eq!(up.hunks[0].anchors, vec!["class A", "def f():"]);
        assert!(up.hunks[0].at_eof);
        let Edit::Diff(del) = &edits[2] else { panic!() };
        assert_eq!((del.old_path.as_deref(), del.new_path.as_deref()), (Some("old.txt"), None));
    }

    #[test]
    fn errors_name_the_line() {
        assert!(
            parse("*** Begin Patch\n*** Frobnicate: x\n*** End Patch\n").unwrap_err().to_string().contains("line 2")
        );
        assert!(
            parse("*** Begin Patch\n*** Update File: a\n@@\nno prefix\n*** End Patch\n")
                .unwrap_err()
                .to_string()
                .contains("line 4")
        );
        assert!(parse("*** Begin Patch\n*** End Patch\n").is_err());
    }

    #[test]
    fn a_context_line_quoting_end_patch_is_context() {
        let edits =
            parse("*** Begin Patch\n*** Update File: t.txt\n@@\n *** End Patch\n-x\n+y\n*** End Patch\n").unwrap();
        let Edit::Diff(d) = &edits[0] else { panic!() };
        assert_eq!(d.hunks[0].old_lines(), vec!["*** End Patch", "x"]);
    }

    #[test]
    fn cut_envelopes_name_the_file_and_chunk() {
        let err = parse("*** Begin Patch\n*** Update File: a.rs\n@@ fn a\n-x\n+y\n@@ fn b\n-x\n").unwrap_err();
        let refusal = err.downcast_ref::<crate::patch::Refusal>().expect("a refusal");
        assert_eq!((refusal.file.as_str(), refusal.hunk), ("a.rs", Some(2)));
        assert!(refusal.reason.contains("no `*** End Patch`"), "{}", refusal.reason);
        assert!(
            parse("*** Begin Patch\n*** Add File: n.txt\n+a\n*** End Pat").unwrap_err().to_string().contains("n.txt")
        );
    }

    #[test]
    fn a_cd_wrapper_prefixes_every_path() {
        let text = "bash -lc \"cd 'web app/' && apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: a.txt\n+a\n*** Update File: b.txt\n*** Move to: c.txt\n@@\n-b\n+c\n*** Delete File: /abs.txt\n*** End Patch\nEOF\"\n";
        let edits = parse(text).unwrap();
        let paths: Vec<Vec<&str>> = edits.iter().map(Edit::paths).collect();
        assert_eq!(paths, vec![vec!["web app/a.txt"], vec!["web app/b.txt", "web app/c.txt"], vec!["/abs.txt"]]);
        assert_eq!(workdir("cd . && apply_patch <<EOF"), None);
        assert_eq!(workdir("abcd x && apply_patch <<EOF"), None);
        assert_eq!(workdir("cd x && cat <<EOF"), None);
        assert_eq!(workdir("cd ../x; applypatch"), Some("../x".to_string()));
    }
}
