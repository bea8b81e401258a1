//! How a request names a function: its name (`my-function`), a partial ARN
//! (`123456789012:function:my-function`) or a full ARN
//! (`arn:aws:lambda:us-east-1:123456789012:function:my-function`), each optionally followed by
//! a qualifier (`:$LATEST`). No I/O.

use crate::error::FunctionsError;

/// The only version this slice publishes: the unpublished, latest code and configuration.
pub const LATEST: &str = "$LATEST";

/// The longest function name.
const MAX_NAME: usize = 64;

/// A function as a request named it, resolved against this endpoint's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    /// The qualifier the request gave (`$LATEST`, a version or an alias), if any.
    pub qualifier: Option<String>,
    /// The unqualified ARN of the function named — in another account or region if the
    /// request's ARN said so (then it does not exist here).
    pub arn: String,
    /// Whether the ARN is in this endpoint's account and region.
    pub local: bool,
}

impl FunctionRef {
    /// Parses `input` (`field` names the member in validation errors) and an optional
    /// `Qualifier` member; a qualifier both in the name and in the member must agree.
    pub fn parse(
        input: &str,
        qualifier: Option<&str>,
        field: &str,
        account: &str,
        region: &str,
        max_len: usize,
    ) -> Result<Self, FunctionsError> {
        let pattern_error = || {
            FunctionsError::constraint(
                input,
                field,
                "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            )
        };
        let len = input.chars().count();
        if len == 0 || len > max_len {
            return Err(FunctionsError::constraint(
                input,
                field,
                &format!("Member must have length between 1 and {max_len}"),
            ));
        }
        let parts: Vec<&str> = input.split(':').collect();
        // (region, account, name, qualifier) as written.
        let (arn_region, arn_account, name, in_name) = match parts.as_slice() {
            [name] => (None, None, *name, None),
            [name, q] => (None, None, *name, Some(*q)),
            [acct, "function", name] => (None, Some(*acct), *name, None),
            [acct, "function", name, q] => (None, Some(*acct), *name, Some(*q)),
            ["arn", partition, "lambda", r, acct, "function", name]
                if partition.starts_with("aws") =>
            {
                (Some(*r), Some(*acct), *name, None)
            }
            ["arn", partition, "lambda", r, acct, "function", name, q]
                if partition.starts_with("aws") =>
            {
                (Some(*r), Some(*acct), *name, Some(*q))
            }
            _ => return Err(pattern_error()),
        };
        check_name(name).map_err(|_| pattern_error())?;
        if let Some(acct) = arn_account {
            if acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()) {
                return Err(pattern_error());
            }
        }
        if let Some(q) = in_name {
            if !valid_qualifier(q) {
                return Err(pattern_error());
            }
        }
        let qualifier = match (in_name, qualifier) {
            (Some(a), Some(b)) if a != b => {
                return Err(FunctionsError::InvalidParameterValue(
                    "The derived qualifier from the function name does not match the specified qualifier.".into(),
                ))
            }
            (Some(q), _) | (None, Some(q)) => Some(q.to_owned()),
            (None, None) => None,
        };
        let region_named = arn_region.unwrap_or(region);
        let account_named = arn_account.unwrap_or(account);
        Ok(FunctionRef {
            name: name.to_owned(),
            qualifier,
            arn: function_arn(region_named, account_named, name),
            local: region_named == region && account_named == account,
        })
    }

    /// Whether the qualifier names the only version there is (or none was given).
    pub fn is_latest(&self) -> bool {
        self.qualifier.as_deref().is_none_or(|q| q == LATEST)
    }

    /// The ARN as the request qualified it, for messages.
    pub fn qualified_arn(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", self.arn),
            None => self.arn.clone(),
        }
    }
}

/// `arn:aws:lambda:<region>:<account>:function:<name>`.
pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// A function name: 1 to 64 of `[a-zA-Z0-9-_]`.
pub fn check_name(name: &str) -> Result<(), FunctionsError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(ok) {
        return Err(FunctionsError::constraint(
            name,
            "functionName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64",
        ));
    }
    Ok(())
}

/// `$LATEST`, or `[a-zA-Z0-9-_]{1,128}` (a version number or an alias name).
fn valid_qualifier(q: &str) -> bool {
    q == LATEST
        || (!q.is_empty()
            && q.len() <= 128
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Checks a `Qualifier` member on its own.
pub fn check_qualifier(q: &str) -> Result<(), FunctionsError> {
    if valid_qualifier(q) {
        Ok(())
    } else {
        Err(FunctionsError::constraint(
            q,
            "qualifier",
            "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";
    const REGION: &str = "us-east-1";

    fn parse(s: &str) -> Result<FunctionRef, FunctionsError> {
        FunctionRef::parse(s, None, "functionName", ACCT, REGION, 256)
    }

    #[test]
    fn every_form_names_the_same_function() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f-1";
        for form in ["f-1", "123456789012:function:f-1", arn] {
            let r = parse(form).unwrap();
            assert_eq!(r.name, "f-1");
            assert_eq!(r.arn, arn);
            assert!(r.local);
            assert!(r.is_latest());
        }
        let q = parse("f-1:$LATEST").unwrap();
        assert_eq!(q.qualifier.as_deref(), Some("$LATEST"));
        assert!(q.is_latest());
        assert!(!parse("f-1:prod").unwrap().is_latest());
    }

    #[test]
    fn foreign_arns_are_not_local() {
        let r = parse("arn:aws:lambda:eu-west-1:123456789012:function:f").unwrap();
        assert!(!r.local);
        assert_eq!(r.arn, "arn:aws:lambda:eu-west-1:123456789012:function:f");
        assert!(!parse("999999999999:function:f").unwrap().local);
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "",
            "a b",
            "../x",
            "f:a:b:c:d",
            "arn:aws:s3:::bucket",
            "12:function:f",
            "f:bad qualifier",
            &"a".repeat(65),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn qualifiers_must_agree() {
        let both = FunctionRef::parse("f:1", Some("2"), "functionName", ACCT, REGION, 256);
        assert!(matches!(
            both,
            Err(FunctionsError::InvalidParameterValue(_))
        ));
        let same = FunctionRef::parse("f:1", Some("1"), "functionName", ACCT, REGION, 256);
        assert_eq!(same.unwrap().qualifier.as_deref(), Some("1"));
    }
}
