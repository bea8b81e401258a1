//! Lambda's errors, one variant per AWS error code, each with the HTTP status Lambda answers
//! with (botocore's model: `InvalidParameterValueException` 400, `ResourceNotFoundException`
//! 404, `ResourceConflictException` 409, `ServiceException` 500, …).

use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

/// Why an invocation was throttled (`TooManyRequestsException`'s `Reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The function runs as many invocations as its reserved concurrency.
    ReservedFunctionConcurrentInvocationLimitExceeded,
    /// The account's unreserved concurrency, or this host's environments, are all in use.
    ConcurrentInvocationLimitExceeded,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
            ThrottleReason::ConcurrentInvocationLimitExceeded => {
                "ConcurrentInvocationLimitExceeded"
            }
        }
    }
}

/// A Lambda error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionsError {
    /// A member's value is not acceptable (a role Lambda cannot assume, a bad zip, …).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// The function does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The function exists already, or its state refuses the operation (`Pending`).
    #[error("{0}")]
    ResourceConflict(String),
    /// An invocation's payload is larger than Lambda accepts.
    #[error("{0}")]
    RequestTooLarge(String),
    /// A deployment package larger than a direct upload may be, or an asynchronous
    /// invocation's payload past 256 KB.
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// An invocation's payload is not JSON.
    #[error("{0}")]
    InvalidRequestContent(String),
    /// More concurrent executions than the function's reservation, the account or this host
    /// allows (`Reason` says which).
    #[error("{1}")]
    TooManyRequests(ThrottleReason, String),
    /// `RevisionId` does not name the function's current revision.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A resource policy past Lambda's size limit.
    #[error("{0}")]
    PolicyLengthExceeded(String),
    /// A service principal the function's resource policy does not allow (the in-process
    /// invoker's refusal; callers with credentials are refused by the authorizer).
    #[error("{0}")]
    AccessDenied(String),
    /// The function's runtime cannot run on this host.
    #[error("{0}")]
    InvalidRuntime(String),
    /// A member breaks a constraint of the service model (length, range, enum): AWS's front
    /// end answers these before Lambda sees the request.
    #[error("{0}")]
    Validation(String),
    /// Something inside Rampart failed (the store, a record that does not decode, a process
    /// that could not be started).
    #[error("{0}")]
    Service(String),
    /// An error every rest-json service shares, already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl FunctionsError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            FunctionsError::InvalidParameterValue(_) => "InvalidParameterValueException",
            FunctionsError::ResourceNotFound(_) => "ResourceNotFoundException",
            FunctionsError::ResourceConflict(_) => "ResourceConflictException",
            FunctionsError::RequestTooLarge(_) => "RequestTooLargeException",
            FunctionsError::RequestEntityTooLarge(_) => "RequestEntityTooLargeException",
            FunctionsError::InvalidRequestContent(_) => "InvalidRequestContentException",
            FunctionsError::TooManyRequests(..) => "TooManyRequestsException",
            FunctionsError::PreconditionFailed(_) => "PreconditionFailedException",
            FunctionsError::PolicyLengthExceeded(_) => "PolicyLengthExceededException",
            FunctionsError::AccessDenied(_) => "AccessDeniedException",
            FunctionsError::InvalidRuntime(_) => "InvalidRuntimeException",
            FunctionsError::Validation(_) => "ValidationException",
            FunctionsError::Service(_) => "ServiceException",
            FunctionsError::Common(e) => &e.code,
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(&self) -> u16 {
        match self {
            FunctionsError::ResourceNotFound(_) => 404,
            FunctionsError::ResourceConflict(_) => 409,
            FunctionsError::RequestTooLarge(_) | FunctionsError::RequestEntityTooLarge(_) => 413,
            FunctionsError::TooManyRequests(..) => 429,
            FunctionsError::PreconditionFailed(_) => 412,
            FunctionsError::AccessDenied(_) => 403,
            FunctionsError::InvalidRuntime(_) => 502,
            FunctionsError::Service(_) => 500,
            FunctionsError::Common(e) => e.status,
            _ => 400,
        }
    }

    /// A member outside what the service model allows, worded as AWS's validation errors are.
    pub fn constraint(value: impl std::fmt::Display, field: &str, constraint: &str) -> Self {
        FunctionsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// The function `arn` does not exist.
    pub fn function_not_found(arn: &str) -> Self {
        FunctionsError::ResourceNotFound(format!("Function not found: {arn}"))
    }
}

impl From<StoreError> for FunctionsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        FunctionsError::Service(match e {
            StoreError::Conflict { .. } => {
                "The function was changed by another request. Retry the request.".into()
            }
            _ => "An error occurred on the server side.".into(),
        })
    }
}

impl From<CommonError> for FunctionsError {
    fn from(e: CommonError) -> Self {
        FunctionsError::Common(e.for_protocol(ProtocolKind::RestJson))
    }
}

impl From<FunctionsError> for ServiceError {
    fn from(e: FunctionsError) -> Self {
        match e {
            FunctionsError::Common(error) => error,
            FunctionsError::TooManyRequests(reason, message) => {
                ServiceError::new("TooManyRequestsException", 429, message)
                    .with_member("Type", "User")
                    .with_member("Reason", reason.as_str())
            }
            other => {
                // Lambda's error shapes carry whose fault it was (`Type`), as botocore parses it.
                let fault = if other.status() >= 500 {
                    "Service"
                } else {
                    "User"
                };
                ServiceError::new(other.code().to_owned(), other.status(), other.to_string())
                    .with_member("Type", fault)
            }
        }
    }
}
