//! `runner health-check`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::HealthCheckArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: HealthCheckArgs) -> Result<Outcome> {
    Err(NotImplemented("health-check").into())
}
