//! The main listener splits requests between the AWS API and the data plane before anything
//! else looks at them; every front end gets one request id and its metrics from the shared
//! layers. These tests drive `MainListener` as the server does, with the real STS service
//! behind the AWS API and a data plane that exists only here.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body_util::BodyExt;
use rampart_core::{AuditQuery, RootKeyring};
use rampart_iam::{bootstrap, Authorizer, BootstrapOutcome, CredentialResolver, StsService};
use rampart_server::audit::AuditWriter;
use rampart_server::front::data_plane::{self, DataPlane, DataPlaneRoute, DataPlanes};
use rampart_server::front::{self, MainListener, RequestId};
use rampart_server::pipeline::Pipeline;
use rampart_server::registry::Registry;
use rampart_store::Store;
use tower::ServiceExt;

const STS_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// What [`Recorder`] saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    route: DataPlaneRoute,
    uri: String,
    request_id: Option<String>,
    has_peer: bool,
}

/// A data plane that records what it receives and answers a teapot.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

#[async_trait::async_trait]
impl DataPlane for Recorder {
    async fn handle(&self, route: DataPlaneRoute, request: Request) -> Response {
        self.seen.lock().unwrap().push(Seen {
            route,
            uri: request.uri().to_string(),
            request_id: request
                .extensions()
                .get::<RequestId>()
                .map(|id| id.as_str().to_owned()),
            has_peer: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some(),
        });
        let body = request.into_body().collect().await.unwrap().to_bytes();
        http::Response::builder()
            .status(418)
            .header("x-plane", "recorder")
            .body(Body::from(body))
            .unwrap()
    }
}

struct Harness {
    main: MainListener,
    recorder: Arc<Recorder>,
    store: Arc<dyn Store>,
    access_key_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = rampart_store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    let key = RootKeyring::ephemeral();
    let key = Arc::new(key);
    let BootstrapOutcome::Created {
        access_key_id,
        secret_access_key,
        ..
    } = bootstrap(store.as_ref(), &key).await.unwrap()
    else {
        panic!("a fresh store bootstraps")
    };
    let mut registry = Registry::default();
    registry.register(Arc::new(StsService::new(store.clone(), key.clone(), 900)));
    let pipeline = Arc::new(Pipeline {
        registry,
        resolver: CredentialResolver::new(store.clone(), key),
        authorizer: Authorizer,
        audit: AuditWriter::start(store.clone()),
        max_body_bytes: 1024,
        tls: false,
        region: "us-east-1".into(),
        source_admission: Default::default(),
    });
    let recorder = Arc::new(Recorder::default());
    let mut planes = DataPlanes::default();
    planes.register("pets01", recorder.clone());
    let main = MainListener::new(
        front::aws_api::front(pipeline, store.backend(), None),
        data_plane::front(Arc::new(planes)),
    );
    Harness {
        main,
        recorder,
        store,
        access_key_id,
        secret: secret_access_key,
        _dir: dir,
    }
}

/// A request from a peer, as the listener hands it over.
fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::from(body.to_vec())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    request
}

/// An STS GetCallerIdentity signed by the AWS SDK's signer for `host`.
fn signed_sts(h: &Harness, host: &str, path: &str) -> Request {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity =
        aws_credential_types::Credentials::new(&h.access_key_id, &h.secret, None, None, "test")
            .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("host", host), FORM];
    let signable = SignableRequest::new(
        "POST",
        format!("http://{host}{path}"),
        headers.iter().copied(),
        SignableBody::Bytes(STS_BODY),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = request("POST", path, &headers, STS_BODY);
    instructions.apply_to_request_http1x(&mut request);
    request
}

async fn send(h: &Harness, request: Request) -> (u16, http::HeaderMap, String) {
    let response = h.main.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The one value of `name`.
fn only<'a>(headers: &'a http::HeaderMap, name: &str) -> &'a str {
    let values: Vec<_> = headers.get_all(name).iter().collect();
    assert_eq!(values.len(), 1, "{name}: {values:?}");
    values[0].to_str().unwrap()
}

fn assert_api_gateway_not_found(status: u16, headers: &http::HeaderMap, body: &str) {
    assert_eq!(status, 404, "{body}");
    assert_eq!(only(headers, "content-type"), "application/json");
    assert_eq!(body, r#"{"message":"Not Found"}"#);
    assert!(!only(headers, "apigw-requestid").is_empty());
    assert!(!headers.contains_key("x-amzn-requestid"), "{headers:?}");
}

async fn audit_count(h: &Harness) -> usize {
    h.store
        .query_audit(&AuditQuery::default())
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn unknown_apis_get_api_gateways_not_found() {
    let h = harness().await;
    // (uri, Host): an empty Host is none, as in HTTP/2, where the URI carries the authority.
    let cases = [
        ("/prod/pets", "abc123.execute-api.localhost"),
        ("/", "ABC123.Execute-Api.LOCALHOST.:4566"),
        ("/prod/x", "abc123.execute-api.example.com:443"),
        ("/prod/x", "not_an_id.execute-api.localhost"),
        ("http://abc123.execute-api.localhost:4566/prod/x", ""),
        ("/_api/abc123/prod/pets", "localhost:4566"),
        ("/_api/abc123/prod", "localhost:4566"),
        ("/_api/NOT-AN-ID/prod/", "localhost:4566"),
        ("/_api", "localhost:4566"),
        // `/health` belongs to the AWS API front end, not to an API's host.
        ("/health", "abc123.execute-api.localhost"),
    ];
    for (uri, host) in cases {
        let headers: &[(&str, &str)] = match host {
            "" => &[],
            host => &[("host", host)],
        };
        for method in ["GET", "POST"] {
            let (status, headers, body) = send(&h, request(method, uri, headers, b"{}")).await;
            assert_api_gateway_not_found(status, &headers, &body);
        }
    }
    assert!(h.recorder.seen.lock().unwrap().is_empty());
    assert_eq!(audit_count(&h).await, 0, "the pipeline saw none of them");
}

#[tokio::test]
async fn a_registered_data_plane_receives_its_route() {
    let h = harness().await;
    let cases = [
        (
            request(
                "POST",
                "/prod/pets/1?x=1",
                &[("host", "PETS01.execute-api.localhost:4566")],
                b"ping",
            ),
            ("prod", "/pets/1"),
            "/prod/pets/1?x=1",
        ),
        (
            request(
                "POST",
                "/_api/pets01/beta/a%2Fb//c?y=2",
                &[("host", "127.0.0.1:4566")],
                b"ping",
            ),
            ("beta", "/a%2Fb//c"),
            "/_api/pets01/beta/a%2Fb//c?y=2",
        ),
        (
            request(
                "POST",
                "http://pets01.execute-api.localhost/prod",
                &[],
                b"ping",
            ),
            ("prod", "/"),
            "http://pets01.execute-api.localhost/prod",
        ),
    ];
    for (i, (request, (stage, path), uri)) in cases.into_iter().enumerate() {
        let (status, headers, body) = send(&h, request).await;
        assert_eq!((status, body.as_str()), (418, "ping"), "case {i}");
        assert_eq!(only(&headers, "x-plane"), "recorder");
        let request_id = only(&headers, "apigw-requestid").to_owned();
        assert!(!headers.contains_key("x-amzn-requestid"));
        let seen = h.recorder.seen.lock().unwrap().pop().expect("received");
        assert_eq!(
            seen,
            Seen {
                route: DataPlaneRoute {
                    api_id: "pets01".into(),
                    stage: stage.into(),
                    path: path.into(),
                },
                uri: uri.into(),
                request_id: Some(request_id),
                has_peer: true,
            },
            "case {i}"
        );
    }
    assert_eq!(audit_count(&h).await, 0);
}

#[tokio::test]
async fn aws_api_requests_have_one_request_id_the_audit_trail_shares() {
    let h = harness().await;
    for host in ["rampart.test", "localhost:4566", "127.0.0.1:4566"] {
        let (status, headers, body) = send(&h, signed_sts(&h, host, "/")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<GetCallerIdentityResponse"), "{body}");
        let request_id = only(&headers, "x-amzn-requestid");
        assert!(!headers.contains_key("apigw-requestid"));
        // The XML body names the same id.
        assert!(
            body.contains(&format!("<RequestId>{request_id}</RequestId>")),
            "{body}"
        );
        let records = h.store.query_audit(&AuditQuery::default()).await.unwrap();
        let matching: Vec<_> = records
            .iter()
            .filter(|r| r.request_id == request_id)
            .collect();
        assert_eq!(matching.len(), 1, "{records:?}");
        assert_eq!(matching[0].operation, "GetCallerIdentity");
        assert_eq!(matching[0].source_ip, "192.0.2.7");
    }

    // Rejected requests too: one id, the record's.
    let unsigned = request("POST", "/", &[("host", "localhost"), FORM], STS_BODY);
    let (status, headers, body) = send(&h, unsigned).await;
    assert_eq!(status, 403, "{body}");
    let request_id = only(&headers, "x-amzn-requestid");
    assert!(body.contains(request_id), "{body}");
    let records = h.store.query_audit(&AuditQuery::default()).await.unwrap();
    assert!(records.iter().any(|r| r.request_id == request_id));

    // /health is the AWS API front end's, and gets an id of its own too.
    let (status, headers, body) = send(&h, request("GET", "/health", &[], b"")).await;
    assert_eq!(status, 200, "{body}");
    only(&headers, "x-amzn-requestid");
}

#[tokio::test]
async fn signed_requests_to_an_api_host_never_reach_the_pipeline() {
    let h = harness().await;
    // Correctly signed for the API's host: still the data plane's, still Not Found.
    for host in [
        "abc123.execute-api.localhost",
        "abc123.execute-api.localhost:4566",
    ] {
        let (status, headers, body) = send(&h, signed_sts(&h, host, "/")).await;
        assert_api_gateway_not_found(status, &headers, &body);
    }
    // Signed for the plain host, sent to the path-style address: the data plane's as well.
    let (status, headers, body) = send(&h, signed_sts(&h, "localhost", "/_api/abc123/p/")).await;
    assert_api_gateway_not_found(status, &headers, &body);
    // A second Host header naming an API claims the request as well.
    let mut request = signed_sts(&h, "localhost", "/");
    request.headers_mut().append(
        "host",
        http::HeaderValue::from_static("pets01.execute-api.localhost"),
    );
    let (status, _, _) = send(&h, request).await;
    assert_eq!(status, 418);
    assert_eq!(audit_count(&h).await, 0);
}

#[tokio::test]
async fn every_front_end_is_counted() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let h = harness().await;
    // The layers register their handles with the recorder in place when they are built.
    let (main, internal) = metrics::with_local_recorder(&recorder, || {
        let store = h.store.clone();
        let key = RootKeyring::ephemeral();
        let pipeline = Arc::new(Pipeline {
            registry: Registry::default(),
            resolver: CredentialResolver::new(store.clone(), Arc::new(key)),
            authorizer: Authorizer,
            audit: AuditWriter::start(store),
            max_body_bytes: 1024,
            tls: false,
            region: "us-east-1".into(),
            source_admission: Default::default(),
        });
        (
            MainListener::new(
                front::aws_api::front(pipeline, "sqlite", None),
                data_plane::front(Arc::new(DataPlanes::default())),
            ),
            front::internal::front(handle.clone()),
        )
    });
    let host = |h: &'static str| request("GET", "/health", &[("host", h)], b"");
    for request in [
        host("localhost"),
        host("localhost"),
        host("a.execute-api.x"),
    ] {
        main.clone().oneshot(request).await.unwrap();
    }
    let response = internal
        .clone()
        .oneshot(request("GET", "/metrics", &[], b""))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let response = internal
        .oneshot(request("GET", "/health", &[], b""))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "the internal listener serves no /health"
    );

    let text = handle.render();
    for line in [
        r#"rampart_front_requests_total{front="aws_api",status="2xx"} 2"#,
        r#"rampart_front_requests_total{front="data_plane",status="4xx"} 1"#,
        r#"rampart_front_requests_total{front="internal",status="2xx"} 1"#,
        r#"rampart_front_requests_total{front="internal",status="4xx"} 1"#,
        r#"rampart_front_request_duration_seconds_count{front="aws_api"} 2"#,
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}
