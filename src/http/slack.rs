//! `POST /slack/commands` and `POST /slack/interactions`: the listener's side of Slack. Both check
//! Slack's v0 signature on the raw request, run a signed request at most once, decode the form and
//! hand the command to `crate::slack`, which knows nothing of HTTP.
//!
//! A button on an outcome message (see `slack::outcome`) arrives as an interaction: a form with
//! one field, `payload`, a JSON `block_actions` document. Each button runs its slash command
//! (`approve` → /patch-approve, `revert` → /patch-revert, `retry` → /again, `preview` →
//! /patch-preview) through `commands::run`, so the admin rule, the library call and the audit line
//! (actor `slack:<user>`) are the slash command's own. Slack ignores the body of the answer to a
//! button, so the reply also goes to the payload's `response_url`, or to alerts.log when it cannot
//! be posted.

use serde_json::{Value, json};

use crate::http::app::{App, Reply, internal};
use crate::http::replay::{Ran, Seen};
use crate::http::wire::{Request, Response};
use crate::notify;
use crate::sign::{MAX_SKEW_SECS, now_unix};
use crate::slack::{Answer, commands, form, verify::verify};

/// How long posting a button's reply to Slack's response_url may take.
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Verify, decode and run one slash command. Slack shows any non-200 answer as a failure, so
/// after the signature check every outcome, refusals included, is a 200 with a message.
pub(crate) fn handle(app: &App, req: &Request) -> Reply {
    let (form, ts) = signed_form(app, req)?;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if field("ssl_check") == "1" {
        return Ok(Response::new(200, "text/plain", "")); // Slack checking the certificate
    }
    let reply = run_once(app, req, ts, field("command"), field("text").trim(), field("user_id"))?;
    Ok(Response::json(200, &reply.to_json()))
}

/// One button press on an outcome message.
pub(crate) fn interactions(app: &App, req: &Request) -> Reply {
    let (form, ts) = signed_form(app, req)?;
    let payload = form.iter().find(|(k, _)| k == "payload").map(|(_, v)| v.as_str()).unwrap_or_default();
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
    let answer = run_once(app, req, ts, command, action["value"].as_str().unwrap_or_default().trim(), user)?;
    let mut reply = answer.to_json();
    reply["replace_original"] = json!(false);
    let url = payload["response_url"].as_str().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    if let Some(url) = url
        && let Err(e) = notify::deliver(&app.home, "slack-interaction", url, REPLY_TIMEOUT, &reply)
    {
        eprintln!("runner: error: {e:#} (reply to a Slack button lost)");
    }
    Ok(Response::json(200, &reply))
}

/// The decoded form and the timestamp of a request whose Slack signature checks out.
fn signed_form(app: &App, req: &Request) -> Result<(Vec<(String, String)>, i64), Response> {
    let secret = app.slack_secret.as_deref().ok_or_else(|| {
        Response::error(503, "Slack is off: set slack.signing_secret_env or slack.signing_secret_file", None)
    })?;
    let ts = check(secret.as_bytes(), req, now_unix()).map_err(|e| Response::error(401, e, None))?;
    Ok((form::parse(&String::from_utf8_lossy(&req.body)), ts))
}

/// Run a command from a signed request, unless that very request already ran: whoever saw it
/// could send it again within its window.
fn run_once(app: &App, req: &Request, ts: i64, command: &str, text: &str, user: &str) -> Result<Answer, Response> {
    let now = now_unix();
    let signature = req.header("x-slack-signature").unwrap_or_default().to_ascii_lowercase();
    let ran = format!("{command} {text}").trim_end().to_string();
    let seen = Seen { expires: ts.saturating_add(MAX_SKEW_SECS), did: Ran { command: ran } };
    if let Some(earlier) = app.slack_replays.first_use(&signature, seen, now).map_err(internal)? {
        let text = format!("`{}` was already run from this very request: nothing was done again", earlier.did.command);
        return Ok(Answer { in_channel: false, text });
    }
    let ctx = commands::Ctx::new(&app.settings, &app.home, &app.base_url, user, Some(&app.kicker));
    Ok(commands::run(&ctx, command, text))
}

/// The request's Slack signature headers, checked against its raw body; its timestamp.
pub(crate) fn check(secret: &[u8], req: &Request, now: i64) -> Result<i64, &'static str> {
    let ts = req.header("x-slack-request-timestamp").ok_or("X-Slack-Request-Timestamp is missing")?;
    let signature = req.header("x-slack-signature").ok_or("X-Slack-Signature is missing")?;
    verify(secret, ts, signature, &req.body, now)
}
