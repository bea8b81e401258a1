//! Deployments: immutable snapshots of an API's configuration — its routes, integrations,
//! authorizers, models and CORS, everything the data plane reads per request — taken when the
//! deployment is made and stored with it (`apigateway/deployments`, `<apiId>/<deploymentId>`).
//!
//! A stage without `AutoDeploy` serves exactly its deployment's snapshot. A stage with it
//! serves the API's live configuration (as fast as before: no snapshot to read), and, as on
//! AWS, every change to the API is also deployed to it: [`follow`] adds to the change's own
//! commit a new deployment (`AutoDeployed`) and points every `AutoDeploy` stage at it, so
//! GetStage answers the `DeploymentId` and `LastDeploymentStatusMessage` a boto3 user sees on
//! AWS, and a stage whose `AutoDeploy` is turned off keeps serving what it served. The live
//! configuration and the stage's latest deployment are the same by construction: each child
//! write carries the API's guard ([`records::guard`]), so the snapshot is read at the version
//! the change is committed on. Superseded automatic deployments no stage points at are
//! deleted in that commit (AWS keeps them; here they would grow the store with every change).

use std::collections::{BTreeMap, BTreeSet};

use rampart_store::{Expect, Write};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cors::CorsConfig;
use crate::error::GatewayError;
use crate::records::{
    self, child_key, ns, ApiRecord, AuthorizerRecord, IntegrationRecord, ModelRecord, RouteRecord,
    StageRecord, Stored,
};
use crate::GatewayService;

/// What AWS writes as an automatic deployment's description.
pub const AUTO_DESCRIPTION: &str =
    "Automatic deployment triggered by changes to the Api configuration";

/// A deployment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub deployment_id: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Made by a change under an `AutoDeploy` stage, not by CreateDeployment.
    #[serde(default)]
    pub auto_deployed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_date: OffsetDateTime,
    pub snapshot: Snapshot,
}

/// The API's configuration as a deployment froze it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Stands for the authorizer records' store versions in the Lambda authorizers' answer
    /// cache: random and negative, so it never equals a live record's version (store
    /// versions are positive) nor another deployment's.
    pub generation: i64,
    pub routes: Vec<RouteRecord>,
    /// By integration id.
    #[serde(default)]
    pub integrations: BTreeMap<String, IntegrationRecord>,
    /// By authorizer id.
    #[serde(default)]
    pub authorizers: BTreeMap<String, AuthorizerRecord>,
    /// By name, as routes name them.
    #[serde(default)]
    pub models: BTreeMap<String, ModelRecord>,
    #[serde(default)]
    pub cors: Option<CorsConfig>,
}

impl Snapshot {
    /// The stored form.
    pub fn encode(record: &DeploymentRecord) -> Vec<u8> {
        serde_json::to_vec(record).expect("plain records serialise")
    }

    /// A stored deployment, read back.
    pub fn decode(bytes: &[u8]) -> Result<DeploymentRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

fn generation() -> i64 {
    let bits = u64::from_be_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or([1; 8]),
    );
    // In -2^62 ..= -1.
    -((bits >> 2) as i64) - 1
}

/// An API's configuration as a commit would leave it: what the store holds, with the
/// commit's pending writes applied ([`Configuration::overlay`]).
#[derive(Debug, Default)]
pub struct Configuration {
    routes: BTreeMap<String, RouteRecord>,
    integrations: BTreeMap<String, IntegrationRecord>,
    authorizers: BTreeMap<String, AuthorizerRecord>,
    models: BTreeMap<String, ModelRecord>,
    /// By key, with the version stored (`None`: written by the pending commit).
    stages: BTreeMap<String, (StageRecord, Option<i64>)>,
}

impl Configuration {
    /// The configuration of API `api_id` as stored.
    pub async fn read(svc: &GatewayService, api_id: &str) -> Result<Self, GatewayError> {
        let store = svc.store.as_ref();
        Ok(Configuration {
            routes: records::children(store, ns::ROUTES, api_id)
                .await?
                .into_iter()
                .collect(),
            integrations: records::children(store, ns::INTEGRATIONS, api_id)
                .await?
                .into_iter()
                .collect(),
            authorizers: records::children(store, ns::AUTHORIZERS, api_id)
                .await?
                .into_iter()
                .collect(),
            models: records::children(store, ns::MODELS, api_id)
                .await?
                .into_iter()
                .collect(),
            stages: records::children_stored::<StageRecord>(store, ns::STAGES, api_id)
                .await?
                .into_iter()
                .map(|(k, s)| (k, (s.record, Some(s.version))))
                .collect(),
        })
    }

    /// Applies the commit's pending `writes`; a put of the API itself replaces `api`.
    pub fn overlay(&mut self, writes: &[Write], api: &mut ApiRecord) -> Result<(), GatewayError> {
        fn apply<T: DeserializeOwned>(
            map: &mut BTreeMap<String, T>,
            key: &str,
            value: Option<&[u8]>,
        ) -> Result<(), GatewayError> {
            match value {
                Some(bytes) => {
                    let record = serde_json::from_slice(bytes).map_err(|_| {
                        GatewayError::Internal("A pending record does not decode.".into())
                    })?;
                    map.insert(key.to_owned(), record);
                }
                None => {
                    map.remove(key);
                }
            }
            Ok(())
        }
        for write in writes {
            let (ns, key) = write.target();
            let value = match write {
                Write::Put { value, .. } => Some(value.as_slice()),
                Write::Delete { .. } => None,
            };
            match ns {
                ns::ROUTES => apply(&mut self.routes, key, value)?,
                ns::INTEGRATIONS => apply(&mut self.integrations, key, value)?,
                ns::AUTHORIZERS => apply(&mut self.authorizers, key, value)?,
                ns::MODELS => apply(&mut self.models, key, value)?,
                ns::STAGES => {
                    let version = self.stages.get(key).and_then(|(_, v)| *v);
                    let mut staged = BTreeMap::new();
                    apply(&mut staged, key, value)?;
                    match staged.pop_first() {
                        Some((k, stage)) => {
                            self.stages.insert(k, (stage, version));
                        }
                        None => {
                            self.stages.remove(key);
                        }
                    }
                }
                ns::APIS => {
                    if let Some(bytes) = value {
                        *api = serde_json::from_slice(bytes).map_err(|_| {
                            GatewayError::Internal("A pending API record does not decode.".into())
                        })?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether the API has any route.
    pub fn has_routes(&self) -> bool {
        !self.routes.is_empty()
    }

    /// The snapshot a deployment made now would hold.
    pub fn snapshot(&self, api: &ApiRecord) -> Snapshot {
        Snapshot {
            generation: generation(),
            routes: self.routes.values().cloned().collect(),
            integrations: self
                .integrations
                .values()
                .map(|i| (i.integration_id.clone(), i.clone()))
                .collect(),
            authorizers: self
                .authorizers
                .values()
                .map(|a| (a.authorizer_id.clone(), a.clone()))
                .collect(),
            models: self
                .models
                .values()
                .map(|m| (m.name.clone(), m.clone()))
                .collect(),
            cors: api.cors.clone(),
        }
    }

    /// Deploys the configuration `writes` leave to every `AutoDeploy` stage, adding to
    /// `writes`: the new deployment, each such stage pointed at it, and the deletion of the
    /// automatic deployments in `superseded` no stage points at any more. Answers the new
    /// deployment's id (`None` when no stage follows).
    pub fn deploy_to_followers(
        mut self,
        mut api: ApiRecord,
        writes: &mut Vec<Write>,
        superseded: &[Stored<DeploymentRecord>],
    ) -> Result<Option<String>, GatewayError> {
        self.overlay(writes, &mut api)?;
        if !self.stages.values().any(|(s, _)| s.auto_deploy) {
            return Ok(None);
        }
        let deployment = DeploymentRecord {
            deployment_id: crate::ids::child_id(),
            description: Some(AUTO_DESCRIPTION.into()),
            auto_deployed: true,
            created_date: OffsetDateTime::now_utc(),
            snapshot: self.snapshot(&api),
        };
        let id = deployment.deployment_id.clone();
        for (key, (stage, version)) in &mut self.stages {
            if !stage.auto_deploy {
                continue;
            }
            stage.deployment_id = Some(id.clone());
            let value = serde_json::to_vec(&*stage).expect("plain records serialise");
            // The commit's own write of this stage, if it has one, carries the pointer.
            let pending = writes.iter_mut().find_map(|w| match w {
                Write::Put {
                    ns: n,
                    key: k,
                    value,
                    ..
                } if n == ns::STAGES && k == key => Some(value),
                _ => None,
            });
            match (pending, version) {
                (Some(pending), _) => *pending = value,
                (None, Some(version)) => writes.push(Write::Put {
                    ns: ns::STAGES.into(),
                    key: key.clone(),
                    value,
                    expect: Expect::Version(*version),
                }),
                (None, None) => {}
            }
        }
        let in_use: BTreeSet<&str> = self
            .stages
            .values()
            .filter_map(|(s, _)| s.deployment_id.as_deref())
            .collect();
        for old in superseded {
            if old.record.auto_deployed && !in_use.contains(old.record.deployment_id.as_str()) {
                writes.push(records::delete(
                    ns::DEPLOYMENTS,
                    child_key(&api.api_id, &old.record.deployment_id),
                    Expect::Version(old.version),
                ));
            }
        }
        writes.push(Write::Put {
            ns: ns::DEPLOYMENTS.into(),
            key: child_key(&api.api_id, &id),
            value: Snapshot::encode(&deployment),
            expect: Expect::Absent,
        });
        Ok(Some(id))
    }
}

/// Adds to a change of API `api`'s configuration (`writes`, which carry its guard) the
/// automatic deployment its `AutoDeploy` stages follow; see the module's comment.
pub async fn follow(
    svc: &GatewayService,
    api: &ApiRecord,
    mut writes: Vec<Write>,
) -> Result<Vec<Write>, GatewayError> {
    let config = Configuration::read(svc, &api.api_id).await?;
    if !config.stages.values().any(|(s, _)| s.auto_deploy)
        && !writes.iter().any(|w| w.target().0 == ns::STAGES)
    {
        return Ok(writes);
    }
    // Whatever the stages point at now may be superseded (a stage turned to AutoDeploy by
    // this very commit included); only automatic deployments no stage keeps are deleted.
    let followed: BTreeSet<&str> = config
        .stages
        .values()
        .filter_map(|(s, _)| s.deployment_id.as_deref())
        .collect();
    let mut superseded = Vec::new();
    for id in followed {
        if let Some(old) = load(svc, &api.api_id, id).await? {
            superseded.push(old);
        }
    }
    config.deploy_to_followers(api.clone(), &mut writes, &superseded)?;
    Ok(writes)
}

/// A deployment of API `api_id`.
pub async fn load(
    svc: &GatewayService,
    api_id: &str,
    deployment_id: &str,
) -> Result<Option<Stored<DeploymentRecord>>, GatewayError> {
    records::load(
        svc.store.as_ref(),
        ns::DEPLOYMENTS,
        &child_key(api_id, deployment_id),
    )
    .await
}

#[cfg(test)]
#[path = "deployments/tests.rs"]
mod tests;
