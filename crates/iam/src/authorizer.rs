//! The authorization step every authenticated request passes before its operation runs: each
//! check the operation declares (`service:Action` on a resource, with condition keys and the
//! resource's own policy) is decided by the policy engine over the caller's policies
//! (identity, boundary, session) exactly as AWS evaluates them.
//! Deny is the default; nothing bypasses this step — the bootstrap administrator is an
//! ordinary user with `AdministratorAccess` attached.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_policy::{
    evaluate, CompiledPolicy, Decision, Evaluation, EvaluationContext, PolicyKind, RequestPrincipal,
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
    /// How a denial names the resource (see [`Check::named_as`]).
    pub named_as: Option<String>,
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

    /// AWS's wording for a denial; `caller` as [`Caller::describe`] gives it.
    pub fn denial_message(&self, caller: &str) -> String {
        let action = &self.action;
        let why = self.evaluation.explanation(action).unwrap_or_else(|| {
            format!("because no identity-based policy allows the {action} action")
        });
        format!(
            "{caller} is not authorized to perform: {action} on resource: {} {why}",
            self.named_as.as_deref().unwrap_or(&self.resource)
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

/// An AWS service acting on a resource through that resource's policy:
/// `apigateway.amazonaws.com` invoking a function, `lambda.amazonaws.com` assuming a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// `apigateway.amazonaws.com`.
    pub service: String,
    /// The resource on whose behalf it acts (`aws:SourceArn`), e.g. the API's ARN.
    pub source_arn: Option<String>,
    /// That resource's account (`aws:SourceAccount`).
    pub source_account: Option<String>,
}

/// A caller proven by a web identity token (OIDC JWT) rather than by an access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The provider as trust policies name it in `"Federated"` (the issuer without its
    /// scheme: `cognito-idp.us-east-1.amazonaws.com/us-east-1_abc`).
    pub provider: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `aud` (or a Cognito access token's `client_id`).
    pub audiences: Vec<String>,
}

/// Who a check is decided for. Only an IAM identity has policies of its own; every other
/// caller can be allowed only by the resource's policy naming it — there is no side door.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An IAM identity that signed with an access key (user, role session, session token):
    /// its identity policies, boundary and session policies, with the resource's policy.
    Credential(&'a ResolvedCredential),
    /// An AWS service principal; `aws:SourceArn` and `aws:SourceAccount` are in the context.
    Service(&'a ServicePrincipal),
    /// A web identity; `<provider>:sub` and `<provider>:aud` are in the context.
    WebIdentity(&'a WebIdentity),
    /// No credentials at all, by design of the operation.
    Anonymous,
}

impl Caller<'_> {
    /// How a denial names the caller.
    pub fn describe(&self) -> String {
        match self {
            Caller::Credential(c) => format!("User: {}", c.identity.arn),
            Caller::Service(s) => format!("Service: {}", s.service),
            Caller::WebIdentity(w) => format!("Web identity: {}:{}", w.provider, w.subject),
            Caller::Anonymous => "Anonymous caller".to_owned(),
        }
    }
}

impl Authorizer {
    /// Decides one check for `caller`.
    pub fn authorize(
        &self,
        caller: &Caller<'_>,
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
                match caller {
                    Caller::Credential(c) => {
                        evaluate(c.policies.all().chain(resource_policy), &ctx)
                    }
                    _ => evaluate(resource_policy, &ctx),
                }
            }
        };
        Authorization {
            evaluation,
            action: check.action.clone(),
            resource: resource.to_owned(),
            named_as: check.named_as.clone(),
        }
    }

    fn context(
        &self,
        caller: &Caller<'_>,
        check: &Check,
        facts: &RequestFacts<'_>,
    ) -> EvaluationContext {
        let principal = match caller {
            Caller::Credential(c) => c.principal.clone(),
            Caller::Service(s) => RequestPrincipal::service(&s.service),
            Caller::WebIdentity(w) => RequestPrincipal::web_identity(&w.provider, &w.subject),
            Caller::Anonymous => RequestPrincipal::anonymous(),
        };
        let mut ctx = EvaluationContext::new(principal, &check.action, check.resource.as_str())
            .with_source_ip(facts.source_ip)
            .with_current_time(facts.now.unix_timestamp())
            .with_secure_transport(facts.secure_transport)
            .with_requested_region(facts.region);
        match caller {
            Caller::Credential(c) => {
                let identity = &c.identity;
                // AWS: aws:MultiFactorAuthPresent is present only for temporary credentials;
                // a long-term access key leaves it absent, so `Null: true` deny patterns fire.
                if identity.temporary {
                    ctx = ctx.with_mfa(identity.mfa_present, None);
                }
                if let Some(source_identity) = &identity.lineage.source_identity {
                    ctx.set("aws:SourceIdentity", source_identity.as_str());
                }
                if let Some(issued) = identity.token_issue_time {
                    ctx = ctx.with_token_issue_time(issued.unix_timestamp());
                }
            }
            Caller::Service(s) => {
                if let Some(arn) = &s.source_arn {
                    ctx.set("aws:SourceArn", arn.as_str());
                }
                if let Some(account) = &s.source_account {
                    ctx.set("aws:SourceAccount", account.as_str());
                }
            }
            Caller::WebIdentity(w) => {
                ctx.set(&format!("{}:sub", w.provider), w.subject.as_str());
                let audiences: Vec<&str> = w.audiences.iter().map(String::as_str).collect();
                match audiences.as_slice() {
                    [] => {}
                    [one] => {
                        ctx.set(&format!("{}:aud", w.provider), *one);
                    }
                    many => {
                        ctx.set_values(&format!("{}:aud", w.provider), many.to_vec());
                    }
                }
            }
            Caller::Anonymous => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";
    const ROLE: &str = "arn:aws:iam::123456789012:role/web";
    const PROVIDER: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";

    fn facts() -> RequestFacts<'static> {
        RequestFacts {
            source_ip: [127, 0, 0, 1].into(),
            secure_transport: true,
            region: "us-east-1",
            now: OffsetDateTime::now_utc(),
        }
    }

    fn check(action: &str, resource: &str, kind: ResourcePolicyKind, doc: Option<String>) -> Check {
        let mut check = Check::on(action, resource);
        if let Some(document) = doc {
            check = check.with_resource_policy(ResourcePolicy {
                kind,
                document: Some(document),
            });
        }
        check
    }

    fn decide(caller: Caller<'_>, check: &Check) -> Decision {
        Authorizer
            .authorize(&caller, check, &facts())
            .evaluation
            .decision
    }

    fn invoke_policy() -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": FUNCTION,
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*"}}
            }]
        })
        .to_string()
    }

    fn gateway(source_arn: &str) -> ServicePrincipal {
        ServicePrincipal {
            service: "apigateway.amazonaws.com".into(),
            source_arn: Some(source_arn.into()),
            source_account: Some("123456789012".into()),
        }
    }

    #[test]
    fn a_service_principal_is_allowed_only_by_the_resource_policy_naming_it() {
        let invoke = check(
            "lambda:InvokeFunction",
            FUNCTION,
            ResourcePolicyKind::Resource,
            Some(invoke_policy()),
        );
        let ours = gateway("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items");
        assert_eq!(decide(Caller::Service(&ours), &invoke), Decision::Allowed);
        // Another API (aws:SourceArn), another service, no policy at all: refused.
        let other_api = gateway("arn:aws:execute-api:us-east-1:123456789012:zzz999/prod/GET/items");
        assert_eq!(
            decide(Caller::Service(&other_api), &invoke),
            Decision::ImplicitDeny
        );
        let events = ServicePrincipal {
            service: "events.amazonaws.com".into(),
            ..ours.clone()
        };
        assert_eq!(
            decide(Caller::Service(&events), &invoke),
            Decision::ImplicitDeny
        );
        let bare = check(
            "lambda:InvokeFunction",
            FUNCTION,
            ResourcePolicyKind::Resource,
            None,
        );
        assert_eq!(
            decide(Caller::Service(&ours), &bare),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn an_anonymous_caller_needs_a_policy_open_to_everyone() {
        let account_only = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"},
                           "Action": "lambda:InvokeFunction", "Resource": FUNCTION}]
        })
        .to_string();
        let public = account_only.replace("{\"AWS\":\"123456789012\"}", "\"*\"");
        assert_ne!(public, account_only);
        let closed = check(
            "lambda:InvokeFunction",
            FUNCTION,
            ResourcePolicyKind::Resource,
            Some(account_only),
        );
        let open = check(
            "lambda:InvokeFunction",
            FUNCTION,
            ResourcePolicyKind::Resource,
            Some(public),
        );
        assert_eq!(decide(Caller::Anonymous, &closed), Decision::ImplicitDeny);
        assert_eq!(decide(Caller::Anonymous, &open), Decision::Allowed);
    }

    #[test]
    fn a_web_identity_is_held_to_the_trust_policy_and_its_token_claims() {
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{PROVIDER}:aud"): "client-1"}}
            }]
        })
        .to_string();
        let assume = check(
            "sts:AssumeRoleWithWebIdentity",
            ROLE,
            ResourcePolicyKind::Trust,
            Some(trust),
        );
        let alice = WebIdentity {
            provider: PROVIDER.into(),
            subject: "alice".into(),
            audiences: vec!["client-1".into()],
        };
        assert_eq!(
            decide(Caller::WebIdentity(&alice), &assume),
            Decision::Allowed
        );
        let wrong_audience = WebIdentity {
            audiences: vec!["client-2".into()],
            ..alice.clone()
        };
        assert_eq!(
            decide(Caller::WebIdentity(&wrong_audience), &assume),
            Decision::ImplicitDeny
        );
        let other_provider = WebIdentity {
            provider: "accounts.example.com".into(),
            ..alice.clone()
        };
        assert_eq!(
            decide(Caller::WebIdentity(&other_provider), &assume),
            Decision::ImplicitDeny
        );
        let authorization =
            Authorizer.authorize(&Caller::WebIdentity(&other_provider), &assume, &facts());
        assert!(authorization
            .denial_message(&Caller::WebIdentity(&other_provider).describe())
            .starts_with("Web identity: accounts.example.com:alice is not authorized"));
    }
}
