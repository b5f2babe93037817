//! `GET /metrics`: Prometheus text format. Request and patch counters live here; queue depths
//! and job ages are read from disk (through `status::collect`) at each scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::status::Status;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl Metrics {
    /// Count one answered request by route pattern (not raw path, to keep labels few).
    pub fn observe(&self, route: &'static str, status: u16) {
        *self.requests.lock().unwrap().entry((route, status)).or_default() += 1;
    }

    pub fn patch_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn patch_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, status: &Status) -> String {
        let mut out = String::new();
        out.push_str("# HELP runner_http_requests_total HTTP requests answered, by route and status.\n");
        out.push_str("# TYPE runner_http_requests_total counter\n");
        for ((route, code), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(out, "runner_http_requests_total{{route=\"{route}\",status=\"{code}\"}} {n}");
        }
        let counters = [
            ("runner_patches_accepted_total", "Patches queued durably (202).", &self.accepted),
            ("runner_patches_rejected_total", "Patches refused (4xx/5xx on POST /webhook).", &self.rejected),
        ];
        for (name, help, value) in counters {
            let _ =
                write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", value.load(Ordering::Relaxed));
        }
        out.push_str("# HELP runner_queue_depth Patches in each queue state.\n# TYPE runner_queue_depth gauge\n");
        for (env, e) in &status.envs {
            let states =
                [("pending", e.pending), ("approved", e.approved), ("applying", e.applying), ("applied", e.applied)];
            for (state, n) in states.into_iter().chain([("failed", e.failed)]) {
                let _ = writeln!(out, "runner_queue_depth{{env=\"{env}\",state=\"{state}\"}} {n}");
            }
        }
        out.push_str("# HELP runner_job_last_run_age_seconds Seconds since each job last ran successfully.\n");
        out.push_str("# TYPE runner_job_last_run_age_seconds gauge\n");
        for (job, j) in &status.jobs {
            let _ = writeln!(out, "runner_job_last_run_age_seconds{{job=\"{job}\"}} {}", j.age_s);
        }
        let last_apply =
            status.jobs.iter().filter(|(job, _)| job.starts_with("apply-patch")).map(|(_, j)| j.age_s).min();
        if let Some(age) = last_apply {
            out.push_str("# HELP runner_seconds_since_last_apply Seconds since apply-patch last ran successfully.\n");
            let _ =
                write!(out, "# TYPE runner_seconds_since_last_apply gauge\nrunner_seconds_since_last_apply {age}\n");
        }
        let _ = write!(out, "# TYPE runner_mode gauge\nrunner_mode{{mode=\"{}\"}} 1\n", status.mode);
        out
    }
}
