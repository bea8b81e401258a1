//! What KMS does on its own, as AWS does: rotate keys whose automatic rotation period has run
//! out, and destroy keys whose scheduled deletion date has passed.
//!
//! Destroying a key deletes its record — and with it every sealed backing key, so ciphertexts
//! under the key can never be opened again (crypto-shredding; until then a key past its date
//! only *looks* deleted) — and the aliases that point at it. Each change is committed with an
//! audit record of its own, principal `kms.amazonaws.com` (as CloudTrail shows `RotateKey` and
//! `DeleteKey` events made by the service). Writes expect the version read, so two nodes
//! sweeping one PostgreSQL store at once change each key once: the loser's commit conflicts and
//! is skipped.

use rampart_core::audit::AuditRecord;
use rampart_store::{Expect, StoreError, Write};
use time::{Duration, OffsetDateTime};

use crate::custody::BackingKey;
use crate::error::KmsError;
use crate::keys::{self, ns, AliasRecord, KeyRecord, KeyState, Stored};
use crate::service::KmsService;

/// Keys read per store page while sweeping.
const PAGE: usize = 200;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Key ids given a new backing key by automatic rotation.
    pub rotated: Vec<String>,
    /// Key ids destroyed, their deletion date having passed.
    pub destroyed: Vec<String>,
    /// Aliases deleted with them.
    pub aliases_deleted: Vec<String>,
}

impl KmsService {
    /// Rotates every key whose automatic rotation is due at `now` and destroys every key whose
    /// deletion date is at or before `now`.
    pub async fn maintain(&self, now: OffsetDateTime) -> Result<MaintenanceReport, KmsError> {
        self.forget_expired();
        let mut report = MaintenanceReport::default();
        let mut start_after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(ns::KEYS, "", start_after.as_deref(), PAGE)
                .await?;
            let done = page.len() < PAGE;
            start_after = page.last().map(|(k, _)| k.clone());
            for (key_id, item) in page {
                let stored = match keys::decode_key(&key_id, item) {
                    Ok(stored) => stored,
                    // One unreadable record must not stop the sweep of the others.
                    Err(_) => continue,
                };
                if stored.record.is_deleted(now) {
                    self.destroy(stored, now, &mut report).await?;
                } else if rotation_due(&stored.record, now) {
                    self.rotate_automatically(stored, now, &mut report).await?;
                }
            }
            if done {
                return Ok(report);
            }
        }
    }

    async fn destroy(
        &self,
        key: Stored<KeyRecord>,
        now: OffsetDateTime,
        report: &mut MaintenanceReport,
    ) -> Result<(), KmsError> {
        let key_id = key.record.key_id.clone();
        let aliases = self.aliases_of(&key_id).await?;
        let mut writes = vec![Write::Delete {
            ns: ns::KEYS.to_owned(),
            key: key_id.clone(),
            expect: Expect::Version(key.version),
        }];
        writes.extend(
            aliases
                .iter()
                .map(|a| keys::delete_alias(&a.record.name, Expect::Version(a.version))),
        );
        let record = service_record(now, "DeleteKey", &key.record.arn);
        let committed = self.store.commit_audited(writes, &record).await;
        // Its record and opened backing keys leave this node's memory at once.
        self.changed();
        match committed {
            Ok(_) => {
                tracing::info!(key_id = %key_id, "destroyed a KMS key whose deletion date passed");
                report.destroyed.push(key_id);
                report
                    .aliases_deleted
                    .extend(aliases.into_iter().map(|a| a.record.name));
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rotate_automatically(
        &self,
        key: Stored<KeyRecord>,
        now: OffsetDateTime,
        report: &mut MaintenanceReport,
    ) -> Result<(), KmsError> {
        let Stored {
            record: mut rotated,
            version,
        } = key;
        let next = rotated
            .backing_keys
            .iter()
            .map(|b| b.version)
            .max()
            .unwrap_or(0)
            + 1;
        rotated.backing_keys.insert(
            0,
            BackingKey::generate(&self.root_keys, &rotated.key_id, next, now, false),
        );
        if let Some(rotation) = rotated.rotation.as_mut() {
            rotation.anchor = now;
        }
        let record = service_record(now, "RotateKey", &rotated.arn);
        let writes = vec![keys::put_key(&rotated, Expect::Version(version))];
        let committed = self.store.commit_audited(writes, &record).await;
        self.changed();
        match committed {
            Ok(_) => {
                tracing::info!(key_id = %rotated.key_id, version = next, "rotated a KMS key automatically");
                report.rotated.push(rotated.key_id);
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every alias that points at `key_id`.
    async fn aliases_of(&self, key_id: &str) -> Result<Vec<Stored<AliasRecord>>, KmsError> {
        let mut found = Vec::new();
        let mut start_after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(ns::ALIASES, "", start_after.as_deref(), PAGE)
                .await?;
            let done = page.len() < PAGE;
            start_after = page.last().map(|(k, _)| k.clone());
            for (name, item) in page {
                if let Ok(alias) = keys::decode_alias(&name, item) {
                    if alias.record.target_key_id == key_id {
                        found.push(alias);
                    }
                }
            }
            if done {
                return Ok(found);
            }
        }
    }
}

/// Whether `key` is enabled with automatic rotation whose period has run out at `now`.
/// (AWS rotates a disabled key when it is enabled again; so does this, at the next sweep.)
fn rotation_due(key: &KeyRecord, now: OffsetDateTime) -> bool {
    matches!(key.state, KeyState::Enabled)
        && key
            .rotation
            .as_ref()
            .is_some_and(|r| r.anchor + Duration::days(i64::from(r.period_days)) <= now)
}

/// The audit record of a change KMS makes on its own.
fn service_record(now: OffsetDateTime, operation: &str, key_arn: &str) -> AuditRecord {
    AuditRecord::service_action(now, "kms.amazonaws.com", "kms", operation, key_arn)
}
