//! The authenticated caller of a request. It travels with the request from the authenticator
//! to the operation, the policy engine and the audit record.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What kind of principal signed the request (the `aws:PrincipalType` condition key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalType {
    /// The account itself (`arn:aws:iam::<acct>:root`).
    Account,
    /// A long-term IAM user.
    User,
    /// A role session obtained through `sts:AssumeRole`.
    AssumedRole,
    /// A session from `sts:GetSessionToken` (temporary credentials of a user).
    FederatedUser,
}

impl PrincipalType {
    /// The spelling AWS uses for `aws:PrincipalType`.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            PrincipalType::Account => "Account",
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::FederatedUser => "FederatedUser",
        }
    }
}

/// Everything known about who made a request and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account the principal belongs to.
    pub account_id: String,
    /// The principal's ARN as `sts:GetCallerIdentity` reports it.
    pub arn: String,
    /// The unique id (`AIDA…` for users, `AROA…:session` for role sessions).
    pub user_id: String,
    pub principal_type: PrincipalType,
    /// The user or role name (for `aws:username` and policy variables).
    pub name: String,
    /// The access key that signed the request.
    pub access_key_id: String,
    /// True for `ASIA…` temporary credentials.
    pub temporary: bool,
    /// The role session name, for assumed roles.
    pub session_name: Option<String>,
    /// When the temporary credentials were issued (`aws:TokenIssueTime`).
    pub token_issue_time: Option<OffsetDateTime>,
    /// The TCP peer address.
    pub source_ip: IpAddr,
    /// Whether the request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Whether the credentials were obtained with MFA (`aws:MultiFactorAuthPresent`).
    pub mfa_present: bool,
    /// What a role session carries into the sessions it assumes (role chaining).
    pub lineage: SessionLineage,
}

/// What a role session passes on when it assumes another role: AWS carries the source
/// identity and the transitive session tags through every link of a role chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionLineage {
    /// The session's `SourceIdentity` (`aws:SourceIdentity`), fixed once set.
    pub source_identity: Option<String>,
    /// Session tags marked transitive, with their values.
    pub transitive_tags: Vec<(String, String)>,
}
