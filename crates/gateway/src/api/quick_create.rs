//! Quick create: `CreateApi` with a `Target` (a function) makes, with the API, what API
//! Gateway makes for it — an `AWS_PROXY` integration with payload format 2.0, a route (the
//! request's `RouteKey`, `$default` when none) targeting it, and the `$default` stage with
//! `AutoDeploy`, deployed to it as any change is ([`crate::deployments`]) — all in the API's
//! own commit, so a quick-created API is whole or absent.

use std::collections::BTreeMap;

use rampart_store::{Expect, Write};
use time::OffsetDateTime;

use super::integrations::function_name;
use crate::error::GatewayError;
use crate::records::{
    self, child_key, ns, AuthorizationType, IntegrationRecord, RouteRecord, RouteSettings,
    StageRecord,
};
use crate::route_key::{RouteKey, INVALID_ROUTE_KEY};
use crate::GatewayService;

/// Checks a quick create's route key (what can be checked without the store).
pub fn check_route_key(route_key: Option<&str>) -> Result<(), GatewayError> {
    match route_key {
        Some(key) if RouteKey::parse(key).is_none() => {
            Err(GatewayError::BadRequest(INVALID_ROUTE_KEY.into()))
        }
        _ => Ok(()),
    }
}

/// The writes that make the integration, route and stage of API `api_id`.
pub fn writes(
    svc: &GatewayService,
    api_id: &str,
    target: &str,
    route_key: Option<&str>,
) -> Result<Vec<Write>, GatewayError> {
    let integration = IntegrationRecord {
        integration_id: crate::ids::child_id(),
        function_name: function_name(target, &svc.region, &svc.account_id)?,
        integration_uri: target.to_owned(),
        payload_format_version: "2.0".into(),
        timeout_in_millis: 30000,
        description: None,
        integration_method: "POST".into(),
    };
    let route = RouteRecord {
        route_id: crate::ids::child_id(),
        route_key: route_key.unwrap_or("$default").to_owned(),
        authorization_type: AuthorizationType::None,
        authorizer_id: None,
        authorization_scopes: Vec::new(),
        target: Some(format!("integrations/{}", integration.integration_id)),
        operation_name: None,
        request_models: BTreeMap::new(),
    };
    let now = OffsetDateTime::now_utc();
    let stage = StageRecord {
        stage_name: "$default".into(),
        auto_deploy: true,
        deployment_id: None,
        description: None,
        default_route_settings: RouteSettings::default(),
        route_settings: BTreeMap::new(),
        stage_variables: BTreeMap::new(),
        tags: BTreeMap::new(),
        created_date: now,
        last_updated_date: now,
    };
    Ok(vec![
        records::put(
            ns::INTEGRATIONS,
            child_key(api_id, &integration.integration_id),
            &integration,
            Expect::Absent,
        ),
        records::put(
            ns::ROUTE_KEYS,
            child_key(api_id, &route.route_key),
            &route.route_id,
            Expect::Absent,
        ),
        records::put(
            ns::ROUTES,
            child_key(api_id, &route.route_id),
            &route,
            Expect::Absent,
        ),
        records::put(
            ns::STAGES,
            child_key(api_id, &stage.stage_name),
            &stage,
            Expect::Absent,
        ),
    ])
}
