//! Linting policies as they are written: the seed's "each function gets its own role and that
//! role allows only what the function does — no `*`" made a tool. Findings are advice about a
//! *valid* document; invalid documents are refused by [`crate::parse_policy`] first.

use std::fmt;

use crate::document::{Effect, PolicyDocument, Principals, Statement};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a look; often intended.
    Warning,
    /// Almost certainly more access than intended.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding about one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable identifier for the rule (`wildcard-action`, …).
    pub rule: &'static str,
    /// The statement's position, from 0.
    pub statement: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
    /// What is wrong and what to do instead.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match &self.sid {
            Some(sid) => format!("Statement[{}] ({sid})", self.statement),
            None => format!("Statement[{}]", self.statement),
        };
        write!(
            f,
            "{}: {at}: {} [{}]",
            self.severity, self.message, self.rule
        )
    }
}

/// Actions that hand out or escalate access, or read secrets: an Allow of them should be
/// narrowed by a condition even when its resource is specific.
const SENSITIVE_ACTIONS: &[&str] = &[
    "iam:passrole",
    "iam:createaccesskey",
    "iam:createloginprofile",
    "iam:updateloginprofile",
    "iam:attachuserpolicy",
    "iam:attachrolepolicy",
    "iam:attachgrouppolicy",
    "iam:putuserpolicy",
    "iam:putrolepolicy",
    "iam:putgrouppolicy",
    "iam:createpolicyversion",
    "iam:setdefaultpolicyversion",
    "iam:updateassumerolepolicy",
    "sts:assumerole",
    "kms:decrypt",
    "secretsmanager:getsecretvalue",
    "lambda:updatefunctioncode",
];

/// Whether an action pattern covers `action` (both lower-case; `*` and `?` wildcards).
fn covers(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x == y => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

fn lint_statement(index: usize, st: &Statement, out: &mut Vec<Finding>) {
    if st.effect != Effect::Allow {
        return;
    }
    let mut find = |severity, rule, message: String| {
        out.push(Finding {
            severity,
            rule,
            statement: index,
            sid: st.sid.clone(),
            message,
        })
    };
    let actions: Vec<String> = st
        .action
        .actions
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let resource_star = st
        .resource
        .as_ref()
        .is_some_and(|r| !r.negated && r.resources.iter().any(|r| r == "*"));
    let unconditioned = st.conditions.is_empty();

    if st.action.negated {
        find(
            Severity::Error,
            "allow-not-action",
            "Allow with NotAction grants every action except those listed, including ones that do not exist yet; list the actions instead".into(),
        );
    } else if actions.iter().any(|a| a == "*") {
        find(
            Severity::Error,
            "wildcard-action",
            "Allow of every action (\"*\")".into(),
        );
    } else {
        for a in actions.iter().filter(|a| a.ends_with(":*")) {
            find(
                Severity::Warning,
                "wildcard-action",
                format!(
                    "Allow of every {} action; list the actions the principal needs",
                    a.trim_end_matches(":*")
                ),
            );
        }
    }
    if st.resource.as_ref().is_some_and(|r| r.negated) {
        find(
            Severity::Warning,
            "allow-not-resource",
            "Allow with NotResource grants on every resource except those listed".into(),
        );
    } else if resource_star {
        find(
            Severity::Warning,
            "wildcard-resource",
            "Allow on every resource (\"*\"); name the resources".into(),
        );
    }
    let passes_roles = !st.action.negated && actions.iter().any(|a| covers(a, "iam:passrole"));
    if (passes_roles || st.action.negated) && resource_star {
        find(
            Severity::Error,
            "passrole-wildcard",
            "iam:PassRole on \"*\" lets the principal hand any role (including administrators') to a service".into(),
        );
    }
    if unconditioned && !st.action.negated {
        for sensitive in SENSITIVE_ACTIONS {
            if actions.iter().any(|a| a != "*" && covers(a, sensitive)) {
                find(
                    Severity::Warning,
                    "sensitive-without-condition",
                    format!("{sensitive} is allowed without a Condition (e.g. aws:SourceIp, aws:MultiFactorAuthPresent, iam:PassedToService)"),
                );
            }
        }
    }
    if let Some(principal) = &st.principal {
        let everyone = match &principal.principals {
            Principals::Everyone => true,
            Principals::Map(kinds) => kinds.iter().any(|(_, ids)| ids.iter().any(|id| id == "*")),
        };
        if principal.negated {
            find(
                Severity::Error,
                "allow-not-principal",
                "Allow with NotPrincipal grants to everyone not listed, anonymous callers included"
                    .into(),
            );
        } else if everyone && unconditioned {
            find(
                Severity::Error,
                "public-principal",
                "Allow to every principal (\"*\") with no Condition: anyone, anonymous callers included".into(),
            );
        }
    }
}

/// Lints a parsed document; findings in statement order, errors before warnings within one.
pub fn lint(document: &PolicyDocument) -> Vec<Finding> {
    let mut out = Vec::new();
    for (index, statement) in document.statements.iter().enumerate() {
        let start = out.len();
        lint_statement(index, statement, &mut out);
        out[start..].sort_by_key(|f| std::cmp::Reverse(f.severity));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_policy, PolicyKind};

    fn rules(kind: PolicyKind, json: &str) -> Vec<&'static str> {
        let doc = parse_policy(json, kind).unwrap();
        lint(&doc).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn least_privilege_is_clean() {
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":["dynamodb:GetItem","dynamodb:PutItem"],
            "Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}"#;
        assert!(rules(PolicyKind::Identity, json).is_empty());
    }

    #[test]
    fn flags_the_seeds_anti_patterns() {
        let admin = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        assert_eq!(
            rules(PolicyKind::Identity, admin),
            vec!["wildcard-action", "passrole-wildcard", "wildcard-resource"]
        );
        let not_action = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#;
        assert!(rules(PolicyKind::Identity, not_action).contains(&"allow-not-action"));
        let pass = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}"#;
        let found = rules(PolicyKind::Identity, pass);
        assert!(
            found.contains(&"passrole-wildcard") && found.contains(&"sensitive-without-condition")
        );
        let s3 = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}"#;
        assert_eq!(rules(PolicyKind::Identity, s3), vec!["wildcard-action"]);
        let secrets = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:1:secret:x"}}"#;
        assert_eq!(
            rules(PolicyKind::Identity, secrets),
            vec!["sensitive-without-condition"]
        );
    }

    #[test]
    fn public_trust_and_denies() {
        let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#;
        assert!(rules(PolicyKind::Trust, public).contains(&"public-principal"));
        let deny =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;
        assert!(rules(PolicyKind::Identity, deny).is_empty());
    }

    #[test]
    fn action_patterns() {
        assert!(covers("iam:*", "iam:passrole"));
        assert!(covers("iam:pass*", "iam:passrole"));
        assert!(covers("*", "iam:passrole"));
        assert!(!covers("iam:get*", "iam:passrole"));
    }
}
