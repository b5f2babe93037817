//! `state/heartbeats/<job>.json`: the last successful run of each job, for `status` and the
//! `heartbeat` health probe.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Home, atomic};
use crate::time::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Heartbeat {
    pub job: String,
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    pub pid: u32,
    pub duration_ms: u64,
}

/// Record a successful run of `job` that started at `started`.
pub(crate) fn beat(home: &Home, job: &str, started: std::time::Instant) -> Result<()> {
    let hb = Heartbeat {
        job: job.to_string(),
        time: Utc::now(),
        pid: std::process::id(),
        duration_ms: started.elapsed().as_millis() as u64,
    };
    atomic::write_json(&home.heartbeats_dir().join(format!("{job}.json")), &hb)?;
    // A beat a killed run never finished left its temp file; every job writes here, so only
    // those whose writer is gone.
    atomic::remove_orphaned_temps(&home.heartbeats_dir())
}

pub(crate) fn read(home: &Home, job: &str) -> Result<Option<Heartbeat>> {
    super::read_json(&home.heartbeats_dir().join(format!("{job}.json")), "heartbeat")
}

/// Every job's last heartbeat, by job name; unreadable files are skipped.
pub(crate) fn read_all(home: &Home) -> Result<BTreeMap<String, Heartbeat>> {
    let mut out = BTreeMap::new();
    let dir = home.heartbeats_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(job) = name.strip_suffix(".json")
            && let Ok(Some(hb)) = read(home, job)
        {
            out.insert(job.to_string(), hb);
        }
    }
    Ok(out)
}
