//! Secret records and sealed values kept in memory for the reads `GetSecretValue` (and the
//! other read operations) make on every request, with the design of KMS's record cache
//! ([`rampart_kms::cache`]): an entry is used for at most 5 s, so a change through another node
//! sharing the store shows within that time; every write Secrets Manager makes through this
//! node empties both caches before it answers ([`SecretsService::changed`]: the API's writes in
//! `api/mod.rs`, the rotation runner's and scheduler's commits, the purge), so a secret deleted,
//! restored or given a new version here is read as it now stands at once; a load overtaken by an
//! invalidation is answered but not kept.
//!
//! Values are kept only as stored — sealed, the data key wrapped by KMS — never opened: a read
//! from memory still goes through KMS (the key's state, its policy check) and opens the value
//! for that request alone. They are kept decoded ([`SealedParts`]: base64 and the blob's
//! layout undone once, when read from the store), which changes nothing of that.
//!
//! Only read operations read through the cache. A write resolves the secret from the store,
//! since it commits expecting the version it read.
//!
//! [`SecretsService::changed`]: crate::SecretsService

use std::sync::Arc;

use rampart_kms::cache::RecordCache;
use rampart_store::Store;
use time::OffsetDateTime;

use crate::error::SecretsError;
use crate::records::{self, SecretRecord, Stored};
use crate::sealing::SealedParts;

/// Bytes of secret records kept in memory.
const SECRET_CACHE_BYTES: u64 = 32 << 20;
/// Bytes of sealed values kept in memory (a value is at most 64 KiB, sealed and base64'd).
const VALUE_CACHE_BYTES: u64 = 64 << 20;

/// Secret records by name and sealed values by `<arn>/<version id>`.
pub(crate) struct SecretCaches {
    secrets: RecordCache<Stored<SecretRecord>>,
    values: RecordCache<SealedParts>,
}

impl Default for SecretCaches {
    fn default() -> Self {
        SecretCaches {
            secrets: RecordCache::new(1024, SECRET_CACHE_BYTES),
            values: RecordCache::new(1024, VALUE_CACHE_BYTES),
        }
    }
}

impl SecretCaches {
    /// The secret `name`, unless it does not exist or its deletion date has passed: from
    /// memory if read less than the TTL ago and not changed through this node since.
    pub async fn live_secret(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
        let found = self
            .secrets
            .load(name, || records::read_secret(store, name))
            .await?;
        let now = OffsetDateTime::now_utc();
        Ok(found
            .filter(|s| !s.record.is_purged(now))
            .map(|s| (*s).clone()))
    }

    /// The sealed value of version `version_id` of the secret `arn`, from memory like
    /// [`Self::live_secret`].
    pub async fn value(
        &self,
        store: &dyn Store,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<Arc<SealedParts>>, SecretsError> {
        let key = records::value_key(arn, version_id);
        self.values
            .load(&key, || async {
                let Some((sealed, weight)) = records::read_value(store, arn, version_id).await?
                else {
                    return Ok(None);
                };
                let parts = sealed.parts()?;
                let weight = weight.max(parts.weight());
                Ok(Some((parts, weight)))
            })
            .await
    }

    /// Forgets everything (a write through this node).
    pub fn invalidate_all(&self) {
        self.secrets.invalidate_all();
        self.values.invalidate_all();
    }

    /// Drops entries past their TTL (the maintenance sweep).
    pub fn forget_expired(&self) {
        self.secrets.forget_expired();
        self.values.forget_expired();
    }
}
