//! STS's errors, one variant per AWS error code, each with the HTTP status STS answers with.

use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

/// An STS error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// A member fails its documented constraint.
    #[error("{0}")]
    ValidationError(String),
    /// A member's value is not acceptable (tags, transitive keys, source identity).
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error("{0}")]
    AccessDenied(String),
    /// The store could not be reached.
    #[error("the store is unavailable")]
    ServiceUnavailable,
    /// A request path bug: an STS operation reached without its caller.
    #[error("internal failure")]
    InternalFailure,
    /// An error every query service shares (`MissingParameter`, …), already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl StsError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            StsError::ValidationError(_) => "ValidationError",
            StsError::InvalidParameterValue(_) => "InvalidParameterValue",
            StsError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            StsError::PackedPolicyTooLarge(_) => "PackedPolicyTooLarge",
            StsError::AccessDenied(_) => "AccessDenied",
            StsError::ServiceUnavailable => "ServiceUnavailable",
            StsError::InternalFailure => "InternalFailure",
            StsError::Common(e) => &e.code,
        }
    }

    /// A member that is not `[\w+=,.@-]` between `min` and `max` characters.
    pub fn pattern(field: &str, value: &str, min: usize, max: usize) -> Self {
        StsError::ValidationError(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between {min} and {max}"
        ))
    }
}

impl From<StoreError> for StsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        StsError::ServiceUnavailable
    }
}

impl From<CommonError> for StsError {
    fn from(e: CommonError) -> Self {
        StsError::Common(e.for_protocol(ProtocolKind::Query))
    }
}

impl From<StsError> for ServiceError {
    fn from(e: StsError) -> Self {
        match e {
            StsError::ServiceUnavailable => {
                CommonError::ServiceUnavailable.for_protocol(ProtocolKind::Query)
            }
            StsError::InternalFailure => {
                CommonError::InternalFailure.for_protocol(ProtocolKind::Query)
            }
            StsError::AccessDenied(message) => {
                CommonError::AccessDenied(message).for_protocol(ProtocolKind::Query)
            }
            StsError::Common(error) => error,
            other => ServiceError::new(other.code().to_owned(), 400, other.to_string()),
        }
    }
}
