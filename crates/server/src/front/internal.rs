//! The internal listener (`--metrics-listen`): plain HTTP on an address of its own, for what
//! must not share the public endpoint — Prometheus `/metrics` for operators today, and next
//! the Lambda Runtime API for sandboxed runtimes. Nothing here is an AWS API: it answers
//! only its own paths (404 otherwise) and carries its request id as `x-request-id`.

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use super::{Front, FrontKind};

/// The internal front end, its shared layers included.
pub fn front(metrics: PrometheusHandle) -> Front {
    Front::new(FrontKind::Internal, metrics_route(metrics))
}

/// `GET /metrics`: the Prometheus text exposition.
pub fn metrics_route<S: Clone + Send + Sync + 'static>(metrics: PrometheusHandle) -> Router<S> {
    Router::new().route("/metrics", get(move || async move { metrics.render() }))
}
