//! `runner apply-patch`: with `--tree`, apply one file directly (see apply_direct.rs); otherwise
//! process an environment's queue, or one file through it.

use anyhow::Result;

use super::{Context, apply_direct};
use crate::cli::ApplyPatchArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(ctx: &Context, args: ApplyPatchArgs) -> Result<Outcome> {
    if args.tree.is_some() {
        return apply_direct::run(ctx, args);
    }
    Err(NotImplemented("apply-patch (queue mode)").into())
}
