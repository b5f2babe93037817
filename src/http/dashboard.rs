//! `GET /status` (JSON), `GET /dashboard` (one self-refreshing page, no external assets,
//! readable on a phone) and `GET /metrics`, all from `status::collect` plus `status::recent`.

use std::fmt::Write;

use crate::http::app::{App, Reply, internal};
use crate::http::wire::Response;
use crate::status::{self, Recent, Status, named_entries};
use crate::time::age;
use crate::time::rfc3339;

/// How many recent patches the dashboard lists.
const RECENT: usize = 15;
const REFRESH_SECS: u32 = 15;

pub fn status_json(app: &App) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    Ok(Response::json(200, &serde_json::to_value(status).map_err(|e| internal(e.into()))?))
}

pub fn metrics(app: &App) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    Ok(Response::new(200, "text/plain; version=0.0.4", app.metrics.render(&status)))
}

pub fn page(app: &App) -> Reply {
    let status = status::collect(&app.settings, None).map_err(internal)?;
    let recent = status::recent(&app.settings, &app.home, RECENT).map_err(internal)?;
    Ok(Response::new(200, "text/html; charset=utf-8", render(&status, &recent)))
}

fn render(status: &Status, recent: &[Recent]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=refresh content={REFRESH_SECS}><title>runner</title><style>{STYLE}</style></head><body>\
         <h1>runner <span class=\"mode {0}\" id=mode>{0}</span></h1><p class=muted>updated {1}</p>",
        status.mode,
        rfc3339::format(&chrono::Utc::now())
    );
    h.push_str("<h2>Queues</h2><table id=queues><tr><th>env<th>pending<th>approved<th>applying<th>applied<th>failed<th>oldest waiting</tr>");
    for (env, e) in &status.envs {
        let oldest = e.oldest_pending_age_s.map(age).unwrap_or_else(|| "-".into());
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{}<td>{}<td>{}<td>{}<td>{}</tr>",
            esc(env),
            e.pending,
            e.approved,
            e.applying,
            e.applied,
            e.failed,
            oldest
        );
    }
    h.push_str("</table><h2>Recent patches</h2><table id=recent><tr><th>patch<th>env<th>state<th>outcome<th>age</tr>");
    if recent.is_empty() {
        h.push_str("<tr><td colspan=5>no patches yet</tr>");
    }
    for r in recent {
        let outcome = r.outcome.as_deref().unwrap_or("-");
        let _ = write!(
            h,
            "<tr class={}><td>{}<td>{}<td>{}<td>{}<td>{}</tr>",
            r.state,
            esc(&r.id),
            esc(&r.env),
            r.state,
            esc(outcome),
            age(r.age_s)
        );
    }
    h.push_str("</table>");
    section(&mut h, "Health", "health", &named_entries(status.health.as_ref(), "checks"), "no health-check has run");
    section(
        &mut h,
        "Watchdog",
        "watchdog",
        &named_entries(status.watchdog.as_ref(), "components"),
        "no watchdog run yet",
    );
    h.push_str("<h2>Jobs</h2><table id=jobs><tr><th>job<th>last run<th>ago</tr>");
    for (job, j) in &status.jobs {
        let _ = write!(h, "<tr><td>{}<td>{}<td>{}</tr>", esc(job), esc(&j.last_run), age(j.age_s));
    }
    if status.jobs.is_empty() {
        h.push_str("<tr><td colspan=3>no job has run yet</tr>");
    }
    h.push_str("</table></body></html>\n");
    h
}

fn section(h: &mut String, title: &str, id: &str, rows: &[(String, String)], empty: &str) {
    let _ = write!(h, "<h2>{title}</h2><table id={id}>");
    if rows.is_empty() {
        let _ = write!(h, "<tr><td>{empty}</tr>");
    }
    for (name, fields) in rows {
        let _ = write!(h, "<tr><td>{}<td>{}</tr>", esc(name), esc(fields));
    }
    h.push_str("</table>");
}

/// HTML-escape text from patches and state files.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:1em auto;max-width:60em;padding:0 .8em;color:#222}\
table{border-collapse:collapse;width:100%;margin-bottom:1em;display:block;overflow-x:auto}\
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;white-space:nowrap}\
.mode{font-size:.6em;padding:.2em .5em;border-radius:.3em;background:#dfd;vertical-align:middle}\
.mode.paused,.mode.manual{background:#ffd}.mode.lockdown{background:#fdd}\
tr.failed td{color:#a00}tr.applied td{color:#070}.muted{color:#777;font-size:.85em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(esc("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}
