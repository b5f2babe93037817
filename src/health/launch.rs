//! Starting processes: components detached in their own session with output to a log file, and
//! operator commands (the `command` probe, a component's `stop`) run to completion through
//! [`crate::subprocess::run`].

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::procfs::{Identity, identify};
use crate::store::fs::ensure_dir;

/// Start `argv` in a new session (so its process group is its own and it outlives us), stdin
/// from /dev/null, stdout and stderr appended to `log`. Returns the child, to notice an early
/// exit, and its identity.
pub(crate) fn start_detached(
    argv: &[String],
    cwd: &Path,
    log: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<(Child, Identity)> {
    let (program, args) = argv.split_first().context("start command is empty")?;
    if let Some(dir) = log.parent() {
        ensure_dir(dir)?;
    }
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("could not open log {}", log.display()))?;
    let err = out.try_clone().with_context(|| format!("could not open log {}", log.display()))?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(out).stderr(err);
    for (key, value) in env {
        cmd.env(key, value);
    }
    // SAFETY: the hook runs between fork and exec; setsid is one async-signal-safe system call
    // that neither allocates nor touches memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| rustix::process::setsid().map(drop).map_err(std::io::Error::from));
    }
    let child = cmd.spawn().with_context(|| format!("could not start {}", argv.join(" ")))?;
    let Some(id) = identify(child.id()) else {
        bail!("{} exited as soon as it started; see {}", argv.join(" "), log.display());
    };
    Ok((child, id))
}

pub(crate) use crate::subprocess::Finished;

/// Output kept from a probe's or stop's command.
const OUTPUT_LIMIT: usize = 4096;

/// Run `argv` to completion in its own process group; after `timeout`, KILL the whole group.
pub(crate) fn run_with_timeout(argv: &[String], cwd: &Path, timeout: Duration) -> Result<Finished> {
    let (program, args) = argv.split_first().context("command is empty")?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd);
    crate::subprocess::run(cmd, timeout, OUTPUT_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn captures_output_and_status() {
        let f =
            run_with_timeout(&sh("echo out; echo err >&2; exit 3"), Path::new("/"), Duration::from_secs(5)).unwrap();
        assert_eq!(f.status.unwrap().code(), Some(3));
        assert!(f.output.contains("out") && f.output.contains("err"), "{:?}", f.output);
    }

    #[test]
    fn kills_the_group_on_timeout() {
        let f = run_with_timeout(&sh("sleep 30 & sleep 30"), Path::new("/"), Duration::from_millis(200)).unwrap();
        assert!(f.status.is_none());
        assert!(f.elapsed < Duration::from_secs(5), "{:?}", f.elapsed);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let err = run_with_timeout(&["/nonexistent/prog".into()], Path::new("/"), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{err:#}").contains("could not run /nonexistent/prog"));
    }
}
