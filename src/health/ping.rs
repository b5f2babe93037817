//! The dead-man switch (healthchecks.io style): `<url>/start` when a run begins and
//! `<url>/<exit code>` when it ends, so a run that never happens — cron broken, host down —
//! is noticed by the other side. One attempt each, bounded by `health.ping_timeout`.

use anyhow::Result;

use crate::config::Settings;

#[derive(Debug)]
pub struct Ping {
    url: Option<String>,
    timeout: std::time::Duration,
}

impl Ping {
    /// Read the configured URL (an error when its file is configured but unreadable).
    pub fn new(settings: &Settings) -> Result<Ping> {
        let health = &settings.config.health;
        Ok(Ping { url: health.ping_url().resolve()?, timeout: health.ping_timeout.std() })
    }

    /// GET `<url>/<suffix>`; a failure is a warning on stderr, never the run's failure.
    pub fn send(&self, suffix: &str) {
        let Some(url) = &self.url else { return };
        let target = format!("{}/{suffix}", url.trim_end_matches('/'));
        let outcome = crate::notify::agent(self.timeout).get(&target).call();
        let problem = match outcome {
            Ok(resp) if resp.status().is_success() => return,
            Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
            // The URL is a secret: never print it.
            Err(e) => e.to_string().replace(url.as_str(), "<ping url>"),
        };
        super::warn(&format!("the health.ping_url /{suffix} ping failed: {problem}"));
    }
}
