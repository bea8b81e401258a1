//! The members CreateUserPool and UpdateUserPool take, checked and turned into a
//! [`PoolConfig`], and the `UserPoolType` DescribeUserPool answers. Checks follow the service
//! model's constraints (`ValidationException`) and Cognito's own rules
//! (`InvalidParameterException`, worded as Cognito words them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::wire::{self, epoch};
use crate::error::UserPoolsError;
use crate::records::pool::{
    AccountRecoverySetting, AdminCreateUserConfig, DeletionProtection, MfaConfiguration,
    PoolConfig, PoolPolicies, PoolRecord, RecoveryOption, SchemaAttribute, StoredPasswordPolicy,
};
use crate::schema;

/// The configuration members both CreateUserPool and UpdateUserPool take.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigInput {
    pub policies: Option<PoliciesInput>,
    pub deletion_protection: Option<String>,
    pub lambda_config: Option<Value>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub mfa_configuration: Option<String>,
    pub admin_create_user_config: Option<AdminCreateUserConfigInput>,
    pub account_recovery_setting: Option<AccountRecoverySettingInput>,
    pub user_pool_tags: Option<BTreeMap<String, String>>,
    pub email_verification_message: Option<String>,
    pub email_verification_subject: Option<String>,
    pub sms_verification_message: Option<String>,
    pub sms_authentication_message: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct PoliciesInput {
    pub password_policy: Option<PasswordPolicyInput>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyInput {
    pub minimum_length: Option<i64>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_symbols: Option<bool>,
    pub password_history_size: Option<i64>,
    pub temporary_password_validity_days: Option<i64>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUserConfigInput {
    pub allow_admin_create_user_only: Option<bool>,
    pub unused_account_validity_days: Option<i64>,
    pub invite_message_template: Option<MessageTemplateInput>,
}

#[derive(Deserialize, Default, Clone)]
pub struct MessageTemplateInput {
    #[serde(rename = "SMSMessage")]
    pub sms_message: Option<String>,
    #[serde(rename = "EmailMessage")]
    pub email_message: Option<String>,
    #[serde(rename = "EmailSubject")]
    pub email_subject: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRecoverySettingInput {
    pub recovery_mechanisms: Option<Vec<RecoveryOptionInput>>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryOptionInput {
    pub priority: i64,
    pub name: String,
}

/// `SchemaAttributeType` as CreateUserPool takes it.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaAttributeInput {
    pub name: Option<String>,
    pub attribute_data_type: Option<String>,
    pub developer_only_attribute: Option<bool>,
    pub mutable: Option<bool>,
    pub required: Option<bool>,
    pub number_attribute_constraints: Option<NumberConstraintsInput>,
    pub string_attribute_constraints: Option<StringConstraintsInput>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct NumberConstraintsInput {
    pub min_value: Option<String>,
    pub max_value: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct StringConstraintsInput {
    pub min_length: Option<String>,
    pub max_length: Option<String>,
}

/// The most custom attributes a pool may have.
const MAX_CUSTOM_ATTRIBUTES: usize = 50;

fn invalid(message: impl Into<String>) -> UserPoolsError {
    UserPoolsError::InvalidParameter(message.into())
}

/// A `PoolName`: 1 to 128 characters of `[\w\s+=,.@-]+`.
pub fn pool_name(name: &str) -> Result<(), UserPoolsError> {
    wire::check_length(name, "poolName", 1, 128)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c))
    {
        return Err(UserPoolsError::constraint(
            name,
            "poolName",
            "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        ));
    }
    Ok(())
}

fn ranged(value: i64, field: &str, min: i64, max: i64) -> Result<u32, UserPoolsError> {
    if value < min || value > max {
        return Err(UserPoolsError::constraint(
            value,
            field,
            &format!("Member must have value between {min} and {max}"),
        ));
    }
    Ok(value as u32)
}

fn password_policy(input: Option<PoliciesInput>) -> Result<StoredPasswordPolicy, UserPoolsError> {
    let mut policy = StoredPasswordPolicy::default();
    let Some(p) = input.and_then(|p| p.password_policy) else {
        return Ok(policy);
    };
    if let Some(n) = p.minimum_length {
        policy.minimum_length = ranged(n, "policies.passwordPolicy.minimumLength", 6, 99)?;
    }
    if let Some(v) = p.require_uppercase {
        policy.require_uppercase = v;
    }
    if let Some(v) = p.require_lowercase {
        policy.require_lowercase = v;
    }
    if let Some(v) = p.require_numbers {
        policy.require_numbers = v;
    }
    if let Some(v) = p.require_symbols {
        policy.require_symbols = v;
    }
    if let Some(n) = p.temporary_password_validity_days {
        policy.temporary_password_validity_days = ranged(
            n,
            "policies.passwordPolicy.temporaryPasswordValidityDays",
            0,
            365,
        )?;
    }
    if let Some(n) = p.password_history_size {
        ranged(n, "policies.passwordPolicy.passwordHistorySize", 0, 24)?;
        if n > 0 {
            // Password history is a feature of Cognito's Essentials tier Rampart does not
            // enforce; accepting it would promise a check that never happens.
            return Err(UserPoolsError::UnsupportedOperation(
                "PasswordHistorySize is not supported.".into(),
            ));
        }
    }
    Ok(policy)
}

fn verified_attributes(input: Option<Vec<String>>) -> Result<Vec<String>, UserPoolsError> {
    let list = input.unwrap_or_default();
    for a in &list {
        if !matches!(a.as_str(), "email" | "phone_number") {
            return Err(UserPoolsError::constraint(
                format!("[{}]", list.join(", ")),
                "autoVerifiedAttributes",
                "Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email]]",
            ));
        }
    }
    Ok(dedup(list))
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// `UsernameAttributes` and `AliasAttributes` (CreateUserPool only: they never change).
pub fn sign_in_attributes(
    username_attributes: Option<Vec<String>>,
    alias_attributes: Option<Vec<String>>,
) -> Result<(Vec<String>, Vec<String>), UserPoolsError> {
    let username = username_attributes.unwrap_or_default();
    let alias = alias_attributes.unwrap_or_default();
    for a in &username {
        if !matches!(a.as_str(), "email" | "phone_number") {
            return Err(UserPoolsError::constraint(
                format!("[{}]", username.join(", ")),
                "usernameAttributes",
                "Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email]]",
            ));
        }
    }
    for a in &alias {
        if !matches!(a.as_str(), "email" | "phone_number" | "preferred_username") {
            return Err(UserPoolsError::constraint(
                format!("[{}]", alias.join(", ")),
                "aliasAttributes",
                "Member must satisfy constraint: [Member must satisfy enum value set: [phone_number, email, preferred_username]]",
            ));
        }
    }
    if !username.is_empty() && !alias.is_empty() {
        return Err(invalid(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
        ));
    }
    Ok((dedup(username), dedup(alias)))
}

/// `Schema`: custom attributes (named without `custom:`, which they take) and changes to
/// standard ones.
pub fn schema_attributes(
    input: Option<Vec<SchemaAttributeInput>>,
) -> Result<Vec<SchemaAttribute>, UserPoolsError> {
    let mut out: Vec<SchemaAttribute> = Vec::new();
    for a in input.unwrap_or_default() {
        let name = a
            .name
            .ok_or_else(|| invalid("Schema attribute name is required."))?;
        wire::check_length(&name, "schema.member.name", 1, 20)?;
        let standard = schema::STANDARD.iter().find(|s| s.name == name);
        let data_type = match (&a.attribute_data_type, standard) {
            (Some(t), _) => t.clone(),
            (None, Some(s)) => s.data_type.to_owned(),
            (None, None) => {
                return Err(invalid(format!(
                    "Schema attribute {name} has no AttributeDataType."
                )))
            }
        };
        if !matches!(
            data_type.as_str(),
            "String" | "Number" | "DateTime" | "Boolean"
        ) {
            return Err(UserPoolsError::constraint(
                &data_type,
                "schema.member.attributeDataType",
                "Member must satisfy enum value set: [Number, String, Boolean, DateTime]",
            ));
        }
        let full_name = match standard {
            Some(s) => {
                if s.data_type != data_type {
                    return Err(invalid(format!(
                        "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {name}"
                    )));
                }
                if s.name == "sub" {
                    return Err(invalid("You can not modify the sub attribute."));
                }
                name.clone()
            }
            None => {
                if a.required == Some(true) {
                    return Err(invalid(
                        "Required custom attributes are not supported currently.",
                    ));
                }
                format!("custom:{name}")
            }
        };
        let parse = |v: &Option<String>, field: &str| -> Result<Option<i64>, UserPoolsError> {
            v.as_deref()
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| invalid(format!("{field} of {name} is not a number.")))
                })
                .transpose()
        };
        let strings = a.string_attribute_constraints.as_ref();
        let numbers = a.number_attribute_constraints.as_ref();
        let attribute = SchemaAttribute {
            name: full_name.clone(),
            attribute_data_type: data_type.clone(),
            developer_only_attribute: a.developer_only_attribute.unwrap_or(false),
            mutable: a.mutable.unwrap_or(true),
            required: a.required.unwrap_or(false),
            string_min_length: parse(&strings.and_then(|s| s.min_length.clone()), "MinLength")?
                .map(|n| n.clamp(0, 2048) as u32),
            string_max_length: parse(&strings.and_then(|s| s.max_length.clone()), "MaxLength")?
                .map(|n| n.clamp(0, 2048) as u32),
            number_min_value: parse(&numbers.and_then(|n| n.min_value.clone()), "MinValue")?,
            number_max_value: parse(&numbers.and_then(|n| n.max_value.clone()), "MaxValue")?,
        };
        if out.iter().any(|o| o.name == full_name) {
            return Err(invalid(format!("Duplicate schema attribute {full_name}.")));
        }
        out.push(attribute);
    }
    if out.iter().filter(|a| a.name.starts_with("custom:")).count() > MAX_CUSTOM_ATTRIBUTES {
        return Err(invalid(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )));
    }
    Ok(out)
}

fn tags(
    input: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, UserPoolsError> {
    let tags = input.unwrap_or_default();
    if tags.len() > 50 {
        return Err(UserPoolsError::UserPoolTagging(
            "A user pool can have at most 50 tags.".into(),
        ));
    }
    for (k, v) in &tags {
        wire::check_length(k, "userPoolTags.key", 1, 128)?;
        wire::check_length(v, "userPoolTags.value", 0, 256)?;
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(UserPoolsError::UserPoolTagging(
                "Tag keys must not begin with aws:.".into(),
            ));
        }
    }
    Ok(tags)
}

fn account_recovery(
    input: Option<AccountRecoverySettingInput>,
) -> Result<Option<AccountRecoverySetting>, UserPoolsError> {
    let Some(input) = input else { return Ok(None) };
    let options = input.recovery_mechanisms.unwrap_or_default();
    if options.is_empty() || options.len() > 2 {
        return Err(UserPoolsError::constraint(
            options.len(),
            "accountRecoverySetting.recoveryMechanisms",
            "Member must have length between 1 and 2",
        ));
    }
    let mut out = Vec::with_capacity(options.len());
    for o in options {
        if !matches!(
            o.name.as_str(),
            "verified_email" | "verified_phone_number" | "admin_only"
        ) {
            return Err(UserPoolsError::constraint(
                &o.name,
                "accountRecoverySetting.recoveryMechanisms.member.name",
                "Member must satisfy enum value set: [verified_email, verified_phone_number, admin_only]",
            ));
        }
        let priority = ranged(
            o.priority,
            "accountRecoverySetting.recoveryMechanisms.member.priority",
            1,
            2,
        )?;
        if out
            .iter()
            .any(|r: &RecoveryOption| r.priority == priority || r.name == o.name)
        {
            return Err(invalid(
                "Recovery mechanisms must have distinct names and priorities.",
            ));
        }
        out.push(RecoveryOption {
            priority,
            name: o.name,
        });
    }
    if out.len() > 1 && out.iter().any(|r| r.name == "admin_only") {
        return Err(invalid(
            "admin_only cannot be combined with other recovery mechanisms.",
        ));
    }
    out.sort_by_key(|r| r.priority);
    Ok(Some(AccountRecoverySetting {
        recovery_mechanisms: out,
    }))
}

fn message(
    value: Option<String>,
    field: &str,
    max: usize,
) -> Result<Option<String>, UserPoolsError> {
    if let Some(v) = &value {
        wire::check_length(v, field, 1, max)?;
    }
    Ok(value)
}

/// Applies the members of `input` to `config`. What CreateUserPool and UpdateUserPool set
/// alike: a member left out takes Cognito's default (UpdateUserPool resets it, as Cognito
/// documents), but for the tags, which an update without `UserPoolTags` keeps.
pub fn apply(config: &mut PoolConfig, input: ConfigInput) -> Result<(), UserPoolsError> {
    if input
        .lambda_config
        .as_ref()
        .is_some_and(|l| l.as_object().is_some_and(|o| !o.is_empty()))
    {
        // Triggers would run customer code Rampart cannot run yet: refusing is honest,
        // ignoring them would skip a pre-sign-up check the pool's owner relies on.
        return Err(invalid("Lambda triggers are not supported."));
    }
    config.policies = PoolPolicies {
        password_policy: password_policy(input.policies)?,
    };
    config.deletion_protection = match input.deletion_protection.as_deref() {
        None | Some("INACTIVE") => DeletionProtection::Inactive,
        Some("ACTIVE") => DeletionProtection::Active,
        Some(other) => {
            return Err(UserPoolsError::constraint(
                other,
                "deletionProtection",
                "Member must satisfy enum value set: [ACTIVE, INACTIVE]",
            ))
        }
    };
    config.mfa_configuration = match input.mfa_configuration.as_deref() {
        None | Some("OFF") => MfaConfiguration::Off,
        Some("ON") => MfaConfiguration::On,
        Some("OPTIONAL") => MfaConfiguration::Optional,
        Some(other) => {
            return Err(UserPoolsError::constraint(
                other,
                "mfaConfiguration",
                "Member must satisfy enum value set: [OFF, ON, OPTIONAL]",
            ))
        }
    };
    config.auto_verified_attributes = verified_attributes(input.auto_verified_attributes)?;
    let admin = input.admin_create_user_config.unwrap_or_default();
    let template = admin.invite_message_template.unwrap_or_default();
    config.admin_create_user_config = AdminCreateUserConfig {
        allow_admin_create_user_only: admin.allow_admin_create_user_only.unwrap_or(false),
        unused_account_validity_days: match admin.unused_account_validity_days {
            Some(n) => ranged(n, "adminCreateUserConfig.unusedAccountValidityDays", 0, 365)?,
            None => 7,
        },
        invite_email_message: message(
            template.email_message,
            "inviteMessageTemplate.emailMessage",
            20000,
        )?,
        invite_email_subject: message(
            template.email_subject,
            "inviteMessageTemplate.emailSubject",
            140,
        )?,
        invite_sms_message: message(
            template.sms_message,
            "inviteMessageTemplate.sMSMessage",
            140,
        )?,
    };
    for (text, needs) in [
        (
            &config.admin_create_user_config.invite_email_message,
            ["{username}", "{####}"],
        ),
        (
            &config.admin_create_user_config.invite_sms_message,
            ["{username}", "{####}"],
        ),
    ] {
        if let Some(text) = text {
            if needs.iter().any(|n| !text.contains(n)) {
                return Err(invalid(
                    "The invitation message must contain the {username} and {####} placeholders.",
                ));
            }
        }
    }
    config.account_recovery_setting = account_recovery(input.account_recovery_setting)?;
    if let Some(t) = input.user_pool_tags {
        config.user_pool_tags = tags(Some(t))?;
    }
    config.email_verification_message = message(
        input.email_verification_message,
        "emailVerificationMessage",
        20000,
    )?;
    config.email_verification_subject = message(
        input.email_verification_subject,
        "emailVerificationSubject",
        140,
    )?;
    config.sms_verification_message = message(
        input.sms_verification_message,
        "smsVerificationMessage",
        140,
    )?;
    config.sms_authentication_message = message(
        input.sms_authentication_message,
        "smsAuthenticationMessage",
        140,
    )?;
    for text in [
        &config.email_verification_message,
        &config.sms_verification_message,
        &config.sms_authentication_message,
    ]
    .into_iter()
    .flatten()
    {
        if !text.contains("{####}") {
            return Err(invalid("The message must contain the {####} placeholder."));
        }
    }
    Ok(())
}

/// `SchemaAttributeType` as the API answers it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SchemaAttributeShape {
    name: String,
    attribute_data_type: String,
    developer_only_attribute: bool,
    mutable: bool,
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    string_attribute_constraints: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_attribute_constraints: Option<Value>,
}

fn schema_shape(a: SchemaAttribute) -> SchemaAttributeShape {
    let strings = (a.attribute_data_type == "String").then(|| {
        let mut c = serde_json::Map::new();
        if let Some(n) = a.string_min_length {
            c.insert("MinLength".into(), json!(n.to_string()));
        }
        if let Some(n) = a.string_max_length {
            c.insert("MaxLength".into(), json!(n.to_string()));
        }
        Value::Object(c)
    });
    let numbers = (a.attribute_data_type == "Number").then(|| {
        let mut c = serde_json::Map::new();
        if let Some(n) = a.number_min_value {
            c.insert("MinValue".into(), json!(n.to_string()));
        }
        if let Some(n) = a.number_max_value {
            c.insert("MaxValue".into(), json!(n.to_string()));
        }
        Value::Object(c)
    });
    SchemaAttributeShape {
        name: a.name,
        attribute_data_type: a.attribute_data_type,
        developer_only_attribute: a.developer_only_attribute,
        mutable: a.mutable,
        required: a.required,
        string_attribute_constraints: strings,
        number_attribute_constraints: numbers,
    }
}

/// `UserPoolType`.
pub fn pool_shape(pool: &PoolRecord, estimated_users: usize) -> Value {
    let c = &pool.config;
    let p = &c.policies.password_policy;
    let admin = &c.admin_create_user_config;
    let mut template = serde_json::Map::new();
    if let Some(m) = &admin.invite_email_message {
        template.insert("EmailMessage".into(), json!(m));
    }
    if let Some(m) = &admin.invite_email_subject {
        template.insert("EmailSubject".into(), json!(m));
    }
    if let Some(m) = &admin.invite_sms_message {
        template.insert("SMSMessage".into(), json!(m));
    }
    let mut verification = serde_json::Map::new();
    verification.insert("DefaultEmailOption".into(), json!("CONFIRM_WITH_CODE"));
    if let Some(m) = &c.email_verification_message {
        verification.insert("EmailMessage".into(), json!(m));
    }
    if let Some(m) = &c.email_verification_subject {
        verification.insert("EmailSubject".into(), json!(m));
    }
    if let Some(m) = &c.sms_verification_message {
        verification.insert("SmsMessage".into(), json!(m));
    }
    let mut out = json!({
        "Id": pool.id,
        "Name": pool.name,
        "Arn": pool.arn,
        "Policies": {"PasswordPolicy": {
            "MinimumLength": p.minimum_length,
            "RequireUppercase": p.require_uppercase,
            "RequireLowercase": p.require_lowercase,
            "RequireNumbers": p.require_numbers,
            "RequireSymbols": p.require_symbols,
            "TemporaryPasswordValidityDays": p.temporary_password_validity_days,
        }},
        "DeletionProtection": match c.deletion_protection {
            DeletionProtection::Active => "ACTIVE",
            DeletionProtection::Inactive => "INACTIVE",
        },
        "LambdaConfig": {},
        "LastModifiedDate": epoch(pool.last_modified_at),
        "CreationDate": epoch(pool.created_at),
        "SchemaAttributes": schema::all(c).into_iter().map(schema_shape).collect::<Vec<_>>(),
        "AutoVerifiedAttributes": c.auto_verified_attributes,
        "VerificationMessageTemplate": verification,
        "MfaConfiguration": match c.mfa_configuration {
            MfaConfiguration::Off => "OFF",
            MfaConfiguration::On => "ON",
            MfaConfiguration::Optional => "OPTIONAL",
        },
        "EstimatedNumberOfUsers": estimated_users,
        "UserPoolTags": c.user_pool_tags,
        "AdminCreateUserConfig": {
            "AllowAdminCreateUserOnly": admin.allow_admin_create_user_only,
            "UnusedAccountValidityDays": admin.unused_account_validity_days,
            "InviteMessageTemplate": template,
        },
        "UsernameConfiguration": {"CaseSensitive": c.username_case_sensitive},
    });
    let o = out.as_object_mut().expect("an object");
    if !c.alias_attributes.is_empty() {
        o.insert("AliasAttributes".into(), json!(c.alias_attributes));
    }
    if !c.username_attributes.is_empty() {
        o.insert("UsernameAttributes".into(), json!(c.username_attributes));
    }
    if let Some(r) = &c.account_recovery_setting {
        o.insert(
            "AccountRecoverySetting".into(),
            json!({"RecoveryMechanisms": r.recovery_mechanisms.iter().map(|m| json!({"Priority": m.priority, "Name": m.name})).collect::<Vec<_>>()}),
        );
    }
    for (key, value) in [
        ("EmailVerificationMessage", &c.email_verification_message),
        ("EmailVerificationSubject", &c.email_verification_subject),
        ("SmsVerificationMessage", &c.sms_verification_message),
        ("SmsAuthenticationMessage", &c.sms_authentication_message),
    ] {
        if let Some(v) = value {
            o.insert(key.into(), json!(v));
        }
    }
    out
}
