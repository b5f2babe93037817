//! `runner retry <id>`: see src/operator/retry.rs.

use anyhow::Result;

use super::Context;
use crate::cli::RetryArgs;
use crate::exit::Outcome;
use crate::{operator, output, store::events};

pub(super) fn run(ctx: &Context, args: RetryArgs) -> Result<Outcome> {
    let (settings, home) = ctx.settings_and_home()?;
    let (env, _) = settings.env(args.env.env.as_deref())?;
    operator::retry(&settings, &home, env, &args.id, &events::cli_actor())?;
    if ctx.global.json {
        output::json(&serde_json::json!({ "env": env, "id": args.id, "state": "approved" }))?;
    } else {
        ctx.say(format!("{} is queued again (approved); the next apply-patch run takes it", args.id))?;
    }
    Ok(Outcome::Yes)
}
