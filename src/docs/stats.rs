//! The numbers gen-docs reports: how many patches succeeded, how long applying took, why the
//! others failed, and who sent them. Integers and ratios rounded to four places, so the same
//! records always print the same digits.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::docs::records::Record;
use crate::patch::summary::outcome_name;
use crate::store::results::Outcome;

/// How many failure reasons the statistics list.
const TOP_REASONS: usize = 10;
/// How much of a reason is kept: reasons quote hunks, and only their first line groups well.
const REASON_CHARS: usize = 160;

#[derive(Debug, Serialize)]
pub(crate) struct Stats {
    /// Patches that have run (have a result).
    pub finished: u64,
    /// Of those, applied or already applied.
    pub succeeded: u64,
    /// Refused, rolled back or failed with an error.
    pub failed: u64,
    /// succeeded / finished, rounded to 4 places; `null` before any patch ran.
    pub success_rate: Option<f64>,
    /// Finished patches by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Time from start to finish of each run, in milliseconds.
    pub apply_ms: Timing,
    pub top_failure_reasons: Vec<Reason>,
    pub by_author: Vec<Author>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Timing {
    pub mean: Option<u64>,
    /// Nearest-rank 95th percentile.
    pub p95: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Reason {
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Author {
    pub author: String,
    pub patches: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub added: u64,
    pub removed: u64,
}

pub(crate) fn succeeded(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Applied | Outcome::AlreadyApplied)
}

/// Lines added and removed over all of a record's files.
pub(crate) fn lines(record: &Record) -> (u64, u64) {
    record.result.as_ref().map_or((0, 0), |r| r.files.iter().fold((0, 0), |(a, d), f| (a + f.added, d + f.removed)))
}

pub(crate) fn compute(records: &[Record]) -> Stats {
    let mut outcomes = BTreeMap::new();
    let mut durations = Vec::new();
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let mut authors: HashMap<&str, Author> = HashMap::new();
    let (mut finished, mut ok) = (0u64, 0u64);
    for record in records {
        let author = authors.entry(record.author().unwrap_or("(unknown)")).or_default();
        author.patches += 1;
        let Some(result) = &record.result else { continue };
        finished += 1;
        *outcomes.entry(outcome_name(result.outcome)).or_insert(0) += 1;
        durations.push(result.duration_ms);
        let (added, removed) = lines(record);
        author.added += added;
        author.removed += removed;
        if succeeded(result.outcome) {
            ok += 1;
            author.succeeded += 1;
        } else {
            author.failed += 1;
            let reason = result.reason.as_deref().map(|r| first_line(r, REASON_CHARS));
            *reasons.entry(reason.unwrap_or_else(|| outcome_name(result.outcome))).or_insert(0) += 1;
        }
    }
    let mut top: Vec<Reason> = reasons.into_iter().map(|(reason, count)| Reason { reason, count }).collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    top.truncate(TOP_REASONS);
    let mut by_author: Vec<Author> =
        authors.into_iter().map(|(name, a)| Author { author: name.to_string(), ..a }).collect();
    by_author.sort_by(|a, b| b.patches.cmp(&a.patches).then_with(|| a.author.cmp(&b.author)));
    Stats {
        finished,
        succeeded: ok,
        failed: finished - ok,
        success_rate: (finished > 0).then(|| round4(ok as f64 / finished as f64)),
        outcomes,
        apply_ms: timing(durations),
        top_failure_reasons: top,
        by_author,
    }
}

fn timing(mut ms: Vec<u64>) -> Timing {
    if ms.is_empty() {
        return Timing { mean: None, p95: None, max: None };
    }
    ms.sort_unstable();
    let n = ms.len() as u64;
    let sum: u128 = ms.iter().map(|&d| d as u128).sum();
    // Nearest rank: the smallest value with at least 95% of the values at or below it.
    let rank = (95 * n).div_ceil(100).max(1) as usize;
    Timing { mean: Some(((sum + n as u128 / 2) / n as u128) as u64), p95: Some(ms[rank - 1]), max: ms.last().copied() }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_p95_and_rounded_mean() {
        let t = timing((1..=100).collect());
        assert_eq!((t.mean, t.p95, t.max), (Some(51), Some(95), Some(100)));
        let t = timing(vec![7]);
        assert_eq!((t.mean, t.p95, t.max), (Some(7), Some(7), Some(7)));
        let t = timing(vec![1, 2]);
        assert_eq!((t.mean, t.p95), (Some(2), Some(2)));
        assert!(timing(Vec::new()).p95.is_none());
    }

    #[test]
    fn reasons_keep_their_first_line() {
        assert_eq!(first_line("\nhunk 2 did not match\n  closest: x", 100), "hunk 2 did not match");
        assert_eq!(first_line("ééé", 2), "éé…");
        assert_eq!(round4(2.0 / 3.0), 0.6667);
    }
}
