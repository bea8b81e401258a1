//! The one place the gateway invokes a function: through `rampart_functions::Invoker`, in
//! process, never over HTTP back into Rampart.
//!
//! Not yet checked here: the function's resource policy (`lambda:InvokeFunction` for
//! `apigateway.amazonaws.com` with the route's `execute-api` ARN as `aws:SourceArn`). The
//! functions service gains `Invoker::invoke_as_service` for that on the `lambda2` branch; when
//! it lands, [`invoke`] calls it with `source_arn` and this account, and nothing else changes.
//! Until then any API of this account can invoke any function of it.

use std::time::Duration;

use bytes::Bytes;
use rampart_functions::records::load_function;
use rampart_functions::InvocationRequest;

use crate::records::IntegrationRecord;
use crate::GatewayService;

/// How an integration failed, as the client learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationFailure {
    /// The invocation was refused before the function ran (no such function, not active, no
    /// capacity): 500.
    NotInvoked(String),
    /// The function failed (an unhandled error, its own timeout): 502.
    FunctionError,
    /// The integration's `TimeoutInMillis` passed first: 503.
    Timeout,
}

/// Runs the integration's function with `event`, within the integration's timeout. `source_arn`
/// is the route's `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`.
pub async fn invoke(
    svc: &GatewayService,
    integration: &IntegrationRecord,
    source_arn: &str,
    event: Bytes,
) -> Result<Bytes, IntegrationFailure> {
    let _ = source_arn; // the resource-policy check's aws:SourceArn (see the module's note)
    let function = load_function(svc.store.as_ref(), &integration.function_name)
        .await
        .map_err(|e| IntegrationFailure::NotInvoked(e.to_string()))?
        .ok_or_else(|| {
            IntegrationFailure::NotInvoked(format!(
                "the function {} does not exist",
                integration.function_name
            ))
        })?;
    let request = InvocationRequest {
        payload: event,
        client_context: None,
        tail: false,
    };
    let limit = Duration::from_millis(u64::from(integration.timeout_in_millis));
    let run = svc.invoker.invoke(&function.record, request);
    match tokio::time::timeout(limit, run).await {
        Err(_) => Err(IntegrationFailure::Timeout),
        Ok(Err(e)) => Err(IntegrationFailure::NotInvoked(e.to_string())),
        Ok(Ok(result)) if result.function_error.is_some() => Err(IntegrationFailure::FunctionError),
        Ok(Ok(result)) => Ok(result.payload),
    }
}
