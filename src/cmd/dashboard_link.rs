//! `runner dashboard-link [--ttl 15m]`: a signed, expiring URL that opens the dashboard in a
//! browser without pasting the token (see src/operator/session.rs).

use anyhow::{Result, bail};
use serde_json::json;

use super::Context;
use crate::cli::DashboardLinkArgs;
use crate::exit::Outcome;
use crate::operator::session;
use crate::output;
use crate::store::events;

pub(super) fn run(ctx: &Context, args: DashboardLinkArgs) -> Result<Outcome> {
    let (settings, home) = ctx.settings_and_home()?;
    let ttl_s = args.ttl.std().as_secs();
    if ttl_s == 0 {
        bail!("--ttl must be at least 1s");
    }
    let server = &settings.config.server;
    let base = match &server.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", server.listen),
    };
    let url = session::issue_link(&home, &base, ttl_s, &events::cli_actor())?;
    if ctx.global.json {
        output::json(&json!({ "url": url, "ttl_s": ttl_s }))?;
    } else {
        output::print(&format!("{url}\n"))?;
    }
    Ok(Outcome::Yes)
}
