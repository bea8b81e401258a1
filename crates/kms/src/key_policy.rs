//! Key policies: the documents a key is created with, how a submitted one is validated, and
//! the form the request path evaluates.
//!
//! AWS: "every KMS key must have exactly one key policy … Unless the key policy explicitly
//! allows it, you cannot use IAM policies to allow access to a KMS key." So a key policy takes
//! part in authorization like a role's trust policy does — it must allow, whatever else does —
//! and the request path's `ResourcePolicyKind::Trust` gives exactly that. The default key
//! policy allows `kms:*` to the account (`arn:aws:iam::<account>:root`), which in the policy
//! engine is an *account* grant: it adds nothing by itself and delegates the decision to the
//! caller's IAM policies, as AWS documents.
//!
//! Key policies are written in the resource-policy grammar (`"Resource": "*"` means "this
//! key"; Sids may hold spaces), which the trust grammar refuses. [`for_evaluation`] turns a
//! stored key policy into the trust form for one key: statements whose `Resource` matches the
//! key keep their effect without the element, those that cannot apply are dropped, and Sids
//! keep only their alphanumerics. A policy is refused at write time unless that form parses,
//! so a stored policy always evaluates.

use std::collections::HashSet;

use rampart_core::{CallerIdentity, PrincipalType};
use rampart_policy::{
    evaluate, parse_policy, CompiledPolicy, Decision, EvaluationContext, PolicyKind,
    RequestPrincipal,
};
use serde_json::Value;

use crate::error::KmsError;

/// The only key policy name (`PolicyName`).
pub const POLICY_NAME: &str = "default";
/// AWS's key policy size quota: 32 KiB.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// AWS's default key policy, byte for byte as `GetKeyPolicy` answers it.
pub fn default_policy(account_id: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account_id}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// The policy of the AWS-managed key for `service` (`secretsmanager`, `lambda`): any
/// principal of the account may use it, but only through that service (`kms:ViaService`), and
/// the account may read its metadata. Nobody may administer it.
pub fn aws_managed_policy(account_id: &str, region: &str, service: &str, display: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-{service}-2",
  "Statement" : [ {{
    "Sid" : "Allow access through {display} for all principals in the account that are authorized to use {display}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:ViaService" : "{service}.{region}.amazonaws.com",
        "kms:CallerAccount" : "{account_id}"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account_id}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// Refuses a key policy for the key `key_arn` that AWS would refuse, or that Rampart could
/// not evaluate.
pub fn validate(text: &str, key_arn: &str) -> Result<(), KmsError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    parse_policy(text, PolicyKind::Resource)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
    let evaluated = for_evaluation(text, key_arn).ok_or_else(|| {
        KmsError::MalformedPolicyDocument(
            "The key policy has no statement that applies to this key.".into(),
        )
    })?;
    parse_policy(&evaluated, PolicyKind::Trust)
        .map(drop)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))
}

/// The stored key policy of `key_arn` in the trust form the request path evaluates, or None
/// when no statement can apply (which the request path treats as a policy allowing nothing).
pub fn for_evaluation(text: &str, key_arn: &str) -> Option<String> {
    let mut document: Value = serde_json::from_str(text).ok()?;
    let object = document.as_object_mut()?;
    let statements = match object.remove("Statement")? {
        Value::Array(list) => list,
        single @ Value::Object(_) => vec![single],
        _ => return None,
    };
    let mut kept = Vec::with_capacity(statements.len());
    let mut sids = HashSet::new();
    for mut statement in statements {
        let fields = statement.as_object_mut()?;
        let deny = fields.get("Effect").and_then(Value::as_str) == Some("Deny");
        let applies = match (fields.remove("Resource"), fields.remove("NotResource")) {
            (Some(patterns), None) => matches_any(&patterns, key_arn),
            (None, Some(patterns)) => matches_any(&patterns, key_arn).map(|m| !m),
            (None, None) => Some(true),
            (Some(_), Some(_)) => return None,
        };
        // A statement whose reach cannot be decided without the request (a policy variable
        // in `Resource`) keeps a Deny and drops an Allow: never grant by guessing.
        match applies {
            Some(true) => {}
            Some(false) => continue,
            None if deny => {}
            None => continue,
        }
        if let Some(sid) = fields.remove("Sid") {
            let cleaned: String = sid
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            if !cleaned.is_empty() && sids.insert(cleaned.clone()) {
                fields.insert("Sid".into(), Value::String(cleaned));
            }
        }
        kept.push(statement);
    }
    if kept.is_empty() {
        return None;
    }
    object.insert("Statement".into(), Value::Array(kept));
    serde_json::to_string(&document).ok()
}

/// Whether any of the `Resource` patterns (a string or a list) matches `arn`; None if one
/// that might cannot be decided.
fn matches_any(patterns: &Value, arn: &str) -> Option<bool> {
    let list: Vec<&str> = match patterns {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Some(false),
    };
    let mut undecided = false;
    for pattern in list {
        if pattern.contains("${") {
            undecided = true;
        } else if arn_matches(pattern, arn) {
            return Some(true);
        }
    }
    if undecided {
        None
    } else {
        Some(false)
    }
}

/// IAM's ARN matching: six colon-separated segments matched one by one (so a `*` in the region
/// cannot run into the account), the last one whole; a shorter pattern as one wildcard string.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    if pattern_parts.len() == 6 && arn_parts.len() == 6 {
        pattern_parts
            .iter()
            .zip(&arn_parts)
            .all(|(p, a)| glob(p, a))
    } else {
        glob(pattern, arn)
    }
}

/// `*` matches any run of characters, `?` any one; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// AWS's policy lockout safety check: whether `policy` (as submitted) still lets the caller —
/// or, through IAM, its account — call `PutKeyPolicy` on the key later. A key whose policy
/// allows nobody to change it can never be administered again.
pub fn allows_future_updates(policy: &str, key_arn: &str, caller: &CallerIdentity) -> bool {
    let Some(evaluated) = for_evaluation(policy, key_arn) else {
        return false;
    };
    let Ok(compiled) = CompiledPolicy::parse(key_arn, PolicyKind::Trust, &evaluated) else {
        return false;
    };
    [
        RequestPrincipal::root(&caller.account_id),
        request_principal(caller),
    ]
    .into_iter()
    .any(|principal| {
        let mut ctx = EvaluationContext::new(principal, "kms:PutKeyPolicy", key_arn);
        ctx.set("kms:CallerAccount", caller.account_id.as_str());
        evaluate([&compiled], &ctx).decision == Decision::Allowed
    })
}

/// The caller as the policy engine names principals.
fn request_principal(caller: &CallerIdentity) -> RequestPrincipal {
    match caller.principal_type {
        PrincipalType::Account => RequestPrincipal::root(&caller.account_id),
        PrincipalType::AssumedRole => {
            // `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → the role's ARN (its path
            // is not in the session ARN; a policy naming a role with a path needs the bypass).
            let role = caller.arn.split('/').nth(1).unwrap_or_default().to_owned();
            let role_arn = format!("arn:aws:iam::{}:role/{role}", caller.account_id);
            let role_id = caller.user_id.split(':').next().unwrap_or_default();
            let session = caller.session_name.clone().unwrap_or_default();
            RequestPrincipal::role_session(&role_arn, &session, role_id)
        }
        PrincipalType::User | PrincipalType::FederatedUser => {
            RequestPrincipal::user(&caller.arn, &caller.user_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_default_policy_is_valid_and_delegates_to_the_account() {
        let policy = default_policy("111122223333");
        validate(&policy, ARN).unwrap();
        let evaluated = for_evaluation(&policy, ARN).unwrap();
        let value: Value = serde_json::from_str(&evaluated).unwrap();
        let statement = &value["Statement"][0];
        assert_eq!(statement["Sid"], "EnableIAMUserPermissions");
        assert!(statement.get("Resource").is_none());
        assert_eq!(
            statement["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        parse_policy(&evaluated, PolicyKind::Trust).unwrap();
    }

    #[test]
    fn aws_managed_policies_are_valid() {
        for (service, display) in [
            ("secretsmanager", "AWS Secrets Manager"),
            ("lambda", "AWS Lambda"),
        ] {
            let policy = aws_managed_policy("111122223333", "eu-west-1", service, display);
            validate(&policy, ARN).unwrap();
        }
    }

    #[test]
    fn statements_are_kept_only_where_they_reach_the_key() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"mine","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*"},
            {"Sid":"other","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/other"},
            {"Sid":"not","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","NotResource":"arn:aws:kms:*:*:key/other"},
            {"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:*:key/${aws:username}"},
            {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:*:key/${aws:username}"}
        ]}"#;
        validate(policy, ARN).unwrap();
        let evaluated: Value = serde_json::from_str(&for_evaluation(policy, ARN).unwrap()).unwrap();
        let statements = evaluated["Statement"].as_array().unwrap();
        let sids: Vec<&str> = statements
            .iter()
            .map(|s| s["Sid"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(sids, ["mine", "not", "-"]);
        assert_eq!(statements[2]["Effect"], "Deny");
    }

    #[test]
    fn malformed_and_oversized_policies_are_refused() {
        assert!(matches!(
            validate("{", ARN),
            Err(KmsError::MalformedPolicyDocument(_))
        ));
        let no_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}"#;
        assert!(matches!(
            validate(no_resource, ARN),
            Err(KmsError::MalformedPolicyDocument(_))
        ));
        let elsewhere = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/other"}]}"#;
        assert!(matches!(
            validate(elsewhere, ARN),
            Err(KmsError::MalformedPolicyDocument(_))
        ));
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Sid":"{}"}}]}}"#,
            "a".repeat(MAX_POLICY_BYTES)
        );
        assert!(matches!(
            validate(&big, ARN),
            Err(KmsError::LimitExceeded(_))
        ));
    }

    #[test]
    fn globbing() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*key/*", "arn:aws:kms:x:1:key/abc"));
        assert!(!glob("abc", "abd"));
        assert!(arn_matches("arn:aws:kms:*:111122223333:key/*", ARN));
        assert!(!arn_matches("arn:aws:kms:*:999999999999:key/*", ARN));
        assert!(arn_matches("arn:aws:kms:*", ARN));
    }
}
