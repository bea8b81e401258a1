//! A user pool as stored: its id, ARN, name and configuration. The configuration keeps the
//! wire's member names (PascalCase), so DescribeUserPool answers what CreateUserPool and
//! UpdateUserPool took, and every member the service acts on is typed.

use std::collections::BTreeMap;

use rampart_identity::password::PasswordPolicy;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    /// `<region>_<9 alphanumerics>`.
    pub id: String,
    /// `arn:aws:cognito-idp:<region>:<account>:userpool/<id>`.
    pub arn: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified_at: OffsetDateTime,
    pub config: PoolConfig,
}

/// What CreateUserPool/UpdateUserPool configure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoolConfig {
    pub policies: PoolPolicies,
    /// `ACTIVE` or `INACTIVE`: an active pool cannot be deleted.
    pub deletion_protection: DeletionProtection,
    /// `OFF`, `ON` or `OPTIONAL`.
    pub mfa_configuration: MfaConfiguration,
    /// Attributes users may sign in with instead of their username (`email`,
    /// `phone_number`, `preferred_username`). Exclusive with `username_attributes`.
    #[serde(default)]
    pub alias_attributes: Vec<String>,
    /// Attributes that *are* the username (`email`, `phone_number`): the username is then the
    /// user's `sub`.
    #[serde(default)]
    pub username_attributes: Vec<String>,
    /// Attributes Cognito verifies by sending a code at sign-up (`email`, `phone_number`).
    #[serde(default)]
    pub auto_verified_attributes: Vec<String>,
    /// The custom attributes added to the standard schema (`custom:` names), and standard
    /// attributes made required.
    #[serde(default)]
    pub schema: Vec<SchemaAttribute>,
    pub admin_create_user_config: AdminCreateUserConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_recovery_setting: Option<AccountRecoverySetting>,
    #[serde(default)]
    pub user_pool_tags: BTreeMap<String, String>,
    /// Whether usernames (and aliases) are case-sensitive. Absent on CreateUserPool means
    /// case-sensitive, as Cognito's API defaults it.
    pub username_case_sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verification_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verification_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_verification_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_authentication_message: Option<String>,
}

/// `Policies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PoolPolicies {
    pub password_policy: StoredPasswordPolicy,
}

/// `Policies.PasswordPolicy`, with Cognito's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredPasswordPolicy {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: u32,
}

impl Default for StoredPasswordPolicy {
    fn default() -> Self {
        let p = PasswordPolicy::default();
        StoredPasswordPolicy {
            minimum_length: p.minimum_length,
            require_uppercase: p.require_uppercase,
            require_lowercase: p.require_lowercase,
            require_numbers: p.require_numbers,
            require_symbols: p.require_symbols,
            temporary_password_validity_days: p.temporary_password_validity_days,
        }
    }
}

impl StoredPasswordPolicy {
    /// The policy the identity core checks passwords against.
    pub fn policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            minimum_length: self.minimum_length,
            require_uppercase: self.require_uppercase,
            require_lowercase: self.require_lowercase,
            require_numbers: self.require_numbers,
            require_symbols: self.require_symbols,
            temporary_password_validity_days: self.temporary_password_validity_days,
        }
    }
}

/// `DeletionProtection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeletionProtection {
    Active,
    #[default]
    Inactive,
}

/// `MfaConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MfaConfiguration {
    #[default]
    Off,
    On,
    Optional,
}

/// One `SchemaAttributeType` the pool adds or changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaAttribute {
    /// The full name (`custom:tenant` for a custom attribute, `email` for a standard one).
    pub name: String,
    /// `String`, `Number`, `DateTime` or `Boolean`.
    pub attribute_data_type: String,
    pub developer_only_attribute: bool,
    pub mutable: bool,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_min_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_max_value: Option<i64>,
}

/// `AdminCreateUserConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUserConfig {
    /// Only administrators may create users: SignUp is refused.
    pub allow_admin_create_user_only: bool,
    /// How long a temporary password lasts, in days (superseded by the password policy's
    /// `TemporaryPasswordValidityDays` when that is set).
    pub unused_account_validity_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_email_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_email_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_sms_message: Option<String>,
}

impl Default for AdminCreateUserConfig {
    fn default() -> Self {
        AdminCreateUserConfig {
            allow_admin_create_user_only: false,
            unused_account_validity_days: 7,
            invite_email_message: None,
            invite_email_subject: None,
            invite_sms_message: None,
        }
    }
}

/// `AccountRecoverySetting`: the order in which ForgotPassword picks where to send a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRecoverySetting {
    pub recovery_mechanisms: Vec<RecoveryOption>,
}

/// One `RecoveryOptionType`: `verified_email`, `verified_phone_number` or `admin_only`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryOption {
    pub priority: u32,
    pub name: String,
}

impl PoolConfig {
    /// Whether `attribute` is a username attribute (email-as-username pools).
    pub fn is_username_attribute(&self, attribute: &str) -> bool {
        self.username_attributes.iter().any(|a| a == attribute)
    }

    /// Whether users may sign in with `attribute` besides their username: a username
    /// attribute or an alias attribute.
    pub fn is_sign_in_attribute(&self, attribute: &str) -> bool {
        self.is_username_attribute(attribute)
            || self.alias_attributes.iter().any(|a| a == attribute)
    }

    /// The custom or changed schema attribute `name`.
    pub fn schema_attribute(&self, name: &str) -> Option<&SchemaAttribute> {
        self.schema.iter().find(|a| a.name == name)
    }
}
