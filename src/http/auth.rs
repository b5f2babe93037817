//! Who may post patches and read patch state: a bearer token, a runner HMAC signature with a
//! timestamp, or a GitHub-style signature of the body. Every comparison is constant-time
//! (`hmac`'s `verify_slice`); no secret or signature is ever logged or echoed. A signature can
//! be replayed by whoever saw it, so intake remembers the ones it accepted (`replay`).

use anyhow::Result;
use hmac::Mac;

use crate::config::ServerConfig;
use crate::http::wire::{Request, Response};
use crate::sign::{MAX_SKEW_SECS, check_timestamp, mac, signature_matches};
/// Bearer tokens are compared as MACs under this fixed key, so the comparison is constant-time
/// and does not depend on the token's length.
const BEARER_KEY: &[u8] = b"runner bearer token comparison";

pub(crate) struct Auth {
    token_mac: Option<Vec<u8>>,
    hmac_secret: Option<Vec<u8>>,
}

/// How a request proved itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    /// No secret is configured (loopback only).
    Open,
    Bearer,
    /// A runner or GitHub-style HMAC signature: one that can be replayed until `expires`.
    Signed(Signed),
}

/// An accepted signature: `key` names it (lower-case hex), `expires` is the Unix second from
/// which a replay of it would be refused anyway (its timestamp out of the window).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Signed {
    pub key: String,
    pub expires: i64,
}

impl Auth {
    pub(crate) fn from_config(server: &ServerConfig) -> Result<Auth> {
        let token = server.token().resolve()?;
        Ok(Auth {
            token_mac: token.map(|t| mac(BEARER_KEY, &[t.as_bytes()]).finalize().into_bytes().to_vec()),
            hmac_secret: server.hmac_secret().resolve()?.map(String::into_bytes),
        })
    }

    /// True when no secret is configured: anyone who can connect may post.
    pub(crate) fn is_open(&self) -> bool {
        self.token_mac.is_none() && self.hmac_secret.is_none()
    }

    /// Check whichever credential the request carries; a wrong one is refused even if another
    /// scheme would have been possible. `now` is Unix seconds.
    pub(crate) fn check(&self, req: &Request, now: i64) -> Result<Proof, Response> {
        if self.is_open() {
            return Ok(Proof::Open);
        }
        if let Some(value) = req.header("authorization") {
            let expected = self.token_mac.as_deref().ok_or_else(|| denied("bearer tokens are not accepted here"))?;
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let token = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
                .ok_or_else(|| denied("Authorization must be `Bearer <token>`"))?;
            return if mac(BEARER_KEY, &[token.trim().as_bytes()]).verify_slice(expected).is_ok() {
                Ok(Proof::Bearer)
            } else {
                Err(denied("invalid bearer token"))
            };
        }
        let secret = self.hmac_secret.as_deref();
        if let Some(signature) = req.header("x-runner-signature") {
            let secret = secret.ok_or_else(|| denied("signatures are not accepted here"))?;
            let ts = req.header("x-runner-timestamp").ok_or_else(|| denied("X-Runner-Timestamp is missing"))?;
            let at = check_timestamp(ts, now).map_err(denied)?;
            let hex = signature.strip_prefix("v1=").ok_or_else(|| denied("X-Runner-Signature must be `v1=<hex>`"))?;
            return if signature_matches(secret, &[b"v1:", ts.as_bytes(), b":", &req.body], hex) {
                Ok(Proof::Signed(Signed {
                    key: format!("v1={}", hex.to_ascii_lowercase()),
                    expires: at + MAX_SKEW_SECS,
                }))
            } else {
                Err(denied("invalid X-Runner-Signature"))
            };
        }
        if let Some(signature) = req.header("x-hub-signature-256") {
            let secret = secret.ok_or_else(|| denied("signatures are not accepted here"))?;
            let hex = signature
                .strip_prefix("sha256=")
                .ok_or_else(|| denied("X-Hub-Signature-256 must be `sha256=<hex>`"))?;
            if !signature_matches(secret, &[&req.body], hex) {
                return Err(denied("invalid X-Hub-Signature-256"));
            }
            // The delivery id is not signed: a replay can carry any, so it names nothing here.
            req.header("x-github-delivery")
                .filter(|d| !d.is_empty() && d.len() <= 128)
                .ok_or_else(|| denied("X-GitHub-Delivery is missing"))?;
            // Nothing signed says when: remember it for a window from now.
            let key = format!("sha256={}", hex.to_ascii_lowercase());
            return Ok(Proof::Signed(Signed { key, expires: now.saturating_add(MAX_SKEW_SECS) }));
        }
        Err(denied(
            "missing credentials: send Authorization: Bearer <token>, or X-Runner-Timestamp and X-Runner-Signature",
        )
        .with_header("WWW-Authenticate", "Bearer"))
    }

    /// Judge a request by its head alone, before its body is read, where the scheme allows: a
    /// bearer token is checked now, and a request with no credential is refused now. `Ok` means
    /// the body is worth reading (a good token, or a signature, which needs the body).
    pub(crate) fn check_head(&self, req: &Request, now: i64) -> Result<(), Response> {
        let signed = req.header("x-runner-signature").is_some() || req.header("x-hub-signature-256").is_some();
        if req.header("authorization").is_none() && signed {
            return Ok(());
        }
        self.check(req, now).map(drop)
    }
}

fn denied(message: &str) -> Response {
    Response::error(401, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::sign;

    fn auth(token: &str) -> Auth {
        let token_mac = Some(mac(BEARER_KEY, &[token.as_bytes()]).finalize().into_bytes().to_vec());
        Auth { token_mac, hmac_secret: Some(b"s3cret".to_vec()) }
    }

    fn head(headers: &[(&str, &str)]) -> Request {
        Request::for_test("POST", "/webhook", std::net::IpAddr::from([127, 0, 0, 1]), headers)
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let auth = auth("tok");
        for value in ["Bearer tok", "bearer tok", "BEARER tok"] {
            assert_eq!(auth.check(&head(&[("authorization", value)]), 0).unwrap(), Proof::Bearer, "{value}");
        }
        for value in ["Basic tok", "Bearertok", "tok", "bearer wrong"] {
            assert_eq!(auth.check(&head(&[("authorization", value)]), 0).unwrap_err().status, 401, "{value}");
        }
    }

    #[test]
    fn the_head_alone_settles_tokens_and_missing_credentials_but_not_signatures() {
        let auth = auth("tok");
        assert!(auth.check_head(&head(&[("authorization", "Bearer tok")]), 0).is_ok());
        assert_eq!(auth.check_head(&head(&[("authorization", "Bearer no")]), 0).unwrap_err().status, 401);
        assert_eq!(auth.check_head(&head(&[]), 0).unwrap_err().status, 401);
        assert!(auth.check_head(&head(&[("x-runner-signature", "v1=00")]), 0).is_ok(), "needs the body");
        assert!(auth.check_head(&head(&[("x-hub-signature-256", "sha256=00")]), 0).is_ok(), "needs the body");
    }

    #[test]
    fn a_signature_is_named_the_same_whatever_its_hex_case() {
        let auth = auth("tok");
        let sig = sign(b"s3cret", &[b"{}"]);
        let proof = |sig: String| {
            let mut req = head(&[("x-hub-signature-256", &sig), ("x-github-delivery", "d")]);
            req.body = b"{}".to_vec();
            auth.check(&req, 1000).unwrap()
        };
        let lower = proof(format!("sha256={sig}"));
        assert_eq!(lower, proof(format!("sha256={}", sig.to_ascii_uppercase())));
        assert_eq!(lower, Proof::Signed(Signed { key: format!("sha256={sig}"), expires: 1300 }));
    }
}
