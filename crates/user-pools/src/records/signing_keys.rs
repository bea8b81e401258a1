//! A pool's RSA signing keys: one for ID tokens and one for access tokens (as Cognito
//! publishes two), plus retired keys whose public half stays in the JWKS until the tokens they
//! signed have expired (`crate::signing_keys`). Private keys are PKCS#8, sealed
//! ([`rampart_core::SealPurpose::UserPoolSigningKey`], context `<pool id>/<kid>`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    IdToken,
    AccessToken,
}

/// One key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSigningKey {
    /// The JWK thumbprint the identity core names it by.
    pub kid: String,
    pub key_use: KeyUse,
    /// `SigningKey::to_pkcs8`, sealed.
    pub sealed_pkcs8: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stopped signing (rotation); None for a current key.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    /// For a retired key, when the last token it signed can no longer be valid: from then on
    /// it is neither published nor trusted, and the maintenance sweep drops it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub published_until: Option<OffsetDateTime>,
}

impl StoredSigningKey {
    /// Whether the key is published (and tokens it signed verify) at `now`.
    pub fn is_published(&self, now: OffsetDateTime) -> bool {
        self.published_until.is_none_or(|until| now < until)
    }
}

/// Every key of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeysRecord {
    pub pool_id: String,
    pub keys: Vec<StoredSigningKey>,
}

impl SigningKeysRecord {
    /// The current key for `key_use`.
    pub fn current(&self, key_use: KeyUse) -> Option<&StoredSigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.key_use == key_use && k.retired_at.is_none())
    }
}
