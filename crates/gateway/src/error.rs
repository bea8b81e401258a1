//! API Gateway's errors, one variant per AWS error code, each with the HTTP status API Gateway
//! answers with (botocore's apigatewayv2 model: `BadRequestException` 400, `NotFoundException`
//! 404, `ConflictException` 409, `TooManyRequestsException` 429).

use rampart_store::StoreError;
use rampart_wire::{CommonError, ProtocolKind, ServiceError};

/// An API Gateway error as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// A member's value is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The API, route, integration, authorizer or stage does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A resource with that key exists already (a route key, a stage name).
    #[error("{0}")]
    Conflict(String),
    /// More requests than this host serves at once.
    #[error("{0}")]
    TooManyRequests(String),
    /// Something inside Rampart failed (the store, a record that does not decode).
    #[error("{0}")]
    Internal(String),
    /// An error every rest-json service shares, already rendered.
    #[error("{0}")]
    Common(ServiceError),
}

impl GatewayError {
    /// The AWS error code.
    pub fn code(&self) -> &str {
        match self {
            GatewayError::BadRequest(_) => "BadRequestException",
            GatewayError::NotFound(_) => "NotFoundException",
            GatewayError::Conflict(_) => "ConflictException",
            GatewayError::TooManyRequests(_) => "TooManyRequestsException",
            GatewayError::Internal(_) => "InternalServerErrorException",
            GatewayError::Common(e) => &e.code,
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(&self) -> u16 {
        match self {
            GatewayError::BadRequest(_) => 400,
            GatewayError::NotFound(_) => 404,
            GatewayError::Conflict(_) => 409,
            GatewayError::TooManyRequests(_) => 429,
            GatewayError::Internal(_) => 500,
            GatewayError::Common(e) => e.status,
        }
    }

    /// `Invalid <what> identifier specified <id>`, API Gateway's words for an unknown resource.
    pub fn not_found(what: &str, id: &str) -> Self {
        GatewayError::NotFound(format!("Invalid {what} identifier specified {id}"))
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        match e {
            StoreError::Conflict { .. } => GatewayError::Conflict(
                "Unable to complete operation due to concurrent modification. Please try again later."
                    .into(),
            ),
            _ => GatewayError::Internal("An error occurred on the server side.".into()),
        }
    }
}

impl From<CommonError> for GatewayError {
    fn from(e: CommonError) -> Self {
        GatewayError::Common(e.for_protocol(ProtocolKind::RestJson))
    }
}

impl From<GatewayError> for ServiceError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Common(error) => error,
            other => ServiceError::new(other.code().to_owned(), other.status(), other.to_string()),
        }
    }
}
