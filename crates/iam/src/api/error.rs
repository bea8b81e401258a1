//! IAM's errors, one variant per AWS error code, each with the HTTP status IAM answers with.
//! Handlers build them with the constructors below so the messages keep AWS's wording, which
//! scripts and SDK users match on.

use rampart_store::StoreError;
use rampart_wire::ServiceError;

/// An IAM error as the wire carries it: the variant is the `<Code>`, the text the `<Message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    InvalidInput(String),
    /// Another request kept changing the same entities while this one retried.
    #[error("{0}")]
    ConcurrentModification(String),
    /// The store could not be reached.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// The store holds something this version cannot read.
    #[error("{0}")]
    ServiceFailure(String),
}

impl IamError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::ValidationError(_) => "ValidationError",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::ConcurrentModification(_) => "ConcurrentModification",
            IamError::ServiceUnavailable(_) => "ServiceUnavailable",
            IamError::ServiceFailure(_) => "ServiceFailure",
        }
    }

    /// The HTTP status IAM answers the code with.
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::LimitExceeded(_)
            | IamError::DeleteConflict(_)
            | IamError::ConcurrentModification(_) => 409,
            IamError::MalformedPolicyDocument(_)
            | IamError::ValidationError(_)
            | IamError::InvalidInput(_) => 400,
            IamError::ServiceUnavailable(_) => 503,
            IamError::ServiceFailure(_) => 500,
        }
    }

    /// "The user with name bob cannot be found." (`noun` is user, group, role…).
    pub fn no_such(noun: &str, name: &str) -> Self {
        IamError::NoSuchEntity(format!("The {noun} with name {name} cannot be found."))
    }

    /// "User with name bob already exists." (`noun` capitalised: User, Group, Role).
    pub fn already_exists(noun: &str, name: &str) -> Self {
        IamError::EntityAlreadyExists(format!("{noun} with name {name} already exists."))
    }

    /// The policy ARN names nothing attachable.
    pub fn no_such_policy(arn: &str) -> Self {
        IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
    }

    /// AWS's wording for a member that breaks its constraint.
    pub fn constraint(member: &str, value: &str, constraint: &str) -> Self {
        IamError::ValidationError(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// A required member that is absent.
    pub fn missing(member: &str) -> Self {
        IamError::ValidationError(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))
    }

    /// Retries ran out because other writers kept winning.
    pub fn concurrent() -> Self {
        IamError::ConcurrentModification(
            "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.".into(),
        )
    }
}

/// `UserName` → `userName`, the spelling AWS uses for members in validation messages.
pub fn lower_first(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "IAM store unavailable");
                IamError::ServiceUnavailable(
                    "The service is unavailable. Please try again later.".into(),
                )
            }
            // A conflict that reaches here was not retried: report it as AWS would.
            StoreError::Conflict { .. } => IamError::concurrent(),
            other => {
                tracing::error!(error = %other, "IAM store failure");
                IamError::ServiceFailure(
                    "The request processing has failed because of an unknown error, exception or failure.".into(),
                )
            }
        }
    }
}

impl From<IamError> for ServiceError {
    fn from(e: IamError) -> Self {
        ServiceError::new(e.code(), e.status(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e: ServiceError = IamError::no_such("user", "bob").into();
        assert_eq!(e.code, "NoSuchEntity");
        assert_eq!(e.status, 404);
        assert_eq!(e.message, "The user with name bob cannot be found.");
        assert_eq!(IamError::already_exists("Role", "r").status(), 409);
        assert!(IamError::missing("UserName")
            .to_string()
            .contains("'userName'"));
        assert_eq!(
            ServiceError::from(IamError::from(StoreError::Unavailable("x".into()))).status,
            503
        );
    }
}
