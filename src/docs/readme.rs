//! `<env>/README.md`: what the environment's store holds, the latest changes and the numbers,
//! for a person browsing the directory. Everything in it comes from the records.

use std::collections::HashSet;
use std::fmt::Write;

use crate::docs::records::Record;
use crate::docs::stats::{self, Stats};
use crate::docs::{manifest, md};
use crate::patch::summary::outcome_name;
use crate::time::rfc3339;

pub(crate) const FILE: &str = "README.md";
/// How many recent runs "Latest changes" lists.
const LATEST: usize = 20;

pub(crate) struct Input<'a> {
    pub env: &'a str,
    pub tree: &'a str,
    pub records: &'a [Record],
    pub stats: &'a Stats,
    /// Ids with a summary in `summaries/`, to link to.
    pub summaries: &'a HashSet<String>,
}

pub(crate) fn render(input: &Input) -> String {
    let mut out = String::new();
    let counts = manifest::counts(input.records);
    let _ = writeln!(out, "{}\n\n# Environment {}\n", md::MARKER, md::cell(input.env, 64));
    let _ = writeln!(out, "Patches for the tree `{}`, as runner keeps them.\n", input.tree.replace('`', "'"));
    out.push_str("## What is here\n\n");
    let queue: Vec<String> =
        counts.iter().filter(|(k, _)| **k != "total").map(|(state, n)| format!("{n} {state}")).collect();
    let _ = writeln!(out, "- [patches/](patches/INDEX.md): the queue, one directory per state ({}).", queue.join(", "));
    let _ = writeln!(
        out,
        "- [results/](results/INDEX.md): what happened to each patch that ran ({}).",
        input.stats.finished
    );
    let _ = writeln!(
        out,
        "- [summaries/](summaries/INDEX.md): a summary per patch ({} here; older ones move to `summaries/.archive/YYYY/MM/`).",
        input.summaries.len()
    );
    out.push_str("- [backups/](backups/INDEX.md): the original of every file a patch changed, for `runner revert`.\n");
    let _ = writeln!(
        out,
        "- [{0}]({0}): every patch, the changelog and the statistics, as JSON (schema {1}).",
        manifest::FILE,
        manifest::SCHEMA
    );
    out.push_str("- [INDEX.md](INDEX.md): every file, with sizes.\n\n");
    latest(&mut out, input);
    numbers(&mut out, input.stats, counts["total"]);
    out
}

fn latest(out: &mut String, input: &Input) {
    out.push_str("## Latest changes\n\n");
    let mut ran: Vec<&Record> = input.records.iter().filter(|r| r.result.is_some()).collect();
    if ran.is_empty() {
        out.push_str("No patch has run yet.\n\n");
        return;
    }
    ran.sort_by(|a, b| {
        let key = |r: &Record| r.result.as_ref().map(|r| r.finished_at);
        key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
    });
    out.push_str("| finished | patch | outcome | description | lines |\n|---|---|---|---|---:|\n");
    for record in ran.into_iter().take(LATEST) {
        let result = record.result.as_ref().expect("filtered to records with results");
        let target = if input.summaries.contains(&record.id) {
            format!("summaries/{}.md", record.id)
        } else {
            format!("results/{}.json", record.id)
        };
        let (added, removed) = stats::lines(record);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | +{added} −{removed} |",
            rfc3339::format(&result.finished_at),
            md::link(&record.id, &target),
            outcome(result),
            md::cell(record.description().unwrap_or(""), 100),
        );
    }
    out.push('\n');
}

fn outcome(result: &crate::store::results::PatchResult) -> String {
    let name = outcome_name(result.outcome);
    if result.reverted_at.is_some() { format!("{name}, reverted") } else { name }
}

fn numbers(out: &mut String, stats: &Stats, total: usize) {
    out.push_str("## Numbers\n\n");
    let rate = stats.success_rate.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    let _ = writeln!(
        out,
        "- Patches: {total}, of which {} ran: {} succeeded, {} failed.",
        stats.finished, stats.succeeded, stats.failed
    );
    let _ = writeln!(out, "- Success rate: {rate}.");
    let _ = writeln!(
        out,
        "- Apply time: mean {}, p95 {}, max {}.",
        ms(stats.apply_ms.mean),
        ms(stats.apply_ms.p95),
        ms(stats.apply_ms.max)
    );
    if !stats.top_failure_reasons.is_empty() {
        out.push_str("\n### Top failure reasons\n\n| count | reason |\n|---:|---|\n");
        for r in &stats.top_failure_reasons {
            let _ = writeln!(out, "| {} | {} |", r.count, md::cell(&r.reason, 160));
        }
    }
    if !stats.by_author.is_empty() {
        out.push_str(
            "\n### By author\n\n| author | patches | succeeded | failed | lines |\n|---|---:|---:|---:|---:|\n",
        );
        for a in stats.by_author.iter().take(LATEST) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | +{} −{} |",
                md::cell(&a.author, 64),
                a.patches,
                a.succeeded,
                a.failed,
                a.added,
                a.removed
            );
        }
    }
}
