//! What an operator does to an environment's queue, as a library the CLI and Slack both call:
//! process the queue, approve, preview, revert and retry. Every mutating action appends to
//! events.jsonl with the actor it is given (`events::cli_actor()` from the command line).

mod approve;
pub(crate) mod callback;
pub(crate) mod fit;
mod git;
pub(crate) mod kick;
mod prepare;
mod preview;
mod queue_run;
mod record;
mod recover;
mod retry;
mod revert;
pub(crate) mod session;

use anyhow::Result;

use crate::config::{EnvConfig, Settings};
use crate::patch::fence::Fence;
use crate::store::Home;

pub(crate) use approve::approve;
pub(crate) use git::problems as git_problems;
pub(crate) use preview::{diff, preview};
pub(crate) use queue_run::{QueueReport, check_file, check_queue, process_file, process_queue};
pub(crate) use retry::retry;
pub(crate) use revert::{changed_by, revert};

/// The job name of queue runs: their lock and heartbeat.
pub(crate) const JOB: &str = "apply-patch";

/// One environment, resolved: its name, config and fence, and the home it keeps state in.
struct Env<'a> {
    home: &'a Home,
    name: &'a str,
    cfg: &'a EnvConfig,
    fence: Fence,
}

impl<'a> Env<'a> {
    fn open(settings: &'a Settings, home: &'a Home, env: &str) -> Result<Env<'a>> {
        let (name, cfg) = settings.env(Some(env))?;
        let fence = Fence::new(&cfg.tree, &cfg.allowed_paths)?;
        Ok(Env { home, name, cfg, fence })
    }

    fn validate_runner(&self, id: &str) -> crate::patch::validate::Runner<'_> {
        crate::patch::validate::Runner {
            tree: self.fence.root(),
            timeout: self.cfg.validate_timeout.std(),
            limit: usize::try_from(self.cfg.output_limit.0).unwrap_or(usize::MAX),
            vars: vec![("RUNNER_PATCH_ID", id.to_string()), ("RUNNER_ENV", self.name.to_string())],
        }
    }
}
