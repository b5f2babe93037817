//! `runner mode [MODE]`: show or set the mode.

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::cli::ModeArgs;
use crate::exit::Outcome;
use crate::output;
use crate::store::{events, mode};

pub(super) fn run(ctx: &Context, args: ModeArgs) -> Result<Outcome> {
    let (_, home) = ctx.settings_and_home()?;
    let current = mode::read(&home)?;
    let Some(new) = args.mode else {
        if ctx.global.json {
            output::json(&json!({ "mode": current }))?;
        } else {
            output::print(&format!("{current}\n"))?;
        }
        return Ok(Outcome::Yes);
    };
    mode::set(&home, new, &events::cli_actor())?;
    if ctx.global.json {
        output::json(&json!({ "mode": new, "previous": current }))?;
    } else {
        ctx.say(format!("mode: {new} (was {current})"))?;
    }
    Ok(Outcome::Yes)
}
