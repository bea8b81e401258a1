//! The API gateway wired into the server: its data plane behind the front end's
//! [`DataPlane`] (every API id; the gateway answers Not Found for APIs it does not have),
//! Rampart's user pools as the gateway's local issuers, whose keys come from the store, and
//! `AWS_IAM` routes decided by the AWS API pipeline's own credential resolver, signature
//! verification and authorizer ([`PipelineIam`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use rampart_gateway::iam_auth::{IamCaller, IamRefusal, SignedRequest};
use rampart_gateway::{Addressed, GatewayService, IamInvokers, LocalIssuers};
use rampart_iam::authorizer::{Caller, RequestFacts};
use rampart_identity::tokens::JwkSet;
use rampart_identity::verifier::FetchError;
use rampart_user_pools::UserPoolsService;
use rampart_wire::sigv4::{self, RequestView};
use rampart_wire::{Check, ProtocolKind};

use crate::front::data_plane::{DataPlane, DataPlaneRoute};
use crate::front::RequestId;
use crate::pipeline::{verify_signed, Pipeline};

/// The gateway's data plane.
pub struct GatewayPlane {
    pub gateway: Arc<GatewayService>,
    /// Whether the listener speaks TLS (the events' `x-forwarded-proto`).
    pub https: bool,
}

#[async_trait::async_trait]
impl DataPlane for GatewayPlane {
    async fn handle(&self, route: DataPlaneRoute, mut request: Request) -> Response {
        let request_id = RequestId::take(request.extensions_mut())
            .map(RequestId::into_string)
            .unwrap_or_default();
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let addressed = Addressed {
            api_id: route.api_id,
            stage: route.stage,
            path: route.path,
            request_id,
            peer,
            https: self.https,
        };
        self.gateway.serve(addressed, request).await
    }
}

/// Rampart's user pools as issuers: `<public-url>/<poolId>`.
pub struct PoolIssuers {
    pub user_pools: Arc<UserPoolsService>,
}

impl PoolIssuers {
    /// The pool `issuer` names, if it is exactly one of this host's pool issuers.
    fn pool_id<'a>(&self, issuer: &'a str) -> Option<&'a str> {
        let (_, pool_id) = issuer.rsplit_once('/')?;
        (rampart_user_pools::ids::is_pool_id_shaped(pool_id)
            && self.user_pools.issuer(pool_id) == issuer)
            .then_some(pool_id)
    }
}

#[async_trait::async_trait]
impl LocalIssuers for PoolIssuers {
    fn is_local(&self, issuer: &str) -> bool {
        self.pool_id(issuer).is_some()
    }

    async fn jwks(&self, issuer: &str) -> Result<JwkSet, FetchError> {
        let pool_id = self
            .pool_id(issuer)
            .ok_or_else(|| FetchError(format!("{issuer} is not a pool of this host")))?;
        match self.user_pools.jwks(pool_id).await {
            Ok(Some(set)) => Ok(set),
            Ok(None) => Err(FetchError(format!("the pool {pool_id} does not exist"))),
            Err(e) => Err(FetchError(e.to_string())),
        }
    }
}

/// `AWS_IAM` routes decided as the AWS API decides a signed request: the access key resolved,
/// the SigV4 signature (service `execute-api`, this region) and session verified, then
/// `execute-api:Invoke` on the route's ARN evaluated over the signer's policies. Weak: the
/// pipeline owns the registry that owns the gateway.
pub struct PipelineIam {
    pub pipeline: Weak<Pipeline>,
}

#[async_trait::async_trait]
impl IamInvokers for PipelineIam {
    async fn authorize(
        &self,
        request: &SignedRequest<'_>,
        route_arn: &str,
    ) -> Result<IamCaller, IamRefusal> {
        let pipeline = self.pipeline.upgrade().ok_or(IamRefusal::Unsigned)?;
        let mut headers: Vec<(&str, &[u8])> = request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        // HTTP/2 carries the host in `:authority`; signers sign it as `host`.
        if !request.headers.contains_key(http::header::HOST) {
            if let Some(authority) = request.authority {
                headers.push(("host", authority.as_bytes()));
            }
        }
        let view = RequestView {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: &headers,
            body: request.body,
        };
        let message = |e: rampart_wire::CommonError| e.for_protocol(ProtocolKind::RestJson).message;
        let auth = match sigv4::parse_authorization(&view) {
            Ok(auth) => auth,
            Err(sigv4::SigV4Error::MissingAuthentication) => return Err(IamRefusal::Unsigned),
            Err(e) => {
                return Err(IamRefusal::Invalid(message(
                    rampart_wire::CommonError::Signature(e),
                )))
            }
        };
        if auth.scope.service != "execute-api" {
            return Err(IamRefusal::Invalid(
                "Credential should be scoped to correct service: 'execute-api'.".into(),
            ));
        }
        if auth.scope.region != pipeline.region {
            return Err(IamRefusal::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                auth.scope.region
            )));
        }
        let credential = verify_signed(&pipeline.resolver, &auth, &view, "execute-api")
            .await
            .map_err(|e| IamRefusal::Invalid(message(e)))?;
        let facts = RequestFacts {
            source_ip: request
                .source_ip
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            secure_transport: request.secure,
            region: &pipeline.region,
            now: time::OffsetDateTime::now_utc(),
        };
        let check = Check::on("execute-api:Invoke", route_arn);
        let authorization =
            pipeline
                .authorizer
                .authorize(&Caller::Credential(&credential), &check, &facts);
        let identity = &credential.identity;
        if !authorization.is_allowed() {
            return Err(IamRefusal::Denied(format!(
                "User: {} is not authorized to perform: execute-api:Invoke on resource: {route_arn}",
                identity.arn
            )));
        }
        Ok(IamCaller {
            access_key: credential.access_key_id.clone(),
            account_id: identity.account_id.clone(),
            user_id: identity.user_id.clone(),
            user_arn: identity.arn.clone(),
        })
    }
}
