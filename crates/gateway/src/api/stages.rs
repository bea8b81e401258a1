//! Stages: CreateStage, GetStages, GetStage, UpdateStage, DeleteStage. A stage with
//! `AutoDeploy` serves the API's current configuration and follows every change with an
//! automatic deployment ([`crate::deployments`]); a stage without it serves the deployment
//! its `DeploymentId` names (set here or by CreateDeployment's `StageName`), and answers Not
//! Found while it has none. Throttling settings are enforced by the data plane
//! ([`crate::throttle`]); logging settings are stored and answered only.

use std::collections::BTreeMap;

use rampart_store::{request_audit, Expect, StoreError, Write};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire;
use super::{path_param, Call, GatewayOperation, NamedApi};
use crate::deployments;
use crate::error::GatewayError;
use crate::records::{self, child_key, ns, RouteSettings, StageRecord};
use crate::route_key::RouteKey;
use crate::GatewayService;

/// `RouteSettings` as botocore parses it.
#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct RouteSettingsShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_trace_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detailed_metrics_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logging_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    throttling_burst_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    throttling_rate_limit: Option<f64>,
}

impl RouteSettingsShape {
    fn validate(&self) -> Result<RouteSettings, GatewayError> {
        if self.throttling_burst_limit.is_some_and(|b| b < 0)
            || self
                .throttling_rate_limit
                .is_some_and(|r| !r.is_finite() || r < 0.0)
        {
            return Err(GatewayError::BadRequest(
                "Invalid input: throttling limits may not be negative.".into(),
            ));
        }
        if let Some(level) = &self.logging_level {
            if !["ERROR", "INFO", "OFF"].contains(&level.as_str()) {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid logging level: {level}"
                )));
            }
        }
        Ok(RouteSettings {
            data_trace_enabled: self.data_trace_enabled,
            detailed_metrics_enabled: self.detailed_metrics_enabled,
            logging_level: self.logging_level.clone(),
            throttling_burst_limit: self.throttling_burst_limit,
            throttling_rate_limit: self.throttling_rate_limit,
        })
    }

    fn of(s: &RouteSettings) -> Self {
        RouteSettingsShape {
            data_trace_enabled: s.data_trace_enabled,
            detailed_metrics_enabled: Some(s.detailed_metrics_enabled.unwrap_or(false)),
            logging_level: s.logging_level.clone(),
            throttling_burst_limit: s.throttling_burst_limit,
            throttling_rate_limit: s.throttling_rate_limit,
        }
    }
}

/// `Stage` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StageShape<'a> {
    auto_deploy: bool,
    created_date: String,
    default_route_settings: RouteSettingsShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// AWS answers it for `AutoDeploy` stages only.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_deployment_status_message: Option<String>,
    last_updated_date: String,
    route_settings: BTreeMap<&'a str, RouteSettingsShape>,
    stage_name: &'a str,
    stage_variables: &'a BTreeMap<String, String>,
    tags: &'a BTreeMap<String, String>,
}

fn shape(s: &StageRecord) -> StageShape<'_> {
    StageShape {
        auto_deploy: s.auto_deploy,
        created_date: wire::date(s.created_date),
        default_route_settings: RouteSettingsShape::of(&s.default_route_settings),
        deployment_id: s.deployment_id.as_deref(),
        description: s.description.as_deref(),
        last_deployment_status_message: s
            .deployment_id
            .as_ref()
            .filter(|_| s.auto_deploy)
            .map(|id| format!("Successfully deployed stage with deployment ID '{id}'")),
        last_updated_date: wire::date(s.last_updated_date),
        route_settings: s
            .route_settings
            .iter()
            .map(|(k, v)| (k.as_str(), RouteSettingsShape::of(v)))
            .collect(),
        stage_name: &s.stage_name,
        stage_variables: &s.stage_variables,
        tags: &s.tags,
    }
}

/// `$default`, or 1–128 letters, digits, `-` and `_`.
fn check_stage_name(name: &str) -> Result<(), GatewayError> {
    let valid = name == "$default"
        || ((1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if !valid {
        return Err(GatewayError::BadRequest(format!(
            "Stage name only allows a-zA-Z0-9_- (or is $default): {name}"
        )));
    }
    Ok(())
}

/// The members CreateStage and UpdateStage take.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageBody {
    stage_name: Option<String>,
    auto_deploy: Option<bool>,
    description: Option<String>,
    default_route_settings: Option<RouteSettingsShape>,
    route_settings: Option<BTreeMap<String, RouteSettingsShape>>,
    stage_variables: Option<BTreeMap<String, String>>,
    tags: Option<BTreeMap<String, String>>,
    deployment_id: Option<String>,
    access_log_settings: Option<serde_json::Value>,
    client_certificate_id: Option<String>,
}

/// What a stage request sets, checked.
struct StageMembers {
    auto_deploy: Option<bool>,
    deployment_id: Option<String>,
    description: Option<String>,
    default_route_settings: Option<RouteSettings>,
    route_settings: Option<BTreeMap<String, RouteSettings>>,
    stage_variables: Option<BTreeMap<String, String>>,
}

impl StageMembers {
    fn check(b: StageBody) -> Result<Self, GatewayError> {
        if b.access_log_settings.is_some() || b.client_certificate_id.is_some() {
            return Err(GatewayError::BadRequest(
                "AccessLogSettings and ClientCertificateId are not supported by this Rampart host yet."
                    .into(),
            ));
        }
        if let Some(d) = &b.description {
            wire::check_length(d, "description", 0, 1024)?;
        }
        if let Some(vars) = &b.stage_variables {
            for (k, v) in vars {
                let name_ok = (1..=64).contains(&k.len())
                    && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
                if !name_ok || v.chars().count() > 2048 {
                    return Err(GatewayError::BadRequest(format!(
                        "Invalid stage variable: {k}. Names are 1-64 letters, digits and _; values at most 2048 characters."
                    )));
                }
            }
        }
        let route_settings = match b.route_settings {
            Some(map) => {
                let mut out = BTreeMap::new();
                for (key, settings) in map {
                    if RouteKey::parse(&key).is_none() {
                        return Err(GatewayError::BadRequest(format!(
                            "Invalid route key in routeSettings: {key}"
                        )));
                    }
                    out.insert(key, settings.validate()?);
                }
                Some(out)
            }
            None => None,
        };
        Ok(StageMembers {
            auto_deploy: b.auto_deploy,
            deployment_id: b.deployment_id,
            description: b.description,
            default_route_settings: b.default_route_settings.map(|d| d.validate()).transpose()?,
            route_settings,
            stage_variables: b.stage_variables,
        })
    }

    /// Sets on `stage` what these members name.
    fn apply(self, stage: &mut StageRecord) {
        if let Some(v) = self.auto_deploy {
            stage.auto_deploy = v;
        }
        if let Some(v) = self.deployment_id {
            stage.deployment_id = Some(v);
        }
        if let Some(v) = self.description {
            stage.description = Some(v);
        }
        if let Some(v) = self.default_route_settings {
            stage.default_route_settings = v;
        }
        if let Some(v) = self.route_settings {
            stage.route_settings = v;
        }
        if let Some(v) = self.stage_variables {
            stage.stage_variables = v;
        }
    }
}

pub(crate) struct CreateStage {
    named: NamedApi,
    stage: StageRecord,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateStage {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let mut b: StageBody = wire::decode(&input.body)?;
        let stage_name = b.stage_name.take().ok_or_else(|| {
            GatewayError::BadRequest("Invalid input: stageName is required.".into())
        })?;
        check_stage_name(&stage_name)?;
        let tags = b.tags.take().unwrap_or_default();
        wire::check_tags(&tags)?;
        let now = OffsetDateTime::now_utc();
        let mut stage = StageRecord {
            stage_name,
            auto_deploy: false,
            deployment_id: None,
            description: None,
            default_route_settings: RouteSettings::default(),
            route_settings: BTreeMap::new(),
            stage_variables: BTreeMap::new(),
            tags,
            created_date: now,
            last_updated_date: now,
        };
        StageMembers::check(b)?.apply(&mut stage);
        Ok(CreateStage {
            named: NamedApi::decode(input)?,
            stage,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/stages`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/stages").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        super::check_quota(svc, ns::STAGES, &api.record.api_id, 10, "stages").await?;
        check_deployment(svc, &api.record.api_id, &self.stage).await?;
        let mut writes = vec![
            records::guard(api),
            records::put(
                ns::STAGES,
                child_key(&api.record.api_id, &self.stage.stage_name),
                &self.stage,
                Expect::Absent,
            ),
        ];
        let mut stage = self.stage;
        if stage.auto_deploy {
            writes = deployments::follow(svc, &api.record, writes).await?;
            stage.deployment_id = deployed_to(&writes, &api.record.api_id, &stage)?;
        }
        match request_audit::commit(svc.store.as_ref(), writes).await {
            Ok(_) => wire::reply(201, &shape(&stage)),
            Err(StoreError::Conflict { ns: conflict, .. }) if conflict == ns::STAGES => Err(
                GatewayError::Conflict(format!("Stage already exists: {}", stage.stage_name)),
            ),
            Err(e) => Err(e.into()),
        }
    }
}

/// A `DeploymentId` a stage request names: a deployment of the same API (Not Found
/// otherwise), for a stage without `AutoDeploy` (whose deployments are made for it).
async fn check_deployment(
    svc: &GatewayService,
    api_id: &str,
    stage: &StageRecord,
) -> Result<(), GatewayError> {
    let Some(id) = &stage.deployment_id else {
        return Ok(());
    };
    if stage.auto_deploy {
        return Err(GatewayError::BadRequest(
            "A deploymentId cannot be set on a stage with autoDeploy enabled.".into(),
        ));
    }
    if !crate::ids::is_child_id(id) || deployments::load(svc, api_id, id).await?.is_none() {
        return Err(GatewayError::not_found("Deployment", id));
    }
    Ok(())
}

/// The deployment `writes` point `stage` at (what the stage's pending write now holds).
fn deployed_to(
    writes: &[Write],
    api_id: &str,
    stage: &StageRecord,
) -> Result<Option<String>, GatewayError> {
    let wanted = child_key(api_id, &stage.stage_name);
    for write in writes {
        if let Write::Put {
            ns: n, key, value, ..
        } = write
        {
            if n == ns::STAGES && *key == wanted {
                let written: StageRecord = serde_json::from_slice(value).map_err(|_| {
                    GatewayError::Internal("A pending stage record does not decode.".into())
                })?;
                return Ok(written.deployment_id);
            }
        }
    }
    Ok(stage.deployment_id.clone())
}

/// The `{stageName}` of the path.
fn stage_name(input: &RestInput) -> Result<String, GatewayError> {
    let name = path_param(input, "stageName")?;
    check_stage_name(name).map_err(|_| GatewayError::not_found("Stage", name))?;
    Ok(name.to_owned())
}

async fn load_stage(
    svc: &GatewayService,
    api_id: &str,
    name: &str,
) -> Result<records::Stored<StageRecord>, GatewayError> {
    records::load(svc.store.as_ref(), ns::STAGES, &child_key(api_id, name))
        .await?
        .ok_or_else(|| GatewayError::not_found("Stage", name))
}

pub(crate) struct GetStage {
    named: NamedApi,
    stage_name: String,
}

#[async_trait::async_trait]
impl GatewayOperation for GetStage {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetStage {
            named: NamedApi::decode(input)?,
            stage_name: stage_name(input)?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/stages/{}", self.stage_name);
        self.named.check(svc, "GET", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let s = load_stage(svc, &api.record.api_id, &self.stage_name).await?;
        wire::reply(200, &shape(&s.record))
    }
}

pub(crate) struct GetStages {
    named: NamedApi,
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetStagesReply<'a> {
    items: Vec<StageShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for GetStages {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetStages {
            named: NamedApi::decode(input)?,
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "GET", "/stages").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let all =
            records::children::<StageRecord>(svc.store.as_ref(), ns::STAGES, &api.record.api_id)
                .await?;
        let (items, next_token) =
            wire::page(all, self.max_results.as_deref(), self.next_token.as_deref())?;
        wire::reply(
            200,
            &GetStagesReply {
                items: items.iter().map(shape).collect(),
                next_token,
            },
        )
    }
}

pub(crate) struct DeleteStage {
    named: NamedApi,
    stage_name: String,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteStage {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteStage {
            named: NamedApi::decode(input)?,
            stage_name: stage_name(input)?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/stages/{}", self.stage_name);
        self.named.check(svc, "DELETE", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_stage(svc, api_id, &self.stage_name).await?;
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::STAGES,
                child_key(api_id, &self.stage_name),
                Expect::Version(stored.version),
            ),
        ];
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}

pub(crate) struct UpdateStage {
    named: NamedApi,
    stage_name: String,
    members: StageMembers,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateStage {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let mut body: StageBody = wire::decode(&input.body)?;
        // The stage is the path's; tags change through the tagging operations.
        body.stage_name = None;
        if body.tags.is_some() {
            return Err(GatewayError::BadRequest(
                "Tags are not changed by UpdateStage.".into(),
            ));
        }
        Ok(UpdateStage {
            named: NamedApi::decode(input)?,
            stage_name: stage_name(input)?,
            members: StageMembers::check(body)?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/stages/{}", self.stage_name);
        self.named.check(svc, "PATCH", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_stage(svc, api_id, &self.stage_name).await?;
        let mut stage = stored.record.clone();
        let named_deployment = self.members.deployment_id.is_some();
        self.members.apply(&mut stage);
        if named_deployment {
            check_deployment(svc, api_id, &stage).await?;
        }
        stage.last_updated_date = OffsetDateTime::now_utc();
        let mut writes = vec![
            records::guard(api),
            records::put(
                ns::STAGES,
                child_key(api_id, &self.stage_name),
                &stage,
                Expect::Version(stored.version),
            ),
        ];
        if stage.auto_deploy && !stored.record.auto_deploy {
            // Turning AutoDeploy on deploys the current configuration to the stage.
            writes = deployments::follow(svc, &api.record, writes).await?;
            stage.deployment_id = deployed_to(&writes, api_id, &stage)?;
        }
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(&stage))
    }
}
