//! Authorizers: CreateAuthorizer, GetAuthorizers, GetAuthorizer, UpdateAuthorizer,
//! DeleteAuthorizer.
//!
//! - JWT: an issuer and audiences. The issuer must be `https://`, but for Rampart's own pools
//!   and issuers on this host's loopback, whose keys never cross a network.
//! - REQUEST: a Lambda function of this account and region (`AuthorizerUri`), the payload
//!   format it gets (1.0 or 2.0), simple responses (2.0 only) or IAM policies, and how long an
//!   answer is reused for the same identity values.

use rampart_store::{request_audit, Expect};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire;
use super::{child_id, Call, GatewayOperation, NamedApi};
use crate::deployments;
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, AuthorizerRecord, RequestAuthorizer, RouteRecord};
use crate::GatewayService;

#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct JwtConfiguration {
    #[serde(default)]
    audience: Option<Vec<String>>,
    #[serde(default)]
    issuer: Option<String>,
}

/// `Authorizer` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizerShape<'a> {
    authorizer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer_payload_format_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer_result_ttl_in_seconds: Option<u32>,
    authorizer_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_simple_responses: Option<bool>,
    identity_source: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt_configuration: Option<JwtConfiguration>,
    name: &'a str,
}

fn shape(a: &AuthorizerRecord) -> AuthorizerShape<'_> {
    let r = a.request.as_ref();
    AuthorizerShape {
        authorizer_id: &a.authorizer_id,
        authorizer_payload_format_version: r.map(|r| r.payload_format_version.as_str()),
        authorizer_result_ttl_in_seconds: r.map(|r| r.ttl_seconds),
        authorizer_type: a.authorizer_type(),
        authorizer_uri: r.map(|r| r.authorizer_uri.as_str()),
        enable_simple_responses: r.map(|r| r.enable_simple_responses),
        identity_source: &a.identity_source,
        jwt_configuration: r.is_none().then(|| JwtConfiguration {
            audience: Some(a.audience.clone()),
            issuer: Some(a.issuer.clone()),
        }),
        name: &a.name,
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CreateAuthorizerBody {
    authorizer_type: Option<String>,
    identity_source: Option<Vec<String>>,
    jwt_configuration: Option<JwtConfiguration>,
    name: Option<String>,
    authorizer_uri: Option<String>,
    authorizer_payload_format_version: Option<String>,
    enable_simple_responses: Option<bool>,
    authorizer_result_ttl_in_seconds: Option<i64>,
    authorizer_credentials_arn: Option<String>,
}

/// Whether `host` is this machine's loopback.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `$request.header.<name>`, `$request.querystring.<name>` or `$stageVariables.<name>` (the
/// last only for REQUEST authorizers).
fn valid_source(source: &str, request: bool) -> bool {
    let name = source
        .strip_prefix("$request.header.")
        .or_else(|| source.strip_prefix("$request.querystring."))
        .or_else(|| {
            request
                .then(|| source.strip_prefix("$stageVariables."))
                .flatten()
        });
    name.is_some_and(|n| !n.is_empty() && http::HeaderName::from_bytes(n.as_bytes()).is_ok())
}

/// What the request configures, checked.
enum Kind {
    Jwt {
        issuer: String,
        audience: Vec<String>,
    },
    Request(RequestAuthorizer),
}

pub(crate) struct CreateAuthorizer {
    named: NamedApi,
    name: String,
    identity_source: Vec<String>,
    kind: Kind,
}

fn decode_jwt(
    body: &CreateAuthorizerBody,
    sources: &[String],
) -> Result<(String, Vec<String>), GatewayError> {
    if sources.len() != 1 || !sources.iter().all(|s| valid_source(s, false)) {
        return Err(GatewayError::BadRequest(
            "Invalid identity source: a JWT authorizer takes one, $request.header.<name> or $request.querystring.<name>."
                .into(),
        ));
    }
    let jwt = body.jwt_configuration.as_ref();
    let issuer = jwt.and_then(|j| j.issuer.clone()).ok_or_else(|| {
        GatewayError::BadRequest("JwtConfiguration.Issuer is required for JWT authorizers.".into())
    })?;
    wire::check_length(&issuer, "issuer", 1, 2048)?;
    let audience = jwt.and_then(|j| j.audience.clone()).unwrap_or_default();
    if audience.is_empty() || audience.iter().any(|a| a.is_empty()) {
        return Err(GatewayError::BadRequest(
            "JwtConfiguration.Audience must name at least one audience.".into(),
        ));
    }
    Ok((issuer, audience))
}

fn decode_request(
    body: &CreateAuthorizerBody,
    sources: &[String],
) -> Result<RequestAuthorizer, GatewayError> {
    if body.authorizer_credentials_arn.is_some() {
        return Err(GatewayError::BadRequest(
            "AuthorizerCredentialsArn is not supported by this Rampart host yet.".into(),
        ));
    }
    let uri = body.authorizer_uri.clone().ok_or_else(|| {
        GatewayError::BadRequest("AuthorizerUri is required for REQUEST authorizers.".into())
    })?;
    let version =
        match body.authorizer_payload_format_version.as_deref() {
            Some(v @ ("1.0" | "2.0")) => v.to_owned(),
            Some(other) => {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid authorizer payload format version: {other}. Use 1.0 or 2.0."
                )))
            }
            None => return Err(GatewayError::BadRequest(
                "AuthorizerPayloadFormatVersion is required for REQUEST authorizers of HTTP APIs."
                    .into(),
            )),
        };
    let simple = body.enable_simple_responses.unwrap_or(false);
    if simple && version != "2.0" {
        return Err(GatewayError::BadRequest(
            "Simple responses are only supported with authorizer payload format version 2.0."
                .into(),
        ));
    }
    let ttl = body.authorizer_result_ttl_in_seconds.unwrap_or(0);
    if !(0..=3600).contains(&ttl) {
        return Err(GatewayError::BadRequest(
            "Invalid input: authorizerResultTtlInSeconds must be between 0 and 3600.".into(),
        ));
    }
    if !sources.iter().all(|s| valid_source(s, true)) {
        return Err(GatewayError::BadRequest(
            "Invalid identity source: use $request.header.<name>, $request.querystring.<name> or $stageVariables.<name>."
                .into(),
        ));
    }
    // Cached answers are keyed by the identity values: without any, one caller's answer
    // would be every caller's.
    if ttl > 0 && sources.is_empty() {
        return Err(GatewayError::BadRequest(
            "An identity source is required when authorizer caching is enabled.".into(),
        ));
    }
    Ok(RequestAuthorizer {
        authorizer_uri: uri,
        function_name: String::new(), // read from the URI in execute, with the region
        payload_format_version: version,
        enable_simple_responses: simple,
        ttl_seconds: ttl as u32,
    })
}

#[async_trait::async_trait]
impl GatewayOperation for CreateAuthorizer {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: CreateAuthorizerBody = wire::decode(&input.body)?;
        let name = body
            .name
            .clone()
            .ok_or_else(|| GatewayError::BadRequest("Invalid input: name is required.".into()))?;
        wire::check_length(&name, "name", 1, 128)?;
        let identity_source = body.identity_source.clone().unwrap_or_default();
        let kind = match body.authorizer_type.as_deref() {
            Some("JWT") => {
                let (issuer, audience) = decode_jwt(&body, &identity_source)?;
                Kind::Jwt { issuer, audience }
            }
            Some("REQUEST") => Kind::Request(decode_request(&body, &identity_source)?),
            Some(other) => {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid authorizer type: {other}"
                )))
            }
            None => {
                return Err(GatewayError::BadRequest(
                    "Invalid input: authorizerType is required.".into(),
                ))
            }
        };
        Ok(CreateAuthorizer {
            named: NamedApi::decode(input)?,
            name,
            identity_source,
            kind,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/authorizers`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/authorizers").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        super::check_quota(svc, ns::AUTHORIZERS, &api.record.api_id, 10, "authorizers").await?;
        let (issuer, audience, request) = match self.kind {
            Kind::Jwt { issuer, audience } => {
                check_issuer(svc, &issuer)?;
                (issuer, audience, None)
            }
            Kind::Request(mut r) => {
                r.function_name = super::integrations::function_name(
                    &r.authorizer_uri,
                    &svc.region,
                    &svc.account_id,
                )?;
                (String::new(), Vec::new(), Some(r))
            }
        };
        let authorizer = AuthorizerRecord {
            authorizer_id: crate::ids::child_id(),
            name: self.name,
            identity_source: self.identity_source,
            issuer,
            audience,
            request,
        };
        let writes = vec![
            records::guard(api),
            records::put(
                ns::AUTHORIZERS,
                child_key(&api.record.api_id, &authorizer.authorizer_id),
                &authorizer,
                Expect::Absent,
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(201, &shape(&authorizer))
    }
}

/// An issuer is `https://`, or `http://` for this host's own pools and loopback.
fn check_issuer(svc: &GatewayService, issuer: &str) -> Result<(), GatewayError> {
    let uri: http::Uri = issuer
        .parse()
        .map_err(|_| GatewayError::BadRequest(format!("Invalid issuer: {issuer}")))?;
    let secure = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => svc.jwt.is_local(issuer) || uri.host().is_some_and(is_loopback),
        _ => false,
    };
    if !secure || uri.host().is_none() {
        return Err(GatewayError::BadRequest(format!(
            "Invalid issuer: {issuer}. An issuer is an https URL (http only for this host's own pools and loopback)."
        )));
    }
    Ok(())
}

async fn load_authorizer(
    svc: &GatewayService,
    api_id: &str,
    id: &str,
) -> Result<records::Stored<AuthorizerRecord>, GatewayError> {
    records::load(svc.store.as_ref(), ns::AUTHORIZERS, &child_key(api_id, id))
        .await?
        .ok_or_else(|| GatewayError::not_found("Authorizer", id))
}

pub(crate) struct GetAuthorizer {
    named: NamedApi,
    authorizer_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for GetAuthorizer {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetAuthorizer {
            named: NamedApi::decode(input)?,
            authorizer_id: child_id(input, "authorizerId", "Authorizer")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/authorizers/{}", self.authorizer_id);
        self.named.check(svc, "GET", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let a = load_authorizer(svc, &api.record.api_id, &self.authorizer_id).await?;
        wire::reply(200, &shape(&a.record))
    }
}

pub(crate) struct GetAuthorizers {
    named: NamedApi,
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetAuthorizersReply<'a> {
    items: Vec<AuthorizerShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for GetAuthorizers {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetAuthorizers {
            named: NamedApi::decode(input)?,
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "GET", "/authorizers").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let all = records::children::<AuthorizerRecord>(
            svc.store.as_ref(),
            ns::AUTHORIZERS,
            &api.record.api_id,
        )
        .await?;
        let (items, next_token) =
            wire::page(all, self.max_results.as_deref(), self.next_token.as_deref())?;
        wire::reply(
            200,
            &GetAuthorizersReply {
                items: items.iter().map(shape).collect(),
                next_token,
            },
        )
    }
}

pub(crate) struct DeleteAuthorizer {
    named: NamedApi,
    authorizer_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteAuthorizer {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteAuthorizer {
            named: NamedApi::decode(input)?,
            authorizer_id: child_id(input, "authorizerId", "Authorizer")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/authorizers/{}", self.authorizer_id);
        self.named.check(svc, "DELETE", &tail).await
    }

    /// Refused while a route uses it, as API Gateway refuses it: a route must never be left
    /// naming an authorizer that is gone.
    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_authorizer(svc, api_id, &self.authorizer_id).await?;
        let routes =
            records::children::<RouteRecord>(svc.store.as_ref(), ns::ROUTES, api_id).await?;
        if let Some((_, r)) = routes
            .iter()
            .find(|(_, r)| r.authorizer_id.as_deref() == Some(self.authorizer_id.as_str()))
        {
            return Err(GatewayError::BadRequest(format!(
                "Cannot delete authorizer '{}', is referenced in route: {}",
                stored.record.name, r.route_key
            )));
        }
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::AUTHORIZERS,
                child_key(api_id, &self.authorizer_id),
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}

pub(crate) struct UpdateAuthorizer {
    named: NamedApi,
    authorizer_id: String,
    body: CreateAuthorizerBody,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateAuthorizer {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: CreateAuthorizerBody = wire::decode(&input.body)?;
        if let Some(name) = &body.name {
            wire::check_length(name, "name", 1, 128)?;
        }
        Ok(UpdateAuthorizer {
            named: NamedApi::decode(input)?,
            authorizer_id: child_id(input, "authorizerId", "Authorizer")?,
            body,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/authorizers/{}", self.authorizer_id);
        self.named.check(svc, "PATCH", &tail).await
    }

    /// The stored authorizer with the members given, checked again as a whole, as
    /// CreateAuthorizer checks it; its type does not change.
    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_authorizer(svc, api_id, &self.authorizer_id).await?;
        let old = &stored.record;
        let b = self.body;
        if b.authorizer_type
            .as_deref()
            .is_some_and(|t| t != old.authorizer_type())
        {
            return Err(GatewayError::BadRequest(
                "An authorizer's type cannot be changed.".into(),
            ));
        }
        let sources = b
            .identity_source
            .unwrap_or_else(|| old.identity_source.clone());
        let merged = match &old.request {
            None => {
                let jwt = b.jwt_configuration.unwrap_or_default();
                CreateAuthorizerBody {
                    jwt_configuration: Some(JwtConfiguration {
                        issuer: jwt.issuer.or_else(|| Some(old.issuer.clone())),
                        audience: jwt.audience.or_else(|| Some(old.audience.clone())),
                    }),
                    ..Default::default()
                }
            }
            Some(r) => CreateAuthorizerBody {
                authorizer_uri: b.authorizer_uri.or_else(|| Some(r.authorizer_uri.clone())),
                authorizer_payload_format_version: b
                    .authorizer_payload_format_version
                    .or_else(|| Some(r.payload_format_version.clone())),
                enable_simple_responses: b
                    .enable_simple_responses
                    .or(Some(r.enable_simple_responses)),
                authorizer_result_ttl_in_seconds: b
                    .authorizer_result_ttl_in_seconds
                    .or(Some(i64::from(r.ttl_seconds))),
                authorizer_credentials_arn: b.authorizer_credentials_arn,
                ..Default::default()
            },
        };
        let mut next = AuthorizerRecord {
            authorizer_id: old.authorizer_id.clone(),
            name: b.name.unwrap_or_else(|| old.name.clone()),
            identity_source: sources.clone(),
            issuer: String::new(),
            audience: Vec::new(),
            request: None,
        };
        match old.request {
            None => {
                let (issuer, audience) = decode_jwt(&merged, &sources)?;
                check_issuer(svc, &issuer)?;
                next.issuer = issuer;
                next.audience = audience;
            }
            Some(_) => {
                let mut r = decode_request(&merged, &sources)?;
                r.function_name = super::integrations::function_name(
                    &r.authorizer_uri,
                    &svc.region,
                    &svc.account_id,
                )?;
                next.request = Some(r);
            }
        }
        let writes = vec![
            records::guard(api),
            records::put(
                ns::AUTHORIZERS,
                child_key(api_id, &self.authorizer_id),
                &next,
                Expect::Version(stored.version),
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(&next))
    }
}
