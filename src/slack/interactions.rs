//! `POST /slack/interactions`: the buttons on outcome messages (see `outcome`). Slack posts a
//! form with one field, `payload`, a JSON `block_actions` document, signed like a slash command.
//! Each button runs its slash command (`approve` → /patch-approve, `revert` → /patch-revert,
//! `retry` → /again, `preview` → /patch-preview) through `commands::run`, so the admin rule, the
//! library call and the audit line (actor `slack:<user>`) are the slash command's own. Slack
//! ignores the body of the answer to a button, so the reply also goes to the payload's
//! `response_url`, or to alerts.log when it cannot be posted.

use serde_json::{Value, json};

use crate::http::app::{App, Reply};
use crate::http::auth;
use crate::http::wire::{Request, Response};
use crate::slack::{alert, commands, form, verify};

/// How long posting a reply to Slack's response_url may take.
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn handle(app: &App, req: &Request) -> Reply {
    let secret = app.slack_secret.as_deref().ok_or_else(|| {
        Response::error(
            503,
            "Slack interactions are off: set slack.signing_secret_env or slack.signing_secret_file",
            None,
        )
    })?;
    verify::check(secret.as_bytes(), req, auth::now_unix()).map_err(|e| Response::error(401, e, None))?;
    let fields = form::parse(&String::from_utf8_lossy(&req.body));
    let payload = fields.iter().find(|(k, _)| k == "payload").map(|(_, v)| v.as_str()).unwrap_or_default();
    let payload: Value = serde_json::from_str(payload)
        .map_err(|e| Response::error(400, format!("payload is not JSON: {e}"), Some("payload")))?;
    let user = payload["user"]["id"].as_str().unwrap_or_default();
    let Some(action) = payload["actions"].as_array().and_then(|a| a.first()) else {
        // Other interaction types (shortcuts, view submissions) are not used: nothing to do.
        return Ok(Response::new(200, "text/plain", ""));
    };
    let command = match action["action_id"].as_str().unwrap_or_default() {
        "approve" => "/patch-approve",
        "revert" => "/patch-revert",
        "retry" => "/again",
        "preview" => "/patch-preview",
        other => {
            return Err(Response::error(
                400,
                format!("unknown action {other:?}: expected approve, revert, retry or preview"),
                Some("payload"),
            ));
        }
    };
    let answer = commands::run(app, command, action["value"].as_str().unwrap_or_default().trim(), user);
    let mut reply = answer.to_json();
    reply["replace_original"] = json!(false);
    let url = payload["response_url"].as_str().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    if let Some(url) = url
        && let Err(e) = alert::deliver(&app.home, "slack-interaction", url, REPLY_TIMEOUT, &reply)
    {
        eprintln!("runner: error: {e:#} (reply to a Slack button lost)");
    }
    Ok(Response::json(200, &reply))
}
