//! Slack: slash commands (`POST /slack/commands`, verified with Slack's v0 signature) and
//! their replies. Outgoing alerts live in `alert`.

pub mod alert;
pub mod commands;
pub mod form;
pub mod interactions;
pub mod outcome;
pub mod verify;

use serde_json::json;

use crate::http::app::{App, Reply};
use crate::http::auth;
use crate::http::wire::{Request, Response};

/// Slack cuts a section's text at 3,000 characters; stay under it.
pub const TEXT_LIMIT: usize = 2900;

/// Verify, decode and run one slash command. Slack shows any non-200 answer as a failure, so
/// after the signature check every outcome, refusals included, is a 200 with a message.
pub fn handle(app: &App, req: &Request) -> Reply {
    let secret = app.slack_secret.as_deref().ok_or_else(|| {
        Response::error(503, "Slack commands are off: set slack.signing_secret_env or slack.signing_secret_file", None)
    })?;
    verify::check(secret.as_bytes(), req, auth::now_unix()).map_err(|e| Response::error(401, e, None))?;
    let form = form::parse(&String::from_utf8_lossy(&req.body));
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if field("ssl_check") == "1" {
        return Ok(Response::new(200, "text/plain", "")); // Slack checking the certificate
    }
    let reply = commands::run(app, field("command"), field("text").trim(), field("user_id"));
    Ok(Response::json(200, &reply.to_json()))
}

/// What a command answers: shown to the caller only, or to the channel.
#[derive(Debug)]
pub struct Answer {
    pub in_channel: bool,
    pub text: String,
}

impl Answer {
    pub fn to_json(&self) -> serde_json::Value {
        let text = cut(&self.text, TEXT_LIMIT);
        json!({
            "response_type": if self.in_channel { "in_channel" } else { "ephemeral" },
            "text": text,
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
        })
    }
}

/// Text as Slack's mrkdwn must receive it: `&`, `<` and `>` escaped, so what a patch, a file or
/// a user wrote is shown, never read as a link, a mention or `<!channel>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cut text to at most `max` bytes on a character boundary, saying so, and keep a code fence
/// balanced.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_string();
    if out.matches("```").count() % 2 == 1 {
        out.push_str("\n```");
    }
    out.push_str("\n… (cut to fit Slack)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_fences_balanced_and_char_boundaries() {
        assert_eq!(cut("short", 100), "short");
        let long = format!("```{}", "é".repeat(3000));
        let out = cut(&long, 1000);
        assert!(out.len() <= 1000 && out.ends_with("(cut to fit Slack)"), "{}", out.len());
        assert_eq!(out.matches("```").count(), 2);
        assert!(cut(&long, 10).ends_with("(cut to fit Slack)"), "a tiny limit does not panic");
    }

    #[test]
    fn escape_covers_the_three_characters_slack_reads() {
        assert_eq!(escape("a <b> & <!channel> <@U1|x>"), "a &lt;b&gt; &amp; &lt;!channel&gt; &lt;@U1|x&gt;");
    }
}
