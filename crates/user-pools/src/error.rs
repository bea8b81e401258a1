//! Cognito's errors, one variant per AWS error code. Cognito answers every error with HTTP 400
//! but for its own failures (`InternalErrorException`, 500) and `UnauthorizedException` (401,
//! RevokeToken); the code, not the status, is what clients branch on.

use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

/// A cognito-idp error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserPoolsError {
    /// The pool, client or group does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// A member's value is not acceptable, or the pool's configuration refuses the request.
    #[error("{0}")]
    InvalidParameter(String),
    /// A user with the name already exists.
    #[error("{0}")]
    UsernameExists(String),
    /// The user does not exist.
    #[error("{0}")]
    UserNotFound(String),
    /// The caller may not do this: wrong password or secret hash, disabled user, unsigned
    /// request without what proves who it is.
    #[error("{0}")]
    NotAuthorized(String),
    /// The password breaks the pool's policy.
    #[error("{0}")]
    InvalidPassword(String),
    /// The code is not the one sent.
    #[error("{0}")]
    CodeMismatch(String),
    /// The code has expired (or there is none to use).
    #[error("{0}")]
    ExpiredCode(String),
    /// Too many requests from this source.
    #[error("{0}")]
    TooManyRequests(String),
    /// Too many wrong codes or passwords in a row.
    #[error("{0}")]
    TooManyFailedAttempts(String),
    /// A quota (pools, clients, groups, codes per hour).
    #[error("{0}")]
    LimitExceeded(String),
    /// The user has not confirmed its sign-up.
    #[error("{0}")]
    UserNotConfirmed(String),
    /// Another user already holds the alias (email, phone) as a verified alias.
    #[error("{0}")]
    AliasExists(String),
    /// A group with the name already exists.
    #[error("{0}")]
    GroupExists(String),
    /// The user's state refuses the request (AdminCreateUser RESEND for a confirmed user).
    #[error("{0}")]
    UnsupportedUserState(String),
    /// The user must reset its password first.
    #[error("{0}")]
    PasswordResetRequired(String),
    /// The pool's configuration does not allow the request.
    #[error("{0}")]
    InvalidUserPoolConfiguration(String),
    /// The code could not be delivered.
    #[error("{0}")]
    CodeDeliveryFailure(String),
    /// The tags are not acceptable.
    #[error("{0}")]
    UserPoolTagging(String),
    /// Two requests changed the same thing at once.
    #[error("{0}")]
    ConcurrentModification(String),
    /// The client may not use the flow or operation.
    #[error("{0}")]
    Unauthorized(String),
    /// The operation is not supported for the request's configuration.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The token is not of a type the operation takes (RevokeToken given an ID or access
    /// token).
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// A member breaks a constraint of the service model (length, pattern, range): AWS's
    /// front end answers these before Cognito sees the request.
    #[error("{0}")]
    Validation(String),
    /// The code given to verify a software token is wrong.
    #[error("{0}")]
    EnableSoftwareTokenMfa(String),
    /// Something inside Rampart failed (the store, a record that does not decode).
    #[error("{0}")]
    Internal(String),
    /// An error every JSON service shares (`SerializationException`, …), already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl UserPoolsError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::UsernameExists(_) => "UsernameExistsException",
            Self::UserNotFound(_) => "UserNotFoundException",
            Self::NotAuthorized(_) => "NotAuthorizedException",
            Self::InvalidPassword(_) => "InvalidPasswordException",
            Self::CodeMismatch(_) => "CodeMismatchException",
            Self::ExpiredCode(_) => "ExpiredCodeException",
            Self::TooManyRequests(_) => "TooManyRequestsException",
            Self::TooManyFailedAttempts(_) => "TooManyFailedAttemptsException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::UserNotConfirmed(_) => "UserNotConfirmedException",
            Self::AliasExists(_) => "AliasExistsException",
            Self::GroupExists(_) => "GroupExistsException",
            Self::UnsupportedUserState(_) => "UnsupportedUserStateException",
            Self::PasswordResetRequired(_) => "PasswordResetRequiredException",
            Self::InvalidUserPoolConfiguration(_) => "InvalidUserPoolConfigurationException",
            Self::CodeDeliveryFailure(_) => "CodeDeliveryFailureException",
            Self::UserPoolTagging(_) => "UserPoolTaggingException",
            Self::ConcurrentModification(_) => "ConcurrentModificationException",
            Self::Unauthorized(_) => "UnauthorizedException",
            Self::UnsupportedOperation(_) => "UnsupportedOperationException",
            Self::UnsupportedTokenType(_) => "UnsupportedTokenTypeException",
            Self::Validation(_) => "ValidationException",
            Self::EnableSoftwareTokenMfa(_) => "EnableSoftwareTokenMFAException",
            Self::Internal(_) => "InternalErrorException",
            Self::Common(e) => &e.code,
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Internal(_) => 500,
            Self::Unauthorized(_) => 401,
            Self::Common(e) => e.status,
            _ => 400,
        }
    }

    /// A member outside what the service model allows: `ValidationException`, worded as
    /// AWS's validation errors are.
    pub fn constraint(value: impl std::fmt::Display, field: &str, constraint: &str) -> Self {
        Self::Validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The same without echoing the value (passwords, codes, secrets).
    pub fn secret_constraint(field: &str, constraint: &str) -> Self {
        Self::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The pool a request names does not exist.
    pub fn pool_not_found(pool_id: &str) -> Self {
        Self::ResourceNotFound(format!("User pool {pool_id} does not exist."))
    }

    /// The app client a request names does not exist in the pool.
    pub fn client_not_found(client_id: &str) -> Self {
        Self::ResourceNotFound(format!("User pool client {client_id} does not exist."))
    }

    /// The user a request names does not exist.
    pub fn user_not_found() -> Self {
        Self::UserNotFound("User does not exist.".into())
    }

    /// The group a request names does not exist.
    pub fn group_not_found() -> Self {
        Self::ResourceNotFound("Group not found.".into())
    }
}

impl From<StoreError> for UserPoolsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        match e {
            StoreError::Conflict { .. } => Self::ConcurrentModification(
                "The resource was changed by another request. Retry the request.".into(),
            ),
            _ => Self::Internal("An error occurred on the server side.".into()),
        }
    }
}

impl From<CommonError> for UserPoolsError {
    fn from(e: CommonError) -> Self {
        Self::Common(e.for_protocol(ProtocolKind::Json))
    }
}

impl From<UserPoolsError> for ServiceError {
    fn from(e: UserPoolsError) -> Self {
        match e {
            UserPoolsError::Common(error) => error,
            other => ServiceError::new(other.code().to_owned(), other.status(), other.to_string()),
        }
    }
}
