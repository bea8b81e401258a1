//! The API gateway wired into the server: its data plane behind the front end's
//! [`DataPlane`] (every API id; the gateway answers Not Found for APIs it does not have), and
//! Rampart's user pools as the gateway's local issuers, whose keys come from the store.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use rampart_gateway::{Addressed, GatewayService, LocalIssuers};
use rampart_identity::tokens::JwkSet;
use rampart_identity::verifier::FetchError;
use rampart_user_pools::UserPoolsService;

use crate::front::data_plane::{DataPlane, DataPlaneRoute};
use crate::front::RequestId;

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
