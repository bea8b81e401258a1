//! The compiled form of a policy: everything that can be worked out without a request is
//! worked out once (actions lower-cased, wildcard patterns split, CIDRs and dates parsed,
//! principals classified), so that one decision is a walk over ready matchers.

use std::sync::Arc;

use crate::arn::ArnPattern;
use crate::conditions::CompiledCondition;
use crate::context::EvaluationContext;
use crate::document::{Effect, PolicyDocument, PolicyKind, Statement};
use crate::error::{Location, PolicyError};
use crate::parse::parse_policy;
use crate::pattern::Glob;
use crate::principal::{PrincipalMatch, PrincipalMatcher};

/// A parsed, validated and compiled policy, ready to take part in decisions.
///
/// A policy is compiled for one [`PolicyKind`]: the same managed policy used as an
/// identity policy and as a permissions boundary is compiled twice.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    name: Arc<str>,
    kind: PolicyKind,
    statements: Vec<CompiledStatement>,
}

impl CompiledPolicy {
    /// Parses, validates and compiles `json` as a policy of `kind`. `name` identifies the
    /// policy in decisions (a policy ARN, or `role/inline-name`).
    pub fn parse(name: &str, kind: PolicyKind, json: &str) -> Result<CompiledPolicy, PolicyError> {
        let document = parse_policy(json, kind)?;
        CompiledPolicy::compile(name, kind, &document)
    }

    /// Compiles an already parsed document. It fails only for a document that was built
    /// by hand with condition values its operator cannot read.
    pub fn compile(
        name: &str,
        kind: PolicyKind,
        document: &PolicyDocument,
    ) -> Result<CompiledPolicy, PolicyError> {
        let substitute = document.substitutes_variables();
        let statements = document
            .statements
            .iter()
            .enumerate()
            .map(|(index, s)| CompiledStatement::compile(index, s, substitute))
            .collect::<Result<_, _>>()?;
        Ok(CompiledPolicy {
            name: name.into(),
            kind,
            statements,
        })
    }

    /// The name given at compile time.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The kind it was compiled as, which decides its part in a decision.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    pub(crate) fn statements(&self) -> &[CompiledStatement] {
        &self.statements
    }
}

/// `Action`/`NotAction`, lower-cased: action names are case-insensitive.
#[derive(Debug, Clone)]
struct ActionMatcher {
    negated: bool,
    patterns: Vec<Glob>,
}

impl ActionMatcher {
    fn matches(&self, action_lower: &str) -> bool {
        self.patterns.iter().any(|g| g.matches(action_lower)) != self.negated
    }
}

/// `Resource`/`NotResource`: case-sensitive ARN patterns.
#[derive(Debug, Clone)]
struct ResourceMatcher {
    negated: bool,
    patterns: Vec<ArnPattern>,
}

/// The request as statements see it: the context plus its resource split once.
pub(crate) struct Request<'a> {
    pub(crate) ctx: &'a EvaluationContext,
    pub(crate) resource_parts: Option<[&'a str; 6]>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(ctx: &'a EvaluationContext) -> Self {
        Request {
            ctx,
            resource_parts: ctx.resource_parts(),
        }
    }
}

/// One statement, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledStatement {
    pub(crate) index: usize,
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    principal: Option<PrincipalMatcher>,
    actions: ActionMatcher,
    resources: Option<ResourceMatcher>,
    conditions: Vec<CompiledCondition>,
}

impl CompiledStatement {
    fn compile(index: usize, s: &Statement, substitute: bool) -> Result<Self, PolicyError> {
        let conditions = s
            .conditions
            .iter()
            .map(|c| CompiledCondition::compile(c, substitute))
            .collect::<Result<_, _>>()
            .map_err(|reason| {
                let location = Location::Statement {
                    index,
                    sid: s.sid.clone(),
                    field: Some("Condition".into()),
                };
                PolicyError::new(reason, location)
            })?;
        let mut patterns: Vec<Glob> = s
            .action
            .actions
            .iter()
            .map(|a| Glob::new(&a.to_lowercase()))
            .collect();
        // `*` anywhere in the list makes the rest irrelevant.
        if patterns.iter().any(Glob::is_any) {
            patterns = vec![Glob::Any];
        }
        Ok(CompiledStatement {
            index,
            sid: s.sid.as_deref().map(Arc::from),
            effect: s.effect,
            principal: s
                .principal
                .as_ref()
                .map(|p| PrincipalMatcher::new(p.negated, &p.principals)),
            actions: ActionMatcher {
                negated: s.action.negated,
                patterns,
            },
            resources: s.resource.as_ref().map(|r| ResourceMatcher {
                negated: r.negated,
                patterns: r
                    .resources
                    .iter()
                    .map(|p| ArnPattern::new(p, substitute))
                    .collect(),
            }),
            conditions,
        })
    }

    /// Whether the statement applies to the request. For policies that name principals
    /// the answer says how the caller was named; for the others it is `Direct`.
    /// The cheap tests run first: action, resource, principal, then conditions.
    pub(crate) fn applies(&self, req: &Request<'_>, kind: PolicyKind) -> Option<PrincipalMatch> {
        let ctx = req.ctx;
        if !self.actions.matches(ctx.action_lower()) {
            return None;
        }
        if let Some(resources) = &self.resources {
            let resource = ctx.resource();
            let hit = resources
                .patterns
                .iter()
                .any(|p| p.matches(resource, req.resource_parts.as_ref(), ctx));
            if hit == resources.negated {
                return None;
            }
        }
        let how = if kind.names_principals() {
            self.principal.as_ref()?.matches(ctx.principal())?
        } else {
            PrincipalMatch::Direct
        };
        self.conditions
            .iter()
            .all(|c| c.evaluate(ctx))
            .then_some(how)
    }
}
