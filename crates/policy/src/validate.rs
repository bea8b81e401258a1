//! The values inside a parsed document: Sids, action and resource formats, principal
//! identifiers, condition keys and values. The document's shape was checked by `parse`.

use std::collections::HashSet;

use crate::conditions::CompiledCondition;
use crate::document::{PolicyDocument, PolicyKind, PrincipalKind, Principals, Statement};
use crate::error::{Location, Malformed, PolicyError};

/// Checks every statement of `document` for a policy of `kind`.
pub(crate) fn validate(document: &PolicyDocument, kind: PolicyKind) -> Result<(), PolicyError> {
    let mut sids = HashSet::new();
    for (index, statement) in document.statements.iter().enumerate() {
        let at = |field: &str| Location::Statement {
            index,
            sid: statement.sid.clone(),
            field: Some(field.to_owned()),
        };
        let fail = |reason: Malformed, field: &str| PolicyError::new(reason, at(field));
        if let Some(sid) = statement.sid.as_deref().filter(|s| !s.is_empty()) {
            // "For IAM policies, basic alphanumeric characters (A-Z,a-z,0-9) are the only
            // allowed characters in the Sid value"; other services allow more.
            if kind.is_iam() && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(fail(Malformed::InvalidSid, "Sid"));
            }
            if !sids.insert(sid) {
                return Err(fail(Malformed::DuplicateSid, "Sid"));
            }
        }
        let action_field = if statement.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        for action in &statement.action.actions {
            check_action(action).map_err(|r| fail(r, action_field))?;
        }
        if let Some(resource) = &statement.resource {
            let field = if resource.negated {
                "NotResource"
            } else {
                "Resource"
            };
            for r in &resource.resources {
                check_resource(r).map_err(|reason| fail(reason, field))?;
            }
        }
        if let Some(principal) = &statement.principal {
            let field = if principal.negated {
                "NotPrincipal"
            } else {
                "Principal"
            };
            if let Principals::Map(entries) = &principal.principals {
                for (pkind, ids) in entries {
                    for id in ids {
                        check_principal(*pkind, id).map_err(|r| fail(r, field))?;
                    }
                }
            }
        }
        check_conditions(statement, document.substitutes_variables())
            .map_err(|reason| fail(reason, "Condition"))?;
    }
    Ok(())
}

/// `*`, or `vendor:Name` where both parts may hold `*` and `?`
/// ("action_string" in "Policy grammar notes").
fn check_action(action: &str) -> Result<(), Malformed> {
    if action == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = action.split_once(':') else {
        return Err(Malformed::MissingVendor);
    };
    if name.contains(':') {
        return Err(Malformed::ActionMultipleColons);
    }
    if vendor.is_empty() || !vendor.bytes().all(is_vendor_byte) {
        return Err(Malformed::InvalidVendor {
            vendor: vendor.to_owned(),
        });
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"*?_-".contains(&b))
    {
        return Err(Malformed::InvalidAction {
            action: action.to_owned(),
        });
    }
    Ok(())
}

fn is_vendor_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.*?".contains(&b)
}

/// `*`, or something that starts like an ARN: `arn:partition:service…`. Shorter patterns
/// such as `arn:aws:s3:*` are accepted and matched as a whole (see `arn`).
fn check_resource(resource: &str) -> Result<(), Malformed> {
    if resource == "*" {
        return Ok(());
    }
    let mut parts = resource.splitn(4, ':');
    let ok = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| !p.is_empty())
        && parts.next().is_some_and(|s| !s.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Malformed::InvalidResource {
            resource: resource.to_owned(),
        })
    }
}

/// The identifiers "Specifying a principal" lists. A `*` may only stand alone: "you can
/// use * only to specify everyone/anonymous. You cannot use it to specify part of a name
/// or ARN" (grammar notes, `principal_id_string`).
fn check_principal(kind: PrincipalKind, id: &str) -> Result<(), Malformed> {
    let invalid = || Malformed::InvalidPrincipal {
        kind: kind.as_str().to_owned(),
        value: id.to_owned(),
    };
    let ok = match kind {
        PrincipalKind::Aws => {
            id == "*" || is_account_id(id) || is_principal_arn(id) || is_unique_id(id)
        }
        PrincipalKind::Service => {
            id == "*"
                || (!id.is_empty()
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        }
        PrincipalKind::Federated | PrincipalKind::CanonicalUser => {
            !id.is_empty() && !id.contains('*') && !id.chars().any(char::is_whitespace)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Unique ids such as `AIDACKCEVSQ6C2EXAMPLE`, which IAM shows for deleted principals.
fn is_unique_id(id: &str) -> bool {
    id.len() >= 16
        && id.starts_with('A')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_principal_arn(id: &str) -> bool {
    let Some(parts) = crate::arn::split_arn(id) else {
        return false;
    };
    let [arn, partition, service, region, account, resource] = parts;
    if arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return false;
    }
    if id.contains('*') || id.contains('?') || resource.is_empty() {
        return false;
    }
    match service {
        "iam" => {
            resource == "root"
                || ["user/", "role/", "group/"]
                    .iter()
                    .any(|p| resource.len() > p.len() && resource.starts_with(p))
        }
        "sts" => {
            resource.starts_with("assumed-role/") && resource.matches('/').count() >= 2
                || resource.len() > "federated-user/".len()
                    && resource.starts_with("federated-user/")
        }
        _ => false,
    }
}

fn check_conditions(statement: &Statement, substitute: bool) -> Result<(), Malformed> {
    for condition in &statement.conditions {
        // Condition keys need a vendor prefix, like actions; tag keys after the prefix may
        // hold more colons (aws:ResourceTag/aws:cloudformation:stack-name).
        match condition.key.split_once(':') {
            Some((vendor, rest)) if !vendor.is_empty() && !rest.is_empty() => {}
            _ => return Err(Malformed::MissingVendor),
        }
        CompiledCondition::compile(condition, substitute)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        for ok in [
            "*",
            "s3:GetObject",
            "s3:*",
            "iam:Get*",
            "ec2:Describe?nstances",
            "*:*",
        ] {
            assert_eq!(check_action(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_action("GetObject"), Err(Malformed::MissingVendor));
        assert_eq!(check_action("s3:a:b"), Err(Malformed::ActionMultipleColons));
        assert!(matches!(
            check_action("s 3:Get"),
            Err(Malformed::InvalidVendor { .. })
        ));
        assert!(matches!(
            check_action("s3:"),
            Err(Malformed::InvalidAction { .. })
        ));
    }

    #[test]
    fn principals() {
        use PrincipalKind::*;
        for (k, ok) in [
            (Aws, "*"),
            (Aws, "123456789012"),
            (Aws, "arn:aws:iam::123456789012:root"),
            (Aws, "arn:aws:iam::123456789012:user/path/alice"),
            (Aws, "arn:aws:iam::123456789012:role/R"),
            (Aws, "arn:aws:sts::123456789012:assumed-role/R/s"),
            (Aws, "arn:aws:sts::123456789012:federated-user/bob"),
            (Aws, "AIDACKCEVSQ6C2EXAMPLE"),
            (Service, "lambda.amazonaws.com"),
            (Federated, "cognito-identity.amazonaws.com"),
            (Federated, "arn:aws:iam::123456789012:saml-provider/okta"),
        ] {
            assert_eq!(check_principal(k, ok), Ok(()), "{ok}");
        }
        for (k, bad) in [
            (Aws, "alice"),
            (Aws, "12345"),
            (Aws, "arn:aws:iam::123456789012:user/*"),
            (Aws, "arn:aws:s3:::bucket"),
            (Service, "lambda amazonaws"),
            (Federated, ""),
        ] {
            assert!(check_principal(k, bad).is_err(), "{bad}");
        }
    }
}
