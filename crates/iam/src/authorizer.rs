//! The authorization step every authenticated request passes before its operation runs:
//! `service:Operation` on each resource the operation touches, decided by the policy engine
//! over the caller's policies (identity, boundary, session) exactly as AWS evaluates them.
//! Deny is the default; nothing bypasses this step — the bootstrap administrator is an
//! ordinary user with `AdministratorAccess` attached.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_policy::{
    evaluate, CompiledPolicy, Decision, Evaluation, EvaluationContext, PolicyKind,
};
use rampart_wire::{AuthorizationTarget, ResourcePolicy, ResourcePolicyKind};
use time::OffsetDateTime;

use crate::credentials::ResolvedCredential;

/// What the request wants to do, and the request facts conditions can test.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// `service:Operation`, e.g. `iam:CreateRole`.
    pub action: &'a str,
    /// The resources the operation touches and its condition keys.
    pub target: &'a AuthorizationTarget,
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

/// A resource's policy, ready for evaluation.
#[derive(Debug, Clone)]
pub enum AttachedPolicy {
    /// The resource has no resource-based policy.
    None,
    /// The resource needs one (a role's trust policy) but does not exist or has none.
    Missing(PolicyKind),
    Compiled(Arc<CompiledPolicy>),
}

impl AttachedPolicy {
    /// Compiles what a service returned. A stored document that no longer parses is treated
    /// as missing: it allows nothing.
    pub fn compile(resource: &str, policy: Option<&ResourcePolicy>) -> AttachedPolicy {
        let Some(policy) = policy else {
            return AttachedPolicy::None;
        };
        let kind = match policy.kind {
            ResourcePolicyKind::Resource => PolicyKind::Resource,
            ResourcePolicyKind::Trust => PolicyKind::Trust,
        };
        let Some(document) = &policy.document else {
            return AttachedPolicy::Missing(kind);
        };
        match CompiledPolicy::parse(resource, kind, document) {
            Ok(compiled) => AttachedPolicy::Compiled(Arc::new(compiled)),
            Err(e) => {
                tracing::error!(resource, error = %e, "stored resource policy does not parse");
                AttachedPolicy::Missing(kind)
            }
        }
    }
}

/// Decides whether a caller may perform an action.
#[derive(Debug, Default, Clone)]
pub struct Authorizer;

impl Authorizer {
    /// Every resource must be allowed; the first one that is not decides the answer.
    /// `resource_policies[i]` is the policy of `request.target.resources[i]`.
    pub fn authorize(
        &self,
        caller: &ResolvedCredential,
        request: &AuthorizationRequest<'_>,
        resource_policies: &[AttachedPolicy],
    ) -> Authorization {
        let mut last = None;
        for (i, resource) in request.target.resources.iter().enumerate() {
            let attached = resource_policies.get(i).unwrap_or(&AttachedPolicy::None);
            let evaluation = match attached {
                AttachedPolicy::Missing(kind) => Evaluation {
                    decision: Decision::ImplicitDeny,
                    statements: Vec::new(),
                    missing_allow: Some(*kind),
                },
                _ => {
                    let ctx = self.context(caller, request, resource);
                    let resource_policy = match attached {
                        AttachedPolicy::Compiled(p) => Some(p.as_ref()),
                        _ => None,
                    };
                    evaluate(caller.policies.all().chain(resource_policy), &ctx)
                }
            };
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

    fn context(
        &self,
        caller: &ResolvedCredential,
        request: &AuthorizationRequest<'_>,
        resource: &str,
    ) -> EvaluationContext {
        let mut ctx = EvaluationContext::new(caller.principal.clone(), request.action, resource)
            .with_source_ip(request.source_ip)
            .with_current_time(request.now.unix_timestamp())
            .with_secure_transport(request.secure_transport)
            .with_mfa(caller.identity.mfa_present, None)
            .with_requested_region(request.region);
        if let Some(issued) = caller.identity.token_issue_time {
            ctx = ctx.with_token_issue_time(issued.unix_timestamp());
        }
        let keys = &request.target.condition_keys;
        for (i, (key, _)) in keys.iter().enumerate() {
            if keys[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let values: Vec<&str> = keys
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
                .collect();
            if values.len() == 1 {
                ctx.set(key, values[0]);
            } else {
                ctx.set_values(key, values);
            }
        }
        ctx
    }
}
