//! `runner preview`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::PreviewArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: PreviewArgs) -> Result<Outcome> {
    Err(NotImplemented("preview").into())
}
