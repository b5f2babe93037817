//! `[[check]]` and `[[component]]` tables: what health-check probes and watchdog keeps alive.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::config::at_key;
use crate::config::units::{Duration, Size};

/// One probe. Exactly one of the kind keys (`http`, `tcp`, `process`, `heartbeat`, `disk`,
/// `queue`, `command`) is set; the rest tune it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    pub name: String,
    /// URL to GET.
    pub http: Option<String>,
    /// host:port to connect to.
    pub tcp: Option<String>,
    /// Pidfile of a process that must be alive (relative to home).
    pub process: Option<PathBuf>,
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
pub struct ComponentConfig {
    pub name: String,
    /// The `[[check]]` whose health decides a restart.
    pub check: String,
    pub start: Vec<String>,
    pub stop: Option<Vec<String>>,
    /// Relative to home.
    pub pidfile: Option<PathBuf>,
    /// Output of the started process (relative to home).
    pub log: Option<PathBuf>,
    pub max_restarts: Option<u32>,
    pub window: Option<Duration>,
    pub backoff: Option<Duration>,
    pub cooldown: Option<Duration>,
    pub start_timeout: Option<Duration>,
    pub stop_grace: Option<Duration>,
    pub memory_limit: Option<Size>,
    pub cpu_limit: Option<f64>,
}

impl CheckConfig {
    /// The kind keys that are set, by name.
    pub fn kinds(&self) -> Vec<&'static str> {
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

/// Check names are unique, each check has one kind, each component names a known check and a
/// start command. Relative disk paths are made absolute against the config's directory.
pub fn validate(checks: &mut [CheckConfig], components: &mut [ComponentConfig], base: &Path, text: &str) -> Result<()> {
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
    }
    let mut seen = std::collections::BTreeSet::new();
    for check in checks.iter() {
        if !seen.insert(check.name.as_str()) {
            bail!("{}: two checks are named {:?}", at_key(text, &format!("name = \"{}\"", check.name)), check.name);
        }
    }
    for component in components.iter() {
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
