//! Secrets Manager's errors, one variant per AWS error code, each with the HTTP status Secrets
//! Manager answers with (400 for the caller's mistakes, 500 for its own).

use rampart_kms::KmsError;
use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

/// A Secrets Manager error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// The secret, version or staging label does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The request is valid but the secret's state refuses it (marked for deletion, …).
    #[error("{0}")]
    InvalidRequest(String),
    /// A member's value is not acceptable.
    #[error("{0}")]
    InvalidParameter(String),
    /// A secret with the name, or a version with the token, already exists.
    #[error("{0}")]
    ResourceExists(String),
    /// KMS refused to seal the value (key disabled, missing, pending deletion).
    #[error("{0}")]
    EncryptionFailure(String),
    /// KMS refused to open the value.
    #[error("{0}")]
    DecryptionFailure(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// Secrets Manager itself may not do what the request needs (invoke a rotation function).
    #[error("{0}")]
    AccessDenied(String),
    /// `BlockPublicPolicy` is set and the resource policy grants broad access.
    #[error("{0}")]
    PublicPolicy(String),
    /// A member breaks a constraint of the service model (length, range, enum): AWS's
    /// front end answers these before Secrets Manager sees the request.
    #[error("{0}")]
    Validation(String),
    /// Something inside Rampart failed (the store, a record that does not decode).
    #[error("{0}")]
    Internal(String),
    /// An error every JSON service shares (`SerializationException`, …), already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl SecretsError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            SecretsError::ResourceNotFound(_) => "ResourceNotFoundException",
            SecretsError::InvalidRequest(_) => "InvalidRequestException",
            SecretsError::InvalidParameter(_) => "InvalidParameterException",
            SecretsError::ResourceExists(_) => "ResourceExistsException",
            SecretsError::EncryptionFailure(_) => "EncryptionFailure",
            SecretsError::DecryptionFailure(_) => "DecryptionFailure",
            SecretsError::LimitExceeded(_) => "LimitExceededException",
            SecretsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            SecretsError::AccessDenied(_) => "AccessDeniedException",
            SecretsError::PublicPolicy(_) => "PublicPolicyException",
            SecretsError::Validation(_) => "ValidationException",
            SecretsError::Internal(_) => "InternalServiceError",
            SecretsError::Common(e) => &e.code,
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(&self) -> u16 {
        match self {
            SecretsError::Internal(_) => 500,
            SecretsError::Common(e) => e.status,
            _ => 400,
        }
    }

    /// A member outside the range the service model gives it: `ValidationException`, worded
    /// as AWS's validation errors are.
    pub fn constraint(value: impl std::fmt::Display, field: &str, constraint: &str) -> Self {
        SecretsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The secret a request names does not exist.
    pub fn secret_not_found() -> Self {
        SecretsError::ResourceNotFound("Secrets Manager can't find the specified secret.".into())
    }

    /// The secret is scheduled for deletion.
    pub fn marked_for_deletion() -> Self {
        SecretsError::InvalidRequest(
            "You can't perform this operation on the secret because it was marked for deletion."
                .into(),
        )
    }

    /// A KMS failure while sealing a value.
    pub fn sealing(e: KmsError) -> Self {
        match e {
            KmsError::Internal(_) | KmsError::DependencyTimeout | KmsError::Conflict(_) => {
                SecretsError::Internal(e.to_string())
            }
            other => SecretsError::EncryptionFailure(format!(
                "Secrets Manager can't encrypt the secret value: {}",
                other.code()
            )),
        }
    }

    /// A KMS failure while opening a value.
    pub fn opening(e: KmsError) -> Self {
        match e {
            KmsError::Internal(_) | KmsError::DependencyTimeout | KmsError::Conflict(_) => {
                SecretsError::Internal(e.to_string())
            }
            other => SecretsError::DecryptionFailure(format!(
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key: {}",
                other.code()
            )),
        }
    }
}

impl From<StoreError> for SecretsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        SecretsError::Internal(match e {
            StoreError::Conflict { .. } => {
                "The secret was changed by another request. Retry the request.".into()
            }
            _ => "An error occurred on the server side.".into(),
        })
    }
}

impl From<CommonError> for SecretsError {
    fn from(e: CommonError) -> Self {
        SecretsError::Common(e.for_protocol(ProtocolKind::Json))
    }
}

impl From<SecretsError> for ServiceError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Common(error) => error,
            other => ServiceError::new(other.code().to_owned(), other.status(), other.to_string()),
        }
    }
}
