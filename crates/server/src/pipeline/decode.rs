//! Routing a request to its operation and decoding the input in the service's protocol.

use bytes::Bytes;
use rampart_wire::protocol::json;
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::service::RestInput;
use rampart_wire::{CommonError, Input, OperationSpec, Protocol};

use super::Rejection;
use crate::registry::RegisteredService;

/// Finds the operation and decodes its input according to the service's protocol.
pub(super) fn decode(
    service: &RegisteredService,
    parts: &http::request::Parts,
    target: Option<&str>,
    raw_query: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<(&'static OperationSpec, Input), Rejection> {
    let reject = |e| Rejection::in_service(service, e);
    let unknown = |operation: &str| {
        reject(CommonError::UnknownOperation {
            service: service.signing_name.to_owned(),
            operation: operation.to_owned(),
        })
    };
    match service.protocol {
        Protocol::Query { .. } => {
            let form = content_type
                .map(|ct| {
                    ct.to_ascii_lowercase()
                        .starts_with("application/x-www-form-urlencoded")
                })
                .unwrap_or(false);
            let params =
                match parts.method {
                    http::Method::GET => QueryParams::parse(&[raw_query.as_bytes()]),
                    http::Method::POST if form || body.is_empty() => {
                        QueryParams::parse(&[raw_query.as_bytes(), &body])
                    }
                    http::Method::POST => return Err(reject(CommonError::Serialization(
                        "Query requests must be form-encoded (application/x-www-form-urlencoded)."
                            .into(),
                    ))),
                    _ => return Err(reject(CommonError::MethodNotAllowed)),
                }
                .map_err(reject)?;
            let action = params
                .get("Action")
                .ok_or_else(|| reject(CommonError::MissingAction))?;
            let operation = service.operation(action).ok_or_else(|| unknown(action))?;
            Ok((operation, Input::Query(params)))
        }
        Protocol::Json { target_prefix, .. } => {
            if parts.method != http::Method::POST {
                return Err(reject(CommonError::MethodNotAllowed));
            }
            let target = target.ok_or_else(|| unknown("(no X-Amz-Target)"))?;
            let operation = match json::split_target(target) {
                Some((prefix, name)) if prefix == target_prefix => service.operation(name),
                _ => None,
            }
            .ok_or_else(|| unknown(target))?;
            Ok((operation, Input::Json(body)))
        }
        Protocol::RestJson => {
            let (operation, path_params) =
                service
                    .route(parts.method.as_str(), parts.uri.path())
                    .ok_or_else(|| unknown(&format!("{} {}", parts.method, parts.uri.path())))?;
            let query = QueryParams::parse(&[raw_query.as_bytes()]).map_err(reject)?;
            Ok((
                operation,
                Input::Rest(RestInput {
                    path_params,
                    query,
                    headers: parts.headers.clone(),
                    body,
                }),
            ))
        }
    }
}
