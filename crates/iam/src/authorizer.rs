//! The authorization step every authenticated request passes before its operation runs: each
//! check the operation declares (`service:Action` on a resource, with condition keys and the
//! resource's own policy) is decided by the policy engine over the caller's policies
//! (identity, boundary, session) exactly as AWS evaluates them.
//! Deny is the default; nothing bypasses this step — the bootstrap administrator is an
//! ordinary user with `AdministratorAccess` attached.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_policy::{
    evaluate, CompiledPolicy, Decision, Evaluation, EvaluationContext, PolicyKind,
};
use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};
use time::OffsetDateTime;

use crate::credentials::ResolvedCredential;

/// The facts about the request itself that conditions can test, the same for every check.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub source_ip: IpAddr,
    pub secure_transport: bool,
    /// The region the request is served in (`aws:RequestedRegion`).
    pub region: &'a str,
    pub now: OffsetDateTime,
}

/// The decision on one check, and what it was made on.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub evaluation: Evaluation,
    /// The action checked.
    pub action: String,
    /// The resource it was checked on (`*` for unscoped actions).
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
    pub fn denial_message(&self, caller_arn: &str) -> String {
        let action = &self.action;
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
    /// Decides one check for `caller`.
    pub fn authorize(
        &self,
        caller: &ResolvedCredential,
        check: &Check,
        facts: &RequestFacts<'_>,
    ) -> Authorization {
        let resource = check.resource.as_str();
        let attached = AttachedPolicy::compile(resource, check.resource_policy.as_ref());
        let evaluation = match &attached {
            AttachedPolicy::Missing(kind) => Evaluation {
                decision: Decision::ImplicitDeny,
                statements: Vec::new(),
                missing_allow: Some(*kind),
            },
            _ => {
                let ctx = self.context(caller, check, facts);
                let resource_policy = match &attached {
                    AttachedPolicy::Compiled(p) => Some(p.as_ref()),
                    _ => None,
                };
                evaluate(caller.policies.all().chain(resource_policy), &ctx)
            }
        };
        Authorization {
            evaluation,
            action: check.action.clone(),
            resource: resource.to_owned(),
        }
    }

    fn context(
        &self,
        caller: &ResolvedCredential,
        check: &Check,
        facts: &RequestFacts<'_>,
    ) -> EvaluationContext {
        let mut ctx = EvaluationContext::new(
            caller.principal.clone(),
            &check.action,
            check.resource.as_str(),
        )
        .with_source_ip(facts.source_ip)
        .with_current_time(facts.now.unix_timestamp())
        .with_secure_transport(facts.secure_transport)
        .with_requested_region(facts.region);
        // AWS: aws:MultiFactorAuthPresent is present only for temporary credentials; a
        // long-term access key leaves it absent, so `Null: true` deny patterns fire.
        if caller.identity.temporary {
            ctx = ctx.with_mfa(caller.identity.mfa_present, None);
        }
        if let Some(source_identity) = &caller.identity.lineage.source_identity {
            ctx.set("aws:SourceIdentity", source_identity.as_str());
        }
        if let Some(issued) = caller.identity.token_issue_time {
            ctx = ctx.with_token_issue_time(issued.unix_timestamp());
        }
        let keys = &check.condition_keys;
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
