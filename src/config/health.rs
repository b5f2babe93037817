//! `[[check]]` and `[[component]]` tables: what health-check probes and watchdog keeps alive.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::config::at_key;
use crate::config::secret::SecretRef;
use crate::config::units::{Duration, Size};

/// `[health]`: settings for health-check as a whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HealthConfig {
    /// Dead-man switch (healthchecks.io style): health-check GETs `<url>/start` when it begins
    /// and `<url>/<exit code>` when it ends. The URL is a secret, read from this variable…
    pub ping_url_env: Option<String>,
    /// …or from this file.
    pub ping_url_file: Option<PathBuf>,
    /// How long each ping may take.
    pub ping_timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { ping_url_env: None, ping_url_file: None, ping_timeout: Duration::secs(5) }
    }
}

impl HealthConfig {
    pub(crate) fn ping_url(&self) -> SecretRef<'_> {
        SecretRef { key: "health.ping_url", env: self.ping_url_env.as_deref(), file: self.ping_url_file.as_deref() }
    }
}

/// One probe. Exactly one of the kind keys (`http`, `tcp`, `process`, `heartbeat`, `disk`,
/// `queue`, `command`) is set; the rest tune it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CheckConfig {
    pub name: String,
    /// URL to GET.
    pub http: Option<String>,
    /// host:port to connect to.
    pub tcp: Option<String>,
    /// Pidfile of a process that must be alive (relative to home).
    pub process: Option<PathBuf>,
    /// For a pidfile the watchdog did not write: a part of the executable's path or of the
    /// command line the process must have, so a stale pidfile naming a reused pid fails.
    pub process_match: Option<String>,
    /// A runner job's name, or a file, whose heartbeat must be younger than `max_age`.
    pub heartbeat: Option<String>,
    /// A path whose file system must have `min_free` bytes and `min_free_inodes` inodes free.
    pub disk: Option<PathBuf>,
    /// An environment whose queue must stay under `max_pending` and `max_pending_age`.
    pub queue: Option<String>,
    /// An operator command that must exit 0.
    pub command: Option<String>,
    pub timeout: Option<Duration>,
    pub expect_status: Option<u16>,
    pub body_contains: Option<String>,
    /// `path.to.field=value` that the JSON body must hold.
    pub json_field: Option<String>,
    pub max_rss: Option<Size>,
    pub max_cpu_percent: Option<f64>,
    pub max_age: Option<Duration>,
    pub min_free: Option<Size>,
    pub min_free_inodes: Option<u64>,
    pub max_pending: Option<usize>,
    pub max_pending_age: Option<Duration>,
    /// Unhealthy only after this many failing runs in a row.
    pub fail_after: Option<u32>,
}

/// One supervised process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ComponentConfig {
    /// Letters, digits, `-` and `_`: it names the restart-request file and the default log.
    pub name: String,
    /// The `[[check]]` whose health decides a restart.
    pub check: String,
    /// Program and arguments, run from the config file's directory.
    pub start: Vec<String>,
    /// Run before the TERM/KILL sequence, if set.
    pub stop: Option<Vec<String>>,
    /// Relative to home (default `state/<name>.pid`); the watchdog writes it when it starts
    /// the component.
    pub pidfile: Option<PathBuf>,
    /// Output of the started process (relative to home; default `logs/<name>.log`).
    pub log: Option<PathBuf>,
    /// Restarts allowed within `window` before the circuit opens (default 5).
    pub max_restarts: Option<u32>,
    /// default 5m.
    pub window: Option<Duration>,
    /// Wait after the first restart in the window, doubled after each further one (default 10s).
    pub backoff: Option<Duration>,
    /// How long an open circuit waits before one trial restart (default 5m).
    pub cooldown: Option<Duration>,
    /// How long a started component has to pass its check (default 30s).
    pub start_timeout: Option<Duration>,
    /// How long a started process must stay up, its check passing, for the start to count as a
    /// success (default 1s, as supervisord's `startsecs`).
    pub start_secs: Option<Duration>,
    /// Between TERM and KILL (default 10s).
    pub stop_grace: Option<Duration>,
    /// Resident memory over this makes the component unhealthy.
    pub memory_limit: Option<Size>,
    /// CPU percent (of one core) over this makes the component unhealthy.
    pub cpu_limit: Option<f64>,
}

impl ComponentConfig {
    pub(crate) fn max_restarts(&self) -> u32 {
        self.max_restarts.unwrap_or(5)
    }
    pub(crate) fn window(&self) -> std::time::Duration {
        self.window.map_or(std::time::Duration::from_secs(300), Duration::std)
    }
    pub(crate) fn backoff(&self) -> std::time::Duration {
        self.backoff.map_or(std::time::Duration::from_secs(10), Duration::std)
    }
    pub(crate) fn cooldown(&self) -> std::time::Duration {
        self.cooldown.map_or(std::time::Duration::from_secs(300), Duration::std)
    }
    pub(crate) fn start_timeout(&self) -> std::time::Duration {
        self.start_timeout.map_or(std::time::Duration::from_secs(30), Duration::std)
    }
    pub(crate) fn start_secs(&self) -> std::time::Duration {
        self.start_secs.map_or(std::time::Duration::from_secs(1), Duration::std)
    }
    pub(crate) fn stop_grace(&self) -> std::time::Duration {
        self.stop_grace.map_or(std::time::Duration::from_secs(10), Duration::std)
    }
    pub(crate) fn pidfile(&self) -> PathBuf {
        self.pidfile.clone().unwrap_or_else(|| PathBuf::from(format!("state/{}.pid", self.name)))
    }
    pub(crate) fn log(&self) -> PathBuf {
        self.log.clone().unwrap_or_else(|| PathBuf::from(format!("logs/{}.log", self.name)))
    }
}

impl CheckConfig {
    /// The kind keys that are set, by name.
    pub(crate) fn kinds(&self) -> Vec<&'static str> {
        [
            ("http", self.http.is_some()),
            ("tcp", self.tcp.is_some()),
            ("process", self.process.is_some()),
            ("heartbeat", self.heartbeat.is_some()),
            ("disk", self.disk.is_some()),
            ("queue", self.queue.is_some()),
            ("command", self.command.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// `apply-patch` names a runner job; anything with a `/` is a file.
pub(crate) fn is_job_name(beat: &str) -> bool {
    !beat.contains('/')
}

/// Check names are unique, each check has one kind, each component names a known check and a
/// start command. Relative disk paths are made absolute against the config's directory.
pub(crate) fn validate(
    checks: &mut [CheckConfig],
    components: &mut [ComponentConfig],
    base: &Path,
    text: &str,
) -> Result<()> {
    for (i, check) in checks.iter_mut().enumerate() {
        if check.name.is_empty() {
            bail!("{}: [[check]] number {} has no name", at_key(text, "[[check]]"), i + 1);
        }
        match check.kinds().len() {
            1 => {}
            0 => bail!(
                "{}: check {:?} needs one of http, tcp, process, heartbeat, disk, queue, command",
                at_key(text, "[[check]]"),
                check.name
            ),
            _ => bail!(
                "{}: check {:?} sets {}; a check probes one thing",
                at_key(text, "[[check]]"),
                check.name,
                check.kinds().join(" and ")
            ),
        }
        if let Some(disk) = &mut check.disk {
            *disk = base.join(&*disk);
        }
        if let Some(beat) = &mut check.heartbeat
            && !is_job_name(beat)
        {
            *beat = base.join(&*beat).display().to_string();
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for check in checks.iter() {
        if !seen.insert(check.name.as_str()) {
            bail!("{}: two checks are named {:?}", at_key(text, &format!("name = \"{}\"", check.name)), check.name);
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for component in components.iter() {
        if !crate::config::valid_env_name(&component.name) {
            bail!(
                "{}: component name {:?} must be 1-64 letters, digits, `-` or `_` (it names files)",
                at_key(text, "[[component]]"),
                component.name
            );
        }
        if !names.insert(component.name.as_str()) {
            bail!("{}: two components are named {:?}", at_key(text, "[[component]]"), component.name);
        }
        if component.start.is_empty() {
            bail!(
                "{}: component {:?} needs start = [\"program\", \"arg\", …]",
                at_key(text, "[[component]]"),
                component.name
            );
        }
        if !seen.contains(component.check.as_str()) {
            bail!(
                "{}: component {:?} names check {:?}, which no [[check]] defines",
                at_key(text, "[[component]]"),
                component.name,
                component.check
            );
        }
    }
    Ok(())
}
