//! Applying one file's hunks to its text: every hunk is placed in the original lines first (in
//! order, each after the previous one where that is unambiguous: checked for placeholders,
//! anchored, located, re-indented where the file's indentation differs), then the new text is
//! built in one pass, keeping the file's own line endings, BOM and final newline.

use std::borrow::Cow;

use crate::patch::matcher::{Already, Found, Haystack, Level, Miss, Where, locate};
use crate::patch::model::{Hunk, Line};
use crate::patch::refusal::{Failed, Refusal};
use crate::patch::text::{Text, TextLine};
use crate::patch::{placeholder, reindent};

/// The patched text and how it was matched.
#[derive(Debug, Clone)]
pub(super) struct Applied<'a> {
    pub text: Text<'a>,
    pub added: u64,
    pub removed: u64,
    /// The loosest comparison any hunk needed.
    pub level: Level,
    /// The largest distance between a hunk's line number and where it was found.
    pub offset: isize,
    /// Hunks found already applied.
    pub already: usize,
}

impl Applied<'_> {
    /// How the hunks were found, for the result: `exact`, `offset +3`, `fuzzy-whitespace`, …
    pub(super) fn matched(&self, hunks: usize) -> String {
        if hunks > 0 && self.already == hunks {
            return "already-applied".to_string();
        }
        let mut parts = Vec::new();
        if self.level != Level::Exact || self.offset == 0 {
            parts.push(self.level.as_str().to_string());
        }
        if self.offset != 0 {
            parts.push(format!("offset {:+}", self.offset));
        }
        if self.already > 0 {
            parts.push(format!("{} of {hunks} hunks already applied", self.already));
        }
        parts.join(", ")
    }
}

struct Placed<'h> {
    hunk: &'h Hunk,
    found: Found,
    /// The added lines re-indented to the file's indentation, when the patch's differs.
    reindented: Option<Vec<String>>,
}

/// The result borrows the file's unchanged lines from `text` and its added lines from `hunks`.
/// Each hunk is placed in turn (checked, anchored, located, recorded); then the text is rebuilt.
pub(super) fn apply<'a>(file: &str, text: &Text<'a>, hunks: &'a [Hunk]) -> Result<Applied<'a>, Refusal> {
    let mut run = Placing {
        file,
        text,
        hay: Haystack::new(text.texts()),
        claimed: Vec::new(),
        placed: Vec::new(),
        cursor: 0,
        drift: 0,
        applied: Applied { text: Text::empty(), added: 0, removed: 0, level: Level::Exact, offset: 0, already: 0 },
        habit: None,
    };
    for (i, hunk) in hunks.iter().enumerate() {
        run.place(hunk).map_err(|r| r.hunk(i + 1))?;
    }
    let Placing { mut placed, mut applied, .. } = run;
    applied.text = rebuild(text, &mut placed);
    Ok(applied)
}

/// The state of one file's hunks being placed, each after the previous one.
struct Placing<'t, 'a> {
    file: &'t str,
    text: &'t Text<'a>,
    hay: Haystack<'t>,
    /// Line ranges earlier hunks took.
    claimed: Vec<(usize, usize)>,
    placed: Vec<Placed<'a>>,
    /// Where the previous hunk ended.
    cursor: usize,
    /// How far the file's lines sit from where the patch numbers them, as the last hunk found.
    drift: isize,
    applied: Applied<'a>,
    /// How the file indents, found when a hunk first needs it.
    habit: Option<reindent::Habit>,
}

impl<'a> Placing<'_, 'a> {
    fn place(&mut self, hunk: &'a Hunk) -> Result<(), Refusal> {
        let refuse = |reason: String| Refusal::new(self.file, reason);
        if let Some((line, text)) = placeholder::in_hunk(self.file, hunk) {
            let reason = format!(
                "line {line} of the hunk, {:?}, looks like a placeholder for code the patch leaves out: written literally it would delete the lines the hunk removes; resend the hunk with the real lines in its place",
                text.trim()
            );
            return Err(refuse(reason).failed(Failed {
                hunk_line: Some(line),
                expected: Some(text),
                ..Failed::default()
            }));
        }
        let old = hunk.old_lines();
        let new = hunk.new_lines();
        // Without context the line number is where to insert, not where the first line is.
        let named = hunk.old_start.map(|s| if old.is_empty() { s } else { s.saturating_sub(1) });
        let (gone_before, gone_after) = gone(hunk);
        let (lead, trail) = context_ends(hunk);
        // GNU patch's reading of uneven context: less after than before ends at the end of
        // the file; less before than after starts at the top. Only numbered hunks mean it.
        let numbered = hunk.old_start.is_some();
        let mut at = Where {
            hint: named.map(|h| (h as isize + self.drift).max(0) as usize),
            cursor: self.cursor,
            at_eof: hunk.at_eof,
            claimed: &self.claimed,
            newline_differs: match (hunk.old_no_newline, hunk.new_no_newline) {
                (_, true) => self.text.final_newline(),
                (true, false) => !self.text.final_newline(),
                _ => false,
            },
            already: Already {
                at_start: numbered && lead < trail,
                at_end: numbered && trail < lead,
                gone_before: &gone_before,
                gone_after: &gone_after,
            },
        };
        follow_anchors(&mut self.hay, hunk, &old, &new, &mut at).map_err(refuse)?;
        let found = if old.is_empty() {
            insertion(&mut self.hay, &new, &at, !hunk.anchors.is_empty()).map_err(refuse)?
        } else if new.is_empty() && self.hay.is_empty() {
            // A hunk that empties the file, on an empty file.
            Found { start: 0, len: 0, level: Level::Exact, already: true }
        } else {
            // A hunk whose old lines all survive in its new ones only adds (SEARCH/REPLACE
            // blocks say so by repeating the lines): look for it as already applied first.
            let removes = !is_subsequence(&old, &new);
            locate(&mut self.hay, &old, &new, removes, &at)
                .map_err(|miss| missed(self.file, &mut self.hay, hunk, &old, &at, miss))?
        };
        let reindented = if found.already {
            None
        } else if found.level >= Level::Whitespace {
            reindent::added_lines(self.file, hunk, &self.text.lines[found.start..], &self.text.lines, &mut self.habit)
                .map_err(refuse)?
        } else {
            reindent::check_unanchored(self.file, hunk, &mut self.habit, &self.text.lines).map_err(refuse)?;
            None
        };
        self.record(hunk, named, found, reindented, old.len(), new.len());
        Ok(())
    }

    /// Note where a hunk went: the cursor, the claim, the drift, the counts.
    fn record(
        &mut self,
        hunk: &'a Hunk,
        named: Option<usize>,
        found: Found,
        reindented: Option<Vec<String>>,
        old: usize,
        new: usize,
    ) {
        let applied = &mut self.applied;
        if let Some(named) = named {
            let off = found.start as isize - named as isize;
            // Found applied, the lines after it have moved by what it adds.
            self.drift = if found.already { off + new as isize - old as isize } else { off };
            if off.abs() > applied.offset.abs() {
                applied.offset = off;
            }
        }
        self.cursor = found.start + found.len;
        self.claimed.push((found.start, found.start + found.len));
        if found.already {
            applied.already += 1;
        } else {
            let (a, r) = hunk.counts();
            applied.added += a;
            applied.removed += r;
            applied.level = applied.level.max(found.level);
        }
        self.placed.push(Placed { hunk, found, reindented });
    }
}

/// Removed lines the hunk does not put back (by their text), not blank, that stand before the
/// first line its two sides share and after the last (context lines; in a block, the lines the
/// replacement repeats): were the hunk not applied, they would stand there beside its new side.
/// Removed lines between shared ones need no such check: the new side found whole rules them out.
fn gone(hunk: &Hunk) -> (Vec<&str>, Vec<&str>) {
    let added: Vec<&str> = hunk.lines().filter(|(k, _)| *k == Line::Add).map(|(_, t)| t.trim()).collect();
    let old: Vec<(Line, &str)> = hunk.lines().filter(|(k, _)| *k != Line::Add).collect();
    let shared: Vec<usize> = match block_pairs(hunk) {
        Some(pairs) => pairs.into_iter().map(|(i, _)| i).collect(),
        None => (0..old.len()).filter(|&i| old[i].0 == Line::Context).collect(),
    };
    let (first, last) = (shared.first().copied().unwrap_or(old.len()), shared.last().copied());
    let gone = |range: std::ops::Range<usize>| -> Vec<&str> {
        old[range]
            .iter()
            .filter(|&&(k, t)| k == Line::Remove && !t.trim().is_empty() && !added.contains(&t.trim()))
            .map(|&(_, t)| t)
            .collect()
    };
    (gone(0..first), gone(last.map_or(0, |l| l + 1)..old.len()))
}

/// Context lines before the first change and after the last.
fn context_ends(hunk: &Hunk) -> (usize, usize) {
    let kinds: Vec<Line> = hunk.lines().map(|(k, _)| k).collect();
    let lead = kinds.iter().take_while(|&&k| k == Line::Context).count();
    let trail = if lead == kinds.len() { 0 } else { kinds.iter().rev().take_while(|&&k| k == Line::Context).count() };
    (lead, trail)
}

/// Follow a hunk's Codex anchors in order, each found at or after the cursor (one the previous
/// chunk already went past stays passed). An anchor that
/// occurs more than once is chosen by what follows it (the next anchors, the hunk's own lines,
/// each before the anchor's next occurrence); when that does not single one out, it is refused.
fn follow_anchors(hay: &mut Haystack, hunk: &Hunk, old: &[&str], new: &[&str], at: &mut Where) -> Result<(), String> {
    let anchors = &hunk.anchors;
    for (k, anchor) in anchors.iter().enumerate() {
        let seen = find_anchor(hay, anchor, at.cursor);
        let line = match seen[..] {
            // Already passed: an earlier chunk went past it (two chunks in one function, each
            // naming it); the chunk's lines are still looked for from there on.
            [] if at.cursor > 0 && !find_anchor(hay, anchor, 0).is_empty() => continue,
            [] => return Err(format!("its anchor `@@ {anchor}` is not in the file after line {}", at.cursor)),
            [one] => one,
            _ => {
                let fits: Vec<usize> = (0..seen.len())
                    .filter(|&j| {
                        let end = seen.get(j + 1).copied().unwrap_or(hay.len());
                        fits_after(hay, &anchors[k + 1..], old, new, after_anchor(seen[j], anchor, old), end)
                    })
                    .map(|j| seen[j])
                    .collect();
                match fits[..] {
                    [one] => one,
                    // Found after none of them: the search below says what is missing.
                    [] => seen[0],
                    _ => {
                        let lines: Vec<String> = fits.iter().map(|l| (l + 1).to_string()).collect();
                        return Err(format!(
                            "its anchor `@@ {anchor}` occurs {} times (lines {}) and the hunk's lines fit after each; add an outer `@@` anchor or more context lines to say which",
                            fits.len(),
                            lines.join(", ")
                        ));
                    }
                }
            }
        };
        let next = after_anchor(line, anchor, old);
        at.cursor = next;
        at.hint = Some(next);
    }
    Ok(())
}

/// Where a hunk's lines start after its anchor: on the anchor itself when the hunk repeats it
/// as its first context line (models often do), else on the next line.
fn after_anchor(line: usize, anchor: &str, old: &[&str]) -> usize {
    let repeated = old.first().is_some_and(|first| first.trim() == anchor.trim());
    if repeated { line } else { line + 1 }
}

/// Whether the rest of the anchors and then the hunk's lines (old side or new) are found
/// from `from`, starting before `end`.
fn fits_after(hay: &mut Haystack, anchors: &[String], old: &[&str], new: &[&str], mut from: usize, end: usize) -> bool {
    for anchor in anchors {
        match find_anchor(hay, anchor, from).into_iter().find(|&l| l < end) {
            Some(l) => from = after_anchor(l, anchor, old),
            None => return false,
        }
    }
    if old.is_empty() {
        return true;
    }
    [old, new]
        .iter()
        .filter(|side| !side.is_empty())
        .any(|side| hay.find_all(side, Level::Punctuation).into_iter().any(|p| p >= from && p < end))
}

/// A hunk with no old lines has nothing in the file to confirm where it goes: it is placed only
/// in an empty file, after its anchor, or at the end (`*** End of File`, an empty SEARCH). It is
/// already applied when its lines are there; a file that is exactly its lines is a creation run
/// again.
fn insertion(hay: &mut Haystack, new: &[&str], at: &Where, anchored: bool) -> Result<Found, String> {
    let len = hay.len();
    let already = |start: usize| Found { start, len: new.len(), level: Level::Exact, already: true };
    let at_end = at.at_eof || (!anchored && hay.is_empty());
    if !anchored && !at_end {
        if at.hint.is_some_and(|h| h <= 1) && len == new.len() && hay.matches_at(new, 0, Level::TrailingSpace) {
            return Ok(already(0));
        }
        return Err(match at.hint {
            Some(h) if h > len => format!(
                "it has no context lines and its line number {h} is past the end of the file ({len} lines); resend it with the lines around the change as context"
            ),
            Some(_) => "it has no context lines or removed lines, so nothing in the file confirms where its lines go (a line number alone is not enough); resend it with a few unchanged lines around the change as context".to_string(),
            None => "it has no context lines and no line number, so nothing says where its lines go; resend it with a few unchanged lines around the change as context".to_string(),
        });
    }
    // In an empty file only the first line is a place (`-0,0` and `-1,0` both mean it).
    if hay.is_empty() && at.hint.is_some_and(|h| h > 1) && !anchored {
        return Err(format!("its line number {} is past the end of the file, which is empty", at.hint.unwrap_or(0)));
    }
    let pos = match at.hint {
        Some(h) if !at.at_eof => h.min(len),
        _ => len,
    };
    let check = if at.hint.is_some() && !at.at_eof { pos } else { pos.saturating_sub(new.len()) };
    if !new.is_empty() && hay.matches_at(new, check, Level::TrailingSpace) {
        return Ok(already(check));
    }
    Ok(Found { start: pos, len: 0, level: Level::Exact, already: false })
}

/// Why a hunk was not found, naming the line of the hunk that failed (context or removed),
/// what it has and what the file holds there, and the closest lines.
fn missed(file: &str, hay: &mut Haystack, hunk: &Hunk, old: &[&str], at: &Where, miss: Miss) -> Refusal {
    match miss {
        Miss::NotFound => {
            let closest = hay.closest(old, at.hint);
            let differs = closest.as_ref().and_then(|c| c.differs.clone());
            // The failing old line's place among the hunk's lines, and whether it is context.
            let position = |i: usize| {
                hunk.lines().enumerate().filter(|(_, (k, _))| *k != Line::Add).nth(i).map(|(n, (k, _))| (n + 1, k))
            };
            let kind = differs.as_ref().and_then(|(i, _, _)| position(*i)).map(|(_, k)| k);
            let removes = hunk.lines().any(|(k, _)| k == Line::Remove);
            let what = match kind {
                Some(Line::Context) => "its context lines",
                Some(_) => "the lines it removes",
                None if removes => "the lines it removes",
                None => "its context lines",
            };
            let mut r = Refusal::new(
                file,
                format!(
                    "{what} are not in the file as the patch says (the file changed under the hunk, or the patch is for another file)"
                ),
            );
            if let Some((i, line, found)) = differs {
                let (n, k) = position(i).unwrap_or((i + 1, Line::Context));
                let role = if k == Line::Context { "a context line" } else { "a removed line" };
                r.reason.push_str(&format!(
                    "; nearest match: line {line} reads {found:?} where the hunk has {:?} (line {n} of the hunk, {role})",
                    old[i]
                ));
                r = r.failed(Failed {
                    line: Some(line),
                    hunk_line: Some(n),
                    expected: Some(old[i].to_string()),
                    found: Some(found),
                });
            }
            r.closest = closest.map(|c| c.lines).unwrap_or_default();
            r
        }
        Miss::Ambiguous(starts) => {
            let lines: Vec<String> = starts.iter().map(|s| (s + 1).to_string()).collect();
            Refusal::new(
                file,
                format!(
                    "its lines match in {} places (lines {}) and nothing chooses between them (a line number picks one only when it points at it, or within 3 lines of it and of no other); add context lines unique to the place",
                    starts.len(),
                    lines.join(", ")
                ),
            )
        }
        Miss::Misplaced(q) => {
            let ((lead, trail), new_len) = (context_ends(hunk), hunk.new_lines().len());
            let why = if at.already.at_end && q + new_len != hay.len() {
                format!(
                    "with {lead} lines of context before its change and {trail} after, it belongs at the end of the file, as GNU patch reads it"
                )
            } else if at.already.at_start && q != 0 {
                format!(
                    "with {lead} lines of context before its change and {trail} after, it belongs at the top of the file, as GNU patch reads it"
                )
            } else {
                "the lines it removes are still there beside them".to_string()
            };
            Refusal::new(
                file,
                format!(
                    "its old lines are not in the file, and its new lines, found at line {}, are not the hunk applied: {why}; resend the hunk against the file as it is now",
                    q + 1
                ),
            )
            .failed(Failed { line: Some(q + 1), ..Failed::default() })
        }
    }
}

/// Every line at or after `from` that reads like the anchor, at the strictest level that finds
/// one.
fn find_anchor(hay: &mut Haystack, anchor: &str, from: usize) -> Vec<usize> {
    Level::ALL
        .into_iter()
        .map(|level| hay.find_all(&[anchor], level).into_iter().filter(|&p| p >= from).collect::<Vec<_>>())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

fn rebuild<'a>(text: &Text<'a>, placed: &mut [Placed<'a>]) -> Text<'a> {
    // An insertion where another hunk starts goes before it, as its line number says.
    placed.sort_by_key(|p| (p.found.start, p.found.len > 0));
    let added: usize = placed.iter().map(|p| p.hunk.counts().0 as usize).sum();
    let mut lines: Vec<TextLine<'a>> = Vec::with_capacity(text.lines.len() + added);
    let mut final_newline = text.final_newline();
    let mut pos = 0;
    for p in placed.iter_mut().filter(|p| !p.found.already) {
        lines.extend_from_slice(&text.lines[pos..p.found.start]);
        let mut at = p.found.start;
        let mut reindented = p.reindented.take().map(Vec::into_iter);
        let block = block_pairs(p.hunk);
        if let Some(kept) = &block {
            // A block's lines the replacement repeats are the file's, as context lines are.
            let old = p.hunk.old_lines().len();
            let mut adds = p.hunk.lines().filter(|(k, _)| *k == Line::Add).map(|(_, t)| t);
            let mut j = 0;
            for &(ki, kj) in kept.iter().chain(std::iter::once(&(old, usize::MAX))) {
                while j < kj {
                    let Some(t) = adds.next() else { break };
                    let t = match reindented.as_mut().and_then(Iterator::next) {
                        Some(owned) => Cow::Owned(owned),
                        None => Cow::Borrowed(t),
                    };
                    lines.push(text.line(t));
                    j += 1;
                }
                if ki < old {
                    lines.push(text.lines[at + ki].clone());
                    reindented.as_mut().and_then(Iterator::next);
                    adds.next();
                    j += 1;
                }
            }
            at += old;
        }
        for (kind, t) in p.hunk.lines().filter(|_| block.is_none()) {
            match kind {
                Line::Context => {
                    lines.push(text.lines[at].clone());
                    at += 1;
                }
                Line::Remove => at += 1,
                Line::Add => {
                    let t = match reindented.as_mut().and_then(Iterator::next) {
                        Some(owned) => Cow::Owned(owned),
                        None => Cow::Borrowed(t),
                    };
                    lines.push(text.line(t));
                }
            }
        }
        if at == text.lines.len() {
            if p.hunk.new_no_newline {
                final_newline = false;
            } else if p.hunk.old_no_newline {
                final_newline = true;
            }
        }
        pos = at;
    }
    lines.extend_from_slice(&text.lines[pos..]);
    let mut out = Text { bom: text.bom, lines, eol: text.eol };
    out.set_final_newline(final_newline);
    out
}

/// For a hunk written as a block (its removed lines, then its added lines, no context: a
/// SEARCH/REPLACE block), the pairs (old index, new index) of a longest run of lines the added
/// side repeats exactly, in order; `None` when it is not a block, repeats none, or is too big
/// to pair cheaply.
fn block_pairs(hunk: &Hunk) -> Option<Vec<(usize, usize)>> {
    let kinds: Vec<Line> = hunk.lines().map(|(k, _)| k).collect();
    let removed = kinds.iter().take_while(|&&k| k == Line::Remove).count();
    if removed == 0 || kinds[removed..].iter().any(|&k| k != Line::Add) {
        return None;
    }
    let (old, new) = (hunk.old_lines(), hunk.new_lines());
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > 1 << 20 {
        return None;
    }
    // Longest common subsequence, from the ends.
    let mut len = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i][j] = if old[i] == new[j] { len[i + 1][j + 1] + 1 } else { len[i + 1][j].max(len[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < n && j < m {
        if old[i] == new[j] {
            pairs.push((i, j));
            (i, j) = (i + 1, j + 1);
        } else if len[i + 1][j] >= len[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    (!pairs.is_empty()).then_some(pairs)
}

fn is_subsequence(short: &[&str], long: &[&str]) -> bool {
    let mut long = long.iter();
    short.iter().all(|s| long.any(|l| l == s))
}
