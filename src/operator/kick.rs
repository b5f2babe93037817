//! Applied on arrival: the listener starts `runner apply-patch --env E` as a child process as soon
//! as a patch is durably queued, instead of leaving it to the next cron run.
//!
//! The child is the same command cron runs, under the same environment lock, so the two never
//! apply a patch twice. Per environment at most one child runs and one more is requested: a post
//! that arrives while a run is under way only marks the environment dirty, and the run that
//! follows takes everything queued by then, so a burst of a thousand posts causes a few runs. The
//! child runs with `--wait`, so one that finds the lock held (cron, an operator) takes it as soon
//! as it is released rather than exiting 75 and leaving its patch for the next sweep. A thread per
//! running child waits for it (no zombies) and wakes whoever waits on the environment's runs; a
//! watch on the environment's applied/ and failed/ wakes them as each patch settles.
//! Modes rule: only in `auto`, and not where the environment requires approval, does an arrival
//! start a run; an approval (not an arrival) may start one in `manual` too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::config::Settings;
use crate::store::Home;
use crate::store::fs::ensure_dir;
use crate::store::mode::{self, Mode};
use crate::store::queue::State;
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
    /// Child runs finished plus patches seen settling so far: a waiter that saw N knows
    /// something happened once it reads more.
    progress: u64,
}

/// One environment's runs and the condition its waiters sleep on.
#[derive(Debug, Default)]
struct EnvRuns {
    runs: Mutex<Runs>,
    ended: Condvar,
    /// The watcher of the environment's applied/ and failed/, started by the first waiter.
    watching: OnceLock<()>,
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

    /// How many runs of `env` have finished and patches of it settled (as far as the watcher
    /// saw); `None` for an environment it does not know.
    pub(crate) fn progress(&self, env: &str) -> Option<u64> {
        self.0.envs.get(env).map(|slot| lock(&slot.runs).progress)
    }

    /// Sleep until `env` progresses past `seen` (a run ends, a patch settles), or `timeout`
    /// passes. The first call for an environment starts watching its settled patches, so a
    /// patch settled mid-run wakes its waiter at once rather than at its next look.
    pub(crate) fn wait_for_progress(&self, env: &str, seen: u64, timeout: Duration) {
        let Some(slot) = self.0.envs.get(env) else {
            std::thread::sleep(timeout);
            return;
        };
        slot.watching.get_or_init(|| {
            let (inner, name) = (self.0.clone(), env.to_string());
            let spawned =
                std::thread::Builder::new().name(format!("settled-{env}")).stack_size(64 << 10).spawn(move || {
                    let Err(e) = inner.watch(&name);
                    // The waiters still look at the queue between sleeps: slower, not stuck.
                    log_watch(&name, &e);
                });
            if let Err(e) = spawned {
                log_watch(env, &anyhow::Error::new(e).context("could not start the watcher thread"));
            }
        });
        let runs = lock(&slot.runs);
        let _ = slot.ended.wait_timeout_while(runs, timeout, |r| r.progress == seen);
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
            runs.progress += 1;
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

impl Inner {
    /// Wake the environment's waiters each time a patch lands in applied/ or failed/ (the last
    /// move of a settle, whoever made it: a run started here, cron, an operator). Returns only
    /// on an error.
    fn watch(&self, env: &str) -> Result<std::convert::Infallible> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let home = Home::new(&self.home_dir);
        let fd = inotify::init(CreateFlags::CLOEXEC).context("could not start watching the queue (inotify)")?;
        for state in [State::Applied, State::Failed] {
            let dir = home.queue_dir(env, state);
            // Made now if missing, so there is something to watch; a run would make it anyway.
            ensure_dir(&dir)?;
            inotify::add_watch(&fd, &dir, WatchFlags::MOVED_TO | WatchFlags::ONLYDIR)
                .with_context(|| format!("could not watch {}", dir.display()))?;
        }
        let slot = &self.envs[env];
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut events = inotify::Reader::new(&fd, &mut buf);
        loop {
            events.next().context("could not read the queue watch")?;
            lock(&slot.runs).progress += 1;
            slot.ended.notify_all();
        }
    }
}

fn log_watch(env: &str, error: &anyhow::Error) {
    eprintln!(
        "{}",
        json!({
            "time": rfc3339::format(&chrono::Utc::now()),
            "event": "settle-watch",
            "env": env,
            "error": format!("{error:#}"),
        })
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_patch_moved_to_applied_or_failed_wakes_the_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("runner.toml");
        std::fs::write(&config, "home = \"home\"\n[env.main]\ntree = \"tree\"\n").unwrap();
        let settings = Settings::from_toml(&std::fs::read_to_string(&config).unwrap(), Some(&config)).unwrap();
        let kicker = Kicker::new(&settings, false).unwrap();
        let home = Home::new(&settings.home);
        let seen = kicker.progress("main").unwrap();
        // The first wait starts the watch (and makes the directories it watches).
        kicker.wait_for_progress("main", seen, Duration::from_millis(1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !home.queue_dir("main", State::Failed).is_dir() {
            assert!(Instant::now() < deadline, "the watch never made failed/");
            std::thread::sleep(Duration::from_millis(5));
        }
        for (n, state) in [State::Applied, State::Failed].into_iter().enumerate() {
            let staged = dir.path().join(format!("p{n}.json"));
            std::fs::write(&staged, "{}").unwrap();
            std::fs::rename(&staged, home.queue_dir("main", state).join(format!("p{n}.json"))).unwrap();
            // Woken by the move, or the deadline says the watch missed it.
            while kicker.progress("main").unwrap() <= seen + n as u64 {
                assert!(Instant::now() < deadline, "no wake-up for a patch moved to {state}");
                kicker.wait_for_progress("main", seen + n as u64, Duration::from_millis(100));
            }
        }
    }
}
