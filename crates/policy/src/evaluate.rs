//! The decision, as "Policy evaluation logic" in the IAM User Guide lays it out
//! ("Determining whether a request is allowed or denied within an account" and
//! "Cross-account policy evaluation logic"):
//!
//! 1. An explicit `Deny` in any applicable policy decides: `ExplicitDeny`.
//! 2. The account root user has every permission in its own account.
//! 3. Same account: the request is allowed when any of these holds —
//!    - a resource-based policy allows the caller *directly* (its user ARN or session ARN):
//!      no implicit deny elsewhere limits that;
//!    - a resource-based policy allows the entity behind the session (the role ARN, the
//!      federating user's ARN) or everyone, and the permissions boundary (if any) and the
//!      session policies (if any) allow too;
//!    - an identity-based policy allows, and the boundary and session policies (if any)
//!      allow too.
//!
//!    A resource policy that names only the account delegates to IAM and grants nothing
//!    by itself. A trust policy, when present, must allow whatever else does ("IAM role
//!    trust policies and KMS key policies are exceptions … because they must explicitly
//!    allow access for principals").
//! 4. Cross-account (the resource's account is not the caller's): the identity side
//!    (identity ∧ boundary ∧ session) *and* a resource-based policy must allow.
//! 5. Callers without identity policies (services, web identities, anonymous) need a
//!    resource-policy allow.
//!
//! Session policies: a role session without one is unrestricted by them; a federated-user
//! session (`GetFederationToken`) without one has no identity-based permissions ("If
//! there is no session policy, the code checks whether the principal is a role session.
//! If the principal is a role session, then the request is Allowed. Otherwise … Deny").

use crate::compile::{CompiledPolicy, Request};
use crate::context::EvaluationContext;
use crate::decision::{Decision, Evaluation, MatchedStatement};
use crate::document::{Effect, PolicyKind};
use crate::principal::{PrincipalMatch, PrincipalType};

/// What the applicable statements add up to.
#[derive(Default)]
struct Tally {
    denies: Vec<MatchedStatement>,
    allows: Vec<MatchedStatement>,
    identity_allow: bool,
    boundary_present: bool,
    boundary_allow: bool,
    session_present: bool,
    session_allow: bool,
    trust_present: bool,
    /// The strongest way a resource or trust policy's allow named the caller.
    resource_allow: Option<PrincipalMatch>,
    trust_allow: Option<PrincipalMatch>,
}

/// Decides one request against the policies that apply to it: the caller's identity
/// policies (user, its groups, or role), its permissions boundary, the session policies,
/// and the resource's policy or the role's trust policy, each compiled with its kind.
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a CompiledPolicy>,
    ctx: &EvaluationContext,
) -> Evaluation {
    let req = Request::new(ctx);
    let mut t = Tally::default();
    for policy in policies {
        let kind = policy.kind();
        match kind {
            PolicyKind::Boundary => t.boundary_present = true,
            PolicyKind::Session => t.session_present = true,
            PolicyKind::Trust => t.trust_present = true,
            PolicyKind::Identity | PolicyKind::Resource => {}
        }
        for statement in policy.statements() {
            let Some(how) = statement.applies(&req, kind) else {
                continue;
            };
            let matched = MatchedStatement {
                policy: policy.shared_name().clone(),
                kind,
                index: statement.index,
                sid: statement.sid.clone(),
                effect: statement.effect,
            };
            if statement.effect == Effect::Deny {
                t.denies.push(matched);
                continue;
            }
            t.allows.push(matched);
            match kind {
                PolicyKind::Identity => t.identity_allow = true,
                PolicyKind::Boundary => t.boundary_allow = true,
                PolicyKind::Session => t.session_allow = true,
                PolicyKind::Resource => t.resource_allow = t.resource_allow.max(Some(how)),
                PolicyKind::Trust => t.trust_allow = t.trust_allow.max(Some(how)),
            }
        }
    }
    decide(t, ctx)
}

fn decide(t: Tally, ctx: &EvaluationContext) -> Evaluation {
    if !t.denies.is_empty() {
        return Evaluation {
            decision: Decision::ExplicitDeny,
            statements: t.denies,
            missing_allow: None,
        };
    }
    let (allowed, missing) = verdict(&t, ctx);
    Evaluation {
        decision: if allowed {
            Decision::Allowed
        } else {
            Decision::ImplicitDeny
        },
        statements: t.allows,
        missing_allow: if allowed { None } else { missing },
    }
}

/// Whether the allows suffice, and if not, which policy type's allow is missing.
fn verdict(t: &Tally, ctx: &EvaluationContext) -> (bool, Option<PolicyKind>) {
    let caller = ctx.principal();
    let resource_kind = if t.trust_present {
        PolicyKind::Trust
    } else {
        PolicyKind::Resource
    };
    // A trust policy, when there is one, is the resource policy that counts.
    let resource_allow = if t.trust_present {
        t.trust_allow
    } else {
        t.resource_allow
    };

    if matches!(
        caller.principal_type,
        PrincipalType::Service | PrincipalType::WebIdentityUser | PrincipalType::Anonymous
    ) {
        return (resource_allow.is_some(), Some(resource_kind));
    }

    let same_account = match ctx.resource_account() {
        None => true,
        Some(account) => caller.account.as_deref() == Some(account),
    };
    let root = caller.principal_type == PrincipalType::Account;
    // The root user has no identity policies, boundary or session policies to consult.
    let identity_ok = root || t.identity_allow;
    let boundary_ok = root || !t.boundary_present || t.boundary_allow;
    let session_ok = root
        || if t.session_present {
            t.session_allow
        } else {
            caller.principal_type != PrincipalType::FederatedUser
        };
    let identity_path = identity_ok && boundary_ok && session_ok;

    if !same_account {
        let allowed = identity_path && resource_allow.is_some();
        let missing = if !identity_ok {
            PolicyKind::Identity
        } else if !boundary_ok {
            PolicyKind::Boundary
        } else if !session_ok {
            PolicyKind::Session
        } else {
            resource_kind
        };
        return (allowed, Some(missing));
    }

    if t.trust_present && t.trust_allow.is_none() {
        return (false, Some(PolicyKind::Trust));
    }
    let direct = resource_allow == Some(PrincipalMatch::Direct);
    // Everyone and Entity grants need no identity allow but stay inside the boundary and
    // session policies; Account grants delegate to IAM and add nothing.
    let entity = resource_allow >= Some(PrincipalMatch::Everyone);
    let allowed = direct || (entity && boundary_ok && session_ok) || identity_path;
    let missing = if !identity_ok && !entity {
        PolicyKind::Identity
    } else if !boundary_ok {
        PolicyKind::Boundary
    } else if !session_ok {
        PolicyKind::Session
    } else {
        PolicyKind::Identity
    };
    (allowed, Some(missing))
}
