//! Outcomes in Slack: once a queue run settles a patch, one Block Kit message to the incoming
//! webhook (when one is configured) says what happened and offers the next step as a button:
//! Revert for an applied patch, Retry for a refused or rolled-back one, Approve for one that
//! waits, Preview for any. The buttons come back to `POST /slack/interactions`. Everything taken
//! from a patch or a file is escaped, so a description cannot ping a channel or forge a link.

use std::fmt::Write;

use anyhow::Result;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::notify;
use crate::operator::QueueReport;
use crate::patch::summary::outcome_name;
use crate::slack::{TEXT_LIMIT, cut, escape};
use crate::store::Home;
use crate::store::results::{self, Outcome, PatchResult};

/// Files listed in a message; the rest are counted.
const FILES_SHOWN: usize = 15;
/// Characters of a refusal or rollback reason shown.
const REASON_SHOWN: usize = 1500;

/// Post one message per patch the run settled (or rolled back after a crash). Nothing is posted,
/// and nothing logged, where no incoming webhook is configured; one that cannot be read (a
/// missing file) is logged with each message, as an unreachable one is.
pub(crate) fn announce(settings: &Settings, home: &Home, report: &QueueReport) -> Result<()> {
    if report.check || matches!(settings.config.slack.alert_webhook().resolve(), Ok(None)) {
        return Ok(());
    }
    for p in report.recovered.iter().chain(&report.patches) {
        let Some(result) = results::read(home, &report.env, &p.id)? else { continue };
        notify::send_message(settings, home, "apply-patch", &message(&result))?;
    }
    Ok(())
}

/// Post that a patch just received waits for an operator's approval (manual mode, or an
/// environment with require_approval), with its Approve button; nothing without a webhook.
pub(crate) fn announce_waiting(
    settings: &Settings,
    home: &Home,
    env: &str,
    id: &str,
    description: Option<&str>,
) -> Result<()> {
    if matches!(settings.config.slack.alert_webhook().resolve(), Ok(None)) {
        return Ok(());
    }
    notify::send_message(settings, home, "serve-webhook", &waiting(env, id, description)).map(drop)
}

/// The Block Kit message for a settled patch.
pub(crate) fn message(r: &PatchResult) -> Value {
    let outcome = outcome_name(r.outcome);
    let icon = match r.outcome {
        Outcome::Applied | Outcome::AlreadyApplied => ":white_check_mark:",
        Outcome::Refused => ":no_entry:",
        Outcome::RolledBack => ":leftwards_arrow_with_hook:",
        Outcome::Error => ":warning:",
    };
    let mut head = format!("{icon} *Patch `{}` {outcome}* in {}", escape(&r.id), escape(&r.env));
    if let Some(d) = &r.description {
        let _ = write!(head, "\n{}", escape(d));
    }
    let mut blocks = vec![section(&head)];
    if !r.files.is_empty() {
        let mut files = String::new();
        for f in r.files.iter().take(FILES_SHOWN) {
            let _ = writeln!(files, "`{}` {} +{} −{}", escape(&f.path), f.action, f.added, f.removed);
        }
        if r.files.len() > FILES_SHOWN {
            let _ = writeln!(files, "and {} more", r.files.len() - FILES_SHOWN);
        }
        blocks.push(section(&files));
    }
    if let Some(reason) = &r.reason {
        let shown =
            crate::operator::fit::clip(reason, REASON_SHOWN, "the result file").unwrap_or_else(|| reason.clone());
        blocks.push(section(&format!("*Reason*\n```{}```", escape(&shown))));
    }
    let next = match r.outcome {
        Outcome::Applied => Some(("revert", "Revert", "danger")),
        Outcome::Refused | Outcome::RolledBack | Outcome::Error => Some(("retry", "Retry", "primary")),
        Outcome::AlreadyApplied => None,
    };
    blocks.push(actions(&r.env, &r.id, next));
    json!({ "text": format!("Patch {} {outcome} in {}", escape(&r.id), escape(&r.env)), "blocks": blocks })
}

/// The message for a patch that waits for an operator's approval.
pub(crate) fn waiting(env: &str, id: &str, description: Option<&str>) -> Value {
    let mut head = format!(":hourglass: *Patch `{}` waits for approval* in {}", escape(id), escape(env));
    if let Some(d) = description {
        let _ = write!(head, "\n{}", escape(d));
    }
    json!({ "text": format!("Patch {} waits for approval in {}", escape(id), escape(env)),
            "blocks": [section(&head), actions(env, id, Some(("approve", "Approve", "primary")))] })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(text, TEXT_LIMIT) } })
}

/// The buttons: the next step, if any, then Preview. Each carries `<id> <env>`, the text the
/// matching slash command takes.
fn actions(env: &str, id: &str, next: Option<(&str, &str, &str)>) -> Value {
    let value = format!("{id} {env}");
    let button = |action: &str, label: &str, style: Option<&str>| {
        let mut b = json!({ "type": "button", "action_id": action, "value": value,
                            "text": { "type": "plain_text", "text": label } });
        if let Some(style) = style {
            b["style"] = style.into();
        }
        b
    };
    let mut elements: Vec<Value> = next.map(|(a, l, s)| button(a, l, Some(s))).into_iter().collect();
    elements.push(button("preview", "Preview", None));
    json!({ "type": "actions", "elements": elements })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built from JSON, as the result file is read, so fields added later keep their defaults.
    fn result(outcome: Outcome, reason: Option<&str>) -> PatchResult {
        serde_json::from_value(json!({
            "schema": 1, "id": "p-1", "env": "main", "state": "applied", "outcome": outcome,
            "description": "fix <!channel> & more", "format": "json",
            "started_at": "2026-12-01T00:00:00Z", "finished_at": "2026-12-01T00:00:01Z", "duration_ms": 1,
            "files": [{ "path": "src/a<b>.rs", "action": "modify", "added": 3, "removed": 1 }],
            "reason": reason,
        }))
        .unwrap()
    }

    #[test]
    fn an_applied_patch_offers_revert_and_escapes_what_the_patch_said() {
        let m = message(&result(Outcome::Applied, None));
        let text = m.to_string();
        assert!(text.contains("fix &lt;!channel&gt; &amp; more") && !text.contains("<!channel>"), "{text}");
        assert!(text.contains("`src/a&lt;b&gt;.rs` modify +3 −1"), "{text}");
        let buttons = m["blocks"].as_array().unwrap().last().unwrap()["elements"].as_array().unwrap().clone();
        let ids: Vec<&str> = buttons.iter().map(|b| b["action_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["revert", "preview"]);
        assert_eq!(buttons[0]["value"], "p-1 main");
    }

    #[test]
    fn a_refused_patch_shows_its_reason_and_offers_retry() {
        let m = message(&result(Outcome::Refused, Some("a.rs: hunk 1: the lines it removes are not in the file")));
        let text = m.to_string();
        assert!(text.contains("*Reason*") && text.contains("hunk 1"), "{text}");
        assert!(text.contains("\"action_id\":\"retry\""));
        let w = waiting("main", "p-2", None).to_string();
        assert!(w.contains("\"action_id\":\"approve\"") && w.contains("waits for approval"));
    }
}
