//! Validate commands: run with `sh -c` in the tree after a patch is written, each in its own
//! process group so a timeout kills everything it started. Stdout and stderr share one pipe (the
//! combined output, in order), of which the last `limit` bytes are kept.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::store::results::CheckRun;

/// How to run one batch of commands.
#[derive(Debug, Clone)]
pub struct Runner<'a> {
    pub tree: &'a Path,
    pub timeout: Duration,
    /// Output bytes kept per command.
    pub limit: usize,
    /// Extra environment variables (`RUNNER_PATCH_ID`, `RUNNER_ENV`).
    pub vars: Vec<(&'static str, String)>,
}

pub fn passed(run: &CheckRun) -> bool {
    !run.timed_out && run.exit_code == Some(0)
}

impl Runner<'_> {
    /// Run the commands in order, stopping at the first that fails.
    pub fn run_all(&self, commands: &[String]) -> Result<Vec<CheckRun>> {
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

    pub fn run(&self, command: &str) -> Result<CheckRun> {
        let started = Instant::now();
        let (mut reader, writer) = std::io::pipe().context("could not create a pipe for a validate command")?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(self.tree)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(writer.try_clone().context("could not share the output pipe")?)
            .stderr(writer)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not run validate command {command:?}"))?;
        let limit = self.limit;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tail = Tail::new(limit);
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
            let _ = tx.send(tail.into_string());
        });
        let pgid = child.id() as libc::pid_t;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().context("could not wait for a validate command")? {
                break status;
            }
            if started.elapsed() >= self.timeout {
                timed_out = true;
                kill_group(pgid);
                break child.wait().context("could not wait for a killed validate command")?;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Whatever the command left running in its group would hold the pipe open (and outlive
        // the check): end it too.
        kill_group(pgid);
        let output = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| {
            "[output not collected: a process outside the command's group kept it open]".to_string()
        });
        let mut output = output;
        if timed_out {
            output.push_str(&format!("\n[killed after {:?}]", self.timeout));
        }
        Ok(CheckRun {
            command: command.to_string(),
            exit_code: status.code(),
            timed_out,
            duration_ms: started.elapsed().as_millis() as u64,
            output,
        })
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: killpg only sends a signal; a group already gone yields ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// The last `limit` bytes of a stream, and how many were cut before them.
struct Tail {
    limit: usize,
    buf: Vec<u8>,
    cut: u64,
}

impl Tail {
    fn new(limit: usize) -> Tail {
        Tail { limit, buf: Vec::new(), cut: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        // Trim in chunks, not on every read, to keep this linear.
        if self.buf.len() > self.limit.saturating_mul(2).max(8192) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.buf.len() > self.limit {
            let excess = self.buf.len() - self.limit;
            self.buf.drain(..excess);
            self.cut += excess as u64;
        }
    }

    fn into_string(mut self) -> String {
        self.trim();
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        if self.cut == 0 { text } else { format!("[{} bytes cut]\n{text}", self.cut) }
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
    fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let cmd = format!("sleep 30 & echo $! > {}; echo started; wait", pidfile.display());
        let run = runner(dir.path(), 1500, 1000).run(&cmd).unwrap();
        assert!(run.timed_out && !passed(&run));
        assert!(run.duration_ms < 10_000, "{}", run.duration_ms);
        assert!(run.output.starts_with("started\n"), "{:?}", run.output);
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The background sleep was in the group: it must be gone (a zombie at most, briefly).
        std::thread::sleep(Duration::from_millis(100));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z "), "sleep survived: {stat}");
    }

    #[test]
    fn output_is_capped_to_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let run = runner(dir.path(), 10_000, 10).run("seq 1 10000").unwrap();
        // `seq 1 10000` prints 48894 bytes; the last 10 are kept.
        assert_eq!(run.output, "[48884 bytes cut]\n999\n10000\n");
    }
}
