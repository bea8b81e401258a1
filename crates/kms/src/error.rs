//! KMS's errors, one variant per AWS error code, each with the HTTP status KMS answers with
//! (400 for the caller's mistakes, 500 for KMS's own; botocore maps the code to
//! `client.exceptions.<Code>`).

use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

use crate::blob::BlobError;
use crate::custody::CustodyError;

/// A KMS error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The key or alias does not exist (or the identifier is not one).
    #[error("{0}")]
    NotFound(String),
    /// The key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// The key's state does not allow the operation (pending deletion, not pending…).
    #[error("{0}")]
    InvalidState(String),
    /// The ciphertext is malformed, altered, or its encryption context differs.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// The ciphertext was not sealed by the key the request named.
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A member fails its documented constraint.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    InvalidMarker(String),
    /// The key's usage or spec does not support the operation or algorithm.
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// A parameter Rampart does not implement (custom key stores, asymmetric keys…).
    #[error("{0}")]
    UnsupportedOperation(String),
    /// Tags that break the tag rules.
    #[error("{0}")]
    Tag(String),
    /// Another request changed the key between authorization and this write.
    #[error("{0}")]
    Conflict(String),
    /// `DryRun` was set and the request would have succeeded.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// Something inside KMS failed (a backing key that does not open under the root key).
    #[error("{0}")]
    Internal(String),
    /// The store could not be reached or answered in time.
    #[error(
        "The system timed out while trying to fulfill the request. You can retry the request."
    )]
    DependencyTimeout,
    /// An error every JSON service shares (`SerializationException`, …), already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl KmsError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::Tag(_) => "TagException",
            KmsError::Conflict(_) => "ConflictException",
            KmsError::DryRun => "DryRunOperationException",
            KmsError::Internal(_) => "KMSInternalException",
            KmsError::DependencyTimeout => "DependencyTimeoutException",
            KmsError::Common(e) => &e.code,
        }
    }

    /// The HTTP status KMS answers the code with.
    pub fn status(&self) -> u16 {
        match self {
            KmsError::Internal(_) | KmsError::DependencyTimeout => 500,
            KmsError::DryRun => 412,
            KmsError::Common(e) => e.status,
            _ => 400,
        }
    }

    /// A member outside its documented range, worded as AWS's validation errors are.
    pub fn constraint(value: impl std::fmt::Display, field: &str, constraint: &str) -> Self {
        KmsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The answer for a ciphertext that does not open. AWS says nothing more specific, so a
    /// caller learns nothing about which check failed.
    pub fn invalid_ciphertext() -> Self {
        KmsError::InvalidCiphertext(String::new())
    }
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        match e {
            StoreError::Conflict { .. } => KmsError::Conflict(
                "The key was changed by another request. Retry the request.".into(),
            ),
            _ => KmsError::DependencyTimeout,
        }
    }
}

impl From<CommonError> for KmsError {
    fn from(e: CommonError) -> Self {
        KmsError::Common(e.for_protocol(ProtocolKind::Json))
    }
}

impl From<BlobError> for KmsError {
    fn from(_: BlobError) -> Self {
        KmsError::invalid_ciphertext()
    }
}

impl From<CustodyError> for KmsError {
    fn from(e: CustodyError) -> Self {
        match e {
            CustodyError::Unseal { .. } => {
                // The root key is wrong or the store was tampered with: an operator's
                // problem, never reported to the caller in detail.
                tracing::error!(error = %e, "backing key does not open");
                KmsError::Internal("The request processing has failed because of an unknown error, exception or failure.".into())
            }
            CustodyError::Unauthentic | CustodyError::UnknownVersion(_) => {
                KmsError::invalid_ciphertext()
            }
            CustodyError::WrongKey => KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation."
                    .into(),
            ),
        }
    }
}

impl From<KmsError> for ServiceError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::Common(error) => error,
            other => ServiceError::new(other.code().to_owned(), other.status(), other.to_string()),
        }
    }
}
