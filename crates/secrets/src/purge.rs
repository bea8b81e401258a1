//! Purging secrets whose recovery window has ended, as AWS does at the end of the window.
//!
//! Until then a secret past its deletion date only *looks* deleted (reads treat it as gone; a
//! create may replace it): its record and sealed values stay in the store. The sweep deletes
//! the record and every sealed value, each secret in one commit with an audit record of its
//! own, principal `secretsmanager.amazonaws.com`. A secret restored or re-created since it was
//! read is left alone (the write expects the version read), so nodes sweeping one store
//! together purge each secret once.

use rampart_core::audit::AuditRecord;
use rampart_store::StoreError;
use time::OffsetDateTime;

use crate::error::SecretsError;
use crate::records;
use crate::SecretsService;

/// Secret records read per store page while sweeping.
const PAGE: usize = 200;

impl SecretsService {
    /// Deletes every secret whose deletion date is at or before `now`, with its values;
    /// answers their ARNs.
    pub async fn purge_deleted(&self, now: OffsetDateTime) -> Result<Vec<String>, SecretsError> {
        self.caches.forget_expired();
        let store = self.store.as_ref();
        let mut purged = Vec::new();
        let mut start_after: Option<String> = None;
        loop {
            let (page, more) = records::list_secrets(store, start_after.as_deref(), PAGE).await?;
            start_after = page.last().map(|s| s.name.clone());
            for listed in page.iter().filter(|s| s.is_purged(now)) {
                // Re-read for the version to expect: the listing does not carry it.
                let Some(stored) = records::load_secret(store, &listed.name).await? else {
                    continue;
                };
                if !stored.record.is_purged(now) {
                    continue;
                }
                let writes = records::delete_all(store, &stored).await?;
                let record = AuditRecord::service_action(
                    now,
                    "secretsmanager.amazonaws.com",
                    "secretsmanager",
                    "DeleteSecret",
                    &stored.record.arn,
                );
                let committed = store.commit_audited(writes, &record).await;
                // Gone from this node's memory at once, not within the TTL.
                self.changed();
                match committed {
                    Ok(_) => {
                        tracing::info!(arn = %stored.record.arn, "purged a secret whose recovery window ended");
                        purged.push(stored.record.arn);
                    }
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !more {
                return Ok(purged);
            }
        }
    }
}
