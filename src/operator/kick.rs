//! Applied on arrival: the listener starts `runner apply-patch --env E` as a child process as soon
//! as a patch is durably queued, instead of leaving it to the next cron run.
//!
//! The child is the same command cron runs, under the same environment lock, so the two never
//! apply a patch twice. Per environment at most one child runs and one more is requested: a post
//! that arrives while a run is under way only marks the environment dirty, and the run that
//! follows takes everything queued by then, so a burst of a thousand posts causes a few runs. The
//! child runs with `--wait`, so one that finds the lock held (cron, an operator) takes it as soon
//! as it is released rather than exiting 75 and leaving its patch for the next sweep. A thread per
//! running child waits for it (no zombies) and wakes whoever waits on the environment's runs.
//! Modes rule: only in `auto`, and not where the environment requires approval, does an arrival
//! start a run; an approval (not an arrival) may start one in `manual` too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::config::Settings;
use crate::store::Home;
use crate::store::mode::{self, Mode};
use crate::time::rfc3339;

/// Why a run is asked for: it decides which modes let it start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// A patch was queued: only `auto` without `require_approval` applies it.
    Arrival,
    /// A patch was approved: `auto` and `manual` apply approved patches.
    Approval,
}

#[derive(Debug, Default)]
struct Runs {
    running: bool,
    requested: bool,
    /// Child runs finished so far; a waiter that saw N knows a run ended once it reads N+1.
    finished: u64,
}

/// One environment's runs and the condition its waiters sleep on.
#[derive(Debug, Default)]
struct EnvRuns {
    runs: Mutex<Runs>,
    ended: Condvar,
}

/// Starts and coalesces the listener's apply runs; cheap to clone (the runs are shared).
#[derive(Debug, Clone)]
pub(crate) struct Kicker(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    enabled: bool,
    exe: PathBuf,
    config: Option<PathBuf>,
    home_dir: PathBuf,
    require_approval: HashMap<String, bool>,
    envs: HashMap<String, EnvRuns>,
}

impl Kicker {
    /// `enabled`: `server.apply_on_receive`. The child is this very executable.
    pub(crate) fn new(settings: &Settings, enabled: bool) -> Result<Kicker> {
        let exe = std::env::current_exe().context("could not find the runner executable to start apply runs")?;
        Ok(Kicker(Arc::new(Inner {
            enabled,
            exe,
            config: settings.source.clone(),
            home_dir: settings.home.clone(),
            require_approval: settings.config.env.iter().map(|(k, v)| (k.clone(), v.require_approval)).collect(),
            envs: settings.config.env.keys().map(|k| (k.clone(), EnvRuns::default())).collect(),
        })))
    }

    /// Ask for an apply run of `env`: start one now, or, if one is running, one more after it.
    /// Returns whether a run was started or requested (false: the mode or config holds patches).
    pub(crate) fn kick(&self, env: &str, why: Why) -> Result<bool> {
        let me = &self.0;
        if !me.enabled {
            return Ok(false);
        }
        let Some(slot) = me.envs.get(env) else { return Ok(false) };
        let mode = mode::read(&Home::new(&me.home_dir))?;
        let applies = match (mode, why) {
            (Mode::Auto, Why::Arrival) => !me.require_approval.get(env).copied().unwrap_or(false),
            (Mode::Auto | Mode::Manual, Why::Approval) => true,
            _ => false,
        };
        if !applies {
            return Ok(false);
        }
        let mut runs = lock(&slot.runs);
        if runs.running {
            runs.requested = true;
            return Ok(true);
        }
        runs.running = true;
        drop(runs);
        let (inner, env) = (self.0.clone(), env.to_string());
        let spawned = std::thread::Builder::new()
            .name(format!("apply-{env}"))
            .stack_size(128 << 10)
            .spawn(move || inner.supervise(&env));
        if let Err(e) = spawned {
            lock(&slot.runs).running = false;
            return Err(e).context("could not start a thread for an apply run");
        }
        Ok(true)
    }

    /// How many runs of `env` have finished; `None` for an environment it does not know.
    pub(crate) fn finished(&self, env: &str) -> Option<u64> {
        self.0.envs.get(env).map(|slot| lock(&slot.runs).finished)
    }

    /// Sleep until a run of `env` other than the `seen` first ones finishes, or `timeout` passes.
    pub(crate) fn wait_for_run(&self, env: &str, seen: u64, timeout: Duration) {
        let Some(slot) = self.0.envs.get(env) else {
            std::thread::sleep(timeout);
            return;
        };
        let runs = lock(&slot.runs);
        let _ = slot.ended.wait_timeout_while(runs, timeout, |r| r.finished == seen);
    }
}

impl Inner {
    /// Run children one after another while more are requested, then stand down.
    fn supervise(&self, env: &str) {
        let slot = &self.envs[env];
        loop {
            let started = std::time::Instant::now();
            let ran = self.run_child(env);
            log(env, started.elapsed(), ran.err());
            let mut runs = lock(&slot.runs);
            runs.finished += 1;
            slot.ended.notify_all();
            if !runs.requested {
                runs.running = false;
                return;
            }
            runs.requested = false;
        }
    }

    /// One `runner apply-patch --env E --wait -q`, waited for. A refused patch (exit 1) is an
    /// answer, recorded in its result; only an error (exit 2) is logged here.
    fn run_child(&self, env: &str) -> Result<()> {
        let mut cmd = Command::new(&self.exe);
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("--home").arg(&self.home_dir).args(["--wait", "--quiet", "apply-patch", "--env", env]);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit());
        let status =
            cmd.status().with_context(|| format!("could not start {} apply-patch --env {env}", self.exe.display()))?;
        match status.code() {
            Some(0 | 1) => Ok(()),
            Some(code) => anyhow::bail!("apply-patch --env {env} exited {code}"),
            None => anyhow::bail!("apply-patch --env {env} was killed by a signal"),
        }
    }
}

fn lock(runs: &Mutex<Runs>) -> MutexGuard<'_, Runs> {
    // The counters stay meaningful whatever panicked while holding them.
    runs.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One JSON line on stderr per run, as the listener's access log writes.
fn log(env: &str, took: Duration, error: Option<anyhow::Error>) {
    let mut line = json!({
        "time": rfc3339::format(&chrono::Utc::now()),
        "event": "apply-run",
        "env": env,
        "ms": took.as_millis() as u64,
    });
    if let Some(e) = error {
        line["error"] = format!("{e:#}").into();
    }
    eprintln!("{line}");
}
