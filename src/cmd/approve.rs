//! `runner approve`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::ApproveArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: ApproveArgs) -> Result<Outcome> {
    Err(NotImplemented("approve").into())
}
