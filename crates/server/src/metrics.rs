//! Prometheus metrics: requests by service, operation and outcome, and latency histograms;
//! requests and latency by front end.

use std::borrow::Cow;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from 50 µs (cached, signed reads) to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// Requests by front end (`front`) and status class (`status`: `2xx`…), counted by
/// [`crate::front::MetricsLayer`].
pub const FRONT_REQUESTS: &str = "rampart_front_requests_total";
/// Latency by front end, until the response head is ready.
pub const FRONT_DURATION: &str = "rampart_front_request_duration_seconds";

/// Installs the process-wide recorder and returns the handle `/metrics` renders.
pub fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("rampart_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(Matcher::Full(FRONT_DURATION.into()), LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the histograms' samples into their buckets every [`UPKEEP_INTERVAL`]. The exporter
/// keeps every recorded sample until a scrape or an upkeep drains it, so a server nobody
/// scrapes grew by ~40 bytes a request (two histograms) — 250 MB in a 4-minute soak.
pub fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// The handles of one (service, operation, outcome, code): registered once, then counted
/// without building and looking up a labelled key per request (the `counter!` path was ~4 000
/// instructions of a signed request's ~113 000, callgrind).
struct RequestMeters {
    requests: metrics::Counter,
    seconds: metrics::Histogram,
}

type MeterKey = (&'static str, &'static str, &'static str, &'static str);

/// Meters by their labels; the label sets are static strings, so the map stays small.
static METERS: std::sync::OnceLock<
    std::sync::RwLock<std::collections::HashMap<MeterKey, std::sync::Arc<RequestMeters>>>,
> = std::sync::OnceLock::new();

fn meters(key: MeterKey) -> std::sync::Arc<RequestMeters> {
    let map = METERS.get_or_init(Default::default);
    if let Some(found) = map.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return std::sync::Arc::clone(found);
    }
    let (service, operation, outcome, code) = key;
    let made = std::sync::Arc::new(RequestMeters {
        requests: metrics::counter!(
            "rampart_requests_total",
            "service" => service,
            "operation" => operation,
            "outcome" => outcome,
            "code" => code,
        ),
        seconds: metrics::histogram!(
            "rampart_request_duration_seconds",
            "service" => service,
            "operation" => operation,
        ),
    });
    map.write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_insert(made)
        .clone()
}

/// Counts one finished request and its latency. The labels are static strings (an error code
/// almost always is: those are counted through cached handles); an error code made at run time
/// is counted through the recorder directly.
pub fn record_request(
    service: &'static str,
    operation: &'static str,
    outcome: &'static str,
    code: Cow<'static, str>,
    seconds: f64,
) {
    match code {
        Cow::Borrowed(code) => {
            let m = meters((service, operation, outcome, code));
            m.requests.increment(1);
            m.seconds.record(seconds);
        }
        Cow::Owned(code) => {
            metrics::counter!(
                "rampart_requests_total",
                "service" => service,
                "operation" => operation,
                "outcome" => outcome,
                "code" => code,
            )
            .increment(1);
            metrics::histogram!(
                "rampart_request_duration_seconds",
                "service" => service,
                "operation" => operation,
            )
            .record(seconds);
        }
    }
}
