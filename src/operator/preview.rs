//! `preview <id|next>`: what a queued patch would change, as a unified diff of the planned file
//! contents against the tree as it is now. Writes nothing and takes no lock.

use std::fmt::Write;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Env;
use super::prepare::prepare;
use super::queue_run::waiting;
use crate::config::Settings;
use crate::patch::plan::{FileChange, Snapshot};
use crate::store::Home;
use crate::store::queue::{self, State};
use crate::store::results::FileResult;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Preview {
    pub id: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub files: Vec<FileResult>,
    /// Unified diff of what applying it now would change; empty when refused or already applied.
    pub diff: String,
    /// Why it would be refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// One line for a terminal or Slack.
    pub summary: String,
}

/// Preview a patch by id, or the one the next queue run would take first (`next`).
pub(crate) fn preview(settings: &Settings, home: &Home, env: &str, target: &str) -> Result<Preview> {
    let env = Env::open(settings, home, env)?;
    let entry = match target {
        "next" => match waiting(&env, &[State::Approved, State::Pending])?.into_iter().next() {
            Some(e) => e,
            None => bail!("no patch is waiting in {}", env.name),
        },
        id => queue::find(home, env.name, id)?.with_context(|| format!("no patch {id} in {}", env.name))?,
    };
    let bytes = std::fs::read(&entry.path).with_context(|| format!("could not read {}", entry.path.display()))?;
    let mut preview = Preview {
        id: entry.id.clone(),
        state: entry.state,
        format: None,
        description: None,
        author: None,
        files: Vec::new(),
        diff: String::new(),
        refusal: None,
        summary: String::new(),
    };
    match prepare(env.cfg, &env.fence, &bytes) {
        Err(reason) => {
            // Refused after parsing (fenced off, a hunk that does not match): still say what it is.
            if let Ok(patch) = crate::patch::parse(&bytes, None, None) {
                preview.format = Some(patch.format.as_str().to_string());
                preview.description = patch.meta.description;
                preview.author = patch.meta.author;
            }
            preview.summary = format!("{} ({}) would be refused: {reason}", entry.id, entry.state);
            preview.refusal = Some(reason);
        }
        Ok(p) => {
            let changed: Vec<&FileChange> = p.plan.files.iter().filter(|c| c.changes_anything()).collect();
            preview.diff = changed.iter().map(|c| diff(c)).collect();
            let (added, removed) = changed.iter().fold((0, 0), |(a, r), c| (a + c.result.added, r + c.result.removed));
            preview.summary = if changed.is_empty() {
                format!("{} ({}) is already applied: it would change nothing", entry.id, entry.state)
            } else {
                format!("{} ({}) would change {} file(s), +{added} -{removed}", entry.id, entry.state, changed.len())
            };
            preview.files = p.plan.files.iter().map(|c| c.result.clone()).collect();
            preview.format = Some(p.format);
            preview.description = p.description;
            preview.author = p.author;
        }
    }
    Ok(preview)
}

/// One file's change as git would show it (also the dashboard's diff of an applied patch).
pub(crate) fn diff(change: &FileChange) -> String {
    let side = |s: &Option<Snapshot>, prefix: &str| match s {
        Some(_) => format!("{prefix}/{}", change.path),
        None => "/dev/null".to_string(),
    };
    let (old, new) = (side(&change.before, "a"), side(&change.after, "b"));
    let mut out = format!("diff --git a/{0} b/{0}\n", change.path);
    // git's spelling: a regular file's type bits and permissions, or a symlink's 120000.
    let mode = |s: &Option<Snapshot>| s.as_ref().map(|s| if s.is_symlink() { s.mode } else { 0o100000 | s.mode });
    match (mode(&change.before), mode(&change.after)) {
        (None, Some(m)) => _ = writeln!(out, "new file mode {m:o}"),
        (Some(m), None) => _ = writeln!(out, "deleted file mode {m:o}"),
        (Some(a), Some(b)) if a != b => _ = writeln!(out, "old mode {a:o}\nnew mode {b:o}"),
        _ => {}
    }
    fn text(s: &Option<Snapshot>) -> Option<&str> {
        match s {
            Some(s) => std::str::from_utf8(&s.bytes).ok(),
            None => Some(""),
        }
    }
    match (text(&change.before), text(&change.after)) {
        (Some(a), Some(b)) if a != b => {
            out.push_str(&similar::udiff::unified_diff(similar::Algorithm::Myers, a, b, 3, Some((&old, &new))));
        }
        (Some(_), Some(_)) => {}
        _ => _ = writeln!(out, "Binary files {old} and {new} differ"),
    }
    out
}
