//! The one place the gateway invokes a function — an integration's or a Lambda authorizer's:
//! through `rampart_functions::Invoker`, in process, never over HTTP back into Rampart.
//!
//! Not yet checked here: the function's resource policy (`lambda:InvokeFunction` for
//! `apigateway.amazonaws.com` with the route's `execute-api` ARN as `aws:SourceArn`). The
//! functions service gains `Invoker::invoke_as_service(function, "apigateway.amazonaws.com",
//! source_arn, account, request)` for that on the `lambda2` branch; when it lands, the body of
//! [`invoke_function`] calls it instead of loading the function and calling `invoke` (its
//! `AccessDeniedException` is a `NotInvoked`, a 500 as on AWS), and nothing else changes. Until
//! then any API of this account can invoke any function of it.

use std::time::Duration;

use bytes::Bytes;
use rampart_functions::records::load_function;
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
    let _ = source_arn; // the resource-policy check's aws:SourceArn (see the module's note)
    let function = load_function(svc.store.as_ref(), name)
        .await
        .map_err(|e| IntegrationFailure::NotInvoked(e.to_string()))?
        .ok_or_else(|| {
            IntegrationFailure::NotInvoked(format!("the function {name} does not exist"))
        })?;
    let request = InvocationRequest {
        payload,
        client_context: None,
        tail: false,
    };
    let run = svc.invoker.invoke(&function.record, request);
    match tokio::time::timeout(limit, run).await {
        Err(_) => Err(IntegrationFailure::Timeout),
        Ok(Err(e)) => Err(IntegrationFailure::NotInvoked(e.to_string())),
        Ok(Ok(result)) if result.function_error.is_some() => {
            Err(IntegrationFailure::FunctionError(result.payload))
        }
        Ok(Ok(result)) => Ok(result.payload),
    }
}
