//! How Secrets Manager invokes a rotation function. On AWS it is a Lambda `Invoke` made by the
//! `secretsmanager.amazonaws.com` service principal, which the function's resource policy must
//! allow (for the secret being rotated, when the policy names it with `aws:SourceArn`); the
//! server implements [`RotationInvoker`] over the functions service that way
//! (`server/src/rotation_functions.rs`). [`NoFunctions`] answers that there is no such function,
//! so `RotateSecret` fails the way AWS fails for a function it cannot invoke.

/// What an invocation of the function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function returned; its response payload (rotation ignores it, as AWS does).
    Success(Vec<u8>),
    /// The function ran and raised an error (Lambda's `X-Amz-Function-Error`): the step failed.
    FunctionError { error_type: String, message: String },
}

/// Why the function could not be invoked at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    #[error("the function does not exist")]
    FunctionNotFound,
    /// The function's resource policy does not let Secrets Manager invoke it.
    #[error("the function's policy does not allow Secrets Manager to invoke it")]
    AccessDenied,
    /// The functions service failed (throttled, timed out, out of capacity).
    #[error("the function could not be invoked: {0}")]
    Unavailable(String),
}

/// Invokes rotation functions on Secrets Manager's behalf.
#[async_trait::async_trait]
pub trait RotationInvoker: Send + Sync + 'static {
    /// Lambda's `DryRun` invocation: whether Secrets Manager may invoke `function_arn` to
    /// rotate `secret_arn`, without running it — what `RotateSecret` checks before it records a
    /// configuration.
    async fn dry_run(&self, function_arn: &str, secret_arn: &str) -> Result<(), InvokeError>;

    /// A synchronous (`RequestResponse`) invocation of `function_arn` with `payload`, the
    /// rotation event of `secret_arn`.
    async fn invoke(
        &self,
        function_arn: &str,
        secret_arn: &str,
        payload: &[u8],
    ) -> Result<InvokeOutcome, InvokeError>;
}

/// The invoker of an installation without a functions service: no function exists.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFunctions;

#[async_trait::async_trait]
impl RotationInvoker for NoFunctions {
    async fn dry_run(&self, _: &str, _: &str) -> Result<(), InvokeError> {
        Err(InvokeError::FunctionNotFound)
    }

    async fn invoke(&self, _: &str, _: &str, _: &[u8]) -> Result<InvokeOutcome, InvokeError> {
        Err(InvokeError::FunctionNotFound)
    }
}
