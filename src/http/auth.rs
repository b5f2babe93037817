//! Who may post patches and read patch state: a bearer token, a runner HMAC signature with a
//! timestamp, or a GitHub-style signature de-duplicated on its delivery id. Every comparison is
//! constant-time (`hmac`'s `verify_slice`); no secret or signature is ever logged or echoed.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use anyhow::Result;
use hmac::Mac;

use crate::config::ServerConfig;
use crate::http::wire::{Request, Response};
use crate::sign::{check_timestamp, mac, signature_matches};

/// GitHub-style delivery ids remembered for de-duplication.
const DELIVERIES_KEPT: usize = 4096;
/// Bearer tokens are compared as MACs under this fixed key, so the comparison is constant-time
/// and does not depend on the token's length.
const BEARER_KEY: &[u8] = b"runner bearer token comparison";

pub struct Auth {
    token_mac: Option<Vec<u8>>,
    hmac_secret: Option<Vec<u8>>,
    deliveries: Mutex<Deliveries>,
}

/// How a request proved itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Proof {
    /// No secret is configured (loopback only).
    Open,
    Bearer,
    Signature,
    /// GitHub style, with its `X-GitHub-Delivery` id.
    Delivery(String),
}

impl Auth {
    pub fn from_config(server: &ServerConfig) -> Result<Auth> {
        let token = server.token().resolve()?;
        Ok(Auth {
            token_mac: token.map(|t| mac(BEARER_KEY, &[t.as_bytes()]).finalize().into_bytes().to_vec()),
            hmac_secret: server.hmac_secret().resolve()?.map(String::into_bytes),
            deliveries: Mutex::new(Deliveries::default()),
        })
    }

    /// True when no secret is configured: anyone who can connect may post.
    pub fn is_open(&self) -> bool {
        self.token_mac.is_none() && self.hmac_secret.is_none()
    }

    /// Check whichever credential the request carries; a wrong one is refused even if another
    /// scheme would have been possible. `now` is Unix seconds.
    pub fn check(&self, req: &Request, now: i64) -> Result<Proof, Response> {
        if self.is_open() {
            return Ok(Proof::Open);
        }
        if let Some(value) = req.header("authorization") {
            let expected = self.token_mac.as_deref().ok_or_else(|| denied("bearer tokens are not accepted here"))?;
            let token =
                value.strip_prefix("Bearer ").ok_or_else(|| denied("Authorization must be `Bearer <token>`"))?;
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
            check_timestamp(ts, now).map_err(denied)?;
            let hex = signature.strip_prefix("v1=").ok_or_else(|| denied("X-Runner-Signature must be `v1=<hex>`"))?;
            return if signature_matches(secret, &[b"v1:", ts.as_bytes(), b":", &req.body], hex) {
                Ok(Proof::Signature)
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
            let delivery = req.header("x-github-delivery").filter(|d| !d.is_empty() && d.len() <= 128);
            let delivery = delivery.ok_or_else(|| denied("X-GitHub-Delivery is missing"))?;
            return Ok(Proof::Delivery(delivery.to_string()));
        }
        Err(denied(
            "missing credentials: send Authorization: Bearer <token>, or X-Runner-Timestamp and X-Runner-Signature",
        )
        .with_header("WWW-Authenticate", "Bearer"))
    }

    /// Whether this GitHub-style delivery was already answered with success.
    pub fn seen_delivery(&self, id: &str) -> bool {
        self.deliveries.lock().unwrap().seen.contains(id)
    }

    /// Remember a delivery that was answered with success, so a replay is not processed again.
    pub fn remember_delivery(&self, id: &str) {
        self.deliveries.lock().unwrap().insert(id);
    }
}

/// A bounded set: the oldest id is forgotten first.
#[derive(Default)]
struct Deliveries {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Deliveries {
    fn insert(&mut self, id: &str) {
        if self.seen.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > DELIVERIES_KEPT
                && let Some(old) = self.order.pop_front()
            {
                self.seen.remove(&old);
            }
        }
    }
}

fn denied(message: &str) -> Response {
    Response::error(401, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_bounded() {
        let mut d = Deliveries::default();
        for i in 0..DELIVERIES_KEPT + 10 {
            d.insert(&i.to_string());
        }
        assert_eq!(d.seen.len(), DELIVERIES_KEPT);
        assert!(!d.seen.contains("0"));
        assert!(d.seen.contains(&(DELIVERIES_KEPT + 9).to_string()));
    }
}
