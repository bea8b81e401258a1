//! The pipeline is the platform's spine: a new service plugs in by implementing `Service`, and
//! gets routing, SigV4, authorization, audit and its protocol's error shapes without changing
//! the pipeline. These tests register a JSON 1.1 service and a rest-json service that exist
//! only here, and drive them with requests signed by the AWS SDK's own signer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::Request;
use http_body_util::BodyExt;
use rampart_core::{AuditQuery, RootKeyring, SealPurpose};
use rampart_iam::{bootstrap, Authorizer, BootstrapOutcome, CredentialResolver};
use rampart_server::audit::AuditWriter;
use rampart_server::front::{self, Front};
use rampart_server::pipeline::Pipeline;
use rampart_server::registry::Registry;
use rampart_store::Store;
use rampart_wire::protocol::json;
use rampart_wire::{
    Check, Input, OperationContext, OperationSpec, Output, PreparedOperation, Protocol,
    ProtocolKind, Service, ServiceError,
};
use serde::Deserialize;
use tower::ServiceExt;

/// A decoded test request: its checks and what it does once they are allowed.
struct Run<F> {
    checks: Vec<Check>,
    run: F,
}

#[async_trait::async_trait]
impl<F> PreparedOperation for Run<F>
where
    F: FnOnce(OperationContext<'_>) -> Result<Output, ServiceError> + Send,
{
    fn checks(&self) -> &[Check] {
        &self.checks
    }
    async fn execute(self: Box<Self>, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        (self.run)(ctx)
    }
}

struct EchoService;

#[async_trait::async_trait]
impl Service for EchoService {
    fn signing_name(&self) -> &'static str {
        "echo"
    }
    fn protocol(&self) -> Protocol {
        Protocol::Json {
            json_version: "1.1",
            target_prefix: "EchoService",
        }
    }
    fn operations(&self) -> &'static [OperationSpec] {
        const OPERATIONS: &[OperationSpec] = &[
            OperationSpec::signed("Echo"),
            OperationSpec::signed("Fail"),
            OperationSpec::signed("EchoBatch"),
            OperationSpec::signed("OnlyItems"),
        ];
        OPERATIONS
    }
    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        #[derive(Deserialize)]
        struct EchoInput {
            #[serde(rename = "Message")]
            message: String,
        }
        let Input::Json(body) = input else {
            unreachable!("the pipeline hands JSON services JSON input")
        };
        let checks = vec![Check::unscoped(format!("echo:{}", ctx.operation.name))];
        match ctx.operation.name {
            // A batch: the request-wide `echo:EchoBatch`, then `echo:Read` on each item as a
            // per-item check; it serves the items whose check was allowed and reports the
            // denials of the others.
            "EchoBatch" => {
                #[derive(Deserialize)]
                struct BatchInput {
                    #[serde(rename = "Items")]
                    items: Vec<String>,
                }
                let input: BatchInput =
                    json::decode(&body).map_err(|e| e.for_protocol(ProtocolKind::Json))?;
                let account = ctx.caller.map(|c| c.account_id.clone()).unwrap_or_default();
                let mut checks = checks;
                checks.extend(input.items.iter().map(|item| {
                    Check::on(
                        "echo:Read",
                        format!("arn:aws:echo:eu-west-1:{account}:item/{item}"),
                    )
                    .per_item()
                }));
                Ok(Box::new(Run {
                    checks,
                    run: move |ctx: OperationContext<'_>| {
                        let mut served = Vec::new();
                        let mut denied = serde_json::Map::new();
                        for (i, item) in input.items.iter().enumerate() {
                            match ctx.denial(i + 1) {
                                None => served.push(item.clone()),
                                Some(why) => {
                                    denied.insert(item.clone(), why.into());
                                }
                            }
                        }
                        let out = serde_json::json!({ "Served": served, "Denied": denied });
                        Ok(Output::Json(out.to_string().into_bytes()))
                    },
                }))
            }
            // Declares nothing but a per-item check: a bug the pipeline refuses to run.
            "OnlyItems" => Ok(Box::new(Run {
                checks: vec![Check::unscoped("echo:OnlyItems").per_item()],
                run: |_: OperationContext<'_>| Ok(Output::Json(b"{}".to_vec())),
            })),
            "Echo" => {
                let input: EchoInput =
                    json::decode(&body).map_err(|e| e.for_protocol(ProtocolKind::Json))?;
                Ok(Box::new(Run {
                    checks,
                    run: move |ctx: OperationContext<'_>| {
                        let caller = ctx.caller.expect("signed operation has a caller");
                        let out = serde_json::json!({
                            "Message": input.message,
                            "Caller": caller.arn,
                            "SourceIp": caller.source_ip.to_string(),
                            "Region": ctx.region,
                        });
                        Ok(Output::Json(out.to_string().into_bytes()))
                    },
                }))
            }
            _ => Ok(Box::new(Run {
                checks,
                run: |_: OperationContext<'_>| {
                    Err(ServiceError::new(
                        "ResourceNotFoundException",
                        400,
                        "Widget not found.",
                    ))
                },
            })),
        }
    }
}

struct WidgetService;

#[async_trait::async_trait]
impl Service for WidgetService {
    fn signing_name(&self) -> &'static str {
        "widgets"
    }
    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
    fn operations(&self) -> &'static [OperationSpec] {
        const OPERATIONS: &[OperationSpec] = &[OperationSpec::signed_route(
            "GetWidget",
            "GET",
            "/2026-01-01/widgets/{Name}",
        )];
        OPERATIONS
    }
    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        let account = ctx.caller.map(|c| c.account_id.clone()).unwrap_or_default();
        let Input::Rest(rest) = input else {
            unreachable!("the pipeline hands rest-json services rest input")
        };
        let name = rest.path_params[0].1.clone();
        let verbose = rest.query.get("verbose").unwrap_or("false").to_owned();
        Ok(Box::new(Run {
            checks: vec![Check::on(
                "widgets:GetWidget",
                format!("arn:aws:widgets:eu-west-1:{account}:widget/{name}"),
            )],
            run: move |_: OperationContext<'_>| {
                let body = serde_json::json!({ "Name": name, "Verbose": verbose });
                Ok(Output::Rest {
                    status: 200,
                    body: body.to_string().into_bytes(),
                })
            },
        }))
    }
}

struct Harness {
    app: Front,
    root_keys: Arc<RootKeyring>,
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
    let key_for_harness = key.clone();
    let BootstrapOutcome::Created {
        access_key_id,
        secret_access_key,
        ..
    } = bootstrap(store.as_ref(), &key).await.unwrap()
    else {
        panic!("a fresh store bootstraps")
    };
    let mut registry = Registry::default();
    registry.register(Arc::new(EchoService));
    registry.register(Arc::new(WidgetService));
    let pipeline = Arc::new(Pipeline {
        registry,
        resolver: CredentialResolver::new(store.clone(), key),
        authorizer: Authorizer,
        audit: AuditWriter::start(store.clone()),
        max_body_bytes: 1024,
        tls: false,
        region: "eu-west-1".into(),
        source_admission: Default::default(),
    });
    Harness {
        app: front::aws_api::front(pipeline, "sqlite", None),
        root_keys: key_for_harness,
        store,
        access_key_id,
        secret: secret_access_key,
        _dir: dir,
    }
}

/// Signs with the AWS SDK's signer, as a real client would.
fn signed(
    h: &Harness,
    service: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    secret: Option<&str>,
) -> Request<Body> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        &h.access_key_id,
        secret.unwrap_or(&h.secret),
        None,
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut all_headers = vec![("host", "rampart.test")];
    all_headers.extend_from_slice(headers);
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://rampart.test{uri}"));
    for (k, v) in &all_headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(body.to_vec()).unwrap();
    let signable = SignableRequest::new(
        method,
        format!("http://rampart.test{uri}"),
        all_headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    let (mut parts, body) = request.into_parts();
    parts.uri = uri.parse().unwrap();
    let mut request = Request::from_parts(parts, Body::from(body));
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    request
}

/// A signed request to the JSON test service's `operation`.
fn echo(h: &Harness, operation: &str, body: &[u8], secret: Option<&str>) -> Request<Body> {
    let target = format!("EchoService.{operation}");
    signed(
        h,
        "echo",
        "POST",
        "/",
        &[JSON11, ("x-amz-target", &target)],
        body,
        secret,
    )
}

async fn send(h: &Harness, request: Request<Body>) -> (u16, http::HeaderMap, serde_json::Value) {
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

const JSON11: (&str, &str) = ("content-type", "application/x-amz-json-1.1");

#[tokio::test]
async fn json_service_answers_and_is_audited() {
    let h = harness().await;
    let req = echo(&h, "Echo", br#"{"Message":"hi"}"#, None);
    let (status, headers, body) = send(&h, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
    let request_id = headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(body["Message"], "hi");
    assert!(body["Caller"].as_str().unwrap().ends_with(":user/admin"));
    assert_eq!(body["SourceIp"], "192.0.2.7");
    assert_eq!(body["Region"], "eu-west-1");

    let records = h.store.query_audit(&AuditQuery::default()).await.unwrap();
    let record = records
        .iter()
        .find(|r| r.request_id == request_id)
        .expect("audited");
    assert_eq!(
        (record.service.as_str(), record.operation.as_str()),
        ("echo", "Echo")
    );
    assert_eq!(record.source_ip, "192.0.2.7");
    assert_eq!(record.decision.as_deref(), Some("allowed"));
    assert_eq!(
        record.matched_statements,
        vec!["arn:aws:iam::aws:policy/AdministratorAccess#0".to_owned()]
    );
}

#[tokio::test]
async fn json_errors_are_json_shaped() {
    let h = harness().await;
    let cases: Vec<(Request<Body>, u16, &str)> = vec![
        (echo(&h, "Echo", b"{}", None), 400, "ValidationException"),
        (
            echo(&h, "Echo", b"{nope", None),
            400,
            "SerializationException",
        ),
        (
            echo(&h, "Echo", br#"{"Message":1}"#, None),
            400,
            "SerializationException",
        ),
        (
            echo(&h, "Nope", b"{}", None),
            400,
            "UnknownOperationException",
        ),
        (
            signed(
                &h,
                "echo",
                "POST",
                "/",
                &[JSON11, ("x-amz-target", "Other.Echo")],
                b"{}",
                None,
            ),
            400,
            "UnknownOperationException",
        ),
        (
            signed(&h, "echo", "POST", "/", &[JSON11], b"{}", None),
            400,
            "UnknownOperationException",
        ),
        (
            signed(
                &h,
                "echo",
                "GET",
                "/",
                &[JSON11, ("x-amz-target", "EchoService.Echo")],
                b"",
                None,
            ),
            405,
            "MethodNotAllowedException",
        ),
        (
            echo(&h, "Fail", b"{}", None),
            400,
            "ResourceNotFoundException",
        ),
        (
            echo(&h, "Echo", br#"{"Message":"x"}"#, Some("wrong-secret")),
            400,
            "InvalidSignatureException",
        ),
        (
            echo(&h, "Echo", &[b'x'; 2048], None),
            413,
            "RequestEntityTooLargeException",
        ),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let (got, headers, body) = send(&h, req).await;
        assert_eq!(
            (got, body["__type"].as_str()),
            (status, Some(code)),
            "case {i}: {body}"
        );
        assert!(body["message"].is_string(), "case {i}: {body}");
        assert!(headers.contains_key("x-amzn-requestid"));
    }
}

#[tokio::test]
async fn rest_json_routes_by_method_and_path() {
    let h = harness().await;
    let req = signed(
        &h,
        "widgets",
        "GET",
        "/2026-01-01/widgets/a%20b?verbose=true",
        &[],
        b"",
        None,
    );
    let (status, _, body) = send(&h, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Name"], "a b");
    assert_eq!(body["Verbose"], "true");

    let req = signed(
        &h,
        "widgets",
        "DELETE",
        "/2026-01-01/widgets/a",
        &[],
        b"",
        None,
    );
    let (status, headers, body) = send(&h, req).await;
    assert_eq!(status, 404);
    assert_eq!(body["__type"], "UnknownOperationException");
    assert_eq!(headers["x-amzn-errortype"], "UnknownOperationException");

    let mut req = signed(
        &h,
        "widgets",
        "GET",
        "/2026-01-01/widgets/a",
        &[],
        b"",
        None,
    );
    req.headers_mut().remove("authorization");
    let (status, _, body) = send(&h, req).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
}

/// Creates user `bob` with one inline policy and an access key, straight in the store.
async fn bob(h: &Harness, key: &RootKeyring, policy: &str) -> (String, String) {
    user(h, key, "bob", policy).await
}

/// Creates user `name` with one inline policy and an access key, straight in the store.
async fn user(h: &Harness, key: &RootKeyring, name: &str, policy: &str) -> (String, String) {
    use rampart_iam::credentials::{AccessKeyRecord, AccessKeyStatus};
    use rampart_iam::entities::{self, User};
    use rampart_store::Expect;
    let account = rampart_iam::Account::load(h.store.as_ref())
        .await
        .unwrap()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let user = User {
        name: name.into(),
        user_id: rampart_core::ids::unique_id("AIDA"),
        arn: format!("arn:aws:iam::{}:user/{name}", account.account_id),
        path: "/".into(),
        created_at: now,
        attached_policies: vec![],
        inline_policies: [("EchoOnly".to_owned(), policy.to_owned())].into(),
        groups: vec![],
        permissions_boundary: None,
        tags: vec![],
    };
    let access_key_id = rampart_core::ids::access_key_id();
    let secret = rampart_core::ids::secret_access_key();
    let record = AccessKeyRecord {
        access_key_id: access_key_id.clone(),
        user_name: name.into(),
        status: AccessKeyStatus::Active,
        sealed_secret: key.seal(
            SealPurpose::AccessKeySecret,
            &access_key_id,
            secret.as_bytes(),
        ),
        created_at: now,
    };
    h.store
        .commit(vec![
            entities::put(&user, Expect::Absent),
            record.write(Expect::Absent),
        ])
        .await
        .unwrap();
    (access_key_id, secret)
}

#[tokio::test]
async fn policies_decide_and_denials_read_like_aws() {
    let mut h = harness().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"EchoFromDocNet","Effect":"Allow","Action":"echo:*","Resource":"*",
         "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}},
        {"Sid":"NeverFail","Effect":"Deny","Action":"echo:Fail","Resource":"*"}]}"#;
    let (akid, secret) = bob(&h, &h.root_keys.clone(), policy).await;
    h.access_key_id = akid;
    h.secret = secret;

    let req = echo(&h, "Echo", br#"{"Message":"hi"}"#, None);
    let (status, headers, body) = send(&h, req).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["Caller"].as_str().unwrap().ends_with(":user/bob"));
    let request_id = headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    let records = h.store.query_audit(&AuditQuery::default()).await.unwrap();
    let record = records.iter().find(|r| r.request_id == request_id).unwrap();
    assert_eq!(record.matched_statements.len(), 1);
    assert!(
        record.matched_statements[0].ends_with("#inline/EchoOnly#0(EchoFromDocNet)"),
        "{:?}",
        record.matched_statements
    );

    // An explicit deny wins over the allow.
    let req = echo(&h, "Fail", b"{}", None);
    let (status, _, body) = send(&h, req).await;
    // JSON services answer AccessDeniedException with 400, as KMS and Secrets Manager do.
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("AccessDeniedException"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("User: arn:aws:iam::"), "{message}");
    assert!(
        message.ends_with(":user/bob is not authorized to perform: echo:Fail on resource: * with an explicit deny in an identity-based policy"),
        "{message}"
    );

    // Nothing allows widgets at all: an implicit deny, worded as AWS does.
    let req = signed(
        &h,
        "widgets",
        "GET",
        "/2026-01-01/widgets/w",
        &[],
        b"",
        None,
    );
    let (status, _, body) = send(&h, req).await;
    assert_eq!(status, 403);
    assert_eq!(body["__type"], "AccessDeniedException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("because no identity-based policy allows the widgets:GetWidget action"),
        "{body}"
    );
}

#[tokio::test]
async fn per_item_checks_refuse_only_their_item_and_are_audited() {
    let mut h = harness().await;
    let key = h.root_keys.clone();

    // The administrator: every item served, every check audited as allowed.
    let req = echo(&h, "EchoBatch", br#"{"Items":["a","b"]}"#, None);
    let (status, _, body) = send(&h, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Served"], serde_json::json!(["a", "b"]));
    assert_eq!(body["Denied"], serde_json::json!({}));

    // A caller allowed the batch and one item, denied another explicitly.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"echo:EchoBatch","Resource":"*"},
        {"Effect":"Allow","Action":"echo:Read","Resource":"arn:aws:echo:*:*:item/a"},
        {"Effect":"Deny","Action":"echo:Read","Resource":"arn:aws:echo:*:*:item/c"}]}"#;
    let (akid, secret) = user(&h, &key, "carol", policy).await;
    h.access_key_id = akid;
    h.secret = secret;
    let req = echo(&h, "EchoBatch", br#"{"Items":["a","b","c"]}"#, None);
    let (status, headers, body) = send(&h, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Served"], serde_json::json!(["a"]));
    let denied = body["Denied"].as_object().unwrap();
    assert_eq!(denied.len(), 2, "{body}");
    let b = denied["b"].as_str().unwrap();
    assert!(
        b.contains(":user/carol is not authorized to perform: echo:Read on resource: arn:aws:echo:eu-west-1:")
            && b.ends_with("because no identity-based policy allows the echo:Read action"),
        "{b}"
    );
    assert!(denied["c"]
        .as_str()
        .unwrap()
        .ends_with("with an explicit deny in an identity-based policy"));

    let request_id = headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    let records = h.store.query_audit(&AuditQuery::default()).await.unwrap();
    let record = records.iter().find(|r| r.request_id == request_id).unwrap();
    assert_eq!(record.decision.as_deref(), Some("allowed"));
    let checks: Vec<(&str, &str)> = record
        .checks
        .iter()
        .map(|c| (c.action.as_str(), c.decision.as_str()))
        .collect();
    assert_eq!(
        checks,
        vec![
            ("echo:EchoBatch", "allowed"),
            ("echo:Read", "allowed"),
            ("echo:Read", "implicitDeny"),
            ("echo:Read", "explicitDeny"),
        ]
    );
    assert!(record.checks[3].resource.ends_with(":item/c"));

    // The request-wide check still refuses the whole request, whatever the items say.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"echo:Read","Resource":"*"}]}"#;
    let (akid, secret) = user(&h, &key, "dave", policy).await;
    h.access_key_id = akid;
    h.secret = secret;
    let req = echo(&h, "EchoBatch", br#"{"Items":["a"]}"#, None);
    let (status, _, body) = send(&h, req).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("AccessDeniedException"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("echo:EchoBatch"),
        "{body}"
    );

    // An operation whose only checks are per-item is a bug: refused, never run.
    let req = echo(&h, "OnlyItems", b"{}", None);
    let (status, _, body) = send(&h, req).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "InternalFailureException");
}
