//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom.
//!
//! The encryption context travels twice: as AAD, so a ciphertext opens only under the context
//! it was sealed with, and as condition keys (`kms:EncryptionContext:<key>`,
//! `kms:EncryptionContextKeys`), so policies can require one. `Decrypt` and `ReEncrypt` take
//! the key from the blob and are authorized on that key; a `KeyId` the caller adds must name
//! the same key (`IncorrectKeyException`), as on AWS.

use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::wire;
use super::{Call, KmsOperation, Reply};
use crate::authorization::{KeyTarget, NamedKey};
use crate::blob::{self, Blob, EncryptionContext, MAX_BLOB_LEN};
use crate::custody::{random_bytes, MAX_PLAINTEXT_LEN};
use crate::error::KmsError;
use crate::keys::{self, KeyRef, ALGORITHM};
use crate::KmsService;

/// Members that ask for what Rampart does not offer (Nitro Enclaves attestation).
fn refuse_recipient(recipient: &Option<serde_json::Value>) -> Result<(), KmsError> {
    if recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (attested enclaves) is not supported.".into(),
        ));
    }
    Ok(())
}

/// A `CiphertextBlob` member: present, within the model's 1–6144 bytes, and a blob.
fn ciphertext(bytes: Option<Vec<u8>>) -> Result<Blob, KmsError> {
    let bytes = bytes.ok_or_else(|| {
        KmsError::Validation(
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null".into(),
        )
    })?;
    if bytes.is_empty() || bytes.len() > MAX_BLOB_LEN {
        return Err(KmsError::constraint(
            "[…]",
            "ciphertextBlob",
            "Member must have length between 1 and 6144",
        ));
    }
    let blob = blob::parse_blob(&bytes)?;
    keys::check_key_id(&blob.key_id).map_err(|_| KmsError::invalid_ciphertext())?;
    Ok(blob)
}

/// The key a blob names, as authorization sees it.
async fn blob_key(kms: &KmsService, blob: &Blob) -> Result<KeyTarget, KmsError> {
    kms.target(&KeyRef::Id(blob.key_id.clone())).await
}

/// Refuses a `KeyId` that does not name the key the blob was sealed under.
fn check_named_key(named: Option<NamedKey>, blob: &Blob) -> Result<(), KmsError> {
    let Some(named) = named else {
        return Ok(());
    };
    let same = named
        .target
        .and_then(|t| t.key)
        .is_some_and(|k| k.record.key_id == blob.key_id);
    if same {
        Ok(())
    } else {
        Err(KmsError::IncorrectKey(
            "The key ID in the request does not identify a CMK that can perform this operation."
                .into(),
        ))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CiphertextReply<'a> {
    ciphertext_blob: String,
    key_id: &'a str,
    encryption_algorithm: &'static str,
}

pub(crate) struct Encrypt {
    key: NamedKey,
    plaintext: Zeroizing<Vec<u8>>,
    context: EncryptionContext,
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptInput {
    key_id: String,
    #[serde(deserialize_with = "wire::blob")]
    plaintext: Vec<u8>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[async_trait::async_trait]
impl KmsOperation for Encrypt {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: EncryptInput = wire::decode(body)?;
        let plaintext = Zeroizing::new(input.plaintext);
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(KmsError::constraint(
                "[…]",
                "plaintext",
                "Member must have length between 1 and 4096",
            ));
        }
        wire::check_algorithm(input.encryption_algorithm.as_deref())?;
        Ok(Encrypt {
            key: NamedKey::parse(&input.key_id, "keyId")?,
            plaintext,
            context: input.encryption_context.unwrap_or_default(),
            dry_run: input.dry_run.unwrap_or(false),
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let target = self.key.resolve(kms).await?;
        Ok(vec![target.crypto_check(
            &call.action(),
            call.account(),
            &self.context,
        )])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let key = self.key.into_key()?.record;
        key.check_usable()?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let sealed = kms.encrypt(&key, &self.plaintext, &self.context)?;
        wire::reply(&CiphertextReply {
            ciphertext_blob: wire::base64(&sealed),
            key_id: &key.arn,
            encryption_algorithm: ALGORITHM,
        })
    }
}

pub(crate) struct Decrypt {
    blob: Blob,
    context: EncryptionContext,
    /// The key the blob names, once resolved.
    source: Option<KeyTarget>,
    /// The `KeyId` the caller gave, if any.
    named: Option<NamedKey>,
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptInput {
    #[serde(default, deserialize_with = "wire::optional_blob")]
    ciphertext_blob: Option<Vec<u8>>,
    encryption_context: Option<EncryptionContext>,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    recipient: Option<serde_json::Value>,
    dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptReply<'a> {
    key_id: &'a str,
    plaintext: String,
    encryption_algorithm: &'static str,
}

#[async_trait::async_trait]
impl KmsOperation for Decrypt {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: DecryptInput = wire::decode(body)?;
        refuse_recipient(&input.recipient)?;
        wire::check_algorithm(input.encryption_algorithm.as_deref())?;
        Ok(Decrypt {
            named: input
                .key_id
                .as_deref()
                .map(|k| NamedKey::parse(k, "keyId"))
                .transpose()?,
            blob: ciphertext(input.ciphertext_blob)?,
            context: input.encryption_context.unwrap_or_default(),
            source: None,
            dry_run: input.dry_run.unwrap_or(false),
        })
    }

    /// `kms:Decrypt` on the key the blob names — not on the `KeyId` the caller claims.
    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        if let Some(named) = &mut self.named {
            named.resolve(kms).await?;
        }
        let source = self.source.insert(blob_key(kms, &self.blob).await?);
        Ok(vec![source.crypto_check(
            &call.action(),
            call.account(),
            &self.context,
        )])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        check_named_key(self.named, &self.blob)?;
        let key = blob_key_record(self.source)?;
        key.check_usable()?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let plaintext = kms.decrypt(&key, &self.blob, &self.context)?;
        wire::reply(&DecryptReply {
            key_id: &key.arn,
            plaintext: wire::base64(&plaintext),
            encryption_algorithm: ALGORITHM,
        })
    }
}

/// The key a blob names, as authorization resolved it. A blob naming no key of this
/// installation is not a ciphertext it issued — altered, or from elsewhere — so it is
/// `InvalidCiphertextException`, like any other blob that does not open.
fn blob_key_record(target: Option<KeyTarget>) -> Result<keys::KeyRecord, KmsError> {
    target
        .and_then(|t| t.key)
        .map(|k| k.record)
        .ok_or_else(KmsError::invalid_ciphertext)
}

pub(crate) struct ReEncrypt {
    blob: Blob,
    source_context: EncryptionContext,
    source: Option<KeyTarget>,
    named_source: Option<NamedKey>,
    destination: NamedKey,
    destination_context: EncryptionContext,
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptInput {
    #[serde(default, deserialize_with = "wire::optional_blob")]
    ciphertext_blob: Option<Vec<u8>>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: String,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptReply<'a> {
    ciphertext_blob: String,
    source_key_id: &'a str,
    key_id: &'a str,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
}

#[async_trait::async_trait]
impl KmsOperation for ReEncrypt {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: ReEncryptInput = wire::decode(body)?;
        wire::check_algorithm(input.source_encryption_algorithm.as_deref())?;
        wire::check_algorithm(input.destination_encryption_algorithm.as_deref())?;
        Ok(ReEncrypt {
            named_source: input
                .source_key_id
                .as_deref()
                .map(|k| NamedKey::parse(k, "sourceKeyId"))
                .transpose()?,
            destination: NamedKey::parse(&input.destination_key_id, "destinationKeyId")?,
            blob: ciphertext(input.ciphertext_blob)?,
            source_context: input.source_encryption_context.unwrap_or_default(),
            source: None,
            destination_context: input.destination_encryption_context.unwrap_or_default(),
            dry_run: input.dry_run.unwrap_or(false),
        })
    }

    /// `kms:ReEncryptFrom` on the blob's key and `kms:ReEncryptTo` on the destination, each
    /// with its own context, and `kms:ReEncryptOnSameKey` on both.
    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        if let Some(named) = &mut self.named_source {
            named.resolve(kms).await?;
        }
        let source = self.source.insert(blob_key(kms, &self.blob).await?);
        let destination = self.destination.resolve(kms).await?;
        let same_key = matches!(
            (&source.key, &destination.key),
            (Some(a), Some(b)) if a.record.key_id == b.record.key_id
        );
        let mut checks = vec![
            source.crypto_check("kms:ReEncryptFrom", call.account(), &self.source_context),
            destination.crypto_check("kms:ReEncryptTo", call.account(), &self.destination_context),
        ];
        for check in &mut checks {
            check.push_key("kms:ReEncryptOnSameKey", same_key.to_string());
        }
        Ok(checks)
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        check_named_key(self.named_source, &self.blob)?;
        let source = blob_key_record(self.source)?;
        source.check_usable()?;
        let destination = self.destination.into_key()?.record;
        destination.check_usable()?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let plaintext = kms.decrypt(&source, &self.blob, &self.source_context)?;
        let sealed = kms.encrypt(&destination, &plaintext, &self.destination_context)?;
        wire::reply(&ReEncryptReply {
            ciphertext_blob: wire::base64(&sealed),
            source_key_id: &source.arn,
            key_id: &destination.arn,
            source_encryption_algorithm: ALGORITHM,
            destination_encryption_algorithm: ALGORITHM,
        })
    }
}

/// A data key request, with or without the plaintext in the answer.
pub(crate) struct DataKey {
    key: NamedKey,
    context: EncryptionContext,
    bytes: usize,
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyInput {
    key_id: String,
    encryption_context: Option<EncryptionContext>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    recipient: Option<serde_json::Value>,
    dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyReply<'a> {
    ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<String>,
    key_id: &'a str,
}

impl DataKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: DataKeyInput = wire::decode(body)?;
        refuse_recipient(&input.recipient)?;
        let bytes = match (input.key_spec.as_deref(), input.number_of_bytes) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(KmsError::Validation(
                    "Please specify either number of bytes or key spec.".into(),
                ))
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(other), None) => {
                return Err(KmsError::constraint(
                    other,
                    "keySpec",
                    "Member must satisfy enum value set: [AES_256, AES_128]",
                ))
            }
            (None, Some(n)) => {
                wire::check_range(n, "numberOfBytes", 1, 1024)?;
                usize::try_from(n).unwrap_or(0)
            }
        };
        Ok(DataKey {
            key: NamedKey::parse(&input.key_id, "keyId")?,
            context: input.encryption_context.unwrap_or_default(),
            bytes,
            dry_run: input.dry_run.unwrap_or(false),
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let target = self.key.resolve(kms).await?;
        Ok(vec![target.crypto_check(
            &call.action(),
            call.account(),
            &self.context,
        )])
    }

    async fn execute(self, kms: &KmsService, with_plaintext: bool) -> Reply {
        let key = self.key.into_key()?.record;
        key.check_usable()?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let mut data_key = Zeroizing::new(vec![0u8; self.bytes]);
        random_bytes(&mut data_key);
        let sealed = kms.encrypt(&key, &data_key, &self.context)?;
        wire::reply(&DataKeyReply {
            ciphertext_blob: wire::base64(&sealed),
            plaintext: with_plaintext.then(|| wire::base64(&data_key)),
            key_id: &key.arn,
        })
    }
}

pub(crate) struct GenerateDataKey(DataKey);

#[async_trait::async_trait]
impl KmsOperation for GenerateDataKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        DataKey::decode(body).map(GenerateDataKey)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        self.0.checks(kms, call).await
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        self.0.execute(kms, true).await
    }
}

pub(crate) struct GenerateDataKeyWithoutPlaintext(DataKey);

#[async_trait::async_trait]
impl KmsOperation for GenerateDataKeyWithoutPlaintext {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        DataKey::decode(body).map(GenerateDataKeyWithoutPlaintext)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        self.0.checks(kms, call).await
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        self.0.execute(kms, false).await
    }
}

pub(crate) struct GenerateRandom {
    bytes: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateRandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateRandomReply {
    plaintext: String,
}

#[async_trait::async_trait]
impl KmsOperation for GenerateRandom {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: GenerateRandomInput = wire::decode(body)?;
        refuse_recipient(&input.recipient)?;
        if input.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported.".into(),
            ));
        }
        let n = input.number_of_bytes.ok_or_else(|| {
            KmsError::Validation(
                "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null".into(),
            )
        })?;
        wire::check_range(n, "numberOfBytes", 1, 1024)?;
        Ok(GenerateRandom {
            bytes: usize::try_from(n).unwrap_or(0),
        })
    }

    async fn checks(&mut self, _: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            Check::unscoped(call.action()).with_key("kms:CallerAccount", call.account())
        ])
    }

    async fn execute(self, _: &KmsService, _: &Call<'_>) -> Reply {
        let mut bytes = Zeroizing::new(vec![0u8; self.bytes]);
        random_bytes(&mut bytes);
        wire::reply(&GenerateRandomReply {
            plaintext: wire::base64(&bytes),
        })
    }
}
