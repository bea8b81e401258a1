//! Throttling of the data plane, as API Gateway's stage and route settings define it: a token
//! bucket per (API, stage, route key) holding at most `ThrottlingBurstLimit` requests and
//! refilled at `ThrottlingRateLimit` a second; a request finding it empty is answered 429
//! `{"message":"Too Many Requests"}` before it is authorized or integrated (a flood of bad
//! tokens costs no verification and no invocation). The route's own settings win over the
//! stage's defaults; a dimension left unset takes AWS's account-level default (10 000 a second,
//! burst 5 000), and a route with neither is not throttled here.
//!
//! Buckets live in this process: with several nodes behind one address each admits its own
//! share (the limits are per node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::records::{RouteSettings, StageRecord};

/// AWS's account-level steady rate, for a burst set without a rate.
const ACCOUNT_RATE: f64 = 10_000.0;
/// AWS's account-level burst, for a rate set without a burst.
const ACCOUNT_BURST: i64 = 5_000;
/// Buckets kept at most; past it, full ones (which carry no state worth keeping) are dropped.
const MAX_BUCKETS: usize = 100_000;

/// The limits that apply to one route of a stage, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rate: f64,
    pub burst: f64,
}

impl Limits {
    /// The limits of `route_key` on `stage`: the route's settings, else the stage's defaults.
    pub fn of(stage: &StageRecord, route_key: &str) -> Option<Limits> {
        let from = |s: &RouteSettings| match (s.throttling_rate_limit, s.throttling_burst_limit) {
            (None, None) => None,
            (rate, burst) => Some(Limits {
                rate: rate.unwrap_or(ACCOUNT_RATE).max(0.0),
                burst: burst.unwrap_or(ACCOUNT_BURST).max(0) as f64,
            }),
        };
        stage
            .route_settings
            .get(route_key)
            .and_then(from)
            .or_else(|| from(&stage.default_route_settings))
    }
}

#[derive(Debug)]
struct Bucket {
    limits: Limits,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(limits: Limits, now: Instant) -> Self {
        Bucket {
            limits,
            tokens: limits.burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limits.rate).min(self.limits.burst);
        self.at = now;
    }

    /// Takes one token if there is one.
    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.limits.burst
    }
}

/// The buckets of this node.
#[derive(Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
}

impl Throttle {
    /// Whether a request to `route_key` of `api_id`'s `stage` may go on now.
    pub fn admit(&self, api_id: &str, stage: &StageRecord, route_key: &str) -> bool {
        match Limits::of(stage, route_key) {
            None => true,
            Some(limits) => self.admit_at(
                (
                    api_id.to_owned(),
                    stage.stage_name.clone(),
                    route_key.to_owned(),
                ),
                limits,
                Instant::now(),
            ),
        }
    }

    fn admit_at(&self, key: (String, String, String), limits: Limits, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("throttle lock");
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| !b.is_full(now));
        }
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(limits, now));
        if bucket.limits != limits {
            // The stage's settings changed: start over under the new ones.
            *bucket = Bucket::new(limits, now);
        }
        bucket.take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn stage(default: RouteSettings, routes: &[(&str, RouteSettings)]) -> StageRecord {
        let now = time::OffsetDateTime::now_utc();
        StageRecord {
            stage_name: "$default".into(),
            auto_deploy: true,
            deployment_id: None,
            description: None,
            default_route_settings: default,
            route_settings: routes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            stage_variables: BTreeMap::new(),
            tags: BTreeMap::new(),
            created_date: now,
            last_updated_date: now,
        }
    }

    fn settings(rate: Option<f64>, burst: Option<i64>) -> RouteSettings {
        RouteSettings {
            throttling_rate_limit: rate,
            throttling_burst_limit: burst,
            ..Default::default()
        }
    }

    #[test]
    fn limits_come_from_the_route_then_the_stage() {
        let s = stage(
            settings(Some(50.0), Some(10)),
            &[
                ("GET /a", settings(Some(1.0), Some(2))),
                ("GET /b", settings(None, None)),
            ],
        );
        assert_eq!(
            Limits::of(&s, "GET /a"),
            Some(Limits {
                rate: 1.0,
                burst: 2.0
            })
        );
        assert_eq!(
            Limits::of(&s, "GET /b"),
            Some(Limits {
                rate: 50.0,
                burst: 10.0
            })
        );
        assert_eq!(
            Limits::of(&s, "$default"),
            Some(Limits {
                rate: 50.0,
                burst: 10.0
            })
        );
        let half = stage(settings(Some(5.0), None), &[]);
        assert_eq!(
            Limits::of(&half, "x"),
            Some(Limits {
                rate: 5.0,
                burst: 5000.0
            })
        );
        assert_eq!(Limits::of(&stage(RouteSettings::default(), &[]), "x"), None);
    }

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let t = Throttle::default();
        let limits = Limits {
            rate: 50.0,
            burst: 10.0,
        };
        let key = || ("a".to_owned(), "s".to_owned(), "GET /".to_owned());
        let start = Instant::now();
        let admitted = (0..200)
            .filter(|_| t.admit_at(key(), limits, start))
            .count();
        assert_eq!(admitted, 10);
        // 100 ms later: 5 more.
        let later = start + Duration::from_millis(100);
        assert_eq!(
            (0..200)
                .filter(|_| t.admit_at(key(), limits, later))
                .count(),
            5
        );
        // Never more than the burst, however long it waited.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            (0..200)
                .filter(|_| t.admit_at(key(), limits, much_later))
                .count(),
            10
        );
        // Other routes have buckets of their own.
        assert!(t.admit_at(
            ("a".into(), "s".into(), "GET /x".into()),
            limits,
            much_later
        ));
        // Zero admits nothing.
        let zero = Limits {
            rate: 0.0,
            burst: 0.0,
        };
        assert!(!t.admit_at(("z".into(), "s".into(), "r".into()), zero, much_later));
        // New settings start a new bucket.
        assert!(t.admit_at(
            key(),
            Limits {
                rate: 1.0,
                burst: 1.0
            },
            much_later
        ));
    }
}
