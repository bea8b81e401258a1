//! HTTP APIs as stored. Each resource is one JSON record, keyed under its API so that nothing
//! of API A can be found under API B's key space:
//!
//! - `apigateway/apis`: `<apiId>` → [`ApiRecord`]
//! - `apigateway/routes`: `<apiId>/<routeId>` → [`RouteRecord`]
//! - `apigateway/route-keys`: `<apiId>/<routeKey>` → the route id (the uniqueness index, written
//!   `Expect::Absent` with the route so two concurrent creates cannot both win)
//! - `apigateway/integrations`: `<apiId>/<integrationId>` → [`IntegrationRecord`]
//! - `apigateway/authorizers`: `<apiId>/<authorizerId>` → [`AuthorizerRecord`]
//! - `apigateway/stages`: `<apiId>/<stageName>` → [`StageRecord`]
//! - `apigateway/models`: `<apiId>/<modelId>` → [`ModelRecord`]
//! - `apigateway/deployments`: `<apiId>/<deploymentId>` →
//!   [`crate::deployments::DeploymentRecord`] (with its snapshot of the API)
//!
//! Every write to an API's children carries a re-put of the API record at the version
//! authorization read ([`guard`]): it serializes child changes with each other and with
//! `DeleteApi`, so a route can never be created for an API being deleted, nor name an
//! integration deleted meanwhile.

use std::collections::BTreeMap;

use rampart_store::{Expect, Store, Write};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::GatewayError;

/// The store namespaces API Gateway owns.
pub mod ns {
    pub const APIS: &str = "apigateway/apis";
    pub const ROUTES: &str = "apigateway/routes";
    pub const ROUTE_KEYS: &str = "apigateway/route-keys";
    pub const INTEGRATIONS: &str = "apigateway/integrations";
    pub const AUTHORIZERS: &str = "apigateway/authorizers";
    pub const STAGES: &str = "apigateway/stages";
    pub const DEPLOYMENTS: &str = "apigateway/deployments";
    pub const MODELS: &str = "apigateway/models";
    /// Every namespace keyed `<apiId>/…`: what `DeleteApi` empties.
    pub const CHILDREN: [&str; 7] = [
        ROUTES,
        ROUTE_KEYS,
        INTEGRATIONS,
        AUTHORIZERS,
        STAGES,
        DEPLOYMENTS,
        MODELS,
    ];
}

/// An HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRecord {
    pub api_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    pub route_selection_expression: String,
    pub api_key_selection_expression: String,
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    pub ip_address_type: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_date: OffsetDateTime,
    /// The API's CORS configuration, which the data plane applies itself.
    #[serde(default)]
    pub cors: Option<crate::cors::CorsConfig>,
}

/// How a route authorizes requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorizationType {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "JWT")]
    Jwt,
    #[serde(rename = "CUSTOM")]
    Custom,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl AuthorizationType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NONE" => AuthorizationType::None,
            "JWT" => AuthorizationType::Jwt,
            "CUSTOM" => AuthorizationType::Custom,
            "AWS_IAM" => AuthorizationType::AwsIam,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationType::None => "NONE",
            AuthorizationType::Jwt => "JWT",
            AuthorizationType::Custom => "CUSTOM",
            AuthorizationType::AwsIam => "AWS_IAM",
        }
    }
}

/// A route: a route key and what serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRecord {
    pub route_id: String,
    /// `GET /items/{id}`, `ANY /x/{proxy+}` or `$default`, as given (validated).
    pub route_key: String,
    pub authorization_type: AuthorizationType,
    #[serde(default)]
    pub authorizer_id: Option<String>,
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// `integrations/<integrationId>` of the same API.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub operation_name: Option<String>,
    /// Content type → the name of the model request bodies are validated with
    /// ([`crate::request_models`]).
    #[serde(default)]
    pub request_models: BTreeMap<String, String>,
}

/// A model: a JSON Schema routes validate request bodies with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub model_id: String,
    /// Alphanumeric, unique in the API: what routes name.
    pub name: String,
    /// The JSON Schema as given (compiled when stored, so it compiles).
    pub schema: String,
    pub content_type: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl RouteRecord {
    /// The integration id the target names, if any.
    pub fn integration_id(&self) -> Option<&str> {
        self.target
            .as_deref()
            .and_then(|t| t.strip_prefix("integrations/"))
    }
}

/// An `AWS_PROXY` integration with a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationRecord {
    pub integration_id: String,
    /// The function's ARN as given (`arn:aws:lambda:…:function:<name>`, or API Gateway's
    /// `arn:aws:apigateway:…:lambda:path/2015-03-31/functions/<arn>/invocations`).
    pub integration_uri: String,
    /// The function's name, read from the URI once at creation.
    pub function_name: String,
    /// `1.0` or `2.0`.
    pub payload_format_version: String,
    pub timeout_in_millis: u32,
    #[serde(default)]
    pub description: Option<String>,
    pub integration_method: String,
}

/// An authorizer: JWT (issuer and audiences) or REQUEST (a Lambda function, `request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerRecord {
    pub authorizer_id: String,
    pub name: String,
    /// Where the token or the identity is: `$request.header.Authorization` and the like.
    pub identity_source: Vec<String>,
    /// JWT: the exact `iss`.
    #[serde(default)]
    pub issuer: String,
    /// JWT: the accepted `aud`/`client_id` values.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Set for a REQUEST (Lambda) authorizer.
    #[serde(default)]
    pub request: Option<RequestAuthorizer>,
}

impl AuthorizerRecord {
    /// `JWT` or `REQUEST`.
    pub fn authorizer_type(&self) -> &'static str {
        match self.request {
            Some(_) => "REQUEST",
            None => "JWT",
        }
    }
}

/// What a REQUEST authorizer runs and how it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAuthorizer {
    /// `AuthorizerUri` as given.
    pub authorizer_uri: String,
    /// The function's name, read from the URI once at creation.
    pub function_name: String,
    /// `1.0` or `2.0`: the event it gets.
    pub payload_format_version: String,
    /// 2.0 only: `{"isAuthorized": …, "context": …}` instead of an IAM policy.
    pub enable_simple_responses: bool,
    /// How long an answer is reused for the same identity values (0: never).
    pub ttl_seconds: u32,
}

/// Throttling and logging settings of a stage or of one route in it (throttling enforced by
/// [`crate::throttle`]; logging settings only stored and answered).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteSettings {
    #[serde(default)]
    pub data_trace_enabled: Option<bool>,
    #[serde(default)]
    pub detailed_metrics_enabled: Option<bool>,
    #[serde(default)]
    pub logging_level: Option<String>,
    #[serde(default)]
    pub throttling_burst_limit: Option<i64>,
    #[serde(default)]
    pub throttling_rate_limit: Option<f64>,
}

/// A stage: a name requests are addressed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage_name: String,
    /// Whether the API's current configuration is what the stage serves (every change is
    /// also deployed to it: [`crate::deployments::follow`]). Without it the stage serves its
    /// deployment's snapshot, or answers Not Found while it has none.
    pub auto_deploy: bool,
    /// The deployment the stage serves (without `auto_deploy`) or last followed (with it).
    #[serde(default)]
    pub deployment_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub default_route_settings: RouteSettings,
    #[serde(default)]
    pub route_settings: BTreeMap<String, RouteSettings>,
    #[serde(default)]
    pub stage_variables: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_date: OffsetDateTime,
}

/// A record read from the store with the version to write it back with.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub record: T,
    pub version: i64,
}

/// `<apiId>/<id>`: the key of a child of an API.
pub fn child_key(api_id: &str, id: &str) -> String {
    format!("{api_id}/{id}")
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(key, error = %e, "a stored API Gateway record does not decode");
        GatewayError::Internal("A stored API Gateway resource could not be read.".into())
    })
}

/// Reads one record.
pub async fn load<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    key: &str,
) -> Result<Option<Stored<T>>, GatewayError> {
    match store.get(ns, key).await? {
        Some(item) => Ok(Some(Stored {
            record: decode(key, &item.value)?,
            version: item.version,
        })),
        None => Ok(None),
    }
}

/// Every record of `ns` under the API `api_id`, in key order.
pub async fn children<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    api_id: &str,
) -> Result<Vec<(String, T)>, GatewayError> {
    under(store, ns, &format!("{api_id}/")).await
}

/// Every record of `ns` under the API `api_id`, in key order, with its version.
pub async fn children_stored<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    api_id: &str,
) -> Result<Vec<(String, Stored<T>)>, GatewayError> {
    Ok(under_stored(store, ns, &format!("{api_id}/")).await?.0)
}

/// [`children_stored`], with the bytes they take in the store (what a cache weighs them by).
pub async fn children_weighed<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    api_id: &str,
) -> Result<(Vec<(String, Stored<T>)>, u64), GatewayError> {
    under_stored(store, ns, &format!("{api_id}/")).await
}

/// [`load`], with the bytes the record takes in the store.
pub async fn load_weighed<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    key: &str,
) -> Result<Option<(Stored<T>, u64)>, GatewayError> {
    match store.get(ns, key).await? {
        Some(item) => Ok(Some((
            Stored {
                record: decode(key, &item.value)?,
                version: item.version,
            },
            item.value.len() as u64,
        ))),
        None => Ok(None),
    }
}

/// Every record of `ns`, in key order.
pub async fn all<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
) -> Result<Vec<(String, T)>, GatewayError> {
    under(store, ns, "").await
}

/// The keys of `ns` under the API `api_id`.
pub async fn child_keys(
    store: &dyn Store,
    ns: &str,
    api_id: &str,
) -> Result<Vec<String>, GatewayError> {
    let prefix = format!("{api_id}/");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(ns, &prefix, after.as_deref(), 500).await?;
        let Some((last, _)) = page.last() else {
            return Ok(out);
        };
        after = Some(last.clone());
        out.extend(page.into_iter().map(|(key, _)| key));
    }
}

async fn under<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    prefix: &str,
) -> Result<Vec<(String, T)>, GatewayError> {
    Ok(under_stored(store, ns, prefix)
        .await?
        .0
        .into_iter()
        .map(|(key, stored)| (key, stored.record))
        .collect())
}

/// The records under `prefix` and the bytes they take in the store.
async fn under_stored<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &str,
    prefix: &str,
) -> Result<(Vec<(String, Stored<T>)>, u64), GatewayError> {
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.list(ns, prefix, after.as_deref(), 500).await?;
        let Some((last, _)) = page.last() else {
            return Ok((out, bytes));
        };
        after = Some(last.clone());
        for (key, item) in page {
            bytes += item.value.len() as u64;
            let record = decode(&key, &item.value)?;
            let version = item.version;
            out.push((key, Stored { record, version }));
        }
    }
}

/// A write that stores `value` under `key`.
pub fn put<T: Serialize>(ns: &str, key: impl Into<String>, value: &T, expect: Expect) -> Write {
    Write::Put {
        ns: ns.to_owned(),
        key: key.into(),
        value: serde_json::to_vec(value).expect("plain records serialise"),
        expect,
    }
}

/// A write that deletes `key`.
pub fn delete(ns: &str, key: impl Into<String>, expect: Expect) -> Write {
    Write::Delete {
        ns: ns.to_owned(),
        key: key.into(),
        expect,
    }
}

/// The API record re-put at the version authorization read: makes a commit of child writes
/// fail (Conflict) if the API changed or was deleted meanwhile.
pub fn guard(api: &Stored<ApiRecord>) -> Write {
    put(
        ns::APIS,
        api.record.api_id.clone(),
        &api.record,
        Expect::Version(api.version),
    )
}
