//! What a decision says: the verdict, the statements behind it, and which policy type
//! lacked an allow, so that the server can word AWS's access-denied message.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::document::{Effect, PolicyKind};

/// The verdict, spelled as the IAM policy simulator spells `EvalDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Some policy allows and none denies.
    Allowed,
    /// A `Deny` statement applies.
    ExplicitDeny,
    /// Nothing denies, but the allows that are needed are missing.
    ImplicitDeny,
}

impl Decision {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    /// Reads the simulator spelling.
    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "allowed" => Some(Decision::Allowed),
            "explicitDeny" => Some(Decision::ExplicitDeny),
            "implicitDeny" => Some(Decision::ImplicitDeny),
            _ => None,
        }
    }

    /// True for [`Decision::Allowed`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The policy's name, as given when it was compiled.
    pub policy: Arc<str>,
    /// The policy's kind.
    pub kind: PolicyKind,
    /// The statement's position in the policy, from 0.
    pub index: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<Arc<str>>,
    /// Its effect.
    pub effect: Effect,
}

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The verdict.
    pub decision: Decision,
    /// The statements behind it: for an explicit deny, every `Deny` that applied; for an
    /// allow, every `Allow` that applied; for an implicit deny, the `Allow`s that applied
    /// but were not enough (often none).
    pub statements: Vec<MatchedStatement>,
    /// For an implicit deny, the policy type whose allow was missing: `Identity`,
    /// `Boundary`, `Session`, `Resource` (cross-account) or `Trust`.
    pub missing_allow: Option<PolicyKind>,
}

impl Evaluation {
    /// True when the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision.is_allowed()
    }

    /// The policy type of the first deny that applied, for an explicit deny.
    pub fn denied_by(&self) -> Option<PolicyKind> {
        if self.decision != Decision::ExplicitDeny {
            return None;
        }
        self.statements.first().map(|s| s.kind)
    }

    /// The clause AWS appends to "User: … is not authorized to perform: … on resource: …":
    /// `with an explicit deny in an identity-based policy` or
    /// `because no permissions boundary allows the iam:CreateRole action`.
    /// `None` for an allow, or an implicit deny with nothing to blame.
    pub fn explanation(&self, action: &str) -> Option<String> {
        match self.decision {
            Decision::Allowed => None,
            Decision::ExplicitDeny => {
                let kind = self.denied_by()?;
                Some(format!(
                    "with an explicit deny in {} {}",
                    kind.aws_article(),
                    kind.aws_phrase()
                ))
            }
            Decision::ImplicitDeny => {
                let kind = self.missing_allow?;
                Some(format!(
                    "because no {} allows the {action} action",
                    kind.aws_phrase()
                ))
            }
        }
    }
}
