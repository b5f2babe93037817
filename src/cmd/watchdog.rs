//! `runner watchdog`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::WatchdogArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: WatchdogArgs) -> Result<Outcome> {
    Err(NotImplemented("watchdog").into())
}
