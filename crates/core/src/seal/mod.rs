//! Sealing secrets before they reach the store: AES-256-GCM under the installation's *root
//! key*, a key that never touches the store (it comes from a file, the environment or an
//! external command; see the server's `root_key` module).
//!
//! A sealed value is self-describing text, so it fits in any JSON record:
//!
//! ```text
//! v2:<root key id>:<base64(nonce | ciphertext | tag)>
//! ```
//!
//! * `v2` is the format version; `v1:<base64(nonce | ciphertext | tag)>` values of older
//!   installs still open (they were sealed under the raw key with the record context alone as
//!   associated data) and are re-sealed as `v2` at start.
//! * the root key id ([`RootKeyId`]) names the root key that sealed the value — a fingerprint
//!   derived from the key, never the key — so a keyring holding several root keys (during a
//!   rotation) opens each value with the right one, and an operator can tell which key a
//!   store needs.
//! * the associated data binds the value to its [`SealPurpose`] and to its record's context
//!   (the access key id, the KMS key id and backing version), so a value cannot be moved to
//!   another record, nor opened as something it was not sealed as.
//!
//! What lives where: [`RootKey`] and the format in `root_key.rs`; [`RootKeyring`] (the keys a
//! process holds, which one seals, and re-reading the key source when a value names a key the
//! process does not hold) in `keyring.rs`; [`SealedNamespace`] (how a re-sealing walk over the
//! store finds the sealed values inside each kind of record) in `records.rs`.

mod keyring;
mod records;
mod root_key;

pub use keyring::{KeySource, RootKeyring};
pub use records::{HoldsSealed, SealedNamespace, SealedSlot, VisitError};
pub use root_key::{sealed_by, RootKey, RootKeyId, SealedBy};

#[cfg(any(test, feature = "test-support"))]
pub use root_key::seal_v1_for_tests;

/// Why a sealed value could not be opened (or a root key not used).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not a sealed value of any known format, or truncated.
    #[error("sealed value is malformed")]
    Malformed,
    /// The value names a root key this process does not hold, even after re-reading its key
    /// source.
    #[error("sealed under root key {0}, which this process does not hold")]
    UnknownRootKey(RootKeyId),
    /// The value did not authenticate: sealed for another purpose or record, under another
    /// key, or tampered with.
    #[error("sealed value failed authentication (wrong root key, wrong record, or tampered)")]
    Unauthentic,
    #[error("a root key must be 32 bytes")]
    BadKeyLength,
}

/// What a sealed value is for. Part of the associated data, so a value sealed for one
/// purpose never opens as another, even under the same root key and context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SealPurpose {
    /// The secret of an IAM access key (`AKIA…`) or of STS temporary credentials (`ASIA…`);
    /// the context is the access key id.
    AccessKeySecret,
    /// A KMS key's backing material; the context is `<key id>:<backing version>`.
    KmsBackingKey,
    /// The record that proves which root key a store is sealed under; the context is fixed.
    RootKeyCanary,
    /// A user-pool user's Argon2id PHC string; the context is `<pool id>/<sub>`.
    UserPasswordHash,
    /// A user-pool user's SRP verifier (salt and `v`); the context is `<pool id>/<sub>`.
    UserSrpVerifier,
    /// A user-pool user's TOTP secret; the context is `<pool id>/<sub>`.
    UserTotpSecret,
    /// A one-time code (confirmation, password reset, attribute verification) a user must
    /// echo back; the context is `<pool id>/<sub>/<code kind>`.
    UserCode,
    /// A message in a user pool's delivery outbox (a code or temporary password as sent);
    /// the context is `<pool id>/<message id>`.
    UserPoolOutboxMessage,
    /// A user-pool app client's secret; the context is `<pool id>/<client id>`.
    UserPoolClientSecret,
    /// A user pool's RSA signing key (PKCS#8); the context is `<pool id>/<kid>`.
    UserPoolSigningKey,
    /// The hash of a user-pool refresh token; the context is `<pool id>/<token family id>`.
    UserRefreshToken,
    /// A user-pool challenge session in transit (InitiateAuth's `Session` or SRP
    /// `SECRET_BLOCK`, answered back by RespondToAuthChallenge; never stored); the context is
    /// `<pool id>/<client id>`.
    UserAuthSession,
}

impl SealPurpose {
    /// The purpose's name in the associated data. Never change one: stored values name it.
    pub fn label(self) -> &'static str {
        match self {
            SealPurpose::AccessKeySecret => "iam:access-key-secret",
            SealPurpose::KmsBackingKey => "kms:backing-key",
            SealPurpose::RootKeyCanary => "custody:root-key-canary",
            SealPurpose::UserPasswordHash => "cognito-idp:password-hash",
            SealPurpose::UserSrpVerifier => "cognito-idp:srp-verifier",
            SealPurpose::UserTotpSecret => "cognito-idp:totp-secret",
            SealPurpose::UserCode => "cognito-idp:code",
            SealPurpose::UserPoolOutboxMessage => "cognito-idp:outbox-message",
            SealPurpose::UserPoolClientSecret => "cognito-idp:client-secret",
            SealPurpose::UserPoolSigningKey => "cognito-idp:signing-key",
            SealPurpose::UserRefreshToken => "cognito-idp:refresh-token",
            SealPurpose::UserAuthSession => "cognito-idp:auth-session",
        }
    }

    /// The associated data a `v1` value of this purpose was sealed with, for the purposes
    /// that existed before `v2` (nothing else may open a `v1` value).
    fn legacy_v1_aad(self, context: &str) -> Option<String> {
        match self {
            SealPurpose::AccessKeySecret => Some(context.to_owned()),
            SealPurpose::KmsBackingKey => Some(format!("rampart:kms:backing-key:{context}")),
            // Everything else came after v2: a v1 value of it is forged.
            SealPurpose::RootKeyCanary
            | SealPurpose::UserPasswordHash
            | SealPurpose::UserSrpVerifier
            | SealPurpose::UserTotpSecret
            | SealPurpose::UserCode
            | SealPurpose::UserPoolOutboxMessage
            | SealPurpose::UserPoolClientSecret
            | SealPurpose::UserPoolSigningKey
            | SealPurpose::UserRefreshToken
            | SealPurpose::UserAuthSession => None,
        }
    }
}

#[cfg(test)]
mod tests;
