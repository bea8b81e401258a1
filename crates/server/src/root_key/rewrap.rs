//! The walk over every sealed value in the store: counting them by root key, checking that a
//! keyring opens them, re-sealing legacy `v1` values as `v2` (the migration at start), and
//! re-wrapping them under a new root key (rotation).
//!
//! Each record is rewritten on its own with a compare-and-swap on its version, so the walk
//! runs beside servers that are writing the same records (a conflict re-reads the record and
//! tries again) and can be interrupted at any point: a record is either wholly re-sealed or
//! untouched, and running the walk again finishes the work. Values never leave the process in
//! plaintext; they are opened and sealed again in memory.

use std::collections::BTreeMap;

use rampart_core::seal::{sealed_by, SealedBy, SealedNamespace, SealedSlot, VisitError};
use rampart_core::{RootKeyId, RootKeyring, SealError};
use rampart_store::{Expect, Store, StoreError, Write};
use serde::Serialize;

const PAGE: usize = 200;
/// A record that keeps changing under the walk is retried this often before the walk fails.
const ATTEMPTS: usize = 20;

/// The records of every service that hold sealed values.
pub fn sealed_namespaces() -> Vec<SealedNamespace> {
    let mut all = rampart_iam::sealed_records();
    all.extend(rampart_kms::sealed_records());
    all.extend(rampart_user_pools::sealed_records());
    all
}

/// What a walk does to each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Counts values by the key that sealed them.
    Count,
    /// Opens every value (nothing is written): proves the keyring opens the whole store.
    Verify,
    /// Re-seals `v1` values as `v2` under this key; leaves `v2` values alone.
    MigrateLegacy(RootKeyId),
    /// Re-seals every value not sealed under this key.
    RewrapTo(RootKeyId),
}

/// What a walk found and did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Sealed values seen, by the key that sealed them as the walk found them (`v1` for
    /// legacy values).
    pub found: BTreeMap<String, usize>,
    /// Values re-sealed.
    pub resealed: usize,
    /// Records rewritten.
    pub records_rewritten: usize,
}

impl Report {
    pub fn values(&self) -> usize {
        self.found.values().sum()
    }

    /// Values sealed under anything but `id` (legacy values included).
    pub fn not_under(&self, id: RootKeyId) -> usize {
        let id = id.to_string();
        self.found
            .iter()
            .filter(|(k, _)| **k != id)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Why a walk stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("{ns}/{key}: {source}")]
    Value {
        ns: &'static str,
        key: String,
        source: SealError,
    },
    #[error("{ns}/{key}: {message}")]
    Record {
        ns: &'static str,
        key: String,
        message: String,
    },
    #[error("{ns}/{key} kept changing while it was re-sealed; run again")]
    Busy { ns: &'static str, key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Walks every sealed value of `namespaces`.
pub async fn walk(
    store: &dyn Store,
    keyring: &RootKeyring,
    namespaces: &[SealedNamespace],
    mode: Mode,
) -> Result<Report, WalkError> {
    let mut report = Report::default();
    for ns in namespaces {
        let mut after: Option<String> = None;
        loop {
            let page = store.list(ns.namespace, "", after.as_deref(), PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (key, item) in page {
                walk_record(store, keyring, ns, &key, item, mode, &mut report).await?;
            }
        }
    }
    Ok(report)
}

async fn walk_record(
    store: &dyn Store,
    keyring: &RootKeyring,
    ns: &SealedNamespace,
    key: &str,
    mut item: rampart_store::Item,
    mode: Mode,
    report: &mut Report,
) -> Result<(), WalkError> {
    for _ in 0..ATTEMPTS {
        let mut found: BTreeMap<String, usize> = BTreeMap::new();
        let mut resealed = 0;
        let visited = ns.visit(&item.value, &mut |slot: SealedSlot<'_>| {
            let by = sealed_by(slot.sealed)?;
            *found
                .entry(match by {
                    SealedBy::LegacyV1 => "v1".to_owned(),
                    SealedBy::RootKey(id) => id.to_string(),
                })
                .or_default() += 1;
            let target = match (mode, by) {
                (Mode::Count, _) => return Ok(false),
                (Mode::Verify, _) => {
                    keyring.open(slot.sealed, slot.purpose, &slot.context)?;
                    return Ok(false);
                }
                (Mode::MigrateLegacy(to), SealedBy::LegacyV1) => to,
                (Mode::MigrateLegacy(_), SealedBy::RootKey(_)) => return Ok(false),
                (Mode::RewrapTo(to), SealedBy::RootKey(id)) if id == to => return Ok(false),
                (Mode::RewrapTo(to), _) => to,
            };
            let plain = keyring.open(slot.sealed, slot.purpose, &slot.context)?;
            *slot.sealed = keyring.seal_under(target, slot.purpose, &slot.context, &plain)?;
            resealed += 1;
            Ok(true)
        });
        let rewritten = match visited {
            Ok(rewritten) => rewritten,
            Err(VisitError::Seal(source)) => {
                return Err(WalkError::Value {
                    ns: ns.namespace,
                    key: key.to_owned(),
                    source,
                })
            }
            Err(VisitError::Record(message)) => {
                return Err(WalkError::Record {
                    ns: ns.namespace,
                    key: key.to_owned(),
                    message,
                })
            }
        };
        let Some(value) = rewritten else {
            merge(report, found, 0, false);
            return Ok(());
        };
        let write = Write::Put {
            ns: ns.namespace.to_owned(),
            key: key.to_owned(),
            value,
            expect: Expect::Version(item.version),
        };
        match store.commit(vec![write]).await {
            Ok(_) => {
                merge(report, found, resealed, true);
                return Ok(());
            }
            // Somebody changed (or deleted) the record since it was read: take theirs.
            Err(StoreError::Conflict { .. }) => match store.get(ns.namespace, key).await? {
                Some(fresh) => item = fresh,
                None => return Ok(()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Err(WalkError::Busy {
        ns: ns.namespace,
        key: key.to_owned(),
    })
}

fn merge(report: &mut Report, found: BTreeMap<String, usize>, resealed: usize, rewritten: bool) {
    for (k, n) in found {
        *report.found.entry(k).or_default() += n;
    }
    report.resealed += resealed;
    report.records_rewritten += usize::from(rewritten);
}
