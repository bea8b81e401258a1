//! The Runtime API (`/2018-06-01/runtime/…`) as runtimes expect it — `awslambdaric`, the
//! `lambda_runtime` crate, Rampart's own Python loop — served to one execution environment
//! on a loopback listener of its own, never on the AWS API listener. A connection is served
//! only if it comes from a process of that environment ([`crate::environment::peer`]).
//!
//! One invocation is in flight at a time: `GET …/invocation/next` waits for it and answers
//! its payload with the `Lambda-Runtime-*` headers; `POST …/invocation/{id}/response` or
//! `…/error` completes it; `POST …/init/error` fails the environment.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::environment::logs::LogCapture;
use crate::environment::peer;

/// The largest response a synchronous invocation may return (AWS: 6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
/// The largest error document a runtime may post.
const MAX_ERROR_BYTES: usize = 1024 * 1024;

/// One invocation handed to the environment.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub timeout: Duration,
    pub client_context: Option<String>,
    pub trace_id: String,
    /// Told when the runtime took the invocation (its timeout and its `Duration` start then).
    pub taken: oneshot::Sender<Instant>,
    /// Told how the invocation ended, and when the Runtime API had the runtime's answer.
    pub done: oneshot::Sender<(RuntimeOutcome, Instant)>,
}

/// How the runtime ended an invocation.
#[derive(Debug)]
pub enum RuntimeOutcome {
    Response(Bytes),
    /// `…/error`: the runtime's error document and its `Lambda-Runtime-Function-Error-Type`.
    Error(Bytes),
    /// `…/init/error`: the runtime could not start.
    InitError(Bytes),
    /// The response was larger than a synchronous invocation may return.
    ResponseTooLarge,
}

struct InFlight {
    request_id: String,
    done: oneshot::Sender<(RuntimeOutcome, Instant)>,
}

/// The state one environment's Runtime API shares with its invoker.
pub struct RuntimeChannel {
    function_arn: String,
    /// The environment's log: an invocation's `START` line is written as it is handed out.
    logs: Arc<LogCapture>,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<Option<InFlight>>,
}

impl RuntimeChannel {
    /// A channel for the function `function_arn` logging to `logs`, and where invocations
    /// are sent.
    pub fn new(
        function_arn: String,
        logs: Arc<LogCapture>,
    ) -> (Arc<Self>, mpsc::Sender<Invocation>) {
        let (tx, rx) = mpsc::channel(1);
        (
            Arc::new(RuntimeChannel {
                function_arn,
                logs,
                queue: tokio::sync::Mutex::new(rx),
                in_flight: Mutex::new(None),
            }),
            tx,
        )
    }

    fn complete(&self, request_id: Option<&str>, outcome: RuntimeOutcome) -> bool {
        let mut slot = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some(f) if request_id.is_none_or(|id| id == f.request_id) => {
                let _ = f.done.send((outcome, Instant::now()));
                true
            }
            other => {
                *slot = other;
                false
            }
        }
    }
}

fn epoch_ms(deadline: Instant) -> u128 {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (SystemTime::now() + remaining)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn status_ok() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn next(State(channel): State<Arc<RuntimeChannel>>) -> Response {
    let invocation = {
        let mut queue = channel.queue.lock().await;
        queue.recv().await
    };
    let Some(inv) = invocation else {
        return runtime_error(
            StatusCode::GONE,
            "EnvironmentShutDown",
            "The environment is shutting down.",
        );
    };
    let taken = Instant::now();
    let deadline = taken + inv.timeout;
    *channel.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Some(InFlight {
        request_id: inv.request_id.clone(),
        done: inv.done,
    });
    // Before the runtime has the event: nothing it prints can come before its START.
    channel.logs.start(&inv.request_id);
    let _ = inv.taken.send(taken);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &epoch_ms(deadline).to_string(),
    );
    set("lambda-runtime-invoked-function-arn", &channel.function_arn);
    set("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        set("lambda-runtime-client-context", cc);
    }
    set("content-type", "application/json");
    (StatusCode::OK, headers, Body::from(inv.payload)).into_response()
}

async fn response(
    State(channel): State<Arc<RuntimeChannel>>,
    Path(request_id): Path<String>,
    request: Request,
) -> Response {
    match axum::body::to_bytes(request.into_body(), MAX_RESPONSE_BYTES).await {
        Ok(body) => match channel.complete(Some(&request_id), RuntimeOutcome::Response(body)) {
            true => status_ok(),
            false => invalid_request_id(),
        },
        Err(_) => {
            channel.complete(Some(&request_id), RuntimeOutcome::ResponseTooLarge);
            runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
    }
}

fn invalid_request_id() -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

async fn error(
    State(channel): State<Arc<RuntimeChannel>>,
    Path(request_id): Path<String>,
    request: Request,
) -> Response {
    let body = axum::body::to_bytes(request.into_body(), MAX_ERROR_BYTES)
        .await
        .unwrap_or_else(|_| Bytes::from_static(br#"{"errorType":"Runtime.Unknown","errorMessage":"The runtime's error document was too large."}"#));
    match channel.complete(Some(&request_id), RuntimeOutcome::Error(body)) {
        true => status_ok(),
        false => invalid_request_id(),
    }
}

async fn init_error(State(channel): State<Arc<RuntimeChannel>>, request: Request) -> Response {
    let body = axum::body::to_bytes(request.into_body(), MAX_ERROR_BYTES)
        .await
        .unwrap_or_else(|_| {
            Bytes::from_static(br#"{"errorType":"Runtime.Unknown","errorMessage":"Init failed."}"#)
        });
    // The invocation this environment was started for is failed with the error, whether or
    // not the runtime took it yet.
    if !channel.complete(None, RuntimeOutcome::InitError(body.clone())) {
        if let Ok(mut queue) = channel.queue.try_lock() {
            if let Ok(inv) = queue.try_recv() {
                let _ = inv
                    .done
                    .send((RuntimeOutcome::InitError(body), Instant::now()));
            }
        }
    }
    status_ok()
}

/// Serves the Runtime API of one environment on `listener` to the processes of the group
/// `pgid` until the task is aborted (when the environment is dropped), which ends every
/// connection with it.
pub async fn serve(listener: TcpListener, channel: Arc<RuntimeChannel>, pgid: i32) {
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(channel);
    let Ok(local) = listener.local_addr() else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer): (_, SocketAddr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let ours = tokio::task::spawn_blocking(move || peer::held_by_group(peer, local, pgid))
            .await
            .unwrap_or(false);
        if !ours {
            tracing::warn!(%peer, "refused a Runtime API connection from outside the environment");
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
