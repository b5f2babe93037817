//! One health-check cycle: probe the selected checks in parallel, fold each verdict into the
//! check's remembered state (`fail_after`), and say which checks changed state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::probe::{self, Env, Verdict};
use super::state::Time;
use crate::config::CheckConfig;
use crate::store::events::Event;

/// `state/health.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct HealthFile {
    pub checks: BTreeMap<String, CheckState>,
}

/// What is remembered of one check between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckState {
    pub kind: String,
    pub healthy: bool,
    /// Failing probes in a row; the check turns unhealthy when this reaches `fail_after`.
    pub consecutive_failures: u32,
    /// When `healthy` last flipped (or the check was first seen).
    pub last_change: Time,
    pub last_check: Time,
    pub message: String,
}

/// A change worth an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Change {
    Down,
    Up,
}

/// One check's line in the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckReport {
    pub name: String,
    pub kind: String,
    pub healthy: bool,
    /// This run's probe passed (a check may still count as healthy below `fail_after`).
    pub probe_ok: bool,
    pub consecutive_failures: u32,
    pub message: String,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<Change>,
}

/// Probe every check at once, each on its own thread: the run takes as long as the slowest.
pub(crate) fn probe_all(checks: &[&CheckConfig], env: Env) -> Vec<Verdict> {
    std::thread::scope(|s| {
        let handles: Vec<_> = checks.iter().map(|c| s.spawn(move || probe::run(c, env))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Verdict { ok: false, message: "the probe panicked".into(), duration_ms: 0 })
            })
            .collect()
    })
}

/// Fold a verdict into the check's state; returns the report line.
pub(crate) fn record(state: &mut HealthFile, check: &CheckConfig, verdict: Verdict, now: Time) -> CheckReport {
    let fail_after = check.fail_after.unwrap_or(1).max(1);
    let kind = check.kinds().first().copied().unwrap_or("").to_string();
    let entry = state.checks.entry(check.name.clone()).or_insert_with(|| CheckState {
        kind: kind.clone(),
        healthy: true,
        consecutive_failures: 0,
        last_change: now,
        last_check: now,
        message: String::new(),
    });
    entry.consecutive_failures = if verdict.ok { 0 } else { entry.consecutive_failures.saturating_add(1) };
    let healthy = entry.consecutive_failures < fail_after;
    let changed = match (entry.healthy, healthy) {
        (true, false) => Some(Change::Down),
        (false, true) => Some(Change::Up),
        _ => None,
    };
    if changed.is_some() {
        entry.last_change = now;
    }
    entry.kind = kind;
    entry.healthy = healthy;
    entry.last_check = now;
    entry.message = verdict.message.clone();
    CheckReport {
        name: check.name.clone(),
        kind: entry.kind.clone(),
        healthy,
        probe_ok: verdict.ok,
        consecutive_failures: entry.consecutive_failures,
        message: verdict.message,
        duration_ms: verdict.duration_ms,
        changed,
    }
}

/// Give each of `checks` that has no remembered state (a new check, or health.json lost or set
/// aside) the last change the audit log holds for it, so a check already reported down is not
/// reported down again. Returns whether any check lacked state (whether `history` was needed).
pub(crate) fn seed(state: &mut HealthFile, checks: &[&CheckConfig], history: impl FnOnce() -> Vec<Event>) -> bool {
    let missing: Vec<_> = checks.iter().filter(|c| !state.checks.contains_key(&c.name)).collect();
    if missing.is_empty() {
        return false;
    }
    let history = history();
    for check in missing {
        let last = history.iter().rev().find(|e| {
            matches!(e.action.as_str(), "check.down" | "check.up")
                && e.detail.get("check").and_then(|v| v.as_str()) == Some(&check.name)
        });
        if let Some(down) = last.filter(|e| e.action == "check.down") {
            let message = down.detail.get("message").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            state.checks.insert(
                check.name.clone(),
                CheckState {
                    kind: check.kinds().first().copied().unwrap_or("").to_string(),
                    healthy: false,
                    consecutive_failures: check.fail_after.unwrap_or(1).max(1),
                    last_change: Time(down.time),
                    last_check: Time(down.time),
                    message,
                },
            );
        }
    }
    true
}

/// Forget checks runner.toml no longer defines.
pub(crate) fn prune(state: &mut HealthFile, checks: &[CheckConfig]) {
    state.checks.retain(|name, _| checks.iter().any(|c| &c.name == name));
}

/// The Slack text for a change.
pub(crate) fn alert_text(report: &CheckReport) -> String {
    match report.changed {
        Some(Change::Down) => format!(":red_circle: check `{}` is down: {}", report.name, report.message),
        _ => format!(":large_green_circle: check `{}` is healthy again: {}", report.name, report.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(ok: bool) -> Verdict {
        Verdict { ok, message: if ok { "fine" } else { "broken" }.into(), duration_ms: 1 }
    }

    #[test]
    fn fail_after_waits_for_a_run_of_failures_and_reports_each_change_once() {
        let check =
            CheckConfig { name: "c".into(), tcp: Some("x:1".into()), fail_after: Some(3), ..Default::default() };
        let mut state = HealthFile::default();
        let now = Time::now();
        let seq: Vec<_> = [false, false, false, false, true, true, false]
            .into_iter()
            .map(|ok| {
                let r = record(&mut state, &check, verdict(ok), now);
                (r.healthy, r.changed)
            })
            .collect();
        assert_eq!(
            seq,
            [
                (true, None),
                (true, None),
                (false, Some(Change::Down)),
                (false, None),
                (true, Some(Change::Up)),
                (true, None),
                (true, None),
            ]
        );
        assert_eq!(state.checks["c"].consecutive_failures, 1);
        assert_eq!(state.checks["c"].kind, "tcp");
    }

    #[test]
    fn a_check_without_state_resumes_from_its_last_logged_change() {
        let check = |name: &str| CheckConfig { name: name.into(), tcp: Some("x:1".into()), ..Default::default() };
        let (down, up, new) = (check("down"), check("up"), check("new"));
        let event = |action: &str, name: &str| Event::new("health-check", action).with("check", name);
        let history = vec![
            event("check.up", "down"),
            event("check.down", "down"),
            event("check.down", "up"),
            event("check.up", "up"),
        ];
        let mut state = HealthFile::default();
        assert!(seed(&mut state, &[&down, &up, &new], || history));
        assert_eq!(state.checks.keys().collect::<Vec<_>>(), ["down"]);
        // Still failing: no second "down".
        assert_eq!(record(&mut state, &down, verdict(false), Time::now()).changed, None);
        assert_eq!(record(&mut state, &new, verdict(false), Time::now()).changed, Some(Change::Down));
        assert!(!seed(&mut state, &[&down, &new], || panic!("history read with every check known")));
    }
}
