//! The data plane: HTTP traffic to APIs deployed on Rampart, as API Gateway serves it at
//! `https://<apiId>.execute-api.<region>.amazonaws.com/<stage>/…`.
//!
//! A request is the data plane's when
//! - a `Host` value (or the URI's authority: HTTP/2 `:authority`, HTTP/1 absolute form) is
//!   `<apiId>.execute-api[.<anything>]`, in any case, with or without a port or a trailing
//!   dot — its path is then `/<stage>/…`; or
//! - its path is under `/_api/` (`/_api/<apiId>/<stage>/…`), for clients that cannot choose
//!   the host they send.
//!
//! An API id is 1 to 10 lowercase letters and digits, as API Gateway's are. A request the
//! data plane claims but that names no valid API, or an API no service serves, is answered
//! as API Gateway answers an unknown route: `404 {"message":"Not Found"}`.
//!
//! Services plug in by implementing [`DataPlane`] and registering in [`DataPlanes`]. The data
//! plane authenticates by the API's own rules (JWT authorizers), never SigV4: these requests
//! never reach [`crate::pipeline`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};

use super::{Front, FrontKind};

/// Which deployed API a data-plane request addresses. The front end puts it in the request's
/// extensions; the [`DataPlane`] receives it with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPlaneRoute {
    /// The API id, lowercase.
    pub api_id: String,
    /// The first path segment after the API (empty when there is none). For an API served
    /// at its `$default` stage this is the first segment of the route's path: the data plane
    /// that knows the API's stages decides.
    pub stage: String,
    /// The rest of the path as received (still percent-encoded), from its `/`; `/` when
    /// nothing follows the stage. The query string is the request's.
    pub path: String,
}

/// A service answering requests to the APIs it deploys (the API gateway, next).
///
/// The request's extensions hold its [`super::RequestId`] (answered as `apigw-requestid`)
/// and the peer's `ConnectInfo<SocketAddr>`.
#[async_trait::async_trait]
pub trait DataPlane: Send + Sync {
    /// Answers one request to `route.api_id`, Not Found included when the API has no such
    /// stage or route ([`not_found`]).
    async fn handle(&self, route: DataPlaneRoute, request: Request) -> Response;
}

/// The data planes services registered, by API id. Built at start-up, read-only afterwards.
#[derive(Default)]
pub struct DataPlanes {
    by_api_id: HashMap<String, Arc<dyn DataPlane>>,
    every_api: Option<Arc<dyn DataPlane>>,
}

impl DataPlanes {
    /// Serves `api_id` with `plane`.
    ///
    /// # Panics
    /// If `api_id` is not an API id (a wiring bug).
    pub fn register(&mut self, api_id: &str, plane: Arc<dyn DataPlane>) {
        assert!(is_api_id(api_id), "{api_id:?} is not an API id");
        self.by_api_id.insert(api_id.to_owned(), plane);
    }

    /// Serves every API id not registered by name with `plane`: for a service whose APIs are
    /// created at run time and kept in the store, which answers Not Found for the others.
    pub fn register_every_api(&mut self, plane: Arc<dyn DataPlane>) {
        self.every_api = Some(plane);
    }

    /// The data plane serving `api_id`, if any.
    pub fn find(&self, api_id: &str) -> Option<&Arc<dyn DataPlane>> {
        self.by_api_id.get(api_id).or(self.every_api.as_ref())
    }
}

/// The data-plane front end, its shared layers included.
pub fn front(planes: Arc<DataPlanes>) -> Front {
    Front::new(
        FrontKind::DataPlane,
        Router::new().fallback(handle).with_state(planes),
    )
}

async fn handle(State(planes): State<Arc<DataPlanes>>, mut request: Request) -> Response {
    let Some(route) = request.extensions_mut().remove::<DataPlaneRoute>() else {
        return not_found();
    };
    if let Some(refusal) = oversized_head(&request) {
        return refusal;
    }
    match planes.find(&route.api_id) {
        Some(plane) => plane.handle(route, request).await,
        None => not_found(),
    }
}

/// API Gateway's HTTP API quota on a request's head: "total combined size of request line and
/// header values", 10240 bytes. Enforced before any route, authorizer or function sees it.
pub const MAX_HEAD_BYTES: usize = 10240;

/// A request whose head is over [`MAX_HEAD_BYTES`]: `414` when the request line alone is,
/// `431` when its header values take it over, each with API Gateway's `{"message": …}` body.
fn oversized_head(request: &Request) -> Option<Response> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |target| target.as_str().len());
    // `METHOD SP target SP HTTP/1.1`.
    let line = request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len();
    if line > MAX_HEAD_BYTES {
        return Some(refusal(StatusCode::URI_TOO_LONG, "Request-URI Too Long"));
    }
    let values: usize = request.headers().values().map(HeaderValue::len).sum();
    (line + values > MAX_HEAD_BYTES).then(|| {
        refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request Header Fields Too Large",
        )
    })
}

fn refusal(status: StatusCode, message: &'static str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// API Gateway's answer to a request no route matches.
pub fn not_found() -> Response {
    let mut response = Response::new(Body::from(r#"{"message":"Not Found"}"#));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Where a request on the main listener goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    /// The AWS API ([`crate::pipeline`]).
    AwsApi,
    /// The data plane; `None` when the request is the data plane's but names no valid API id.
    DataPlane(Option<DataPlaneRoute>),
}

/// Decides between the AWS API and the data plane from the request's host values (`Host`
/// headers, then the URI's authority) and its path. Allocates nothing for an AWS API request.
pub fn destination<'h>(hosts: impl IntoIterator<Item = &'h [u8]>, path: &str) -> Destination {
    for host in hosts {
        if let Some(api_id) = host_api_id(host) {
            return Destination::DataPlane(api_id.map(|api_id| {
                let (stage, path) = split_stage(path.strip_prefix('/').unwrap_or(path));
                route(api_id, stage, path)
            }));
        }
    }
    match path_route(path) {
        Some(route) => Destination::DataPlane(route),
        None => Destination::AwsApi,
    }
}

/// Reads an `execute-api` host: `None` for any other host; `Some(None)` when its first label
/// is not an API id; otherwise the API id, lowercase (host names ignore case). Takes the
/// value's bytes, so that a non-ASCII host is judged like any other.
pub fn host_api_id(host: &[u8]) -> Option<Option<String>> {
    // `user@` cannot be in a Host header, but may be in an absolute URI's authority.
    let host = match host.iter().rposition(|&b| b == b'@') {
        Some(at) => &host[at + 1..],
        None => host,
    };
    if host.first() == Some(&b'[') {
        return None; // an IPv6 literal
    }
    let host = match host.iter().rposition(|&b| b == b':') {
        Some(colon) => &host[..colon],
        None => host,
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    let mut labels = host.splitn(3, |&b| b == b'.');
    let first = labels.next()?;
    if !labels.next()?.eq_ignore_ascii_case(b"execute-api") {
        return None;
    }
    let is_id =
        (1..=MAX_API_ID_LEN).contains(&first.len()) && first.iter().all(u8::is_ascii_alphanumeric);
    Some(is_id.then(|| String::from_utf8_lossy(first).to_ascii_lowercase()))
}

/// Reads a path-style address, `/_api/<apiId>/<stage>/…`: `None` for a path outside `/_api`;
/// `Some(None)` for one under it that names no API id.
pub fn path_route(path: &str) -> Option<Option<DataPlaneRoute>> {
    let rest = path.strip_prefix(PATH_PREFIX)?;
    let rest = match rest.strip_prefix('/') {
        Some(rest) => rest,
        None if rest.is_empty() => rest,
        None => return None, // `/_apis`, not ours
    };
    let (api_id, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_api_id(api_id) {
        return Some(None);
    }
    let (stage, path) = split_stage(rest);
    Some(Some(route(api_id.to_owned(), stage, path)))
}

/// The path prefix of path-style data-plane addresses.
pub const PATH_PREFIX: &str = "/_api";

/// API Gateway's ids are 10 characters; shorter ones are accepted for hand-made APIs.
const MAX_API_ID_LEN: usize = 10;

/// An API id: 1 to 10 lowercase ASCII letters and digits.
pub fn is_api_id(s: &str) -> bool {
    (1..=MAX_API_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Splits `stage/rest…` (the path after the API, without its leading `/`) into the stage and
/// the rest, from its `/`.
fn split_stage(after_api: &str) -> (&str, &str) {
    match after_api.find('/') {
        Some(slash) => (&after_api[..slash], &after_api[slash..]),
        None => (after_api, "/"),
    }
}

fn route(api_id: String, stage: &str, path: &str) -> DataPlaneRoute {
    DataPlaneRoute {
        api_id,
        stage: stage.to_owned(),
        path: path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str, header_bytes: usize) -> Request {
        let mut request = Request::builder().uri(target).body(Body::empty()).unwrap();
        if header_bytes > 0 {
            let value = HeaderValue::from_str(&"v".repeat(header_bytes)).unwrap();
            request.headers_mut().insert("x-big", value);
        }
        request
    }

    #[test]
    fn heads_over_the_quota_are_refused() {
        let line_overhead = "GET ".len() + " HTTP/1.1".len();
        let fits = format!("/{}", "a".repeat(MAX_HEAD_BYTES - line_overhead - 1));
        assert!(oversized_head(&head(&fits, 0)).is_none());
        let too_long = format!("/{}", "a".repeat(MAX_HEAD_BYTES - line_overhead));
        let refused = oversized_head(&head(&too_long, 0)).expect("refused");
        assert_eq!(refused.status(), StatusCode::URI_TOO_LONG);
        let short = "/items?q=1";
        let room = MAX_HEAD_BYTES - line_overhead - short.len();
        assert!(oversized_head(&head(short, room)).is_none());
        let refused = oversized_head(&head(short, room + 1)).expect("refused");
        assert_eq!(
            refused.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    fn id(s: &str) -> Option<Option<String>> {
        Some(Some(s.to_owned()))
    }

    #[test]
    fn execute_api_hosts() {
        assert_eq!(host_api_id(b"abc123.execute-api.localhost"), id("abc123"));
        assert_eq!(
            host_api_id(b"abc123.execute-api.localhost:4566"),
            id("abc123")
        );
        assert_eq!(
            host_api_id(b"ABC123.Execute-API.LocalHost:4566"),
            id("abc123")
        );
        assert_eq!(host_api_id(b"abc123.execute-api.localhost."), id("abc123"));
        assert_eq!(
            host_api_id(b"abc123.execute-api.localhost.:80"),
            id("abc123")
        );
        assert_eq!(
            host_api_id(b"a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"),
            id("a1b2c3d4e5")
        );
        assert_eq!(host_api_id(b"x.execute-api.127.0.0.1.nip.io:8080"), id("x"));
        assert_eq!(host_api_id(b"abc.execute-api"), id("abc"));
        assert_eq!(host_api_id(b"abc.execute-api.:443"), id("abc"));
        assert_eq!(host_api_id(b"user@abc.execute-api.localhost:1"), id("abc"));
        // A malformed port does not turn the request into an AWS API request.
        assert_eq!(host_api_id(b"abc.execute-api.localhost:zz"), id("abc"));
    }

    #[test]
    fn execute_api_hosts_without_a_valid_api_id() {
        for host in [
            &b"abcdefghijk.execute-api.localhost"[..], // 11 characters
            b".execute-api.localhost",
            b"a_b.execute-api.localhost",
            b"a-b.execute-api.localhost",
            "\u{e9}t\u{e9}.execute-api.localhost".as_bytes(),
            b"\xff.execute-api.localhost",
        ] {
            assert_eq!(
                host_api_id(host),
                Some(None),
                "{:?}",
                String::from_utf8_lossy(host)
            );
        }
    }

    #[test]
    fn other_hosts() {
        for host in [
            &b"localhost"[..],
            b"localhost:4566",
            b"127.0.0.1:4566",
            b"[::1]:4566",
            b"[::1]",
            b"rampart.test",
            b"execute-api.localhost",
            b"abc.execute-apix.localhost",
            b"abc.xexecute-api.localhost",
            b"abc.def.execute-api.localhost",
            b"sts.us-east-1.amazonaws.com",
            b"abc123.execute-api-localhost",
            b"",
            b":4566",
        ] {
            assert_eq!(
                host_api_id(host),
                None,
                "{:?}",
                String::from_utf8_lossy(host)
            );
        }
    }

    fn r(api_id: &str, stage: &str, path: &str) -> DataPlaneRoute {
        route(api_id.to_owned(), stage, path)
    }

    #[test]
    fn path_style_addresses() {
        assert_eq!(
            path_route("/_api/abc123/prod/pets/1"),
            Some(Some(r("abc123", "prod", "/pets/1")))
        );
        assert_eq!(
            path_route("/_api/abc123/prod/"),
            Some(Some(r("abc123", "prod", "/")))
        );
        assert_eq!(
            path_route("/_api/abc123/prod"),
            Some(Some(r("abc123", "prod", "/")))
        );
        assert_eq!(
            path_route("/_api/abc123/$default/a%2Fb//c"),
            Some(Some(r("abc123", "$default", "/a%2Fb//c")))
        );
        assert_eq!(path_route("/_api/abc123"), Some(Some(r("abc123", "", "/"))));
        assert_eq!(
            path_route("/_api/abc123/"),
            Some(Some(r("abc123", "", "/")))
        );
        // Under /_api, but no API: the data plane's Not Found, never the AWS API.
        for path in [
            "/_api",
            "/_api/",
            "/_api//prod/",
            "/_api/ABC123/prod/",
            "/_api/abcdefghijk/prod/",
            "/_api/a.b/prod/",
        ] {
            assert_eq!(path_route(path), Some(None), "{path}");
        }
        for path in [
            "/",
            "",
            "/_apis/abc/prod/",
            "/x/_api/abc/prod/",
            "/_API/abc/prod/",
        ] {
            assert_eq!(path_route(path), None, "{path}");
        }
    }

    #[test]
    fn destinations() {
        let host = |h: &'static str| [h.as_bytes()];
        assert_eq!(
            destination(host("abc.execute-api.localhost:4566"), "/prod/pets"),
            Destination::DataPlane(Some(r("abc", "prod", "/pets")))
        );
        assert_eq!(
            destination(host("abc.execute-api.localhost"), "/"),
            Destination::DataPlane(Some(r("abc", "", "/")))
        );
        // The host decides before the path.
        assert_eq!(
            destination(host("abc.execute-api.localhost"), "/_api/def/prod/x"),
            Destination::DataPlane(Some(r("abc", "_api", "/def/prod/x")))
        );
        assert_eq!(
            destination(host("localhost:4566"), "/_api/def/prod/x"),
            Destination::DataPlane(Some(r("def", "prod", "/x")))
        );
        assert_eq!(
            destination(host("Not_An_Id.execute-api.localhost"), "/prod/"),
            Destination::DataPlane(None)
        );
        // Any host value naming an API claims the request.
        assert_eq!(
            destination([&b"localhost"[..], b"abc.execute-api.localhost"], "/prod/x"),
            Destination::DataPlane(Some(r("abc", "prod", "/x")))
        );
        assert_eq!(
            destination(host("localhost:4566"), "/"),
            Destination::AwsApi
        );
        assert_eq!(
            destination(host("127.0.0.1:4566"), "/2015-03-31/functions/"),
            Destination::AwsApi
        );
        assert_eq!(destination([], "/"), Destination::AwsApi);
    }

    #[test]
    fn api_ids() {
        assert!(is_api_id("a"));
        assert!(is_api_id("a1b2c3d4e5"));
        assert!(!is_api_id(""));
        assert!(!is_api_id("a1b2c3d4e5f"));
        assert!(!is_api_id("Abc"));
        assert!(!is_api_id("a-b"));
    }
}
