//! One watchdog cycle for one component: probe it, decide (see `circuit`), and act — stop what
//! is left of it, start it detached, wait for its check to pass — recording what was done in
//! its state, the audit log and, when the circuit opens or closes, a Slack alert.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::circuit::{self, Circuit, ComponentState, Decision};
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
pub enum Action {
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
    pub fn as_str(self) -> &'static str {
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
pub struct ComponentReport {
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
pub struct WatchdogFile {
    pub components: std::collections::BTreeMap<String, ComponentState>,
}

/// A restart asked for from Slack (`/restart-runner <component>`), as the webhook writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Request {
    pub requested_by: Option<String>,
    pub time: Option<String>,
}

impl Request {
    /// The request file for `name`, if there is one. An unreadable body still counts as a
    /// request: the file's presence is the request.
    pub fn take(home: &Home, name: &str) -> Option<Request> {
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

pub fn request_path(home: &Home, name: &str) -> PathBuf {
    home.restart_requests_dir().join(name)
}

/// Everything a component's cycle needs.
#[derive(Debug, Clone, Copy)]
pub struct Cycle<'a> {
    pub env: Env<'a>,
    pub dry_run: bool,
}

impl Cycle<'_> {
    /// Run one cycle for `component`, starting from `state`. Returns the new state and report
    /// even when recording something failed (the audit log, an alert, the request file): what
    /// was done to processes must be remembered, so the error comes back beside them.
    pub fn run(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        mut state: ComponentState,
        request: Option<Request>,
    ) -> (ComponentState, ComponentReport, Option<anyhow::Error>) {
        let home = self.env.home;
        let mut failed = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        };
        let now = Time::now();
        let verdict = self.health(component, check);
        let decision = circuit::decide(&state, component, now, verdict.ok, request.is_some());
        state.healthy = verdict.ok;
        state.last_check = Some(now);
        state.message = verdict.message.clone();
        let event = |action: &str| Event::new("watchdog", action).with("component", component.name.as_str());
        let action = match decision {
            Decision::Nothing => Action::None,
            Decision::Close if self.dry_run => Action::CircuitClosed,
            Decision::Close => {
                keep(self.close(component, &mut state, &verdict));
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
                keep(self.open(component, &mut state, &verdict, now));
                Action::CircuitOpened
            }
            Decision::Reopen if self.dry_run => Action::Reopened,
            Decision::Reopen => {
                state.state = Circuit::Open;
                state.opened_at = Some(now);
                keep(events::append(
                    home,
                    &event("component.circuit-reopen").with("message", verdict.message.as_str()),
                ));
                Action::Reopened
            }
            Decision::Restart { .. } if self.dry_run => Action::WouldRestart,
            Decision::Restart { trial } => {
                let reason = match &request {
                    Some(_) => "requested".to_string(),
                    None => verdict.message.clone(),
                };
                let after = self.restart(component, check, &mut state, trial);
                let mut ev = event("component.restart")
                    .with("reason", reason)
                    .with("trial", trial)
                    .with("healthy", after.ok)
                    .with("message", after.message.as_str());
                if let Some(req) = &request {
                    ev.actor = req.actor();
                }
                if let Some(pid) = state.pid {
                    ev = ev.with("pid", pid);
                }
                keep(events::append(home, &ev));
                state.healthy = after.ok;
                state.message = after.message.clone();
                if after.ok && trial {
                    keep(self.close(component, &mut state, &after));
                }
                if after.ok { Action::Restarted } else { Action::RestartFailed }
            }
        };
        if request.is_some() && !self.dry_run {
            if !matches!(decision, Decision::Restart { .. }) {
                let mut ev = event("component.restart-refused").with("circuit", state.state.as_str());
                ev.actor = request.as_ref().map(Request::actor).unwrap_or_default();
                keep(events::append(home, &ev));
            }
            keep(atomic::remove(&request_path(home, &component.name)));
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
        (state, report, failed)
    }

    /// The check, and the component's own memory and CPU limits on the process in its pidfile.
    fn health(&self, component: &ComponentConfig, check: &CheckConfig) -> Verdict {
        let mut verdict = probe::run(check, self.env);
        if verdict.ok
            && (component.memory_limit.is_some() || component.cpu_limit.is_some())
            && let Ok(pid) = procfs::read_pidfile(&self.env.home.root().join(component.pidfile()))
            && let Err(why) = probe::process_limits(pid, component.memory_limit, component.cpu_limit)
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
        use crate::config::units::Duration as Human;
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
        let text = format!(
            ":rotating_light: component `{}` was restarted {times} within {} and is still unhealthy: {}. \
             Restarts are stopped; one trial restart in {}.",
            component.name,
            Human(component.window()),
            verdict.message,
            Human(component.cooldown()),
        );
        notify::send(self.env.settings, home, "watchdog", &text).map(drop)
    }

    /// Healthy again after an open or half-open circuit: close it, reset the count, say so.
    fn close(&self, component: &ComponentConfig, state: &mut ComponentState, verdict: &Verdict) -> Result<()> {
        let was = state.state;
        state.state = Circuit::Closed;
        state.opened_at = None;
        state.restart_times.clear();
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

    /// Stop what is left of the component, start it, wait for its check. The attempt counts
    /// against the budget whether or not it works, so a component that cannot start at all
    /// still opens the circuit.
    fn restart(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        state: &mut ComponentState,
        trial: bool,
    ) -> Verdict {
        let home = self.env.home.root();
        let base = self.env.base_dir();
        let now = Time::now();
        state.restart_times.push(now);
        state.last_restart = Some(now);
        if trial {
            state.state = Circuit::HalfOpen;
        }
        let mut notes = Vec::new();
        if let Some(stop) = &component.stop {
            match launch::run_with_timeout(stop, &base, component.stop_grace()) {
                Ok(f) if f.status.is_some_and(|s| s.success()) => {}
                Ok(f) => notes.push(format!(
                    "stop command {}: {}",
                    f.status.map_or("timed out".to_string(), |s| s.to_string()),
                    f.output.trim()
                )),
                Err(e) => notes.push(format!("{e:#}")),
            }
        }
        let ours = state.pid.zip(state.start_ticks).map(|(pid, start_ticks)| Identity { pid, start_ticks });
        let pidfile = home.join(component.pidfile());
        if let Ok(pid) = procfs::read_pidfile(&pidfile)
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
        let mut env: Vec<(&str, &std::path::Path)> = vec![("RUNNER_HOME", home)];
        if let Some(source) = &self.env.settings.source {
            env.push(("RUNNER_CONFIG", source));
        }
        let log = home.join(component.log());
        let (mut child, id) = match launch::start_detached(&component.start, &base, &log, &env) {
            Ok(started) => started,
            Err(e) => {
                (state.pid, state.start_ticks) = (None, None);
                notes.insert(0, format!("{e:#}"));
                return Verdict { ok: false, message: notes.join("; "), duration_ms: 0 };
            }
        };
        // Remembered before anything else can fail, so the next cycle can still stop it.
        (state.pid, state.start_ticks) = (Some(id.pid), Some(id.start_ticks));
        if let Err(e) = atomic::write(&pidfile, format!("{}\n", id.pid).as_bytes()) {
            notes.push(format!("{e:#}"));
        }
        let mut verdict = self.wait_healthy(component, check, &mut child, &log);
        if !notes.is_empty() {
            verdict.message = format!("{}; {}", verdict.message, notes.join("; "));
        }
        verdict
    }

    /// Probe until the check passes, the process exits, or `start_timeout` runs out.
    fn wait_healthy(
        &self,
        component: &ComponentConfig,
        check: &CheckConfig,
        child: &mut Child,
        log: &std::path::Path,
    ) -> Verdict {
        let started = Instant::now();
        let deadline = started + component.start_timeout();
        let mut pause = Duration::from_millis(10);
        loop {
            let verdict = self.health(component, check);
            // Asked after the probe, so a process that passed its check while on its way out
            // (a pidfile check sees it alive for an instant) is not taken for healthy.
            if let Ok(Some(status)) = child.try_wait() {
                let message = format!("it exited ({status}) while starting; see {}", log.display());
                return Verdict { ok: false, message, duration_ms: started.elapsed().as_millis() as u64 };
            }
            if verdict.ok || Instant::now() + pause > deadline {
                let message = if verdict.ok {
                    format!(
                        "started pid {}, healthy after {}ms: {}",
                        child.id(),
                        started.elapsed().as_millis(),
                        verdict.message
                    )
                } else {
                    format!(
                        "started pid {}, not healthy within {}: {}",
                        child.id(),
                        crate::config::units::Duration(component.start_timeout()),
                        verdict.message
                    )
                };
                return Verdict { ok: verdict.ok, message, duration_ms: started.elapsed().as_millis() as u64 };
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
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
