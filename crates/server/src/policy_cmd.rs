//! `rampart policy`: check, lint and simulate IAM policies offline, with the same engine the
//! server enforces with.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use rampart_policy::{
    check_size, evaluate, lint, parse_policy, CompiledPolicy, EvaluationContext, PolicyKind,
    RequestPrincipal, Severity, SizeLimit,
};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy document as IAM would on CreatePolicy/PutRolePolicy.
    Check(CheckArgs),
    /// Validate, then report wildcards, NotAction/NotPrincipal allows, iam:PassRole on "*"
    /// and sensitive actions without conditions. Exits 1 on errors (on any finding with --strict).
    Lint(LintArgs),
    /// Decide one request against policies, as the server would, and show why.
    Simulate(SimulateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Identity,
    Resource,
    Trust,
    Session,
    Boundary,
}

impl Kind {
    fn policy_kind(self) -> PolicyKind {
        match self {
            Kind::Identity => PolicyKind::Identity,
            Kind::Resource => PolicyKind::Resource,
            Kind::Trust => PolicyKind::Trust,
            Kind::Session => PolicyKind::Session,
            Kind::Boundary => PolicyKind::Boundary,
        }
    }

    /// The quota a document of this kind is held to (the managed-policy one for identity).
    fn size_limit(self) -> SizeLimit {
        match self {
            Kind::Identity | Kind::Boundary | Kind::Resource => SizeLimit::ManagedPolicy,
            Kind::Trust => SizeLimit::TrustPolicy,
            Kind::Session => SizeLimit::SessionPolicy,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy document (JSON).
    pub file: PathBuf,
    /// What the document is attached as.
    #[arg(long, value_enum, default_value = "identity")]
    pub kind: Kind,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Identity policies of the caller (repeatable).
    #[arg(long = "policy", required = true)]
    pub policies: Vec<PathBuf>,
    /// A permissions boundary.
    #[arg(long)]
    pub boundary: Option<PathBuf>,
    /// A session policy (repeatable).
    #[arg(long = "session-policy")]
    pub session_policies: Vec<PathBuf>,
    /// A resource-based policy on the resource.
    #[arg(long)]
    pub resource_policy: Option<PathBuf>,
    /// The action, e.g. iam:GetRole.
    #[arg(long)]
    pub action: String,
    /// The resource ARN.
    #[arg(long, default_value = "*")]
    pub resource: String,
    /// The caller: an IAM user ARN.
    #[arg(long, default_value = "arn:aws:iam::123456789012:user/simulated")]
    pub principal: String,
    /// Context keys, KEY=VALUE (repeat a key for several values).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Check(args) => {
            let text = read(&args.file)?;
            validate(&args.file, &text, args.kind)?;
            println!(
                "{}: valid {} policy",
                args.file.display(),
                args.kind.policy_kind()
            );
            Ok(())
        }
        PolicyCommand::Lint(args) => {
            let text = read(&args.check.file)?;
            let document = validate(&args.check.file, &text, args.check.kind)?;
            let findings = lint(&document);
            for finding in &findings {
                println!("{}: {finding}", args.check.file.display());
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            let warnings = findings.len() - errors;
            println!("{errors} error(s), {warnings} warning(s)");
            if errors > 0 || (args.strict && warnings > 0) {
                std::process::exit(1);
            }
            Ok(())
        }
        PolicyCommand::Simulate(args) => simulate(args),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn validate(path: &Path, text: &str, kind: Kind) -> anyhow::Result<rampart_policy::PolicyDocument> {
    check_size(text, kind.size_limit())
        .map_err(|e| anyhow::anyhow!("{}: LimitExceeded: {e}", path.display()))?;
    parse_policy(text, kind.policy_kind())
        .map_err(|e| anyhow::anyhow!("{}: MalformedPolicyDocument: {e}", path.display()))
}

fn compile(path: &Path, kind: PolicyKind) -> anyhow::Result<CompiledPolicy> {
    let text = read(path)?;
    let name = path.display().to_string();
    CompiledPolicy::parse(&name, kind, &text)
        .map_err(|e| anyhow::anyhow!("{name}: MalformedPolicyDocument: {e}"))
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let mut policies = Vec::new();
    for path in &args.policies {
        policies.push(compile(path, PolicyKind::Identity)?);
    }
    if let Some(path) = &args.boundary {
        policies.push(compile(path, PolicyKind::Boundary)?);
    }
    for path in &args.session_policies {
        policies.push(compile(path, PolicyKind::Session)?);
    }
    if let Some(path) = &args.resource_policy {
        policies.push(compile(path, PolicyKind::Resource)?);
    }
    let user_id = "AIDASIMULATEDUSER0000";
    let mut ctx = EvaluationContext::new(
        RequestPrincipal::user(&args.principal, user_id),
        &args.action,
        &args.resource,
    )
    .with_current_time(time::OffsetDateTime::now_utc().unix_timestamp());
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for pair in &args.context {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--context {pair:?}: expected KEY=VALUE");
        };
        match keys.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some((_, values)) => values.push(value.to_owned()),
            None => keys.push((key.to_owned(), vec![value.to_owned()])),
        }
    }
    for (key, values) in &keys {
        if let [single] = values.as_slice() {
            if key.eq_ignore_ascii_case("aws:SourceIp") {
                let ip = single
                    .parse()
                    .with_context(|| format!("aws:SourceIp {single:?} is not an IP address"))?;
                ctx = ctx.with_source_ip(ip);
                continue;
            }
            ctx.set(key, single.as_str());
        } else {
            ctx.set_values(key, values.iter().map(String::as_str));
        }
    }
    let evaluation = evaluate(policies.iter(), &ctx);
    let matched: Vec<String> = evaluation
        .statements
        .iter()
        .map(|s| match &s.sid {
            Some(sid) => format!("{}#{}({sid})", s.policy, s.index),
            None => format!("{}#{}", s.policy, s.index),
        })
        .collect();
    if args.json {
        let out = serde_json::json!({
            "EvalActionName": args.action,
            "EvalResourceName": args.resource,
            "EvalDecision": evaluation.decision.as_str(),
            "MatchedStatements": matched,
            "Explanation": evaluation.explanation(&args.action),
        });
        println!("{out}");
    } else {
        println!(
            "{} {} on {}",
            evaluation.decision.as_str(),
            args.action,
            args.resource
        );
        if let Some(why) = evaluation.explanation(&args.action) {
            println!("  {why}");
        }
        for m in &matched {
            println!("  matched {m}");
        }
    }
    Ok(())
}
