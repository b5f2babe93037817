//! Unified diffs, git-style or plain: one or many files, new, deleted and renamed files, mode
//! changes, `\ No newline at end of file`. Lenient where models slip: hunk counts that do not
//! add up or are missing (`@@ @@`), blank context lines without their space, text around the
//! diff (a commit message, Markdown fences).
//!
//! Strict where leniency would guess: a patch that ends inside a hunk or a file header (cut off
//! by a token limit) and headers that contradict each other are refused, not read one way.

use anyhow::{Context, Result, bail};

use super::{Body, contradiction, lines, stamp, truncated};
use crate::patch::model::{Edit, FileDiff, FileMode, Hunk, Line};

/// A file section being read: the names as written, before prefixes are stripped.
#[derive(Default)]
struct Section {
    git: bool,
    /// From `diff --git a/x b/y`, used when no `---`/`+++` lines follow.
    git_names: Option<(String, String)>,
    /// The `diff --git` line after its command, as written.
    git_rest: Option<String>,
    old: Option<String>,
    new: Option<String>,
    /// The `---` and `+++` names as written (maybe quoted), without timestamps.
    raw: Option<(String, String)>,
    created: bool,
    deleted: bool,
    rename: Option<(String, String)>,
    /// `new file mode` / `new mode` as written, and its line: read once the section is known to
    /// be whole, so a mode cut off mid-line reads as truncation, not as a bad mode.
    new_mode: Option<(String, usize)>,
    hunks: Vec<Hunk>,
    /// The `---` / `+++` line carries the epoch timestamp: `diff -N` creating / deleting it.
    old_epoch: bool,
    new_epoch: bool,
    /// Why the last hunk looks cut off, when the patch ends inside it.
    cut: Option<String>,
    line: usize,
}

pub(crate) fn parse(text: &str, strip: Option<usize>) -> Result<Vec<Edit>> {
    let lines = lines(text);
    // The patch's last line that is not blank: a hunk that reaches it ends the patch.
    let end =
        End { tail: lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0), mid_line: !text.ends_with('\n') };
    let mut reached_tail = false;
    let mut edits = Vec::new();
    let mut cur: Option<Section> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("diff --git ") {
            finish(cur.take(), strip, &mut edits)?;
            cur = Some(Section {
                git: true,
                git_names: split_git_names(rest),
                git_rest: Some(rest.to_string()),
                line: n,
                ..Section::default()
            });
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
            let (old, old_stamp) = stamp::split(&line[4..]);
            let (new, new_stamp) = stamp::split(&lines[i + 1][4..]);
            let (old, new) = (old.trim_end(), new.trim_end());
            (section.old, section.new) = (Some(unquote(old)), Some(unquote(new)));
            section.raw = Some((old.to_string(), new.to_string()));
            section.old_epoch = old_stamp.is_some_and(stamp::is_epoch);
            section.new_epoch = new_stamp.is_some_and(stamp::is_epoch);
            i += 2;
        } else if line.starts_with("@@") {
            let Some(section) = cur.as_mut() else {
                bail!("line {n}: hunk `{line}` comes before any file header (`--- a/path` and `+++ b/path`)");
            };
            let (hunk, next, cut) = hunk(&lines, i, &end)?;
            section.hunks.push(hunk);
            section.cut = cut;
            reached_tail = next > end.tail;
            i = next;
        } else {
            i += 1;
        }
    }
    let in_header = cur.as_ref().is_some_and(|c| c.hunks.is_empty());
    if !reached_tail && let Some(why) = header_cut(lines[end.tail], in_header) {
        let line = lines[end.tail];
        let file = match line.get(..4) {
            Some("--- " | "+++ ") => unquote(stamp::split(&line[4..]).0.trim_end()),
            _ => cur.as_ref().and_then(display_name).unwrap_or_else(|| "the patch".to_string()),
        };
        return Err(truncated(strip_for_display(&file), None, why));
    }
    finish(cur, strip, &mut edits)?;
    if edits.is_empty() {
        bail!("no files in the diff: expected `--- a/path` and `+++ b/path` lines, or `diff --git`");
    }
    Ok(edits)
}

/// A git header's file mode (octal, `100644`), as the model may hold it.
fn file_mode(v: &str, n: usize) -> Result<FileMode> {
    let raw = u32::from_str_radix(v.trim(), 8).with_context(|| format!("line {n}: bad file mode {v:?}"))?;
    FileMode::from_git(raw).with_context(|| format!("line {n}"))
}

/// One extended git header line; false when the line is not one (the header is over).
fn git_header(s: &mut Section, line: &str, n: usize) -> Result<bool> {
    if let Some(v) = line.strip_prefix("new file mode ") {
        s.created = true;
        s.new_mode = Some((v.to_string(), n));
    } else if line.starts_with("deleted file mode ") {
        s.deleted = true;
    } else if let Some(v) = line.strip_prefix("new mode ") {
        s.new_mode = Some((v.to_string(), n));
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

/// Where the patch ends, for telling a hunk that is complete from one cut off.
struct End {
    /// The index of the last line that is not blank.
    tail: usize,
    /// The text does not end with a line ending: it may stop in the middle of its last line.
    mid_line: bool,
}

/// Read a hunk from its `@@` line; returns it, the index after it and, when the patch ends
/// inside it, why it looks cut off.
fn hunk(lines: &[&str], start: usize, end: &End) -> Result<(Hunk, usize, Option<String>)> {
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
        // Inside a hunk whose counts are not met, `--- x`/`+++ y` may be a removed and an added
        // line; followed by a hunk header, they are the next file's header (the counts were off).
        let header = line.starts_with("--- ")
            && lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "))
            && (done || counts.is_none() || lines.get(i + 2).is_some_and(|l| l.starts_with("@@")));
        // The start of a file header cut off, the patch's last line, is not a changed line.
        let cut_header = done && i == end.tail && header_cut(line, false).is_some();
        if line.starts_with("@@") || line.starts_with("diff ") || header || cut_header {
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
    let cut = if i > end.tail { cut_off(&body, counts.map(|_| (old_left, new_left)), end.mid_line) } else { None };
    Ok((body.finish(counts.is_none()), i, cut))
}

/// Why a hunk the patch ends inside looks cut off, or `None` when it is visibly complete.
///
/// With counts (`left`: lines the header still promises on the old and the new side) that are
/// not met, the hunk is complete only when (1) it ends with at least as many context lines as it
/// starts with — context after a change mirrors the context before it, except at the end of the
/// file, where counts a tool made are met — and (2) only its old side falls short. A cut keeps
/// the header's counts, which were right for the whole hunk, so lines missing from it leave both
/// sides short as soon as a context line is among them (and the trailing context always is,
/// unless the hunk ends the file); a new side alone short is lines added at the end of the file
/// cut off after the last context line, which real patches do often. A count written wrong on
/// the old side alone is forgiven. Nor is a hunk complete when the text stops without a line
/// ending: its last line may be cut too.
/// Without counts, a last changed line with no line ending after it betrays the cut. A hunk with
/// no changed line at all was cut in its leading context. A hunk ending on a `+` line with its new
/// side met is whole (diffs write a change's removals before its additions). Bare empty lines at
/// the very end are separators here.
fn cut_off(body: &Body, left: Option<(usize, usize)>, mid_line: bool) -> Option<String> {
    let kinds: Vec<Line> = body.hunk.lines().take(body.hunk.len() - body.bare_tail).map(|(kind, _)| kind).collect();
    let met = left == Some((0, 0));
    let lead = kinds.iter().take_while(|&&k| k == Line::Context).count();
    if lead == kinds.len() {
        return (!met).then(|| {
            if kinds.is_empty() { "its header is not followed by any lines" } else { "it has no `-` or `+` line yet" }
                .to_string()
        });
    }
    let trail = kinds.iter().rev().take_while(|&&k| k == Line::Context).count();
    let Some((old, new)) = left else {
        return (trail == 0 && mid_line).then(|| "its last line stops without a line ending".to_string());
    };
    let more = old.max(new);
    let promise = format!("its header promises {more} more line{}", if more == 1 { "" } else { "s" });
    // Ending on a `+` line with the new side met, only `-` lines after the additions could be
    // missing, and diffs write removals first: a wrong old count (a creation headed `-1`), not a cut.
    let new_side_whole = kinds.last() == Some(&Line::Add) && new == 0;
    if met {
        None
    } else if trail == 0 && !new_side_whole {
        let last = if kinds.last() == Some(&Line::Add) { "`+`" } else { "`-`" };
        Some(format!("{promise}, and it stops after a {last} line"))
    } else if trail < lead {
        Some(format!("{promise}, and it has less context after its change than before"))
    } else if mid_line {
        Some(format!("{promise}, and its last line stops without a line ending"))
    } else if old > 0 && new > 0 {
        Some(format!("{promise} on both sides, more context or changes that did not arrive"))
    } else if new > 0 {
        Some(format!("{promise} on its new side, lines added at the end of the file that did not arrive"))
    } else {
        None
    }
}

/// Why a patch whose last line is this header line (not inside a hunk) looks cut off: the file
/// section it starts or belongs to has not reached its hunks, or the line itself is cut short
/// (`--`, `+++ b/sr`, `new file mode 1006`). `None` for a line that can end a section
/// (`rename to`, `new mode`, an empty file's `index`) or is not a header at all. `---` alone is
/// also a Markdown rule under a diff: it is cut off only `in_header`, before a section's hunks.
fn header_cut(line: &str, in_header: bool) -> Option<&'static str> {
    const UNFINISHED: [&str; 10] = [
        "diff ",
        "--- ",
        "+++ ",
        "@@",
        "index ",
        "similarity index ",
        "dissimilarity index ",
        "rename from ",
        "old mode ",
        "copy ",
    ];
    const MODES: [&str; 3] = ["new file mode ", "deleted file mode ", "new mode "];
    let partial = (in_header || line != "---")
        && UNFINISHED.iter().chain(&MODES).chain(&["rename to "]).any(|h| h.len() > line.len() && h.starts_with(line));
    let unfinished =
        UNFINISHED.iter().any(|h| line.starts_with(h)) && !(line.starts_with("index ") && line.contains("e69de29"));
    let short_mode = MODES.iter().any(|h| line.strip_prefix(h).is_some_and(|m| m.trim().len() < 6));
    (!line.is_empty() && (partial || unfinished || short_mode))
        .then_some("it stops in the file's header, before its hunks")
}

/// The path a section is about, as the patch names it (for refusals).
fn display_name(s: &Section) -> Option<String> {
    let named = |p: &Option<String>| p.clone().filter(|p| p != "/dev/null");
    named(&s.new).or_else(|| named(&s.old)).or_else(|| s.git_names.as_ref().map(|(_, b)| b.clone()))
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
    if let Some(why) = &s.cut {
        let file = display_name(&s).unwrap_or_default();
        return Err(truncated(strip_for_display(&file), Some(s.hunks.len()), why));
    }
    check_agreement(&s, strip)?;
    let new_mode = s.new_mode.as_ref().map(|(v, n)| file_mode(v, *n)).transpose()?;
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
    // `diff -N`: the epoch stands for a side that does not exist, where the hunks agree.
    let created = s.old_epoch && s.hunks.iter().all(|h| h.old_lines().is_empty());
    if s.created || created {
        old = None;
    }
    let emptied = s.new_epoch && s.hunks.iter().all(|h| h.new_lines().is_empty());
    if s.deleted || emptied {
        new = None;
    }
    if old.is_none() && new.is_none() {
        bail!("line {at}: both sides of the file are /dev/null");
    }
    if s.hunks.is_empty() && !rename && !s.created && !s.deleted && new_mode.is_none() {
        bail!("line {at}: the diff for {} has no hunks", new.or(old).unwrap_or_default());
    }
    edits.push(Edit::Diff(FileDiff { old_path: old, new_path: new, rename, new_mode, hunks: s.hunks }));
    Ok(())
}

/// A name for a refusal: without the `a/` or `b/` a diff puts before it.
fn strip_for_display(name: &str) -> &str {
    name.strip_prefix("b/").or_else(|| name.strip_prefix("a/")).unwrap_or(name)
}

/// Refuse headers that describe one file two ways: a `diff --git` line naming other files than
/// its `---`/`+++` lines, `--- b/…` on the old side, a file both new and renamed (or deleted).
fn check_agreement(s: &Section, strip: Option<usize>) -> Result<()> {
    let file = display_name(s).unwrap_or_default();
    let file = strip_for_display(&file);
    let both = |a: &str, b: &str| contradiction(file, &format!("{a}, but {b}"));
    if s.created && s.rename.is_some() {
        return Err(both("`new file mode` says the file is new", "`rename from`/`rename to` say it is moved"));
    }
    if s.deleted && s.rename.is_some() {
        return Err(both("`deleted file mode` says the file is deleted", "`rename from`/`rename to` say it is moved"));
    }
    if s.created && s.deleted {
        return Err(both("`new file mode` says the file is new", "`deleted file mode` says it is deleted"));
    }
    let (Some(old), Some(new), Some((old_raw, new_raw))) = (&s.old, &s.new, &s.raw) else { return Ok(()) };
    if strip.is_none() && old.starts_with("b/") && (new.starts_with("a/") || new.starts_with("b/")) {
        return Err(both(
            &format!("the old side is `--- {old}`, with the `b/` prefix of the new side"),
            &format!("the new side is `+++ {new}`"),
        ));
    }
    let (Some(rest), Some((git_old, git_new))) = (&s.git_rest, &s.git_names) else { return Ok(()) };
    let same = |header: &str, git: &str, prefix: &str| {
        header.strip_prefix(prefix).unwrap_or(header) == git.strip_prefix(prefix).unwrap_or(git)
    };
    if old != "/dev/null" && !same(old, git_old, "a/") && !rest.starts_with(&format!("{old_raw} ")) {
        return Err(both(&format!("`diff --git` names {git_old}"), &format!("`---` names {old}")));
    }
    if new != "/dev/null" && !same(new, git_new, "b/") && !rest.ends_with(&format!(" {new_raw}")) {
        return Err(both(&format!("`diff --git` names {git_new}"), &format!("`+++` names {new}")));
    }
    Ok(())
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
        // reserving room for them; the next file shows the hunk is whole.
        let text =
            "--- f\n+++ f\n@@ -1,4000000000000 +1,4000000000000 @@\n-a\n+b\n c\n--- g\n+++ g\n@@ -1 +1 @@\n-x\n+y\n";
        let edits = parse(text, None).unwrap();
        assert_eq!(diff(&edits).hunks[0].new_lines(), vec!["b", "c"]);
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
        let empty_then_more = "--- a/f\n+++ b/f\n--- a/g\n+++ b/g\n@@ -1 +1 @@\n-a\n+b\n";
        assert!(parse(empty_then_more, None).unwrap_err().to_string().contains("no hunks"));
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

    #[test]
    fn line_zero_hunks_keep_the_named_file_and_epochs_mark_absent_sides() {
        let sides = |text: &str| {
            let edits = parse(text, None).unwrap();
            let d = diff(&edits);
            (d.old_path.clone(), d.new_path.clone())
        };
        let named = (Some("utils.py".to_string()), Some("utils.py".to_string()));
        assert_eq!(sides("--- a/utils.py\n+++ b/utils.py\n@@ -0,0 +1,2 @@\n+a\n+b\n"), named);
        assert_eq!(sides("--- a/utils.py\t2024-01-01 10:00:00 +0000\n+++ b/utils.py\n@@ -0,0 +1 @@\n+a\n"), named);
        assert_eq!(
            sides("--- utils.py\t1969-12-31 19:00:00.000000000 -0500\n+++ utils.py\n@@ -0,0 +1 @@\n+a\n"),
            (None, Some("utils.py".to_string()))
        );
        // An epoch on a side the hunks do have lines on is only a date.
        assert_eq!(
            sides("--- utils.py\t1970-01-01 00:00:00 +0000\n+++ utils.py\n@@ -1 +1 @@\n-a\n+b\n"),
            (Some("utils.py".to_string()), Some("utils.py".to_string()))
        );
    }

    #[test]
    fn cut_hunks_and_complete_ones() {
        let cut = |text: &str| parse(text, None).err().map(|e| e.to_string());
        let head = "--- a/f\n+++ b/f\n";
        for complete in [
            "@@ -1,2 +1,2 @@\n a\n-b\n+c",
            "@@ -1,3 +1,2 @@\n a\n-b\n c\n",
            "@@ -1,9 +1,2 @@\n a\n-b\n+c\n d\n",
            "@@ -1,9 +1,9 @@\n a\n-b\n+c\n d\nProse after the diff.\n",
            "@@ @@\n a\n-b\n",
            "@@ @@\n a\n-b\n+c\n d",
        ] {
            assert_eq!(cut(&format!("{head}{complete}")), None, "{complete:?}");
        }
        for (cut_off, why) in [
            ("@@ -1,3 +1,3 @@\n a\n-b\n", "stops after a `-` line"),
            ("@@ -1,5 +1,5 @@\n a\n-b\n+c\n\n\n", "stops after a `+` line"),
            ("@@ -1,7 +1,7 @@\n a\n b\n-c\n+d\n e\n", "less context after its change than before"),
            ("@@ -1,4 +1,4 @@\n a\n-b\n+c\n d\n", "on both sides"),
            ("@@ -1,3 +1,5 @@\n a\n-b\n+c\n d\n", "on its new side"),
            ("@@ -1,4 +1,3 @@\n a\n-b\n+c\n d", "its last line stops without a line ending"),
            ("@@ -1,4 +1,4 @@\n a\n", "no `-` or `+` line yet"),
            ("@@ -1,4 +1,4 @@\n", "not followed by any lines"),
            ("@@ -1,4 +1", "not followed by any lines"),
            ("@@ @@\n a\n+b", "without a line ending"),
            ("@@ -1,2 +1,2 @@\n a\n-b\n+c\n--", "the file's header"),
            ("@@ -1,2 +1,2 @@\n a\n-b\n+c\n-", "the file's header"),
            ("@@ -1,2 +1,2 @@\n a\n-b\n+c\ndiff --git a/g b/g\nindex 1234567..89abcde 100644\n---", "g (it stops"),
            ("@@ -1,2 +1,2 @@\n a\n-b\n+c\ndiff --git a/g b/g\nindex 1234567..89abcde 100644\n", "g (it stops"),
            ("@@ -1,2 +1,2 @@\n a\n-b\n+c\ndiff --git a/g b/g\nnew file mode 1006", "the file's header"),
        ] {
            let err = cut(&format!("{head}{cut_off}")).unwrap_or_else(|| panic!("{cut_off:?} was read as whole"));
            assert!(err.contains(why) && err.contains("it looks truncated"), "{cut_off:?}: {err}");
        }
        // An empty file created or deleted ends a patch whole.
        assert_eq!(cut("diff --git a/e b/e\nnew file mode 100644\nindex 0000000..e69de29\n"), None);
    }

    #[test]
    fn headers_must_agree() {
        let err = |text: &str| parse(text, None).unwrap_err().to_string();
        assert!(err("diff --git a/f b/f\n--- a/g\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n").contains("`---` names a/g"));
        assert!(err("diff --git a/f b/f\ndeleted file mode 100644\nrename from f\nrename to g\n").contains("moved"));
        assert!(err("--- b/f\n+++ a/f\n@@ -1 +1 @@\n-a\n+b\n").contains("`b/` prefix"));
        // Quoted names, names without prefixes, `-p` given.
        for agree in [
            "diff --git \"a/sp ace\" \"b/sp ace\"\n--- \"a/sp ace\"\n+++ \"b/sp ace\"\n@@ -1 +1 @@\n-a\n+b\n",
            "diff --git a/f b/f\n--- f\n+++ f\n@@ -1 +1 @@\n-a\n+b\n",
            "diff --git a/f b/f\nnew file mode 100644\n--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+a\n",
        ] {
            assert!(parse(agree, None).is_ok(), "{agree}");
        }
        assert!(parse("--- b/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n", Some(1)).is_ok());
    }
}
