//! `runner status`: mode, queues, oldest pending patch, last runs.

use anyhow::Result;

use super::Context;
use crate::cli::StatusArgs;
use crate::exit::Outcome;
use crate::{output, status};

pub fn run(ctx: &Context, args: StatusArgs) -> Result<Outcome> {
    let settings = ctx.settings()?;
    let report = status::collect(&settings, args.env.env.as_deref())?;
    if ctx.global.json {
        output::json(&report)?;
    } else if !ctx.global.quiet {
        output::print(&status::render(&report))?;
    }
    Ok(Outcome::Yes)
}
