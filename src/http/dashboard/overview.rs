//! `GET /dashboard`: the mode (and, signed in, a control to change it), queues per environment,
//! health checks, watchdog circuits, the jobs' last runs, the charts and the latest patches.

use std::fmt::Write;

use serde_json::Value;

use super::html::{self, Viewer, badge, csrf_input, esc};
use super::{charts, patches};
use crate::http::app::{App, Reply, internal};
use crate::status::{self, Status};
use crate::store::mode::Mode;
use crate::time::age;

const REFRESH_SECS: u32 = 15;
const LATEST: usize = 10;

pub(super) fn page(app: &App, viewer: &Viewer) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    let now = chrono::Utc::now();
    let mut h = String::new();
    let mode_kind = match status.mode {
        Mode::Auto => "ok",
        Mode::Manual | Mode::Paused => "warn",
        Mode::Lockdown => "bad",
    };
    let _ = write!(h, "<h1>runner <span class=\"badge mode {mode_kind}\" id=mode>{}</span></h1>", status.mode);
    if let Some(s) = viewer.session() {
        let _ = write!(
            h,
            "<form method=post action=/dashboard/mode class=actions>{}<label>mode <select name=mode>",
            csrf_input(s)
        );
        for m in [Mode::Auto, Mode::Manual, Mode::Paused, Mode::Lockdown] {
            let selected = if m == status.mode { " selected" } else { "" };
            let _ = write!(h, "<option{selected}>{m}</option>");
        }
        h.push_str("</select></label><button>Set mode</button></form>");
    }
    let _ = write!(
        h,
        "<p class=muted-text>updated {} · reloads every {REFRESH_SECS} s</p>",
        crate::time::rfc3339::format(&now)
    );
    queues(&mut h, &status);
    health(&mut h, status.health.as_ref());
    watchdog(&mut h, status.watchdog.as_ref());
    jobs(&mut h, &status);
    let runs = charts::runs(app, now).map_err(internal)?;
    let _ = write!(
        h,
        "<h2>Last {} days</h2><div class=charts>{}{}</div>",
        charts::DAYS,
        charts::per_day(&runs, now),
        charts::durations(&runs, now)
    );
    let latest: Vec<_> = patches::rows(app, None, None).map_err(internal)?.into_iter().take(LATEST).collect();
    h.push_str("<h2>Latest patches</h2>");
    h.push_str(&patches::table(app, &latest).map_err(internal)?);
    h.push_str("<p><a href=/dashboard/patches>all patches</a></p>");
    Ok(html::page(200, "overview", viewer, Some(REFRESH_SECS), &h))
}

fn queues(h: &mut String, status: &Status) {
    h.push_str("<h2>Queues</h2><div class=scroll><table class=cards id=queues><tr><th>env<th class=n>pending<th class=n>approved<th class=n>applying<th class=n>applied<th class=n>failed<th>oldest waiting</tr>");
    for (env, e) in &status.envs {
        let oldest = e.oldest_pending_age_s.map(age).unwrap_or_else(|| "-".into());
        let link = |state: &str, n: usize| {
            format!(
                "<td class=n data-label={state}><a href=\"/dashboard/patches?state={state}&env={}\">{n}</a>",
                html::url(env)
            )
        };
        let _ = write!(
            h,
            "<tr><td class=name>{}{}{}{}{}{}<td data-label=\"oldest waiting\">{oldest}</tr>",
            esc(env),
            link("pending", e.pending),
            link("approved", e.approved),
            link("applying", e.applying),
            link("applied", e.applied),
            link("failed", e.failed),
        );
    }
    h.push_str("</table></div>");
}

/// A field of a state file's entry as text (`-` when absent).
fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn entries<'a>(state: Option<&'a Value>, key: &str) -> Vec<(&'a String, &'a Value)> {
    state.and_then(|s| s[key].as_object()).map(|m| m.iter().collect()).unwrap_or_default()
}

fn health(h: &mut String, state: Option<&Value>) {
    h.push_str("<h2>Health</h2><div class=scroll><table class=cards id=health><tr><th>check<th>state<th class=n>failing<th>last change<th>message</tr>");
    let checks = entries(state, "checks");
    if checks.is_empty() {
        h.push_str("<tr><td colspan=5>no health-check has run</tr>");
    }
    for (name, c) in checks {
        let failing = c["consecutive_failures"].as_u64().unwrap_or(0);
        let state = match (c["healthy"].as_bool(), failing) {
            (Some(true), 0) => badge("ok", "healthy"),
            (Some(true), n) => badge("warn", &format!("failing {n}")),
            _ => badge("bad", "unhealthy"),
        };
        let _ = write!(
            h,
            "<tr><td class=name>{}<td>{state}<td class=n data-label=failing>{failing}<td data-label=\"last change\">{}<td class=long>{}</tr>",
            esc(name),
            esc(&text(c, "last_change")),
            esc(&text(c, "message"))
        );
    }
    h.push_str("</table></div>");
}

fn watchdog(h: &mut String, state: Option<&Value>) {
    h.push_str("<h2>Watchdog</h2><div class=scroll><table class=cards id=watchdog><tr><th>component<th>circuit<th class=n>restarts in window<th>last restart<th>message</tr>");
    let components = entries(state, "components");
    if components.is_empty() {
        h.push_str("<tr><td colspan=5>no watchdog run yet</tr>");
    }
    for (name, c) in components {
        let circuit = c["state"].as_str().unwrap_or("unknown");
        let kind = match circuit {
            "closed" => "ok",
            "half-open" => "warn",
            _ => "bad",
        };
        let _ = write!(
            h,
            "<tr><td class=name>{}<td>{}<td class=n data-label=restarts>{}<td data-label=\"last restart\">{}<td class=long>{}</tr>",
            esc(name),
            badge(kind, circuit),
            c["restarts"].as_u64().unwrap_or(0),
            esc(&text(c, "last_restart")),
            esc(&text(c, "message"))
        );
    }
    h.push_str("</table></div>");
}

fn jobs(h: &mut String, status: &Status) {
    h.push_str(
        "<h2>Jobs</h2><div class=scroll><table class=cards id=jobs><tr><th>job<th>last run<th>ago<th class=n>took</tr>",
    );
    if status.jobs.is_empty() {
        h.push_str("<tr><td colspan=4>no job has run yet</tr>");
    }
    for (job, j) in &status.jobs {
        let _ = write!(
            h,
            "<tr><td class=name>{}<td data-label=\"last run\">{}<td data-label=ago>{}<td class=n data-label=took>{} ms</tr>",
            esc(job),
            esc(&j.last_run),
            age(j.age_s),
            j.duration_ms
        );
    }
    h.push_str("</table></div>");
}
