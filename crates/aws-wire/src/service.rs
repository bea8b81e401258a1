//! What a service plugs into the request path: its signing name, its protocol and its
//! operations. The server routes a request to a service by the SigV4 credential scope's service
//! name, then to an operation by `Action` (query), `X-Amz-Target` (JSON) or method and path
//! (rest-json); it authenticates and authorizes the caller, decodes the input, calls
//! [`Service::call`], audits and encodes the answer. A service never sees an unauthenticated
//! request unless its operation says so.

use bytes::Bytes;
use rampart_core::CallerIdentity;

use crate::error::ServiceError;
use crate::protocol::query::QueryParams;
use crate::protocol::rest_json::RestRoute;
use crate::protocol::Protocol;

/// How an operation's caller proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// A SigV4 signature from a known, active access key (the default for everything).
    SigV4,
    /// No credentials by design (e.g. Cognito `InitiateAuth`): the operation authenticates the
    /// caller itself.
    None,
}

/// Whether an operation needs the caller's policies to allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `service:Operation` must be allowed on the operation's resources (the default).
    Required,
    /// Any authenticated caller may call it, whatever its policies say (AWS documents this
    /// for `sts:GetCallerIdentity`: "No permissions are required…").
    NotRequired,
}

/// One operation a service offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationSpec {
    /// The AWS operation name (`GetCallerIdentity`).
    pub name: &'static str,
    pub authentication: Authentication,
    pub permission: Permission,
    /// For rest-json services: the method and path template that select this operation.
    pub route: Option<RestRoute>,
}

impl OperationSpec {
    /// An operation authenticated by SigV4 (query or JSON protocol).
    pub const fn signed(name: &'static str) -> Self {
        OperationSpec {
            name,
            authentication: Authentication::SigV4,
            permission: Permission::Required,
            route: None,
        }
    }

    /// The same operation, callable by any authenticated caller.
    pub const fn without_permission(mut self) -> Self {
        self.permission = Permission::NotRequired;
        self
    }

    /// A rest-json operation authenticated by SigV4.
    pub const fn signed_route(
        name: &'static str,
        method: &'static str,
        template: &'static str,
    ) -> Self {
        OperationSpec {
            name,
            authentication: Authentication::SigV4,
            permission: Permission::Required,
            route: Some(RestRoute { method, template }),
        }
    }
}

/// The resources an operation acts on and the service-specific condition keys it supplies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationTarget {
    /// ARNs, or `*` for operations without a resource.
    pub resources: Vec<String>,
    /// Condition keys and their values (`sts:ExternalId`, `aws:RequestTag/team`, …); a key
    /// may repeat for a multi-valued key (`aws:TagKeys`).
    pub condition_keys: Vec<(String, String)>,
}

impl AuthorizationTarget {
    /// `*`, no extra keys.
    pub fn any_resource() -> Self {
        AuthorizationTarget {
            resources: vec!["*".to_owned()],
            condition_keys: Vec::new(),
        }
    }

    /// One resource, no extra keys.
    pub fn resource(arn: impl Into<String>) -> Self {
        AuthorizationTarget {
            resources: vec![arn.into()],
            condition_keys: Vec::new(),
        }
    }
}

/// How a resource-based policy takes part in evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePolicyKind {
    /// A resource policy: same-account, an allow in it or in the caller's policies suffices.
    Resource,
    /// A role's trust policy: it must allow, whatever else does.
    Trust,
}

/// A resource-based policy document for a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePolicy {
    pub kind: ResourcePolicyKind,
    /// The document, or None when the resource does not exist — evaluated as a policy that
    /// allows nothing, so a caller learns nothing from the difference.
    pub document: Option<String>,
}

/// A rest-json request's members, as the HTTP request carried them.
#[derive(Debug, Clone, Default)]
pub struct RestInput {
    pub path_params: Vec<(&'static str, String)>,
    pub query: QueryParams,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// An operation's decoded input.
#[derive(Debug, Clone)]
pub enum Input {
    Query(QueryParams),
    /// The JSON body, decoded by the operation with [`crate::protocol::json::decode`].
    Json(Bytes),
    Rest(RestInput),
}

/// An operation's result, before the protocol envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The inner XML of `<OpResult>`, or None for operations that answer only metadata.
    Query(Option<String>),
    /// A JSON document.
    Json(Vec<u8>),
    /// A rest-json answer: status and JSON body.
    Rest { status: u16, body: Vec<u8> },
    /// Any of the above with extra response headers that SDKs pass through untouched
    /// (botocore: `ResponseMetadata.HTTPHeaders`), for Rampart's own advice such as
    /// `x-rampart-policy-findings`.
    Annotated {
        output: Box<Output>,
        headers: Vec<(&'static str, String)>,
    },
}

/// What an operation knows about the request it serves.
#[derive(Debug, Clone, Copy)]
pub struct OperationContext<'a> {
    pub request_id: &'a str,
    /// The authenticated caller; None only for [`Authentication::None`] operations.
    pub caller: Option<&'a CallerIdentity>,
    /// The region the request was signed for.
    pub region: &'a str,
    pub operation: &'a OperationSpec,
}

/// A service surface (IAM, STS, KMS, …).
#[async_trait::async_trait]
pub trait Service: Send + Sync + 'static {
    /// The SigV4 signing name (`sts`, `iam`, `lambda`) requests are routed by.
    fn signing_name(&self) -> &'static str;
    fn protocol(&self) -> Protocol;
    fn operations(&self) -> &'static [OperationSpec];
    /// What an operation acts on, for authorization: `service:Operation` must be allowed on
    /// each resource, with the operation's condition keys in the request context. Computed
    /// from the raw input before the operation runs; an input too malformed to name its
    /// resource may answer `*`, since the operation will reject it. Async because a resource's
    /// ARN may need a lookup (an IAM user's path).
    async fn authorization_target(
        &self,
        _ctx: &OperationContext<'_>,
        _input: &Input,
    ) -> AuthorizationTarget {
        AuthorizationTarget::any_resource()
    }

    /// The resource-based policy attached to `resource` (a role's trust policy, a function's
    /// or a secret's policy), evaluated together with the caller's own policies.
    async fn resource_policy(
        &self,
        _ctx: &OperationContext<'_>,
        _resource: &str,
    ) -> Result<Option<ResourcePolicy>, ServiceError> {
        Ok(None)
    }

    /// Runs one operation. The caller has been authenticated (and authorized) already.
    async fn call(&self, ctx: OperationContext<'_>, input: Input) -> Result<Output, ServiceError>;
}
