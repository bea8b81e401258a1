//! Why a policy document was refused, worded as IAM words it.
//!
//! IAM answers a bad document with the error code `MalformedPolicyDocument` and a short
//! message; [`Malformed`] holds one variant per message we reproduce, and [`PolicyError`]
//! adds *where* the problem is so that a person can find it. The server sends
//! [`PolicyError::aws_message`] on the wire when it wants to be byte-compatible and
//! `to_string()` when it wants to be helpful.

use std::fmt;

/// The AWS error code for every [`PolicyError`].
pub const MALFORMED_POLICY_DOCUMENT: &str = "MalformedPolicyDocument";

/// What is wrong with a policy document. `Display` is IAM's message for it; where IAM's
/// exact wording is not documented the text says so in its variant's doc comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Not JSON, a value of the wrong JSON type, or an unknown element. IAM answers all of
    /// these with the same sentence; `detail` says which one it was.
    Syntax {
        /// What exactly was wrong.
        detail: String,
    },
    /// `Version` is not `2012-10-17` or `2008-10-17`.
    InvalidVersion {
        /// The value found instead.
        found: String,
    },
    /// The document has no `Statement`.
    MissingStatement,
    /// A required element is absent (resource-policy wording, as S3-style services use it).
    MissingRequiredField {
        /// The element's name.
        field: &'static str,
    },
    /// IAM's wording for a statement without `Action`/`NotAction`.
    MissingActions,
    /// IAM's wording for an identity-based statement without `Resource`/`NotResource`.
    MissingResources,
    /// `Effect` is neither `Allow` nor `Deny` (case-sensitive, as in IAM).
    InvalidEffect {
        /// The value found instead.
        found: String,
    },
    /// An identity-based, boundary or session policy names a principal.
    PrincipalNotAllowed,
    /// An element that this kind of policy must not have (e.g. `Resource` in a trust policy).
    ProhibitedField {
        /// The element's name.
        field: &'static str,
    },
    /// A principal value that is not an account, an IAM/STS ARN, a service or `*`.
    InvalidPrincipal {
        /// The principal map key (`AWS`, `Service`…), empty for a bare string.
        kind: String,
        /// The value refused.
        value: String,
    },
    /// An action or condition key without `vendor:` in front.
    MissingVendor,
    /// An action with more than one colon.
    ActionMultipleColons,
    /// A vendor prefix with characters no service prefix has.
    InvalidVendor {
        /// The vendor prefix as written.
        vendor: String,
    },
    /// An action whose name part is empty or holds characters no action name has.
    /// (Our wording: IAM's is not documented.)
    InvalidAction {
        /// The action as written.
        action: String,
    },
    /// A resource that is neither `*` nor an ARN.
    InvalidResource {
        /// The resource as written.
        resource: String,
    },
    /// Two statements share a `Sid`.
    DuplicateSid,
    /// A `Sid` with characters other than `[0-9A-Za-z]` in an IAM policy.
    InvalidSid,
    /// A condition operator that does not exist.
    InvalidConditionOperator {
        /// The operator as written.
        operator: String,
    },
    /// A condition value the operator cannot read (a bad CIDR, date, number…).
    /// (Our wording: IAM accepts some of these silently and never matches them.)
    InvalidConditionValue {
        /// The operator as written.
        operator: String,
        /// The value refused.
        value: String,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Syntax { .. } => f.write_str("Syntax errors in policy."),
            Malformed::InvalidVersion { .. } => f.write_str("The policy failed legacy parsing"),
            Malformed::MissingStatement => f.write_str("Missing required field Statement"),
            Malformed::MissingRequiredField { field } => {
                write!(f, "Missing required field {field}")
            }
            Malformed::MissingActions => f.write_str("Policy statement must contain actions."),
            Malformed::MissingResources => f.write_str("Policy statement must contain resources."),
            Malformed::InvalidEffect { found } => write!(f, "Invalid effect: {found}"),
            Malformed::PrincipalNotAllowed => {
                f.write_str("Policy document should not specify a principal.")
            }
            Malformed::ProhibitedField { field } => write!(f, "Has prohibited field {field}"),
            Malformed::InvalidPrincipal { kind, value } if kind.is_empty() => {
                write!(f, "Invalid principal in policy: {value:?}")
            }
            Malformed::InvalidPrincipal { kind, value } => {
                write!(f, "Invalid principal in policy: {kind:?}:{value:?}")
            }
            Malformed::MissingVendor => f.write_str(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            Malformed::ActionMultipleColons => {
                f.write_str("Actions/Condition can contain only one colon.")
            }
            Malformed::InvalidVendor { vendor } => write!(f, "Vendor {vendor} is not valid"),
            Malformed::InvalidAction { action } => write!(f, "Invalid action: {action}"),
            Malformed::InvalidResource { resource } => {
                write!(f, "Resource {resource} must be in ARN format or \"*\".")
            }
            Malformed::DuplicateSid => {
                f.write_str("Statement IDs (SID) in a single policy must be unique.")
            }
            Malformed::InvalidSid => f.write_str(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies \
                 the regular expression [0-9A-Za-z]*",
            ),
            Malformed::InvalidConditionOperator { operator } => {
                write!(f, "Invalid Condition type : {operator}")
            }
            Malformed::InvalidConditionValue { operator, value } => {
                write!(
                    f,
                    "Invalid value {value:?} for condition operator {operator}"
                )
            }
        }
    }
}

impl Malformed {
    /// The part of the explanation IAM's sentence leaves out, if any.
    fn detail(&self) -> Option<String> {
        match self {
            Malformed::Syntax { detail } => Some(detail.clone()),
            Malformed::InvalidVersion { found } => Some(format!(
                "Invalid Version {found:?}: expected \"2012-10-17\" or \"2008-10-17\""
            )),
            _ => None,
        }
    }
}

/// Where in the document a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The document as a whole (not JSON, no statements…), with the JSON position if known.
    Document {
        /// The line of a JSON syntax error, from 1.
        line: Option<usize>,
        /// The column of a JSON syntax error, from 1.
        column: Option<usize>,
    },
    /// A top-level element such as `Version`.
    Element(String),
    /// A statement, by position (from 0) and `Sid`, and optionally one of its elements.
    Statement {
        /// The statement's position, from 0.
        index: usize,
        /// Its `Sid`, if it has one.
        sid: Option<String>,
        /// The element at fault, if one is.
        field: Option<String>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Document {
                line: Some(line),
                column: Some(column),
            } => write!(f, "line {line} column {column}"),
            Location::Document { .. } => f.write_str("policy document"),
            Location::Element(name) => write!(f, "element {name}"),
            Location::Statement { index, sid, field } => {
                write!(f, "Statement[{index}]")?;
                if let Some(sid) = sid {
                    write!(f, " (Sid {sid:?})")?;
                }
                if let Some(field) = field {
                    write!(f, ", element {field}")?;
                }
                Ok(())
            }
        }
    }
}

/// A policy document IAM would refuse with `MalformedPolicyDocument`.
///
/// `Display` is IAM's message followed by where the problem is, e.g.
/// `Policy document should not specify a principal. (Statement[0] (Sid "A"), element Principal)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// What is wrong.
    pub reason: Malformed,
    /// Where it is.
    pub location: Location,
}

impl PolicyError {
    pub(crate) fn new(reason: Malformed, location: Location) -> Self {
        PolicyError { reason, location }
    }

    /// The message exactly as IAM would put it in the error response, without location.
    pub fn aws_message(&self) -> String {
        self.reason.to_string()
    }

    /// The AWS error code: always `MalformedPolicyDocument`.
    pub fn code(&self) -> &'static str {
        MALFORMED_POLICY_DOCUMENT
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.reason, self.location)?;
        if let Some(detail) = self.reason.detail() {
            write!(f, ": {detail}")?;
        }
        f.write_str(")")
    }
}
