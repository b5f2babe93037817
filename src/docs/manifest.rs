//! `<env>/patch-manifest.json`, schema 1 (documented in the README): every patch, counts by
//! state, a changelog by day and the statistics. Small sections are pretty-printed; each patch
//! and each changelog entry is one compact line, which keeps a 100,000-patch manifest small,
//! fast to write and readable in a diff.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::docs::records::Record;
use crate::docs::stats::{self, Stats};
use crate::patch::summary::outcome_name;
use crate::store::queue::State;
use crate::store::results::Outcome;
use crate::time::rfc3339;

pub(crate) const FILE: &str = "patch-manifest.json";
pub(crate) const SCHEMA: u32 = 1;

/// One patch, with every key present (`null` when unknown), so readers need no guessing.
#[derive(Debug, Serialize)]
pub(crate) struct Patch<'a> {
    pub id: &'a str,
    pub state: State,
    pub outcome: Option<String>,
    pub description: Option<&'a str>,
    pub author: Option<&'a str>,
    pub format: Option<&'a str>,
    pub received_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When its change reached the tree: `finished_at` of a patch whose outcome is `applied`.
    pub applied_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub added: u64,
    pub removed: u64,
    pub files: Vec<File<'a>>,
    pub reason: Option<&'a str>,
    /// When `runner revert` put the files back, and who asked.
    pub reverted_at: Option<String>,
    pub reverted_by: Option<&'a str>,
    /// The git commits of the patch and of its revert (`git = "commit"` environments).
    pub commit: Option<&'a str>,
    pub revert_commit: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct File<'a> {
    pub path: &'a str,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub added: u64,
    pub removed: u64,
    pub matched: Option<&'a str>,
}

/// One line of the changelog: a patch whose change reached the tree that day.
#[derive(Debug, Serialize)]
pub(crate) struct Change<'a> {
    pub id: &'a str,
    pub applied_at: String,
    pub description: Option<&'a str>,
    pub author: Option<&'a str>,
    pub files: usize,
    pub added: u64,
    pub removed: u64,
    pub reverted_at: Option<String>,
}

pub(crate) fn patch(record: &Record) -> Patch<'_> {
    let r = record.result.as_ref();
    let (added, removed) = stats::lines(record);
    Patch {
        id: &record.id,
        state: record.state,
        outcome: r.map(|r| outcome_name(r.outcome)),
        description: record.description(),
        author: record.author(),
        format: r.map(|r| r.format.as_str()),
        received_at: record.received_at().map(|t| rfc3339::format(&t)),
        started_at: r.map(|r| rfc3339::format(&r.started_at)),
        finished_at: r.map(|r| rfc3339::format(&r.finished_at)),
        applied_at: applied_at(record),
        duration_ms: r.map(|r| r.duration_ms),
        added,
        removed,
        files: r.map_or_else(Vec::new, |r| {
            r.files
                .iter()
                .map(|f| File {
                    path: &f.path,
                    action: &f.action,
                    from: f.from.as_deref(),
                    added: f.added,
                    removed: f.removed,
                    matched: f.matched.as_deref(),
                })
                .collect()
        }),
        reason: r.and_then(|r| r.reason.as_deref()),
        reverted_at: r.and_then(|r| r.reverted_at.as_ref()).map(rfc3339::format),
        reverted_by: r.and_then(|r| r.reverted_by.as_deref()),
        commit: r.and_then(|r| r.commit.as_deref()),
        revert_commit: r.and_then(|r| r.revert_commit.as_deref()),
    }
}

fn applied_at(record: &Record) -> Option<String> {
    record.result.as_ref().filter(|r| r.outcome == Outcome::Applied).map(|r| rfc3339::format(&r.finished_at))
}

/// The patches whose change reached the tree, by UTC day, newest day first, newest first within it.
pub(crate) fn changelog(records: &[Record]) -> Vec<(String, Vec<Change<'_>>)> {
    let mut applied: Vec<&Record> =
        records.iter().filter(|r| r.result.as_ref().is_some_and(|r| r.outcome == Outcome::Applied)).collect();
    applied.sort_by(|a, b| {
        let (ta, tb) = (a.result.as_ref().map(|r| r.finished_at), b.result.as_ref().map(|r| r.finished_at));
        tb.cmp(&ta).then_with(|| a.id.cmp(&b.id))
    });
    let mut days: Vec<(String, Vec<Change>)> = Vec::new();
    for record in applied {
        let result = record.result.as_ref().expect("filtered to records with results");
        let day = result.finished_at.format("%Y-%m-%d").to_string();
        let (added, removed) = stats::lines(record);
        let change = Change {
            id: &record.id,
            applied_at: rfc3339::format(&result.finished_at),
            description: record.description(),
            author: record.author(),
            files: result.files.len(),
            added,
            removed,
            reverted_at: result.reverted_at.as_ref().map(rfc3339::format),
        };
        match days.last_mut() {
            Some((d, changes)) if *d == day => changes.push(change),
            _ => days.push((day, vec![change])),
        }
    }
    days
}

/// Patches by state, every state present, and the total.
pub(crate) fn counts(records: &[Record]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in records {
        *counts.entry(r.state.as_str()).or_insert(0) += 1;
    }
    counts.insert("total", records.len());
    counts
}

/// The manifest's bytes.
pub(crate) fn render(env: &str, records: &[Record], stats: &Stats) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(records.len() * 512 + 4096);
    out.extend_from_slice(b"{\n");
    field(&mut out, "schema", &SCHEMA)?;
    field(&mut out, "env", &env)?;
    field(&mut out, "counts", &counts(records))?;
    field(&mut out, "stats", stats)?;
    out.extend_from_slice(b"  \"changelog\": [");
    let days = changelog(records);
    for (i, (day, changes)) in days.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(format!("    {{\n      \"date\": \"{day}\",\n      \"patches\": [").as_bytes());
        lines(&mut out, 8, changes)?;
        out.extend_from_slice(b"]\n    }");
    }
    out.extend_from_slice(if days.is_empty() { b"],\n" } else { b"\n  ],\n" });
    out.extend_from_slice(b"  \"patches\": [");
    // One patch at a time: collecting 100,000 of them first would only cost memory.
    lines(&mut out, 4, records.iter().map(patch))?;
    out.extend_from_slice(b"]\n}\n");
    Ok(out)
}

/// `  "key": <value pretty-printed at depth 1>,` on its own lines.
fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) -> Result<()> {
    let pretty = serde_json::to_string_pretty(value)?;
    out.extend_from_slice(format!("  \"{key}\": ").as_bytes());
    out.extend_from_slice(pretty.replace('\n', "\n  ").as_bytes());
    out.extend_from_slice(b",\n");
    Ok(())
}

/// The items of an array, one compact item a line at `indent`, closing bracket's line included.
fn lines<T: Serialize>(out: &mut Vec<u8>, indent: usize, items: impl IntoIterator<Item = T>) -> Result<()> {
    let mut any = false;
    for item in items {
        out.extend_from_slice(if any { b",\n" } else { b"\n" });
        out.extend(std::iter::repeat_n(b' ', indent));
        serde_json::to_writer(&mut *out, &item)?;
        any = true;
    }
    if any {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', indent - 2));
    }
    Ok(())
}
