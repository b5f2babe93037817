//! Outgoing notifications: the one ureq agent setup every outgoing request uses (alerts, probes,
//! pings, patch callbacks) and the one place runner posts to Slack's incoming webhook
//! (health-check and watchdog come through here). One attempt per alert, bounded by
//! `slack.alert_timeout`, never a retry loop: an alert that cannot be posted, or has nowhere to
//! go, is appended as a JSON line to `<home>/alerts.log` instead, so it is never lost silently.

use std::fs::OpenOptions;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::store::Home;
use crate::store::fs::ensure_dir;
use crate::time::rfc3339;

/// Where an alert went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "delivery", content = "reason")]
pub(crate) enum Delivery {
    /// Slack answered 2xx.
    Posted,
    /// Written to alerts.log, with the reason it was not posted.
    Logged(String),
}

/// A ureq agent that gives up after `timeout` end to end and returns HTTP errors as responses.
pub(crate) fn agent(timeout: std::time::Duration) -> ureq::Agent {
    agent_config(timeout).build().into()
}

/// [`agent`]'s settings, for a caller that tightens them further before building.
pub(crate) fn agent_config(timeout: std::time::Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false)
}

/// Post `text` to Slack, or log it when Slack is not configured or does not take it.
/// `source` says who raised it (`health-check`, `watchdog`, …) in the log.
pub(crate) fn send(settings: &Settings, home: &Home, source: &str, text: &str) -> Result<Delivery> {
    send_message(settings, home, source, &json!({ "text": text }))
}

/// Post a whole Slack message (`text` and Block Kit `blocks`) to the incoming webhook, or log
/// its `text` as [`send`] does.
pub(crate) fn send_message(settings: &Settings, home: &Home, source: &str, message: &Value) -> Result<Delivery> {
    match settings.config.slack.alert_webhook().resolve() {
        Ok(Some(url)) => deliver(home, source, &url, settings.config.slack.alert_timeout.std(), message),
        Ok(None) => logged(home, source, message, "slack.alert_webhook is not configured".into()),
        Err(e) => logged(home, source, message, format!("{e:#}")),
    }
}

/// Post `message` to `url` (the incoming webhook, or an interaction's response_url), logging it
/// to alerts.log when it cannot be posted.
pub(crate) fn deliver(
    home: &Home,
    source: &str,
    url: &str,
    timeout: std::time::Duration,
    message: &Value,
) -> Result<Delivery> {
    match post(url, timeout, message) {
        Delivery::Posted => Ok(Delivery::Posted),
        Delivery::Logged(reason) => logged(home, source, message, reason),
    }
}

fn logged(home: &Home, source: &str, message: &Value, reason: String) -> Result<Delivery> {
    log(home, source, message["text"].as_str().unwrap_or_default(), &reason)?;
    Ok(Delivery::Logged(reason))
}

fn post(url: &str, timeout: std::time::Duration, message: &Value) -> Delivery {
    match agent(timeout).post(url).send_json(message) {
        Ok(resp) if resp.status().is_success() => Delivery::Posted,
        // The URL is a secret: name the failure, never the address.
        Ok(resp) => Delivery::Logged(format!("slack answered HTTP {}", resp.status().as_u16())),
        Err(e) => Delivery::Logged(format!("slack is unreachable: {}", redact(&e.to_string(), url))),
    }
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<alert webhook>")
}

/// Append one alert to alerts.log as a single JSON line on an O_APPEND descriptor.
fn log(home: &Home, source: &str, text: &str, reason: &str) -> Result<()> {
    let path = home.alerts_log();
    ensure_dir(home.root())?;
    let mut line = serde_json::to_vec(&json!({
        "time": rfc3339::format(&Utc::now()),
        "source": source,
        "text": text,
        "reason": reason,
    }))?;
    line.push(b'\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&line))
        .with_context(|| format!("could not append to alerts log {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconfigured_alert_goes_to_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::from_toml("", Some(&dir.path().join("runner.toml"))).unwrap();
        let home = Home::new(&settings.home);
        let delivery = send(&settings, &home, "test", "disk is full").unwrap();
        assert!(matches!(delivery, Delivery::Logged(ref r) if r.contains("not configured")));
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(home.alerts_log()).unwrap().trim()).unwrap();
        assert_eq!(line["text"], "disk is full");
        assert_eq!(line["source"], "test");
    }

    #[test]
    fn unreachable_slack_is_logged_without_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("hook");
        // Port 9 on loopback: nothing listens, the connection is refused at once.
        std::fs::write(&secret, "http://127.0.0.1:9/services/SECRET").unwrap();
        let text = format!("[slack]\nalert_webhook_file = {:?}\nalert_timeout = \"2s\"\n", secret);
        let settings = Settings::from_toml(&text, Some(&dir.path().join("runner.toml"))).unwrap();
        let home = Home::new(&settings.home);
        let delivery = send(&settings, &home, "test", "down").unwrap();
        assert!(matches!(delivery, Delivery::Logged(ref r) if r.contains("unreachable") && !r.contains("SECRET")));
        assert!(!std::fs::read_to_string(home.alerts_log()).unwrap().contains("SECRET"));
    }
}
