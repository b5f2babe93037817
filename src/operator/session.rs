//! Dashboard sessions without a server-side table: a browser cannot send the bearer token, so a
//! sign-in (or a signed link from `runner dashboard-link`) gives it a cookie signed with a key
//! kept in runner's home. The key survives restarts, so sessions do; deleting it revokes every
//! session and link at once, because each check reads it again.
//!
//! Formats (every MAC is HMAC-SHA256 under the key, hex, from `sign`):
//! - session cookie `<sid>.<expires>.<mac of "session:<sid>:<expires>">`;
//! - link token `<expires>.<nonce>.<mac of "link:<expires>:<nonce>">`;
//! - CSRF token: the mac of `"csrf:<sid>"`, so it is bound to the one session.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::sign::{decode_hex, hex, now_unix, sign, signature_matches};
use crate::store::events::{self, Event};
use crate::store::{Home, atomic, lock};

pub(crate) const COOKIE: &str = "runner_session";
/// Where `dashboard-link` and the Slack command point: opens a session from a link token.
pub(crate) const LINK_PATH: &str = "/dashboard/link";
const KEY_FILE: &str = "dashboard.key";
const KEY_BYTES: usize = 32;

/// A signed-in browser: its id (audited as `web:<sid>`) and the CSRF token its forms carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub sid: String,
    pub csrf: String,
}

impl Session {
    /// Who did it, in events.jsonl.
    pub(crate) fn actor(&self) -> String {
        format!("web:{}", self.sid)
    }
}

pub(crate) fn key_path(home: &Home) -> PathBuf {
    home.state_dir().join(KEY_FILE)
}

/// The signing key, or `None` before the first sign-in (or after an operator deleted it).
pub(crate) fn key(home: &Home) -> Result<Option<Vec<u8>>> {
    let path = key_path(home);
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_hex(text.trim()).filter(|k| k.len() == KEY_BYTES).map(Some).with_context(|| {
            format!(
                "could not read dashboard key {}: not {KEY_BYTES} hex bytes (delete it to make a new one)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read dashboard key {}", path.display())),
    }
}

/// The signing key, created on first use: random, mode 0600, written atomically under a lock so
/// two first sign-ins agree on one key.
pub(crate) fn key_or_create(home: &Home) -> Result<Vec<u8>> {
    if let Some(key) = key(home)? {
        return Ok(key);
    }
    let _guard = lock::acquire(home, "dashboard-key", None, true)?;
    if let Some(key) = key(home)? {
        return Ok(key);
    }
    let key = random(KEY_BYTES)?;
    atomic::write_with_mode(&key_path(home), format!("{}\n", hex(&key)).as_bytes(), Some(0o600))?;
    Ok(key)
}

/// A new session for `ttl_s` seconds from `now`: the cookie value and the session.
pub(crate) fn open(key: &[u8], now: i64, ttl_s: u64) -> Result<(String, Session)> {
    let sid = hex(&random(8)?);
    let expires = now.saturating_add(i64::try_from(ttl_s).unwrap_or(i64::MAX));
    let mac = sign(key, &[b"session:", sid.as_bytes(), b":", expires.to_string().as_bytes()]);
    let session = Session { csrf: csrf(key, &sid), sid: sid.clone() };
    Ok((format!("{sid}.{expires}.{mac}"), session))
}

/// The session a cookie value proves, if it is ours and not expired.
pub(crate) fn verify(key: &[u8], cookie: &str, now: i64) -> Option<Session> {
    let mut parts = cookie.split('.');
    let (sid, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || sid.is_empty() || !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let valid = signature_matches(key, &[b"session:", sid.as_bytes(), b":", expires.as_bytes()], mac);
    (valid && expires.parse::<i64>().ok()? > now).then(|| Session { sid: sid.to_string(), csrf: csrf(key, sid) })
}

fn csrf(key: &[u8], sid: &str) -> String {
    sign(key, &[b"csrf:", sid.as_bytes()])
}

/// Whether a posted CSRF token is the one bound to this session (constant-time).
pub(crate) fn csrf_matches(key: &[u8], session: &Session, token: &str) -> bool {
    signature_matches(key, &[b"csrf:", session.sid.as_bytes()], token)
}

/// A link token valid for `ttl_s` seconds from `now`.
pub(crate) fn link_token(key: &[u8], now: i64, ttl_s: u64) -> Result<String> {
    let expires = now.saturating_add(i64::try_from(ttl_s).unwrap_or(i64::MAX));
    let nonce = hex(&random(8)?);
    let mac = sign(key, &[b"link:", expires.to_string().as_bytes(), b":", nonce.as_bytes()]);
    Ok(format!("{expires}.{nonce}.{mac}"))
}

/// Whether a link token is ours and not expired.
pub(crate) fn link_valid(key: &[u8], token: &str, now: i64) -> bool {
    let mut parts = token.split('.');
    let (Some(expires), Some(nonce), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    signature_matches(key, &[b"link:", expires.as_bytes(), b":", nonce.as_bytes()], mac)
        && expires.parse::<i64>().is_ok_and(|e| e > now)
}

/// A signed dashboard URL under `base_url`, valid for `ttl_s` seconds; audited as
/// `dashboard.link` with who asked for it (never the token).
pub(crate) fn issue_link(home: &Home, base_url: &str, ttl_s: u64, actor: &str) -> Result<String> {
    let key = key_or_create(home)?;
    let token = link_token(&key, now_unix(), ttl_s)?;
    events::append(home, &Event::new(actor, "dashboard.link").with("ttl_s", ttl_s))?;
    Ok(format!("{}{LINK_PATH}?t={token}", base_url.trim_end_matches('/')))
}

/// The `Set-Cookie` value for a session cookie (or, with `value` empty and `max_age` 0, for
/// removing it). `Secure` when the dashboard is reached over https.
pub(crate) fn set_cookie(value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The session cookie's value in a `Cookie` header.
pub(crate) fn cookie_value(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn random(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("could not read random bytes from /dev/urandom")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = &[7; KEY_BYTES];

    #[test]
    fn sessions_verify_until_they_expire_and_refuse_tampering() {
        let (cookie, session) = open(KEY, 1000, 60).unwrap();
        assert_eq!(verify(KEY, &cookie, 1059), Some(session.clone()));
        assert_eq!(verify(KEY, &cookie, 1060), None, "expired");
        assert_eq!(verify(&[8; KEY_BYTES], &cookie, 1000), None, "another key");
        let (sid, rest) = cookie.split_once('.').unwrap();
        let longer = rest.replacen("1060", "9999", 1);
        assert_eq!(verify(KEY, &format!("{sid}.{longer}"), 1000), None, "expiry changed");
        assert!(csrf_matches(KEY, &session, &session.csrf));
        let (_, other) = open(KEY, 1000, 60).unwrap();
        assert!(!csrf_matches(KEY, &other, &session.csrf), "a token is bound to its session");
        assert!(!csrf_matches(KEY, &session, ""));
    }

    #[test]
    fn links_expire_and_refuse_tampering() {
        let token = link_token(KEY, 1000, 900).unwrap();
        assert!(link_valid(KEY, &token, 1899));
        assert!(!link_valid(KEY, &token, 1900));
        assert!(!link_valid(KEY, &token.replacen("1900", "9900", 1), 1000));
        assert!(!link_valid(KEY, &format!("{token}0"), 1000));
        assert!(!link_valid(KEY, "", 1000));
    }

    #[test]
    fn key_is_created_once_private_and_revocable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        assert_eq!(key(&home).unwrap(), None);
        let first = key_or_create(&home).unwrap();
        assert_eq!(key_or_create(&home).unwrap(), first);
        let mode = std::fs::metadata(key_path(&home)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (cookie, _) = open(&first, 0, 60).unwrap();
        std::fs::remove_file(key_path(&home)).unwrap();
        let second = key_or_create(&home).unwrap();
        assert_ne!(first, second);
        assert_eq!(verify(&second, &cookie, 0), None, "deleting the key revokes sessions");
        // A damaged key is an error that says what to do, not a new key made silently.
        std::fs::write(key_path(&home), "not hex\n").unwrap();
        let err = format!("{:#}", key_or_create(&home).unwrap_err());
        assert!(err.contains("hex bytes (delete it to make a new one)"), "{err}");
    }

    #[test]
    fn cookies_are_strict_http_only_and_secure_over_https() {
        let c = set_cookie("v", 43200, true);
        assert_eq!(c, "runner_session=v; Path=/dashboard; Max-Age=43200; HttpOnly; SameSite=Strict; Secure");
        assert!(!set_cookie("v", 1, false).contains("Secure"));
        assert_eq!(cookie_value("a=1; runner_session=x.y.z; b=2"), Some("x.y.z"));
        assert_eq!(cookie_value("runner_sessionx=1"), None);
    }
}
