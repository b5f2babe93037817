//! `summaries/<id>.md`: what happened to a patch, in words the model and the operator read back
//! (through `GET /patches/{id}`, Slack or the file itself): outcome, reason, files with their
//! added and removed lines and how they were matched, and the tail of each check's output.

use std::fmt::Write;

use crate::store::results::{Outcome, PatchResult};
use crate::time::rfc3339;

/// Lines of each check's output the summary shows (the result file keeps up to output_limit).
const OUTPUT_TAIL_LINES: usize = 40;

pub(crate) fn render(r: &PatchResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Patch {}: {}\n", r.id, outcome_words(r.outcome));
    if let Some(d) = &r.description {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(out, "- env: {}", r.env);
    let _ = writeln!(out, "- outcome: {}", outcome_name(r.outcome));
    let _ = writeln!(out, "- format: {}", r.format);
    if let Some(a) = &r.author {
        let _ = writeln!(out, "- author: {a}");
    }
    let _ = writeln!(out, "- finished: {} ({} ms)", rfc3339::format(&r.finished_at), r.duration_ms);
    if let Some(commit) = &r.commit {
        let _ = writeln!(out, "- commit: {commit}");
    }
    if let (Some(at), Some(by)) = (&r.reverted_at, &r.reverted_by) {
        let _ = writeln!(out, "- reverted: {} by {by}", rfc3339::format(at));
    }
    if let Some(commit) = &r.revert_commit {
        let _ = writeln!(out, "- revert commit: {commit}");
    }
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "\n## Reason\n\n{reason}");
    }
    if !r.files.is_empty() {
        let _ = writeln!(out, "\n## Files\n\n| file | action | + | - | matched |\n|---|---|---|---|---|");
        for f in &r.files {
            let path = match &f.from {
                Some(from) => format!("`{from}` → `{}`", f.path),
                None => format!("`{}`", f.path),
            };
            let matched = f.matched.as_deref().unwrap_or("-");
            let _ = writeln!(out, "| {path} | {} | {} | {} | {matched} |", f.action, f.added, f.removed);
        }
    }
    if !r.checks.is_empty() {
        let _ = writeln!(out, "\n## Checks");
        for c in &r.checks {
            let status = match (c.timed_out, c.exit_code) {
                (true, _) => "timed out".to_string(),
                (false, Some(code)) => format!("exit {code}"),
                (false, None) => "killed by a signal".to_string(),
            };
            let _ = writeln!(out, "\n### `{}`: {status} ({} ms)\n", c.command, c.duration_ms);
            let lines: Vec<&str> = c.output.lines().collect();
            let tail = &lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..];
            if !tail.is_empty() {
                let _ = writeln!(out, "```\n{}\n```", tail.join("\n"));
            }
        }
    }
    out
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::AlreadyApplied => "already applied, nothing changed",
        Outcome::Refused => "refused, nothing changed",
        Outcome::RolledBack => "rolled back after a failed check",
        Outcome::Error => "failed, nothing changed",
    }
}

/// The outcome's name as the result file spells it (`rolled-back`).
pub(crate) fn outcome_name(o: Outcome) -> String {
    serde_json::to_value(o).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
