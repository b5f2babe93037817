//! `runner gen-docs`: regenerate each environment's patch-manifest.json, README.md and INDEX.md
//! files, writing only those whose content changed; `--check` writes nothing and exits 1 when
//! something would change.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::GenDocsArgs;
use crate::docs::{self, Change};
use crate::exit::Outcome;
use crate::output;
use crate::store::{heartbeat, lock};

#[derive(Debug, Default, Serialize)]
struct EnvReport {
    /// Files written (or, with --check, that would be), relative to the home.
    changed: Vec<String>,
    unchanged: usize,
    /// Markdown files in the way that gen-docs did not write, left alone.
    skipped: Vec<String>,
}

pub(super) fn run(ctx: &Context, args: GenDocsArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (settings, home) = ctx.settings_and_home()?;
    let mut reports = BTreeMap::new();
    for (env, cfg) in settings.envs(args.env.env.as_deref())? {
        let _lock = lock::acquire(&home, "gen-docs", Some(env), ctx.global.wait)?;
        let generated = docs::plan(&home, env, &cfg.tree, args.all)?;
        let changes = docs::write(&generated.files, args.check)?;
        if !args.check {
            docs::remove_stale_temps(&generated, &home.summaries_dir(env))?;
        }
        let mut report = EnvReport::default();
        for (file, change) in generated.files.iter().zip(changes) {
            let rel = file.path.strip_prefix(home.root()).unwrap_or(&file.path).display().to_string();
            match change {
                Change::Unchanged => report.unchanged += 1,
                Change::Changed => report.changed.push(rel),
                Change::Foreign => report.skipped.push(rel),
            }
        }
        reports.insert(env.to_string(), report);
    }
    if !args.check {
        heartbeat::beat(&home, "gen-docs", started)?;
    }
    let changed = reports.values().any(|r| !r.changed.is_empty());
    if ctx.global.json {
        output::json(&serde_json::json!({ "check": args.check, "changed": changed, "envs": reports }))?;
    } else {
        let verb = if args.check { "would write" } else { "wrote" };
        for report in reports.values() {
            for path in &report.changed {
                ctx.say(format!("{verb} {path}"))?;
            }
            for path in &report.skipped {
                let _ = writeln!(std::io::stderr(), "runner: warning: left {path} alone: gen-docs did not write it");
            }
        }
    }
    Ok(Outcome::from_bool(!(args.check && changed)))
}
