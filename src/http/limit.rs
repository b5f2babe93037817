//! Per-client rate limit: a token bucket per client address, `rate_limit` requests a minute with
//! a burst of the same size. `rate_limit = 0` turns it off (for benchmarks behind a proxy).
//!
//! Each address has two buckets: one for requests that proved a credential and one for the
//! rest (no credential, or a wrong one). Behind a tunnel many clients share one address, and
//! anonymous requests spending the same bucket would lock the authenticated poster out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Past this many tracked clients, buckets that have refilled are forgotten.
const MAX_TRACKED: usize = 10_000;

pub(crate) struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<(IpAddr, Class), Bucket>>,
}

/// Which of a client's two buckets a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    /// The request proved a credential (a token or a signature).
    Authenticated,
    /// No credential, a wrong one, or none needed.
    Anonymous,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one token from `client`'s `class` bucket, or say how many seconds until one is free.
    pub(crate) fn allow(&self, client: IpAddr, class: Class, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * per_sec < capacity);
        }
        let bucket = buckets.entry((client, class)).or_insert(Bucket { tokens: capacity, last: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * per_sec).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_sec).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_per_client() {
        let limiter = RateLimiter::new(60);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        let anon = Class::Anonymous;
        for _ in 0..60 {
            assert!(limiter.allow(a, anon, t0).is_ok());
        }
        assert_eq!(limiter.allow(a, anon, t0), Err(1));
        assert!(limiter.allow(b, anon, t0).is_ok(), "another client has its own bucket");
        assert!(limiter.allow(a, anon, t0 + Duration::from_secs(1)).is_ok(), "one token a second");
        assert!(limiter.allow(a, anon, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn anonymous_requests_do_not_spend_the_authenticated_bucket() {
        let limiter = RateLimiter::new(3);
        let (a, t0) = (IpAddr::from([127, 0, 0, 1]), Instant::now());
        for _ in 0..3 {
            assert!(limiter.allow(a, Class::Anonymous, t0).is_ok());
        }
        assert!(limiter.allow(a, Class::Anonymous, t0).is_err());
        for _ in 0..3 {
            assert!(limiter.allow(a, Class::Authenticated, t0).is_ok());
        }
        assert!(limiter.allow(a, Class::Authenticated, t0).is_err(), "the authenticated bucket has a limit too");
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0);
        for _ in 0..1000 {
            assert!(limiter.allow(IpAddr::from([127, 0, 0, 1]), Class::Anonymous, Instant::now()).is_ok());
        }
    }
}
