//! `runner apply-patch --tree DIR FILE`: like `git apply`, no config, no home.

use anyhow::Result;

use super::Context;
use crate::cli::ApplyPatchArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: ApplyPatchArgs) -> Result<Outcome> {
    Err(NotImplemented("apply-patch --tree").into())
}
