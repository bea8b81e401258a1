//! The data plane: a request to a deployed API, as the server's front end hands it over
//! (`<apiId>.execute-api.<host>/<stage>/…` or `/_api/<apiId>/<stage>/…`), answered as API
//! Gateway answers it — stage, route, authorizer, integration, response.
//!
//! 1. **stage**: the path's first segment if the API has a stage of that name, else the
//!    `$default` stage with the whole path; else Not Found. What it serves
//!    ([`crate::serving`]): the live configuration (`AutoDeploy`) or its deployment's
//!    snapshot; Not Found while nothing is deployed to it.
//! 2. **route**: the most specific match ([`crate::route_key::select`]); else Not Found.
//! 3. **throttle**: the route's or the stage's token bucket ([`crate::throttle`]), 429 when
//!    empty — before anything costly.
//! 4. **authorize**: `NONE` passes; `JWT` through the route's JWT authorizer ([`crate::jwt`]);
//!    `CUSTOM` through its Lambda authorizer ([`crate::lambda_authorizer`]); `AWS_IAM` by the
//!    request's SigV4 signature and the signer's policies ([`crate::iam_auth`]).
//! 5. **validate**: a route with a request model checks the body against its JSON Schema
//!    ([`crate::request_models`]): 400 `Invalid request body` when it does not match.
//! 6. **integrate**: the event in the integration's payload format, the function invoked
//!    through [`crate::integration::invoke`], its answer mapped back ([`crate::events`]).
//!
//! Nothing here is SigV4: the front end never sends these requests to the AWS pipeline.

use std::net::SocketAddr;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use time::OffsetDateTime;

use crate::access_log::Trail;
use crate::events::{self, RequestFacts};
use crate::iam_auth::{IamRefusal, SignedRequest};
use crate::integration::{self, IntegrationFailure};
use crate::jwt::Refusal;
use crate::lambda_authorizer::Verdict;
use crate::records::AuthorizationType;
use crate::records::RouteRecord;
use crate::request_models::{self, Invalid};
use crate::route_key::{self, RouteKey};
use crate::serving::{stage_for, Served, StageFor};
use crate::GatewayService;

/// API Gateway's payload limit for HTTP APIs.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// What the front end knows of a data-plane request besides the request itself.
#[derive(Debug, Clone)]
pub struct Addressed {
    pub api_id: String,
    /// The first path segment after the API (empty when none).
    pub stage: String,
    /// The path after that segment, from its `/`, still percent-encoded.
    pub path: String,
    /// The request's id, answered as `apigw-requestid` by the front end.
    pub request_id: String,
    pub peer: Option<SocketAddr>,
    /// Whether the request came over TLS.
    pub https: bool,
}

/// A JSON answer `{"message": …}`, API Gateway's shape for its own refusals.
pub fn message(status: StatusCode, text: &str) -> http::Response<Body> {
    json_answer(status, &serde_json::json!({ "message": text }))
}

/// A JSON answer of API Gateway's own.
fn json_answer(status: StatusCode, value: &serde_json::Value) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found() -> http::Response<Body> {
    message(StatusCode::NOT_FOUND, "Not Found")
}

fn refusal(r: Refusal) -> http::Response<Body> {
    match r {
        Refusal::Unauthorized => {
            let mut response = message(StatusCode::UNAUTHORIZED, "Unauthorized");
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
            response
        }
        Refusal::Forbidden => message(StatusCode::FORBIDDEN, "Forbidden"),
    }
}

impl GatewayService {
    /// Answers one data-plane request.
    pub async fn serve(
        &self,
        addressed: Addressed,
        request: http::Request<Body>,
    ) -> http::Response<Body> {
        let mut trail = Trail {
            arrived: Some(std::time::Instant::now()),
            api_id: addressed.api_id.clone(),
            http_method: request.method().as_str().to_owned(),
            // The path within the API, the stage's segment included (`$context.path`).
            path: match addressed.stage.as_str() {
                "" => addressed.path.clone(),
                stage => format!("/{stage}{}", addressed.path),
            },
            protocol: format!("{:?}", request.version()),
            request_id: addressed.request_id.clone(),
            source_ip: addressed
                .peer
                .map(|p| p.ip().to_string())
                .unwrap_or_default(),
            tls: addressed.https,
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..Trail::default()
        };
        let origin = request
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = match self.serve_inner(addressed, request, &mut trail).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = %e, "the data plane failed");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
        if let Some(cors) = &trail.cors {
            crate::cors::apply(cors, origin.as_deref(), &mut response);
        }
        if !trail.api_known {
            return response;
        }
        match self
            .store
            .record_audit(trail.record(response.status().as_u16()))
            .await
        {
            Ok(_) => response,
            Err(e) => {
                tracing::error!(error = %e, "a data-plane request could not be audited");
                message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
    }

    async fn serve_inner(
        &self,
        addressed: Addressed,
        request: http::Request<Body>,
        trail: &mut Trail,
    ) -> Result<http::Response<Body>, crate::error::GatewayError> {
        let api_id = addressed.api_id.clone();
        let api = self.plane.api(self.store.as_ref(), &api_id).await?;
        let Some(api) = api else {
            return Ok(not_found());
        };
        trail.api_known = true;
        if api.record.disable_execute_api_endpoint {
            return Ok(message(StatusCode::FORBIDDEN, "Forbidden"));
        }
        let (parts, mut body) = request.into_parts();
        let Some(StageFor {
            stage,
            path,
            raw_path,
            served,
        }) = stage_for(self, &api_id, &addressed, parts.uri.path()).await?
        else {
            return Ok(not_found());
        };
        trail.stage = Some(stage.stage_name.clone());
        if let Some(cors) = served.cors(&api.record) {
            // A preflight is answered here, before any route, authorizer or integration.
            let origin = parts
                .headers
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok());
            let preflight = parts.method == http::Method::OPTIONS
                && parts
                    .headers
                    .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
            if let (true, Some(origin)) = (preflight, origin) {
                let mut response = http::Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                for (name, value) in cors.preflight(origin) {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        response.headers_mut().insert(name, value);
                    }
                }
                return Ok(response);
            }
            trail.cors = Some(cors.clone());
        }
        let method = parts.method.as_str().to_owned();
        let routes = served.routes(self, &api_id).await?;
        let keys: Vec<(RouteKey, &RouteRecord)> = routes
            .iter()
            .filter_map(|r| RouteKey::parse(&r.route_key).map(|k| (k, r)))
            .collect();
        let Some((route, path_parameters)) =
            route_key::select(keys.iter().map(|(k, r)| (k, *r)), &method, &path)
        else {
            return Ok(not_found());
        };
        trail.route_key = Some(route.route_key.clone());
        if !self.throttle.admit(&api_id, &stage, &route.route_key) {
            trail.refusal = Some("TooManyRequests");
            return Ok(message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"));
        }
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        // What the events say about the request, gathered before authorization: a Lambda
        // authorizer gets the same view (without the body).
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let host_name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let domain_name = match host_name.split('.').next() {
            Some(first) if first.eq_ignore_ascii_case(&api_id) => host_name.to_ascii_lowercase(),
            _ => format!("{api_id}.execute-api.{host_name}"),
        };
        let source_ip = addressed
            .peer
            .map(|p| p.ip().to_string())
            .unwrap_or_default();
        let mut headers = parts.headers.clone();
        if let Ok(v) = HeaderValue::from_str(&source_ip) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), v);
        }
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static(if addressed.https { "https" } else { "http" }),
        );
        let protocol = format!("{:?}", parts.version);
        // The route's ARN: what IAM policies of Lambda authorizers name, and the invocations'
        // source.
        let route_arn = format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
            self.region, self.account_id, api_id, stage.stage_name, method, path
        );
        trail.resource = Some(route_arn.clone());
        // The integration's invocation names the route as API Gateway does in its
        // `aws:SourceArn` (what AddPermission's SourceArn matches): the route key's path
        // template, or `$default` for the default route.
        let invocation_arn = match route.route_key.split_once(' ') {
            Some((_, template)) => format!(
                "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
                self.region, self.account_id, api_id, stage.stage_name, method, template
            ),
            None => format!(
                "arn:aws:execute-api:{}:{}:{}/{}/$default",
                self.region, self.account_id, api_id, stage.stage_name
            ),
        };
        let mut facts = RequestFacts {
            account_id: &self.account_id,
            api_id: &api_id,
            domain_name: &domain_name,
            request_id: &addressed.request_id,
            stage: &stage.stage_name,
            route_key: &route.route_key,
            method: &method,
            raw_path: &raw_path,
            raw_query: &raw_query,
            headers: &headers,
            body: &[],
            protocol: &protocol,
            source_ip: &source_ip,
            path_parameters: &path_parameters,
            stage_variables: &stage.stage_variables,
            jwt: None,
            lambda: None,
            iam: None,
            time: OffsetDateTime::now_utc(),
        };
        let mut jwt = None;
        let mut lambda = None;
        let mut signer = None;
        match route.authorization_type {
            AuthorizationType::None => {}
            AuthorizationType::Jwt | AuthorizationType::Custom => {
                let Some(id) = &route.authorizer_id else {
                    return Ok(refused(trail, Refusal::Unauthorized));
                };
                let Some((authorizer, authorizer_version)) =
                    served.authorizer(self, &api_id, id).await?
                else {
                    return Ok(refused(trail, Refusal::Unauthorized));
                };
                match (route.authorization_type, &authorizer.request) {
                    (AuthorizationType::Jwt, None) => {
                        match self
                            .jwt
                            .authorize(
                                &authorizer,
                                &route.authorization_scopes,
                                &parts.headers,
                                &raw_query,
                            )
                            .await
                        {
                            Ok(context) => {
                                trail.principal = Some(format!(
                                    "{}#{}",
                                    authorizer.issuer,
                                    context.claims.get("sub").map_or("", String::as_str)
                                ));
                                jwt = Some(context);
                            }
                            Err(r) => return Ok(refused(trail, r)),
                        }
                    }
                    (AuthorizationType::Custom, Some(_)) => {
                        match self
                            .lambda_authorizers
                            .authorize(self, &authorizer, authorizer_version, &facts, &route_arn)
                            .await
                        {
                            Verdict::Allow(context) => {
                                trail.principal = context.principal_id.as_ref().map(|p| {
                                    let function = authorizer
                                        .request
                                        .as_ref()
                                        .map_or("", |r| r.function_name.as_str());
                                    format!("{function}#{p}")
                                });
                                lambda = Some(context);
                            }
                            Verdict::Refuse(r) => return Ok(refused(trail, r)),
                            Verdict::Failed => {
                                return Ok(message(
                                    StatusCode::INTERNAL_SERVER_ERROR,
                                    "Internal Server Error",
                                ))
                            }
                        }
                    }
                    // A route and an authorizer of different kinds (the management API
                    // refuses it; a record changed under it): refuse.
                    _ => return Ok(refused(trail, Refusal::Unauthorized)),
                }
            }
            AuthorizationType::AwsIam => {
                // The signature covers the body: read it first.
                let Some(iam) = self.iam.get() else {
                    return Ok(message(StatusCode::FORBIDDEN, "Forbidden"));
                };
                let bytes = match read_body(body).await {
                    Ok(bytes) => bytes,
                    Err(response) => return Ok(response),
                };
                let signed = SignedRequest {
                    method: &method,
                    authority: parts.uri.authority().map(|a| a.as_str()),
                    path: parts.uri.path(),
                    query: &raw_query,
                    headers: &parts.headers,
                    body: &bytes,
                    source_ip: addressed.peer.map(|p| p.ip()),
                    secure: addressed.https,
                };
                match iam.authorize(&signed, &route_arn).await {
                    Ok(caller) => {
                        trail.principal = Some(caller.user_arn.clone());
                        trail.access_key_id = Some(caller.access_key.clone());
                        signer = Some(caller);
                    }
                    Err(refusal) => {
                        trail.refusal = Some("Forbidden");
                        if matches!(refusal, IamRefusal::Denied(_)) {
                            trail.decision = Some("implicitDeny");
                        }
                        return Ok(iam_refusal(refusal));
                    }
                }
                body = Body::from(bytes);
            }
        }
        if route.authorization_type != AuthorizationType::None {
            trail.decision = Some("allowed");
        }
        let body = match read_body(body).await {
            Ok(bytes) => bytes,
            Err(response) => return Ok(response),
        };
        // After the authorizer, before the integration: a refused body never reaches it.
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if let Some(model) = request_models::model_for(&route.request_models, content_type) {
            if let Some(refused) = self.validate(&served, &api_id, model, &body, trail).await? {
                return Ok(refused);
            }
        }
        let Some(integration_id) = route.integration_id() else {
            return Ok(not_found());
        };
        let Some(integration) = served.integration(self, &api_id, integration_id).await? else {
            return Ok(not_found());
        };
        facts.body = &body;
        facts.iam = signer.as_ref();
        facts.jwt = jwt.as_ref();
        facts.lambda = lambda.as_ref();
        let v2 = integration.payload_format_version == "2.0";
        let event = if v2 {
            events::event_v2(&facts)
        } else {
            events::event_v1(&facts)
        };
        let integrating = std::time::Instant::now();
        let invoked = integration::invoke(
            self,
            &integration,
            &invocation_arn,
            Bytes::from(event.to_string()),
        )
        .await;
        trail.integration_latency = Some(integrating.elapsed());
        let payload = match invoked {
            Ok(payload) => payload,
            Err(failure) => return Ok(integration_failure(&failure)),
        };
        let mapped = if v2 {
            events::response_v2(&payload)
        } else {
            events::response_v1(&payload)
        };
        match mapped {
            Ok(m) => Ok(respond(m)),
            Err(e) => {
                tracing::debug!(reason = e.0, api = %api_id, "the function's answer is malformed");
                Ok(message(StatusCode::BAD_GATEWAY, "Internal Server Error"))
            }
        }
    }
}

impl GatewayService {
    /// Checks `body` against the route's model `name`: `None` to go on, else the answer —
    /// API Gateway's 400 `Invalid request body`, with a mismatch's (bounded) errors.
    async fn validate(
        &self,
        served: &Served,
        api_id: &str,
        name: &str,
        body: &[u8],
        trail: &mut Trail,
    ) -> Result<Option<http::Response<Body>>, crate::error::GatewayError> {
        let compiled = match served.model(self, api_id, name).await? {
            Some((model, version)) => self.schemas.get(api_id, &model, version),
            // The management API keeps a named model from being deleted; should one be
            // missing anyway, the body is refused rather than let through unchecked.
            None => Err(format!("the route's model {name} does not exist")),
        };
        let validator = match compiled {
            Ok(v) => v,
            Err(why) => {
                tracing::error!(api = %api_id, model = %name, reason = %why, "a request model cannot be used");
                return Ok(Some(message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                )));
            }
        };
        let errors = match request_models::check(&validator, body) {
            Ok(()) => return Ok(None),
            Err(Invalid::NotJson) => None,
            Err(Invalid::Mismatch(errors)) => Some(errors),
        };
        trail.refusal = Some("BadRequestBody");
        let mut answer = serde_json::json!({ "message": "Invalid request body" });
        if let Some(errors) = errors {
            answer["errors"] = serde_json::json!(errors);
        }
        Ok(Some(json_answer(StatusCode::BAD_REQUEST, &answer)))
    }
}

/// An authorizer's refusal, noted in the trail.
fn refused(trail: &mut Trail, r: Refusal) -> http::Response<Body> {
    trail.decision = Some("implicitDeny");
    trail.refusal = Some(match r {
        Refusal::Unauthorized => "Unauthorized",
        Refusal::Forbidden => "Forbidden",
    });
    refusal(r)
}

/// The body, at most [`MAX_PAYLOAD_BYTES`]; past it, API Gateway's 413.
async fn read_body(body: Body) -> Result<Bytes, http::Response<Body>> {
    match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
        )),
    }
}

/// An `AWS_IAM` refusal in API Gateway's words.
fn iam_refusal(refusal: IamRefusal) -> http::Response<Body> {
    match refusal {
        IamRefusal::Unsigned => message(StatusCode::FORBIDDEN, "Forbidden"),
        IamRefusal::Invalid(text) => message(StatusCode::FORBIDDEN, &text),
        IamRefusal::Denied(text) => json_answer(
            StatusCode::FORBIDDEN,
            &serde_json::json!({ "Message": text }),
        ),
    }
}

fn integration_failure(failure: &IntegrationFailure) -> http::Response<Body> {
    match failure {
        IntegrationFailure::NotInvoked(why) => {
            tracing::warn!(reason = %why, "the integration's function was not invoked");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        IntegrationFailure::FunctionError(_) => {
            message(StatusCode::BAD_GATEWAY, "Internal Server Error")
        }
        IntegrationFailure::Timeout => {
            message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

/// The mapped answer as an HTTP response; headers HTTP cannot carry are left out.
fn respond(m: events::MappedResponse) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(m.body));
    *response.status_mut() = StatusCode::from_u16(m.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (k, v) in m.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            headers.append(name, value);
        }
    }
    response
}
