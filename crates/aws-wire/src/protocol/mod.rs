//! The three AWS protocols Rampart speaks, and how a request tells which one it uses.
//!
//! - [`query`]: form-encoded `Action`/`Version` parameters, XML responses (IAM, STS).
//! - [`json`]: `X-Amz-Target: Prefix.Operation`, JSON 1.0/1.1 bodies (KMS, Secrets Manager, Cognito).
//! - [`rest_json`]: the HTTP method and path pick the operation (Lambda, API Gateway).

pub mod json;
pub mod query;
pub mod rest_json;

use crate::error::ServiceError;

/// The protocol family, without a service's particulars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    Query,
    Json,
    RestJson,
}

impl ProtocolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::Query => "query",
            ProtocolKind::Json => "json",
            ProtocolKind::RestJson => "rest-json",
        }
    }
}

/// A service's protocol with the particulars its clients rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `xml_namespace` goes on every response element; `api_version` is the `Version` parameter.
    Query {
        xml_namespace: &'static str,
        api_version: &'static str,
    },
    /// `json_version` is `"1.0"` or `"1.1"`; `target_prefix` is what precedes the `.` in
    /// `X-Amz-Target` (e.g. `TrentService` for KMS).
    Json {
        json_version: &'static str,
        target_prefix: &'static str,
    },
    RestJson,
}

impl Protocol {
    /// The protocol of a service not (yet) known, for errors raised before routing.
    pub fn generic(kind: ProtocolKind) -> Protocol {
        match kind {
            ProtocolKind::Query => Protocol::Query {
                xml_namespace: query::GENERIC_XML_NAMESPACE,
                api_version: "",
            },
            ProtocolKind::Json => Protocol::Json {
                json_version: "1.1",
                target_prefix: "",
            },
            ProtocolKind::RestJson => Protocol::RestJson,
        }
    }

    pub fn kind(&self) -> ProtocolKind {
        match self {
            Protocol::Query { .. } => ProtocolKind::Query,
            Protocol::Json { .. } => ProtocolKind::Json,
            Protocol::RestJson => ProtocolKind::RestJson,
        }
    }
}

/// Guesses the protocol from the request's shape, for errors raised before the service is
/// known (no signature, unknown service): an SDK parses the error in the protocol it spoke.
pub fn guess_protocol(content_type: Option<&str>, has_target: bool, query: &str) -> ProtocolKind {
    if has_target {
        return ProtocolKind::Json;
    }
    let form = content_type
        .map(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if form || query.split('&').any(|p| p.starts_with("Action=")) {
        ProtocolKind::Query
    } else {
        ProtocolKind::RestJson
    }
}

/// An encoded HTTP response body with its content type and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedResponse {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra headers (the request id header is added by the server for every response).
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Encodes `error` in the shape clients of `protocol` parse.
pub fn encode_error(
    protocol: &Protocol,
    error: &ServiceError,
    request_id: &str,
) -> EncodedResponse {
    match protocol {
        Protocol::Query { xml_namespace, .. } => {
            query::encode_error(xml_namespace, error, request_id)
        }
        Protocol::Json { json_version, .. } => json::encode_error(json_version, error),
        Protocol::RestJson => rest_json::encode_error(error),
    }
}
