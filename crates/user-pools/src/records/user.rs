//! A user as stored. Its secrets are sealed under the root key, each bound to the pool and the
//! user's `sub` (so a sealed value copied onto another user, or onto a re-created namesake,
//! does not open): the Argon2id PHC string ([`rampart_core::SealPurpose::UserPasswordHash`]),
//! the SRP verifier ([`rampart_core::SealPurpose::UserSrpVerifier`]) and each pending one-time
//! code ([`rampart_core::SealPurpose::UserCode`], context `<pool id>/<sub>/<code kind>`).
//! `crate::sealing` seals and opens them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub pool_id: String,
    /// The username as created (its case kept); for pools whose username attributes are
    /// email or phone, the `sub`.
    pub username: String,
    /// A UUID: the user's stable id, in tokens and in every sealed value's context.
    pub sub: String,
    /// Every attribute but `sub`, in the order they were set.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    pub status: UserStatus,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified_at: OffsetDateTime,
    /// The password's stored forms; None for a user who never had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordSecrets>,
    /// Codes sent and not yet used, at most one per kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<PendingCode>,
    /// The TOTP authenticator (AssociateSoftwareToken), if one was associated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_token: Option<SoftwareToken>,
}

/// A TOTP authenticator: its secret sealed ([`rampart_core::SealPurpose::UserTotpSecret`],
/// context `<pool id>/<sub>`), whether a code from it was verified, whether it is enabled for
/// sign-in, and the last step used (a code is accepted once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareToken {
    pub sealed_secret: String,
    pub verified: bool,
    pub enabled: bool,
    #[serde(default)]
    pub preferred: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_step: Option<i64>,
}

impl UserRecord {
    /// Whether sign-in asks for a TOTP code.
    pub fn totp_enabled(&self) -> bool {
        self.software_token
            .as_ref()
            .is_some_and(|t| t.verified && t.enabled)
    }
}

/// `UserStatusType`, as far as Rampart produces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Signed up, not confirmed.
    Unconfirmed,
    Confirmed,
    /// Created by an administrator with a temporary password.
    ForceChangePassword,
    /// AdminResetUserPassword: must take a code from ForgotPassword.
    ResetRequired,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
        }
    }
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// A password's stored forms, both sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordSecrets {
    /// The Argon2id PHC string, sealed.
    pub sealed_hash: String,
    /// [`rampart_identity::srp::PasswordVerifier::to_bytes`], sealed.
    pub sealed_srp_verifier: String,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
    /// A temporary password (AdminCreateUser, AdminSetUserPassword `Permanent: false`): it
    /// signs in only to be replaced, and not after this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub temporary_until: Option<OffsetDateTime>,
}

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// ConfirmSignUp.
    SignUp,
    /// ConfirmForgotPassword.
    ForgotPassword,
    /// VerifyUserAttribute for email.
    VerifyEmail,
    /// VerifyUserAttribute for phone_number.
    VerifyPhoneNumber,
}

impl CodeKind {
    /// The kind's name in a sealed code's context. Never change one: stored values name it.
    pub fn label(self) -> &'static str {
        match self {
            CodeKind::SignUp => "sign-up",
            CodeKind::ForgotPassword => "forgot-password",
            CodeKind::VerifyEmail => "verify-email",
            CodeKind::VerifyPhoneNumber => "verify-phone_number",
        }
    }
}

/// A code sent to the user and not yet used: single-use (removed when it matches), expiring,
/// and refused after [`MAX_CODE_ATTEMPTS`] wrong guesses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    pub kind: CodeKind,
    /// The code, sealed.
    pub sealed_code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Wrong codes tried against it.
    #[serde(default)]
    pub failed_attempts: u32,
}

/// How many wrong codes a pending code survives.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// Who holds an attribute value as a sign-in name (alias or username attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// The holder's username key.
    pub username_key: String,
    pub sub: String,
}

/// The key part that identifies a username in the pool: the username itself in a
/// case-sensitive pool, its lowercase form otherwise.
pub fn username_key(username: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        username.to_owned()
    } else {
        username.to_lowercase()
    }
}

/// The key part for an alias value: emails compare without case (Cognito lowercases the
/// domain and, in case-insensitive pools, the whole address); other values as given.
pub fn alias_value_key(attribute: &str, value: &str, case_sensitive: bool) -> String {
    if attribute == "email" || !case_sensitive {
        value.to_lowercase()
    } else {
        value.to_owned()
    }
}

impl UserRecord {
    /// The value of attribute `name` (`sub` included).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        if name == "sub" {
            return Some(&self.sub);
        }
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Sets attribute `name` to `value`, keeping its place if it was set.
    pub fn set_attribute(&mut self, name: &str, value: &str) {
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value.to_owned(),
            None => self.attributes.push(Attribute {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        }
    }

    /// Removes attribute `name`.
    pub fn remove_attribute(&mut self, name: &str) {
        self.attributes.retain(|a| a.name != name);
    }

    /// Whether `<attribute>_verified` is `true`.
    pub fn is_verified(&self, attribute: &str) -> bool {
        self.attribute(&format!("{attribute}_verified")) == Some("true")
    }

    /// Every attribute, `sub` first, as the API lists them.
    pub fn all_attributes(&self) -> Vec<Attribute> {
        let mut out = Vec::with_capacity(self.attributes.len() + 1);
        out.push(Attribute {
            name: "sub".into(),
            value: self.sub.clone(),
        });
        out.extend(self.attributes.iter().cloned());
        out
    }

    /// The pending code of `kind`.
    pub fn code(&self, kind: CodeKind) -> Option<&PendingCode> {
        self.codes.iter().find(|c| c.kind == kind)
    }

    /// Replaces the pending code of `kind`.
    pub fn set_code(&mut self, code: PendingCode) {
        self.codes.retain(|c| c.kind != code.kind);
        self.codes.push(code);
    }

    /// Forgets the pending code of `kind` (used, or superseded).
    pub fn clear_code(&mut self, kind: CodeKind) {
        self.codes.retain(|c| c.kind != kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserRecord {
        let now = OffsetDateTime::now_utc();
        UserRecord {
            pool_id: "eu-west-1_abc".into(),
            username: "Alice".into(),
            sub: "5f2c…".into(),
            attributes: vec![Attribute {
                name: "email".into(),
                value: "alice@example.com".into(),
            }],
            status: UserStatus::Unconfirmed,
            enabled: true,
            created_at: now,
            last_modified_at: now,
            password: None,
            codes: Vec::new(),
            software_token: None,
        }
    }

    #[test]
    fn attributes_keep_their_place_and_sub_comes_first() {
        let mut u = user();
        u.set_attribute("name", "Alice");
        u.set_attribute("email", "a@example.com");
        let all = u.all_attributes();
        let names: Vec<_> = all.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["sub", "email", "name"]);
        assert_eq!(u.attribute("email"), Some("a@example.com"));
        assert_eq!(u.attribute("sub"), Some("5f2c…"));
        u.remove_attribute("email");
        assert_eq!(u.attribute("email"), None);
        assert!(!u.is_verified("email"));
        u.set_attribute("email_verified", "true");
        assert!(u.is_verified("email"));
    }

    #[test]
    fn one_pending_code_per_kind() {
        let mut u = user();
        let code = |sealed: &str, kind| PendingCode {
            kind,
            sealed_code: sealed.into(),
            expires_at: OffsetDateTime::now_utc(),
            failed_attempts: 0,
        };
        u.set_code(code("a", CodeKind::SignUp));
        u.set_code(code("b", CodeKind::ForgotPassword));
        u.set_code(code("c", CodeKind::SignUp));
        assert_eq!(u.codes.len(), 2);
        assert_eq!(u.code(CodeKind::SignUp).unwrap().sealed_code, "c");
        u.clear_code(CodeKind::SignUp);
        assert!(u.code(CodeKind::SignUp).is_none());
        assert!(u.code(CodeKind::ForgotPassword).is_some());
    }

    #[test]
    fn records_round_trip_with_wire_status_names() {
        let u = user();
        let json = serde_json::to_string(&u).unwrap();
        assert!(json.contains("\"UNCONFIRMED\""), "{json}");
        assert_eq!(serde_json::from_str::<UserRecord>(&json).unwrap(), u);
        assert_eq!(username_key("Alice", false), "alice");
        assert_eq!(username_key("Alice", true), "Alice");
        assert_eq!(
            alias_value_key("email", "A@Example.com", true),
            "a@example.com"
        );
        assert_eq!(alias_value_key("phone_number", "+331", true), "+331");
    }
}
