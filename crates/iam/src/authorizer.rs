//! The authorization step every authenticated request passes before its operation runs:
//! `service:Operation` on each resource the operation touches, decided by the policy engine
//! over the caller's policies (identity, boundary, session) exactly as AWS evaluates them.
//! Deny is the default; nothing bypasses this step — the bootstrap administrator is an
//! ordinary user with `AdministratorAccess` attached.

use std::net::IpAddr;

use rampart_policy::{evaluate, Decision, Evaluation, EvaluationContext};
use time::OffsetDateTime;

use crate::credentials::ResolvedCredential;

/// What the request wants to do, and the request facts conditions can test.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// `service:Operation`, e.g. `iam:CreateRole`.
    pub action: &'a str,
    /// The resources the operation touches (`*` when it names none).
    pub resources: &'a [String],
    pub source_ip: IpAddr,
    pub secure_transport: bool,
    /// The region the request was signed for (`aws:RequestedRegion`).
    pub region: &'a str,
    pub now: OffsetDateTime,
}

/// The decision for a whole request, and the resource it was decided on.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub evaluation: Evaluation,
    /// The resource that was denied, or the last one allowed.
    pub resource: String,
}

impl Authorization {
    pub fn is_allowed(&self) -> bool {
        self.evaluation.is_allowed()
    }

    /// The matched statements, for the audit trail: `policy#index(Sid)`.
    pub fn matched_statements(&self) -> Vec<String> {
        self.evaluation
            .statements
            .iter()
            .map(|s| match &s.sid {
                Some(sid) => format!("{}#{}({sid})", s.policy, s.index),
                None => format!("{}#{}", s.policy, s.index),
            })
            .collect()
    }

    /// AWS's wording for a denial.
    pub fn denial_message(&self, caller_arn: &str, action: &str) -> String {
        let why = self.evaluation.explanation(action).unwrap_or_else(|| {
            format!("because no identity-based policy allows the {action} action")
        });
        format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {} {why}",
            self.resource
        )
    }
}

/// Decides whether a caller may perform an action.
#[derive(Debug, Default, Clone)]
pub struct Authorizer;

impl Authorizer {
    /// Every resource must be allowed; the first one that is not decides the answer.
    pub fn authorize(
        &self,
        caller: &ResolvedCredential,
        request: &AuthorizationRequest<'_>,
    ) -> Authorization {
        let mut last = None;
        for resource in request.resources {
            let ctx = EvaluationContext::new(caller.principal.clone(), request.action, resource)
                .with_source_ip(request.source_ip)
                .with_current_time(request.now.unix_timestamp())
                .with_secure_transport(request.secure_transport)
                .with_mfa(caller.identity.mfa_present, None)
                .with_requested_region(request.region);
            let evaluation = evaluate(caller.policies.all(), &ctx);
            let authorization = Authorization {
                evaluation,
                resource: resource.clone(),
            };
            if authorization.evaluation.decision != Decision::Allowed {
                return authorization;
            }
            last = Some(authorization);
        }
        last.unwrap_or_else(|| Authorization {
            evaluation: Evaluation {
                decision: Decision::ImplicitDeny,
                statements: Vec::new(),
                missing_allow: None,
            },
            resource: "*".to_owned(),
        })
    }
}
