//! The API Gateway v2 management API (rest-json, signing name `apigateway`): the HTTP method
//! and path pick the operation (`POST /v2/apis/{apiId}/routes`).
//!
//! Every operation keeps the request path's contract: [`GatewayOperation::decode`] reads the
//! path, query and body once into a typed request; [`GatewayOperation::checks`] loads the API
//! the path names and declares the IAM action AWS defines for the call — `apigateway:<HTTP
//! method>` on the resource the path addresses (`arn:aws:apigateway:<region>::/apis/<apiId>/
//! routes/<routeId>`) — keeping what it read; [`GatewayOperation::execute`] runs that same
//! value. The API id comes from the path only: whatever else a request carries (an `apiId` in
//! the body, an authorizer or integration id of another API), nothing is looked up outside
//! the API that was authorized.

mod apis;
mod authorizers;
mod deployments;
mod integrations;
mod models;
mod quick_create;
mod routes;
mod stages;
mod wire;

use rampart_core::CallerIdentity;
use rampart_wire::operation::{prepare, TypedOperations};
use rampart_wire::service::RestInput;
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError,
};

use crate::error::GatewayError;
use crate::records::{self, ns, ApiRecord, Stored};
use crate::GatewayService;

/// API Gateway v2's protocol.
pub const PROTOCOL: Protocol = Protocol::RestJson;

/// What an operation knows about the request besides its members. (`pub` only because it is
/// [`TypedOperations::Call`]; the module is private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub op: &'static str,
    pub caller: &'a CallerIdentity,
}

/// One API Gateway operation's typed request.
#[async_trait::async_trait]
pub(crate) trait GatewayOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(input: &RestInput) -> Result<Self, GatewayError>;

    /// What the caller must be allowed, derived from this value and the stored state it
    /// names; keeps that state, so `execute` acts on exactly what was authorized.
    async fn checks(&mut self, svc: &GatewayService) -> Result<Vec<Check>, GatewayError>;

    /// Runs this value.
    async fn execute(self, svc: &GatewayService, call: &Call<'_>) -> Result<Output, GatewayError>;
}

#[async_trait::async_trait]
impl<O: GatewayOperation> TypedOperations<O> for GatewayService {
    type Call<'a> = Call<'a>;
    type Error = GatewayError;

    async fn checks(&self, request: &mut O, _: &Call<'_>) -> Result<Vec<Check>, GatewayError> {
        request.checks(self).await
    }

    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let call = call(&ctx)?;
        let answer = request.execute(self, &call).await;
        // Every write empties the data plane's cache before it answers, whether or not it
        // succeeded (it may have committed before failing): this node never serves what it
        // overwrote.
        if !ctx.operation.read_only {
            self.plane.invalidate_all();
        }
        Ok(answer?)
    }
}

fn call<'a>(ctx: &OperationContext<'a>) -> Result<Call<'a>, GatewayError> {
    let caller = ctx.caller.ok_or_else(|| {
        GatewayError::Internal("An API Gateway operation was reached without its caller.".into())
    })?;
    Ok(Call {
        op: ctx.operation.name,
        caller,
    })
}

/// The operation table: one line per operation gives its spec (read or write, method, path)
/// and its typed request.
macro_rules! gateway_operations {
    ($( $kind:ident $name:literal $method:literal $path:literal => $ty:ty; )*) => {
        /// The operations API Gateway offers.
        pub const OPERATIONS: &[OperationSpec] = &[
            $( gateway_operations!(@spec $kind $name $method $path) ),*
        ];

        async fn prepare_named<'s>(
            svc: &'s GatewayService,
            input: &RestInput,
            call: &Call<'_>,
        ) -> Result<Box<dyn PreparedOperation + 's>, GatewayError> {
            match call.op {
                $( $name => prepare(svc, <$ty as GatewayOperation>::decode(input)?, call).await, )*
                other => Err(unknown(other)),
            }
        }
    };
    (@spec read $name:literal $method:literal $path:literal) => {
        OperationSpec::signed_route($name, $method, $path).read_only()
    };
    (@spec write $name:literal $method:literal $path:literal) => {
        OperationSpec::signed_route($name, $method, $path)
    };
}

gateway_operations! {
    write "CreateApi" "POST" "/v2/apis" => apis::CreateApi;
    read "GetApis" "GET" "/v2/apis" => apis::GetApis;
    read "GetApi" "GET" "/v2/apis/{apiId}" => apis::GetApi;
    write "UpdateApi" "PATCH" "/v2/apis/{apiId}" => apis::UpdateApi;
    write "DeleteApi" "DELETE" "/v2/apis/{apiId}" => apis::DeleteApi;
    write "DeleteCorsConfiguration" "DELETE" "/v2/apis/{apiId}/cors" => apis::DeleteCorsConfiguration;
    write "CreateRoute" "POST" "/v2/apis/{apiId}/routes" => routes::CreateRoute;
    read "GetRoutes" "GET" "/v2/apis/{apiId}/routes" => routes::GetRoutes;
    read "GetRoute" "GET" "/v2/apis/{apiId}/routes/{routeId}" => routes::GetRoute;
    write "UpdateRoute" "PATCH" "/v2/apis/{apiId}/routes/{routeId}" => routes::UpdateRoute;
    write "DeleteRoute" "DELETE" "/v2/apis/{apiId}/routes/{routeId}" => routes::DeleteRoute;
    write "CreateIntegration" "POST" "/v2/apis/{apiId}/integrations" => integrations::CreateIntegration;
    read "GetIntegrations" "GET" "/v2/apis/{apiId}/integrations" => integrations::GetIntegrations;
    read "GetIntegration" "GET" "/v2/apis/{apiId}/integrations/{integrationId}" => integrations::GetIntegration;
    write "UpdateIntegration" "PATCH" "/v2/apis/{apiId}/integrations/{integrationId}" => integrations::UpdateIntegration;
    write "DeleteIntegration" "DELETE" "/v2/apis/{apiId}/integrations/{integrationId}" => integrations::DeleteIntegration;
    write "CreateAuthorizer" "POST" "/v2/apis/{apiId}/authorizers" => authorizers::CreateAuthorizer;
    read "GetAuthorizers" "GET" "/v2/apis/{apiId}/authorizers" => authorizers::GetAuthorizers;
    read "GetAuthorizer" "GET" "/v2/apis/{apiId}/authorizers/{authorizerId}" => authorizers::GetAuthorizer;
    write "UpdateAuthorizer" "PATCH" "/v2/apis/{apiId}/authorizers/{authorizerId}" => authorizers::UpdateAuthorizer;
    write "DeleteAuthorizer" "DELETE" "/v2/apis/{apiId}/authorizers/{authorizerId}" => authorizers::DeleteAuthorizer;
    write "CreateStage" "POST" "/v2/apis/{apiId}/stages" => stages::CreateStage;
    read "GetStages" "GET" "/v2/apis/{apiId}/stages" => stages::GetStages;
    read "GetStage" "GET" "/v2/apis/{apiId}/stages/{stageName}" => stages::GetStage;
    write "UpdateStage" "PATCH" "/v2/apis/{apiId}/stages/{stageName}" => stages::UpdateStage;
    write "DeleteStage" "DELETE" "/v2/apis/{apiId}/stages/{stageName}" => stages::DeleteStage;
    write "CreateDeployment" "POST" "/v2/apis/{apiId}/deployments" => deployments::CreateDeployment;
    read "GetDeployments" "GET" "/v2/apis/{apiId}/deployments" => deployments::GetDeployments;
    read "GetDeployment" "GET" "/v2/apis/{apiId}/deployments/{deploymentId}" => deployments::GetDeployment;
    write "UpdateDeployment" "PATCH" "/v2/apis/{apiId}/deployments/{deploymentId}" => deployments::UpdateDeployment;
    write "DeleteDeployment" "DELETE" "/v2/apis/{apiId}/deployments/{deploymentId}" => deployments::DeleteDeployment;
    write "CreateModel" "POST" "/v2/apis/{apiId}/models" => models::CreateModel;
    read "GetModels" "GET" "/v2/apis/{apiId}/models" => models::GetModels;
    read "GetModel" "GET" "/v2/apis/{apiId}/models/{modelId}" => models::GetModel;
    read "GetModelTemplate" "GET" "/v2/apis/{apiId}/models/{modelId}/template" => models::GetModelTemplate;
    write "UpdateModel" "PATCH" "/v2/apis/{apiId}/models/{modelId}" => models::UpdateModel;
    write "DeleteModel" "DELETE" "/v2/apis/{apiId}/models/{modelId}" => models::DeleteModel;
}

fn unknown(operation: &str) -> GatewayError {
    CommonError::UnknownOperation {
        service: "apigateway".into(),
        operation: operation.into(),
    }
    .into()
}

#[async_trait::async_trait]
impl Service for GatewayService {
    fn signing_name(&self) -> &'static str {
        "apigateway"
    }

    fn protocol(&self) -> Protocol {
        PROTOCOL
    }

    fn operations(&self) -> &'static [OperationSpec] {
        OPERATIONS
    }

    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        let Input::Rest(input) = input else {
            return Err(GatewayError::from(CommonError::Serialization(
                "API Gateway speaks the rest-json protocol.".into(),
            ))
            .into());
        };
        let call = call(ctx)?;
        Ok(prepare_named(self, &input, &call).await?)
    }
}

/// A path label the route bound.
pub(crate) fn path_param<'a>(input: &'a RestInput, name: &str) -> Result<&'a str, GatewayError> {
    input
        .path_params
        .iter()
        .find(|(label, _)| *label == name)
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| CommonError::MissingParameter(name.to_owned()).into())
}

/// The API a request's path names, and — once checked — the API as stored.
pub(crate) struct NamedApi {
    pub id: String,
    pub api: Option<Stored<ApiRecord>>,
}

impl NamedApi {
    /// The `{apiId}` of the path. An id that cannot be one is Not Found before anything is
    /// looked up or authorized (it could name no API).
    pub fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        let id = path_param(input, "apiId")?;
        if !crate::ids::is_api_id(id) {
            return Err(GatewayError::not_found("API", id));
        }
        Ok(NamedApi {
            id: id.to_owned(),
            api: None,
        })
    }

    /// `apigateway:<method>` on `/apis/<apiId><tail>`, loading the API. The check is declared
    /// whether or not the API exists, so a caller without permission learns nothing.
    pub async fn check(
        &mut self,
        svc: &GatewayService,
        method: &str,
        tail: &str,
    ) -> Result<Vec<Check>, GatewayError> {
        self.api = records::load(svc.store.as_ref(), ns::APIS, &self.id).await?;
        let mut check = Check::on(
            format!("apigateway:{method}"),
            svc.arn(&format!("/apis/{}{tail}", self.id)),
        );
        // The API's own tags condition the calls on the API itself.
        if tail.is_empty() {
            if let Some(api) = &self.api {
                for (k, v) in &api.record.tags {
                    check.push_key(format!("aws:ResourceTag/{k}"), v);
                }
            }
        }
        Ok(vec![check])
    }

    /// The API as authorization read it, or Not Found.
    pub fn found(&self) -> Result<&Stored<ApiRecord>, GatewayError> {
        self.api
            .as_ref()
            .ok_or_else(|| GatewayError::not_found("API", &self.id))
    }
}

/// A Get* list request (GetDeployments, GetModels): the API and the page asked for.
pub(crate) struct ListRequest {
    pub named: NamedApi,
    max_results: Option<String>,
    next_token: Option<String>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListReply<S> {
    items: Vec<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl ListRequest {
    pub fn decode(input: &RestInput) -> Result<Self, GatewayError> {
        Ok(ListRequest {
            named: NamedApi::decode(input)?,
            max_results: input.query.get("maxResults").map(str::to_owned),
            next_token: input.query.get("nextToken").map(str::to_owned),
        })
    }

    /// The page of `all` (keyed, in key order) asked for, and the next page's token.
    pub fn page<T>(&self, all: Vec<(String, T)>) -> Result<(Vec<T>, Option<String>), GatewayError> {
        wire::page(all, self.max_results.as_deref(), self.next_token.as_deref())
    }
}

/// A Get* list's answer: a page of `items`, as shaped, and the next page's token.
pub(crate) fn list_reply<S: serde::Serialize>(
    items: Vec<S>,
    next_token: Option<String>,
) -> Result<Output, GatewayError> {
    wire::reply(200, &ListReply { items, next_token })
}

/// A child id of the path (`{routeId}`, `{integrationId}`, `{authorizerId}`,
/// `{deploymentId}`, `{modelId}`): Not Found if it
/// cannot be one.
pub(crate) fn child_id(input: &RestInput, label: &str, what: &str) -> Result<String, GatewayError> {
    let id = path_param(input, label)?;
    if !crate::ids::is_child_id(id) {
        return Err(GatewayError::not_found(what, id));
    }
    Ok(id.to_owned())
}

/// API Gateway's quotas on an API's children (routes and integrations 300, authorizers and
/// stages 10): they also bound what the data plane reads for each request.
pub(crate) async fn check_quota(
    svc: &GatewayService,
    namespace: &str,
    api_id: &str,
    limit: usize,
    what: &str,
) -> Result<(), GatewayError> {
    let count = records::child_keys(svc.store.as_ref(), namespace, api_id)
        .await?
        .len();
    if count >= limit {
        return Err(GatewayError::BadRequest(format!(
            "An API may have at most {limit} {what}."
        )));
    }
    Ok(())
}
