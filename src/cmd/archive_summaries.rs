//! `runner archive-summaries`: move old summaries into `summaries/.archive/YYYY/MM/` and, with
//! `--prune-backups AGE`, remove backups revert can no longer need (see `docs::archive` and
//! `docs::prune` for the rules).

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::ArchiveArgs;
use crate::docs::{archive, prune, records};
use crate::exit::Outcome;
use crate::output;
use crate::store::{events, heartbeat, lock};

#[derive(Debug, Serialize)]
struct EnvReport {
    #[serde(flatten)]
    summaries: archive::Plan,
    /// Backups removed (or, with --dry-run, that would be); `null` without --prune-backups.
    pruned_backups: Option<Vec<String>>,
    kept_backups: Option<usize>,
}

pub(super) fn run(ctx: &Context, args: ArchiveArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (settings, home) = ctx.settings_and_home()?;
    let older_than = args.older_than.unwrap_or(settings.config.docs.archive_after).std();
    let now = SystemTime::now();
    let _lock = lock::acquire(&home, "archive-summaries", None, ctx.global.wait)?;
    let mut reports = BTreeMap::new();
    for (env, _) in settings.envs(args.env.env.as_deref())? {
        let backups = match args.prune_backups {
            Some(age) => Some(prune::plan(&home, env, &records::load(&home, env)?, age.std(), now.into())?),
            None => None,
        };
        let summaries = if args.dry_run {
            archive::plan(&home, env, older_than, now)?
        } else {
            archive::archive(&home, env, older_than, now)?
        };
        if !args.dry_run {
            if let Some(plan) = &backups {
                prune::apply(&home, env, plan)?;
            }
            let mut event = events::Event::new(events::cli_actor(), "summaries.archived")
                .env(env)
                .with("archived", summaries.archived.len())
                .with("kept", summaries.young + summaries.waiting);
            if let Some(plan) = &backups {
                event = event.with("backups_pruned", plan.remove.len()).with("backups_kept", plan.kept);
            }
            if !summaries.archived.is_empty() || backups.as_ref().is_some_and(|p| !p.remove.is_empty()) {
                events::append(&home, &event)?;
            }
        }
        let (pruned_backups, kept_backups) = backups.map(|p| (p.remove, p.kept)).unzip();
        reports.insert(env.to_string(), EnvReport { summaries, pruned_backups, kept_backups });
    }
    if !args.dry_run {
        heartbeat::beat(&home, "archive-summaries", started)?;
    }
    if ctx.global.json {
        output::json(&serde_json::json!({ "dry_run": args.dry_run, "envs": reports }))?;
    } else if !ctx.global.quiet {
        output::print(&render(&reports, args.dry_run))?;
    }
    Ok(Outcome::Yes)
}

fn render(reports: &BTreeMap<String, EnvReport>, dry_run: bool) -> String {
    use std::fmt::Write;
    let (archive, remove) = if dry_run { ("would archive", "would remove") } else { ("archived", "removed") };
    let (archived, removed) = if dry_run { ("would be archived", "would be removed") } else { ("archived", "removed") };
    let mut out = String::new();
    for (env, r) in reports {
        for m in &r.summaries.archived {
            let _ = writeln!(out, "{archive} {env}/summaries/{}.md -> {env}/summaries/{}", m.id, m.dest);
        }
        for id in r.pruned_backups.iter().flatten() {
            let _ = writeln!(out, "{remove} backup {env}/backups/{id}");
        }
        let (s, n) = (&r.summaries, r.summaries.archived.len());
        let _ = write!(
            out,
            "{env}: summaries: {n} {archived}, {} newer kept, {} of waiting patches kept",
            s.young, s.waiting
        );
        if let (Some(pruned), Some(kept)) = (&r.pruned_backups, r.kept_backups) {
            let _ = write!(out, "; backups: {} {removed}, {kept} kept", pruned.len());
        }
        out.push('\n');
    }
    out
}
