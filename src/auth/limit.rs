//! Per-caller rate limits: one token bucket per token (per peer address for anonymous
//! callers).
//!
//! A bucket holds up to `burst` requests and refills at `per_second`; a request takes one or is
//! refused with the time until one is available (the `Retry-After` of the 429). Buckets live
//! in memory, per instance: behind a load balancer each instance limits on its own. Idle
//! buckets (full again) are dropped when the table grows past [`MAX_BUCKETS`], so a flood of
//! addresses cannot grow it without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate limit: sustained requests per second and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Token(i64),
    /// An anonymous caller, by peer address.
    Addr(IpAddr),
}

/// Buckets kept before idle ones are dropped.
pub const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one server.
pub struct Limiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl Limiter {
    /// `None`: no limit.
    pub fn new(limit: Option<RateLimit>) -> Limiter {
        let limit = limit.filter(|l| l.per_second > 0.0 && l.burst > 0);
        Limiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: Key) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: Key, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit else { return Ok(()) };
        let burst = f64::from(limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * limit.per_second < burst);
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * limit.per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / limit.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = Limiter::new(Some(RateLimit { per_second: 2.0, burst: 3 }));
        let t0 = Instant::now();
        let k = Key::Token(1);
        for _ in 0..3 {
            l.check_at(k, t0).unwrap();
        }
        let wait = l.check_at(k, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9);
        // Another key is unaffected.
        l.check_at(Key::Token(2), t0).unwrap();
        // Half a second later one request is available again, and only one.
        let t1 = t0 + Duration::from_millis(500);
        l.check_at(k, t1).unwrap();
        assert!(l.check_at(k, t1).is_err());
    }

    #[test]
    fn no_limit_allows_everything() {
        let l = Limiter::new(None);
        for _ in 0..10_000 {
            l.check(Key::Addr(IpAddr::from([127, 0, 0, 1]))).unwrap();
        }
    }
}
