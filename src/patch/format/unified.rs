//! Unified diffs, git-style or plain: one or many files, new, deleted and renamed files, mode
//! changes, `\ No newline at end of file`. Lenient where models slip: hunk counts that do not
//! add up or are missing (`@@ @@`), blank context lines without their space, text around the
//! diff (a commit message, Markdown fences).

use anyhow::{Context, Result, bail};

use super::{Body, lines};
use crate::patch::model::{Edit, FileDiff, FileMode, Hunk, Line};

/// A file section being read: the names as written, before prefixes are stripped.
#[derive(Default)]
struct Section {
    git: bool,
    /// From `diff --git a/x b/y`, used when no `---`/`+++` lines follow.
    git_names: Option<(String, String)>,
    old: Option<String>,
    new: Option<String>,
    created: bool,
    deleted: bool,
    rename: Option<(String, String)>,
    new_mode: Option<FileMode>,
    hunks: Vec<Hunk>,
    /// The `+++` line carries the epoch timestamp: `diff -N` deleting the file.
    new_epoch: bool,
    line: usize,
}

pub fn parse(text: &str, strip: Option<usize>) -> Result<Vec<Edit>> {
    let lines = lines(text);
    let mut edits = Vec::new();
    let mut cur: Option<Section> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("diff --git ") {
            finish(cur.take(), strip, &mut edits)?;
            cur = Some(Section { git: true, git_names: split_git_names(rest), line: n, ..Section::default() });
            i += 1;
            while i < lines.len() && git_header(cur.as_mut().expect("section"), lines[i], i + 1)? {
                i += 1;
            }
        } else if line.starts_with("--- ") && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ ")) {
            // A git section's `---` follows its `diff --git`; anything else starts a plain section.
            let fresh = cur.as_ref().is_none_or(|c| !c.git || !c.hunks.is_empty() || c.old.is_some());
            if fresh {
                finish(cur.take(), strip, &mut edits)?;
                cur = Some(Section { line: n, ..Section::default() });
            }
            let section = cur.as_mut().expect("section");
            section.old = Some(name(&line[4..]));
            section.new = Some(name(&lines[i + 1][4..]));
            section.new_epoch = lines[i + 1].contains("\t1970-01-01");
            i += 2;
        } else if line.starts_with("@@") {
            let Some(section) = cur.as_mut() else {
                bail!("line {n}: hunk `{line}` comes before any file header (`--- a/path` and `+++ b/path`)");
            };
            let (hunk, next) = hunk(&lines, i)?;
            section.hunks.push(hunk);
            i = next;
        } else {
            i += 1;
        }
    }
    finish(cur, strip, &mut edits)?;
    if edits.is_empty() {
        bail!("no files in the diff: expected `--- a/path` and `+++ b/path` lines, or `diff --git`");
    }
    Ok(edits)
}

/// One extended git header line; false when the line is not one (the header is over).
fn git_header(s: &mut Section, line: &str, n: usize) -> Result<bool> {
    let mode = |v: &str| {
        let raw = u32::from_str_radix(v.trim(), 8).with_context(|| format!("line {n}: bad file mode {v:?}"))?;
        FileMode::from_git(raw).with_context(|| format!("line {n}"))
    };
    if let Some(v) = line.strip_prefix("new file mode ") {
        s.created = true;
        s.new_mode = Some(mode(v)?);
    } else if line.starts_with("deleted file mode ") {
        s.deleted = true;
    } else if let Some(v) = line.strip_prefix("new mode ") {
        s.new_mode = Some(mode(v)?);
    } else if let Some(v) = line.strip_prefix("rename from ") {
        s.rename.get_or_insert_default().0 = unquote(v);
    } else if let Some(v) = line.strip_prefix("rename to ") {
        s.rename.get_or_insert_default().1 = unquote(v);
    } else if line.starts_with("copy from ") || line.starts_with("copy to ") {
        bail!("line {n}: git copies are not supported; send the new file as an added file");
    } else if line.starts_with("Binary files ") && s.deleted {
        // Deleting a binary file needs no content.
    } else if line.starts_with("Binary files ") || line == "GIT binary patch" {
        bail!("line {n}: binary diffs are not supported; send the file with a `write` operation");
    } else if !["old mode ", "index ", "similarity index ", "dissimilarity index "].iter().any(|p| line.starts_with(p))
    {
        return Ok(false);
    }
    Ok(true)
}

/// Read a hunk from its `@@` line; returns it and the index after it.
fn hunk(lines: &[&str], start: usize) -> Result<(Hunk, usize)> {
    let header = lines[start];
    let fields = header_fields(header);
    let num = |i: usize, default: usize| -> Result<usize> {
        match fields.and_then(|f| f[i]) {
            Some(digits) => digits.parse().with_context(|| format!("line {}: bad number in `{header}`", start + 1)),
            None => Ok(default),
        }
    };
    let counts = if fields.is_some() { Some((num(1, 1)?, num(3, 1)?)) } else { None };
    let mut body = Body::default();
    // A hunk holds at most as many lines as its two counts together (context counts in both).
    body.hunk.reserve(counts.map_or(0, |(old, new)| old.saturating_add(new).min(1 << 16)));
    body.hunk.old_start = fields.map(|_| num(0, 0)).transpose()?;
    let (mut old_left, mut new_left) = counts.unwrap_or((usize::MAX, usize::MAX));
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        let done = counts.is_some() && old_left == 0 && new_left == 0;
        let header = line.starts_with("--- ") && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "));
        if line.starts_with("@@") || line.starts_with("diff ") || (header && (done || counts.is_none())) {
            break;
        }
        if line.starts_with('\\') {
            // `\ No newline at end of file` belongs to the line before it.
            let hunk = &mut body.hunk;
            match hunk.last() {
                Some(Line::Remove) => hunk.old_no_newline = true,
                Some(Line::Add) => hunk.new_no_newline = true,
                _ => (hunk.old_no_newline, hunk.new_no_newline) = (true, true),
            }
            i += 1;
            continue;
        }
        if done && (line.is_empty() || line == "-- ") {
            break; // a separator, or the signature format-patch appends
        }
        match body.push(line) {
            None => break,
            Some(Line::Context) => (old_left, new_left) = (old_left.saturating_sub(1), new_left.saturating_sub(1)),
            Some(Line::Remove) => old_left = old_left.saturating_sub(1),
            Some(Line::Add) => new_left = new_left.saturating_sub(1),
        }
        i += 1;
    }
    Ok((body.finish(counts.is_none()), i))
}

/// The numbers of a `@@ -a,b +c,d @@` header as written: old start and count, new start and
/// count, where a count may be left out. `None` when the line gives no numbers, as `@@ @@`.
fn header_fields(line: &str) -> Option<[Option<&str>; 4]> {
    fn digits(s: &str) -> Option<(&str, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (n > 0).then(|| s.split_at(n))
    }
    // A start, and a count after a comma.
    fn range(s: &str) -> Option<([Option<&str>; 2], &str)> {
        let (start, rest) = digits(s)?;
        match rest.strip_prefix(',') {
            Some(rest) => digits(rest).map(|(count, rest)| ([Some(start), Some(count)], rest)),
            None => Some(([Some(start), None], rest)),
        }
    }
    let rest = line.strip_prefix("@@")?.trim_start_matches('@').strip_prefix(" -")?;
    let ([old_start, old_count], rest) = range(rest)?;
    let ([new_start, new_count], rest) = range(rest.strip_prefix(" +")?)?;
    rest.starts_with(" @@").then_some([old_start, old_count, new_start, new_count])
}

fn finish(section: Option<Section>, strip: Option<usize>, edits: &mut Vec<Edit>) -> Result<()> {
    let Some(s) = section else { return Ok(()) };
    let at = s.line;
    let (mut old, mut new) = match (&s.old, &s.new, &s.git_names) {
        (Some(o), Some(n), _) => (Some(o.clone()), Some(n.clone())),
        (_, _, Some((o, n))) => (Some(o.clone()), Some(n.clone())),
        _ => bail!("line {at}: could not read the file names from the `diff --git` line"),
    };
    old = old.filter(|p| p != "/dev/null");
    new = new.filter(|p| p != "/dev/null");
    let prefixed = s.git
        || (old.as_deref().is_none_or(|p| p.starts_with("a/")) && new.as_deref().is_none_or(|p| p.starts_with("b/")));
    let strip_one = |p: String, n: usize| -> Result<String> {
        let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
        if parts.len() <= n {
            bail!("line {at}: cannot strip {n} components from {p:?}");
        }
        Ok(parts[n..].join("/"))
    };
    let fix = |p: Option<String>, prefix: &str| -> Result<Option<String>> {
        p.map(|p| match strip {
            Some(n) => strip_one(p, n),
            None if prefixed => Ok(p.strip_prefix(prefix).map(str::to_string).unwrap_or(p)),
            None => Ok(p),
        })
        .transpose()
    };
    old = fix(old, "a/")?;
    new = fix(new, "b/")?;
    let mut rename = false;
    if let Some((from, to)) = s.rename {
        (old, new, rename) = (Some(from), Some(to), true);
    }
    if s.created {
        old = None;
    }
    let emptied = s.new_epoch && s.hunks.iter().all(|h| h.new_lines().is_empty());
    if s.deleted || (!s.git && emptied) {
        new = None;
    }
    if old.is_none() && new.is_none() {
        bail!("line {at}: both sides of the file are /dev/null");
    }
    if s.hunks.is_empty() && !rename && !s.created && !s.deleted && s.new_mode.is_none() {
        bail!("line {at}: the diff for {} has no hunks", new.or(old).unwrap_or_default());
    }
    edits.push(Edit::Diff(FileDiff { old_path: old, new_path: new, rename, new_mode: s.new_mode, hunks: s.hunks }));
    Ok(())
}

/// The path on a `---`/`+++` line, without its timestamp.
fn name(raw: &str) -> String {
    let raw = raw.split('\t').next().unwrap_or(raw);
    unquote(raw.trim_end())
}

/// `a/x b/y` from a `diff --git` line; with spaces in names, the split where both sides agree.
fn split_git_names(rest: &str) -> Option<(String, String)> {
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')? + 2;
        return Some((unquote(&rest[..end]), unquote(rest[end..].trim())));
    }
    let splits: Vec<usize> = rest.match_indices(" b/").map(|(i, _)| i).collect();
    let pick = splits
        .iter()
        .copied()
        .find(|&i| rest[..i].strip_prefix("a/") == Some(&rest[i + 3..]))
        .or_else(|| splits.first().copied())?;
    Some((rest[..pick].to_string(), rest[pick + 1..].to_string()))
}

/// Git quotes names with unusual characters C-style: `"a/sp\303\251cial"`.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else { return s.to_string() };
    let mut out = Vec::new();
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(d) = bytes.next() {
                        v = v * 8 + u32::from(d.wrapping_sub(b'0'));
                    }
                }
                out.push(v as u8);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_give_their_numbers_as_written() {
        fn some(f: [&'static str; 4]) -> Option<[Option<&'static str>; 4]> {
            Some(f.map(|s| (!s.is_empty()).then_some(s)))
        }
        assert_eq!(header_fields("@@ -12,7 +13,9 @@ fn main() {"), some(["12", "7", "13", "9"]));
        assert_eq!(header_fields("@@ -1 +1 @@"), some(["1", "", "1", ""]));
        assert_eq!(header_fields("@@@ -0,0 +1,2 @@@"), some(["0", "0", "1", "2"]));
        assert_eq!(header_fields("@@ -99999999999999999999 +1 @@"), some(["99999999999999999999", "", "1", ""]));
        for none in ["@@ @@", "@@ -1, +1 @@", "@@ -x +1 @@", "@@ -1 +1", "@@ -1 +1@@", "@ -1 +1 @@", "@@ -١ +1 @@"] {
            assert_eq!(header_fields(none), None, "{none}");
        }
    }

    fn diff(edits: &[Edit]) -> &FileDiff {
        match &edits[0] {
            Edit::Diff(d) => d,
            other => panic!("not a diff: {other:?}"),
        }
    }

    #[test]
    fn git_headers_renames_modes_and_quoted_names() {
        let edits = parse(
            "diff --git a/old.rs b/new.rs\nsimilarity index 90%\nrename from old.rs\nrename to new.rs\n\
             diff --git a/x.sh b/x.sh\nold mode 100644\nnew mode 100755\n\
             diff --git \"a/sp\\303\\251c\" \"b/sp\\303\\251c\"\nnew file mode 100644\n--- /dev/null\n+++ \"b/sp\\303\\251c\"\n@@ -0,0 +1 @@\n+hi\n",
            None,
        )
        .unwrap();
        assert_eq!(edits.len(), 3);
        let d = diff(&edits);
        assert_eq!((d.old_path.as_deref(), d.new_path.as_deref(), d.rename), (Some("old.rs"), Some("new.rs"), true));
        let Edit::Diff(m) = &edits[1] else { panic!() };
        assert_eq!(m.new_mode, Some(FileMode::from_git(0o100755).unwrap()));
        let Edit::Diff(c) = &edits[2] else { panic!() };
        assert_eq!((c.old_path.as_deref(), c.new_path.as_deref()), (None, Some("spéc")));
    }

    #[test]
    fn lenient_counts_blank_context_and_no_numbers() {
        let edits = parse("--- a/f\n+++ b/f\n@@ @@\n a\n\n-b\n+c\n\n\n", None).unwrap();
        let d = diff(&edits);
        assert_eq!(d.old_path.as_deref(), Some("f"));
        let h = &d.hunks[0];
        assert_eq!(h.old_start, None);
        assert_eq!(h.old_lines(), vec!["a", "", "b"]);
        assert_eq!(h.new_lines(), vec!["a", "", "c"]);
        // A blank context line written with its space is context, even last.
        let edits = parse("--- a/f\n+++ b/f\n@@ @@\n+x\n \n\n", None).unwrap();
        assert_eq!(diff(&edits).hunks[0].old_lines(), vec![""]);
        // Counts far too large (a hostile header) are read as far as the hunk goes, without
        // reserving room for them.
        let edits = parse("--- f\n+++ f\n@@ -1,4000000000000 +1,4000000000000 @@\n-a\n+b\n", None).unwrap();
        assert_eq!(diff(&edits).hunks[0].new_lines(), vec!["b"]);
        // Counts too small: the rest of the hunk is still read.
        let edits = parse("--- f\n+++ f\n@@ -1,1 +1,1 @@\n-a\n+b\n+c\n", None).unwrap();
        assert_eq!(diff(&edits).hunks[0].new_lines(), vec!["b", "c"]);
    }

    #[test]
    fn removed_dashes_line_is_not_a_header_inside_a_counted_hunk() {
        let edits = parse("--- f.sql\n+++ f.sql\n@@ -1,2 +1,2 @@\n--- note\n+++ note\n x\n", None).unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(diff(&edits).hunks[0].old_lines(), vec!["-- note", "x"]);
    }

    #[test]
    fn strip_and_errors() {
        let edits = parse("--- old/src/a.rs\t2024-01-01\n+++ new/src/a.rs\n@@ -1 +1 @@\n-a\n+b\n", Some(1)).unwrap();
        assert_eq!(diff(&edits).old_path.as_deref(), Some("src/a.rs"));
        assert!(parse("hello\n", None).unwrap_err().to_string().contains("no files"));
        assert!(parse("@@ -1 +1 @@\n-a\n", None).unwrap_err().to_string().contains("line 1"));
        assert!(parse("--- a/f\n+++ b/f\n", None).unwrap_err().to_string().contains("no hunks"));
    }

    #[test]
    fn binary_files_can_only_be_deleted() {
        let edits = parse("diff --git a/x.png b/x.png\ndeleted file mode 100644\nindex 1234567..0000000\nBinary files a/x.png and /dev/null differ\n", None).unwrap();
        assert_eq!((diff(&edits).old_path.as_deref(), diff(&edits).new_path.as_deref()), (Some("x.png"), None));
        let err = parse(
            "diff --git a/x.png b/x.png\nindex 1234567..89abcde 100644\nBinary files a/x.png and b/x.png differ\n",
            None,
        );
        assert!(err.unwrap_err().to_string().contains("binary diffs are not supported"));
    }

    #[test]
    fn no_newline_markers() {
        let edits = parse("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n", None).unwrap();
        let h = &diff(&edits).hunks[0];
        assert!(h.old_no_newline && !h.new_no_newline);
    }
}
