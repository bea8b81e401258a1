//! What a stage serves: the stage a data-plane request is addressed to, and the configuration
//! it answers with — the API's live routes, integrations, authorizers and models for an `AutoDeploy`
//! stage (read as the request needs them, as before deployments existed), or the snapshot of
//! the stage's deployment, read once with one store read ([`crate::deployments`]); all of it
//! through this node's [`crate::plane_cache`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::cors::CorsConfig;
use crate::data_plane::Addressed;
use crate::deployments::Snapshot;
use crate::error::GatewayError;
use crate::records::{
    ApiRecord, AuthorizerRecord, IntegrationRecord, ModelRecord, RouteRecord, StageRecord,
};
use crate::GatewayService;

/// The configuration a stage answers with.
pub enum Served {
    /// The API's current configuration (`AutoDeploy`).
    Live,
    /// The stage's deployment.
    Deployed(Arc<Snapshot>),
}

/// The stage a request is for: its record, the path within it, the path after the API, and
/// what it serves.
pub struct StageFor {
    pub stage: Arc<StageRecord>,
    pub path: String,
    pub raw_path: String,
    pub served: Served,
}

/// The path after the API as addressed, `/` when empty: the front end's (stage, rest) put
/// back together, with the trailing slash only the request's own path can tell.
fn after_api(addressed: &Addressed, uri_path: &str) -> String {
    let trailing = uri_path.ends_with('/');
    if addressed.stage.is_empty() {
        return "/".into();
    }
    let rest = if addressed.path == "/" && !trailing {
        ""
    } else {
        addressed.path.as_str()
    };
    format!("/{}{rest}", addressed.stage)
}

/// The stage a request is for — the path's first segment if the API has a stage of that
/// name, else the `$default` stage with the whole path — and what it serves; `None` (Not
/// Found) without such a stage, or for a stage nothing was deployed to. Read through this
/// node's [`crate::plane_cache`].
pub async fn stage_for(
    svc: &GatewayService,
    api_id: &str,
    addressed: &Addressed,
    uri_path: &str,
) -> Result<Option<StageFor>, GatewayError> {
    let store = svc.store.as_ref();
    let full = after_api(addressed, uri_path);
    let mut found = None;
    if !addressed.stage.is_empty() && addressed.stage != "$default" {
        if let Some(stage) = svc.plane.stage(store, api_id, &addressed.stage).await? {
            let within = match addressed.path.as_str() {
                "" => "/".to_owned(),
                p => p.to_owned(),
            };
            found = Some((stage, within));
        }
    }
    if found.is_none() {
        let default = svc.plane.stage(store, api_id, "$default").await?;
        found = default.map(|s| (s, full.clone()));
    }
    let Some((stage, path)) = found else {
        return Ok(None);
    };
    let served = if stage.auto_deploy {
        Served::Live
    } else {
        let Some(id) = &stage.deployment_id else {
            return Ok(None); // nothing deployed to it
        };
        match svc.plane.snapshot(store, api_id, id).await? {
            Some(snapshot) => Served::Deployed(snapshot),
            None => return Ok(None),
        }
    };
    Ok(Some(StageFor {
        stage,
        path,
        raw_path: full,
        served,
    }))
}

/// An API's routes as the data plane reads them: a deployment's, or the live ones this node
/// keeps (shared, not copied, per request).
pub enum Routes<'a> {
    Deployed(&'a [RouteRecord]),
    Live(Arc<Vec<RouteRecord>>),
}

impl std::ops::Deref for Routes<'_> {
    type Target = [RouteRecord];

    fn deref(&self) -> &[RouteRecord] {
        match self {
            Routes::Deployed(routes) => routes,
            Routes::Live(routes) => routes,
        }
    }
}

impl Served {
    /// The routes.
    pub async fn routes(
        &self,
        svc: &GatewayService,
        api_id: &str,
    ) -> Result<Routes<'_>, GatewayError> {
        match self {
            Served::Live => Ok(Routes::Live(
                svc.plane.routes(svc.store.as_ref(), api_id).await?,
            )),
            Served::Deployed(s) => Ok(Routes::Deployed(&s.routes)),
        }
    }

    /// An authorizer and the version its cached answers are kept under.
    pub async fn authorizer(
        &self,
        svc: &GatewayService,
        api_id: &str,
        id: &str,
    ) -> Result<Option<(Cow<'_, AuthorizerRecord>, i64)>, GatewayError> {
        match self {
            Served::Live => {
                let found = svc.plane.authorizer(svc.store.as_ref(), api_id, id).await?;
                Ok(found.map(|a| (Cow::Owned(a.record.clone()), a.version)))
            }
            Served::Deployed(s) => Ok(s
                .authorizers
                .get(id)
                .map(|a| (Cow::Borrowed(a), s.generation))),
        }
    }

    /// An integration.
    pub async fn integration(
        &self,
        svc: &GatewayService,
        api_id: &str,
        id: &str,
    ) -> Result<Option<Cow<'_, IntegrationRecord>>, GatewayError> {
        match self {
            Served::Live => {
                let found = svc
                    .plane
                    .integration(svc.store.as_ref(), api_id, id)
                    .await?;
                Ok(found.map(|i| Cow::Owned((*i).clone())))
            }
            Served::Deployed(s) => Ok(s.integrations.get(id).map(Cow::Borrowed)),
        }
    }

    /// The model named `name` and the version its compiled schema is kept under. Live, the
    /// API's models are listed (only for a route that names one).
    pub async fn model(
        &self,
        svc: &GatewayService,
        api_id: &str,
        name: &str,
    ) -> Result<Option<(Cow<'_, ModelRecord>, i64)>, GatewayError> {
        match self {
            Served::Live => {
                let models = svc.plane.models(svc.store.as_ref(), api_id).await?;
                Ok(models
                    .iter()
                    .find(|m| m.record.name == name)
                    .map(|m| (Cow::Owned(m.record.clone()), m.version)))
            }
            Served::Deployed(s) => Ok(s.models.get(name).map(|m| (Cow::Borrowed(m), s.generation))),
        }
    }

    /// The CORS configuration.
    pub fn cors<'a>(&'a self, api: &'a ApiRecord) -> Option<&'a CorsConfig> {
        match self {
            Served::Live => api.cors.as_ref(),
            Served::Deployed(s) => s.cors.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressed(stage: &str, path: &str) -> Addressed {
        Addressed {
            api_id: "abc".into(),
            stage: stage.into(),
            path: path.into(),
            request_id: "r".into(),
            peer: None,
            https: false,
        }
    }

    #[test]
    fn paths_after_the_api() {
        assert_eq!(after_api(&addressed("", "/"), "/"), "/");
        assert_eq!(after_api(&addressed("items", "/"), "/items"), "/items");
        assert_eq!(after_api(&addressed("items", "/"), "/items/"), "/items/");
        assert_eq!(
            after_api(&addressed("prod", "/a/b"), "/prod/a/b"),
            "/prod/a/b"
        );
        assert_eq!(
            after_api(&addressed("prod", "/"), "/_api/abc/prod"),
            "/prod"
        );
    }
}
