//! Deployments: CreateDeployment (a snapshot of the API's configuration, optionally pointing
//! a stage at it), GetDeployment, GetDeployments, UpdateDeployment (its description),
//! DeleteDeployment (refused while a stage points at it, as AWS refuses it). The snapshot and
//! the automatic deployments of `AutoDeploy` stages are [`crate::deployments`]'.

use rampart_store::{request_audit, Expect};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire;
use super::{child_id, Call, GatewayOperation, ListRequest, NamedApi};
use crate::deployments::{self, Configuration, DeploymentRecord};
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, StageRecord, Stored};
use crate::GatewayService;

/// `Deployment` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentShape<'a> {
    auto_deployed: bool,
    created_date: String,
    deployment_id: &'a str,
    /// Snapshots are taken in the request that makes them: a deployment is deployed.
    deployment_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

fn shape(d: &DeploymentRecord) -> DeploymentShape<'_> {
    DeploymentShape {
        auto_deployed: d.auto_deployed,
        created_date: wire::date(d.created_date),
        deployment_id: &d.deployment_id,
        deployment_status: "DEPLOYED",
        description: d.description.as_deref(),
    }
}

/// The members CreateDeployment and UpdateDeployment take.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentBody {
    description: Option<String>,
    stage_name: Option<String>,
}

impl DeploymentBody {
    fn check(&self) -> Result<(), GatewayError> {
        if let Some(d) = &self.description {
            wire::check_length(d, "description", 0, 1024)?;
        }
        if let Some(s) = &self.stage_name {
            wire::check_length(s, "stageName", 1, 128)?;
        }
        Ok(())
    }
}

/// A deployment of the API authorization read, or Not Found.
async fn load(
    svc: &GatewayService,
    api_id: &str,
    id: &str,
) -> Result<Stored<DeploymentRecord>, GatewayError> {
    deployments::load(svc, api_id, id)
        .await?
        .ok_or_else(|| GatewayError::not_found("Deployment", id))
}

pub(crate) struct CreateDeployment {
    named: NamedApi,
    description: Option<String>,
    stage_name: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateDeployment {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: DeploymentBody = wire::decode(&input.body)?;
        body.check()?;
        Ok(CreateDeployment {
            named: NamedApi::decode(input)?,
            description: body.description,
            stage_name: body.stage_name,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/deployments`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/deployments").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        // Read at the version the guard commits on: the snapshot is the configuration as
        // authorized, or the commit fails.
        let config = Configuration::read(svc, api_id).await?;
        if !config.has_routes() {
            return Err(GatewayError::BadRequest(
                "Unable to deploy API because no routes exist in this API".into(),
            ));
        }
        let deployment = DeploymentRecord {
            deployment_id: crate::ids::child_id(),
            description: self.description,
            auto_deployed: false,
            created_date: OffsetDateTime::now_utc(),
            snapshot: config.snapshot(&api.record),
        };
        let mut writes = vec![
            records::guard(api),
            records::put(
                ns::DEPLOYMENTS,
                child_key(api_id, &deployment.deployment_id),
                &deployment,
                Expect::Absent,
            ),
        ];
        if let Some(name) = &self.stage_name {
            let stored: Stored<StageRecord> =
                records::load(svc.store.as_ref(), ns::STAGES, &child_key(api_id, name))
                    .await?
                    .ok_or_else(|| GatewayError::not_found("Stage", name))?;
            if stored.record.auto_deploy {
                return Err(GatewayError::BadRequest(format!(
                    "Stage {name} has autoDeploy enabled: its deployments are made automatically."
                )));
            }
            let mut stage = stored.record;
            stage.deployment_id = Some(deployment.deployment_id.clone());
            stage.last_updated_date = deployment.created_date;
            writes.push(records::put(
                ns::STAGES,
                child_key(api_id, name),
                &stage,
                Expect::Version(stored.version),
            ));
        }
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(201, &shape(&deployment))
    }
}

pub(crate) struct GetDeployment {
    named: NamedApi,
    deployment_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for GetDeployment {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetDeployment {
            named: NamedApi::decode(input)?,
            deployment_id: child_id(input, "deploymentId", "Deployment")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/deployments/{}", self.deployment_id);
        self.named.check(svc, "GET", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let d = load(svc, &api.record.api_id, &self.deployment_id).await?;
        wire::reply(200, &shape(&d.record))
    }
}

pub(crate) struct GetDeployments(ListRequest);

#[async_trait::async_trait]
impl GatewayOperation for GetDeployments {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetDeployments(ListRequest::decode(input)?))
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.0.named.check(svc, "GET", "/deployments").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.0.named.found()?;
        let all = records::children::<DeploymentRecord>(
            svc.store.as_ref(),
            ns::DEPLOYMENTS,
            &api.record.api_id,
        )
        .await?;
        let (items, next_token) = self.0.page(all)?;
        super::list_reply(items.iter().map(shape).collect(), next_token)
    }
}

pub(crate) struct UpdateDeployment {
    named: NamedApi,
    deployment_id: String,
    description: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateDeployment {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let mut body: DeploymentBody = wire::decode(&input.body)?;
        // UpdateDeployment takes no stage.
        body.stage_name = None;
        body.check()?;
        Ok(UpdateDeployment {
            named: NamedApi::decode(input)?,
            deployment_id: child_id(input, "deploymentId", "Deployment")?,
            description: body.description,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/deployments/{}", self.deployment_id);
        self.named.check(svc, "PATCH", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load(svc, api_id, &self.deployment_id).await?;
        let mut deployment = stored.record;
        if let Some(d) = self.description {
            deployment.description = Some(d);
        }
        let writes = vec![
            records::guard(api),
            records::put(
                ns::DEPLOYMENTS,
                child_key(api_id, &self.deployment_id),
                &deployment,
                Expect::Version(stored.version),
            ),
        ];
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(&deployment))
    }
}

pub(crate) struct DeleteDeployment {
    named: NamedApi,
    deployment_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteDeployment {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteDeployment {
            named: NamedApi::decode(input)?,
            deployment_id: child_id(input, "deploymentId", "Deployment")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/deployments/{}", self.deployment_id);
        self.named.check(svc, "DELETE", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load(svc, api_id, &self.deployment_id).await?;
        // The guard makes a stage pointed at it meanwhile fail this commit.
        let stages =
            records::children::<StageRecord>(svc.store.as_ref(), ns::STAGES, api_id).await?;
        if stages
            .iter()
            .any(|(_, s)| s.deployment_id.as_deref() == Some(self.deployment_id.as_str()))
        {
            return Err(GatewayError::BadRequest(
                "Active stages pointing to this deployment must be moved or deleted".into(),
            ));
        }
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::DEPLOYMENTS,
                child_key(api_id, &self.deployment_id),
                Expect::Version(stored.version),
            ),
        ];
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}
