//! How long function logs are kept, and the sweep that deletes the rest.
//!
//! Every function's events are kept for the server's `--functions-log-retention-days` (7 by
//! default) unless the function has a retention of its own (`rampart logs FUNCTION
//! --retention-days N`, a record in [`ns::RETENTION`]), as a CloudWatch log group has its own
//! retention policy. The maintenance sweep deletes every batch whose last event is older
//! (whole batches: one holding a newer event waits for it).
//!
//! Deleting a function deletes its log: `DeleteFunction` commits a marker in
//! [`ns::DELETIONS`] with the time of the deletion beside the deletion itself; the sweep (and
//! a task started right after the deletion) deletes the function's batches up to that time and
//! then the marker. A function created again under the name keeps what it logs afterwards.
//! Deletes are idempotent, so nodes sweeping one store at once do no harm.

use std::collections::HashMap;
use std::time::Duration;

use rampart_store::{Expect, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::batch;
use super::{ns, unix_micros};

/// The retention of a function's log when neither the server nor the function names one.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Records listed at a time.
const PAGE: usize = 256;
/// Batches listed (and deleted in one commit) at a time: listing reads their values, up to
/// [`MAX_BATCH_BYTES`](super::shipper::MAX_BATCH_BYTES) each.
const BATCH_PAGE: usize = 32;

/// A marker: the function's events up to `before_us` are to be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Deletion {
    before_us: i64,
}

/// A function's own retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSetting {
    pub days: u32,
}

/// What one sweep deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Batches past their retention.
    pub expired: usize,
    /// Batches of deleted functions.
    pub of_deleted: usize,
}

/// The write that marks the log of `function`, deleted at `at`, for deletion (committed with
/// the deletion).
pub fn forget_write(function: &str, at: OffsetDateTime) -> Write {
    let marker = Deletion {
        before_us: unix_micros(at),
    };
    Write::Put {
        ns: ns::DELETIONS.to_owned(),
        key: function.to_owned(),
        value: serde_json::to_vec(&marker).expect("a marker serialises"),
        expect: Expect::Any,
    }
}

/// The retention CloudWatch Logs allows at most (ten years), in days.
pub const MAX_RETENTION_DAYS: u32 = 3653;

/// The write that sets (or with `None` clears) the retention of `function`'s log.
pub fn retention_write(function: &str, days: Option<u32>) -> Write {
    match days {
        Some(days) => Write::Put {
            ns: ns::RETENTION.to_owned(),
            key: function.to_owned(),
            value: serde_json::to_vec(&RetentionSetting { days }).expect("serialises"),
            expect: Expect::Any,
        },
        None => Write::Delete {
            ns: ns::RETENTION.to_owned(),
            key: function.to_owned(),
            expect: Expect::Any,
        },
    }
}

/// Every function's own retention, in days.
async fn retention_settings(store: &dyn Store) -> Result<HashMap<String, u32>, StoreError> {
    let mut settings = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(ns::RETENTION, "", after.as_deref(), PAGE)
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(settings);
        };
        after = Some(last.clone());
        for (function, item) in page {
            let setting: RetentionSetting = serde_json::from_slice(&item.value)
                .map_err(|e| StoreError::Corrupt(format!("log retention of {function}: {e}")))?;
            settings.insert(function, setting.days);
        }
    }
}

/// Deletes the batches of `function` whose last event is at or before `until_us`; how many.
pub async fn delete_until(
    store: &dyn Store,
    function: &str,
    until_us: i64,
) -> Result<usize, StoreError> {
    let prefix = batch::prefix(function);
    let mut deleted = 0;
    loop {
        // Each page starts from the beginning again: what came before was deleted.
        let page = store.list(ns::EVENTS, &prefix, None, BATCH_PAGE).await?;
        let doomed: Vec<Write> = page
            .into_iter()
            .take_while(|(key, _)| batch::parse_key(key).is_some_and(|(_, t)| t <= until_us))
            .map(|(key, _)| Write::Delete {
                ns: ns::EVENTS.to_owned(),
                key,
                expect: Expect::Any,
            })
            .collect();
        let count = doomed.len();
        if count > 0 {
            store.commit(doomed).await?;
            deleted += count;
        }
        if count < BATCH_PAGE {
            return Ok(deleted);
        }
    }
}

/// Deletes the logs of deleted functions (their batches up to the deletion, then the marker).
pub async fn forget_deleted(store: &dyn Store) -> Result<usize, StoreError> {
    let mut deleted = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(ns::DELETIONS, "", after.as_deref(), PAGE)
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(deleted);
        };
        after = Some(last.clone());
        for (function, item) in page {
            let marker: Deletion = serde_json::from_slice(&item.value)
                .map_err(|e| StoreError::Corrupt(format!("log deletion of {function}: {e}")))?;
            deleted += delete_until(store, &function, marker.before_us).await?;
            let done = Write::Delete {
                ns: ns::DELETIONS.to_owned(),
                key: function.clone(),
                expect: Expect::Version(item.version),
            };
            match store.commit(vec![done]).await {
                // Deleted again meanwhile: the newer marker waits for the next sweep.
                Ok(_) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One sweep at `now`: deleted functions' logs, then every batch past its function's
/// retention (`default` unless the function has its own).
pub async fn sweep(
    store: &dyn Store,
    now: OffsetDateTime,
    default: Duration,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport {
        of_deleted: forget_deleted(store).await?,
        ..SweepReport::default()
    };
    let settings = retention_settings(store).await?;
    // One function at a time: its first batch names it, then skip past all of its batches.
    let mut after: Option<String> = None;
    loop {
        let page = store.list(ns::EVENTS, "", after.as_deref(), 1).await?;
        let Some((key, _)) = page.into_iter().next() else {
            return Ok(report);
        };
        let Some((function, first_us)) = batch::parse_key(&key) else {
            after = Some(key);
            continue;
        };
        let retention = settings
            .get(function)
            .map(|days| Duration::from_secs(u64::from(*days) * 24 * 3600))
            .unwrap_or(default);
        let cutoff = unix_micros(now - retention);
        if first_us <= cutoff {
            report.expired += delete_until(store, function, cutoff).await?;
        }
        after = Some(batch::after_all(function));
    }
}
