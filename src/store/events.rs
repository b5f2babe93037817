//! The append-only audit log, `events.jsonl`: one JSON object a line (time, actor, action, ids).
//! Each append writes one whole line with one `write` on an `O_APPEND` descriptor while holding
//! an exclusive lock on the file, so concurrent processes neither lose nor tear lines.

use std::fs::OpenOptions;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::store::Home;
use crate::store::fs::ensure_dir;
use crate::time::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Event {
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// Who did it: `cli:<user>`, `slack:<user id>`, `webhook`, `cron`.
    pub actor: String,
    /// What was done: `patch.queued`, `patch.applied`, `mode.set`, …
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

impl Event {
    pub(crate) fn new(actor: impl Into<String>, action: impl Into<String>) -> Event {
        Event { time: Utc::now(), actor: actor.into(), action: action.into(), env: None, id: None, detail: Map::new() }
    }
    pub(crate) fn env(mut self, env: &str) -> Event {
        self.env = Some(env.to_string());
        self
    }
    pub(crate) fn id(mut self, id: &str) -> Event {
        self.id = Some(id.to_string());
        self
    }
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.detail.insert(key.to_string(), value.into());
        self
    }
}

/// The actor for commands typed at this machine: `cli:<login>`.
pub(crate) fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()))
}

/// Append one event durably.
pub(crate) fn append(home: &Home, event: &Event) -> Result<()> {
    append_all(home, std::slice::from_ref(event))
}

/// Append several events with one write and one sync (a busy writer's batch).
pub(crate) fn append_all(home: &Home, events: &[Event]) -> Result<()> {
    let path = home.events_file();
    ensure_dir(home.root())?;
    let mut lines = Vec::new();
    for event in events {
        serde_json::to_writer(&mut lines, event)?;
        lines.push(b'\n');
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("could not open audit log {}", path.display()))?;
    file.lock().with_context(|| format!("could not lock audit log {}", path.display()))?;
    file.write_all(&lines)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("could not append to audit log {}", path.display()))
}

/// The audit log as read: its events, and the lines that are not one.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub events: Vec<Event>,
    /// Line numbers (from 1) of lines that are not an event: a torn last line after a full disk,
    /// or a line damaged or edited by hand. They are skipped, not fatal, and never silently:
    /// readers report them (`runner status` does).
    pub unparsable: Vec<usize>,
}

/// Read the whole log.
pub(crate) fn read_all(home: &Home) -> Result<Log> {
    let path = home.events_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Log::default()),
        Err(e) => return Err(e).with_context(|| format!("could not read audit log {}", path.display())),
    };
    let mut log = Log::default();
    for (i, line) in text.lines().enumerate() {
        match serde_json::from_str(line) {
            Ok(event) => log.events.push(event),
            Err(_) => log.unparsable.push(i + 1),
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_lines_are_counted_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        append(&home, &Event::new("test", "one")).unwrap();
        let mut text = std::fs::read_to_string(home.events_file()).unwrap();
        text = format!("{text}not json\n{text}{{\"time\": \"torn");
        std::fs::write(home.events_file(), text).unwrap();
        let log = read_all(&home).unwrap();
        assert_eq!(log.events.len(), 2);
        assert_eq!(log.unparsable, [2, 4]);
    }
}
