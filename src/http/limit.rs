//! Per-client rate limit: a token bucket per remote address, `rate_limit` requests a minute with
//! a burst of the same size. `rate_limit = 0` turns it off (for benchmarks behind a proxy).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Past this many tracked clients, buckets that have refilled are forgotten.
const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one token for `client`, or say how many seconds until one is free.
    pub fn allow(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * per_sec < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: capacity, last: now });
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
        for _ in 0..60 {
            assert!(limiter.allow(a, t0).is_ok());
        }
        assert_eq!(limiter.allow(a, t0), Err(1));
        assert!(limiter.allow(b, t0).is_ok(), "another client has its own bucket");
        assert!(limiter.allow(a, t0 + Duration::from_secs(1)).is_ok(), "one token a second");
        assert!(limiter.allow(a, t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0);
        for _ in 0..1000 {
            assert!(limiter.allow(IpAddr::from([127, 0, 0, 1]), Instant::now()).is_ok());
        }
    }
}
