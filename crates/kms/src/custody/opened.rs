//! Opened backing keys kept in memory for a few seconds, so that a request does not open its
//! key's backing key under the root key again (an HKDF and an AES-GCM open, every request).
//!
//! Why keeping them is safe:
//! - **No new exposure.** The root key, which opens every backing key, is in this process's
//!   memory for as long as it runs, and an opened backing key is in the same memory during every
//!   encrypt and decrypt under it. Whoever can read an entry here can already read the root key;
//!   keeping the opened key a few seconds longer gives them nothing they did not have. Nothing
//!   here is ever written to the store, a log or an answer.
//! - **Used only as the record allows.** An entry is found by key id and version and used only
//!   when the key record the caller read (from the store, or its cache of at most
//!   [`CACHE_TTL`]) still holds that version with byte-identical sealed text: a version removed,
//!   a record re-wrapped under another root key or tampered with is opened afresh under the
//!   root key (and fails if it does not open). The callers check the record is usable (enabled,
//!   not pending deletion) before every use, so a disabled key refuses as before.
//! - **Short-lived and wiped.** An entry is used for at most [`CACHE_TTL`]; every KMS write
//!   through this node forgets them all (a key disabled or destroyed here leaves no opened
//!   material behind), and the maintenance sweep drops expired ones (a key destroyed through
//!   another node leaves none past one sweep). What an entry holds is aws-lc's AES-GCM context
//!   (`LessSafeKey`): AWS-LC allocates it with `OPENSSL_malloc` and frees it with
//!   `EVP_AEAD_CTX_free`, whose `OPENSSL_free` cleanses the allocation — so an evicted or
//!   forgotten key is wiped, as the [`Zeroizing`] material it was built from is.
//!
//! [`CACHE_TTL`]: crate::cache::CACHE_TTL

use std::sync::Arc;

use rampart_core::RootKeyring;
use zeroize::Zeroizing;

use super::{backing_key_context, BackingKey, CustodyError, OpenKey};
use crate::blob::{Blob, EncryptionContext};
use crate::cache::RecordCache;

/// Opened backing keys this process holds at most (one per key version in use).
const CAPACITY: u64 = 4096;

/// A backing key opened under the root key, and the sealed text it was opened from.
struct Opened {
    sealed: String,
    key: OpenKey,
}

/// Opened backing keys by `<key id>:<version>`.
pub(crate) struct OpenedKeys {
    cache: RecordCache<Opened>,
}

impl Default for OpenedKeys {
    fn default() -> Self {
        OpenedKeys {
            cache: RecordCache::new(64, CAPACITY),
        }
    }
}

impl OpenedKeys {
    /// `backing` of `key_id`, opened: from memory if it was opened from the same sealed text
    /// less than the TTL ago, else under the root key.
    fn open(
        &self,
        root_keys: &RootKeyring,
        key_id: &str,
        backing: &BackingKey,
    ) -> Result<Arc<Opened>, CustodyError> {
        let name = backing_key_context(key_id, backing.version);
        if let Some(opened) = self.cache.get(&name) {
            if opened.sealed == backing.sealed {
                return Ok(opened);
            }
        }
        let ticket = self.cache.ticket();
        let opened = Arc::new(Opened {
            sealed: backing.sealed.clone(),
            key: backing.open(root_keys, key_id)?,
        });
        self.cache.keep(&name, opened.clone(), 1, ticket);
        Ok(opened)
    }

    /// [`super::encrypt`], with the current backing key opened at most once per TTL.
    pub fn encrypt(
        &self,
        root_keys: &RootKeyring,
        key_id: &str,
        backing: &[BackingKey],
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, CustodyError> {
        let current = backing.first().ok_or(CustodyError::UnknownVersion(0))?;
        Ok(self
            .open(root_keys, key_id, current)?
            .key
            .encrypt(plaintext, context))
    }

    /// [`super::decrypt`], with the blob's backing key opened at most once per TTL.
    pub fn decrypt(
        &self,
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
        self.open(root_keys, key_id, version)?
            .key
            .decrypt(blob, context)
    }

    /// Forgets every opened key (a KMS write through this node).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Drops the opened keys too old to be used.
    pub fn forget_expired(&self) {
        self.cache.forget_expired();
    }

    /// How many opened keys are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::blob::parse_blob;

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn opens_once_and_only_for_the_same_sealed_text() {
        let root_keys = RootKeyring::ephemeral();
        let opened = OpenedKeys::default();
        let now = OffsetDateTime::now_utc();
        let v1 = BackingKey::generate(&root_keys, KEY, 1, now, false);
        let ctx = EncryptionContext::new();
        let blob = opened
            .encrypt(&root_keys, KEY, std::slice::from_ref(&v1), b"x", &ctx)
            .unwrap();
        let blob = parse_blob(&blob).unwrap();
        assert_eq!(opened.len(), 1);
        let first = opened.open(&root_keys, KEY, &v1).unwrap();
        let again = opened.open(&root_keys, KEY, &v1).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "opened once");

        // The same version sealed differently (re-wrapped, or tampered with) is opened afresh:
        // here it does not open at all, and nothing cached answers for it.
        let tampered = BackingKey {
            sealed: BackingKey::generate(&root_keys, KEY, 2, now, false).sealed,
            ..v1.clone()
        };
        assert!(matches!(
            opened.decrypt(&root_keys, KEY, &[tampered], &blob, &ctx),
            Err(CustodyError::Unseal { .. })
        ));
        // A version the record no longer holds is refused before the cache is looked at.
        let v2 = BackingKey::generate(&root_keys, KEY, 2, now, false);
        assert_eq!(
            opened
                .decrypt(&root_keys, KEY, std::slice::from_ref(&v2), &blob, &ctx)
                .unwrap_err(),
            CustodyError::UnknownVersion(1)
        );
        assert_eq!(
            opened
                .decrypt(&root_keys, KEY, &[v1], &blob, &ctx)
                .unwrap()
                .as_slice(),
            b"x"
        );
        opened.invalidate_all();
        assert_eq!(opened.len(), 0);
    }
}
