//! ListUsers' `Filter`: `<attribute> = "<value>"` (exact) or `<attribute> ^= "<prefix>"`, on
//! the attributes Cognito lets a filter name. No I/O.

use crate::error::UserPoolsError;
use crate::records::user::UserRecord;

/// The attributes a filter may name.
pub const SEARCHABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub attribute: String,
    pub prefix: bool,
    pub value: String,
}

fn malformed() -> UserPoolsError {
    UserPoolsError::InvalidParameter("Error while parsing filter.".into())
}

impl Filter {
    /// Parses a `Filter` member; an empty (or blank) filter is none.
    pub fn parse(text: &str) -> Result<Option<Filter>, UserPoolsError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let name_end = text
            .find(|c: char| c.is_whitespace() || c == '=' || c == '^')
            .ok_or_else(malformed)?;
        let attribute = &text[..name_end];
        let rest = text[name_end..].trim_start();
        let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (false, r)
        } else {
            return Err(malformed());
        };
        let rest = rest.trim_start();
        let quoted = rest.strip_prefix('"').ok_or_else(malformed)?;
        let mut value = String::new();
        let mut chars = quoted.chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().ok_or_else(malformed)?),
                '"' => {
                    closed = true;
                    break;
                }
                other => value.push(other),
            }
        }
        if !closed || !chars.as_str().trim().is_empty() {
            return Err(malformed());
        }
        if !SEARCHABLE.contains(&attribute) {
            return Err(UserPoolsError::InvalidParameter(format!(
                "Invalid search attribute: {attribute}"
            )));
        }
        Ok(Some(Filter {
            attribute: attribute.to_owned(),
            prefix,
            value,
        }))
    }

    /// Whether `user` matches.
    pub fn matches(&self, user: &UserRecord) -> bool {
        let actual = match self.attribute.as_str() {
            "username" => Some(user.username.as_str()),
            "cognito:user_status" => Some(user.status.as_str()),
            "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }),
            other => user.attribute(other),
        };
        match actual {
            Some(actual) if self.prefix => actual.starts_with(&self.value),
            Some(actual) => actual == self.value,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::user::{Attribute, UserStatus};
    use time::OffsetDateTime;

    fn parsed(text: &str) -> Filter {
        Filter::parse(text).unwrap().unwrap()
    }

    #[test]
    fn parses_both_operators_with_cognitos_spacing_and_escapes() {
        assert_eq!(
            parsed(r#"email = "a@example.com""#),
            Filter {
                attribute: "email".into(),
                prefix: false,
                value: "a@example.com".into()
            }
        );
        assert_eq!(
            parsed(r#"family_name^="Sm""#),
            Filter {
                attribute: "family_name".into(),
                prefix: true,
                value: "Sm".into()
            }
        );
        assert_eq!(parsed(r#"name = "say \"hi\"""#).value, r#"say "hi""#);
        assert_eq!(
            parsed(r#"cognito:user_status = "CONFIRMED""#).attribute,
            "cognito:user_status"
        );
        assert_eq!(parsed(r#"username = """#).value, "");
        assert_eq!(Filter::parse("").unwrap(), None);
        assert_eq!(Filter::parse("   ").unwrap(), None);
    }

    #[test]
    fn refuses_malformed_filters_and_unsearchable_attributes() {
        for bad in [
            "email",
            "email =",
            r#"email = a@example.com"#,
            r#"email = "unterminated"#,
            r#"email == "x""#,
            r#"email = "x" extra"#,
            r#"email ~ "x""#,
            r#"email = "x\"#,
        ] {
            let e = Filter::parse(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidParameterException", "{bad}");
        }
        let e = Filter::parse(r#"custom:tenant = "a""#).unwrap_err();
        assert!(e.to_string().contains("Invalid search attribute"), "{e}");
    }

    #[test]
    fn matches_usernames_attributes_status_and_prefixes() {
        let now = OffsetDateTime::now_utc();
        let user = UserRecord {
            pool_id: "p_1".into(),
            username: "alice".into(),
            sub: "1234".into(),
            attributes: vec![Attribute {
                name: "email".into(),
                value: "alice@example.com".into(),
            }],
            status: UserStatus::Confirmed,
            enabled: false,
            created_at: now,
            last_modified_at: now,
            password: None,
            codes: Vec::new(),
            software_token: None,
        };
        assert!(parsed(r#"username = "alice""#).matches(&user));
        assert!(!parsed(r#"username = "ali""#).matches(&user));
        assert!(parsed(r#"username ^= "ali""#).matches(&user));
        assert!(parsed(r#"email ^= "alice@""#).matches(&user));
        assert!(parsed(r#"sub = "1234""#).matches(&user));
        assert!(parsed(r#"cognito:user_status = "CONFIRMED""#).matches(&user));
        assert!(parsed(r#"status = "Disabled""#).matches(&user));
        assert!(!parsed(r#"phone_number ^= "+""#).matches(&user));
    }
}
