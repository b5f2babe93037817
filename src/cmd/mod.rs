//! One thin file per subcommand, one `match` to dispatch. Commands load settings only when they
//! need them, so `apply-patch --tree` runs with no config and no home.

mod apply_direct;
mod apply_patch;
mod approve;
mod archive_summaries;
mod config;
mod dashboard_link;
mod gen_docs;
mod health_check;
mod init;
mod mode;
mod preview;
mod retry;
mod revert;
mod serve_webhook;
mod status;
mod watchdog;

use anyhow::Result;

use crate::cli::{Cli, Global, Subcommand};
use crate::config::Settings;
use crate::exit::Outcome;
use crate::store::Home;

/// What every command gets: the global flags, and the settings on demand.
#[derive(Debug)]
pub(crate) struct Context {
    pub global: Global,
}

impl Context {
    pub(crate) fn settings(&self) -> Result<Settings> {
        Settings::load(self.global.config.as_deref(), self.global.home.as_deref())
    }

    /// Settings and the home they name.
    pub(crate) fn settings_and_home(&self) -> Result<(Settings, Home)> {
        let settings = self.settings()?;
        let home = Home::new(&settings.home);
        Ok((settings, home))
    }

    /// Print a line unless `--quiet`.
    pub(crate) fn say(&self, text: impl AsRef<str>) -> Result<()> {
        if self.global.quiet {
            return Ok(());
        }
        crate::output::print(&format!("{}\n", text.as_ref()))
    }
}

pub(crate) fn run(cli: Cli) -> Result<Outcome> {
    let ctx = Context { global: cli.global };
    match cli.command {
        Subcommand::Init(args) => init::run(&ctx, args),
        Subcommand::Status(args) => status::run(&ctx, args),
        Subcommand::Config => config::run(&ctx),
        Subcommand::Mode(args) => mode::run(&ctx, args),
        Subcommand::Approve(args) => approve::run(&ctx, args),
        Subcommand::Preview(args) => preview::run(&ctx, args),
        Subcommand::Revert(args) => revert::run(&ctx, args),
        Subcommand::Retry(args) => retry::run(&ctx, args),
        Subcommand::ApplyPatch(args) => apply_patch::run(&ctx, args),
        Subcommand::ServeWebhook(args) => serve_webhook::run(&ctx, args),
        Subcommand::ArchiveSummaries(args) => archive_summaries::run(&ctx, args),
        Subcommand::GenDocs(args) => gen_docs::run(&ctx, args),
        Subcommand::HealthCheck(args) => health_check::run(&ctx, args),
        Subcommand::Watchdog(args) => watchdog::run(&ctx, args),
        Subcommand::DashboardLink(args) => dashboard_link::run(&ctx, args),
    }
}
