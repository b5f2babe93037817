//! `runner retry`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::RetryArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: RetryArgs) -> Result<Outcome> {
    Err(NotImplemented("retry").into())
}
