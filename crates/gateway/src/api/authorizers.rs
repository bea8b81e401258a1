//! Authorizers: CreateAuthorizer, GetAuthorizers, GetAuthorizer, DeleteAuthorizer. JWT
//! authorizers only (REQUEST authorizers come with Lambda authorizers, a later slice). The
//! issuer must be `https://`, but for Rampart's own pools and issuers on this host's loopback,
//! whose keys never cross a network.

use rampart_store::{request_audit, Expect};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire;
use super::{child_id, Call, GatewayOperation, NamedApi};
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, AuthorizerRecord, RouteRecord};
use crate::GatewayService;

#[derive(Serialize, Deserialize, Default)]
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
    authorizer_type: &'static str,
    identity_source: &'a [String],
    jwt_configuration: JwtConfiguration,
    name: &'a str,
}

fn shape(a: &AuthorizerRecord) -> AuthorizerShape<'_> {
    AuthorizerShape {
        authorizer_id: &a.authorizer_id,
        authorizer_type: "JWT",
        identity_source: &a.identity_source,
        jwt_configuration: JwtConfiguration {
            audience: Some(a.audience.clone()),
            issuer: Some(a.issuer.clone()),
        },
        name: &a.name,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAuthorizerBody {
    authorizer_type: Option<String>,
    identity_source: Option<Vec<String>>,
    jwt_configuration: Option<JwtConfiguration>,
    name: Option<String>,
}

/// Whether `host` is this machine's loopback.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) struct CreateAuthorizer {
    named: NamedApi,
    name: String,
    identity_source: Vec<String>,
    issuer: String,
    audience: Vec<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateAuthorizer {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: CreateAuthorizerBody = wire::decode(&input.body)?;
        match body.authorizer_type.as_deref() {
            Some("JWT") => {}
            Some("REQUEST") => {
                return Err(GatewayError::BadRequest(
                    "REQUEST (Lambda) authorizers are not supported by this Rampart host yet."
                        .into(),
                ))
            }
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
        }
        let name = body
            .name
            .ok_or_else(|| GatewayError::BadRequest("Invalid input: name is required.".into()))?;
        wire::check_length(&name, "name", 1, 128)?;
        let identity_source = body.identity_source.unwrap_or_default();
        let valid_source = |s: &String| {
            let name = s
                .strip_prefix("$request.header.")
                .or_else(|| s.strip_prefix("$request.querystring."));
            name.is_some_and(|n| {
                !n.is_empty() && http::HeaderName::from_bytes(n.as_bytes()).is_ok()
            })
        };
        if identity_source.len() != 1 || !identity_source.iter().all(valid_source) {
            return Err(GatewayError::BadRequest(
                "Invalid identity source: a JWT authorizer takes one, $request.header.<name> or $request.querystring.<name>."
                    .into(),
            ));
        }
        let jwt = body.jwt_configuration.unwrap_or_default();
        let issuer = jwt.issuer.ok_or_else(|| {
            GatewayError::BadRequest(
                "JwtConfiguration.Issuer is required for JWT authorizers.".into(),
            )
        })?;
        wire::check_length(&issuer, "issuer", 1, 2048)?;
        let audience = jwt.audience.unwrap_or_default();
        if audience.is_empty() || audience.iter().any(|a| a.is_empty()) {
            return Err(GatewayError::BadRequest(
                "JwtConfiguration.Audience must name at least one audience.".into(),
            ));
        }
        Ok(CreateAuthorizer {
            named: NamedApi::decode(input)?,
            name,
            identity_source,
            issuer,
            audience,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/authorizers`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/authorizers").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let uri: http::Uri = self
            .issuer
            .parse()
            .map_err(|_| GatewayError::BadRequest(format!("Invalid issuer: {}", self.issuer)))?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => svc.jwt.is_local(&self.issuer) || uri.host().is_some_and(is_loopback),
            _ => false,
        };
        if !secure || uri.host().is_none() {
            return Err(GatewayError::BadRequest(format!(
                "Invalid issuer: {}. An issuer is an https URL (http only for this host's own pools and loopback).",
                self.issuer
            )));
        }
        let authorizer = AuthorizerRecord {
            authorizer_id: crate::ids::child_id(),
            name: self.name,
            identity_source: self.identity_source,
            issuer: self.issuer,
            audience: self.audience,
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
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(201, &shape(&authorizer))
    }
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
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}
