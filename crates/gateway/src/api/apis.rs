//! APIs themselves: CreateApi, GetApis, GetApi, UpdateApi, DeleteApi, and the API's CORS
//! configuration (set by CreateApi/UpdateApi, removed by DeleteCorsConfiguration). Only HTTP
//! APIs. Quick create (`Target`, `RouteKey`) on CreateApi is in `quick_create`; UpdateApi does
//! not take those members, and `CredentialsArn` (invoking under a role) is refused rather than
//! stored and ignored.

use std::collections::BTreeMap;

use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire::{self, check_length, check_tags};
use super::{Call, GatewayOperation, NamedApi};
use crate::cors::CorsConfig;
use crate::deployments::{self, Configuration};
use crate::error::GatewayError;
use crate::records::{self, ns, ApiRecord};
use crate::GatewayService;

/// The only route selection expression an HTTP API has.
const ROUTE_SELECTION: &str = "$request.method $request.path";
const API_KEY_SELECTION: &str = "$request.header.x-api-key";

/// `Api` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiShape<'a> {
    api_endpoint: String,
    api_id: &'a str,
    api_key_selection_expression: &'a str,
    created_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    disable_execute_api_endpoint: bool,
    ip_address_type: &'a str,
    name: &'a str,
    protocol_type: &'static str,
    route_selection_expression: &'a str,
    tags: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cors_configuration: Option<CorsWire>,
}

/// `Cors` as botocore parses and sends it.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CorsWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<i64>,
}

impl CorsWire {
    fn of(c: &CorsConfig) -> Self {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        CorsWire {
            allow_credentials: Some(c.allow_credentials),
            allow_headers: list(&c.allow_headers),
            allow_methods: list(&c.allow_methods),
            allow_origins: list(&c.allow_origins),
            expose_headers: list(&c.expose_headers),
            max_age: c.max_age,
        }
    }

    fn into_config(self) -> Result<CorsConfig, GatewayError> {
        let config = CorsConfig {
            allow_origins: self.allow_origins.unwrap_or_default(),
            allow_methods: self.allow_methods.unwrap_or_default(),
            allow_headers: self.allow_headers.unwrap_or_default(),
            expose_headers: self.expose_headers.unwrap_or_default(),
            max_age: self.max_age,
            allow_credentials: self.allow_credentials.unwrap_or(false),
        };
        config.validate().map_err(GatewayError::BadRequest)?;
        Ok(config)
    }
}

fn shape<'a>(svc: &GatewayService, api: &'a ApiRecord) -> ApiShape<'a> {
    ApiShape {
        api_endpoint: svc.api_endpoint(&api.api_id),
        api_id: &api.api_id,
        api_key_selection_expression: &api.api_key_selection_expression,
        created_date: wire::date(api.created_date),
        description: api.description.as_deref(),
        disable_execute_api_endpoint: api.disable_execute_api_endpoint,
        ip_address_type: &api.ip_address_type,
        name: &api.name,
        protocol_type: "HTTP",
        route_selection_expression: &api.route_selection_expression,
        tags: &api.tags,
        version: api.version.as_deref(),
        cors_configuration: api.cors.as_ref().map(CorsWire::of),
    }
}

/// The members CreateApi and UpdateApi share.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ApiMembers {
    name: Option<String>,
    description: Option<String>,
    version: Option<String>,
    route_selection_expression: Option<String>,
    api_key_selection_expression: Option<String>,
    disable_execute_api_endpoint: Option<bool>,
    ip_address_type: Option<String>,
    target: Option<String>,
    route_key: Option<String>,
    credentials_arn: Option<String>,
    cors_configuration: Option<CorsWire>,
}

impl ApiMembers {
    fn validate(&self, quick_create: bool) -> Result<(), GatewayError> {
        if let Some(name) = &self.name {
            check_length(name, "name", 1, 128)?;
        }
        if let Some(d) = &self.description {
            check_length(d, "description", 0, 1024)?;
        }
        if let Some(v) = &self.version {
            check_length(v, "version", 1, 64)?;
        }
        if let Some(r) = &self.route_selection_expression {
            if r != ROUTE_SELECTION {
                return Err(GatewayError::BadRequest(format!(
                    "Unsupported route selection expression for HTTP protocol: {r}. Use {ROUTE_SELECTION}."
                )));
            }
        }
        if let Some(k) = &self.api_key_selection_expression {
            if k != API_KEY_SELECTION && k != "$context.authorizer.usageIdentifierKey" {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid API key selection expression: {k}"
                )));
            }
        }
        if let Some(ip) = &self.ip_address_type {
            if ip != "ipv4" && ip != "dualstack" {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid IP address type: {ip}"
                )));
            }
        }
        if self.credentials_arn.is_some() {
            return Err(GatewayError::BadRequest(
                "CredentialsArn is not supported by this Rampart host yet.".into(),
            ));
        }
        if !quick_create && (self.target.is_some() || self.route_key.is_some()) {
            return Err(GatewayError::BadRequest(
                "Target and RouteKey are taken only when an API is created (quick create).".into(),
            ));
        }
        if self.route_key.is_some() && self.target.is_none() {
            return Err(GatewayError::BadRequest(
                "A RouteKey is taken only with a Target (quick create).".into(),
            ));
        }
        super::quick_create::check_route_key(self.route_key.as_deref())?;
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateApiBody {
    protocol_type: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    members: ApiMembers,
}

pub(crate) struct CreateApi {
    members: ApiMembers,
    cors: Option<CorsConfig>,
    tags: BTreeMap<String, String>,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateApi {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let body: CreateApiBody = wire::decode(&input.body)?;
        match body.protocol_type.as_deref() {
            Some("HTTP") => {}
            Some("WEBSOCKET") => {
                return Err(GatewayError::BadRequest(
                    "WebSocket APIs are not supported by this Rampart host.".into(),
                ))
            }
            Some(other) => {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid protocol type: {other}"
                )))
            }
            None => {
                return Err(GatewayError::BadRequest(
                    "Invalid input: protocolType is required.".into(),
                ))
            }
        }
        if body.members.name.is_none() {
            return Err(GatewayError::BadRequest(
                "Invalid input: name is required.".into(),
            ));
        }
        let mut members = body.members;
        members.validate(true)?;
        let cors = members
            .cors_configuration
            .take()
            .map(CorsWire::into_config)
            .transpose()?;
        let tags = body.tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(CreateApi {
            members,
            cors,
            tags,
        })
    }

    /// `apigateway:POST` on `/apis`, with the request's tags.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let mut check = Check::on("apigateway:POST", svc.arn("/apis"));
        for (k, v) in &self.tags {
            check.push_key(format!("aws:RequestTag/{k}"), v);
            check.push_key("aws:TagKeys", k);
        }
        Ok(vec![check])
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let m = self.members;
        for _ in 0..3 {
            let api = ApiRecord {
                api_id: crate::ids::api_id(),
                name: m.name.clone().unwrap_or_default(),
                description: m.description.clone(),
                version: m.version.clone(),
                route_selection_expression: ROUTE_SELECTION.into(),
                api_key_selection_expression: m
                    .api_key_selection_expression
                    .clone()
                    .unwrap_or_else(|| API_KEY_SELECTION.into()),
                disable_execute_api_endpoint: m.disable_execute_api_endpoint.unwrap_or(false),
                ip_address_type: m.ip_address_type.clone().unwrap_or_else(|| "ipv4".into()),
                tags: self.tags.clone(),
                created_date: OffsetDateTime::now_utc(),
                cors: self.cors.clone(),
            };
            let mut writes = vec![records::put(
                ns::APIS,
                api.api_id.clone(),
                &api,
                Expect::Absent,
            )];
            if let Some(target) = &m.target {
                writes.extend(super::quick_create::writes(
                    svc,
                    &api.api_id,
                    target,
                    m.route_key.as_deref(),
                )?);
                // The `$default` stage's first deployment (an empty store to start from).
                Configuration::default().deploy_to_followers(api.clone(), &mut writes, &[])?;
            }
            match request_audit::commit(svc.store.as_ref(), writes).await {
                Ok(_) => return wire::reply(201, &shape(svc, &api)),
                // An id drawn twice: draw another.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(GatewayError::Internal("No free API id was found.".into()))
    }
}

pub(crate) struct GetApi {
    named: NamedApi,
}

#[async_trait::async_trait]
impl GatewayOperation for GetApi {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetApi {
            named: NamedApi::decode(input)?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "GET", "").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        wire::reply(200, &shape(svc, &self.named.found()?.record))
    }
}

pub(crate) struct GetApis {
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetApisReply<'a> {
    items: Vec<ApiShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for GetApis {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetApis {
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    /// `apigateway:GET` on `/apis`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        Ok(vec![Check::on("apigateway:GET", svc.arn("/apis"))])
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let apis = records::all::<ApiRecord>(svc.store.as_ref(), ns::APIS).await?;
        let (items, next_token) = wire::page(
            apis,
            self.max_results.as_deref(),
            self.next_token.as_deref(),
        )?;
        wire::reply(
            200,
            &GetApisReply {
                items: items.iter().map(|a| shape(svc, a)).collect(),
                next_token,
            },
        )
    }
}

pub(crate) struct UpdateApi {
    named: NamedApi,
    members: ApiMembers,
    cors: Option<CorsConfig>,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateApi {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let mut members: ApiMembers = wire::decode(&input.body)?;
        members.validate(false)?;
        let cors = members
            .cors_configuration
            .take()
            .map(CorsWire::into_config)
            .transpose()?;
        Ok(UpdateApi {
            named: NamedApi::decode(input)?,
            members,
            cors,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "PATCH", "").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let stored = self.named.found()?;
        let m = self.members;
        let mut api = stored.record.clone();
        if let Some(v) = m.name {
            api.name = v;
        }
        if let Some(v) = m.description {
            api.description = Some(v);
        }
        if let Some(v) = m.version {
            api.version = Some(v);
        }
        if let Some(v) = m.api_key_selection_expression {
            api.api_key_selection_expression = v;
        }
        if let Some(v) = m.disable_execute_api_endpoint {
            api.disable_execute_api_endpoint = v;
        }
        if let Some(v) = m.ip_address_type {
            api.ip_address_type = v;
        }
        if let Some(cors) = self.cors {
            api.cors = Some(cors);
        }
        let write = records::put(
            ns::APIS,
            api.api_id.clone(),
            &api,
            Expect::Version(stored.version),
        );
        let writes = deployments::follow(svc, &api, vec![write]).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(200, &shape(svc, &api))
    }
}

pub(crate) struct DeleteApi {
    named: NamedApi,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteApi {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteApi {
            named: NamedApi::decode(input)?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "DELETE", "").await
    }

    /// Deletes the API with everything under it, in one commit: the API's version guards it
    /// against a child created meanwhile (that commit re-puts the API).
    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let stored = self.named.found()?;
        let api_id = &stored.record.api_id;
        let mut writes = vec![records::delete(
            ns::APIS,
            api_id.clone(),
            Expect::Version(stored.version),
        )];
        for namespace in ns::CHILDREN {
            for key in records::child_keys(svc.store.as_ref(), namespace, api_id).await? {
                writes.push(records::delete(namespace, key, Expect::Any));
            }
        }
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}

pub(crate) struct DeleteCorsConfiguration {
    named: NamedApi,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteCorsConfiguration {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteCorsConfiguration {
            named: NamedApi::decode(input)?,
        })
    }

    /// `apigateway:DELETE` on `/apis/<apiId>/cors`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "DELETE", "/cors").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let stored = self.named.found()?;
        let mut api = stored.record.clone();
        api.cors = None;
        let write = records::put(
            ns::APIS,
            api.api_id.clone(),
            &api,
            Expect::Version(stored.version),
        );
        let writes = deployments::follow(svc, &api, vec![write]).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}
