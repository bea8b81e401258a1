//! Encoding an operation's output (or a raw answer it shaped) into the HTTP response.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use rampart_wire::protocol::{self, json, query, rest_json, EncodedResponse};
use rampart_wire::{CommonError, OperationSpec, Output, Protocol};

/// An answer ready to send: a response in the service's protocol, or one the operation
/// shaped itself.
pub(super) enum Answer {
    Encoded(EncodedResponse),
    Raw {
        status: u16,
        headers: Vec<(http::HeaderName, HeaderValue)>,
        body: Bytes,
    },
}

impl Answer {
    pub(super) fn status(&self) -> u16 {
        match self {
            Answer::Encoded(encoded) => encoded.status,
            Answer::Raw { status, .. } => *status,
        }
    }
}

pub(super) fn encode_output(
    protocol: &Protocol,
    operation: &OperationSpec,
    output: Output,
    request_id: &str,
) -> Answer {
    let encoded = match (protocol, output) {
        (_, Output::Annotated { output, headers }) => {
            return match encode_output(protocol, operation, *output, request_id) {
                Answer::Encoded(mut encoded) => {
                    encoded.headers.extend(headers);
                    Answer::Encoded(encoded)
                }
                Answer::Raw {
                    status,
                    headers: mut raw,
                    body,
                } => {
                    raw.extend(headers.into_iter().filter_map(|(name, value)| {
                        Some((
                            http::HeaderName::from_static(name),
                            HeaderValue::from_str(&value).ok()?,
                        ))
                    }));
                    Answer::Raw {
                        status,
                        headers: raw,
                        body,
                    }
                }
            };
        }
        (
            _,
            Output::Raw {
                status,
                headers,
                body,
            },
        ) => {
            return Answer::Raw {
                status,
                headers,
                body,
            }
        }
        (Protocol::Query { xml_namespace, .. }, Output::Query(result)) => {
            query::encode_result(xml_namespace, operation.name, result.as_deref(), request_id)
        }
        (Protocol::Json { json_version, .. }, Output::Json(body)) => {
            json::encode_result(json_version, body)
        }
        (Protocol::RestJson, Output::Rest { status, body }) => {
            rest_json::encode_result(status, body)
        }
        (protocol, _) => {
            // A service returned the wrong output kind: a bug, reported as AWS would.
            tracing::error!(
                operation = operation.name,
                "operation output does not match its protocol"
            );
            protocol::encode_error(
                protocol,
                &CommonError::InternalFailure.for_protocol(protocol.kind()),
                request_id,
            )
        }
    };
    Answer::Encoded(encoded)
}

/// The HTTP answer; the front end's request-id layer adds `x-amzn-RequestId`.
pub(super) fn into_response(answer: Answer) -> Response {
    let (status, mut response) = match answer {
        Answer::Encoded(encoded) => {
            let mut response = Response::new(Body::from(encoded.body));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(encoded.content_type));
            for (name, value) in encoded.headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
            (encoded.status, response)
        }
        Answer::Raw {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            // `append`: an operation may answer a header several times (`Set-Cookie`).
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            (status, response)
        }
    };
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
