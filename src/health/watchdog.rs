//! One watchdog cycle for one component: settle what a killed run left, probe it, decide (see
//! `circuit`), and act — stop what is left of it, start it detached, wait for its check to pass
//! and for it to stay up `start_secs` — recording what was done in its state, the audit log and,
//! when the circuit opens or closes, a Slack alert.
//!
//! The state is written ahead of every act (the [`Journal`]): the start time for the budget and
//! a token for the process about to start before anything is stopped, the new pid as soon as it
//! exists. A run killed at any instant leaves the next one able to find what it started.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::circuit::{self, Circuit, ComponentState, Decision, Seen};
use super::launch;
use super::probe::{self, Env, Verdict};
use super::procfs::{self, Identity};
use super::state::Time;
use crate::config::{CheckConfig, ComponentConfig};
use crate::notify;
use crate::store::events::{self, Event};
use crate::store::{Home, atomic};

/// What this cycle did to one component (`as_str` is also its JSON form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    None,
    Restarted,
    RestartFailed,
    BackingOff,
    CircuitOpened,
    CircuitOpen,
    CircuitClosed,
    Reopened,
    /// `--dry-run`: the restart that would have happened.
    WouldRestart,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Restarted => "restarted",
            Action::RestartFailed => "restart-failed",
            Action::BackingOff => "backing-off",
            Action::CircuitOpened => "circuit-opened",
            Action::CircuitOpen => "circuit-open",
            Action::CircuitClosed => "circuit-closed",
            Action::Reopened => "reopened",
            Action::WouldRestart => "would-restart",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ComponentReport {
    pub name: String,
    pub state: Circuit,
    pub healthy: bool,
    pub action: Action,
    pub pid: Option<u32>,
    pub restarts: u32,
    pub message: String,
}

/// `state/watchdog.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WatchdogFile {
    pub components: std::collections::BTreeMap<String, ComponentState>,
}

/// The environment variable every started component gets, holding its start's token (see
/// [`ComponentState::pending_start`]).
pub(crate) const START_VAR: &str = "RUNNER_WATCHDOG_START";

/// The start of the [`START_VAR`] entry in the environment of every process started for
/// `component` (its tokens are `<component>.<watchdog pid>.<time>`; names hold no dot).
pub(crate) fn started_for(component: &str) -> String {
    format!("{START_VAR}={component}.")
}

/// The live process in `component`'s pidfile, if the watchdog started it for that component:
/// how a run whose state was lost (set aside as unreadable) still knows its own instance.
pub(crate) fn pidfile_instance(home: &Home, component: &ComponentConfig) -> Option<Identity> {
    let pid = procfs::read_pidfile(&home.root().join(component.pidfile())).ok()?;
    procfs::identify(pid).filter(|_| procfs::env_starts_with(pid, &started_for(&component.name)))
}

/// `state/watchdog.json` as the cycles change it: each [`Journal::record`] writes the whole
/// file atomically, so what the threads have done so far is on disk before they act further.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<WatchdogFile>,
    /// False for `--dry-run`, which writes nothing.
    write: bool,
}

impl Journal {
    pub(crate) fn new(path: PathBuf, file: WatchdogFile, write: bool) -> Journal {
        Journal { path, file: Mutex::new(file), write }
    }

    /// The remembered state of `name` (the default for a component never seen).
    pub(crate) fn get(&self, name: &str) -> ComponentState {
        self.lock().components.get(name).cloned().unwrap_or_default()
    }

    /// Remember `state` for `name`, on disk before this returns.
    pub(crate) fn record(&self, name: &str, state: &ComponentState) -> Result<()> {
        if !self.write {
            return Ok(());
        }
        let mut file = self.lock();
        file.components.insert(name.to_string(), state.clone());
        atomic::write_json(&self.path, &*file)
    }

    pub(crate) fn into_file(self) -> WatchdogFile {
        self.file.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchdogFile> {
        // A panicked cycle leaves the map as consistent as any other moment: each insert is whole.
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Test hook: `RUNNER_TEST_WATCHDOG_KILL_AT=<point>` makes the watchdog SIGKILL itself at that
/// point of a restart (`before-stop`, `after-stop`, `after-spawn`, `after-record`), so the tests
/// can show that a run killed there leaves the next run nothing it cannot settle.
fn kill_point(point: &str) {
    if std::env::var_os("RUNNER_TEST_WATCHDOG_KILL_AT").is_some_and(|v| v == point) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

/// The first error of a cycle; later ones are dropped (the first says what broke).
#[derive(Default)]
struct Trouble(Option<anyhow::Error>);

impl Trouble {
    fn keep(&mut self, r: Result<()>) {
        if let Err(e) = r {
            self.0.get_or_insert(e);
        }
    }
}

/// The process group the watchdog started and recorded, if any.
fn ours(state: &ComponentState) -> Option<Identity> {
    state.pid.zip(state.start_ticks).map(|(pid, start_ticks)| Identity { pid, start_ticks })
}

/// A restart asked for from Slack (`/restart-runner <component>`), as the webhook writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Request {
    pub requested_by: Option<String>,
    pub time: Option<String>,
}

impl Request {
    /// The request file for `name`, if there is one. An unreadable body still counts as a
    /// request: the file's presence is the request.
    pub(crate) fn take(home: &Home, name: &str) -> Option<Request> {
        let bytes = std::fs::read(request_path(home, name)).ok()?;
        Some(serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn actor(&self) -> String {
        match self.requested_by.as_deref() {
            Some(who) if who.contains(':') => who.to_string(),
            Some(who) => format!("slack:{who}"),
            None => "slack".to_string(),
        }
    }
}

pub(crate) fn request_path(home: &Home, name: &str) -> PathBuf {
    home.restart_requests_dir().join(name)
}

/// Everything a component's cycle needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cycle<'a> {
    pub env: Env<'a>,
    pub dry_run: bool,
    pub journal: &'a Journal,
}

impl Cycle<'_> {
    /// Run one cycle for `component`, starting from `state`. Returns the new state and report
    /// even when recording something failed (the audit log, an alert, the request file): what
    /// was done to processes must be remembered, so the error comes back beside them.
    pub(crate) fn run(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        mut state: ComponentState,
        request: Option<Request>,
    ) -> (ComponentState, ComponentReport, Option<anyhow::Error>) {
        let mut trouble = Trouble::default();
        if !self.dry_run {
            trouble.keep(self.settle(component, &mut state));
        }
        let now = Time::now();
        let verdict = self.health(component, check, &state);
        let seen = Seen { healthy: verdict.ok, settled: settled(component, &state), requested: request.is_some() };
        let decision = circuit::decide(&state, component, now, seen);
        state.healthy = verdict.ok;
        state.last_check = Some(now);
        state.message = verdict.message.clone();
        let (action, acted) = self.act(component, check, &mut state, decision, &verdict, request.as_ref());
        trouble.keep(acted.0.map_or(Ok(()), Err));
        if let Some(request) = &request
            && !self.dry_run
        {
            trouble.keep(self.answer(component, &mut state, decision, request, now));
        }
        state.restart_times = circuit::recent(&state, component, now);
        state.restarts = state.restart_times.len() as u32;
        let report = ComponentReport {
            name: component.name.clone(),
            state: state.state,
            healthy: state.healthy,
            action,
            pid: state.pid,
            restarts: state.restarts,
            message: state.message.clone(),
        };
        (state, report, trouble.0)
    }

    /// A start a killed run began and could not write down: find the process by its token and
    /// take it as the component's, stopping the one it was to replace if that still runs.
    ///
    /// Likewise a state that lost its record (set aside as unreadable, deleted) while the
    /// component runs: the process in its pidfile that the watchdog started for it is taken back.
    fn settle(&self, component: &ComponentConfig, state: &mut ComponentState) -> Result<()> {
        if state.pending_start.is_none()
            && !ours(state).is_some_and(procfs::alive)
            && let Some(found) = pidfile_instance(self.env.home, component)
        {
            return self.adopt(component, state, found).and(self.journal.record(&component.name, state));
        }
        let Some(token) = state.pending_start.take() else { return Ok(()) };
        let mut result = Ok(());
        if let Some(found) = procfs::find_by_env(&token) {
            if let Some(old) = ours(state).filter(|old| *old != found) {
                result = procfs::stop_group(old, component.stop_grace()).map(drop);
            }
            let pidfile = self.env.home.root().join(component.pidfile());
            result = result
                .and(atomic::write(&pidfile, format!("{}\n", found.pid).as_bytes()))
                .and(self.adopt(component, state, found));
        }
        result.and(self.journal.record(&component.name, state))
    }

    /// Take `found` as the component's instance, on the record.
    fn adopt(&self, component: &ComponentConfig, state: &mut ComponentState, found: Identity) -> Result<()> {
        (state.pid, state.start_ticks) = (Some(found.pid), Some(found.start_ticks));
        let event =
            Event::new("watchdog", "component.adopt").with("component", component.name.as_str()).with("pid", found.pid);
        events::append(self.env.home, &event)
    }

    /// Carry out `decision`; returns what was done, and the first thing that could not be
    /// recorded.
    fn act(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        state: &mut ComponentState,
        decision: Decision,
        verdict: &Verdict,
        request: Option<&Request>,
    ) -> (Action, Trouble) {
        let mut trouble = Trouble::default();
        let now = state.last_check.unwrap_or_else(Time::now);
        let action = match decision {
            Decision::Nothing if state.state != Circuit::Closed && verdict.ok => {
                state.message = format!(
                    "{}; circuit closes once it has been up {}",
                    verdict.message,
                    human(component.start_secs())
                );
                Action::None
            }
            Decision::Nothing => Action::None,
            Decision::Close if self.dry_run => Action::CircuitClosed,
            Decision::Close => {
                trouble.keep(self.close(component, state, verdict));
                Action::CircuitClosed
            }
            Decision::Backoff { until } => {
                state.message = format!("{}; next restart after {}s", verdict.message, now.secs_until(until));
                Action::BackingOff
            }
            Decision::Cooldown { until } => {
                state.message =
                    format!("{}; circuit open, trial restart in {}s", verdict.message, now.secs_until(until));
                Action::CircuitOpen
            }
            Decision::Open if self.dry_run => Action::CircuitOpened,
            Decision::Open => {
                trouble.keep(self.open(component, state, verdict, now));
                Action::CircuitOpened
            }
            Decision::Reopen if self.dry_run => Action::Reopened,
            Decision::Reopen => {
                state.state = Circuit::Open;
                state.opened_at = Some(now);
                let event = Event::new("watchdog", "component.circuit-reopen")
                    .with("component", component.name.as_str())
                    .with("message", verdict.message.as_str());
                trouble.keep(events::append(self.env.home, &event));
                Action::Reopened
            }
            Decision::Restart { .. } if self.dry_run => Action::WouldRestart,
            Decision::Restart { trial } => {
                let reason = if request.is_some() { "requested".to_string() } else { verdict.message.clone() };
                let after = self.restart(component, check, state, trial);
                let mut event = Event::new("watchdog", "component.restart")
                    .with("component", component.name.as_str())
                    .with("reason", reason)
                    .with("trial", trial)
                    .with("healthy", after.ok)
                    .with("message", after.message.as_str());
                if let Some(request) = request {
                    event.actor = request.actor();
                }
                if let Some(pid) = state.pid {
                    event = event.with("pid", pid);
                }
                trouble.keep(events::append(self.env.home, &event));
                state.healthy = after.ok;
                state.message = after.message.clone();
                if after.ok && trial {
                    trouble.keep(self.close(component, state, &after));
                }
                if after.ok { Action::Restarted } else { Action::RestartFailed }
            }
        };
        (action, trouble)
    }

    /// A restart request not carried out is refused on the record, saying why; either way the
    /// request file goes.
    fn answer(
        &self,
        component: &ComponentConfig,
        state: &mut ComponentState,
        decision: Decision,
        request: &Request,
        now: Time,
    ) -> Result<()> {
        let mut result = Ok(());
        if !matches!(decision, Decision::Restart { .. }) {
            let room = circuit::room_at(state, component, now);
            let why = if room > now {
                format!(
                    "the restart budget is spent ({} starts within {}); the next start is possible in {}s",
                    circuit::recent(state, component, now).len(),
                    human(component.window()),
                    now.secs_until(room)
                )
            } else {
                format!("the circuit is {}", state.state.as_str())
            };
            state.message = format!("{}; restart request refused: {why}", state.message);
            let mut event = Event::new("watchdog", "component.restart-refused")
                .with("component", component.name.as_str())
                .with("circuit", state.state.as_str())
                .with("reason", why);
            event.actor = request.actor();
            result = events::append(self.env.home, &event);
        }
        result.and(atomic::remove(&request_path(self.env.home, &component.name)))
    }

    /// The check, and the component's own memory and CPU limits on the process group the
    /// watchdog started (summed over its members).
    fn health(&self, component: &ComponentConfig, check: &CheckConfig, state: &ComponentState) -> Verdict {
        let mut verdict = probe::run(check, self.env);
        if verdict.ok
            && (component.memory_limit.is_some() || component.cpu_limit.is_some())
            && let Some(id) = ours(state).filter(|id| procfs::alive(*id))
            && let Err(why) = probe::process_limits(id.pid, component.memory_limit, component.cpu_limit)
        {
            verdict.ok = false;
            verdict.message = why;
        }
        verdict
    }

    /// The budget is spent: open the circuit and send the one alert.
    fn open(
        &self,
        component: &ComponentConfig,
        state: &mut ComponentState,
        verdict: &Verdict,
        now: Time,
    ) -> Result<()> {
        state.state = Circuit::Open;
        state.opened_at = Some(now);
        let home = self.env.home;
        events::append(
            home,
            &Event::new("watchdog", "component.circuit-open")
                .with("component", component.name.as_str())
                .with("message", verdict.message.as_str()),
        )?;
        let times = match circuit::recent(state, component, now).len() {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        let trial =
            state.opened_at.unwrap_or(now).plus(component.cooldown()).max(circuit::room_at(state, component, now));
        let text = format!(
            ":rotating_light: component `{}` was restarted {times} within {} and is still unhealthy: {}. \
             Restarts are stopped; one trial restart in {}s.",
            component.name,
            human(component.window()),
            verdict.message,
            now.secs_until(trial),
        );
        notify::send(self.env.settings, home, "watchdog", &text).map(drop)
    }

    /// Healthy again, and up `start_secs`, after an open or half-open circuit: close it and say
    /// so. The starts stay counted in their window.
    fn close(&self, component: &ComponentConfig, state: &mut ComponentState, verdict: &Verdict) -> Result<()> {
        let was = state.state;
        state.state = Circuit::Closed;
        state.opened_at = None;
        if was != Circuit::Closed {
            let home = self.env.home;
            events::append(
                home,
                &Event::new("watchdog", "component.circuit-closed").with("component", component.name.as_str()),
            )?;
            let text = format!(
                ":large_green_circle: component `{}` is healthy again ({}); circuit closed",
                component.name, verdict.message
            );
            notify::send(self.env.settings, home, "watchdog", &text)?;
        }
        Ok(())
    }

    /// Stop what is left of the component, start it, wait for its check and `start_secs`. The
    /// attempt counts against the budget whether or not it works, so a component that cannot
    /// start at all still opens the circuit. Each step is in the journal before the next acts.
    fn restart(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        state: &mut ComponentState,
        trial: bool,
    ) -> Verdict {
        let failed = |message: String| Verdict { ok: false, message, duration_ms: 0 };
        let now = Time::now();
        state.restart_times.push(now);
        state.last_restart = Some(now);
        if trial {
            state.state = Circuit::HalfOpen;
        }
        let value = format!("{}.{}.{}", component.name, std::process::id(), now.0.timestamp_micros());
        state.pending_start = Some(format!("{START_VAR}={value}"));
        if let Err(e) = self.journal.record(&component.name, state) {
            state.pending_start = None;
            return failed(format!("not restarted: {e:#}"));
        }
        kill_point("before-stop");
        let mut notes = self.stop(component, state);
        kill_point("after-stop");
        let home = self.env.home.root();
        let mut env: Vec<(&str, &OsStr)> = vec![("RUNNER_HOME", home.as_os_str()), (START_VAR, OsStr::new(&value))];
        if let Some(source) = &self.env.settings.source {
            env.push(("RUNNER_CONFIG", source.as_os_str()));
        }
        let log = home.join(component.log());
        let started = launch::start_detached(&component.start, &self.env.base_dir(), &log, &env);
        kill_point("after-spawn");
        state.pending_start = None;
        let (mut child, id) = match started {
            Ok(started) => started,
            Err(e) => {
                (state.pid, state.start_ticks) = (None, None);
                notes.insert(0, format!("{e:#}"));
                if let Err(e) = self.journal.record(&component.name, state) {
                    notes.push(format!("{e:#}"));
                }
                return failed(notes.join("; "));
            }
        };
        (state.pid, state.start_ticks) = (Some(id.pid), Some(id.start_ticks));
        let pidfile = home.join(component.pidfile());
        for recorded in
            [self.journal.record(&component.name, state), atomic::write(&pidfile, format!("{}\n", id.pid).as_bytes())]
        {
            if let Err(e) = recorded {
                notes.push(format!("{e:#}"));
            }
        }
        kill_point("after-record");
        let mut verdict = self.wait_healthy(component, check, state, &mut child, &log);
        if !notes.is_empty() {
            verdict.message = format!("{}; {}", verdict.message, notes.join("; "));
        }
        verdict
    }

    /// Run the `stop` command, then stop the process group the watchdog started (never one it
    /// merely finds in the pidfile). Returns what went wrong, as notes.
    fn stop(&self, component: &ComponentConfig, state: &ComponentState) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(stop) = &component.stop {
            match launch::run_with_timeout(stop, &self.env.base_dir(), component.stop_grace()) {
                Ok(f) if f.status.is_some_and(|s| s.success()) => {}
                Ok(f) => notes.push(format!(
                    "stop command {}: {}",
                    f.status.map_or("timed out".to_string(), |s| s.to_string()),
                    f.output.trim()
                )),
                Err(e) => notes.push(format!("{e:#}")),
            }
        }
        let ours = ours(state);
        if let Ok(pid) = procfs::read_pidfile(&self.env.home.root().join(component.pidfile()))
            && procfs::identify(pid).is_some()
            && !ours.is_some_and(|id| id.pid == pid && procfs::alive(id))
        {
            notes.push(format!("left pid {pid} alone: the pidfile names a process the watchdog did not start"));
        }
        if let Some(id) = ours
            && let Err(e) = procfs::stop_group(id, component.stop_grace())
        {
            notes.push(format!("{e:#}"));
        }
        notes
    }

    /// Probe until the check passes with the process up `start_secs`, the process exits, or
    /// `start_timeout` (at least `start_secs`) runs out.
    fn wait_healthy(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        state: &ComponentState,
        child: &mut Child,
        log: &std::path::Path,
    ) -> Verdict {
        let started = Instant::now();
        let start_secs = component.start_secs();
        let deadline = started + component.start_timeout().max(start_secs);
        let mut pause = Duration::from_millis(10);
        loop {
            let verdict = self.health(component, check, state);
            // Asked after the probe, so a process that passed its check while on its way out
            // (a pidfile check sees it alive for an instant) is not taken for healthy.
            if let Ok(Some(status)) = child.try_wait() {
                let message = format!(
                    "it exited ({status}) after {}ms, before it had been up {}; see {}",
                    started.elapsed().as_millis(),
                    human(start_secs),
                    log.display()
                );
                return Verdict { ok: false, message, duration_ms: started.elapsed().as_millis() as u64 };
            }
            let up = started.elapsed();
            if (verdict.ok && up >= start_secs) || Instant::now() + pause > deadline {
                let message = if verdict.ok {
                    format!(
                        "started pid {}, healthy and up after {}ms: {}",
                        child.id(),
                        up.as_millis(),
                        verdict.message
                    )
                } else {
                    format!(
                        "started pid {}, not healthy within {}: {}",
                        child.id(),
                        human(component.start_timeout()),
                        verdict.message
                    )
                };
                return Verdict { ok: verdict.ok, message, duration_ms: up.as_millis() as u64 };
            }
            // Healthy early: look again when start_secs is up, not before.
            std::thread::sleep(if verdict.ok { start_secs.saturating_sub(up).max(pause) } else { pause });
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

/// Closing the circuit needs what a successful start needs: the process the watchdog started
/// (if it still runs) has been up `start_secs`.
fn settled(component: &ComponentConfig, state: &ComponentState) -> bool {
    match ours(state).filter(|id| procfs::alive(*id)) {
        Some(id) => procfs::age(id).is_some_and(|age| age >= component.start_secs()),
        None => true,
    }
}

fn human(d: Duration) -> crate::config::units::Duration {
    crate::config::units::Duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_match_the_json() {
        use Action::*;
        let all = [
            None,
            Restarted,
            RestartFailed,
            BackingOff,
            CircuitOpened,
            CircuitOpen,
            CircuitClosed,
            Reopened,
            WouldRestart,
        ];
        for a in all {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }

    #[test]
    fn request_actors() {
        let req = |who: Option<&str>| Request { requested_by: who.map(str::to_string), time: Option::None };
        assert_eq!(req(Some("U012")).actor(), "slack:U012");
        assert_eq!(req(Some("slack:U012")).actor(), "slack:U012");
        assert_eq!(req(Option::None).actor(), "slack");
    }
}
