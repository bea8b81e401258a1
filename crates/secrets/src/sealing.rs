//! Envelope encryption of secret values through KMS.
//!
//! Each version gets a fresh 256-bit data key. KMS seals the data key under the secret's KMS
//! key with the encryption context AWS uses for Secrets Manager,
//! `{"SecretARN": <arn>, "SecretVersionId": <version id>}`; the value is sealed under the data
//! key with AES-256-GCM, the same binding (plus whether the value is a string or binary) as
//! its associated data. So a sealed value moved to another secret or version does not open,
//! the plaintext never reaches the store, and values larger than KMS's 4 KiB direct-encrypt
//! limit (Secrets Manager allows 64 KiB) are sealed the way AWS seals them.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_kms::custody::random_bytes;
use rampart_kms::{parse_blob, Blob, EncryptionContext, KeyRecord, KmsService};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::SecretsError;

/// Labels the value's associated data, so it can never be confused with another use of a key.
const AAD_LABEL: &str = "rampart:secretsmanager:value:v1";

/// A secret version's value in the clear, wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretValue {
    pub bytes: Zeroizing<Vec<u8>>,
    /// `SecretBinary` rather than `SecretString`.
    pub binary: bool,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("bytes", &"<redacted>")
            .field("binary", &self.binary)
            .finish()
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.binary == other.binary && *self.bytes == *other.bytes
    }
}

/// A version's value as stored: nothing in it opens without KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedValue {
    /// The KMS ciphertext blob of the data key, base64.
    pub data_key: String,
    /// The AES-GCM nonce, base64.
    pub nonce: String,
    /// The value sealed under the data key, followed by its tag, base64.
    pub ciphertext: String,
    pub binary: bool,
}

impl SealedValue {
    /// The id of the KMS key the data key is sealed under, as its blob names it.
    pub fn key_id(&self) -> Option<String> {
        let blob = STANDARD.decode(&self.data_key).ok()?;
        parse_blob(&blob).ok().map(|b| b.key_id)
    }

    /// The value with its encodings undone (base64, the data key's blob layout), as reads
    /// keep it in memory: decoded once when read from the store, not on every read. Still
    /// nothing in it opens without KMS.
    pub fn parts(&self) -> Result<SealedParts, SecretsError> {
        let data_key = STANDARD
            .decode(&self.data_key)
            .ok()
            .and_then(|bytes| parse_blob(&bytes).ok())
            .ok_or_else(corrupt)?;
        let nonce = STANDARD
            .decode(&self.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(corrupt)?;
        let ciphertext = STANDARD.decode(&self.ciphertext).map_err(|_| corrupt())?;
        Ok(SealedParts {
            data_key,
            nonce,
            ciphertext,
            binary: self.binary,
        })
    }
}

/// A [`SealedValue`] decoded: the data key's KMS blob, parsed, and the value's nonce and
/// ciphertext as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedParts {
    data_key: Blob,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
    binary: bool,
}

impl SealedParts {
    /// The id of the KMS key the data key is sealed under.
    pub fn key_id(&self) -> &str {
        &self.data_key.key_id
    }

    /// The bytes this takes in memory, for the cache's bound.
    pub fn weight(&self) -> u64 {
        (self.ciphertext.len() + self.data_key.sealed.len() + self.data_key.key_id.len() + 64)
            as u64
    }
}

fn corrupt() -> SecretsError {
    SecretsError::DecryptionFailure("The stored secret value is corrupt.".into())
}

/// The encryption context AWS binds a secret version's data key to.
pub fn context(arn: &str, version_id: &str) -> EncryptionContext {
    EncryptionContext::from([
        ("SecretARN".to_owned(), arn.to_owned()),
        ("SecretVersionId".to_owned(), version_id.to_owned()),
    ])
}

fn aad(arn: &str, version_id: &str, binary: bool) -> Vec<u8> {
    let kind = if binary { "binary" } else { "string" };
    // Pushed piece by piece: `format!` was a tenth of a read's envelope work.
    let mut out =
        Vec::with_capacity(AAD_LABEL.len() + arn.len() + version_id.len() + kind.len() + 3);
    for piece in [AAD_LABEL, arn, version_id] {
        out.extend_from_slice(piece.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(kind.as_bytes());
    out
}

fn cipher(data_key: &[u8]) -> Result<LessSafeKey, SecretsError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| SecretsError::Internal("A data key is malformed.".into()))
}

/// Seals `value` of version `version_id` of the secret `arn` under `key`. The caller has
/// checked that the request may use the key.
pub fn seal(
    kms: &KmsService,
    key: &KeyRecord,
    arn: &str,
    version_id: &str,
    value: &SecretValue,
) -> Result<SealedValue, SecretsError> {
    key.check_usable().map_err(SecretsError::sealing)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    random_bytes(data_key.as_mut());
    let wrapped = kms
        .encrypt(key, data_key.as_ref(), &context(arn, version_id))
        .map_err(SecretsError::sealing)?;
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce);
    let mut sealed = value.bytes.to_vec();
    cipher(data_key.as_ref())?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(arn, version_id, value.binary)),
            &mut sealed,
        )
        .map_err(|_| SecretsError::EncryptionFailure("The value could not be sealed.".into()))?;
    Ok(SealedValue {
        data_key: STANDARD.encode(wrapped),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(sealed),
        binary: value.binary,
    })
}

/// Opens the sealed value of version `version_id` of the secret `arn` with `key`, the key its
/// data key names. The caller has checked that the request may use the key.
pub fn open(
    kms: &KmsService,
    key: &KeyRecord,
    arn: &str,
    version_id: &str,
    sealed: &SealedValue,
) -> Result<SecretValue, SecretsError> {
    open_parts(
        kms,
        key,
        arn,
        version_id,
        &sealed.parts()?,
        &context(arn, version_id),
    )
}

/// [`open`] for a value already decoded, under its encryption context `ctx` (the one
/// [`context`] gives for `arn` and `version_id`, which the request's checks were made with).
/// KMS opens the data key on every call: plaintext data keys are never kept, as AWS's
/// Secrets Manager "removes it from memory" once used.
pub fn open_parts(
    kms: &KmsService,
    key: &KeyRecord,
    arn: &str,
    version_id: &str,
    sealed: &SealedParts,
    ctx: &EncryptionContext,
) -> Result<SecretValue, SecretsError> {
    key.check_usable().map_err(SecretsError::opening)?;
    let data_key = kms
        .decrypt(key, &sealed.data_key, ctx)
        .map_err(SecretsError::opening)?;
    let mut bytes = Zeroizing::new(sealed.ciphertext.clone());
    let len = cipher(&data_key)?
        .open_in_place(
            Nonce::assume_unique_for_key(sealed.nonce),
            Aad::from(aad(arn, version_id, sealed.binary)),
            bytes.as_mut_slice(),
        )
        .map_err(|_| corrupt())?
        .len();
    bytes.truncate(len);
    Ok(SecretValue {
        bytes,
        binary: sealed.binary,
    })
}
