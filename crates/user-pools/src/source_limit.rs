//! Per-source rate limiting of the unauthenticated sign-in and sign-up endpoints
//! ([`LIMITED_OPERATIONS`]): each source address has a token bucket of `burst` requests that
//! refills at `burst` per `window`; a request finding it empty is refused with
//! `TooManyRequestsException` (HTTP 400, as Cognito answers it) before it is decoded or any
//! password is hashed.
//!
//! The buckets live in this node's memory: the limit is per node (N nodes behind a balancer
//! admit up to N× the rate from one source), and a restart forgets them. That is enough for what
//! it is for — keeping one address from spending the node's CPU on Argon2id and SRP, spraying
//! passwords across many users, or flooding sign-ups and codes. The control that holds across
//! nodes and restarts is the per-user lockout, kept in the store (`auth::lockout`).
//!
//! A source is an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64). SigV4-signed
//! requests are not limited here: their caller is an authenticated principal, not an anonymous
//! source. Memory is bounded: at [`MAX_SOURCES`] buckets, full (idle) ones are forgotten first,
//! then the longest-unused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::UserPoolsError;

/// The operations limited per source: those anyone may call without credentials that sign in,
/// sign up, or send or check codes.
pub const LIMITED_OPERATIONS: &[&str] = &[
    "InitiateAuth",
    "RespondToAuthChallenge",
    "SignUp",
    "ConfirmSignUp",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ResendConfirmationCode",
];

/// Most sources tracked at once.
pub const MAX_SOURCES: usize = 65_536;

/// `burst` requests per `window` per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRateLimit {
    pub burst: u32,
    pub window: Duration,
}

impl SourceRateLimit {
    /// The default: 300 requests a minute per source (5 a second sustained, with room for a
    /// burst of 300). Generous for a person or a shared NAT address signing in; a guessing
    /// attack from one address gets 5 tries a second, spread over all the users it targets.
    pub const DEFAULT: SourceRateLimit = SourceRateLimit {
        burst: 300,
        window: Duration::from_secs(60),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4([u8; 4]),
    /// The first 64 bits of the address.
    V6Prefix([u8; 8]),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.octets()),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    Source::V6Prefix(prefix)
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every source; shared by all requests of the node.
#[derive(Debug)]
pub struct SourceLimiter {
    limit: SourceRateLimit,
    /// Tokens regained per second.
    refill: f64,
    buckets: Mutex<HashMap<Source, Bucket>>,
}

impl SourceLimiter {
    /// A limiter admitting `limit.burst` requests per `limit.window` from each source. A zero
    /// burst or window admits nothing.
    pub fn new(limit: SourceRateLimit) -> Self {
        let seconds = limit.window.as_secs_f64();
        SourceLimiter {
            limit,
            refill: if seconds > 0.0 {
                f64::from(limit.burst) / seconds
            } else {
                0.0
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> SourceRateLimit {
        self.limit
    }

    /// Whether `operation` is limited per source.
    pub fn limits(operation: &str) -> bool {
        LIMITED_OPERATIONS.contains(&operation)
    }

    /// Takes one request's token from `source`'s bucket at `now`, or refuses the request.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Result<(), UserPoolsError> {
        let burst = f64::from(self.limit.burst);
        // A poisoned lock only means another request panicked mid-update: the map is still
        // a map of buckets.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = Source::from(source);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_SOURCES {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(UserPoolsError::TooManyRequests(
                "Too many requests from this source. Try again later.".into(),
            ))
        }
    }

    /// Forgets buckets that have refilled (a new bucket would be the same), then, if that was
    /// not enough, the eighth least recently used.
    fn make_room(&self, buckets: &mut HashMap<Source, Bucket>, now: Instant) {
        let burst = f64::from(self.limit.burst);
        buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.tokens + elapsed * self.refill < burst
        });
        if buckets.len() >= MAX_SOURCES {
            let mut by_age: Vec<(Instant, Source)> =
                buckets.iter().map(|(k, b)| (b.updated, *k)).collect();
            by_age.sort_unstable_by_key(|(updated, _)| *updated);
            for (_, key) in by_age.into_iter().take(MAX_SOURCES / 8) {
                buckets.remove(&key);
            }
        }
    }

    /// How many sources are tracked (for tests).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn limiter(burst: u32, window_secs: u64) -> SourceLimiter {
        SourceLimiter::new(SourceRateLimit {
            burst,
            window: Duration::from_secs(window_secs),
        })
    }

    #[test]
    fn a_source_gets_its_burst_then_the_refill_rate() {
        let l = limiter(3, 3);
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.admit(ip, t0).is_ok());
        }
        let refused = l.admit(ip, t0).unwrap_err();
        assert_eq!(refused.code(), "TooManyRequestsException");
        assert_eq!(refused.status(), 400);
        // One token a second.
        assert!(l.admit(ip, t0 + Duration::from_millis(500)).is_err());
        assert!(l.admit(ip, t0 + Duration::from_millis(1100)).is_ok());
        assert!(l.admit(ip, t0 + Duration::from_millis(1200)).is_err());
        // Never more than the burst, however long the source was idle.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.admit(ip, later).is_ok());
        }
        assert!(l.admit(ip, later).is_err());
    }

    #[test]
    fn sources_are_counted_apart_and_ipv6_by_its_64_prefix() {
        let l = limiter(1, 60);
        let t0 = Instant::now();
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        assert!(l.admit(a, t0).is_ok());
        assert!(l.admit(a, t0).is_err());
        assert!(l.admit(b, t0).is_ok());
        let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        assert!(l.admit(v6(1), t0).is_ok());
        assert!(l.admit(v6(2), t0).is_err(), "same /64");
        assert!(l
            .admit(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1)),
                t0
            )
            .is_ok());
        // An IPv4-mapped address is the IPv4 source.
        assert!(l
            .admit(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 2).to_ipv6_mapped()), t0)
            .is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(2, 60);
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.admit(ip, t0).is_ok());
        }
        assert!(l.tracked() <= MAX_SOURCES);
    }

    #[test]
    fn zero_admits_nothing() {
        let l = limiter(0, 60);
        assert!(l
            .admit(IpAddr::V4(Ipv4Addr::LOCALHOST), Instant::now())
            .is_err());
    }
}
