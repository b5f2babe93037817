//! Slack: slash commands and their replies, and Slack's v0 request signature. The route that
//! verifies and dispatches them (`POST /slack/commands`) is the listener's, in `crate::http::slack`;
//! outgoing alerts live in `crate::notify`.

pub(crate) mod commands;
pub(crate) mod form;
pub(crate) mod outcome;
pub(crate) mod verify;

use serde_json::json;

/// Slack cuts a section's text at 3,000 characters; stay under it.
pub(crate) const TEXT_LIMIT: usize = 2900;

/// What a command answers: shown to the caller only, or to the channel.
#[derive(Debug)]
pub(crate) struct Answer {
    pub in_channel: bool,
    pub text: String,
}

impl Answer {
    pub(crate) fn to_json(&self) -> serde_json::Value {
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
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cut text to at most `max` bytes on a character boundary, saying so, and keep a code fence
/// balanced.
pub(crate) fn cut(text: &str, max: usize) -> String {
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
