//! The attribute schema of a pool: Cognito's standard attributes (what every pool has) plus
//! the pool's custom ones (`custom:<name>`), and the checks on attribute names and values a
//! request sets. No I/O.

use crate::error::UserPoolsError;
use crate::records::pool::{PoolConfig, SchemaAttribute};

/// A standard attribute: name, data type, mutable.
pub struct Standard {
    pub name: &'static str,
    pub data_type: &'static str,
}

/// Cognito's standard attributes, in the order DescribeUserPool lists them.
pub const STANDARD: &[Standard] = &[
    Standard {
        name: "sub",
        data_type: "String",
    },
    Standard {
        name: "name",
        data_type: "String",
    },
    Standard {
        name: "given_name",
        data_type: "String",
    },
    Standard {
        name: "family_name",
        data_type: "String",
    },
    Standard {
        name: "middle_name",
        data_type: "String",
    },
    Standard {
        name: "nickname",
        data_type: "String",
    },
    Standard {
        name: "preferred_username",
        data_type: "String",
    },
    Standard {
        name: "profile",
        data_type: "String",
    },
    Standard {
        name: "picture",
        data_type: "String",
    },
    Standard {
        name: "website",
        data_type: "String",
    },
    Standard {
        name: "email",
        data_type: "String",
    },
    Standard {
        name: "email_verified",
        data_type: "Boolean",
    },
    Standard {
        name: "gender",
        data_type: "String",
    },
    Standard {
        name: "birthdate",
        data_type: "String",
    },
    Standard {
        name: "zoneinfo",
        data_type: "String",
    },
    Standard {
        name: "locale",
        data_type: "String",
    },
    Standard {
        name: "phone_number",
        data_type: "String",
    },
    Standard {
        name: "phone_number_verified",
        data_type: "Boolean",
    },
    Standard {
        name: "address",
        data_type: "String",
    },
    Standard {
        name: "updated_at",
        data_type: "Number",
    },
];

/// Whether `name` is a standard attribute.
pub fn is_standard(name: &str) -> bool {
    STANDARD.iter().any(|s| s.name == name)
}

/// The schema attribute as DescribeUserPool lists it: the pool's own definition if it has
/// one, else the standard attribute's defaults.
pub fn effective(config: &PoolConfig, standard: &Standard) -> SchemaAttribute {
    if let Some(own) = config.schema_attribute(standard.name) {
        return own.clone();
    }
    let is_string = standard.data_type == "String";
    SchemaAttribute {
        name: standard.name.to_owned(),
        attribute_data_type: standard.data_type.to_owned(),
        developer_only_attribute: false,
        mutable: standard.name != "sub",
        required: standard.name == "sub",
        string_min_length: is_string.then_some(if standard.name == "sub" { 1 } else { 0 }),
        string_max_length: is_string.then_some(2048),
        number_min_value: (standard.data_type == "Number").then_some(0),
        number_max_value: None,
    }
}

/// Every attribute of the pool's schema: standard ones, then custom ones.
pub fn all(config: &PoolConfig) -> Vec<SchemaAttribute> {
    let mut out: Vec<SchemaAttribute> = STANDARD.iter().map(|s| effective(config, s)).collect();
    out.extend(
        config
            .schema
            .iter()
            .filter(|a| a.name.starts_with("custom:"))
            .cloned(),
    );
    out
}

/// Whether the pool knows attribute `name` (standard, or one of its custom attributes).
pub fn knows(config: &PoolConfig, name: &str) -> bool {
    is_standard(name) || (name.starts_with("custom:") && config.schema_attribute(name).is_some())
}

/// Checks one attribute a request sets on a user: known to the pool, not `sub`, mutable
/// unless `creating`, and its value within the attribute's constraints. The messages are
/// Cognito's.
pub fn check_value(
    config: &PoolConfig,
    name: &str,
    value: &str,
    creating: bool,
) -> Result<(), UserPoolsError> {
    if name == "sub" {
        return Err(UserPoolsError::InvalidParameter(
            "Cannot modify the non-mutable attribute sub".into(),
        ));
    }
    if !knows(config, name) {
        return Err(UserPoolsError::InvalidParameter(format!(
            "Attribute does not exist in the schema.\n{name}"
        )));
    }
    let standard = STANDARD.iter().find(|s| s.name == name);
    let attribute = match standard {
        Some(s) => effective(config, s),
        None => config
            .schema_attribute(name)
            .cloned()
            .ok_or_else(|| UserPoolsError::InvalidParameter(format!("Unknown attribute {name}")))?,
    };
    if !creating && !attribute.mutable {
        return Err(UserPoolsError::InvalidParameter(format!(
            "Cannot modify the non-mutable attribute {name}"
        )));
    }
    if value.chars().count() > 2048 {
        return Err(UserPoolsError::InvalidParameter(format!(
            "{name}: String must be no longer than 2048 characters"
        )));
    }
    match attribute.attribute_data_type.as_str() {
        "Boolean" if !matches!(value, "true" | "false") => {
            return Err(UserPoolsError::InvalidParameter(format!(
                "{name}: Attribute value must be a boolean (true or false)"
            )))
        }
        "Number" => {
            let n: i64 = value.parse().map_err(|_| {
                UserPoolsError::InvalidParameter(format!("{name}: Number expected"))
            })?;
            if attribute.number_min_value.is_some_and(|min| n < min)
                || attribute.number_max_value.is_some_and(|max| n > max)
            {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "{name}: Number out of the attribute's range"
                )));
            }
        }
        "String" => {
            let len = value.chars().count() as u32;
            if attribute.string_min_length.is_some_and(|min| len < min)
                || attribute.string_max_length.is_some_and(|max| len > max)
            {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "{name}: String length out of the attribute's range"
                )));
            }
        }
        _ => {}
    }
    if name == "email" && !looks_like_email(value) {
        return Err(UserPoolsError::InvalidParameter(
            "Invalid email address format.".into(),
        ));
    }
    if name == "phone_number" && !looks_like_phone(value) {
        return Err(UserPoolsError::InvalidParameter(
            "Invalid phone number format.".into(),
        ));
    }
    Ok(())
}

fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// E.164: `+` and 1 to 15 digits.
fn looks_like_phone(value: &str) -> bool {
    value
        .strip_prefix('+')
        .is_some_and(|d| (1..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_tenant() -> PoolConfig {
        PoolConfig {
            schema: vec![SchemaAttribute {
                name: "custom:tenant".into(),
                attribute_data_type: "String".into(),
                developer_only_attribute: false,
                mutable: false,
                required: false,
                string_min_length: Some(1),
                string_max_length: Some(8),
                number_min_value: None,
                number_max_value: None,
            }],
            ..PoolConfig::default()
        }
    }

    #[test]
    fn attribute_values_are_checked_against_the_schema() {
        let c = config_with_tenant();
        assert!(check_value(&c, "email", "a@example.com", false).is_ok());
        assert!(check_value(&c, "email", "not-an-email", false).is_err());
        assert!(check_value(&c, "phone_number", "+15555551234", false).is_ok());
        assert!(check_value(&c, "phone_number", "5555551234", false).is_err());
        assert!(check_value(&c, "email_verified", "yes", false).is_err());
        assert!(check_value(&c, "sub", "x", true).is_err());
        assert!(check_value(&c, "custom:unknown", "x", true).is_err());
        assert!(check_value(&c, "custom:tenant", "acme", true).is_ok());
        // Immutable once created.
        assert!(check_value(&c, "custom:tenant", "acme", false).is_err());
        assert!(check_value(&c, "custom:tenant", "much-too-long", true).is_err());
        assert!(check_value(&c, "updated_at", "12", false).is_ok());
        assert!(check_value(&c, "updated_at", "soon", false).is_err());
    }

    #[test]
    fn the_schema_lists_standard_then_custom_attributes() {
        let names: Vec<_> = all(&config_with_tenant())
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("sub"));
        assert_eq!(names.last().map(String::as_str), Some("custom:tenant"));
        assert_eq!(names.len(), STANDARD.len() + 1);
    }
}
