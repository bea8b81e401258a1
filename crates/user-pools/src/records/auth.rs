//! What sign-in keeps: which pool an app client belongs to (public operations name only the
//! client), token families and their refresh tokens, spent challenge sessions, and each user's
//! failed password attempts.
//!
//! Refresh tokens are never stored: a record is keyed by the SHA-256 of the token (256 random
//! bits, so the hash cannot be reversed by guessing) and names the family it belongs to.
//! Revoking a family (RevokeToken, GlobalSignOut) refuses its refresh token and every access
//! token issued in it, since access tokens carry the family's id as `origin_jti`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::pool_key;

/// [`super::ns::TOKEN_FAMILIES`]: one sign-in and everything refreshed from it, by
/// `<pool id>/<sub>/<origin_jti>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFamilyRecord {
    pub pool_id: String,
    pub sub: String,
    pub client_id: String,
    pub origin_jti: String,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// When its refresh token expires (after that, nothing of the family is valid).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// RevokeToken or a global sign-out.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// The key of a family.
pub fn family_key(pool_id: &str, sub: &str, origin_jti: &str) -> String {
    pool_key(pool_id, &format!("{sub}/{origin_jti}"))
}

/// The prefix of every family of a user.
pub fn families_prefix(pool_id: &str, sub: &str) -> String {
    pool_key(pool_id, &format!("{sub}/"))
}

/// [`super::ns::REFRESH_TOKENS`]: a refresh token, by `<pool id>/<hex SHA-256 of the token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    pub pool_id: String,
    pub client_id: String,
    pub sub: String,
    /// The username it was issued to (its key is looked up again at each refresh).
    pub username: String,
    pub origin_jti: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// [`super::ns::USED_SESSIONS`]: a challenge session that was answered, by
/// `<pool id>/<session id>`, kept until the session would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedSessionRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// [`super::ns::SIGN_IN_FAILURES`]: failed password attempts in a row for one sign-in name, by
/// `<pool id>/<username key>` (for an unknown name, the name as given when the client hides
/// which users exist, so it locks out exactly like a real one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInFailuresRecord {
    pub failures: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_failure_at: OffsetDateTime,
    /// No password is checked before this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
}
