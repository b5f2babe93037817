//! A patch's `callback_url`: once apply-patch has settled a patch, its record — the same JSON
//! `GET /patches/{id}` answers — is POSTed there, so whoever sent it learns the outcome without
//! polling. Only to a host the environment lists in `callback_hosts` (checked when the webhook
//! takes the patch, and again before sending, since the config may have changed); one attempt
//! within [`TIMEOUT`], no redirects followed, never a retry loop. How it went is an audit event,
//! never part of the patch's outcome.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::{Env, record};
use crate::store::events::{self, Event};
use crate::store::queue::State;
use crate::store::results::Outcome;
use crate::store::{Home, results};

/// How long one callback may take, end to end.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Refuse a callback URL that is not http(s) to a listed host, saying what to change.
pub(crate) fn check(url: &str, hosts: &[String]) -> Result<()> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        bail!("callback_url {url:?} must be an http:// or https:// URL");
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| anyhow!("callback_url {url:?} is not a URL"))?;
    let host = uri.host().ok_or_else(|| anyhow!("callback_url {url:?} names no host"))?;
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        let listed = if hosts.is_empty() { "none are listed".to_string() } else { hosts.join(", ") };
        bail!("callback_url host {host} is not in this environment's callback_hosts ({listed})");
    }
    Ok(())
}

/// A patch as a client sees it: id, environment, state, result record and summary (`null`
/// until apply-patch has run).
pub(crate) fn record(home: &Home, env: &str, id: &str, state: State) -> Result<Value> {
    let result = results::read(home, env, id)?;
    let summary = std::fs::read_to_string(home.summary_file(env, id)?).ok();
    Ok(json!({ "id": id, "env": env, "state": state, "result": result, "summary": summary }))
}

/// Once a patch has settled with `outcome`: call back the URL its `envelope` asks for, if any,
/// and log how that went.
pub(super) fn settled(env: &Env, id: &str, envelope: &[u8], outcome: Outcome, actor: &str) -> Result<()> {
    match url(envelope) {
        Some(url) => notify(env, id, &url, record::final_state(outcome), actor),
        None => Ok(()),
    }
}

/// The `callback_url` an envelope asks for. Read from the raw JSON, so a patch refused as
/// unparseable is still reported; envelopes without the key (nearly all) are not parsed again.
fn url(envelope: &[u8]) -> Option<String> {
    memchr::memmem::find(envelope, b"callback_url")?;
    let value: Value = serde_json::from_slice(envelope).ok()?;
    value.get("callback_url")?.as_str().map(str::to_string)
}

/// Call `url` about a patch settled in `state` and log how that went.
fn notify(env: &Env, id: &str, url: &str, state: State, actor: &str) -> Result<()> {
    let event = Event::new(actor, "patch.callback").env(env.name).id(id);
    // Sized as the webhook's answers are: the receiver may be a model's tool.
    let mut body = record(env.home, env.name, id, state)?;
    super::fit::fit(&mut body, &format!("GET /patches/{id}?full=1"));
    let event = match post(env, url, &body) {
        Ok(status) => event.with("status", status),
        Err(e) => event.with("error", format!("{e:#}")),
    };
    events::append(env.home, &event)
}

/// One POST; the HTTP status, or why there was none. The URL is not repeated in errors: it may
/// carry a token.
fn post(env: &Env, url: &str, body: &Value) -> Result<u16> {
    check(url, &env.cfg.callback_hosts)?;
    let agent: ureq::Agent = crate::notify::agent_config(TIMEOUT).max_redirects(0).build().into();
    let status = agent
        .post(url)
        .send_json(body)
        .map_err(|e| anyhow!("the callback failed: {}", e.to_string().replace(url, "<callback_url>")))?
        .status();
    if !status.is_success() {
        bail!("the callback answered HTTP {}", status.as_u16());
    }
    Ok(status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_hosts_over_http() {
        let hosts = vec!["hooks.example.com".to_string(), "127.0.0.1".to_string()];
        assert!(check("https://hooks.example.com/done?t=1", &hosts).is_ok());
        assert!(check("http://127.0.0.1:8080/x", &hosts).is_ok());
        assert!(check("https://HOOKS.example.com/", &hosts).is_ok());
        for (bad, why) in [
            ("https://evil.example.com/done", "not in this environment's callback_hosts"),
            ("https://hooks.example.com.evil.net/", "not in this environment's callback_hosts"),
            ("file:///etc/passwd", "http:// or https://"),
            ("ftp://hooks.example.com/x", "http:// or https://"),
            ("not a url", "http:// or https://"),
            ("https://exa mple.com/", "not a URL"),
        ] {
            let err = check(bad, &hosts).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = check("https://hooks.example.com/", &[]).unwrap_err().to_string();
        assert!(err.contains("none are listed"), "{err}");
    }

    #[test]
    fn the_url_is_read_from_any_json_envelope() {
        assert_eq!(url(br#"{"id":"a","callback_url":"https://h/x","patch":"??"}"#).as_deref(), Some("https://h/x"));
        assert_eq!(url(br#"{"id":"a","patch":"callback_url"}"#), None);
        assert_eq!(url(br#"{"callback_url": 7}"#), None);
        assert_eq!(url(b"--- a/callback_url\n+++ b/callback_url\n"), None);
    }
}
