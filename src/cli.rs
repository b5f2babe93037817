//! The command line, in clap's derive form. Doc comments here are the help text, the man pages
//! and the completions (all generated from these definitions; see tests/cli/generated.rs).
//!
//! Conventions:
//! - Global options (`--config`, `--home`, `--json`, `--wait`, `-q`, `-v`) go before or after the
//!   subcommand; every command that reports honours `--json`.
//! - `--env E` picks an environment from runner.toml; without it, `default_env`.
//! - Targets that name a patch take an id or a keyword (`next`, `all`, `last`) as a positional.
//! - Durations read `30s`, `5m`, `2d`, `1h30m`; sizes read `512MiB`, `10MB`, `4096`.
//! - Flags are plain data here; `config::Settings` merges them with runner.toml once.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::config::units::Duration;
use crate::patch::Format;
use crate::store::mode::Mode;

/// Receive model-written code changes, apply them atomically, check, roll back, summarise and audit.
///
/// Each subcommand does one job under file locks and exits; cron, launchd or systemd timers
/// schedule them. Without a runner.toml, embedded defaults serve: home ./.runner, one environment
/// `main` whose tree is the current directory, listener 127.0.0.1:5555.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about, after_long_help = crate::exit::help_table())]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Subcommand,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Read this config file instead of $RUNNER_CONFIG or ./runner.toml.
    #[arg(long, global = true, value_name = "FILE", env = "RUNNER_CONFIG")]
    pub config: Option<PathBuf>,

    /// Keep state, queues and logs in DIR instead of the config's `home`.
    #[arg(long, global = true, value_name = "DIR", env = "RUNNER_HOME")]
    pub home: Option<PathBuf>,

    /// Print a machine-readable JSON report on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Wait for a lock another run holds instead of exiting 75.
    #[arg(long, global = true)]
    pub wait: bool,

    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more about what is done (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Write a commented runner.toml in DIR (default: .) and create the on-disk layout.
    Init(InitArgs),
    /// Show the mode, queue counts per environment, the oldest pending patch and the last runs.
    Status(StatusArgs),
    /// Show the effective settings, with secrets redacted.
    Config,
    /// Show the mode, or set it: auto, manual, paused or lockdown.
    Mode(ModeArgs),
    /// Approve a pending patch (by id, the oldest with `next`, or `all`) for the next apply-patch run.
    Approve(ApproveArgs),
    /// Show the change a queued patch would make, without writing anything.
    Preview(PreviewArgs),
    /// Restore the files a patch changed from its backup (by id, or `last`).
    Revert(RevertArgs),
    /// Queue a failed patch again.
    Retry(RetryArgs),
    /// Apply a patch to a tree directly, or process an environment's queue.
    ApplyPatch(ApplyPatchArgs),
    /// Listen for patches (POST /webhook), Slack commands, status, dashboard and metrics.
    ServeWebhook(ServeWebhookArgs),
    /// Move summaries older than a threshold into summaries/.archive/YYYY/MM/.
    ArchiveSummaries(ArchiveArgs),
    /// Regenerate patch-manifest.json, README.md and INDEX.md for each environment.
    GenDocs(GenDocsArgs),
    /// Run the configured health checks once; exit 1 when any is unhealthy.
    HealthCheck(HealthCheckArgs),
    /// Probe each configured component once and restart the unhealthy, within their budget.
    Watchdog(WatchdogArgs),
    /// Print a signed, expiring URL that opens the dashboard without the token.
    DashboardLink(DashboardLinkArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write runner.toml in.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// Environment to act on (default: the config's default_env).
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArg,
}

#[derive(Debug, Args)]
pub struct ModeArgs {
    /// The mode to set; without it, print the current one.
    pub mode: Option<Mode>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// A patch id, `next` (the oldest pending) or `all`.
    pub target: String,
    #[command(flatten)]
    pub env: EnvArg,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A patch id, or `next` (the oldest waiting).
    #[arg(default_value = "next")]
    pub target: String,
    #[command(flatten)]
    pub env: EnvArg,
}

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// A patch id, or `last` (the most recently applied).
    pub target: String,
    /// Restore even files that changed since the patch was applied.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub env: EnvArg,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The id of a failed patch.
    pub id: String,
    #[command(flatten)]
    pub env: EnvArg,
}

#[derive(Debug, Args)]
pub struct ApplyPatchArgs {
    /// Patch file to apply (`-` for stdin). Without it, process the environment's queue.
    pub file: Option<PathBuf>,
    /// Apply FILE directly to this tree, like `git apply`; needs no config and no home.
    #[arg(long, short = 't', value_name = "DIR", requires = "file", conflicts_with = "env")]
    pub tree: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvArg,
    /// Report what would happen without writing anything.
    #[arg(long)]
    pub check: bool,
    /// Read the patch as this format instead of detecting it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Strip N leading components from paths in a diff (`a/` and `b/` are recognised without it).
    #[arg(short = 'p', value_name = "N")]
    pub strip: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ServeWebhookArgs {
    /// Address to listen on (default: the config's server.listen, 127.0.0.1:5555).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Worker threads (default: the config's server.threads).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Archive summaries last modified longer ago than this (default: the config's docs.archive_after, 2d).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<Duration>,
    /// Say what would move without moving it.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove backups of applied patches older than AGE that revert can no longer need.
    #[arg(long, value_name = "AGE")]
    pub prune_backups: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct GenDocsArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Write nothing; exit 1 when a file would change.
    #[arg(long)]
    pub check: bool,
    /// Also index hidden and archive directories.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct HealthCheckArgs {
    /// Checks to run (default: all configured).
    pub names: Vec<String>,
    /// Post to Slack when a check changes state.
    #[arg(long)]
    pub alert: bool,
}

#[derive(Debug, Args)]
pub struct WatchdogArgs {
    /// Components to watch (default: all configured).
    pub names: Vec<String>,
    /// Probe and say what would be done, without stopping or starting anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DashboardLinkArgs {
    /// How long the link opens the dashboard (the session it starts lasts server.session_ttl).
    #[arg(long, value_name = "AGE", default_value = "15m")]
    pub ttl: Duration,
}
