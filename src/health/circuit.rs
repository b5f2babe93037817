//! The restart budget and circuit breaker of one component, as a pure decision: given what is
//! remembered, the time, and whether the component is healthy or a restart was requested, what
//! should this cycle do? (monit's "N restarts within M cycles", with growing backoff between
//! attempts and a half-open trial after a cooldown.)

use serde::{Deserialize, Serialize};

use super::state::Time;
use crate::config::ComponentConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Circuit {
    /// Restarts allowed within the budget.
    #[default]
    Closed,
    /// Budget spent: no restarts until the cooldown is over.
    Open,
    /// One trial restart was made after the cooldown; its verdict is pending.
    HalfOpen,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
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
pub struct ComponentState {
    pub state: Circuit,
    pub healthy: bool,
    /// The process the watchdog last started, and its start time (clock ticks after boot): the
    /// pair is checked before any signal is sent, so a reused pid is never killed.
    pub pid: Option<u32>,
    pub start_ticks: Option<u64>,
    /// Restarts within the current window.
    pub restarts: u32,
    pub restart_times: Vec<Time>,
    pub last_restart: Option<Time>,
    pub last_check: Option<Time>,
    pub opened_at: Option<Time>,
    /// The last probe's reason, or why nothing was done.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Healthy and closed.
    Nothing,
    /// Healthy again after the circuit was open or half-open: close it and reset the count.
    Close,
    /// Stop and start the component; `trial` when it is the half-open attempt.
    Restart { trial: bool },
    /// Within budget, but the last restart was too recent.
    Backoff { until: Time },
    /// The budget is spent: open the circuit (and alert, once).
    Open,
    /// The half-open trial did not bring it back: open again, quietly.
    Reopen,
    /// Open, waiting for the cooldown to end.
    Cooldown { until: Time },
}

/// Restarts within `window` before `now`.
pub fn recent(state: &ComponentState, config: &ComponentConfig, now: Time) -> Vec<Time> {
    let since = now.minus(config.window());
    state.restart_times.iter().copied().filter(|t| *t > since).collect()
}

/// The wait after the `n`th restart in the window: `backoff`, doubled each time, capped at the window.
pub fn backoff_after(config: &ComponentConfig, n: usize) -> std::time::Duration {
    if n == 0 {
        return std::time::Duration::ZERO;
    }
    let factor = 1u32 << (n - 1).min(16);
    config.backoff().saturating_mul(factor).min(config.window())
}

/// Decide this cycle's action. A requested restart (Slack's /restart-runner) skips the backoff
/// but not the budget, and on an open circuit it is the trial restart.
pub fn decide(state: &ComponentState, config: &ComponentConfig, now: Time, healthy: bool, requested: bool) -> Decision {
    if healthy && !requested {
        return if state.state == Circuit::Closed { Decision::Nothing } else { Decision::Close };
    }
    match state.state {
        Circuit::Open => {
            let until = state.opened_at.unwrap_or(now).plus(config.cooldown());
            if requested || now >= until { Decision::Restart { trial: true } } else { Decision::Cooldown { until } }
        }
        Circuit::HalfOpen if healthy => Decision::Restart { trial: true },
        Circuit::HalfOpen => Decision::Reopen,
        Circuit::Closed => {
            let recent = recent(state, config, now);
            if recent.len() >= config.max_restarts() as usize {
                return Decision::Open;
            }
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

    #[test]
    fn backoff_grows_and_the_budget_opens_the_circuit() {
        let c = config();
        let t0 = Time::now();
        let mut s = ComponentState::default();
        assert_eq!(decide(&s, &c, t0, true, false), Decision::Nothing);
        assert_eq!(decide(&s, &c, t0, false, false), Decision::Restart { trial: false });
        s.restart_times.push(t0);
        // 10s after the first restart, 20s after the second.
        assert_eq!(
            decide(&s, &c, t0.plus(Duration::from_secs(5)), false, false),
            Decision::Backoff { until: t0.plus(Duration::from_secs(10)) }
        );
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(10)), false, false), Decision::Restart { trial: false });
        s.restart_times.push(t0.plus(Duration::from_secs(10)));
        assert!(matches!(decide(&s, &c, t0.plus(Duration::from_secs(29)), false, false), Decision::Backoff { .. }));
        // A request skips the backoff, not the budget.
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(11)), true, true), Decision::Restart { trial: false });
        s.restart_times.push(t0.plus(Duration::from_secs(30)));
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(200)), false, false), Decision::Open);
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(200)), true, true), Decision::Open);
        // Outside the window the old restarts no longer count.
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(400)), false, false), Decision::Restart { trial: false });
    }

    #[test]
    fn open_cools_down_then_tries_once() {
        let c = config();
        let t0 = Time::now();
        let s = ComponentState { state: Circuit::Open, opened_at: Some(t0), ..Default::default() };
        let until = t0.plus(Duration::from_secs(60));
        assert_eq!(decide(&s, &c, t0.plus(Duration::from_secs(59)), false, false), Decision::Cooldown { until });
        assert_eq!(decide(&s, &c, until, false, false), Decision::Restart { trial: true });
        assert_eq!(decide(&s, &c, t0, false, true), Decision::Restart { trial: true });
        assert_eq!(decide(&s, &c, t0, true, false), Decision::Close);
        let half = ComponentState { state: Circuit::HalfOpen, ..s };
        assert_eq!(decide(&half, &c, t0, false, false), Decision::Reopen);
        assert_eq!(decide(&half, &c, t0, true, false), Decision::Close);
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
