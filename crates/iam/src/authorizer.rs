//! The authorization step every authenticated request passes before its operation runs.
//!
//! Until the policy engine is wired in (the IAM issue), the only policy Rampart knows how to
//! honour is `AdministratorAccess`: principals with it attached are allowed, everyone else is
//! denied. Deny is the default; nothing bypasses this step.

use crate::credentials::ResolvedCredential;
use crate::entities::ADMINISTRATOR_ACCESS_ARN;

/// What the request wants to do.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// `service:Operation`, e.g. `sts:GetCallerIdentity`.
    pub action: &'a str,
    /// The resources the operation touches (`*` when it names none).
    pub resources: &'a [String],
}

/// The outcome, with the spelling of AWS's policy simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed { matched: Vec<String> },
    ExplicitDeny { matched: Vec<String> },
    ImplicitDeny,
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allowed { .. } => "allowed",
            Decision::ExplicitDeny { .. } => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    pub fn matched(&self) -> &[String] {
        match self {
            Decision::Allowed { matched } | Decision::ExplicitDeny { matched } => matched,
            Decision::ImplicitDeny => &[],
        }
    }
}

/// Decides whether a caller may perform an action.
#[derive(Debug, Default, Clone)]
pub struct Authorizer;

impl Authorizer {
    pub fn authorize(
        &self,
        caller: &ResolvedCredential,
        _request: &AuthorizationRequest<'_>,
    ) -> Decision {
        if caller
            .attached_policies
            .iter()
            .any(|p| p == ADMINISTRATOR_ACCESS_ARN)
        {
            Decision::Allowed {
                matched: vec![format!("{ADMINISTRATOR_ACCESS_ARN}#0")],
            }
        } else {
            Decision::ImplicitDeny
        }
    }
}
