//! `runner apply-patch`: with `--tree`, apply one file directly (see apply_direct.rs); otherwise
//! process an environment's queue, or queue one file and process it (src/operator/queue_run.rs).

use anyhow::{Result, bail};

use super::{Context, apply_direct};
use crate::cli::ApplyPatchArgs;
use crate::exit::Outcome;
use crate::operator::{self, QueueReport};
use crate::patch::summary::outcome_name;
use crate::store::events;
use crate::store::results::Outcome as PatchOutcome;
use crate::{output, slack};

pub(super) fn run(ctx: &Context, args: ApplyPatchArgs) -> Result<Outcome> {
    if args.tree.is_some() {
        return apply_direct::run(ctx, args);
    }
    if args.format.is_some() || args.strip.is_some() {
        bail!("--format and -p go with --tree; a queued patch's format is detected from its content");
    }
    let (settings, home) = ctx.settings_and_home()?;
    let (env, _) = settings.env(args.env.env.as_deref())?;
    let actor = events::cli_actor();
    let file = args.file.as_deref().map(apply_direct::read_input).transpose()?;
    let report = match (&file, args.check) {
        (None, false) => operator::process_queue(&settings, &home, env, ctx.global.wait, &actor)?,
        (None, true) => operator::check_queue(&settings, &home, env)?,
        (Some(bytes), false) => operator::process_file(&settings, &home, env, bytes, ctx.global.wait, &actor)?,
        (Some(bytes), true) => operator::check_file(&settings, &home, env, bytes)?,
    };
    if ctx.global.json {
        output::json(&report)?;
    } else {
        say_report(ctx, &report)?;
    }
    // A Slack that cannot be reached is logged to alerts.log; only a failure to log stops us.
    if !args.check {
        slack::outcome::announce(&settings, &home, &report)?;
    }
    // One file given: it must have been processed (not left waiting) and applied.
    Ok(Outcome::from_bool(report.ok() && (file.is_none() || !report.patches.is_empty())))
}

fn say_report(ctx: &Context, report: &QueueReport) -> Result<()> {
    for p in &report.recovered {
        ctx.say(format!("recovered {}: {}", p.id, p.reason.as_deref().unwrap_or("rolled back")))?;
    }
    for p in &report.patches {
        let files = p.files.len();
        let line = match (report.check, p.outcome) {
            (true, PatchOutcome::Applied) => format!("would apply {} ({files} file(s))", p.id),
            (false, PatchOutcome::Applied) => format!("applied {} ({files} file(s))", p.id),
            (_, PatchOutcome::AlreadyApplied) => format!("{} is already applied: nothing to change", p.id),
            (true, _) => format!("would refuse {}: {}", p.id, p.reason.as_deref().unwrap_or("")),
            (false, outcome) => format!("{} {}: {}", outcome_name(outcome), p.id, p.reason.as_deref().unwrap_or("")),
        };
        ctx.say(line)?;
    }
    if let Some(note) = &report.note {
        ctx.say(note)?;
    } else if report.patches.is_empty() && report.recovered.is_empty() {
        ctx.say(format!("nothing to apply in {}", report.env))?;
    }
    if !report.waiting.is_empty() && !report.check {
        ctx.say(format!("{} patch(es) waiting in {} (mode {})", report.waiting.len(), report.env, report.mode))?;
    }
    Ok(())
}
