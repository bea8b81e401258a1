//! A secret's resource policy: what `PutResourcePolicy` accepts and what `BlockPublicPolicy`
//! and `ValidateResourcePolicy` call broad access. Pure: no I/O.
//!
//! A policy is read with `rampart-policy` as a resource-based policy (every statement names
//! its principals), the grammar the request path evaluates it in. "Broad access" follows what
//! AWS documents for Secrets Manager's and S3's block-public-access checks: an `Allow` whose
//! principal is a wildcard (`"*"`, `{"AWS": "*"}`, or any identifier holding `*`), or a
//! `NotPrincipal`, unless a condition pins the caller to fixed values of a key that identifies
//! an account, organization, principal, source or network (`aws:PrincipalAccount`,
//! `aws:PrincipalOrgID`, `aws:SourceIp`, …). A condition only pins when it must hold for the
//! request to match: a negated operator, `IfExists`, `ForAllValues`, a wildcard or policy
//! variable in the value, or a `/0` network leaves the door open.

use rampart_policy::{
    parse_policy, BaseOperator, Condition, Effect, Location, PolicyDocument, PolicyError,
    PolicyKind, Principals, SetQualifier, Statement,
};

use crate::error::SecretsError;

/// The largest resource policy, in characters (the model's `NonEmptyResourcePolicyType`).
pub const MAX_POLICY_CHARS: usize = 20480;

/// The only policy name a secret has.
pub const POLICY_NAME: &str = "default";

/// What `ValidateResourcePolicy` names the check a policy failed. AWS does not document the
/// names it uses; these are Rampart's.
pub const SYNTAX_CHECK: &str = "SYNTAX_CHECK";
/// See [`SYNTAX_CHECK`].
pub const PUBLIC_ACCESS_CHECK: &str = "PUBLIC_ACCESS_CHECK";

/// The condition keys whose fixed values keep a wildcard principal from being public.
const PINNING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:userid",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
];

/// Parses `text` as a secret's resource policy.
pub fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
    parse_policy(text, PolicyKind::Resource)
}

/// Whether a parse failure is the text not being JSON at all (rather than JSON that is not a
/// valid policy).
pub fn is_not_json(error: &PolicyError) -> bool {
    matches!(error.location, Location::Document { line: Some(_), .. })
}

/// The refusal of a malformed policy, as `PutResourcePolicy` answers it.
pub fn malformed(error: &PolicyError) -> SecretsError {
    SecretsError::MalformedPolicyDocument(format!(
        "This resource policy contains a syntax error: {error}"
    ))
}

/// `ResourcePolicy`: 1 to 20480 characters.
pub fn check_length(text: &str) -> Result<(), SecretsError> {
    let len = text.chars().count();
    if len == 0 || len > MAX_POLICY_CHARS {
        // The policy itself is not echoed: it may be long, and it is the caller's own text.
        return Err(SecretsError::Validation(format!(
            "1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must have length between 1 and {MAX_POLICY_CHARS}"
        )));
    }
    Ok(())
}

/// The statements (by position) that grant broad access.
pub fn broad_statements(document: &PolicyDocument) -> Vec<usize> {
    document
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| grants_broad_access(s))
        .map(|(i, _)| i)
        .collect()
}

/// The message for a policy that grants broad access.
pub fn broad_access_message(statements: &[usize]) -> String {
    let list: Vec<String> = statements
        .iter()
        .map(|i| format!("Statement[{i}]"))
        .collect();
    format!(
        "The resource policy grants broad access to the secret: {} allows a wildcard principal without a condition that limits it to known accounts, organizations or networks.",
        list.join(", ")
    )
}

fn grants_broad_access(statement: &Statement) -> bool {
    if statement.effect != Effect::Allow {
        return false;
    }
    let Some(principal) = &statement.principal else {
        return false;
    };
    let wildcard = principal.negated
        || match &principal.principals {
            Principals::Everyone => true,
            Principals::Map(kinds) => kinds
                .iter()
                .any(|(_, ids)| ids.iter().any(|id| id.contains('*'))),
        };
    wildcard && !statement.conditions.iter().any(pins_the_caller)
}

/// Whether the condition holds only for requests from the fixed values it names.
fn pins_the_caller(condition: &Condition) -> bool {
    let key = condition.key.to_ascii_lowercase();
    let operator = condition.operator;
    if !PINNING_KEYS.contains(&key.as_str())
        || operator.if_exists
        || operator.qualifier == Some(SetQualifier::ForAllValues)
        || condition.values.is_empty()
    {
        return false;
    }
    let fixed = |v: &String| !v.is_empty() && !v.contains("${");
    let no_wildcard = |v: &String| !v.contains('*') && !v.contains('?');
    match operator.base {
        BaseOperator::StringEquals
        | BaseOperator::StringEqualsIgnoreCase
        | BaseOperator::ArnEquals => condition.values.iter().all(|v| fixed(v) && no_wildcard(v)),
        BaseOperator::StringLike | BaseOperator::ArnLike => {
            condition.values.iter().all(|v| fixed(v) && no_wildcard(v))
        }
        BaseOperator::IpAddress => condition
            .values
            .iter()
            .all(|v| fixed(v) && !v.ends_with("/0")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broad(statement: &str) -> Vec<usize> {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        broad_statements(&parse(&text).unwrap())
    }

    const GET: &str = r#""Action":"secretsmanager:GetSecretValue","Resource":"*""#;

    #[test]
    fn wildcard_principals_are_broad() {
        for principal in [
            r#""Principal":"*""#,
            r#""Principal":{"AWS":"*"}"#,
            r#""Principal":{"AWS":["arn:aws:iam::123456789012:root","*"]}"#,
            r#""NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/x"}"#,
        ] {
            let s = format!(r#"{{"Effect":"Allow",{principal},{GET}}}"#);
            assert_eq!(broad(&s), vec![0], "{s}");
        }
    }

    #[test]
    fn named_principals_and_denies_are_not() {
        for s in [
            format!(
                r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:role/r"}},{GET}}}"#
            ),
            format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"111122223333"}},{GET}}}"#),
            format!(r#"{{"Effect":"Deny","Principal":"*",{GET}}}"#),
        ] {
            assert!(broad(&s).is_empty(), "{s}");
        }
    }

    #[test]
    fn only_a_pinning_condition_closes_a_wildcard() {
        let closed = [
            r#"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":["o-abc123"]}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
            r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/r"}}"#,
        ];
        for c in closed {
            let s = format!(r#"{{"Effect":"Allow","Principal":"*",{GET},"Condition":{c}}}"#);
            assert!(broad(&s).is_empty(), "{s}");
        }
        let open = [
            r#"{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
            r#"{"StringEqualsIfExists":{"aws:PrincipalAccount":"123456789012"}}"#,
            r#"{"StringLike":{"aws:PrincipalAccount":"*"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
            r#"{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        ];
        for c in open {
            let s = format!(r#"{{"Effect":"Allow","Principal":"*",{GET},"Condition":{c}}}"#);
            assert_eq!(broad(&s), vec![0], "{s}");
        }
    }

    #[test]
    fn malformed_and_non_json_policies_are_told_apart() {
        let not_json = parse("{nope").unwrap_err();
        assert!(is_not_json(&not_json));
        let no_principal = parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",{GET}}}]}}"#
        ))
        .unwrap_err();
        assert!(!is_not_json(&no_principal));
        assert_eq!(
            malformed(&no_principal).code(),
            "MalformedPolicyDocumentException"
        );
    }
}
