//! `POST /slack/commands`: the listener's side of Slack's slash commands. It checks Slack's v0
//! signature on the raw request, decodes the form and hands the command to `crate::slack`, which
//! knows nothing of HTTP.

use crate::http::app::{App, Reply, internal};
use crate::http::replay::{Ran, Seen};
use crate::http::wire::{Request, Response};
use crate::sign::{MAX_SKEW_SECS, now_unix};
use crate::slack::{Answer, commands, form, verify::verify};

/// Verify, decode and run one slash command. Slack shows any non-200 answer as a failure, so
/// after the signature check every outcome, refusals included, is a 200 with a message.
pub fn handle(app: &App, req: &Request) -> Reply {
    let secret = app.slack_secret.as_deref().ok_or_else(|| {
        Response::error(503, "Slack commands are off: set slack.signing_secret_env or slack.signing_secret_file", None)
    })?;
    let now = now_unix();
    let ts = check(secret.as_bytes(), req, now).map_err(|e| Response::error(401, e, None))?;
    let form = form::parse(&String::from_utf8_lossy(&req.body));
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if field("ssl_check") == "1" {
        return Ok(Response::new(200, "text/plain", "")); // Slack checking the certificate
    }
    // Whoever saw a signed request could send it again within its window: it runs once.
    let signature = req.header("x-slack-signature").unwrap_or_default().to_ascii_lowercase();
    let command = format!("{} {}", field("command"), field("text").trim()).trim_end().to_string();
    let seen = Seen { expires: ts.saturating_add(MAX_SKEW_SECS), did: Ran { command } };
    if let Some(earlier) = app.slack_replays.first_use(&signature, seen, now).map_err(internal)? {
        let text = format!("`{}` was already run from this very request: nothing was done again", earlier.did.command);
        return Ok(Response::json(200, &Answer { in_channel: false, text }.to_json()));
    }
    let ctx = commands::Ctx::new(&app.settings, &app.home, &app.base_url, field("user_id"));
    let reply = commands::run(&ctx, field("command"), field("text").trim());
    Ok(Response::json(200, &reply.to_json()))
}

/// The request's Slack signature headers, checked against its raw body; its timestamp.
pub fn check(secret: &[u8], req: &Request, now: i64) -> Result<i64, &'static str> {
    let ts = req.header("x-slack-request-timestamp").ok_or("X-Slack-Request-Timestamp is missing")?;
    let signature = req.header("x-slack-signature").ok_or("X-Slack-Signature is missing")?;
    verify(secret, ts, signature, &req.body, now)
}
