//! Errors as the wire carries them.
//!
//! Services define their own error enums (one variant per AWS error code) and convert them into
//! [`ServiceError`]; the protocol layer renders a `ServiceError` as `<ErrorResponse>` XML or as
//! `__type`/`message` JSON. [`CommonError`] holds the errors every AWS service shares (signature,
//! routing, malformed input); their code and status differ by protocol, as they do on AWS.

use std::borrow::Cow;

use crate::protocol::ProtocolKind;
use crate::sigv4::SigV4Error;

/// Who is at fault: the `<Type>` element of query-protocol errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sender,
    Receiver,
}

/// An error ready to be encoded: an AWS error code, an HTTP status and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: u16,
    pub fault: Fault,
    /// Modelled members of the error shape besides its message (Lambda's
    /// `TooManyRequestsException` carries `Reason`), answered beside it in JSON bodies.
    pub members: Vec<(&'static str, String)>,
}

impl ServiceError {
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        status: u16,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            code: code.into(),
            message: message.into(),
            status,
            fault: if status >= 500 {
                Fault::Receiver
            } else {
                Fault::Sender
            },
            members: Vec::new(),
        }
    }

    /// The error with a modelled member `name` = `value` in its body.
    pub fn with_member(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.members.push((name, value.into()));
        self
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// Errors shared by every service. Their wire code depends on the protocol (query services say
/// `InvalidClientTokenId`, JSON services `UnrecognizedClientException`), so they are kept
/// abstract until [`CommonError::for_protocol`] renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommonError {
    /// No signature at all.
    MissingAuthenticationToken,
    /// The access key id is not known (or was deleted).
    InvalidClientTokenId,
    /// The access key exists but is inactive.
    InactiveClientToken,
    /// Temporary credentials whose session token does not match.
    InvalidSessionToken,
    /// Temporary credentials past their expiry.
    ExpiredToken,
    /// Any SigV4 failure.
    Signature(SigV4Error),
    /// The credential scope names a region this endpoint does not serve.
    WrongRegion(String),
    /// The credential scope names a service this endpoint does not offer.
    UnknownService(String),
    /// The operation (Action / X-Amz-Target / path) is not one the service has.
    UnknownOperation {
        service: String,
        operation: String,
    },
    /// Query protocol: no `Action` parameter.
    MissingAction,
    /// A required input member is absent.
    MissingParameter(String),
    /// A member has a value the operation does not accept.
    InvalidParameterValue(String),
    /// The body cannot be decoded (not JSON, wrong types, wrong content type).
    Serialization(String),
    /// The body exceeds the size limit.
    RequestEntityTooLarge {
        limit: usize,
    },
    /// The HTTP method is not one the protocol uses.
    MethodNotAllowed,
    /// The caller is authenticated but not authorized.
    AccessDenied(String),
    /// The store or another dependency failed.
    ServiceUnavailable,
    InternalFailure,
}

impl CommonError {
    /// The error as a client of a service speaking `protocol` expects it.
    pub fn for_protocol(&self, protocol: ProtocolKind) -> ServiceError {
        use CommonError as E;
        let query = protocol == ProtocolKind::Query;
        let rest = protocol == ProtocolKind::RestJson;
        // JSON services suffix their codes with `Exception`; rest-json answers auth failures 403.
        let auth_status = if query || rest { 403 } else { 400 };
        let (code, status, message): (&'static str, u16, String) = match self {
            E::MissingAuthenticationToken => (
                if query {
                    "MissingAuthenticationToken"
                } else {
                    "MissingAuthenticationTokenException"
                },
                403,
                "Request is missing Authentication Token".into(),
            ),
            E::InvalidClientTokenId | E::InactiveClientToken | E::InvalidSessionToken => (
                if query {
                    "InvalidClientTokenId"
                } else {
                    "UnrecognizedClientException"
                },
                auth_status,
                "The security token included in the request is invalid.".into(),
            ),
            E::ExpiredToken => (
                if query {
                    "ExpiredToken"
                } else {
                    "ExpiredTokenException"
                },
                if query { 403 } else { 400 },
                "The security token included in the request is expired".into(),
            ),
            E::Signature(err) => return signature_error(err, protocol),
            // AWS's answer to a credential scoped to a region the endpoint does not serve.
            E::WrongRegion(region) => (
                if query {
                    "SignatureDoesNotMatch"
                } else {
                    "InvalidSignatureException"
                },
                auth_status,
                format!("Credential should be scoped to a valid region, not '{region}'. "),
            ),
            E::UnknownService(service) => (
                if query {
                    "InvalidAction"
                } else {
                    "UnknownOperationException"
                },
                if rest { 404 } else { 400 },
                format!("The service {service:?} is not offered by this endpoint."),
            ),
            E::UnknownOperation { service, operation } => (
                if query {
                    "InvalidAction"
                } else {
                    "UnknownOperationException"
                },
                if rest { 404 } else { 400 },
                if query {
                    format!("Could not find operation {operation} for service {service}")
                } else {
                    format!("Unknown operation {operation:?} for service {service}")
                },
            ),
            E::MissingAction => (
                "MissingAction",
                400,
                "The request is missing an action or a required parameter.".into(),
            ),
            E::MissingParameter(name) => (
                if query {
                    "MissingParameter"
                } else {
                    "ValidationException"
                },
                400,
                if query {
                    format!("The request must contain the parameter {name}")
                } else {
                    format!(
                        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
                    )
                },
            ),
            E::InvalidParameterValue(msg) => (
                if query {
                    "InvalidParameterValue"
                } else {
                    "ValidationException"
                },
                400,
                msg.clone(),
            ),
            E::Serialization(msg) => (
                if query {
                    "MalformedQueryString"
                } else {
                    "SerializationException"
                },
                400,
                msg.clone(),
            ),
            E::RequestEntityTooLarge { limit } => (
                if query {
                    "RequestEntityTooLarge"
                } else {
                    "RequestEntityTooLargeException"
                },
                413,
                format!("Request must be smaller than {limit} bytes."),
            ),
            E::MethodNotAllowed => (
                if query {
                    "InvalidHttpRequest"
                } else {
                    "MethodNotAllowedException"
                },
                405,
                "The HTTP method is not allowed for this request.".into(),
            ),
            // JSON services (KMS, Secrets Manager, DynamoDB) answer their
            // AccessDeniedException with 400; query and rest-json services with 403.
            E::AccessDenied(msg) => (
                if query {
                    "AccessDenied"
                } else {
                    "AccessDeniedException"
                },
                auth_status,
                msg.clone(),
            ),
            E::ServiceUnavailable => (
                if query {
                    "ServiceUnavailable"
                } else {
                    "ServiceUnavailableException"
                },
                503,
                "The service is unavailable. Please try again later.".into(),
            ),
            E::InternalFailure => (
                if query {
                    "InternalFailure"
                } else {
                    "InternalFailureException"
                },
                500,
                "The request processing has failed because of an unknown error.".into(),
            ),
        };
        ServiceError::new(code, status, message)
    }
}

/// SigV4 failures, in the codes each protocol's services answer with.
fn signature_error(err: &SigV4Error, protocol: ProtocolKind) -> ServiceError {
    let query = protocol == ProtocolKind::Query;
    let auth_status = if protocol == ProtocolKind::Json {
        400
    } else {
        403
    };
    let message = err.to_string();
    match err {
        SigV4Error::MissingAuthentication => {
            CommonError::MissingAuthenticationToken.for_protocol(protocol)
        }
        SigV4Error::IncompleteSignature(_)
        | SigV4Error::MalformedCredential(_)
        | SigV4Error::MissingDate
        | SigV4Error::MalformedDate(_)
        | SigV4Error::SignedHeadersMissingHost
        | SigV4Error::InvalidExpires(_) => ServiceError::new(
            if query {
                "IncompleteSignature"
            } else {
                "IncompleteSignatureException"
            },
            400,
            message,
        ),
        SigV4Error::UnsupportedAlgorithm(_) => ServiceError::new(
            if query {
                "IncompleteSignature"
            } else {
                "IncompleteSignatureException"
            },
            400,
            message,
        ),
        // AWS documents `RequestExpired` for a presigned request used after its expiry.
        SigV4Error::RequestExpired { .. } => ServiceError::new(
            if query {
                "RequestExpired"
            } else {
                "RequestExpiredException"
            },
            400,
            message,
        ),
        // STS and IAM answer a skewed `X-Amz-Date` with SignatureDoesNotMatch "Signature
        // expired: …", JSON services with InvalidSignatureException; botocore recognises both
        // as clock-skew errors.
        SigV4Error::RequestTimeTooSkewed { .. }
        | SigV4Error::CredentialDateMismatch
        | SigV4Error::ContentSha256Mismatch
        | SigV4Error::UnsignedPayloadNotAllowed
        | SigV4Error::SignatureDoesNotMatch => ServiceError::new(
            if query {
                "SignatureDoesNotMatch"
            } else {
                "InvalidSignatureException"
            },
            auth_status,
            message,
        ),
    }
}
