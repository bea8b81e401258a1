//! Routes: CreateRoute, GetRoutes, GetRoute, UpdateRoute, DeleteRoute. A route's authorizer
//! and target integration are looked up under the API the path names, and nowhere else: an id
//! of another API's authorizer or integration is simply not found. So are the models its
//! `RequestModels` names.

use std::collections::BTreeMap;

use rampart_store::{request_audit, Expect, StoreError, Write};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire;
use super::{child_id, Call, GatewayOperation, NamedApi};
use crate::deployments;
use crate::error::GatewayError;
use crate::records::{
    self, child_key, ns, ApiRecord, AuthorizationType, AuthorizerRecord, IntegrationRecord,
    ModelRecord, RouteRecord,
};
use crate::route_key::{RouteKey, INVALID_ROUTE_KEY};
use crate::GatewayService;

/// `Route` as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteShape<'a> {
    api_key_required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_scopes: &'a Vec<String>,
    authorization_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_name: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    request_models: &'a BTreeMap<String, String>,
    route_id: &'a str,
    route_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
}

fn shape(r: &RouteRecord) -> RouteShape<'_> {
    RouteShape {
        api_key_required: false,
        authorization_scopes: &r.authorization_scopes,
        authorization_type: r.authorization_type.as_str(),
        authorizer_id: r.authorizer_id.as_deref(),
        operation_name: r.operation_name.as_deref(),
        request_models: &r.request_models,
        route_id: &r.route_id,
        route_key: &r.route_key,
        target: r.target.as_deref(),
    }
}

/// The members CreateRoute and UpdateRoute take.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RouteMembers {
    route_key: Option<String>,
    authorization_type: Option<String>,
    authorizer_id: Option<String>,
    authorization_scopes: Option<Vec<String>>,
    target: Option<String>,
    operation_name: Option<String>,
    api_key_required: Option<bool>,
    /// Content type → model name: bodies validated by that model (a Rampart extension on
    /// HTTP APIs; [`crate::request_models`]).
    request_models: Option<BTreeMap<String, String>>,
}

impl RouteMembers {
    /// Checks what can be checked without the store.
    fn validate(&self) -> Result<Option<AuthorizationType>, GatewayError> {
        if let Some(key) = &self.route_key {
            RouteKey::parse(key)
                .ok_or_else(|| GatewayError::BadRequest(INVALID_ROUTE_KEY.into()))?;
        }
        if self.api_key_required == Some(true) {
            return Err(GatewayError::BadRequest(
                "API keys are not supported for HTTP APIs.".into(),
            ));
        }
        if let Some(name) = &self.operation_name {
            wire::check_length(name, "operationName", 1, 64)?;
        }
        if let Some(scopes) = &self.authorization_scopes {
            for s in scopes {
                wire::check_length(s, "authorizationScopes", 1, 1024)?;
            }
        }
        if let Some(models) = &self.request_models {
            for (content_type, model) in models {
                wire::check_length(content_type, "requestModels content type", 1, 256)?;
                wire::check_length(model, "requestModels model name", 1, 128)?;
            }
        }
        self.authorization_type
            .as_deref()
            .map(|t| {
                AuthorizationType::parse(t).ok_or_else(|| {
                    GatewayError::BadRequest(format!("Invalid authorization type: {t}"))
                })
            })
            .transpose()
    }

    /// Applies these members to `route`.
    fn apply(self, kind: Option<AuthorizationType>, route: &mut RouteRecord) {
        if let Some(key) = self.route_key {
            route.route_key = key;
        }
        if let Some(kind) = kind {
            route.authorization_type = kind;
            if matches!(kind, AuthorizationType::None | AuthorizationType::AwsIam) {
                // Changing to a type without an authorizer drops the one set before.
                route.authorizer_id = None;
                route.authorization_scopes.clear();
            }
        }
        if let Some(id) = self.authorizer_id {
            route.authorizer_id = Some(id);
        }
        if let Some(scopes) = self.authorization_scopes {
            route.authorization_scopes = scopes;
        }
        if let Some(target) = self.target {
            route.target = Some(target);
        }
        if let Some(name) = self.operation_name {
            route.operation_name = Some(name);
        }
        if let Some(models) = self.request_models {
            route.request_models = models;
        }
    }
}

/// Checks a route as it would be stored against the API's authorizers, integrations and
/// models.
async fn check_references(
    svc: &GatewayService,
    api_id: &str,
    route: &RouteRecord,
) -> Result<(), GatewayError> {
    if !route.request_models.is_empty() {
        let models =
            records::children::<ModelRecord>(svc.store.as_ref(), ns::MODELS, api_id).await?;
        for name in route.request_models.values() {
            if !models.iter().any(|(_, m)| m.name == *name) {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid model specified: {name}"
                )));
            }
        }
    }
    match (route.authorization_type, &route.authorizer_id) {
        (kind @ (AuthorizationType::Jwt | AuthorizationType::Custom), Some(id)) => {
            let found: Option<records::Stored<AuthorizerRecord>> =
                records::load(svc.store.as_ref(), ns::AUTHORIZERS, &child_key(api_id, id)).await?;
            let Some(found) = found else {
                return Err(GatewayError::BadRequest(format!(
                    "Unable to find Authorizer with id {id}"
                )));
            };
            // JWT routes take JWT authorizers, CUSTOM routes REQUEST (Lambda) ones.
            let wanted = if kind == AuthorizationType::Jwt {
                "JWT"
            } else {
                "REQUEST"
            };
            if found.record.authorizer_type() != wanted {
                return Err(GatewayError::BadRequest(format!(
                    "Authorization type {} needs a {wanted} authorizer; {id} is {}.",
                    kind.as_str(),
                    found.record.authorizer_type()
                )));
            }
        }
        (kind @ (AuthorizationType::Jwt | AuthorizationType::Custom), None) => {
            return Err(GatewayError::BadRequest(format!(
                "An authorizerId is required for authorization type {}.",
                kind.as_str()
            )))
        }
        (_, Some(_)) => {
            return Err(GatewayError::BadRequest(
                "An authorizerId may only be set for authorization types JWT and CUSTOM.".into(),
            ))
        }
        _ => {}
    }
    if !route.authorization_scopes.is_empty() && route.authorization_type != AuthorizationType::Jwt
    {
        return Err(GatewayError::BadRequest(
            "Authorization scopes are supported only for JWT authorizers.".into(),
        ));
    }
    if let Some(target) = &route.target {
        let id = route
            .integration_id()
            .filter(|id| crate::ids::is_child_id(id))
            .ok_or_else(|| {
                GatewayError::BadRequest(format!(
                    "Invalid target: {target}. A target is integrations/<integrationId>."
                ))
            })?;
        let found: Option<records::Stored<IntegrationRecord>> =
            records::load(svc.store.as_ref(), ns::INTEGRATIONS, &child_key(api_id, id)).await?;
        if found.is_none() {
            return Err(GatewayError::BadRequest(format!(
                "Invalid integration id specified in target: {target}"
            )));
        }
    }
    Ok(())
}

fn route_key_index(api_id: &str, route_key: &str) -> String {
    child_key(api_id, route_key)
}

/// Commits route writes, answering a taken route key as API Gateway does.
async fn commit(
    svc: &GatewayService,
    api: &ApiRecord,
    writes: Vec<Write>,
    key: &str,
) -> Result<(), GatewayError> {
    let writes = deployments::follow(svc, api, writes).await?;
    match request_audit::commit(svc.store.as_ref(), writes).await {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict { ns: conflict, .. }) if conflict == ns::ROUTE_KEYS => Err(
            GatewayError::Conflict(format!("Route with key {key} already exists for this API")),
        ),
        Err(e) => Err(e.into()),
    }
}

pub(crate) struct CreateRoute {
    named: NamedApi,
    members: RouteMembers,
    kind: Option<AuthorizationType>,
}

#[async_trait::async_trait]
impl GatewayOperation for CreateRoute {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let members: RouteMembers = wire::decode(&input.body)?;
        if members.route_key.is_none() {
            return Err(GatewayError::BadRequest(
                "Invalid input: routeKey is required.".into(),
            ));
        }
        let kind = members.validate()?;
        Ok(CreateRoute {
            named: NamedApi::decode(input)?,
            members,
            kind,
        })
    }

    /// `apigateway:POST` on `/apis/<apiId>/routes`.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "POST", "/routes").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let mut route = RouteRecord {
            route_id: crate::ids::child_id(),
            route_key: String::new(),
            authorization_type: AuthorizationType::None,
            authorizer_id: None,
            authorization_scopes: Vec::new(),
            target: None,
            operation_name: None,
            request_models: BTreeMap::new(),
        };
        self.members.apply(self.kind, &mut route);
        check_references(svc, api_id, &route).await?;
        super::check_quota(svc, ns::ROUTES, api_id, 300, "routes").await?;
        let writes = vec![
            records::guard(api),
            records::put(
                ns::ROUTE_KEYS,
                route_key_index(api_id, &route.route_key),
                &route.route_id,
                Expect::Absent,
            ),
            records::put(
                ns::ROUTES,
                child_key(api_id, &route.route_id),
                &route,
                Expect::Absent,
            ),
        ];
        commit(svc, &api.record, writes, &route.route_key).await?;
        wire::reply(201, &shape(&route))
    }
}

/// A route of the API the path names, loaded in `execute`.
async fn load_route(
    svc: &GatewayService,
    api_id: &str,
    route_id: &str,
) -> Result<records::Stored<RouteRecord>, GatewayError> {
    records::load(svc.store.as_ref(), ns::ROUTES, &child_key(api_id, route_id))
        .await?
        .ok_or_else(|| GatewayError::not_found("Route", route_id))
}

pub(crate) struct GetRoute {
    named: NamedApi,
    route_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for GetRoute {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetRoute {
            named: NamedApi::decode(input)?,
            route_id: child_id(input, "routeId", "Route")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/routes/{}", self.route_id);
        self.named.check(svc, "GET", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let route = load_route(svc, &api.record.api_id, &self.route_id).await?;
        wire::reply(200, &shape(&route.record))
    }
}

pub(crate) struct GetRoutes {
    named: NamedApi,
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetRoutesReply<'a> {
    items: Vec<RouteShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl GatewayOperation for GetRoutes {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(GetRoutes {
            named: NamedApi::decode(input)?,
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        self.named.check(svc, "GET", "/routes").await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let routes =
            records::children::<RouteRecord>(svc.store.as_ref(), ns::ROUTES, &api.record.api_id)
                .await?;
        let (items, next_token) = wire::page(
            routes,
            self.max_results.as_deref(),
            self.next_token.as_deref(),
        )?;
        wire::reply(
            200,
            &GetRoutesReply {
                items: items.iter().map(shape).collect(),
                next_token,
            },
        )
    }
}

pub(crate) struct UpdateRoute {
    named: NamedApi,
    route_id: String,
    members: RouteMembers,
    kind: Option<AuthorizationType>,
}

#[async_trait::async_trait]
impl GatewayOperation for UpdateRoute {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let members: RouteMembers = wire::decode(&input.body)?;
        let kind = members.validate()?;
        Ok(UpdateRoute {
            named: NamedApi::decode(input)?,
            route_id: child_id(input, "routeId", "Route")?,
            members,
            kind,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/routes/{}", self.route_id);
        self.named.check(svc, "PATCH", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_route(svc, api_id, &self.route_id).await?;
        let mut route = stored.record.clone();
        self.members.apply(self.kind, &mut route);
        check_references(svc, api_id, &route).await?;
        let mut writes = vec![
            records::guard(api),
            records::put(
                ns::ROUTES,
                child_key(api_id, &route.route_id),
                &route,
                Expect::Version(stored.version),
            ),
        ];
        if route.route_key != stored.record.route_key {
            writes.push(records::delete(
                ns::ROUTE_KEYS,
                route_key_index(api_id, &stored.record.route_key),
                Expect::Any,
            ));
            writes.push(records::put(
                ns::ROUTE_KEYS,
                route_key_index(api_id, &route.route_key),
                &route.route_id,
                Expect::Absent,
            ));
        }
        commit(svc, &api.record, writes, &route.route_key).await?;
        wire::reply(200, &shape(&route))
    }
}

pub(crate) struct DeleteRoute {
    named: NamedApi,
    route_id: String,
}

#[async_trait::async_trait]
impl GatewayOperation for DeleteRoute {
    fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(DeleteRoute {
            named: NamedApi::decode(input)?,
            route_id: child_id(input, "routeId", "Route")?,
        })
    }

    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError> {
        let tail = format!("/routes/{}", self.route_id);
        self.named.check(svc, "DELETE", &tail).await
    }

    async fn execute(self, svc: &GatewayService, _: &Call<'_>) -> Result<Output, GatewayError> {
        let api = self.named.found()?;
        let api_id = &api.record.api_id;
        let stored = load_route(svc, api_id, &self.route_id).await?;
        let writes = vec![
            records::guard(api),
            records::delete(
                ns::ROUTES,
                child_key(api_id, &self.route_id),
                Expect::Version(stored.version),
            ),
            records::delete(
                ns::ROUTE_KEYS,
                route_key_index(api_id, &stored.record.route_key),
                Expect::Any,
            ),
        ];
        let writes = deployments::follow(svc, &api.record, writes).await?;
        request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(wire::no_content())
    }
}
