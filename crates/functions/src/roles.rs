//! What Lambda needs of IAM, as a trait the server implements over the IAM crate: this crate
//! sits beside IAM and never depends on it (ARCHITECTURE.md). A function's execution role
//! must exist and trust `lambda.amazonaws.com` when the function is created, and each
//! execution environment runs under temporary credentials of that role, issued the way
//! `sts:AssumeRole` issues them (stored, verified and expired like every role session).

use rampart_wire::Check;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The service principal that assumes execution roles.
pub const LAMBDA_PRINCIPAL: &str = "lambda.amazonaws.com";

/// An IAM role as Lambda sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRole {
    /// The role's ARN, exactly as stored.
    pub arn: String,
    /// Whether its trust policy allows `lambda.amazonaws.com` to `sts:AssumeRole` it (for
    /// functions of this account).
    pub trusts_lambda: bool,
}

/// A role session's credentials, handed to one execution environment.
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a role's credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// The role does not exist (any more) or no longer trusts Lambda.
    #[error("{0}")]
    NotAssumable(String),
    /// IAM's state could not be read or written.
    #[error("{0}")]
    Unavailable(String),
}

/// An AWS service acting on a function through the function's resource policy
/// (`apigateway.amazonaws.com` for one of its APIs, later event sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCaller<'a> {
    /// `apigateway.amazonaws.com`.
    pub service: &'a str,
    /// The resource it acts for (`aws:SourceArn`), e.g. the API's execute-api ARN.
    pub source_arn: &'a str,
    /// That resource's account (`aws:SourceAccount`).
    pub source_account: &'a str,
}

/// IAM, as Lambda uses it.
#[async_trait::async_trait]
pub trait RoleDirectory: Send + Sync + 'static {
    /// The role whose ARN is exactly `arn`, if it exists.
    async fn role(&self, arn: &str) -> Result<Option<ExecutionRole>, RoleError>;

    /// Credentials of the role `role_arn` for a session named `session_name` (the function's
    /// name, as on AWS), issued to `lambda.amazonaws.com` on behalf of `function_arn` after
    /// its trust policy allowed that principal again.
    async fn assume(
        &self,
        role_arn: &str,
        session_name: &str,
        function_arn: &str,
    ) -> Result<RoleCredentials, RoleError>;

    /// Whether a session of the execution role `role_arn` named `session_name` (a function's
    /// own, as its environments run) is allowed `check` — by the role's identity policies and
    /// permissions boundary, with the resource policy the check carries. An asynchronous
    /// invocation's destination runs only if the source function's role may invoke it, as on
    /// AWS. A role that does not exist is allowed nothing.
    async fn role_allows(
        &self,
        role_arn: &str,
        session_name: &str,
        check: &Check,
    ) -> Result<bool, RoleError>;

    /// Whether `check` (carrying the function's resource policy) is allowed to the service
    /// principal `caller`, decided by the authorizer every request passes: a service
    /// principal has no policies of its own, so only a resource policy naming it allows.
    fn allows_service(&self, caller: &ServiceCaller<'_>, check: &Check) -> bool;
}
