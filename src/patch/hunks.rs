//! Applying one file's hunks to its text: every hunk is located in the original lines first
//! (in order, each after the previous one where that is unambiguous), then the new text is built
//! in one pass, keeping the file's own line endings, BOM and final newline.

use std::borrow::Cow;

use crate::patch::matcher::{Found, Haystack, Level, Miss, Where, locate};
use crate::patch::model::{Hunk, Line};
use crate::patch::refusal::Refusal;
use crate::patch::text::{Text, TextLine};

/// The patched text and how it was matched.
#[derive(Debug, Clone)]
pub struct Applied<'a> {
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
    pub fn matched(&self, hunks: usize) -> String {
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
}

/// The result borrows the file's unchanged lines from `text` and its added lines from `hunks`.
pub fn apply<'a>(file: &str, text: &Text<'a>, hunks: &'a [Hunk]) -> Result<Applied<'a>, Refusal> {
    let mut hay = Haystack::new(text.texts());
    let mut claimed: Vec<(usize, usize)> = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    let (mut cursor, mut drift) = (0usize, 0isize);
    let mut applied = Applied { text: Text::empty(), added: 0, removed: 0, level: Level::Exact, offset: 0, already: 0 };
    for (i, hunk) in hunks.iter().enumerate() {
        let refuse = |reason: String| Refusal::new(file, reason).hunk(i + 1);
        let old = hunk.old_lines();
        let new = hunk.new_lines();
        // Without context the line number is where to insert, not where the first line is.
        let named = hunk.old_start.map(|s| if old.is_empty() { s } else { s.saturating_sub(1) });
        let mut at = Where {
            hint: named.map(|h| (h as isize + drift).max(0) as usize),
            cursor,
            at_eof: hunk.at_eof,
            claimed: &claimed,
            newline_differs: match (hunk.old_no_newline, hunk.new_no_newline) {
                (_, true) => text.final_newline(),
                (true, false) => !text.final_newline(),
                _ => false,
            },
        };
        for anchor in &hunk.anchors {
            let Some(line) = find_anchor(&mut hay, anchor, at.cursor) else {
                return Err(refuse(format!("its anchor `@@ {anchor}` is not in the file after line {}", at.cursor)));
            };
            // Models often repeat the anchor as the chunk's first context line.
            let repeated = old.first().is_some_and(|first| first.trim() == anchor.trim());
            let next = if repeated { line } else { line + 1 };
            at.cursor = next;
            at.hint = Some(next);
        }
        let found = if old.is_empty() {
            if at.hint.is_none() && !at.at_eof && !hay.is_empty() {
                return Err(refuse(
                    "it has no context lines and no line number, so nothing says where its lines go".to_string(),
                ));
            }
            let found = insertion(&mut hay, &new, &at);
            if let Some(n) = claimed.iter().position(|&(s, e)| s < found.start && found.start < e) {
                return Err(refuse(format!("its line number falls inside hunk {}", n + 1)));
            }
            found
        } else if new.is_empty() && hay.is_empty() {
            // A hunk that empties the file, on an empty file.
            Found { start: 0, len: 0, level: Level::Exact, already: true }
        } else {
            // A hunk whose old lines all survive in its new ones only adds (SEARCH/REPLACE
            // blocks say so by repeating the lines): look for it as already applied first.
            let removes = !is_subsequence(&old, &new);
            locate(&mut hay, &old, &new, removes, &at).map_err(|miss| match miss {
                Miss::NotFound => {
                    let what = if removes { "the lines it removes" } else { "its context lines" };
                    let mut r = refuse(format!(
                        "{what} are not in the file as the patch says (the file changed under the hunk, or the patch is for another file)"
                    ));
                    if let Some(closest) = hay.closest(&old, at.hint) {
                        if let Some((i, line, text)) = &closest.differs {
                            r.reason.push_str(&format!(
                                "; nearest match: line {line} reads {text:?} where the hunk has {:?}",
                                old[*i]
                            ));
                        }
                        r.closest = closest.lines;
                    }
                    r
                }
                Miss::Ambiguous(starts) => {
                    let lines: Vec<String> = starts.iter().map(|s| (s + 1).to_string()).collect();
                    refuse(format!(
                        "its lines match in {} places (lines {}) and nothing chooses between them; add context lines or line numbers",
                        starts.len(),
                        lines.join(", ")
                    ))
                }
            })?
        };
        if let Some(named) = named {
            let off = found.start as isize - named as isize;
            // Found applied, the lines after it have moved by what it adds.
            drift = if found.already { off + new.len() as isize - old.len() as isize } else { off };
            if off.abs() > applied.offset.abs() {
                applied.offset = off;
            }
        }
        cursor = found.start + found.len;
        claimed.push((found.start, found.start + found.len));
        if found.already {
            applied.already += 1;
        } else {
            let (a, r) = hunk.counts();
            applied.added += a;
            applied.removed += r;
            applied.level = applied.level.max(found.level);
        }
        placed.push(Placed { hunk, found });
    }
    applied.text = rebuild(text, &mut placed);
    Ok(applied)
}

/// A hunk with no old lines inserts at its line number (or the anchor, or the end of the file);
/// it is already applied when its lines are there.
fn insertion(hay: &mut Haystack, new: &[&str], at: &Where) -> Found {
    let pos = match at.hint {
        Some(h) if !at.at_eof => h.min(hay.len()),
        _ => hay.len(),
    };
    let check = if at.hint.is_some() && !at.at_eof { pos } else { pos.saturating_sub(new.len()) };
    let already = !new.is_empty() && hay.matches_at(new, check, Level::TrailingSpace);
    if already {
        Found { start: check, len: new.len(), level: Level::Exact, already }
    } else {
        Found { start: pos, len: 0, level: Level::Exact, already }
    }
}

/// The first line at or after `from` that reads like the anchor, at the strictest level that
/// finds one.
fn find_anchor(hay: &mut Haystack, anchor: &str, from: usize) -> Option<usize> {
    Level::ALL.into_iter().find_map(|level| hay.find_all(&[anchor], level).into_iter().find(|&p| p >= from))
}

fn rebuild<'a>(text: &Text<'a>, placed: &mut [Placed<'a>]) -> Text<'a> {
    // An insertion where another hunk starts goes before it, as its line number says.
    placed.sort_by_key(|p| (p.found.start, p.found.len > 0));
    let added: usize = placed.iter().map(|p| p.hunk.counts().0 as usize).sum();
    let mut lines: Vec<TextLine<'a>> = Vec::with_capacity(text.lines.len() + added);
    let mut final_newline = text.final_newline();
    let mut pos = 0;
    for p in placed.iter().filter(|p| !p.found.already) {
        lines.extend_from_slice(&text.lines[pos..p.found.start]);
        let mut at = p.found.start;
        let indent =
            if p.found.level >= Level::Whitespace { Reindent::of(p.hunk, &text.lines[at..]) } else { Reindent::None };
        for (kind, t) in p.hunk.lines() {
            match kind {
                Line::Context => {
                    lines.push(text.lines[at].clone());
                    at += 1;
                }
                Line::Remove => at += 1,
                Line::Add => lines.push(text.line(indent.apply(t))),
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

/// When a hunk matched only with its indentation ignored, and the file's lines are all indented
/// by the same extra (or lesser) prefix than the patch's, added lines get the same shift.
#[derive(Debug, PartialEq, Eq)]
enum Reindent {
    None,
    Add(String),
    Strip(String),
}

impl Reindent {
    fn of(hunk: &Hunk, file: &[TextLine]) -> Reindent {
        let mut shift: Option<Reindent> = None;
        for (patch, file) in hunk.old_lines().into_iter().zip(file) {
            if patch.trim().is_empty() || file.text.trim().is_empty() {
                continue;
            }
            let (p, f) = (indent(patch), indent(&file.text));
            let this = if let Some(extra) = f.strip_suffix(p) {
                if extra.is_empty() { Reindent::None } else { Reindent::Add(extra.to_string()) }
            } else if let Some(less) = p.strip_suffix(f) {
                Reindent::Strip(less.to_string())
            } else {
                return Reindent::None;
            };
            match &shift {
                Some(s) if *s != this => return Reindent::None,
                _ => shift = Some(this),
            }
        }
        shift.unwrap_or(Reindent::None)
    }

    fn apply<'l>(&self, line: &'l str) -> Cow<'l, str> {
        match self {
            Reindent::Add(extra) if !line.trim().is_empty() => Cow::Owned(format!("{extra}{line}")),
            Reindent::Strip(less) => Cow::Borrowed(line.strip_prefix(less.as_str()).unwrap_or(line)),
            _ => Cow::Borrowed(line),
        }
    }
}

fn is_subsequence(short: &[&str], long: &[&str]) -> bool {
    let mut long = long.iter();
    short.iter().all(|s| long.any(|l| l == s))
}

fn indent(s: &str) -> &str {
    &s[..s.len() - s.trim_start().len()]
}
