//! Invoke: `RequestResponse` (run the function, answer its result or its error), `Event`
//! (queue it durably and answer 202: [`crate::async_queue`]) and `DryRun` (only whether the
//! caller may invoke it). Every invocation runs through the one in-process [`crate::Invoker`]
//! every other caller (gateway, queues, secret rotation) uses.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use rampart_store::request_audit;
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};

use super::{Call, FunctionsOperation};
use crate::async_queue::MAX_ASYNC_PAYLOAD;
use crate::error::FunctionsError;
use crate::function_ref::{FunctionRef, LATEST};
use crate::invoker::{InvocationRequest, MAX_SYNC_PAYLOAD};
use crate::records::Stored;
use crate::records::{FunctionRecord, FunctionState};
use crate::FunctionsService;

/// `X-Amz-Client-Context`: at most 3583 bytes of base64 JSON.
const MAX_CLIENT_CONTEXT: usize = 3583;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

pub(crate) struct Invoke {
    named: FunctionRef,
    kind: InvocationType,
    tail: bool,
    payload: Bytes,
    client_context: Option<String>,
    function: Option<Stored<FunctionRecord>>,
}

fn header<'a>(input: &'a RestInput, name: &str) -> Result<Option<&'a str>, FunctionsError> {
    match input.headers.get(name) {
        Some(v) => v.to_str().map(Some).map_err(|_| {
            FunctionsError::InvalidParameterValue(format!("The {name} header is not valid text."))
        }),
        None => Ok(None),
    }
}

#[async_trait::async_trait]
impl FunctionsOperation for Invoke {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = super::functions_named(input, svc)?;
        let kind = match header(input, "x-amz-invocation-type")? {
            None | Some("RequestResponse") => InvocationType::RequestResponse,
            Some("DryRun") => InvocationType::DryRun,
            Some("Event") => InvocationType::Event,
            Some(other) => {
                return Err(FunctionsError::constraint(
                    other,
                    "invocationType",
                    "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                ))
            }
        };
        let tail = match header(input, "x-amz-log-type")? {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                return Err(FunctionsError::constraint(
                    other,
                    "logType",
                    "Member must satisfy enum value set: [None, Tail]",
                ))
            }
        };
        let client_context = match header(input, "x-amz-client-context")? {
            Some(c) if c.len() > MAX_CLIENT_CONTEXT => {
                return Err(FunctionsError::InvalidParameterValue(
                    "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes.".into(),
                ))
            }
            Some(c) => {
                let json = STANDARD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|s| serde_json::from_str::<serde_json::Value>(s).is_ok())
                    .ok_or_else(|| {
                        FunctionsError::InvalidParameterValue(
                            "Client context must be a valid Base64-encoded JSON object.".into(),
                        )
                    })?;
                Some(json)
            }
            None => None,
        };
        if kind == InvocationType::Event && input.body.len() > MAX_ASYNC_PAYLOAD {
            return Err(FunctionsError::RequestEntityTooLarge(format!(
                "{} byte payload is too large for the Event invocation type (limit {MAX_ASYNC_PAYLOAD} bytes)",
                input.body.len()
            )));
        }
        if input.body.len() > MAX_SYNC_PAYLOAD {
            return Err(FunctionsError::RequestTooLarge(format!(
                "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            )));
        }
        let payload = if input.body.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&input.body) {
                return Err(FunctionsError::InvalidRequestContent(format!(
                    "Could not parse request body into json: Could not parse payload into json: {e}"
                )));
            }
            input.body.clone()
        };
        Ok(Invoke {
            named,
            kind,
            tail,
            payload,
            client_context,
            function: None,
        })
    }

    /// `lambda:InvokeFunction` on the function as named (qualified if it was), with its tags.
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(
        self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Output, FunctionsError> {
        let function = super::functions_found(&self.named, self.function.as_ref())?;
        let version = HeaderValue::from_static(LATEST);
        match self.kind {
            InvocationType::DryRun => {
                return Ok(Output::Raw {
                    status: 204,
                    headers: vec![(HeaderName::from_static("x-amz-executed-version"), version)],
                    body: Bytes::new(),
                })
            }
            InvocationType::Event => {
                return enqueue(svc, call, &function.record, &self.payload).await
            }
            InvocationType::RequestResponse => {}
        }
        let request = InvocationRequest {
            payload: self.payload,
            client_context: self.client_context,
            tail: self.tail,
        };
        // The invocation's id is the one the caller gets back, as on AWS.
        let result = svc
            .invoker
            .invoke_as_request(&function.record, request, call.request_id.to_owned())
            .await?;
        let mut headers = vec![
            (HeaderName::from_static("x-amz-executed-version"), version),
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ];
        if let Some(error) = &result.function_error {
            if let Ok(v) = HeaderValue::from_str(error) {
                headers.push((HeaderName::from_static("x-amz-function-error"), v));
            }
        }
        if let Some(log) = &result.log_tail {
            if let Ok(v) = HeaderValue::from_str(&STANDARD.encode(log)) {
                headers.push((HeaderName::from_static("x-amz-log-result"), v));
            }
        }
        Ok(Output::Raw {
            status: 200,
            headers,
            body: result.payload,
        })
    }
}

/// Queues an asynchronous invocation of `f` — durable, with the request's audit record, before
/// the answer — and wakes this node's worker. The answer is AWS's: 202, no body (the version
/// that runs is decided when it runs, so no `X-Amz-Executed-Version`).
async fn enqueue(
    svc: &FunctionsService,
    call: &Call<'_>,
    f: &FunctionRecord,
    payload: &[u8],
) -> Result<Output, FunctionsError> {
    // Refused as a synchronous invocation is: a function not ready to run queues nothing.
    if f.state != FunctionState::Active {
        return Err(FunctionsError::ResourceConflict(format!(
            "The operation cannot be performed at this time. The function is currently in the following state: {}",
            f.state.as_str()
        )));
    }
    // The request's id names the event (the function sees it as its request id); an id that
    // is not a plain token cannot be a store key part, so such a request gets one of its own.
    let id = match call.request_id {
        id if !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            id.to_owned()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let writes = svc
        .queue
        .enqueue_writes(&f.name, &id, payload, time::OffsetDateTime::now_utc())
        .await?;
    request_audit::commit(svc.store.as_ref(), writes).await?;
    svc.queue.wake();
    Ok(Output::Raw {
        status: 202,
        headers: Vec::new(),
        body: Bytes::new(),
    })
}
