//! The restart budget and circuit breaker of one component, as a pure decision: given what is
//! remembered, the time, and whether the component is healthy or a restart was requested, what
//! should this cycle do? (monit's "N restarts within M cycles", with growing backoff between
//! attempts and a half-open trial after a cooldown.)

use serde::{Deserialize, Serialize};

use super::state::Time;
use crate::config::ComponentConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Circuit {
    /// Restarts allowed within the budget.
    #[default]
    Closed,
    /// Budget spent: no restarts until the cooldown is over.
    Open,
    /// One trial restart was made after the cooldown; its verdict is pending.
    HalfOpen,
}

impl Circuit {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open => "open",
            Circuit::HalfOpen => "half-open",
        }
    }
}

/// What is remembered of one component between runs (`state/watchdog.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ComponentState {
    pub state: Circuit,
    pub healthy: bool,
    /// The process the watchdog last started, and its start time (clock ticks after boot): the
    /// pair is checked before any signal is sent, so a reused pid is never killed.
    pub pid: Option<u32>,
    pub start_ticks: Option<u64>,
    /// Written before a start, cleared once its pid is recorded: `RUNNER_WATCHDOG_START=<token>`
    /// as the started process's environment holds it, by which the next run finds a process a
    /// killed run started but could not write down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_start: Option<String>,
    /// Starts within the current window (trials and requested ones included).
    pub restarts: u32,
    pub restart_times: Vec<Time>,
    pub last_restart: Option<Time>,
    pub last_check: Option<Time>,
    pub opened_at: Option<Time>,
    /// The last probe's reason, or why nothing was done.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Healthy and closed (or healthy, but not yet up `start_secs`).
    Nothing,
    /// Healthy again, up at least `start_secs`, after the circuit was open or half-open: close it.
    Close,
    /// Stop and start the component; `trial` when it is the half-open attempt.
    Restart { trial: bool },
    /// Within budget, but the last restart was too recent.
    Backoff { until: Time },
    /// The budget is spent: open the circuit (and alert, once).
    Open,
    /// The half-open trial did not bring it back: open again, quietly.
    Reopen,
    /// Open, waiting for the cooldown to end and for the window to have room.
    Cooldown { until: Time },
}

/// What this cycle saw of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Its check passed (and its limits held).
    pub healthy: bool,
    /// The process the watchdog started has been up `start_secs`, or it started none.
    pub settled: bool,
    /// A restart was asked for (Slack's /restart-runner).
    pub requested: bool,
}

/// Starts within `window` before `now`.
pub(crate) fn recent(state: &ComponentState, config: &ComponentConfig, now: Time) -> Vec<Time> {
    let since = now.minus(config.window());
    state.restart_times.iter().copied().filter(|t| *t > since).collect()
}

/// When the window next has room for a start: `now` if it has room already, else when enough
/// of its oldest starts have left it.
pub(crate) fn room_at(state: &ComponentState, config: &ComponentConfig, now: Time) -> Time {
    let mut recent = recent(state, config, now);
    let max = config.max_restarts() as usize;
    if recent.len() < max {
        return now;
    }
    recent.sort();
    recent[recent.len() - max].plus(config.window())
}

/// The wait after the `n`th restart in the window: `backoff`, doubled each time, capped at the window.
pub(crate) fn backoff_after(config: &ComponentConfig, n: usize) -> std::time::Duration {
    if n == 0 {
        return std::time::Duration::ZERO;
    }
    let factor = 1u32 << (n - 1).min(16);
    config.backoff().saturating_mul(factor).min(config.window())
}

/// Decide this cycle's action. Every start counts against the window, whatever its kind, so no
/// window ever holds more than `max_restarts` starts. A request (Slack's /restart-runner) skips
/// the backoff and, on an open circuit, the cooldown; with no room in the window it is refused
/// and the decision is the one without it — a request never changes the circuit by itself.
pub(crate) fn decide(state: &ComponentState, config: &ComponentConfig, now: Time, seen: Seen) -> Decision {
    let room = room_at(state, config, now) <= now;
    let requested = seen.requested && room;
    let trial = state.state != Circuit::Closed;
    if seen.healthy {
        return if requested {
            Decision::Restart { trial }
        } else if trial && seen.settled {
            Decision::Close
        } else {
            Decision::Nothing
        };
    }
    match state.state {
        Circuit::Open => {
            let cooled = state.opened_at.unwrap_or(now).plus(config.cooldown());
            let until = cooled.max(room_at(state, config, now));
            if requested || now >= until { Decision::Restart { trial: true } } else { Decision::Cooldown { until } }
        }
        Circuit::HalfOpen => Decision::Reopen,
        Circuit::Closed if !room => Decision::Open,
        Circuit::Closed => {
            let recent = recent(state, config, now);
            if !requested && let Some(last) = recent.iter().max() {
                let until = last.plus(backoff_after(config, recent.len()));
                if now < until {
                    return Decision::Backoff { until };
                }
            }
            Decision::Restart { trial: false }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> ComponentConfig {
        ComponentConfig {
            name: "c".into(),
            max_restarts: Some(3),
            window: Some(crate::config::units::Duration::secs(300)),
            backoff: Some(crate::config::units::Duration::secs(10)),
            cooldown: Some(crate::config::units::Duration::secs(60)),
            ..Default::default()
        }
    }

    fn seen(healthy: bool, requested: bool) -> Seen {
        Seen { healthy, settled: true, requested }
    }

    #[test]
    fn backoff_grows_and_the_budget_opens_the_circuit() {
        let c = config();
        let t0 = Time::now();
        let mut s = ComponentState::default();
        assert_eq!(decide(&s, &c, t0, seen(true, false)), Decision::Nothing);
        assert_eq!(decide(&s, &c, t0, seen(false, false)), Decision::Restart { trial: false });
        s.restart_times.push(t0);
        // 10s after the first restart, 20s after the second.
        assert_eq!(
            decide(&s, &c, t0.plus(Duration::from_secs(5)), seen(false, false)),
            Decision::Backoff { until: t0.plus(Duration::from_secs(10)) }
        );
        assert_eq!(
            decide(&s, &c, t0.plus(Duration::from_secs(10)), seen(false, false)),
            Decision::Restart { trial: false }
        );
        s.restart_times.push(t0.plus(Duration::from_secs(10)));
        assert!(matches!(
            decide(&s, &c, t0.plus(Duration::from_secs(29)), seen(false, false)),
            Decision::Backoff { .. }
        ));
        // A request skips the backoff, not the budget.
        assert_eq!(
            decide(&s, &c, t0.plus(Duration::from_secs(11)), seen(true, true)),
            Decision::Restart { trial: false }
        );
        s.restart_times.push(t0.plus(Duration::from_secs(30)));
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(200)), seen(false, false)), Decision::Open);
        // A request with the budget spent is refused: a healthy component is left alone.
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(200)), seen(true, true)), Decision::Nothing);
        // Outside the window the old restarts no longer count.
        assert_eq!(
            decide(&s, &c, t0.plus(Duration::from_secs(400)), seen(false, false)),
            Decision::Restart { trial: false }
        );
    }

    #[test]
    fn open_cools_down_then_tries_once() {
        let c = config();
        let t0 = Time::now();
        let s = ComponentState { state: Circuit::Open, opened_at: Some(t0), ..Default::default() };
        let until = t0.plus(Duration::from_secs(60));
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(59)), seen(false, false)), Decision::Cooldown { until });
        assert_eq!(decide(&s, &c, until, seen(false, false)), Decision::Restart { trial: true });
        assert_eq!(decide(&s, &c, t0, seen(false, true)), Decision::Restart { trial: true });
        assert_eq!(decide(&s, &c, t0, seen(true, false)), Decision::Close);
        let half = ComponentState { state: Circuit::HalfOpen, ..s };
        assert_eq!(decide(&half, &c, t0, seen(false, false)), Decision::Reopen);
        assert_eq!(decide(&half, &c, t0, seen(true, false)), Decision::Close);
    }

    #[test]
    fn every_start_counts_and_closing_keeps_the_count() {
        let c = config();
        let t0 = Time::now();
        let at = |s: u64| t0.plus(Duration::from_secs(s));
        // Three starts (two of them trials) fill the window: the cooldown (60s) is over at 100s,
        // but no trial comes before the first start leaves the window at 300s.
        let s = ComponentState {
            state: Circuit::Open,
            opened_at: Some(at(40)),
            restart_times: vec![t0, at(20), at(40)],
            ..Default::default()
        };
        assert_eq!(decide(&s, &c, at(100), seen(false, false)), Decision::Cooldown { until: at(300) });
        assert_eq!(decide(&s, &c, at(100), seen(false, true)), Decision::Cooldown { until: at(300) });
        assert_eq!(decide(&s, &c, at(301), seen(false, false)), Decision::Restart { trial: true });
        assert_eq!(room_at(&s, &c, at(100)), at(300));
        // Healthy, closed, window full: a request is refused and nothing changes.
        let closed = ComponentState { state: Circuit::Closed, opened_at: None, ..s.clone() };
        assert_eq!(decide(&closed, &c, at(100), seen(true, true)), Decision::Nothing);
        assert_eq!(decide(&closed, &c, at(100), seen(false, false)), Decision::Open);
        // On an open circuit a refused request does not close it either; health does.
        assert_eq!(decide(&s, &c, at(100), seen(true, true)), Decision::Close);
    }

    #[test]
    fn an_instance_younger_than_start_secs_does_not_close_the_circuit() {
        let c = config();
        let s = ComponentState { state: Circuit::HalfOpen, ..Default::default() };
        let young = Seen { healthy: true, settled: false, requested: false };
        assert_eq!(decide(&s, &c, Time::now(), young), Decision::Nothing);
        assert_eq!(decide(&s, &c, Time::now(), Seen { settled: true, ..young }), Decision::Close);
    }

    #[test]
    fn names_match_the_json() {
        for c in [Circuit::Closed, Circuit::Open, Circuit::HalfOpen] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn backoff_is_capped_at_the_window() {
        let c = config();
        assert_eq!(backoff_after(&c, 0), Duration::ZERO);
        assert_eq!(backoff_after(&c, 1), Duration::from_secs(10));
        assert_eq!(backoff_after(&c, 3), Duration::from_secs(40));
        assert_eq!(backoff_after(&c, 40), Duration::from_secs(300));
    }
}
