//! `runner preview [id|next]`: see src/operator/preview.rs. Exit 1 when the patch would be refused.

use anyhow::Result;

use super::Context;
use crate::cli::PreviewArgs;
use crate::exit::Outcome;
use crate::{operator, output};

pub(super) fn run(ctx: &Context, args: PreviewArgs) -> Result<Outcome> {
    let (settings, home) = ctx.settings_and_home()?;
    let (env, _) = settings.env(args.env.env.as_deref())?;
    let preview = operator::preview(&settings, &home, env, &args.target)?;
    if ctx.global.json {
        output::json(&preview)?;
    } else {
        ctx.say(&preview.summary)?;
        if !preview.diff.is_empty() && !ctx.global.quiet {
            output::print(&preview.diff)?;
        }
    }
    Ok(Outcome::from_bool(preview.refusal.is_none()))
}
