//! What `runner status`, `GET /status` and Slack's `/status-runner` report: the mode, each
//! environment's queues and oldest pending patch, the last run of each job, and the health and
//! watchdog state files as their commands last wrote them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::config::Settings;
use crate::store::queue::{self, State};
use crate::store::{Home, heartbeat, mode, mode::Mode, results};
use crate::time::age;
use crate::time::rfc3339;

#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub mode: Mode,
    pub home: String,
    pub envs: BTreeMap<String, EnvStatus>,
    pub jobs: BTreeMap<String, JobStatus>,
    pub health: Option<Value>,
    pub watchdog: Option<Value>,
}

#[derive(Debug, Serialize)]
pub(crate) struct EnvStatus {
    pub tree: String,
    pub pending: usize,
    pub approved: usize,
    pub applying: usize,
    pub applied: usize,
    pub failed: usize,
    /// Seconds since the oldest pending or approved patch arrived.
    pub oldest_pending_age_s: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct JobStatus {
    pub last_run: String,
    pub age_s: u64,
    pub duration_ms: u64,
}

pub(crate) fn collect(settings: &Settings, env: Option<&str>) -> Result<Status> {
    let home = Home::new(&settings.home);
    let now = SystemTime::now();
    let mut envs = BTreeMap::new();
    for (name, cfg) in settings.envs(env)? {
        let count = |state| queue::list(&home, name, state).map(|l| l.len());
        let waiting: Vec<_> = [State::Pending, State::Approved]
            .into_iter()
            .map(|s| queue::list(&home, name, s))
            .collect::<Result<_>>()?;
        let oldest = waiting.iter().flatten().map(|e| e.modified).min();
        envs.insert(
            name.to_string(),
            EnvStatus {
                tree: cfg.tree.display().to_string(),
                pending: waiting[0].len(),
                approved: waiting[1].len(),
                applying: count(State::Applying)?,
                applied: count(State::Applied)?,
                failed: count(State::Failed)?,
                oldest_pending_age_s: oldest.map(|t| now.duration_since(t).map(|d| d.as_secs()).unwrap_or(0)),
            },
        );
    }
    let utc_now = chrono::Utc::now();
    let jobs = heartbeat::read_all(&home)?
        .into_iter()
        .map(|(job, hb)| {
            let age_s = (utc_now - hb.time).num_seconds().max(0) as u64;
            (job, JobStatus { last_run: rfc3339::format(&hb.time), age_s, duration_ms: hb.duration_ms })
        })
        .collect();
    let read_state = |path: std::path::PathBuf| std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    Ok(Status {
        mode: mode::read(&home)?,
        home: home.root().display().to_string(),
        envs,
        jobs,
        health: read_state(home.health_file()),
        watchdog: read_state(home.watchdog_file()),
    })
}

/// The human form: a few aligned lines.
pub(crate) fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "mode: {}", status.mode);
    let _ = writeln!(out, "home: {}", status.home);
    out.push_str(
        "
ENV          PENDING APPROVED APPLYING APPLIED FAILED  OLDEST PENDING
",
    );
    for (name, e) in &status.envs {
        let oldest = e.oldest_pending_age_s.map(age).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{name:<12} {:>7} {:>8} {:>8} {:>7} {:>6}  {oldest}",
            e.pending, e.approved, e.applying, e.applied, e.failed
        );
    }
    out.push_str("\nJOB                  LAST RUN                   AGO\n");
    if status.jobs.is_empty() {
        let _ = writeln!(out, "(no job has run yet)");
    }
    for (job, j) in &status.jobs {
        let _ = writeln!(out, "{job:<20} {:<26} {}", j.last_run, age(j.age_s));
    }
    // health.json and watchdog.json belong to their commands; show the fields people look for.
    if let Some(checks) = status.health.as_ref().and_then(|h| h["checks"].as_object()).filter(|c| !c.is_empty()) {
        out.push_str("\nCHECK                HEALTH     MESSAGE\n");
        for (name, c) in checks {
            let health = if c["healthy"].as_bool() == Some(true) { "healthy" } else { "UNHEALTHY" };
            let _ = writeln!(out, "{name:<20} {health:<10} {}", c["message"].as_str().unwrap_or(""));
        }
    }
    if let Some(components) =
        status.watchdog.as_ref().and_then(|w| w["components"].as_object()).filter(|c| !c.is_empty())
    {
        out.push_str("\nCOMPONENT            CIRCUIT    PID      RESTARTS\n");
        for (name, c) in components {
            let pid = c["pid"].as_u64().map_or("-".to_string(), |p| p.to_string());
            let circuit = c["state"].as_str().unwrap_or("?");
            let _ = writeln!(out, "{name:<20} {circuit:<10} {pid:<8} {}", c["restarts"].as_u64().unwrap_or(0));
        }
    }
    out
}

/// One recently moved patch, as the dashboard and Slack's `/patch-status` list it.
pub(crate) struct Recent {
    pub env: String,
    pub id: String,
    pub state: State,
    pub outcome: Option<String>,
    pub age_s: u64,
}

/// The most recently moved patches across environments, newest first.
pub(crate) fn recent(settings: &Settings, home: &Home, n: usize) -> Result<Vec<Recent>> {
    let mut all = Vec::new();
    for env in settings.config.env.keys() {
        for state in State::ALL {
            for entry in queue::list(home, env, state)? {
                all.push((entry.modified, env.clone(), entry));
            }
        }
    }
    all.sort_by_key(|b| std::cmp::Reverse(b.0));
    let now = std::time::SystemTime::now();
    Ok(all
        .into_iter()
        .take(n)
        .map(|(modified, env, entry)| {
            let outcome = results::read(home, &env, &entry.id).ok().flatten().map(|r| {
                serde_json::to_value(r.outcome).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            });
            let age_s = now.duration_since(modified).map(|d| d.as_secs()).unwrap_or(0);
            Recent { env, id: entry.id, state: entry.state, outcome, age_s }
        })
        .collect())
}

/// A state file's named entries (`components` of watchdog.json, `checks` of health.json, or
/// the top level) as `name → "field value, …"`, without assuming their fields.
pub(crate) fn named_entries(state: Option<&Value>, key: &str) -> Vec<(String, String)> {
    let Some(state) = state else { return Vec::new() };
    let Some(map) = state.get(key).unwrap_or(state).as_object() else { return Vec::new() };
    map.iter()
        .map(|(name, v)| {
            let fields = match v.as_object() {
                Some(fields) => fields
                    .iter()
                    .filter(|(_, f)| !f.is_object() && !f.is_array())
                    .map(|(k, f)| format!("{k} {}", f.as_str().map(String::from).unwrap_or_else(|| f.to_string())))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => v.as_str().map(String::from).unwrap_or_else(|| v.to_string()),
            };
            (name.clone(), fields)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_entries_render_any_fields() {
        let state = json!({ "components": { "web": { "state": "open", "restarts": 3, "log": [1] } } });
        assert_eq!(named_entries(Some(&state), "components"), vec![("web".into(), "restarts 3, state open".into())]);
        let flat = json!({ "disk": "ok" });
        assert_eq!(named_entries(Some(&flat), "checks"), vec![("disk".into(), "ok".into())]);
        assert!(named_entries(None, "checks").is_empty());
    }
}
