//! `/dashboard/patches` (every patch, newest first, paged, filtered by state and environment) and
//! `/dashboard/patches/{id}` (one patch: what it is, the diff it made or would make, its checks,
//! summary and audit events, and the actions that apply to it).

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

use super::html::{self, Viewer, badge, button, esc, notice, patch_badge, url};
use crate::http::app::{App, Reply, internal};
use crate::http::wire::Response;
use crate::operator;
use crate::patch::summary::outcome_name;
use crate::store::events;
use crate::store::queue::{self, State};
use crate::store::results::{self, FileResult, Outcome, PatchResult};
use crate::time::age;
use crate::time::rfc3339;

const PAGE_SIZE: usize = 50;
/// Check output shown per check; the rest is cut (and says so).
const OUTPUT_SHOWN: usize = 4000;

/// A queued patch, before its result is read.
pub(super) struct Row {
    pub env: String,
    pub id: String,
    pub state: State,
    pub modified: SystemTime,
    /// The queue file: a waiting patch's description is in it.
    pub path: PathBuf,
}

/// Every patch in every environment (or `env`), in `state` when given, newest first.
pub(super) fn rows(app: &App, env: Option<&str>, state: Option<State>) -> Result<Vec<Row>> {
    let mut all = Vec::new();
    for name in app.settings.config.env.keys().filter(|e| env.is_none_or(|want| want == e.as_str())) {
        for s in State::ALL.into_iter().filter(|s| state.is_none_or(|want| want == *s)) {
            for entry in queue::list(&app.home, name, s)? {
                all.push(Row { env: name.clone(), id: entry.id, state: s, modified: entry.modified, path: entry.path });
            }
        }
    }
    all.sort_by(|a, b| (b.modified, &b.id).cmp(&(a.modified, &a.id)));
    Ok(all)
}

pub(super) fn link(env: &str, id: &str) -> String {
    format!("/dashboard/patches/{}?env={}", url(id), url(env))
}

/// A table of patches with their state, outcome (reverted ones as reverted) and age.
pub(super) fn table(app: &App, rows: &[Row]) -> Result<String> {
    let mut h = String::from(
        "<div class=scroll><table class=cards id=patches><tr><th>patch<th>env<th>state<th>outcome<th>description<th>age</tr>",
    );
    if rows.is_empty() {
        h.push_str("<tr><td colspan=6>no patches</tr>");
    }
    let now = SystemTime::now();
    for r in rows {
        let result = results::read(&app.home, &r.env, &r.id)?;
        let outcome = result.as_ref().map(|r| outcome_name(r.outcome));
        let reverted = result.as_ref().is_some_and(|r| r.reverted_at.is_some());
        let description = match &result {
            Some(r) => r.description.clone(),
            None => envelope_description(&r.path),
        };
        let description = description.unwrap_or_default();
        let _ = write!(
            h,
            "<tr class={state}><td class=name><a href=\"{link}\">{id}</a><td>{env}<td class=wide>{state}<td>{badge}<td class=long>{desc}<td data-label=age>{age}</tr>",
            link = link(&r.env, &r.id),
            id = esc(&r.id),
            env = esc(&r.env),
            state = r.state,
            badge = patch_badge(r.state.as_str(), outcome.as_deref(), reverted),
            desc = esc(&description),
            age = age(now.duration_since(r.modified).map(|d| d.as_secs()).unwrap_or(0)),
        );
    }
    h.push_str("</table></div>");
    Ok(h)
}

/// A waiting patch's description, from its JSON envelope (none for other formats, or a file
/// that moved on meanwhile).
fn envelope_description(path: &Path) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    value.get("description")?.as_str().map(String::from)
}

/// `GET /dashboard/patches?state=S&env=E&page=N`.
pub(super) fn list(app: &App, viewer: &Viewer, query: &[(String, String)]) -> Reply {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let state = match param("state") {
        Some(s) => Some(
            State::ALL
                .into_iter()
                .find(|st| st.as_str() == s)
                .ok_or_else(|| Response::error(400, format!("unknown state {s:?}"), Some("state")))?,
        ),
        None => None,
    };
    let env = param("env");
    if let Some(env) = env {
        app.settings.env(Some(env)).map_err(|e| Response::error(400, format!("{e:#}"), Some("env")))?;
    }
    let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let all = rows(app, env, state).map_err(internal)?;
    let pages = all.len().div_ceil(PAGE_SIZE).max(1);
    let shown: Vec<Row> = all.into_iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE).collect();

    let mut h = String::from(
        "<h1>Patches</h1><form method=get action=/dashboard/patches class=actions><label>state <select name=state><option value=\"\">any</option>",
    );
    for s in State::ALL {
        let selected = if state == Some(s) { " selected" } else { "" };
        let _ = write!(h, "<option{selected}>{s}</option>");
    }
    h.push_str("</select></label><label>env <select name=env><option value=\"\">any</option>");
    for name in app.settings.config.env.keys() {
        let selected = if env == Some(name.as_str()) { " selected" } else { "" };
        let _ = write!(h, "<option{selected}>{}</option>", esc(name));
    }
    h.push_str("</select></label><button>Filter</button></form>");
    h.push_str(&table(app, &shown).map_err(internal)?);
    let filter = format!("state={}&env={}", state.map(State::as_str).unwrap_or(""), url(env.unwrap_or("")));
    let _ = write!(h, "<p class=actions>page {page} of {pages}");
    if page > 1 {
        let _ = write!(h, " <a rel=prev href=\"/dashboard/patches?{filter}&page={}\">newer</a>", page - 1);
    }
    if page < pages {
        let _ = write!(h, " <a rel=next href=\"/dashboard/patches?{filter}&page={}\">older</a>", page + 1);
    }
    h.push_str("</p>");
    Ok(html::page(200, "Patches", viewer, None, &h))
}

/// Where a patch is: the environment `?env=` names, else the first (default first) holding it.
pub(super) fn locate(app: &App, id: &str, env: Option<&str>) -> Result<Option<(String, Option<queue::Entry>)>> {
    queue::check_id(id)?;
    let default = app.settings.default_env.as_str();
    let mut names: Vec<&str> = match env {
        Some(e) => vec![app.settings.env(Some(e))?.0],
        None => app.settings.config.env.keys().map(String::as_str).collect(),
    };
    names.sort_by_key(|n| *n != default);
    for name in names {
        let entry = queue::find(&app.home, name, id)?;
        if entry.is_some() || app.home.result_file(name, id)?.exists() {
            return Ok(Some((name.to_string(), entry)));
        }
    }
    Ok(None)
}

/// `GET /dashboard/patches/{id}[?env=E]`, with `message` (an action's outcome) on top.
pub(super) fn detail(app: &App, viewer: &Viewer, id: &str, env: Option<&str>, message: Option<(&str, &str)>) -> Reply {
    let status = if message.is_some_and(|(kind, _)| kind == "bad") { 409 } else { 200 };
    let not_found = || Response::error(404, format!("no patch {id}"), Some("id"));
    let (env, entry) =
        locate(app, id, env).map_err(|e| Response::error(404, format!("{e:#}"), Some("id")))?.ok_or_else(not_found)?;
    let result = results::read(&app.home, &env, id).map_err(internal)?;
    let state = entry.as_ref().map(|e| e.state).or(result.as_ref().map(|r| r.state));
    let waiting = matches!(state, Some(State::Pending | State::Approved | State::Incoming));
    let preview =
        if waiting { Some(operator::preview(&app.settings, &app.home, &env, id).map_err(internal)?) } else { None };
    let reverted = result.as_ref().is_some_and(|r| r.reverted_at.is_some());

    let mut h = String::new();
    if let Some((kind, text)) = message {
        h.push_str(&notice(kind, text));
    }
    let state_name = state.map(State::as_str).unwrap_or("unknown");
    let outcome = result.as_ref().map(|r| outcome_name(r.outcome));
    let _ = write!(h, "<h1>{} {}</h1><dl>", esc(id), patch_badge(state_name, outcome.as_deref(), reverted));
    let description =
        result.as_ref().and_then(|r| r.description.clone()).or(preview.as_ref().and_then(|p| p.description.clone()));
    let author = result.as_ref().and_then(|r| r.author.clone()).or(preview.as_ref().and_then(|p| p.author.clone()));
    let mut field = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            let _ = write!(h, "<dt>{name}<dd>{}", esc(&v));
        }
    };
    field("description", description);
    field("author", author);
    field("environment", Some(env.clone()));
    field("state", Some(state_name.to_string()));
    field("outcome", outcome.clone());
    field("format", result.as_ref().map(|r| r.format.clone()).or(preview.as_ref().and_then(|p| p.format.clone())));
    if let Some(r) = &result {
        field("finished", Some(rfc3339::format(&r.finished_at)));
        field("took", Some(format!("{} ms", r.duration_ms)));
        field("reason", r.reason.clone());
        field("commit", r.commit.clone());
        field(
            "reverted",
            r.reverted_at
                .as_ref()
                .map(|t| format!("{} by {}", rfc3339::format(t), r.reverted_by.as_deref().unwrap_or("?"))),
        );
        field("revert commit", r.revert_commit.clone());
    }
    h.push_str("</dl>");
    h.push_str(&actions(viewer, &env, id, state, result.as_ref()));

    h.push_str("<h2 id=diff>Diff</h2>");
    match (&preview, &result) {
        (Some(p), _) => {
            let _ = write!(h, "<p class=muted-text>what it would change now: {}</p>", esc(&p.summary));
            if let Some(refusal) = &p.refusal {
                h.push_str(&notice("bad", &format!("would be refused: {refusal}")));
            }
            h.push_str(&diff_html(&p.diff));
        }
        (None, Some(r)) if r.outcome == Outcome::Applied => match made_diff(app, &env, r) {
            Ok((diff, note)) => {
                if let Some(note) = note {
                    let _ = write!(h, "<p class=muted-text>{}</p>", esc(&note));
                }
                h.push_str(&diff_html(&diff));
            }
            Err(e) => h.push_str(&notice("bad", &format!("{e:#}"))),
        },
        _ => h.push_str("<p class=muted-text>this patch changed nothing in the tree</p>"),
    }
    if let Some(r) = &result {
        h.push_str(&files(&r.files));
        h.push_str(&checks(r));
    }
    if let Ok(summary) = app.home.summary_file(&env, id).and_then(|p| Ok(std::fs::read_to_string(p)?)) {
        let _ = write!(h, "<h2>Summary</h2><pre id=summary>{}</pre>", esc(&summary));
    }
    h.push_str(&patch_events(app, &env, id).map_err(internal)?);
    Ok(html::page(status, id, viewer, None, &h))
}

/// The buttons that apply to a patch in its state (none without a session).
fn actions(viewer: &Viewer, env: &str, id: &str, state: Option<State>, result: Option<&PatchResult>) -> String {
    let Some(s) = viewer.session() else {
        return "<p class=muted-text>sign in to approve, revert or retry</p>".into();
    };
    let base = format!("/dashboard/patches/{}", url(id));
    let fields = [("env", env)];
    let mut h = String::from("<div class=actions>");
    match state {
        Some(State::Pending) => h.push_str(&button(s, &format!("{base}/approve"), "Approve", "primary", &fields)),
        Some(State::Failed) => h.push_str(&button(s, &format!("{base}/retry"), "Retry", "primary", &fields)),
        Some(State::Applied) if result.is_some_and(|r| r.outcome == Outcome::Applied && r.reverted_at.is_none()) => {
            h.push_str(&button(s, &format!("{base}/revert"), "Revert", "danger", &fields));
        }
        _ => {}
    }
    if matches!(state, Some(State::Pending | State::Approved)) {
        let _ = write!(h, "<a href=\"{}#diff\">Preview now</a>", link(env, id));
    }
    h.push_str("</div>");
    h
}

/// The diff an applied patch made: its backup (the files before) against the tree now. A file
/// changed since by someone else is shown as it is now, and named.
fn made_diff(app: &App, env: &str, result: &PatchResult) -> Result<(String, Option<String>)> {
    let (made, changed) = operator::changed_by(&app.settings, &app.home, env, &result.id).context("no diff to show")?;
    let diff: String = made.iter().map(operator::diff).collect();
    let note = (!changed.is_empty())
        .then(|| format!("changed since the patch (shown as they are now): {}", changed.join(", ")));
    Ok((diff, note))
}

/// A unified diff with added and removed lines coloured; every line a block so long ones wrap.
pub(super) fn diff_html(diff: &str) -> String {
    if diff.is_empty() {
        return "<p class=muted-text>no changes</p>".into();
    }
    let mut h = String::from("<pre class=diff>");
    for line in diff.lines() {
        let class = if line.starts_with("diff ") || line.starts_with("+++") || line.starts_with("---") {
            "file"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        let text = if line.is_empty() { " ".to_string() } else { esc(line) };
        let _ = write!(h, "<span class={class}>{text}</span>");
    }
    h.push_str("</pre>");
    h
}

fn files(files: &[FileResult]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2>Files</h2><div class=scroll><table class=cards id=files><tr><th>path<th>action<th>+<th>-<th>matched</tr>",
    );
    for f in files {
        let path = match &f.from {
            Some(from) => format!("{from} → {}", f.path),
            None => f.path.clone(),
        };
        let _ = write!(
            h,
            "<tr><td class=name>{}<td>{}<td class=n data-label=+>{}<td class=n data-label=->{}<td data-label=matched>{}</tr>",
            esc(&path),
            esc(&f.action),
            f.added,
            f.removed,
            esc(f.matched.as_deref().unwrap_or("-"))
        );
    }
    h.push_str("</table></div>");
    h
}

/// Each check with its output: the last [`OUTPUT_SHOWN`] bytes, the cut marked.
fn checks(result: &PatchResult) -> String {
    if result.checks.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2>Checks</h2>");
    for c in &result.checks {
        let verdict = match (c.timed_out, c.exit_code) {
            (true, _) => badge("bad", "timed out"),
            (false, Some(0)) => badge("ok", "exit 0"),
            (false, Some(code)) => badge("bad", &format!("exit {code}")),
            (false, None) => badge("bad", "killed"),
        };
        let _ = write!(
            h,
            "<p><code>{}</code> {verdict} <span class=muted-text>{} ms</span></p>",
            esc(&c.command),
            c.duration_ms
        );
        let (cut, shown) = tail(&c.output, OUTPUT_SHOWN);
        h.push_str("<pre class=output>");
        if cut > 0 {
            let _ = writeln!(h, "<span class=cut>[{cut} bytes cut]</span>");
        }
        h.push_str(&esc(shown));
        h.push_str("</pre>");
    }
    h
}

/// The last `max` bytes of `text` (on a character boundary) and how many were left out.
fn tail(text: &str, max: usize) -> (usize, &str) {
    if text.len() <= max {
        return (0, text);
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    (start, &text[start..])
}

fn patch_events(app: &App, env: &str, id: &str) -> Result<String> {
    let events: Vec<_> = events::read_all(&app.home)?
        .events
        .into_iter()
        .filter(|e| e.id.as_deref() == Some(id) && e.env.as_deref().is_none_or(|e| e == env))
        .collect();
    let mut h = String::from(
        "<h2>Events</h2><div class=scroll><table class=cards id=events><tr><th>time<th>actor<th>action<th>detail</tr>",
    );
    if events.is_empty() {
        h.push_str("<tr><td colspan=4>none</tr>");
    }
    for e in events {
        let detail = e
            .detail
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            h,
            "<tr><td data-label=time>{}<td class=name>{}<td>{}<td class=long>{}</tr>",
            rfc3339::format(&e.time),
            esc(&e.actor),
            esc(&e.action),
            esc(&detail)
        );
    }
    h.push_str("</table></div>");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_are_coloured_and_escaped() {
        let h = diff_html("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old <b>\n+new\n\n same\n");
        assert!(h.contains("<span class=del>-old &lt;b&gt;</span>"), "{h}");
        assert!(h.contains("<span class=add>+new</span>"), "{h}");
        assert!(h.contains("<span class=hunk"), "{h}");
        assert!(h.contains("<span class=ctx> </span>"), "{h}");
    }

    #[test]
    fn long_check_output_is_cut_and_the_cut_marked() {
        let output = format!("{}<END>", "x".repeat(OUTPUT_SHOWN + 100));
        let result: PatchResult = serde_json::from_value(serde_json::json!({
            "schema": 1, "id": "p", "env": "main", "state": "failed", "outcome": "rolled-back", "format": "json",
            "started_at": "2026-11-24T01:00:00.000Z", "finished_at": "2026-11-24T01:00:01.000Z", "duration_ms": 1000,
            "checks": [{ "command": "make test", "exit_code": 2, "timed_out": false, "duration_ms": 900, "output": output }],
        }))
        .unwrap();
        let h = checks(&result);
        assert!(h.contains("<span class=cut>[105 bytes cut]</span>"), "{h}");
        assert!(h.contains("&lt;END&gt;</pre>") && h.contains("exit 2"), "{h}");
    }

    #[test]
    fn tail_cuts_on_a_char_boundary_and_says_how_much() {
        assert_eq!(tail("short", 10), (0, "short"));
        assert_eq!(tail("abcdef", 3), (3, "def"));
        assert_eq!(tail("aé", 1), (3, ""));
    }
}
