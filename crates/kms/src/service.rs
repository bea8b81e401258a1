//! The KMS service: what it holds (the store, the root key, the account and region its ARNs
//! name) and what other services use it for — resolving a key reference to the stored key,
//! encrypting and decrypting under a key, and the AWS-managed keys they encrypt under by
//! default. The API operations (`api/`) are built on the same methods.
//!
//! Key and alias records are read through a [`RecordCache`] each, and backing keys opened
//! through [`OpenedKeys`]: every request that names a key reads them, and they change rarely.
//! Every write KMS makes through this node empties all three before it answers
//! ([`KmsService::changed`]: the API's writes in `api/mod.rs`, the AWS-managed keys created on
//! first use, the maintenance sweep's rotations and destructions), so a key disabled, deleted
//! or re-pointed here refuses or moves at once; a change through another node sharing the
//! store shows within [`crate::cache::CACHE_TTL`]. A write authorized on a record another node
//! changed meanwhile does not commit on it: it expects the version it read, and re-reads the
//! store on a conflict ([`KmsService::update_key`]); aliases are written on a fresh read.
//! `rampart keys rotate-root` re-wraps key records from another process, like another node:
//! a server sees the re-wrapped records within the TTL, and an opened backing key is reused
//! only for the sealed text it was opened from.

use std::sync::Arc;

use rampart_core::RootKeyring;
use rampart_store::{request_audit, Expect, Store, StoreError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::authorization::KeyTarget;
use crate::blob::{Blob, EncryptionContext};
use crate::cache::RecordCache;
use crate::custody::{BackingKey, OpenedKeys};
use crate::error::KmsError;
use crate::key_policy;
use crate::keys::{
    self, AliasRecord, KeyManager, KeyRecord, KeyRef, KeyState, Stored, Tag, AWS_ALIAS_PREFIX,
};

/// How often a write re-reads and retries when another request changed the key first.
const COMMIT_ATTEMPTS: usize = 4;

/// The AWS-managed keys Rampart creates on first use: alias, the service whose calls may use
/// it (`kms:ViaService`), and the service's display name in the key policy.
pub const AWS_MANAGED_KEYS: &[(&str, &str, &str)] = &[
    (
        "alias/aws/secretsmanager",
        "secretsmanager",
        "AWS Secrets Manager",
    ),
    ("alias/aws/lambda", "lambda", "AWS Lambda"),
];

/// Bytes of key records kept in memory (a key record is a few KiB at most: its policy and
/// sealed backing keys).
const KEY_CACHE_BYTES: u64 = 32 << 20;
/// Bytes of alias records kept in memory.
const ALIAS_CACHE_BYTES: u64 = 4 << 20;

/// The KMS service surface and the platform's key custody.
pub struct KmsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) root_keys: Arc<RootKeyring>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    /// Key records by key id, as stored (deleted or not: the date is checked on each use).
    keys: RecordCache<Stored<KeyRecord>>,
    /// Alias records by name.
    aliases: RecordCache<Stored<AliasRecord>>,
    /// Backing keys opened under the root key.
    opened: OpenedKeys,
}

impl KmsService {
    /// KMS for the installation's `account_id`, minting ARNs in `region` (the `--region` the
    /// server answers for). Backing keys are sealed under `root_keys`.
    pub fn new(
        store: Arc<dyn Store>,
        root_keys: Arc<RootKeyring>,
        account_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        KmsService {
            store,
            root_keys,
            account_id: account_id.into(),
            region: region.into(),
            keys: RecordCache::new(1024, KEY_CACHE_BYTES),
            aliases: RecordCache::new(1024, ALIAS_CACHE_BYTES),
            opened: OpenedKeys::default(),
        }
    }

    /// After a write through this node (whether or not it succeeded: it may have committed
    /// before failing), nothing KMS holds in memory may be trusted any more.
    pub(crate) fn changed(&self) {
        self.keys.invalidate_all();
        self.aliases.invalidate_all();
        self.opened.invalidate_all();
    }

    /// Drops what the caches hold past its TTL (the maintenance sweep), so the opened backing
    /// key of a key destroyed through another node does not stay in memory.
    pub(crate) fn forget_expired(&self) {
        self.keys.forget_expired();
        self.aliases.forget_expired();
        self.opened.forget_expired();
    }

    /// The key `key_id`, unless it does not exist or its deletion date has passed: from
    /// memory if read less than the TTL ago (and not changed through this node since).
    async fn cached_key(&self, key_id: &str) -> Result<Option<Stored<KeyRecord>>, KmsError> {
        let found = self
            .keys
            .load(key_id, || keys::read_key(self.store.as_ref(), key_id))
            .await?;
        let now = OffsetDateTime::now_utc();
        Ok(found
            .filter(|k| !k.record.is_deleted(now))
            .map(|k| (*k).clone()))
    }

    /// The alias `name`, from memory like [`Self::cached_key`].
    async fn cached_alias(&self, name: &str) -> Result<Option<Arc<Stored<AliasRecord>>>, KmsError> {
        self.aliases
            .load(name, || keys::read_alias(self.store.as_ref(), name))
            .await
    }

    /// The id of the key the alias `name` points at, if the alias exists (whether that key
    /// still does is for the caller to find out).
    pub async fn alias_target_id(&self, name: &str) -> Result<Option<String>, KmsError> {
        Ok(self
            .cached_alias(name)
            .await?
            .map(|a| a.record.target_key_id.clone()))
    }

    /// The ARN of the key `key_id` in this installation.
    pub fn key_arn(&self, key_id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{key_id}",
            self.region, self.account_id
        )
    }

    /// The ARN of the alias `name` (`alias/…`).
    pub fn alias_arn(&self, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{name}", self.region, self.account_id)
    }

    /// The key a reference names, read from the store (or its cache): through its alias if it
    /// names one, and only if an ARN names this installation's account and region.
    pub async fn target(&self, reference: &KeyRef) -> Result<KeyTarget, KmsError> {
        Ok(match reference {
            KeyRef::Id(id) => KeyTarget {
                arn: self.key_arn(id),
                alias: None,
                alias_arn: None,
                key: self.cached_key(id).await?,
            },
            KeyRef::KeyArn { arn, id } => KeyTarget {
                arn: arn.clone(),
                alias: None,
                alias_arn: None,
                key: self.cached_key(id).await?.filter(|k| &k.record.arn == arn),
            },
            KeyRef::Alias(name) => self.through_alias(name, None).await?,
            KeyRef::AliasArn { arn, name } => self.through_alias(name, Some(arn)).await?,
        })
    }

    async fn through_alias(&self, name: &str, arn: Option<&String>) -> Result<KeyTarget, KmsError> {
        let alias_arn = self.alias_arn(name);
        let ours = arn.is_none_or(|arn| *arn == alias_arn);
        let alias = if ours {
            self.cached_alias(name).await?
        } else {
            None
        };
        let Some(alias) = alias else {
            return Ok(KeyTarget {
                arn: arn.cloned().unwrap_or_else(|| alias_arn.clone()),
                alias: Some(name.to_owned()),
                alias_arn: Some(arn.cloned().unwrap_or(alias_arn)),
                key: None,
            });
        };
        let target_id = &alias.record.target_key_id;
        let key = self.cached_key(target_id).await?;
        Ok(KeyTarget {
            arn: key
                .as_ref()
                .map_or_else(|| self.key_arn(target_id), |k| k.record.arn.clone()),
            alias: Some(name.to_owned()),
            alias_arn: None,
            key,
        })
    }

    /// The key an identifier names (key id, key ARN, alias name or alias ARN).
    pub async fn key(&self, identifier: &str) -> Result<KeyTarget, KmsError> {
        self.target(&KeyRef::parse(identifier)?).await
    }

    /// A new customer- or AWS-managed key with fresh backing material (not yet stored).
    pub(crate) fn new_key(
        &self,
        manager: KeyManager,
        description: String,
        policy: Option<String>,
        tags: Vec<Tag>,
    ) -> KeyRecord {
        let key_id = uuid::Uuid::new_v4().to_string();
        let now = OffsetDateTime::now_utc();
        KeyRecord {
            arn: self.key_arn(&key_id),
            account_id: self.account_id.clone(),
            created_at: now,
            description,
            state: KeyState::Enabled,
            manager,
            policy: policy.unwrap_or_else(|| key_policy::default_policy(&self.account_id)),
            rotation: None,
            backing_keys: vec![BackingKey::generate(
                &self.root_keys,
                &key_id,
                1,
                now,
                false,
            )],
            tags,
            key_id,
        }
    }

    /// The AWS-managed key behind `alias` (`alias/aws/secretsmanager`, `alias/aws/lambda`),
    /// created with its alias on first use. No API operation creates these: the services that
    /// encrypt under them by default call this. Concurrent first uses agree on one key.
    pub async fn aws_managed_key(&self, alias: &str) -> Result<KeyRecord, KmsError> {
        let Some((_, service, display)) = AWS_MANAGED_KEYS.iter().find(|(a, ..)| *a == alias)
        else {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                self.alias_arn(alias)
            )));
        };
        debug_assert!(alias.starts_with(AWS_ALIAS_PREFIX));
        for _ in 0..COMMIT_ATTEMPTS {
            if let Some(existing) = keys::load_alias(self.store.as_ref(), alias).await? {
                let target = &existing.record.target_key_id;
                return keys::load_key(self.store.as_ref(), target)
                    .await?
                    .map(|k| k.record)
                    .ok_or_else(|| {
                        KmsError::Internal(format!("The AWS managed key for {alias} is missing."))
                    });
            }
            let policy =
                key_policy::aws_managed_policy(&self.account_id, &self.region, service, display);
            let description = format!(
                "Default key that protects my {} data when no other key is defined",
                display.trim_start_matches("AWS ")
            );
            let key = self.new_key(KeyManager::Aws, description, Some(policy), Vec::new());
            let now = key.created_at;
            let alias_record = AliasRecord {
                name: alias.to_owned(),
                target_key_id: key.key_id.clone(),
                created_at: now,
                updated_at: now,
            };
            let writes = vec![
                keys::put_key(&key, Expect::Absent),
                keys::put_alias(&alias_record, Expect::Absent),
            ];
            let committed = request_audit::commit(self.store.as_ref(), writes).await;
            self.changed();
            match committed {
                Ok(_) => return Ok(key),
                // Another request created it first: use theirs.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(KmsError::DependencyTimeout)
    }

    /// Applies `change` to the key authorization read and commits it. If another request
    /// wrote the key in between, the change is re-applied to the fresh record — but only if
    /// nothing authorization depended on (policy, tags, manager) changed; otherwise
    /// `ConflictException`, and the caller retries through authorization again.
    pub(crate) async fn update_key<F>(
        &self,
        authorized: Stored<KeyRecord>,
        change: F,
    ) -> Result<KeyRecord, KmsError>
    where
        F: Fn(&mut KeyRecord) -> Result<(), KmsError> + Send + Sync,
    {
        let mut current = authorized.clone();
        for _ in 0..COMMIT_ATTEMPTS {
            let mut next = current.record.clone();
            change(&mut next)?;
            let write = keys::put_key(&next, Expect::Version(current.version));
            let committed = request_audit::commit(self.store.as_ref(), vec![write]).await;
            self.changed();
            match committed {
                Ok(_) => return Ok(next),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let key_id = &authorized.record.key_id;
            current = keys::load_key(self.store.as_ref(), key_id)
                .await?
                .ok_or_else(|| {
                    KmsError::NotFound(format!("Key '{}' does not exist", authorized.record.arn))
                })?;
            let (now, then) = (&current.record, &authorized.record);
            if now.policy != then.policy || now.tags != then.tags || now.manager != then.manager {
                return Err(KmsError::Conflict(
                    "The key's policy or tags changed while this request was authorized. Retry the request.".into(),
                ));
            }
        }
        Err(KmsError::Conflict(
            "The key is being changed by other requests. Retry the request.".into(),
        ))
    }

    /// Encrypts `plaintext` under the key's current backing key. The caller has checked that
    /// the key is usable (and that the request was authorized).
    pub fn encrypt(
        &self,
        key: &KeyRecord,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        Ok(self.opened.encrypt(
            &self.root_keys,
            &key.key_id,
            &key.backing_keys,
            plaintext,
            context,
        )?)
    }

    /// Decrypts a blob sealed under `key` (any of its backing versions).
    pub fn decrypt(
        &self,
        key: &KeyRecord,
        blob: &Blob,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        Ok(self.opened.decrypt(
            &self.root_keys,
            &key.key_id,
            &key.backing_keys,
            blob,
            context,
        )?)
    }
}
