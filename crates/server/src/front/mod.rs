//! Front ends: the ways a request enters Rampart, each with its own routing, authentication
//! and answer shapes, all behind the same request-id and metrics layers.
//!
//! - [`aws_api`]: the AWS API — every SigV4-signed (or unauthenticated-by-design) call to a
//!   service, through [`crate::pipeline`]; plus `/health`, and `/metrics` when no internal
//!   listener is configured.
//! - [`data_plane`]: HTTP traffic to deployed APIs, addressed by `Host`
//!   (`<apiId>.execute-api.<anything>`) or by path (`/_api/<apiId>/<stage>/…`), authenticated
//!   by the API's own rules (JWT), never SigV4. Services plug in through [`data_plane::DataPlane`].
//! - [`internal`]: a plain-HTTP listener of its own (`--metrics-listen`) for operators and,
//!   later, sandboxed runtimes: Prometheus `/metrics` today, the Lambda Runtime API next.
//!
//! The AWS API and the data plane share the main listener: [`MainListener`] sends each request
//! to exactly one of them before any routing or authentication happens
//! ([`data_plane::destination`]). A data-plane request never reaches the SigV4 pipeline, and
//! an AWS API request never reaches a data plane, whatever its path or signature.
//!
//! Every front end is wrapped in the same two layers ([`Front::new`]):
//! - [`RequestIdLayer`]: one id per request, generated before the front end sees it, put in
//!   the request's extensions as [`RequestId`] (the pipeline takes it from there for the audit
//!   record and error bodies) and set on the response under the front end's header
//!   (`x-amzn-RequestId`, `apigw-requestid`, `x-request-id`);
//! - [`MetricsLayer`]: `rampart_front_requests_total{front,status}` and
//!   `rampart_front_request_duration_seconds{front}`, with handles registered once, so the
//!   hot path only touches atomics.

pub mod aws_api;
pub mod data_plane;
pub mod discovery;
pub mod internal;
pub mod limits;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use http::header::HOST;
use http::{HeaderName, HeaderValue};
use metrics::{Counter, Histogram};
use rampart_core::ids;
use tower::{Layer, Service};

use data_plane::Destination;

/// Which front end a request entered by: the `front` label of its metrics and the header its
/// request id is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontKind {
    /// [`aws_api`]: SDK and CLI calls, through the SigV4 pipeline.
    AwsApi,
    /// [`data_plane`]: requests to deployed APIs.
    DataPlane,
    /// [`internal`]: the operators' and runtimes' listener.
    Internal,
}

impl FrontKind {
    /// The `front` metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            FrontKind::AwsApi => "aws_api",
            FrontKind::DataPlane => "data_plane",
            FrontKind::Internal => "internal",
        }
    }

    /// The response header carrying the request id, as the clients of this front end expect
    /// it: AWS SDKs read `x-amzn-RequestId`, API Gateway answers `apigw-requestid`.
    pub const fn request_id_header(self) -> HeaderName {
        match self {
            FrontKind::AwsApi => HeaderName::from_static("x-amzn-requestid"),
            FrontKind::DataPlane => HeaderName::from_static("apigw-requestid"),
            FrontKind::Internal => HeaderName::from_static("x-request-id"),
        }
    }
}

/// The id of one request, in AWS's UUID form, generated once by [`RequestIdLayer`] and found
/// in the request's extensions. Whoever records the request (the pipeline's audit record)
/// takes it from there, so the header and the record always agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Removes the id from a request's extensions, to own it without a copy.
    pub fn take(extensions: &mut http::Extensions) -> Option<RequestId> {
        extensions.remove()
    }

    /// The id, for a record or an answer body that names it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id itself, moved out (the audit record keeps it).
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Generates the request id, hands it to the front end in the request's extensions and sets
/// it on the response under [`FrontKind::request_id_header`] (replacing any value the front
/// end set, so there is exactly one).
#[derive(Debug, Clone, Copy)]
pub struct RequestIdLayer {
    kind: FrontKind,
}

impl RequestIdLayer {
    /// The layer for `kind`'s front end, answering the id under its header.
    pub fn new(kind: FrontKind) -> Self {
        RequestIdLayer { kind }
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            kind: self.kind,
        }
    }
}

/// The service [`RequestIdLayer`] makes.
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
    kind: FrontKind,
}

impl<S, B, R> Service<http::Request<B>> for RequestIdService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let id = ids::request_id();
        // The one copy the answer needs; the id itself moves into the request.
        let header = HeaderValue::from_str(&id).ok();
        request.extensions_mut().insert(RequestId(id));
        RequestIdFuture {
            inner: self.inner.call(request),
            kind: self.kind,
            header,
        }
    }
}

/// The response future of [`RequestIdService`].
#[derive(Debug)]
pub struct RequestIdFuture<F> {
    inner: F,
    kind: FrontKind,
    header: Option<HeaderValue>,
}

impl<F, R, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut result = ready!(Pin::new(&mut self.inner).poll(cx));
        if let (Ok(response), Some(value)) = (&mut result, self.header.take()) {
            response
                .headers_mut()
                .insert(self.kind.request_id_header(), value);
        }
        Poll::Ready(result)
    }
}

/// Counts a front end's requests by status class and records their latency (until the
/// response head is ready).
#[derive(Clone)]
pub struct MetricsLayer {
    meters: Arc<FrontMeters>,
}

/// A front end's metric handles, registered once.
struct FrontMeters {
    /// By status class: 1xx … 5xx.
    requests: [Counter; 5],
    seconds: Histogram,
}

impl MetricsLayer {
    /// Registers the front end's metrics with the process-wide recorder, which must be
    /// installed first (`crate::metrics::install`); without one they are no-ops.
    pub fn new(kind: FrontKind) -> Self {
        let front = kind.as_str();
        let requests = ["1xx", "2xx", "3xx", "4xx", "5xx"].map(|status| {
            metrics::counter!(
                crate::metrics::FRONT_REQUESTS,
                "front" => front,
                "status" => status,
            )
        });
        let seconds = metrics::histogram!(crate::metrics::FRONT_DURATION, "front" => front);
        MetricsLayer {
            meters: Arc::new(FrontMeters { requests, seconds }),
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            meters: self.meters.clone(),
        }
    }
}

/// The service [`MetricsLayer`] makes.
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    meters: Arc<FrontMeters>,
}

impl<S, B, R> Service<http::Request<B>> for MetricsService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        MetricsFuture {
            started: Instant::now(),
            inner: self.inner.call(request),
            meters: self.meters.clone(),
        }
    }
}

/// The response future of [`MetricsService`].
pub struct MetricsFuture<F> {
    inner: F,
    started: Instant,
    meters: Arc<FrontMeters>,
}

impl<F, R, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(Pin::new(&mut self.inner).poll(cx));
        // An error never reaches a client as a status: count it as a server error.
        let class = match &result {
            Ok(response) => (response.status().as_u16() / 100).clamp(1, 5),
            Err(_) => 5,
        };
        self.meters.requests[usize::from(class - 1)].increment(1);
        self.meters
            .seconds
            .record(self.started.elapsed().as_secs_f64());
        Poll::Ready(result)
    }
}

/// A front end's router wrapped in the shared layers: what a listener serves.
#[derive(Clone)]
pub struct Front {
    kind: FrontKind,
    service: RequestIdService<MetricsService<Router>>,
}

impl Front {
    /// Wraps `router` in the shared layers, under `kind`'s header and metrics label.
    pub fn new(kind: FrontKind, router: Router) -> Self {
        let service = RequestIdLayer::new(kind).layer(MetricsLayer::new(kind).layer(router));
        Front { kind, service }
    }

    /// Which front end this is.
    pub fn kind(&self) -> FrontKind {
        self.kind
    }

    /// What a listener of this front end alone serves: each connection's peer address goes
    /// into its requests' extensions.
    pub fn into_make_service(self) -> IntoMakeServiceWithConnectInfo<Self, SocketAddr> {
        axum::ServiceExt::<Request>::into_make_service_with_connect_info(self)
    }
}

/// What [`Front`] answers with.
pub type FrontFuture =
    RequestIdFuture<MetricsFuture<axum::routing::future::RouteFuture<Infallible>>>;

impl<B> Service<http::Request<B>> for Front
where
    B: HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // One conversion to axum's body here; the router's own is then a no-op.
        self.service.call(request.map(Body::new))
    }
}

/// The main listener's service: sends each request to the AWS API or to the data plane, by
/// its `Host` (`:authority`) and path alone (see [`data_plane::destination`]).
#[derive(Clone)]
pub struct MainListener {
    aws_api: Front,
    data_plane: Front,
}

impl MainListener {
    /// # Panics
    /// If the front ends are not the AWS API and the data plane, in that order (a wiring bug).
    pub fn new(aws_api: Front, data_plane: Front) -> Self {
        assert_eq!(aws_api.kind(), FrontKind::AwsApi, "first the AWS API");
        assert_eq!(
            data_plane.kind(),
            FrontKind::DataPlane,
            "then the data plane"
        );
        MainListener {
            aws_api,
            data_plane,
        }
    }

    /// What the main listener serves: each connection's peer address goes into its
    /// requests' extensions.
    pub fn into_make_service(self) -> IntoMakeServiceWithConnectInfo<Self, SocketAddr> {
        axum::ServiceExt::<Request>::into_make_service_with_connect_info(self)
    }
}

impl<B> Service<http::Request<B>> for MainListener
where
    B: HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Every `Host` value counts, and the URI's authority (HTTP/2 `:authority`, HTTP/1
        // absolute form): a request naming an API anywhere is never an AWS API request.
        let hosts = request
            .headers()
            .get_all(HOST)
            .iter()
            .map(HeaderValue::as_bytes)
            .chain(request.uri().authority().map(|a| a.as_str().as_bytes()));
        match data_plane::destination(hosts, request.uri().path()) {
            Destination::AwsApi => self.aws_api.call(request),
            Destination::DataPlane(route) => {
                if let Some(route) = route {
                    request.extensions_mut().insert(route);
                }
                self.data_plane.call(request)
            }
        }
    }
}
