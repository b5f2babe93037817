//! `runner gen-docs`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::GenDocsArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: GenDocsArgs) -> Result<Outcome> {
    Err(NotImplemented("gen-docs").into())
}
