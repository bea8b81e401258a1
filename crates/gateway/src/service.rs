//! [`GatewayService`]: the store, this account and region, the in-process function invoker the
//! data plane calls, and the JWT authorizers' verifiers.

use std::sync::{Arc, OnceLock};

use rampart_functions::Invoker;
use rampart_store::Store;

use crate::fetch::DiscoveryFetcher;
use crate::jwt::{JwtAuthorizers, LocalIssuers};

/// API Gateway (HTTP APIs) of one account and region.
pub struct GatewayService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    /// The public URL clients reach this host at: `ApiEndpoint` derives from it.
    pub(crate) endpoint: String,
    pub(crate) invoker: Arc<Invoker>,
    pub(crate) jwt: JwtAuthorizers,
    /// This node's cache of Lambda authorizers' answers.
    pub(crate) lambda_authorizers: crate::lambda_authorizer::LambdaAuthorizers,
    /// Decides `AWS_IAM` routes; set once the server's pipeline exists (until then, and
    /// without it, such routes are refused).
    pub(crate) iam: OnceLock<Arc<dyn crate::IamInvokers>>,
    /// This node's throttling buckets.
    pub(crate) throttle: crate::throttle::Throttle,
    /// This node's compiled request-model schemas.
    pub(crate) schemas: crate::request_models::Schemas,
    /// This node's cache of what the data plane reads per request.
    pub(crate) plane: crate::plane_cache::PlaneCache,
}

impl GatewayService {
    /// The service; `local` answers the keys of Rampart's own issuers (its user pools), every
    /// other issuer's are discovered over HTTPS.
    pub fn new(
        store: Arc<dyn Store>,
        account_id: String,
        region: String,
        endpoint: String,
        invoker: Arc<Invoker>,
        local: Arc<dyn LocalIssuers>,
    ) -> Self {
        GatewayService {
            store,
            account_id,
            region,
            endpoint,
            invoker,
            jwt: JwtAuthorizers::new(local, Arc::new(DiscoveryFetcher::new())),
            lambda_authorizers: Default::default(),
            iam: OnceLock::new(),
            throttle: Default::default(),
            schemas: Default::default(),
            plane: Default::default(),
        }
    }

    /// Wires the decision of `AWS_IAM` routes (once; later calls change nothing).
    pub fn set_iam(&self, iam: Arc<dyn crate::IamInvokers>) {
        let _ = self.iam.set(iam);
    }

    /// `arn:aws:apigateway:<region>::<path>`: API Gateway's resources have no account.
    pub(crate) fn arn(&self, path: &str) -> String {
        format!("arn:aws:apigateway:{}::{path}", self.region)
    }

    /// Where an API is served by host: `<scheme>://<apiId>.execute-api.<host>[:port]` of this
    /// host's public URL (an IP address becomes `localhost`, under which every name resolves to
    /// the loopback). `/_api/<apiId>/…` on the endpoint itself always works too.
    pub fn api_endpoint(&self, api_id: &str) -> String {
        let (scheme, rest) = self
            .endpoint
            .split_once("://")
            .unwrap_or(("http", self.endpoint.as_str()));
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (authority, None),
        };
        let host = if host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
        {
            "localhost"
        } else {
            host
        };
        match port {
            Some(p) => format!("{scheme}://{api_id}.execute-api.{host}:{p}"),
            None => format!("{scheme}://{api_id}.execute-api.{host}"),
        }
    }
}
