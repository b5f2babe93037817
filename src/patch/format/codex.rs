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

use anyhow::{Result, bail};

use super::{Body, lines};
use crate::patch::model::{Edit, FileDiff, Hunk, Line};

pub const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";

pub fn parse(text: &str) -> Result<Vec<Edit>> {
    let lines = lines(text);
    let Some(begin) = lines.iter().position(|l| l.trim_end() == BEGIN) else {
        bail!("no `{BEGIN}` line");
    };
    let mut edits = Vec::new();
    let mut i = begin + 1;
    while i < lines.len() {
        let line = lines[i].trim_end();
        let n = i + 1;
        i += 1;
        if line == END {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(path) = line.strip_prefix("*** Add File: ") {
            let mut hunk = Hunk::default();
            // Bare empty lines count as content only when more `+` lines follow them.
            let mut blanks = 0;
            while i < lines.len() && !lines[i].starts_with("*** ") {
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
            edits.push(Edit::Diff(FileDiff {
                new_path: Some(path.trim().to_string()),
                hunks: vec![hunk],
                ..FileDiff::default()
            }));
        } else if let Some(path) = line.strip_prefix("*** Delete File: ") {
            edits.push(Edit::Diff(FileDiff { old_path: Some(path.trim().to_string()), ..FileDiff::default() }));
        } else if let Some(path) = line.strip_prefix("*** Update File: ") {
            let path = path.trim().to_string();
            let mut diff = FileDiff { old_path: Some(path.clone()), new_path: Some(path), ..FileDiff::default() };
            if let Some(to) = lines.get(i).and_then(|l| l.strip_prefix("*** Move to: ")) {
                diff.new_path = Some(to.trim().to_string());
                diff.rename = true;
                i += 1;
            }
            i = chunks(&lines, i, &mut diff.hunks)?;
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

/// Read an Update's chunks up to the next `*** ` header; returns the index after them.
fn chunks(lines: &[&str], mut i: usize, hunks: &mut Vec<Hunk>) -> Result<usize> {
    let mut cur = Body::default();
    while i < lines.len() {
        let line = lines[i];
        if line.trim_end() == "*** End of File" {
            cur.hunk.at_eof = true;
        } else if line.starts_with("*** ") {
            break;
        } else if let Some(anchor) = line.strip_prefix("@@") {
            if !cur.hunk.is_empty() {
                hunks.push(std::mem::take(&mut cur).finish(true));
            }
            let anchor = anchor.trim();
            if !anchor.is_empty() {
                cur.hunk.anchors.push(anchor.to_string());
            }
        } else {
            if cur.push(line).is_none() {
                bail!("line {}: a changed line must start with ` `, `-` or `+`, found {line:?}", i + 1);
            }
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
            parse("*** Begin Patch\n*** Update File: a\n@@\nno prefix\n").unwrap_err().to_string().contains("line 4")
        );
        assert!(parse("*** Begin Patch\n*** End Patch\n").is_err());
    }
}
