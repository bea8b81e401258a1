//! Key custody: the backing key material behind every KMS key, and the seal that keeps it out
//! of the store in plaintext.
//!
//! Each KMS key owns one or more *backing keys*: 32 random bytes from aws-lc-rs, the AES-256
//! key that actually encrypts. A backing key is never stored as such: it is sealed under the
//! installation's root key ([`RootKeyring`], which never touches the store) for the purpose
//! [`SealPurpose::KmsBackingKey`] with the context `<key-id>:<version>`, so a sealed backing
//! key copied onto another KMS key or version does not open, and the purpose keeps it apart
//! from anything else the root key seals (access-key secrets). Rotating the root key re-wraps
//! these sealed values and nothing else: blobs stay valid, because the backing keys inside do
//! not change. Rotating a KMS key adds a backing version; old versions stay, so every blob
//! sealed before a rotation still decrypts.
//!
//! Opened backing keys are kept in memory for at most a few seconds between requests (why that
//! is safe: `custody/opened.rs`), and wiped when dropped ([`Zeroizing`] material, an aws-lc
//! context cleansed when freed).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rampart_core::seal::{HoldsSealed, SealedSlot};
use rampart_core::{RootKeyring, SealPurpose};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::blob::{self, Blob, EncryptionContext, NONCE_LEN};

mod opened;
pub(crate) use opened::OpenedKeys;

/// The longest key id a blob can name (its length is one byte).
pub const MAX_KEY_ID_LEN: usize = 255;
/// The largest plaintext `Encrypt` takes (`PlaintextType`, max 4096).
pub const MAX_PLAINTEXT_LEN: usize = 4096;

/// Why custody could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    /// A sealed backing key did not open: the root key is not one that sealed it, or the
    /// stored record was tampered with. Never the caller's fault.
    #[error("backing key {version} of KMS key {key_id} does not open under this root key")]
    Unseal { key_id: String, version: u32 },
    /// The blob was not sealed by this key version under this context, or was altered.
    #[error("the ciphertext does not authenticate")]
    Unauthentic,
    /// The blob names a backing-key version the key does not have.
    #[error("the ciphertext names backing key version {0}, which the key does not have")]
    UnknownVersion(u32),
    /// The blob belongs to another KMS key than the one asked to open it.
    #[error("the ciphertext belongs to another key")]
    WrongKey,
}

/// One version of a KMS key's backing material, as stored: sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackingKey {
    /// 1 for the key's first material, +1 per rotation.
    pub version: u32,
    /// The 32 bytes sealed by [`RootKeyring::seal`] for [`SealPurpose::KmsBackingKey`] with
    /// [`backing_key_context`].
    pub sealed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether an on-demand rotation (`RotateKeyOnDemand`) made it, which AWS counts
    /// against a per-key quota.
    #[serde(default)]
    pub on_demand: bool,
}

/// The context a backing key is sealed with: which key and version it belongs to (the
/// purpose, [`SealPurpose::KmsBackingKey`], is bound beside it).
pub fn backing_key_context(key_id: &str, version: u32) -> String {
    format!("{key_id}:{version}")
}

impl HoldsSealed for crate::keys::KeyRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        let key_id = &self.key_id;
        self.backing_keys
            .iter_mut()
            .map(|b| SealedSlot {
                purpose: SealPurpose::KmsBackingKey,
                context: backing_key_context(key_id, b.version),
                sealed: &mut b.sealed,
            })
            .collect()
    }
}

/// Fills `buf` from the operating system's CSPRNG. Failing to get randomness is not something
/// a key service can carry on from.
pub fn random_bytes(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the operating system's random source failed");
}

impl BackingKey {
    /// Fresh material for `key_id` at `version`, sealed at once; the plaintext is wiped
    /// before this returns.
    pub fn generate(
        root_keys: &RootKeyring,
        key_id: &str,
        version: u32,
        now: OffsetDateTime,
        on_demand: bool,
    ) -> BackingKey {
        let material = Zeroizing::new({
            let mut raw = [0u8; 32];
            random_bytes(&mut raw);
            raw
        });
        BackingKey {
            version,
            sealed: root_keys.seal(
                SealPurpose::KmsBackingKey,
                &backing_key_context(key_id, version),
                material.as_slice(),
            ),
            created_at: now,
            on_demand,
        }
    }

    /// Opens the material for use by `key_id`.
    pub fn open(&self, root_keys: &RootKeyring, key_id: &str) -> Result<OpenKey, CustodyError> {
        let unseal = || CustodyError::Unseal {
            key_id: key_id.to_owned(),
            version: self.version,
        };
        let material = root_keys
            .open(
                &self.sealed,
                SealPurpose::KmsBackingKey,
                &backing_key_context(key_id, self.version),
            )
            .map_err(|_| unseal())?;
        let key = UnboundKey::new(&AES_256_GCM, &material).map_err(|_| unseal())?;
        Ok(OpenKey {
            key_id: key_id.to_owned(),
            version: self.version,
            key: LessSafeKey::new(key),
        })
    }
}

/// An opened backing key (kept at most a few seconds: [`OpenedKeys`]).
pub struct OpenKey {
    key_id: String,
    version: u32,
    key: LessSafeKey,
}

impl std::fmt::Debug for OpenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenKey({}:{})", self.key_id, self.version)
    }
}

impl OpenKey {
    /// Seals `plaintext` into a blob bound to `context`, with a fresh random nonce (AES-GCM's
    /// 2^32-messages-per-key bound under random nonces is why rotation exists).
    pub fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce);
        let header = blob::header(&self.key_id, self.version);
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(blob::aad(&header, context)),
                &mut sealed,
            )
            .expect("AES-GCM sealing cannot fail for in-memory buffers");
        let mut out = header;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens `blob` under `context`.
    pub fn decrypt(
        &self,
        blob: &Blob,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
        if blob.key_id != self.key_id {
            return Err(CustodyError::WrongKey);
        }
        if blob.backing_version != self.version {
            return Err(CustodyError::UnknownVersion(blob.backing_version));
        }
        let mut buf = Zeroizing::new(blob.sealed.clone());
        let len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(blob.nonce),
                Aad::from(blob.aad(context)),
                &mut buf,
            )
            .map_err(|_| CustodyError::Unauthentic)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Seals `plaintext` under the current (first) backing key of a key whose versions are
/// `backing` (current first).
pub fn encrypt(
    root_keys: &RootKeyring,
    key_id: &str,
    backing: &[BackingKey],
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>, CustodyError> {
    let current = backing.first().ok_or(CustodyError::UnknownVersion(0))?;
    Ok(current.open(root_keys, key_id)?.encrypt(plaintext, context))
}

/// Opens `blob` with whichever of `backing` sealed it.
pub fn decrypt(
    root_keys: &RootKeyring,
    key_id: &str,
    backing: &[BackingKey],
    blob: &Blob,
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
    if blob.key_id != key_id {
        return Err(CustodyError::WrongKey);
    }
    let version = backing
        .iter()
        .find(|b| b.version == blob.backing_version)
        .ok_or(CustodyError::UnknownVersion(blob.backing_version))?;
    version.open(root_keys, key_id)?.decrypt(blob, context)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use rampart_core::RootKey;

    use super::*;
    use crate::blob::parse_blob;
    use crate::error::KmsError;

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn round_trip_with_context() {
        let root_keys = RootKeyring::ephemeral();
        let backing = vec![BackingKey::generate(&root_keys, KEY, 1, now(), false)];
        let ctx = context(&[("tenant", "a"), ("purpose", "test")]);
        let blob = encrypt(&root_keys, KEY, &backing, b"attack at dawn", &ctx).unwrap();
        let parsed = parse_blob(&blob).unwrap();
        assert_eq!(parsed.key_id, KEY);
        assert_eq!(parsed.backing_version, 1);
        let plain = decrypt(&root_keys, KEY, &backing, &parsed, &ctx).unwrap();
        assert_eq!(plain.as_slice(), b"attack at dawn");
        // Two seals of the same plaintext differ (fresh nonces).
        let again = encrypt(&root_keys, KEY, &backing, b"attack at dawn", &ctx).unwrap();
        assert_ne!(blob, again);
    }

    #[test]
    fn a_changed_context_fails() {
        let root_keys = RootKeyring::ephemeral();
        let backing = vec![BackingKey::generate(&root_keys, KEY, 1, now(), false)];
        let ctx = context(&[("tenant", "a")]);
        let blob = parse_blob(&encrypt(&root_keys, KEY, &backing, b"x", &ctx).unwrap()).unwrap();
        for wrong in [
            context(&[]),
            context(&[("tenant", "b")]),
            context(&[("Tenant", "a")]),
            context(&[("tenant", "a"), ("extra", "1")]),
        ] {
            let err = decrypt(&root_keys, KEY, &backing, &blob, &wrong).unwrap_err();
            assert_eq!(err, CustodyError::Unauthentic, "{wrong:?}");
            assert_eq!(KmsError::from(err).code(), "InvalidCiphertextException");
        }
    }

    #[test]
    fn tampered_or_truncated_blobs_fail() {
        let root_keys = RootKeyring::ephemeral();
        let backing = vec![BackingKey::generate(&root_keys, KEY, 1, now(), false)];
        let ctx = context(&[]);
        let bytes = encrypt(&root_keys, KEY, &backing, b"secret value", &ctx).unwrap();
        // What the API answers for bytes that do not open. A flip inside the key id (or its
        // length) makes the blob name another key: `IncorrectKeyException` here, where the API
        // looks that key up, finds none, and answers `InvalidCiphertextException`.
        let answer = |bytes: &[u8]| -> Option<String> {
            let opened = parse_blob(bytes)
                .map_err(KmsError::from)
                .and_then(|b| Ok(decrypt(&root_keys, KEY, &backing, &b, &ctx)?));
            opened.err().map(|e| e.code().to_owned())
        };
        for i in 0..bytes.len() {
            let mut mutated = bytes.clone();
            mutated[i] ^= 0x01;
            let code = answer(&mutated).expect("a flipped bit went unnoticed");
            if !(1..2 + KEY.len()).contains(&i) {
                assert_eq!(code, "InvalidCiphertextException", "flip at byte {i}");
            }
        }
        for len in 0..bytes.len() {
            let code = answer(&bytes[..len]).expect("a truncation went unnoticed");
            assert_eq!(code, "InvalidCiphertextException", "truncation to {len}");
        }
    }

    #[test]
    fn rotated_keys_still_open_old_blobs() {
        let root_keys = RootKeyring::ephemeral();
        let mut backing = vec![BackingKey::generate(&root_keys, KEY, 1, now(), false)];
        let ctx = context(&[("k", "v")]);
        let old = encrypt(&root_keys, KEY, &backing, b"before", &ctx).unwrap();
        backing.insert(0, BackingKey::generate(&root_keys, KEY, 2, now(), true));
        let new = encrypt(&root_keys, KEY, &backing, b"after", &ctx).unwrap();
        assert_eq!(parse_blob(&new).unwrap().backing_version, 2);
        let old = parse_blob(&old).unwrap();
        assert_eq!(old.backing_version, 1);
        assert_eq!(
            decrypt(&root_keys, KEY, &backing, &old, &ctx)
                .unwrap()
                .as_slice(),
            b"before"
        );
        // Without version 1 the old blob cannot be opened.
        assert_eq!(
            decrypt(&root_keys, KEY, &backing[..1], &old, &ctx),
            Err(CustodyError::UnknownVersion(1))
        );
    }

    #[test]
    fn sealed_material_is_bound_to_its_key_and_version() {
        let root_keys = RootKeyring::ephemeral();
        let v1 = BackingKey::generate(&root_keys, KEY, 1, now(), false);
        assert!(v1.open(&root_keys, KEY).is_ok());
        // Moved to another key or relabelled as another version: it does not open.
        assert!(v1.open(&root_keys, "another-key").is_err());
        let relabelled = BackingKey {
            version: 2,
            ..v1.clone()
        };
        assert!(relabelled.open(&root_keys, KEY).is_err());
        // Another root_keys key cannot open it.
        let other = RootKeyring::ephemeral();
        assert_eq!(
            v1.open(&other, KEY).unwrap_err(),
            CustodyError::Unseal {
                key_id: KEY.into(),
                version: 1
            }
        );
        // A blob from another key is refused before any cryptography.
        let blob = parse_blob(
            &encrypt(
                &root_keys,
                KEY,
                std::slice::from_ref(&v1),
                b"x",
                &context(&[]),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            decrypt(&root_keys, "another-key", &[v1], &blob, &context(&[])),
            Err(CustodyError::WrongKey)
        );
    }

    #[test]
    fn backing_material_is_never_stored_in_plaintext() {
        let root_keys = RootKeyring::ephemeral();
        let backing = BackingKey::generate(&root_keys, KEY, 1, now(), false);
        let material = root_keys
            .open(
                &backing.sealed,
                SealPurpose::KmsBackingKey,
                &backing_key_context(KEY, 1),
            )
            .unwrap()
            .to_vec();
        assert_eq!(material.len(), 32);
        // The record as it goes to the store, in every encoding the material could leak in.
        let stored = serde_json::to_vec(&backing).unwrap();
        let encodings: Vec<Vec<u8>> = vec![
            material.clone(),
            base64::engine::general_purpose::STANDARD
                .encode(&material)
                .into_bytes(),
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(&material)
                .into_bytes(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(&material)
                .into_bytes(),
            material
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ];
        for encoded in encodings {
            // Any 8-byte window of the encoding would be a leak worth catching.
            for window in encoded.windows(8) {
                assert!(
                    !stored.windows(8).any(|w| w == window),
                    "backing key material appears in the stored record"
                );
            }
        }
        assert!(String::from_utf8(stored)
            .unwrap()
            .contains(&format!("\"sealed\":\"v2:{}:", root_keys.sealing_key_id())));
    }

    #[test]
    fn legacy_v1_backing_keys_still_open_and_re_wrap() {
        // A backing key as KMS sealed it before v2: v1, under the raw root key.
        let old = RootKey::generate();
        let material = [0x5au8; 32];
        let legacy = BackingKey {
            version: 1,
            sealed: rampart_core::seal::seal_v1_for_tests(
                &old,
                SealPurpose::KmsBackingKey,
                &backing_key_context(KEY, 1),
                &material,
            ),
            created_at: now(),
            on_demand: false,
        };
        let root_keys = RootKeyring::new(RootKey::from_bytes(old.expose_bytes()).unwrap(), []);
        let ctx = context(&[("k", "v")]);
        let blob = encrypt(
            &root_keys,
            KEY,
            std::slice::from_ref(&legacy),
            b"data",
            &ctx,
        )
        .unwrap();
        // Re-sealed as v2 (what the migration does through `HoldsSealed`), the same material
        // opens the blob sealed before.
        let mut record = crate::keys::KeyRecord {
            backing_keys: vec![legacy],
            ..sample_record()
        };
        for slot in record.sealed_slots() {
            let plain = root_keys
                .open(slot.sealed, slot.purpose, &slot.context)
                .unwrap();
            *slot.sealed = root_keys.seal(slot.purpose, &slot.context, &plain);
        }
        assert!(record.backing_keys[0].sealed.starts_with("v2:"));
        let parsed = parse_blob(&blob).unwrap();
        let plain = decrypt(&root_keys, KEY, &record.backing_keys, &parsed, &ctx).unwrap();
        assert_eq!(plain.as_slice(), b"data");
        // A moved v1 value does not open as another version.
        let relabelled = BackingKey {
            version: 2,
            ..record.backing_keys[0].clone()
        };
        assert!(relabelled.open(&root_keys, KEY).is_err());
    }

    #[test]
    fn a_backing_key_never_opens_as_another_purpose() {
        let root_keys = RootKeyring::ephemeral();
        let backing = BackingKey::generate(&root_keys, KEY, 1, now(), false);
        let context = backing_key_context(KEY, 1);
        assert!(root_keys
            .open(&backing.sealed, SealPurpose::AccessKeySecret, &context)
            .is_err());
        // And an access-key secret stored as a backing key does not open as one.
        let secret = root_keys.seal(SealPurpose::AccessKeySecret, &context, &[1; 32]);
        let forged = BackingKey {
            sealed: secret,
            ..backing
        };
        assert!(forged.open(&root_keys, KEY).is_err());
    }

    #[test]
    fn re_wrapping_under_a_new_root_key_keeps_blobs_valid() {
        let root_keys = RootKeyring::ephemeral();
        let mut record = crate::keys::KeyRecord {
            backing_keys: vec![BackingKey::generate(&root_keys, KEY, 1, now(), false)],
            ..sample_record()
        };
        let ctx = context(&[]);
        let blob = encrypt(&root_keys, KEY, &record.backing_keys, b"kept", &ctx).unwrap();
        let new = RootKey::generate();
        let new_id = new.id();
        root_keys.add(new);
        for slot in record.sealed_slots() {
            let plain = root_keys
                .open(slot.sealed, slot.purpose, &slot.context)
                .unwrap();
            *slot.sealed = root_keys
                .seal_under(new_id, slot.purpose, &slot.context, &plain)
                .unwrap();
        }
        // Only the new key is needed now.
        let bytes = root_keys
            .keys()
            .iter()
            .find(|k| k.id() == new_id)
            .unwrap()
            .expose_bytes()
            .to_owned();
        let only_new = RootKeyring::new(RootKey::from_bytes(&bytes).unwrap(), []);
        let parsed = parse_blob(&blob).unwrap();
        let plain = decrypt(&only_new, KEY, &record.backing_keys, &parsed, &ctx).unwrap();
        assert_eq!(plain.as_slice(), b"kept");
    }

    fn sample_record() -> crate::keys::KeyRecord {
        crate::keys::KeyRecord {
            key_id: KEY.into(),
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{KEY}"),
            account_id: "111122223333".into(),
            created_at: now(),
            description: String::new(),
            state: crate::keys::KeyState::Enabled,
            manager: crate::keys::KeyManager::Customer,
            policy: String::new(),
            rotation: None,
            backing_keys: Vec::new(),
            tags: Vec::new(),
        }
    }
}
