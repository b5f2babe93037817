//! `runner serve-webhook`: not built yet.

use anyhow::Result;

use super::Context;
use crate::cli::ServeWebhookArgs;
use crate::exit::{NotImplemented, Outcome};

pub fn run(_ctx: &Context, _args: ServeWebhookArgs) -> Result<Outcome> {
    Err(NotImplemented("serve-webhook").into())
}
