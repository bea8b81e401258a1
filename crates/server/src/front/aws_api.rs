//! The AWS API front end: every call an AWS SDK or the CLI makes, through the SigV4 pipeline
//! ([`crate::pipeline`]), plus the operator's `/health` (and `/metrics`, when no internal
//! listener takes them).
//!
//! Its answers carry the request id as `x-amzn-RequestId` (set by the shared
//! [`super::RequestIdLayer`]); the pipeline takes the same id from the request's extensions
//! for its audit record and error bodies.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use super::{internal, Front, FrontKind};
use crate::pipeline::{self, Pipeline};

/// The AWS API front end, its shared layers included.
///
/// `store_backend` is reported by `/health`; `metrics`, when given, serves `/metrics` here
/// (without an internal listener). Every other path is the pipeline's.
pub fn front(
    pipeline: Arc<Pipeline>,
    store_backend: &'static str,
    metrics: Option<PrometheusHandle>,
) -> Front {
    front_with(pipeline, store_backend, metrics, Router::new())
}

/// The same with `routes` beside the pipeline (the user pools' discovery documents,
/// [`super::discovery`]).
pub fn front_with(
    pipeline: Arc<Pipeline>,
    store_backend: &'static str,
    metrics: Option<PrometheusHandle>,
    routes: Router<Arc<Pipeline>>,
) -> Front {
    let mut router = routes.route(
        "/health",
        get(move || async move {
            axum::Json(serde_json::json!({"status": "ok", "store": store_backend}))
        }),
    );
    if let Some(metrics) = metrics {
        router = router.merge(internal::metrics_route(metrics));
    }
    Front::new(
        FrontKind::AwsApi,
        router.fallback(pipeline::handle).with_state(pipeline),
    )
}
