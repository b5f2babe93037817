//! `runner revert`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::RevertArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: RevertArgs) -> Result<Outcome> {
    Err(NotImplemented("revert").into())
}
