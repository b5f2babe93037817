//! The harness every integration test uses: a hermetic temp directory (its own cwd, HOME and
//! no RUNNER_* variables from outside), files written into it, and the built `runner` binary run
//! in it with assertions that print stdout and stderr when they fail. The fixtures built on it
//! are its submodules; patch files in every format are in `patches/`.

#![allow(dead_code)]

/// Loopback HTTP servers that record what they are sent (health targets, Slack, pings).
pub(crate) mod loopback;
/// An environment `main` with patches written straight into its queue, and tree snapshots.
pub(crate) mod queue;
/// `serve-webhook` started on 127.0.0.1:0, and raw HTTP requests to it.
pub(crate) mod webhook;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_runner");

/// Poll `cond` every few milliseconds until it holds; fail naming `what` once `timeout` has
/// passed. Every wait in a test has a deadline: what never comes fails the test, not hangs it.
#[track_caller]
pub(crate) fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "gave up after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// xorshift64*: small, seeded (never with 0), so a failing case repeats from its seed.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// Seeded from `CRASH_SEED`, else the clock; the seed is printed so a failing run repeats.
    pub(crate) fn from_env() -> Rng {
        let seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("random test seed: {seed} (set CRASH_SEED to repeat)");
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(crate) struct Test {
    dir: TempDir,
}

impl Test {
    pub(crate) fn new() -> Test {
        Test { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// The temp directory: the cwd of every run.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file (creating directories) and return self, for building a fixture fluently.
    pub(crate) fn file(self, rel: &str, contents: impl AsRef<[u8]>) -> Test {
        self.write(rel, contents);
        self
    }

    pub(crate) fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap_or_else(|e| panic!("could not read {rel}: {e}"))
    }

    pub(crate) fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    /// A `runner` command set up to run hermetically in the temp directory.
    pub(crate) fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path()).env("HOME", self.path()).env("USER", "tester");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RUNNER_") || key.to_string_lossy().starts_with("SLACK_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    pub(crate) fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(self.command(args).stdin(Stdio::null()).output().expect("run runner"))
    }

    /// Start runner with `args` and SIGKILL it after `after`, whatever it was doing.
    pub(crate) fn kill_during(&self, args: &[&str], after: Duration) {
        let mut child = self.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn runner");
        std::thread::sleep(after);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Run with `input` on stdin.
    pub(crate) fn run_stdin<I, S>(&self, args: I, input: impl AsRef<[u8]>) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn runner");
        child.stdin.take().unwrap().write_all(input.as_ref()).unwrap();
        Run::from(child.wait_with_output().expect("wait for runner"))
    }
}

/// A finished run, with assertions that chain.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(o: std::process::Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub(crate) fn code(self, expected: i32) -> Run {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub(crate) fn success(self) -> Run {
        self.code(0)
    }

    #[track_caller]
    pub(crate) fn stdout_contains(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_contains(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stdout_is(self, expected: &str) -> Run {
        assert_eq!(self.stdout, expected, "stdout\n--- stderr\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n--- stderr\n{}", self.stdout, self.stderr))
    }
}

#[test]
#[should_panic(expected = "waiting for the impossible")]
fn wait_until_fails_with_its_label() {
    wait_until(Duration::from_millis(50), "the impossible", || false);
}
