//! The policy simulator: `SimulatePrincipalPolicy` and `SimulateCustomPolicy`, answered by
//! the same engine (`rampart-policy`) that enforces every request, so a simulation and the
//! real decision cannot disagree.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_core::CallerIdentity;
use rampart_policy::{
    evaluate, CompiledPolicy, ContextValue, EvaluationContext, MatchedStatement, PolicyKind,
    RequestPrincipal,
};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::IamError;
use super::{IamService, Reply};
use crate::entities::{self, Group, Role, User};
use crate::evaluation::{role_policies, user_policies, CompiledPolicyCache};

/// The `member` values of a list parameter.
fn members(p: &QueryParams, name: &str) -> Vec<String> {
    p.list(name).into_iter().map(str::to_owned).collect()
}

fn compile(name: &str, kind: PolicyKind, document: &str) -> Result<Arc<CompiledPolicy>, IamError> {
    CompiledPolicy::parse(name, kind, document)
        .map(Arc::new)
        .map_err(|e| IamError::MalformedPolicyDocument(e.aws_message().to_owned()))
}

/// One typed context value, as the simulator's `ContextKeyType` says to read it.
fn typed_value(key: &str, kind: &str, raw: &str) -> Result<ContextValue, IamError> {
    let bad = || {
        IamError::InvalidInput(format!(
            "Context key {key}: value {raw:?} is not a valid {kind}"
        ))
    };
    Ok(match kind.trim_end_matches("List") {
        "string" => ContextValue::from(raw),
        "numeric" => ContextValue::from(raw.parse::<f64>().map_err(|_| bad())?),
        "boolean" => ContextValue::from(match raw.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad()),
        }),
        "ip" => ContextValue::from(raw.parse::<IpAddr>().map_err(|_| bad())?),
        "date" => match OffsetDateTime::parse(raw, &Rfc3339) {
            Ok(t) => ContextValue::date_from_epoch_seconds(t.unix_timestamp()),
            Err(_) => ContextValue::date_from_epoch_seconds(raw.parse().map_err(|_| bad())?),
        },
        "binary" => ContextValue::from(raw),
        _ => {
            return Err(IamError::InvalidInput(format!(
                "Unknown ContextKeyType {kind:?}"
            )))
        }
    })
}

/// `ContextEntries.member.N.{ContextKeyName,ContextKeyType,ContextKeyValues.member.M}`.
fn apply_context(p: &QueryParams, ctx: &mut EvaluationContext) -> Result<(), IamError> {
    for n in 1..=100 {
        let prefix = format!("ContextEntries.member.{n}");
        let Some(key) = p.get(&format!("{prefix}.ContextKeyName")) else {
            break;
        };
        let kind = p
            .get(&format!("{prefix}.ContextKeyType"))
            .unwrap_or("string");
        let raw = p.list(&format!("{prefix}.ContextKeyValues"));
        let values = raw
            .iter()
            .map(|v| typed_value(key, kind, v))
            .collect::<Result<Vec<_>, _>>()?;
        if kind.ends_with("List") || values.len() != 1 {
            ctx.set_values(key, values);
        } else if let Some(value) = values.into_iter().next() {
            ctx.set(key, value);
        }
    }
    Ok(())
}

fn source_type(s: &MatchedStatement) -> &'static str {
    match s.kind {
        PolicyKind::Resource | PolicyKind::Trust => "resource",
        _ if s.policy.starts_with("arn:aws:iam::aws:policy/") => "aws-managed",
        _ if s.policy.contains(":policy/") => "user-managed",
        _ if s.policy.contains(":role/") => "role",
        _ if s.policy.contains(":group/") => "group",
        _ if s.policy.contains(":user/") => "user",
        _ => "none",
    }
}

/// Evaluates every (action, resource) pair and writes `EvaluationResults`.
fn simulate(
    p: &QueryParams,
    principal: RequestPrincipal,
    policies: &[Arc<CompiledPolicy>],
) -> Reply {
    let actions = members(p, "ActionNames");
    if actions.is_empty() {
        return Err(IamError::missing("ActionNames"));
    }
    let mut resources = members(p, "ResourceArns");
    if resources.is_empty() {
        resources.push("*".to_owned());
    }
    let resource_policy = match p.get("ResourcePolicy") {
        Some(doc) => Some(compile("ResourcePolicy", PolicyKind::Resource, doc)?),
        None => None,
    };
    let mut xml = XmlWriter::new();
    xml.element("IsTruncated", "false")
        .start("EvaluationResults");
    for action in &actions {
        for resource in &resources {
            let mut ctx = EvaluationContext::new(principal.clone(), action, resource)
                .with_current_time(OffsetDateTime::now_utc().unix_timestamp());
            if let Some(owner) = p.get("ResourceOwner") {
                if let Some(account) = owner.split(':').nth(4) {
                    ctx = ctx.with_resource_account(account);
                }
            }
            apply_context(p, &mut ctx)?;
            let evaluation = evaluate(
                policies
                    .iter()
                    .map(|p| p.as_ref())
                    .chain(resource_policy.as_deref()),
                &ctx,
            );
            xml.start("member")
                .element("EvalActionName", action)
                .element("EvalResourceName", resource)
                .element("EvalDecision", evaluation.decision.as_str())
                .start("MatchedStatements");
            for s in &evaluation.statements {
                let id = match &s.sid {
                    Some(sid) => format!("{}#{}({sid})", s.policy, s.index),
                    None => format!("{}#{}", s.policy, s.index),
                };
                xml.start("member")
                    .element("SourcePolicyId", &id)
                    .element("SourcePolicyType", source_type(s))
                    .end("member");
            }
            xml.end("MatchedStatements")
                .start("MissingContextValues")
                .end("MissingContextValues");
            if policies.iter().any(|p| p.kind() == PolicyKind::Boundary) {
                let blocked = evaluation.missing_allow == Some(PolicyKind::Boundary)
                    || evaluation.denied_by() == Some(PolicyKind::Boundary);
                xml.start("PermissionsBoundaryDecisionDetail")
                    .element(
                        "AllowedByPermissionsBoundary",
                        if blocked { "false" } else { "true" },
                    )
                    .end("PermissionsBoundaryDecisionDetail");
            }
            xml.end("member");
        }
    }
    xml.end("EvaluationResults");
    Ok(Some(xml.finish()))
}

/// The extra documents a simulation may add: identity policies and boundaries.
fn input_policies(p: &QueryParams, out: &mut Vec<Arc<CompiledPolicy>>) -> Result<(), IamError> {
    for (n, doc) in p.list("PolicyInputList").into_iter().enumerate() {
        out.push(compile(
            &format!("PolicyInputList.{}", n + 1),
            PolicyKind::Identity,
            doc,
        )?);
    }
    for (n, doc) in p
        .list("PermissionsBoundaryPolicyInputList")
        .into_iter()
        .enumerate()
    {
        out.push(compile(
            &format!("PermissionsBoundaryPolicyInputList.{}", n + 1),
            PolicyKind::Boundary,
            doc,
        )?);
    }
    Ok(())
}

impl IamService {
    pub(super) async fn simulate_custom_policy(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        if p.list("PolicyInputList").is_empty() {
            return Err(IamError::missing("PolicyInputList"));
        }
        let mut policies = Vec::new();
        input_policies(p, &mut policies)?;
        let principal = match p.get("CallerArn") {
            Some(arn) => RequestPrincipal::user(arn, "AIDASIMULATEDCALLER00"),
            None => match caller {
                Some(c) => RequestPrincipal::user(&c.arn, &c.user_id),
                None => RequestPrincipal::anonymous(),
            },
        };
        simulate(p, principal, &policies)
    }

    pub(super) async fn simulate_principal_policy(&self, p: &QueryParams) -> Reply {
        let source = p
            .get("PolicySourceArn")
            .ok_or_else(|| IamError::missing("PolicySourceArn"))?;
        let resource = source.splitn(6, ':').nth(5).unwrap_or_default();
        let name = resource.rsplit('/').next().unwrap_or_default();
        let store = self.store.as_ref();
        let cache = CompiledPolicyCache::default();
        let no_such = || IamError::NoSuchEntity(format!("The principal {source} cannot be found."));
        let (principal, mut policies) = if resource.starts_with("user/") {
            let user = entities::load::<User>(store, name)
                .await
                .map_err(IamError::from)?
                .ok_or_else(no_such)?
                .entity;
            let found = user_policies(store, &cache, &user)
                .await
                .map_err(IamError::from)?;
            let principal = RequestPrincipal::user(&user.arn, &user.user_id)
                .with_tags(user.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
            (
                principal,
                found
                    .identity
                    .into_iter()
                    .chain(found.boundary)
                    .collect::<Vec<_>>(),
            )
        } else if resource.starts_with("role/") {
            let role = entities::load::<Role>(store, name)
                .await
                .map_err(IamError::from)?
                .ok_or_else(no_such)?
                .entity;
            let found = role_policies(store, &cache, &role)
                .await
                .map_err(IamError::from)?;
            let principal = RequestPrincipal::role_session(&role.arn, "simulated", &role.role_id);
            (
                principal,
                found
                    .identity
                    .into_iter()
                    .chain(found.boundary)
                    .collect::<Vec<_>>(),
            )
        } else if resource.starts_with("group/") {
            let group = entities::load::<Group>(store, name)
                .await
                .map_err(IamError::from)?
                .ok_or_else(no_such)?
                .entity;
            // A group's policies simulated for a member: any user of the account.
            let member = User {
                name: "simulated".into(),
                user_id: "AIDASIMULATEDMEMBER00".into(),
                arn: format!("arn:aws:iam::{}:user/simulated", self.account_id),
                path: "/".into(),
                created_at: OffsetDateTime::now_utc(),
                attached_policies: Vec::new(),
                inline_policies: Default::default(),
                groups: vec![group.name.clone()],
                permissions_boundary: None,
                tags: Vec::new(),
            };
            let found = user_policies(store, &cache, &member)
                .await
                .map_err(IamError::from)?;
            let principal = RequestPrincipal::user(&member.arn, &member.user_id);
            (principal, found.identity)
        } else {
            return Err(IamError::InvalidInput(format!(
                "Invalid PolicySourceArn {source}"
            )));
        };
        input_policies(p, &mut policies)?;
        simulate(p, principal, &policies)
    }
}
