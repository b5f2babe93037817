//! `runner revert <id|last> [--force]`: see src/operator/revert.rs. Exit 1 when refused because
//! files changed since the patch.

use anyhow::Result;

use super::Context;
use crate::cli::RevertArgs;
use crate::exit::Outcome;
use crate::{operator, output, store::events};

pub(super) fn run(ctx: &Context, args: RevertArgs) -> Result<Outcome> {
    let (settings, home) = ctx.settings_and_home()?;
    let (env, _) = settings.env(args.env.env.as_deref())?;
    let report = operator::revert(&settings, &home, env, &args.target, args.force, &events::cli_actor())?;
    if ctx.global.json {
        output::json(&report)?;
    } else if report.reverted {
        ctx.say(format!("reverted {}: restored {}", report.id, list(&report.restored)))?;
    } else {
        ctx.say(format!(
            "refusing to revert {}: these files changed since it was applied: {} (--force restores them anyway)",
            report.id,
            list(&report.changed_since)
        ))?;
    }
    Ok(Outcome::from_bool(report.reverted))
}

fn list(paths: &[String]) -> String {
    if paths.is_empty() { "nothing (the files were already as before)".to_string() } else { paths.join(", ") }
}
