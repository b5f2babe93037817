//! Validate commands: run with `sh -c` in the tree after a patch is written, through
//! [`crate::subprocess::run`] (own process group, timeout, capped combined output).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::store::results::CheckRun;

/// How to run one batch of commands.
#[derive(Debug, Clone)]
pub(crate) struct Runner<'a> {
    pub tree: &'a Path,
    pub timeout: Duration,
    /// Output bytes kept per command.
    pub limit: usize,
    /// Extra environment variables (`RUNNER_PATCH_ID`, `RUNNER_ENV`).
    pub vars: Vec<(&'static str, String)>,
}

pub(crate) fn passed(run: &CheckRun) -> bool {
    !run.timed_out && run.exit_code == Some(0)
}

impl Runner<'_> {
    /// Run the commands in order, stopping at the first that fails.
    pub(crate) fn run_all(&self, commands: &[String]) -> Result<Vec<CheckRun>> {
        let mut runs = Vec::new();
        for command in commands {
            let run = self.run(command)?;
            let ok = passed(&run);
            runs.push(run);
            if !ok {
                break;
            }
        }
        Ok(runs)
    }

    pub(crate) fn run(&self, command: &str) -> Result<CheckRun> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command).current_dir(self.tree).envs(self.vars.iter().map(|(k, v)| (k, v)));
        let finished = crate::subprocess::run(cmd, self.timeout, self.limit)
            .with_context(|| format!("could not run validate command {command:?}"))?;
        let mut output = finished.output;
        if finished.status.is_none() {
            output.push_str(&format!("\n[killed after {:?}]", self.timeout));
        }
        Ok(CheckRun {
            command: command.to_string(),
            exit_code: finished.status.and_then(|s| s.code()),
            timed_out: finished.status.is_none(),
            duration_ms: finished.elapsed.as_millis() as u64,
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(dir: &Path, timeout_ms: u64, limit: usize) -> Runner<'_> {
        Runner {
            tree: dir,
            timeout: Duration::from_millis(timeout_ms),
            limit,
            vars: vec![("RUNNER_PATCH_ID", "p1".into())],
        }
    }

    #[test]
    fn captures_combined_output_in_the_tree_and_stops_at_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker"), "").unwrap();
        let cmds =
            ["ls; echo out; echo err >&2; echo $RUNNER_PATCH_ID".to_string(), "exit 3".into(), "echo never".into()];
        let runs = runner(dir.path(), 10_000, 1000).run_all(&cmds).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].output, "marker\nout\nerr\np1\n");
        assert!(passed(&runs[0]));
        assert_eq!(runs[1].exit_code, Some(3));
        assert!(!passed(&runs[1]));
    }

    #[test]
    fn a_timeout_is_reported_and_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let run = runner(dir.path(), 1500, 1000).run("echo started; sleep 30").unwrap();
        assert!(run.timed_out && !passed(&run) && run.exit_code.is_none());
        assert!(run.output.starts_with("started\n") && run.output.contains("[killed after"), "{:?}", run.output);
    }
}
