//! Secrets Manager's rotation functions run on this node's functions service
//! ([`rampart_secrets::rotation::RotationInvoker`] over [`rampart_functions::Invoker`]): in
//! process, never through Rampart's own HTTP API, and as on AWS only when the function's
//! resource policy lets `secretsmanager.amazonaws.com` invoke it (AddPermission; with
//! `--source-arn` the secret's ARN, with `--source-account` this account).

use std::sync::Arc;

use bytes::Bytes;
use rampart_functions::{FunctionsError, InvocationRequest, Invoker};
use rampart_secrets::rotation::{InvokeError, InvokeOutcome, RotationInvoker};

/// The service principal rotation invocations are made as.
const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";

/// Rotation functions, invoked through the functions service of this node.
pub struct RotationFunctions {
    pub invoker: Arc<Invoker>,
    pub account_id: String,
}

fn invoke_error(e: FunctionsError) -> InvokeError {
    match e {
        // The invoker does not tell a missing function from a policy that does not allow the
        // call; Secrets Manager answers both the same way.
        FunctionsError::AccessDenied(_) => InvokeError::AccessDenied,
        FunctionsError::ResourceNotFound(_) => InvokeError::FunctionNotFound,
        other => InvokeError::Unavailable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl RotationInvoker for RotationFunctions {
    async fn dry_run(&self, function_arn: &str, secret_arn: &str) -> Result<(), InvokeError> {
        self.invoker
            .service_may_invoke(function_arn, SECRETS_MANAGER, secret_arn, &self.account_id)
            .await
            .map(|_| ())
            .map_err(invoke_error)
    }

    async fn invoke(
        &self,
        function_arn: &str,
        secret_arn: &str,
        payload: &[u8],
    ) -> Result<InvokeOutcome, InvokeError> {
        let result = self
            .invoker
            .invoke_as_service(
                function_arn,
                SECRETS_MANAGER,
                secret_arn,
                &self.account_id,
                InvocationRequest {
                    payload: Bytes::copy_from_slice(payload),
                    client_context: None,
                    tail: false,
                },
            )
            .await
            .map_err(invoke_error)?;
        Ok(match result.function_error {
            None => InvokeOutcome::Success(result.payload.to_vec()),
            Some(_) => {
                // The runtime's error document: {"errorType": …, "errorMessage": …}.
                let doc: serde_json::Value =
                    serde_json::from_slice(&result.payload).unwrap_or_default();
                let field = |name: &str| doc.get(name).and_then(|v| v.as_str()).map(str::to_owned);
                InvokeOutcome::FunctionError {
                    error_type: field("errorType").unwrap_or_else(|| "Unhandled".into()),
                    message: field("errorMessage").unwrap_or_default(),
                }
            }
        })
    }
}
