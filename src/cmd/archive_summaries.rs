//! `runner archive-summaries`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::ArchiveArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: ArchiveArgs) -> Result<Outcome> {
    Err(NotImplemented("archive-summaries").into())
}
