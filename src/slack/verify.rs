//! Slack's v0 request signature: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<raw body>">`
//! under the app's signing secret, with `X-Slack-Request-Timestamp` within five minutes.

use crate::sign::{check_timestamp, signature_matches};

/// The request's timestamp, once its signature checks out.
pub(crate) fn verify(secret: &[u8], ts: &str, signature: &str, body: &[u8], now: i64) -> Result<i64, &'static str> {
    let at = check_timestamp(ts, now)?;
    let hex = signature.strip_prefix("v0=").ok_or("X-Slack-Signature must be `v0=<hex>`")?;
    if signature_matches(secret, &[b"v0:", ts.as_bytes(), b":", body], hex) {
        Ok(at)
    } else {
        Err("invalid X-Slack-Signature")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slack_published_example_verifies() {
        assert_eq!(verify(SECRET, TS, SIGNATURE, BODY.as_bytes(), 1_531_420_618), Ok(1_531_420_618));
        assert_eq!(verify(SECRET, TS, SIGNATURE, BODY.as_bytes(), 1_531_420_618 + 300), Ok(1_531_420_618));
    }

    #[test]
    fn forged_stale_and_malformed_are_refused() {
        let now = 1_531_420_618;
        let tampered = BODY.replace("text=", "text=approve");
        assert!(verify(SECRET, TS, SIGNATURE, tampered.as_bytes(), now).is_err());
        assert!(verify(b"another secret", TS, SIGNATURE, BODY.as_bytes(), now).is_err());
        assert!(verify(SECRET, TS, SIGNATURE, BODY.as_bytes(), now + 301).is_err(), "stale");
        assert!(verify(SECRET, "1531420619", SIGNATURE, BODY.as_bytes(), now).is_err(), "other timestamp");
        assert!(verify(SECRET, TS, &SIGNATURE[3..], BODY.as_bytes(), now).is_err(), "no v0=");
    }
}
