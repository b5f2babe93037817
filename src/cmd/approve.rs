//! `runner approve <id|next|all>`: see src/operator/approve.rs.

use anyhow::Result;

use super::Context;
use crate::cli::ApproveArgs;
use crate::exit::Outcome;
use crate::{operator, output, store::events};

pub(super) fn run(ctx: &Context, args: ApproveArgs) -> Result<Outcome> {
    let (settings, home) = ctx.settings_and_home()?;
    let (env, _) = settings.env(args.env.env.as_deref())?;
    let approved = operator::approve(&settings, &home, env, &args.target, &events::cli_actor())?;
    if ctx.global.json {
        output::json(&serde_json::json!({ "env": env, "approved": approved }))?;
    } else if approved.is_empty() {
        ctx.say(format!("no patch is pending in {env}"))?;
    } else {
        for id in &approved {
            ctx.say(format!("approved {id}"))?;
        }
    }
    Ok(Outcome::Yes)
}
