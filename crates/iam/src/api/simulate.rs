//! The policy simulator: `SimulatePrincipalPolicy` and `SimulateCustomPolicy`, answered by
//! the same engine (`rampart-policy`) that enforces every request, so a simulation and the
//! real decision cannot disagree.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_policy::{
    evaluate, CompiledPolicy, ContextValue, EvaluationContext, MatchedStatement, PolicyKind,
    RequestPrincipal,
};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::IamError;
use super::operation::{Call, IamOperation};
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

/// One `ContextEntries` member, its values already read as its `ContextKeyType` says.
struct ContextEntry {
    key: String,
    values: Vec<ContextValue>,
    /// A `…List` type, or other than one value: set as a multivalued key.
    multivalued: bool,
}

/// `ContextEntries.member.N.{ContextKeyName,ContextKeyType,ContextKeyValues.member.M}`.
fn context_entries(p: &QueryParams) -> Result<Vec<ContextEntry>, IamError> {
    let mut entries = Vec::new();
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
        entries.push(ContextEntry {
            key: key.to_owned(),
            multivalued: kind.ends_with("List") || values.len() != 1,
            values,
        });
    }
    Ok(entries)
}

fn apply_context(entries: &[ContextEntry], ctx: &mut EvaluationContext) {
    for entry in entries {
        if entry.multivalued {
            ctx.set_values(&entry.key, entry.values.iter().cloned());
        } else if let Some(value) = entry.values.first() {
            ctx.set(&entry.key, value.clone());
        }
    }
}

/// What both simulations evaluate: the (action, resource) pairs and the request they make.
struct Simulation {
    actions: Vec<String>,
    resources: Vec<String>,
    resource_policy: Option<Arc<CompiledPolicy>>,
    /// The account of `ResourceOwner`.
    resource_account: Option<String>,
    context: Vec<ContextEntry>,
}

impl Simulation {
    fn decode(p: &QueryParams) -> Result<Self, IamError> {
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
        let resource_account = p
            .get("ResourceOwner")
            .and_then(|owner| owner.split(':').nth(4))
            .map(str::to_owned);
        Ok(Simulation {
            actions,
            resources,
            resource_policy,
            resource_account,
            context: context_entries(p)?,
        })
    }
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

/// The context keys a simulation supplies on its own, besides the caller's `ContextEntries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImplicitKeys {
    /// The simulated principal's global keys (`aws:PrincipalArn`, `aws:username`, …) and
    /// the current time: `SimulatePrincipalPolicy`, whose principal is a stored entity.
    PrincipalAndTime,
    /// The global keys of the IAM user `CallerArn` names: `SimulateCustomPolicy` with a
    /// `CallerArn`, which the API reference calls "the simulated caller of the API
    /// operations". The current time is not among them: no input parameter supplied it.
    Principal,
    /// None at all: `SimulateCustomPolicy` without a `CallerArn`. See [`SimulateCustomPolicy`].
    Nothing,
}

/// The global condition keys [`EvaluationContext::new`] derives from a principal (its tags
/// aside: a caller simulated without `CallerArn` carries none).
const PRINCIPAL_KEYS: &[&str] = &[
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:userid",
    "aws:username",
];

/// Who a simulation's requests come from, and which keys that supplies.
struct SimulatedCaller {
    /// The principal the engine decides for. Without `CallerArn` it is still needed (an
    /// identity policy only grants to a principal of the account), but contributes no keys.
    principal: RequestPrincipal,
    implicit: ImplicitKeys,
}

/// The request context of one simulated (action, resource) pair: the implicit keys the
/// caller's kind allows, then `ResourceOwner` and `ContextEntries`.
fn request_context(
    sim: &Simulation,
    caller: &SimulatedCaller,
    action: &str,
    resource: &str,
) -> EvaluationContext {
    let mut ctx = EvaluationContext::new(caller.principal.clone(), action, resource);
    match caller.implicit {
        ImplicitKeys::PrincipalAndTime => {
            ctx = ctx.with_current_time(OffsetDateTime::now_utc().unix_timestamp());
        }
        ImplicitKeys::Principal => {}
        ImplicitKeys::Nothing => {
            for key in PRINCIPAL_KEYS {
                ctx.remove(key);
            }
        }
    }
    if let Some(account) = &sim.resource_account {
        ctx = ctx.with_resource_account(account);
    }
    apply_context(&sim.context, &mut ctx);
    ctx
}

/// Evaluates every (action, resource) pair and writes `EvaluationResults`.
fn simulate(sim: &Simulation, caller: &SimulatedCaller, policies: &[Arc<CompiledPolicy>]) -> Reply {
    let mut xml = XmlWriter::new();
    xml.element("IsTruncated", "false")
        .start("EvaluationResults");
    for action in &sim.actions {
        for resource in &sim.resources {
            let ctx = request_context(sim, caller, action, resource);
            let evaluation = evaluate(
                policies
                    .iter()
                    .map(|p| p.as_ref())
                    .chain(sim.resource_policy.as_deref()),
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
fn input_policies(p: &QueryParams) -> Result<Vec<Arc<CompiledPolicy>>, IamError> {
    let mut out = Vec::new();
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
    Ok(out)
}

/// `SimulateCustomPolicy`.
///
/// The request context holds only what the caller supplied. AWS's API model (IAM API
/// Reference, `SimulateCustomPolicy` and `EvaluationResult`; read at
/// <https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/iam/aws.sdk.kotlin.services.iam.model/-simulate-custom-policy-request/context-entries.html>,
/// <https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/iam/aws.sdk.kotlin.services.iam.model/-simulate-custom-policy-request/caller-arn.html>
/// and <https://pub.dev/documentation/aws_iam_api/latest/iam-2010-05-08/EvaluationResult/missingContextValues.html>)
/// says:
/// - `ContextEntries`: "A list of context keys and corresponding values for the simulation
///   to use. Whenever a context key is evaluated in one of the simulated IAM permissions
///   policies, the corresponding value is supplied."
/// - `CallerArn`: "The ARN of the IAM user that you want to use as the simulated caller of
///   the API operations."
/// - `MissingContextValues`: "A list of context keys that are required by the included
///   input policies but that were not provided by one of the input parameters."
///
/// So a key no input parameter provided is missing, not invented: without `CallerArn` there
/// is no `aws:username`, `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount` or
/// `aws:PrincipalType`, and in no case an `aws:CurrentTime`/`aws:EpochTime` unless
/// `ContextEntries` gives one. A condition on an absent key evaluates as it would for a
/// request without that key, and a policy variable naming one matches nothing.
/// (`MissingContextValues` itself is still sent empty: the engine does not report which
/// keys a decision looked for.)
pub(super) struct SimulateCustomPolicy {
    policies: Vec<Arc<CompiledPolicy>>,
    caller_arn: Option<String>,
    simulation: Simulation,
}

impl SimulateCustomPolicy {
    /// The simulated caller: the user `CallerArn` names, with its keys; else the signer of
    /// the request, for the engine's account and principal checks only, without its keys.
    fn caller(&self, call: &Call<'_>) -> SimulatedCaller {
        match &self.caller_arn {
            Some(arn) => SimulatedCaller {
                principal: RequestPrincipal::user(arn, "AIDASIMULATEDCALLER00"),
                implicit: ImplicitKeys::Principal,
            },
            None => SimulatedCaller {
                principal: match call.caller {
                    Some(c) => RequestPrincipal::user(&c.arn, &c.user_id),
                    None => RequestPrincipal::anonymous(),
                },
                implicit: ImplicitKeys::Nothing,
            },
        }
    }
}

#[async_trait::async_trait]
impl IamOperation for SimulateCustomPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        if p.list("PolicyInputList").is_empty() {
            return Err(IamError::missing("PolicyInputList"));
        }
        let policies = input_policies(p)?;
        Ok(SimulateCustomPolicy {
            policies,
            caller_arn: p.get("CallerArn").map(str::to_owned),
            simulation: Simulation::decode(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, _: &IamService, call: &Call<'_>) -> Reply {
        simulate(&self.simulation, &self.caller(call), &self.policies)
    }
}

/// The kind of principal a `PolicySourceArn` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    User,
    Group,
    Role,
}

pub(super) struct SimulatePrincipalPolicy {
    /// The `PolicySourceArn` as given.
    source: String,
    kind: SourceKind,
    /// The final segment of the ARN's resource.
    name: String,
    policies: Vec<Arc<CompiledPolicy>>,
    simulation: Simulation,
}

#[async_trait::async_trait]
impl IamOperation for SimulatePrincipalPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let source = p
            .get("PolicySourceArn")
            .ok_or_else(|| IamError::missing("PolicySourceArn"))?;
        let resource = source.splitn(6, ':').nth(5).unwrap_or_default();
        let name = resource.rsplit('/').next().unwrap_or_default();
        let kind = if resource.starts_with("user/") {
            SourceKind::User
        } else if resource.starts_with("role/") {
            SourceKind::Role
        } else if resource.starts_with("group/") {
            SourceKind::Group
        } else {
            return Err(IamError::InvalidInput(format!(
                "Invalid PolicySourceArn {source}"
            )));
        };
        Ok(SimulatePrincipalPolicy {
            source: source.to_owned(),
            kind,
            name: name.to_owned(),
            policies: input_policies(p)?,
            simulation: Simulation::decode(p)?,
        })
    }

    /// The principal simulated, with its stored tags when the ARN names it exactly; any
    /// other ARN is checked as given (execute then finds no such principal).
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = match self.kind {
            SourceKind::User => iam.target::<User>(&self.name).await?,
            SourceKind::Group => iam.target::<Group>(&self.name).await?,
            SourceKind::Role => iam.target::<Role>(&self.name).await?,
        };
        Ok(vec![if target.arn == self.source {
            target.check(call)
        } else {
            Check::on(call.action(), &self.source)
        }])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.simulate_principal_policy(self).await
    }
}

impl IamService {
    /// Simulates the stored policies of the principal `PolicySourceArn` names, plus any
    /// given ones. Only an entity whose stored ARN is the one given counts, so the simulated
    /// principal is the resource authorization was checked on.
    async fn simulate_principal_policy(&self, r: SimulatePrincipalPolicy) -> Reply {
        let source = r.source.as_str();
        let name = r.name.as_str();
        let store = self.store.as_ref();
        let cache = CompiledPolicyCache::default();
        let no_such = || IamError::NoSuchEntity(format!("The principal {source} cannot be found."));
        let (principal, mut policies) = match r.kind {
            SourceKind::User => {
                let user = entities::load::<User>(store, name)
                    .await
                    .map_err(IamError::from)?
                    .map(|v| v.entity)
                    .filter(|u| u.arn == source)
                    .ok_or_else(no_such)?;
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
            }
            SourceKind::Role => {
                let role = entities::load::<Role>(store, name)
                    .await
                    .map_err(IamError::from)?
                    .map(|v| v.entity)
                    .filter(|r| r.arn == source)
                    .ok_or_else(no_such)?;
                let found = role_policies(store, &cache, &role)
                    .await
                    .map_err(IamError::from)?;
                let principal =
                    RequestPrincipal::role_session(&role.arn, "simulated", &role.role_id);
                (
                    principal,
                    found
                        .identity
                        .into_iter()
                        .chain(found.boundary)
                        .collect::<Vec<_>>(),
                )
            }
            SourceKind::Group => {
                let group = entities::load::<Group>(store, name)
                    .await
                    .map_err(IamError::from)?
                    .map(|v| v.entity)
                    .filter(|g| g.arn == source)
                    .ok_or_else(no_such)?;
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
            }
        };
        policies.extend(r.policies);
        let caller = SimulatedCaller {
            principal,
            implicit: ImplicitKeys::PrincipalAndTime,
        };
        simulate(&r.simulation, &caller, &policies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{CallerIdentity, PrincipalType};

    fn params(form: &str) -> QueryParams {
        QueryParams::parse(&[form.as_bytes()]).unwrap()
    }

    fn admin() -> CallerIdentity {
        CallerIdentity {
            account_id: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/admin".into(),
            user_id: "AIDAADMIN".into(),
            principal_type: PrincipalType::User,
            name: "admin".into(),
            access_key_id: "AKIAADMIN".into(),
            temporary: false,
            session_name: None,
            token_issue_time: None,
            source_ip: [127, 0, 0, 1].into(),
            secure_transport: false,
            mfa_present: false,
            lineage: Default::default(),
        }
    }

    /// `SimulateCustomPolicy` decoded from `form`, as `admin` calls it.
    fn custom(form: &str) -> (SimulateCustomPolicy, SimulatedCaller) {
        let admin = admin();
        let call = Call {
            op: "SimulateCustomPolicy",
            caller: Some(&admin),
        };
        let op = SimulateCustomPolicy::decode(&params(form), &call).unwrap();
        let caller = op.caller(&call);
        (op, caller)
    }

    fn context(form: &str) -> EvaluationContext {
        let (op, caller) = custom(form);
        request_context(&op.simulation, &caller, "s3:GetObject", "*")
    }

    /// The single `EvalDecision` of a simulation.
    fn decision(form: &str) -> String {
        let (op, caller) = custom(form);
        let xml = simulate(&op.simulation, &caller, &op.policies)
            .unwrap()
            .unwrap();
        let start = xml.find("<EvalDecision>").unwrap() + "<EvalDecision>".len();
        let end = xml.find("</EvalDecision>").unwrap();
        xml[start..end].to_owned()
    }

    const ALLOW_BOB: &str = "PolicyInputList.member.1=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22aws%3Ausername%22%3A%22bob%22%7D%7D%7D%5D%7D&ActionNames.member.1=s3%3AGetObject";

    const CURRENT_TIME_KEYS: &[&str] = &["aws:CurrentTime", "aws:EpochTime"];

    #[test]
    fn without_caller_arn_no_key_is_invented() {
        let ctx = context(ALLOW_BOB);
        for key in PRINCIPAL_KEYS.iter().chain(CURRENT_TIME_KEYS) {
            assert!(ctx.values(key).is_none(), "{key} was filled in");
        }
        // A principal tag or organization key was never among them either.
        assert!(ctx.values("aws:PrincipalTag/team").is_none());
        assert!(ctx.values("aws:PrincipalOrgID").is_none());
        // A condition on a key nobody supplied does not hold.
        assert_eq!(decision(ALLOW_BOB), "implicitDeny");
    }

    #[test]
    fn context_entries_supply_keys() {
        let form = format!(
            "{ALLOW_BOB}&ContextEntries.member.1.ContextKeyName=aws%3Ausername\
             &ContextEntries.member.1.ContextKeyType=string\
             &ContextEntries.member.1.ContextKeyValues.member.1=bob\
             &ContextEntries.member.2.ContextKeyName=aws%3ACurrentTime\
             &ContextEntries.member.2.ContextKeyType=date\
             &ContextEntries.member.2.ContextKeyValues.member.1=2024-06-01T12%3A00%3A00Z"
        );
        let ctx = context(&form);
        assert_eq!(ctx.values("aws:username").unwrap()[0].text(), "bob");
        assert!(ctx.values("aws:CurrentTime").is_some());
        assert!(ctx.values("aws:PrincipalArn").is_none());
        assert_eq!(decision(&form), "allowed");
    }

    #[test]
    fn caller_arn_supplies_the_principal_keys_only() {
        let form = format!("{ALLOW_BOB}&CallerArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2Fbob");
        let ctx = context(&form);
        assert_eq!(ctx.values("aws:username").unwrap()[0].text(), "bob");
        assert_eq!(
            ctx.values("aws:PrincipalArn").unwrap()[0].text(),
            "arn:aws:iam::123456789012:user/bob"
        );
        assert_eq!(
            ctx.values("aws:PrincipalAccount").unwrap()[0].text(),
            "123456789012"
        );
        for key in CURRENT_TIME_KEYS {
            assert!(ctx.values(key).is_none(), "{key} was filled in");
        }
        assert_eq!(decision(&form), "allowed");
    }

    #[test]
    fn a_policy_variable_nobody_supplied_matches_nothing() {
        // Allow iam:GetUser on user/${aws:username}.
        let form = "PolicyInputList.member.1=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3AGetUser%22%2C%22Resource%22%3A%22arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2F%24%7Baws%3Ausername%7D%22%7D%5D%7D&ActionNames.member.1=iam%3AGetUser&ResourceArns.member.1=arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2Fadmin";
        assert_eq!(decision(form), "implicitDeny");
        let supplied = format!(
            "{form}&ContextEntries.member.1.ContextKeyName=aws%3Ausername\
             &ContextEntries.member.1.ContextKeyValues.member.1=admin"
        );
        assert_eq!(decision(&supplied), "allowed");
    }

    #[test]
    fn principal_policy_simulation_keeps_its_implicit_keys() {
        let sim = Simulation::decode(&params("ActionNames.member.1=s3%3AGetObject")).unwrap();
        let caller = SimulatedCaller {
            principal: RequestPrincipal::user("arn:aws:iam::123456789012:user/alice", "AIDAA"),
            implicit: ImplicitKeys::PrincipalAndTime,
        };
        let ctx = request_context(&sim, &caller, "s3:GetObject", "*");
        assert_eq!(ctx.values("aws:username").unwrap()[0].text(), "alice");
        assert!(ctx.values("aws:CurrentTime").is_some());
    }
}
