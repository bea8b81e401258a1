//! The one place the gateway invokes a function — an integration's or a Lambda authorizer's:
//! through `rampart_functions::Invoker`, in process, never over HTTP back into Rampart.
//!
//! As on AWS, the gateway invokes a function only when the function's resource policy allows
//! `lambda:InvokeFunction` to `apigateway.amazonaws.com` with the route's (or the authorizer's)
//! `execute-api` ARN as `aws:SourceArn` and this account as `aws:SourceAccount` — what
//! `aws lambda add-permission --principal apigateway.amazonaws.com --source-arn …` grants
//! (`Invoker::invoke_as_service`). Refused (or no such function): a 500, as AWS answers.

use std::time::Duration;

use bytes::Bytes;
use rampart_functions::InvocationRequest;

use crate::records::IntegrationRecord;
use crate::GatewayService;

/// How an invocation failed, as the client learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationFailure {
    /// The invocation was refused before the function ran (no such function, not active, no
    /// capacity): 500.
    NotInvoked(String),
    /// The function failed (an unhandled error, its own timeout), with its error document:
    /// 502 for an integration.
    FunctionError(Bytes),
    /// The time allowed passed first: 503 for an integration.
    Timeout,
}

/// Runs the integration's function with `event`, within the integration's timeout. `source_arn`
/// is what API Gateway sends as `aws:SourceArn`: `arn:aws:execute-api:<region>:<account>:
/// <apiId>/<stage>/<METHOD><route path template>`, or `…/<stage>/$default` for the default
/// route (a Lambda authorizer's: `…:<apiId>/authorizers/<authorizerId>`).
pub async fn invoke(
    svc: &GatewayService,
    integration: &IntegrationRecord,
    source_arn: &str,
    event: Bytes,
) -> Result<Bytes, IntegrationFailure> {
    let limit = Duration::from_millis(u64::from(integration.timeout_in_millis));
    invoke_function(svc, &integration.function_name, limit, source_arn, event).await
}

/// Runs the function `name` of this account with `payload`, within `limit`.
pub async fn invoke_function(
    svc: &GatewayService,
    name: &str,
    limit: Duration,
    source_arn: &str,
    payload: Bytes,
) -> Result<Bytes, IntegrationFailure> {
    let request = InvocationRequest {
        payload,
        client_context: None,
        tail: false,
    };
    let run = svc.invoker.invoke_as_service(
        name,
        "apigateway.amazonaws.com",
        source_arn,
        &svc.account_id,
        request,
    );
    match tokio::time::timeout(limit, run).await {
        Err(_) => Err(IntegrationFailure::Timeout),
        Ok(Err(e)) => Err(IntegrationFailure::NotInvoked(e.to_string())),
        Ok(Ok(result)) if result.function_error.is_some() => {
            Err(IntegrationFailure::FunctionError(result.payload))
        }
        Ok(Ok(result)) => Ok(result.payload),
    }
}
