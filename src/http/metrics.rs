//! `GET /metrics`: Prometheus text format. Request and patch counters live here; queue depths
//! and job times are read from disk (through `status::collect`) at each scrape. The text follows
//! the exposition rules `promtool check metrics` enforces (HELP and TYPE once per family, before
//! its samples; no series twice), which the tests below check.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::status::Status;
use crate::store::mode::Mode;

#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl Metrics {
    /// Count one answered request by route pattern (not raw path, to keep labels few).
    pub(crate) fn observe(&self, route: &'static str, status: u16) {
        *self.requests.lock().unwrap().entry((route, status)).or_default() += 1;
    }

    pub(crate) fn patch_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn patch_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn render(&self, status: &Status) -> String {
        let mut out = String::new();
        family(&mut out, "runner_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        for ((route, code), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(out, "runner_http_requests_total{{route=\"{route}\",status=\"{code}\"}} {n}");
        }
        let counters = [
            ("runner_patches_accepted_total", "Patches queued durably (202).", &self.accepted),
            ("runner_patches_rejected_total", "Patches refused (4xx/5xx on POST /webhook).", &self.rejected),
        ];
        for (name, help, value) in counters {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        family(&mut out, "runner_queue_depth", "gauge", "Patches in each queue state.");
        for (env, e) in &status.envs {
            let states =
                [("pending", e.pending), ("approved", e.approved), ("applying", e.applying), ("applied", e.applied)];
            for (state, n) in states.into_iter().chain([("failed", e.failed)]) {
                let _ = writeln!(out, "runner_queue_depth{{env=\"{}\",state=\"{state}\"}} {n}", label(env));
            }
        }
        family(
            &mut out,
            "runner_job_last_run_timestamp_seconds",
            "gauge",
            "When each job last ran successfully (Unix seconds).",
        );
        for (job, j) in &status.jobs {
            let at = chrono::DateTime::parse_from_rfc3339(&j.last_run).map(|t| t.timestamp_millis() as f64 / 1000.0);
            if let Ok(at) = at {
                let _ = writeln!(out, "runner_job_last_run_timestamp_seconds{{job=\"{}\"}} {at}", label(job));
            }
        }
        family(
            &mut out,
            "runner_job_last_run_duration_seconds",
            "gauge",
            "How long each job's last successful run took.",
        );
        for (job, j) in &status.jobs {
            let _ = writeln!(
                out,
                "runner_job_last_run_duration_seconds{{job=\"{}\"}} {}",
                label(job),
                j.duration_ms as f64 / 1000.0
            );
        }
        family(&mut out, "runner_mode", "gauge", "The mode: 1 for the current one, 0 for the others.");
        for mode in [Mode::Auto, Mode::Manual, Mode::Paused, Mode::Lockdown] {
            let _ = writeln!(out, "runner_mode{{mode=\"{mode}\"}} {}", u8::from(mode == status.mode));
        }
        out
    }
}

/// A family's HELP and TYPE lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A label value escaped as the text format wants (backslash, quote, newline).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;
    use crate::status::{EnvStatus, JobStatus};

    /// The exposition rules `promtool check metrics` enforces: every family has one HELP and
    /// one TYPE before its samples, samples of a family are together, names are valid, counters
    /// end in `_total`, and no series (name and labels) appears twice. Panics naming the line.
    fn lint(text: &str) {
        let valid = |name: &str| {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let (mut helped, mut typed, mut finished, mut series) =
            (HashSet::new(), BTreeMap::new(), HashSet::new(), HashSet::new());
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(valid(name) && helped.insert(name.to_string()), "bad or second HELP: {line}");
                assert!(!rest[name.len()..].trim().is_empty(), "empty HELP: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
                assert!(typed.insert(name.to_string(), kind.to_string()).is_none(), "second TYPE: {line}");
                assert!(kind != "counter" || name.ends_with("_total"), "counter without _total: {line}");
                if let Some(prev) = current.replace(name.to_string()) {
                    finished.insert(prev);
                }
            } else {
                let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
                let name = key.split('{').next().unwrap();
                assert!(valid(name), "bad name: {line}");
                assert!(helped.contains(name) && typed.contains_key(name), "sample before HELP and TYPE: {line}");
                assert!(current.as_deref() == Some(name) && !finished.contains(name), "family split: {line}");
                assert!(value.parse::<f64>().is_ok(), "bad value: {line}");
                assert!(series.insert(key.to_string()), "duplicate series: {line}");
            }
        }
    }

    fn status(mode: Mode) -> Status {
        let env = EnvStatus {
            tree: "/t".into(),
            pending: 2,
            approved: 0,
            applying: 0,
            applied: 5,
            failed: 1,
            oldest_pending_age_s: Some(3),
        };
        let job = |at: &str| JobStatus { last_run: at.into(), age_s: 9, duration_ms: 1500 };
        Status {
            mode,
            home: "/h".into(),
            envs: [("main".to_string(), env)].into(),
            jobs: [
                ("apply-patch.main".to_string(), job("2026-11-24T10:41:00.112Z")),
                ("health-check".to_string(), job("2026-11-24T10:42:00.000Z")),
            ]
            .into(),
            health: None,
            watchdog: None,
        }
    }

    #[test]
    fn exposition_passes_the_promtool_rules() {
        let metrics = Metrics::default();
        metrics.observe("/webhook", 202);
        metrics.observe("/webhook", 202);
        metrics.observe("/metrics", 200);
        metrics.patch_accepted();
        let text = metrics.render(&status(Mode::Paused));
        lint(&text);
        for line in [
            "# HELP runner_mode The mode: 1 for the current one, 0 for the others.",
            "runner_mode{mode=\"paused\"} 1",
            "runner_mode{mode=\"auto\"} 0",
            "runner_http_requests_total{route=\"/webhook\",status=\"202\"} 2",
            "runner_job_last_run_timestamp_seconds{job=\"apply-patch.main\"} 1795516860.112",
            "runner_job_last_run_duration_seconds{job=\"health-check\"} 1.5",
            "runner_queue_depth{env=\"main\",state=\"failed\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
        }
        assert_eq!(text.matches("runner_mode{").count(), 4, "one series per mode");
        assert!(!text.contains("age_seconds") && !text.contains("since_last"), "ages duplicate the timestamps");
    }

    #[test]
    fn the_lint_catches_what_promtool_would() {
        for bad in [
            "runner_x 1\n",
            "# HELP a x\n# TYPE a gauge\na 1\na 2\n",
            "# HELP a x\n# TYPE a counter\na 1\n",
            "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{x=\"1\"} 1\n",
        ] {
            assert!(std::panic::catch_unwind(|| lint(bad)).is_err(), "accepted {bad:?}");
        }
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
