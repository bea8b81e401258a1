//! The parsed, validated form of a policy document: the grammar's nouns
//! ("Grammar of the IAM JSON policy language" in the IAM User Guide).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::conditions::ConditionOperator;

/// What a policy is attached to, which decides both what it may contain and how it takes
/// part in a decision ("Policy types" and "Policy evaluation logic" in the IAM User Guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Attached to a user, group or role; names no principal; an allow grants.
    Identity,
    /// Attached to a resource (a function, a secret…); names principals.
    Resource,
    /// A role's trust policy: a resource policy on the role, with no `Resource` element,
    /// that must itself allow `sts:AssumeRole*` (trust and KMS key policies are the
    /// documented exceptions to "an allow in either suffices").
    Trust,
    /// A session policy passed to `AssumeRole*` (`Policy`/`PolicyArns`) or
    /// `GetFederationToken`: it only limits, never grants.
    Session,
    /// A permissions boundary: the most an identity-based policy can grant.
    Boundary,
}

impl PolicyKind {
    /// True for the kinds written in IAM's own grammar, whose `Sid`s must be alphanumeric
    /// and whose errors use IAM's wording.
    pub(crate) fn is_iam(self) -> bool {
        !matches!(self, PolicyKind::Resource)
    }

    /// True for the kinds whose statements name principals.
    pub fn names_principals(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }

    /// The noun AWS uses in an access-denied message, with its article:
    /// "no identity-based policy allows…", "with an explicit deny in a permissions boundary".
    pub fn aws_phrase(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based policy",
            PolicyKind::Resource | PolicyKind::Trust => "resource-based policy",
            PolicyKind::Session => "session policy",
            PolicyKind::Boundary => "permissions boundary",
        }
    }

    /// The indefinite article that goes before [`PolicyKind::aws_phrase`].
    pub fn aws_article(self) -> &'static str {
        match self {
            PolicyKind::Identity => "an",
            _ => "a",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Resource => "resource",
            PolicyKind::Trust => "trust",
            PolicyKind::Session => "session",
            PolicyKind::Boundary => "boundary",
        })
    }
}

/// The policy language version ("IAM JSON policy elements: Version").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17`, also what an absent `Version` means: no policy variables.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

impl PolicyVersion {
    /// The string written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::V2008_10_17 => "2008-10-17",
            PolicyVersion::V2012_10_17 => "2012-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Effect {
    /// Grants, if nothing denies.
    Allow,
    /// Denies, whatever else allows.
    Deny,
}

/// A whole policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    /// The `Version` element as written; `None` when absent (2008 semantics).
    pub version: Option<PolicyVersion>,
    /// The optional `Id`.
    pub id: Option<String>,
    /// The statements, in document order (a lone statement object becomes one entry).
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Whether `${…}` is a policy variable here. Only `2012-10-17` substitutes; under
    /// `2008-10-17` or no `Version` "variables … are treated as literal strings".
    pub fn substitutes_variables(&self) -> bool {
        self.version == Some(PolicyVersion::V2012_10_17)
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The optional statement id.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`, in resource and trust policies.
    pub principal: Option<PrincipalElement>,
    /// `Action` or `NotAction`.
    pub action: ActionElement,
    /// `Resource` or `NotResource`; absent in trust policies.
    pub resource: Option<ResourceElement>,
    /// Every (operator, key, values) triple of the `Condition` block, in document order.
    pub conditions: Vec<Condition>,
}

/// `Principal` (`negated == false`) or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalElement {
    /// True for `NotPrincipal`.
    pub negated: bool,
    /// Who is named.
    pub principals: Principals,
}

/// The value of a principal element.
#[derive(Debug, Clone, PartialEq)]
pub enum Principals {
    /// `"Principal": "*"`: everyone, including anonymous callers.
    Everyone,
    /// `{"AWS": …, "Service": …}`, each kind with its list of identifiers.
    Map(Vec<(PrincipalKind, Vec<String>)>),
}

/// The keys of a principal map ("AWS JSON policy elements: Principal").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// Accounts, IAM users and roles, role sessions, federated users.
    Aws,
    /// Service principals such as `lambda.amazonaws.com`.
    Service,
    /// Web identity and SAML providers.
    Federated,
    /// S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalKind {
    /// The key as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::Service => "Service",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::CanonicalUser => "CanonicalUser",
        }
    }

    pub(crate) fn from_key(key: &str) -> Option<Self> {
        match key {
            "AWS" => Some(PrincipalKind::Aws),
            "Service" => Some(PrincipalKind::Service),
            "Federated" => Some(PrincipalKind::Federated),
            "CanonicalUser" => Some(PrincipalKind::CanonicalUser),
            _ => None,
        }
    }
}

/// `Action` (`negated == false`) or `NotAction`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionElement {
    /// True for `NotAction`.
    pub negated: bool,
    /// The action patterns as written (`service:Name` with `*`/`?`, or `*`).
    pub actions: Vec<String>,
}

/// `Resource` (`negated == false`) or `NotResource`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceElement {
    /// True for `NotResource`.
    pub negated: bool,
    /// The resource patterns as written (ARNs with `*`/`?` and variables, or `*`).
    pub resources: Vec<String>,
}

/// One operator/key pair of a `Condition` block with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator, with its set qualifier and `IfExists` suffix.
    pub operator: ConditionOperator,
    /// The condition key as written (compared case-insensitively).
    pub key: String,
    /// The values as text (JSON numbers and booleans in their JSON spelling).
    pub values: Vec<String>,
}
