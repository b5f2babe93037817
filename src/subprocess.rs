//! Operator commands run to completion: each in its own process group, so a deadline kills
//! everything it started; stdout and stderr share one pipe (the combined output, in order), of
//! which only the last `limit` bytes are kept, so a chatty command cannot fill memory. Used by
//! apply-patch's validate commands and health-check's `command` probe and watchdog's `stop`.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How a command ended.
#[derive(Debug)]
pub(crate) struct Finished {
    /// `None` when it ran out of time and was killed.
    pub status: Option<ExitStatus>,
    /// The tail of the combined stdout and stderr.
    pub output: String,
    pub elapsed: Duration,
}

/// Run `cmd` (its program, arguments, directory and environment already set) until it exits or
/// `timeout` passes; then KILL its whole group. Whatever it left running in its group is ended
/// too: it would hold the output pipe open and outlive the check.
pub(crate) fn run(mut cmd: Command, timeout: Duration, limit: usize) -> Result<Finished> {
    let started = Instant::now();
    let (mut reader, writer) = std::io::pipe().context("could not create an output pipe")?;
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone().context("could not share the output pipe")?)
        .stderr(writer)
        .process_group(0);
    let mut child = cmd.spawn().with_context(|| format!("could not run {}", describe(&cmd)))?;
    // The Command keeps copies of the write end: drop them, or the reader never sees the end.
    drop(cmd);
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
    let status = loop {
        if let Some(status) = child.try_wait().context("could not wait for a command")? {
            break Some(status);
        }
        if started.elapsed() >= timeout {
            kill_group(pgid);
            child.wait().context("could not wait for a killed command")?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    kill_group(pgid);
    let output = rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_else(|_| "[output not collected: a process outside the command's group kept it open]".into());
    Ok(Finished { status, output, elapsed: started.elapsed() })
}

/// `program arg …` for messages.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|s| s.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

fn kill_group(pgid: libc::pid_t) {
    // A group already gone yields ESRCH, which is fine.
    if let Some(pgid) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
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

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[test]
    fn captures_combined_output_and_status() {
        let f = run(sh("echo out; echo err >&2; exit 3"), Duration::from_secs(10), 1000).unwrap();
        assert_eq!(f.status.unwrap().code(), Some(3));
        assert_eq!(f.output, "out\nerr\n");
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let f = run(
            sh(&format!("sleep 30 & echo $! > {}; echo started; wait", pidfile.display())),
            Duration::from_millis(300),
            1000,
        )
        .unwrap();
        assert!(f.status.is_none());
        assert!(f.elapsed < Duration::from_secs(10), "{:?}", f.elapsed);
        assert!(f.output.starts_with("started\n"), "{:?}", f.output);
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The background sleep was in the group: it must be gone (a zombie at most, briefly).
        std::thread::sleep(Duration::from_millis(100));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z "), "sleep survived: {stat}");
    }

    #[test]
    fn output_is_capped_to_its_tail() {
        let f = run(sh("seq 1 10000"), Duration::from_secs(10), 10).unwrap();
        // `seq 1 10000` prints 48894 bytes; the last 10 are kept.
        assert_eq!(f.output, "[48884 bytes cut]\n999\n10000\n");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let err = run(Command::new("/nonexistent/prog"), Duration::from_secs(1), 100).unwrap_err();
        assert!(format!("{err:#}").contains("could not run /nonexistent/prog"), "{err:#}");
    }
}
