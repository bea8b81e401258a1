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
    /// Whether the operation only reads. Writes tell caches (credentials, compiled policies)
    /// that what they hold may be stale.
    pub read_only: bool,
    /// For rest-json services: the method and path template that select this operation.
    pub route: Option<RestRoute>,
}

impl OperationSpec {
    /// An operation authenticated by SigV4 (query or JSON protocol) that may change state.
    pub const fn signed(name: &'static str) -> Self {
        OperationSpec {
            name,
            authentication: Authentication::SigV4,
            permission: Permission::Required,
            read_only: false,
            route: None,
        }
    }

    /// An operation that is unauthenticated by design (Cognito's `SignUp`, `InitiateAuth`):
    /// reachable without SigV4 and never authorized against IAM policies — it proves who the
    /// caller is itself (a client secret hash, a code, a password, a token). A signed request
    /// reaches it too, as on AWS, and is not authorized either.
    pub const fn public(name: &'static str) -> Self {
        OperationSpec {
            name,
            authentication: Authentication::None,
            permission: Permission::NotRequired,
            read_only: false,
            route: None,
        }
    }

    /// The same operation, callable by any authenticated caller.
    pub const fn without_permission(mut self) -> Self {
        self.permission = Permission::NotRequired;
        self
    }

    /// The same operation, declared to change nothing.
    pub const fn read_only(mut self) -> Self {
        self.read_only = true;
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
            read_only: false,
            route: Some(RestRoute { method, template }),
        }
    }
}

/// What a check is made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// One resource, by ARN (with the path a stored entity carries).
    Arn(String),
    /// The action has no resource type in AWS's service authorization reference
    /// (`iam:ListUsers`, `sts:GetSessionToken`): it is evaluated against `*`. An operation
    /// says so explicitly; nothing defaults to it.
    Unscoped,
}

impl Resource {
    /// The resource as the policy engine matches it.
    pub fn as_str(&self) -> &str {
        match self {
            Resource::Arn(arn) => arn,
            Resource::Unscoped => "*",
        }
    }
}

/// One authorization check an operation declares: `action` must be allowed on `resource`,
/// with `condition_keys` in the request context and `resource_policy` evaluated beside the
/// caller's policies. An operation may declare several (`lambda:CreateFunction` and
/// `iam:PassRole`; `sts:AssumeRole` and `sts:TagSession`); every one must be allowed —
/// unless it is a [per-item](Check::per_item) check of a batch operation, whose denial
/// refuses only that item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `service:Action`, e.g. `iam:AttachUserPolicy`.
    pub action: String,
    pub resource: Resource,
    /// Condition keys and their values (`iam:PolicyARN`, `aws:ResourceTag/team`, …); a key
    /// may repeat for a multi-valued key (`aws:TagKeys`). Keys about the resource come from its
    /// stored state, never from what the request claims.
    pub condition_keys: Vec<(String, String)>,
    /// The resource's own policy (a role's trust policy, a function's policy), if it has one.
    pub resource_policy: Option<ResourcePolicy>,
    /// How a denial names the resource, when that must not be the stored ARN: a resource the
    /// caller named by a partial identifier (a secret's name) is denied under that name, so a
    /// caller without permission cannot tell from the message whether it exists.
    pub named_as: Option<String>,
    /// A check on one item of a batch (`secretsmanager:GetSecretValue` on one secret of a
    /// `BatchGetSecretValue`): its denial does not refuse the request but is reported to
    /// `execute` ([`OperationContext::allowed`]), which must leave that item out. An operation
    /// still needs at least one check that is not per-item (the batch action itself).
    pub per_item: bool,
}

impl Check {
    /// `action` on the resource `arn`.
    pub fn on(action: impl Into<String>, arn: impl Into<String>) -> Self {
        Check {
            action: action.into(),
            resource: Resource::Arn(arn.into()),
            condition_keys: Vec::new(),
            resource_policy: None,
            named_as: None,
            per_item: false,
        }
    }

    /// `action`, which AWS scopes to no resource type.
    pub fn unscoped(action: impl Into<String>) -> Self {
        Check {
            action: action.into(),
            resource: Resource::Unscoped,
            condition_keys: Vec::new(),
            resource_policy: None,
            named_as: None,
            per_item: false,
        }
    }

    /// Adds one condition key value.
    pub fn with_key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.condition_keys.push((key.into(), value.into()));
        self
    }

    /// Adds one condition key value in place.
    pub fn push_key(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.condition_keys.push((key.into(), value.into()));
    }

    /// Names the resource in denials as the caller named it.
    pub fn named_as(mut self, name: impl Into<String>) -> Self {
        self.named_as = Some(name.into());
        self
    }

    /// Sets the resource's own policy.
    pub fn with_resource_policy(mut self, policy: ResourcePolicy) -> Self {
        self.resource_policy = Some(policy);
        self
    }

    /// Marks the check as one item's of a batch (see [`Check::per_item`]).
    pub fn per_item(mut self) -> Self {
        self.per_item = true;
        self
    }
}

/// How the request path decided one declared check, as `execute` learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Denied, with AWS's wording of the denial (what a batch reports for the item).
    Denied(String),
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
    /// An HTTP answer the operation shapes itself (several `Set-Cookie` headers, binary or
    /// non-JSON bodies), whatever the service's protocol.
    Raw {
        status: u16,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        body: Bytes,
    },
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
    /// How each declared check was decided, in the order of
    /// [`PreparedOperation::checks`]: empty while the operation is being prepared, and for an
    /// operation that was not authorized (`Permission::NotRequired`, unauthenticated). Only
    /// per-item checks can be [`Verdict::Denied`] here: any other denial refused the request.
    pub verdicts: &'a [Verdict],
}

impl OperationContext<'_> {
    /// Whether the check at `index` was allowed; a check without a verdict was not.
    pub fn allowed(&self, index: usize) -> bool {
        matches!(self.verdicts.get(index), Some(Verdict::Allowed))
    }

    /// The denial of the check at `index`, if it was denied (or never decided).
    pub fn denial(&self, index: usize) -> Option<&str> {
        match self.verdicts.get(index) {
            Some(Verdict::Allowed) => None,
            Some(Verdict::Denied(message)) => Some(message),
            None => Some("The request was not authorized."),
        }
    }
}

/// An operation decoded once into its typed request, ready to be authorized and run. The
/// checks it declares are derived from that typed value (and the stored state of what it
/// names), and [`PreparedOperation::execute`] runs that same value: authorization cannot look
/// at one entity while the operation acts on another.
#[async_trait::async_trait]
pub trait PreparedOperation: Send {
    /// What the caller must be allowed. Empty only for operations declared
    /// [`Permission::NotRequired`]; the request path refuses an empty list otherwise.
    fn checks(&self) -> &[Check];

    /// Runs the operation. Every check has been allowed, but for per-item checks, whose
    /// verdicts are in `ctx.verdicts`: an item whose check was denied must not be served.
    async fn execute(self: Box<Self>, ctx: OperationContext<'_>) -> Result<Output, ServiceError>;
}

/// A service surface (IAM, STS, KMS, …).
#[async_trait::async_trait]
pub trait Service: Send + Sync + 'static {
    /// The SigV4 signing name (`sts`, `iam`, `lambda`) requests are routed by.
    fn signing_name(&self) -> &'static str;
    fn protocol(&self) -> Protocol;
    fn operations(&self) -> &'static [OperationSpec];

    /// Decodes `input` into the operation's typed request and derives its checks, reading the
    /// stored state its condition keys need (a target's tags or permissions boundary, a role's
    /// trust policy). Malformed input is refused here with the service's error.
    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError>;
}
