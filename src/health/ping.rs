//! The dead-man switch (healthchecks.io style): `<url>/start` when a run begins and
//! `<url>/<exit code>` when it ends, so a run that never happens — cron broken, host down —
//! is noticed by the other side. One attempt each, bounded by `health.ping_timeout`.

use crate::config::Settings;

#[derive(Debug)]
pub(crate) struct Ping {
    url: Option<String>,
    timeout: std::time::Duration,
    /// Why the configured URL could not be read (its file missing or empty): the checks still
    /// run, and the run ends with this error.
    problem: Option<anyhow::Error>,
}

impl Ping {
    /// Read the configured URL. A file configured but unreadable is a warning now and the run's
    /// error at the end, never a reason to skip the checks.
    pub(crate) fn new(settings: &Settings) -> Ping {
        let health = &settings.config.health;
        let (url, problem) = match health.ping_url().resolve() {
            Ok(url) => (url, None),
            Err(e) => {
                super::warn(&format!("{e:#}; the checks run without the dead-man ping"));
                (None, Some(e))
            }
        };
        Ping { url, timeout: health.ping_timeout.std(), problem }
    }

    /// The reason the URL could not be read, once the run is over.
    pub(crate) fn take_problem(&mut self) -> Option<anyhow::Error> {
        self.problem.take()
    }

    /// GET `<url>/<suffix>`; a failure is a warning on stderr, never the run's failure.
    pub(crate) fn send(&self, suffix: &str) {
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
