//! `parse`: bytes in, a [`Patch`] out. The format is detected from the content unless forced.

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::patch::format::{codex, envelope, legacy, search_replace, unified};
use crate::patch::model::{Edit, FileDiff, Format, Hunk, Meta, Patch};
use crate::patch::refusal::Refusal;

/// A patch refused as it is read (cut off, headers that contradict each other): the answer is
/// no (exit 1), as for a hunk that does not match, not an error in how runner was called.
#[derive(Debug)]
pub(crate) struct Refused {
    pub format: Format,
    pub refusal: Refusal,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.refusal.fmt(f)
    }
}

impl std::error::Error for Refused {}

pub fn parse(input: &[u8], forced: Option<Format>, strip: Option<usize>) -> Result<Patch> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|e| anyhow!("the patch is not UTF-8 text ({e})"))?;
    if text.trim().is_empty() {
        bail!("the patch is empty");
    }
    let json = || serde_json::from_str::<Value>(text).context("the patch is not valid JSON");
    let format = match forced {
        Some(format) => format,
        None if text.trim_start().starts_with('{') => {
            if legacy::is_legacy(&json()?) {
                Format::Legacy
            } else {
                Format::Json
            }
        }
        None => detect_text(text),
    };
    let read = || -> Result<(Meta, Vec<Edit>)> {
        Ok(match format {
            Format::Json => {
                let value = json()?;
                let obj = envelope::Obj::new(&value, "")?;
                (envelope::meta(&obj)?, envelope::edits(&obj, |t| parse_text(t, detect_text(t), strip))?)
            }
            Format::Legacy => legacy::parse(&json()?)?,
            other => (Meta::default(), parse_text(text, other, strip)?),
        })
    };
    let (meta, mut edits) = read().map_err(|e| match e.downcast_ref::<Refusal>() {
        Some(refusal) => anyhow::Error::new(Refused { format, refusal: refusal.clone() }),
        None => e,
    })?;
    let notes = drop_repeats(&mut edits);
    Ok(Patch { meta, format, edits, notes })
}

/// Models repeat themselves. A diff edit equal to an earlier one, and a hunk (or block) equal to
/// an earlier hunk for the same file (same lines, same line number or none, same anchors), are
/// dropped, so each is applied once; an edit left with nothing to do goes too. Returns a note
/// per file that had repeats. Equal hunks without line numbers cannot mean two places either:
/// the first of them would match in both and be refused as ambiguous. Candidates are found by a
/// key that costs no pass over the text (paths, line number, line counts); only hunks that share
/// one are compared in full.
fn drop_repeats(edits: &mut Vec<Edit>) -> Vec<String> {
    type Key<'e> = (Option<&'e str>, Option<&'e str>, Option<usize>, usize, (u64, u64));
    let mut hunks: HashMap<Key, Vec<&Hunk>> = HashMap::new();
    let mut whole: HashMap<(Option<&str>, Option<&str>), Vec<&FileDiff>> = HashMap::new();
    // (edit, hunk): `None` drops the whole edit.
    let mut repeats: Vec<(usize, Option<usize>)> = Vec::new();
    for (e, edit) in edits.iter().enumerate() {
        let Edit::Diff(d) = edit else { continue };
        let paths = (d.old_path.as_deref(), d.new_path.as_deref());
        // A creation, deletion or move is repeated only as a whole.
        if d.rename || paths.0.is_none() || paths.1.is_none() {
            let earlier = whole.entry(paths).or_default();
            if earlier.contains(&d) {
                repeats.push((e, None));
            } else {
                earlier.push(d);
            }
            continue;
        }
        for (h, hunk) in d.hunks.iter().enumerate() {
            let earlier = hunks.entry((paths.0, paths.1, hunk.old_start, hunk.len(), hunk.counts())).or_default();
            if earlier.contains(&hunk) {
                repeats.push((e, Some(h)));
            } else {
                earlier.push(hunk);
            }
        }
    }
    if repeats.is_empty() {
        return Vec::new();
    }
    let mut notes: Vec<String> = Vec::new();
    for &(e, h) in repeats.iter().rev() {
        let Edit::Diff(d) = &mut edits[e] else { continue };
        let file = d.new_path.clone().or_else(|| d.old_path.clone()).unwrap_or_default();
        match h {
            Some(h) => {
                d.hunks.remove(h);
            }
            None => d.hunks.clear(),
        }
        let note = format!("{file}: a hunk given twice was applied once");
        if !notes.contains(&note) {
            notes.insert(0, note);
        }
        if h.is_none() || (d.hunks.is_empty() && d.new_mode.is_none()) {
            edits.remove(e);
        }
    }
    notes
}

/// Which text format this is: a Codex envelope or SEARCH/REPLACE blocks by their marker lines,
/// else a unified diff. Each marker's text is looked for in the whole text first (a SIMD scan),
/// so a large diff is not split into lines twice for markers it does not hold.
fn detect_text(text: &str) -> Format {
    let holds = |marker: &str| memchr::memmem::find(text.as_bytes(), marker.as_bytes()).is_some();
    if holds(codex::BEGIN) && codex::detect(text) {
        Format::Codex
    } else if search_replace::detect(text) {
        Format::SearchReplace
    } else {
        Format::Unified
    }
}

fn parse_text(text: &str, format: Format, strip: Option<usize>) -> Result<Vec<Edit>> {
    match format {
        Format::Unified => unified::parse(text, strip),
        Format::Codex => codex::parse(text),
        Format::SearchReplace => search_replace::parse(text),
        Format::Json | Format::Legacy => bail!("a {format} patch cannot be nested in a JSON envelope's `patch` text"),
    }
}
