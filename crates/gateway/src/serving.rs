//! What a stage serves: the stage a data-plane request is addressed to, and the configuration
//! it answers with — the API's live routes, integrations, authorizers and models for an `AutoDeploy`
//! stage (read as the request needs them, as before deployments existed), or the snapshot of
//! the stage's deployment, read once with one store read ([`crate::deployments`]).

use std::borrow::Cow;

use crate::cors::CorsConfig;
use crate::data_plane::Addressed;
use crate::deployments::{self, Snapshot};
use crate::error::GatewayError;
use crate::records::{
    self, child_key, ns, ApiRecord, AuthorizerRecord, IntegrationRecord, ModelRecord, RouteRecord,
    StageRecord, Stored,
};
use crate::GatewayService;

/// The configuration a stage answers with.
pub enum Served {
    /// The API's current configuration (`AutoDeploy`).
    Live,
    /// The stage's deployment.
    Deployed(Box<Snapshot>),
}

/// The stage a request is for: its record, the path within it, the path after the API, and
/// what it serves.
pub struct StageFor {
    pub stage: StageRecord,
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
/// Found) without such a stage, or for a stage nothing was deployed to.
pub async fn stage_for(
    svc: &GatewayService,
    api_id: &str,
    addressed: &Addressed,
    uri_path: &str,
) -> Result<Option<StageFor>, GatewayError> {
    let full = after_api(addressed, uri_path);
    let mut found = None;
    if !addressed.stage.is_empty() && addressed.stage != "$default" {
        let named: Option<Stored<StageRecord>> = records::load(
            svc.store.as_ref(),
            ns::STAGES,
            &child_key(api_id, &addressed.stage),
        )
        .await?;
        if let Some(stage) = named {
            let within = match addressed.path.as_str() {
                "" => "/".to_owned(),
                p => p.to_owned(),
            };
            found = Some((stage.record, within));
        }
    }
    if found.is_none() {
        let default: Option<Stored<StageRecord>> = records::load(
            svc.store.as_ref(),
            ns::STAGES,
            &child_key(api_id, "$default"),
        )
        .await?;
        found = default.map(|s| (s.record, full.clone()));
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
        match deployments::load(svc, api_id, id).await? {
            Some(d) => Served::Deployed(Box::new(d.record.snapshot)),
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

impl Served {
    /// The routes.
    pub async fn routes(
        &self,
        svc: &GatewayService,
        api_id: &str,
    ) -> Result<Cow<'_, [RouteRecord]>, GatewayError> {
        match self {
            Served::Live => Ok(Cow::Owned(
                records::children::<RouteRecord>(svc.store.as_ref(), ns::ROUTES, api_id)
                    .await?
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect(),
            )),
            Served::Deployed(s) => Ok(Cow::Borrowed(&s.routes)),
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
                let found: Option<Stored<AuthorizerRecord>> =
                    records::load(svc.store.as_ref(), ns::AUTHORIZERS, &child_key(api_id, id))
                        .await?;
                Ok(found.map(|a| (Cow::Owned(a.record), a.version)))
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
                let found: Option<Stored<IntegrationRecord>> =
                    records::load(svc.store.as_ref(), ns::INTEGRATIONS, &child_key(api_id, id))
                        .await?;
                Ok(found.map(|i| Cow::Owned(i.record)))
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
                let models =
                    records::children_stored::<ModelRecord>(svc.store.as_ref(), ns::MODELS, api_id)
                        .await?;
                Ok(models
                    .into_iter()
                    .find(|(_, m)| m.record.name == name)
                    .map(|(_, m)| (Cow::Owned(m.record), m.version)))
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
