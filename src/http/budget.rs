//! Shares of what the listener has a fixed amount of, so one client cannot take it all:
//! connections per client address (`server.max_connections_per_client`) and bytes of request
//! bodies held in memory at once across all connections (`server.max_body_memory`). Each claim
//! is a guard that gives its share back when dropped, however the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections held per client address, each address capped at `per_client`.
pub(crate) struct Shares {
    per_client: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection (or one proxied request) counted against its client's share; it may move to
/// the connection's thread.
pub(crate) struct Share {
    shares: Arc<Shares>,
    client: IpAddr,
}

impl Shares {
    pub(crate) fn new(per_client: usize) -> Shares {
        Shares { per_client: per_client.max(1), held: Mutex::new(HashMap::new()) }
    }

    /// Count one more for `client`, or `None` when it already holds its whole share.
    pub(crate) fn claim(self: &Arc<Self>, client: IpAddr) -> Option<Share> {
        let mut held = self.held.lock().unwrap();
        let n = held.entry(client).or_insert(0);
        if *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(Share { shares: self.clone(), client })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.held.lock().unwrap();
        if let Some(n) = held.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// Bytes of request bodies that may be held at once. A body's announced length is reserved
/// before its first byte is read, so a thousand half-sent bodies cost their reservations, not
/// a thousand buffers growing toward `max_body_bytes`.
pub(crate) struct BodyBudget {
    max: usize,
    used: Mutex<usize>,
}

pub(crate) struct Reserved<'a> {
    budget: &'a BodyBudget,
    bytes: usize,
}

impl BodyBudget {
    pub(crate) fn new(max: usize) -> BodyBudget {
        BodyBudget { max, used: Mutex::new(0) }
    }

    /// Reserve `bytes`, or `None` when that would pass the budget. An empty body needs nothing.
    pub(crate) fn reserve(&self, bytes: usize) -> Option<Reserved<'_>> {
        let mut used = self.used.lock().unwrap();
        if bytes > 0 && used.saturating_add(bytes) > self.max {
            return None;
        }
        *used += bytes;
        Some(Reserved { budget: self, bytes })
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        *self.budget.used.lock().unwrap() -= self.bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_share_given_back_on_drop() {
        let shares = Arc::new(Shares::new(2));
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let first = shares.claim(a).unwrap();
        let _second = shares.claim(a).unwrap();
        assert!(shares.claim(a).is_none(), "a holds its whole share");
        assert!(shares.claim(b).is_some(), "b is not held back by a");
        drop(first);
        assert!(shares.claim(a).is_some(), "a share comes back when its connection ends");
    }

    #[test]
    fn bodies_are_reserved_against_one_budget() {
        let budget = BodyBudget::new(100);
        let sixty = budget.reserve(60).unwrap();
        assert!(budget.reserve(41).is_none());
        let forty = budget.reserve(40).unwrap();
        assert!(budget.reserve(1).is_none());
        assert!(budget.reserve(0).is_some(), "a request without a body always passes");
        drop(sixty);
        assert!(budget.reserve(60).is_some());
        drop(forty);
        assert!(budget.reserve(usize::MAX).is_none());
    }
}
