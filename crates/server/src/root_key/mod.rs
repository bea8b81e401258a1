//! Key custody at the edge of the process: where the root key comes from, proving it is the
//! store's before anything is written, migrating legacy sealed values, and following a root
//! key rotation while serving.
//!
//! * `source`: the key sources (keyring file, `RAMPART_ROOT_KEY`, `--root-key-cmd`).
//! * `record`: the store's root-key record (which key seals it, with a canary) and the node
//!   records running servers keep.
//! * `rewrap`: the walk over every sealed value (count, verify, migrate, re-wrap).
//! * `watch`: what a running server does in the background (follow the store's root key,
//!   report which key it seals under).
//!
//! [`open`] is what `rampart serve` and `rampart keys` run first: it loads the keyring,
//! refuses a key that is not the store's — before writing anything — and re-seals `v1`
//! values of an older install as `v2` (once; the record remembers it).

pub mod record;
pub mod rewrap;
pub mod source;
pub mod watch;

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rampart_core::{RootKey, RootKeyring};
use rampart_store::{Expect, Store, StoreError};

use record::{CanaryError, RootKeyRecord};
use rewrap::{Mode, WalkError};
use source::SourceSpec;

/// Who is opening the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `rampart serve`: may bootstrap a fresh store (and create its root key file).
    Serve,
    /// `rampart keys …`: the store must exist.
    Tool,
}

/// The keyring a process works with, proved to be the store's.
pub struct Custody {
    pub keyring: Arc<RootKeyring>,
    pub source: SourceSpec,
}

/// What to tell an operator whose key does not open the store.
fn pass_the_right_key(source: &SourceSpec) -> String {
    format!(
        "pass the right --root-key-file / RAMPART_ROOT_KEY / --root-key-cmd ({} was used)",
        source.describe()
    )
}

fn held(keyring: &RootKeyring) -> String {
    let ids: Vec<String> = keyring.key_ids().iter().map(|id| id.to_string()).collect();
    match ids.as_slice() {
        [one] => format!("the root key {one}"),
        many => format!("the root keys {}", many.join(", ")),
    }
}

/// Loads the root keys from `source` and proves them against `store` (see the module docs).
pub async fn open(
    store: &dyn Store,
    mut source: SourceSpec,
    data_dir: &Path,
    opener: Opener,
) -> anyhow::Result<Custody> {
    let existing = record::load(store).await?;
    let fresh = existing.is_none() && rampart_iam::Account::load(store).await?.is_none();
    if fresh && opener == Opener::Tool {
        bail!("the store holds no Rampart installation yet; start `rampart serve` first");
    }
    let mut created = None;
    let keys = match source.load()? {
        Some(keys) => keys,
        None => {
            let SourceSpec::File { path, .. } = &source else {
                unreachable!("only a file can be missing")
            };
            if !fresh {
                bail!(
                    "the store holds sealed data but {} does not exist; {} (no new key was created)",
                    source.describe(),
                    pass_the_right_key(&source)
                );
            }
            let key = RootKey::generate();
            source::create_keyring_file(path, &key)?;
            created = Some(path.clone());
            tracing::info!(root_key = %key.id(), file = %path.display(), "created the root key of a new store");
            vec![key]
        }
    };
    let result = prove(store, keyring_of(keys), existing, fresh, &source).await;
    if let (Err(_), Some(path)) = (&result, &created) {
        // Another process bootstrapped the store under its own key at the same moment: the
        // key just created is nobody's.
        let _ = std::fs::remove_file(path);
    }
    let keyring = result?;
    if let SourceSpec::File {
        path,
        adopted_legacy: true,
    } = &source
    {
        let renamed = source::default_file(data_dir);
        std::fs::rename(path, &renamed).with_context(|| {
            format!("cannot rename {} to {}", path.display(), renamed.display())
        })?;
        tracing::info!(from = %path.display(), to = %renamed.display(), "adopted the master key of an older install as the root key file");
        source = SourceSpec::File {
            path: renamed,
            adopted_legacy: false,
        };
    }
    let keyring = match source.reloader() {
        Some(reloader) => keyring.with_source(reloader),
        None => keyring,
    };
    Ok(Custody {
        keyring: Arc::new(keyring),
        source,
    })
}

fn keyring_of(keys: Vec<RootKey>) -> RootKeyring {
    let mut keys = keys.into_iter();
    let first = keys.next().expect("a keyring is never empty");
    RootKeyring::new(first, keys)
}

/// Proves `keyring` is the store's (recording it for a fresh store or an install from before
/// root-key records) and migrates legacy values; nothing is written unless the proof holds.
async fn prove(
    store: &dyn Store,
    keyring: RootKeyring,
    existing: Option<(RootKeyRecord, i64)>,
    fresh: bool,
    source: &SourceSpec,
) -> anyhow::Result<RootKeyring> {
    let record = match existing {
        Some((record, _)) => {
            check(&record, &keyring, source)?;
            record
        }
        None => {
            let legacy = !fresh;
            if legacy {
                // An install from before root-key records: prove the key on the values
                // themselves before writing the record that names it.
                let report = rewrap::walk(store, &keyring, &rewrap::sealed_namespaces(), Mode::Verify)
                    .await
                    .map_err(|e| match e {
                        WalkError::Value { ns, key, .. } => anyhow::anyhow!(
                            "{} does not open this store (the sealed value of {ns}/{key} does not authenticate under it); {}",
                            held(&keyring),
                            pass_the_right_key(source)
                        ),
                        other => anyhow::Error::from(other),
                    })?;
                tracing::info!(values = report.values(), root_key = %keyring.sealing_key_id(), "the root key opens every sealed value; recording it as the store's root key");
            }
            let record = RootKeyRecord::new(&keyring, keyring.sealing_key_id(), !legacy);
            match store.commit(vec![record.write(Expect::Absent)]).await {
                Ok(_) => record,
                // Another process recorded its key first: it must be ours too.
                Err(StoreError::Conflict { .. }) => {
                    let (record, _) = record::load(store)
                        .await?
                        .context("the root-key record vanished")?;
                    check(&record, &keyring, source)?;
                    record
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    keyring
        .set_sealing(record.root_key_id)
        .expect("checked: the keyring holds it");
    if !record.legacy_migrated {
        migrate_legacy(store, &keyring).await?;
    }
    Ok(keyring)
}

fn check(record: &RootKeyRecord, keyring: &RootKeyring, source: &SourceSpec) -> anyhow::Result<()> {
    match record.check(keyring) {
        Ok(()) => Ok(()),
        Err(CanaryError::NotHeld) => bail!(
            "{} does not open this store (sealed under root key {}); {}",
            held(keyring),
            record.root_key_id,
            pass_the_right_key(source)
        ),
        Err(CanaryError::Unauthentic) => bail!(
            "the store's root-key record does not authenticate under root key {}: it was altered; refusing to use the store",
            record.root_key_id
        ),
    }
}

/// Re-seals every `v1` value as `v2` under the store's root key, then records that it did.
/// Safe to interrupt and to run on several nodes at once: records are rewritten one by one
/// with compare-and-swap, `v2` values are left alone, and the flag is set only at the end.
async fn migrate_legacy(store: &dyn Store, keyring: &RootKeyring) -> anyhow::Result<()> {
    let to = keyring.sealing_key_id();
    let report = rewrap::walk(
        store,
        keyring,
        &rewrap::sealed_namespaces(),
        Mode::MigrateLegacy(to),
    )
    .await
    .context("re-sealing legacy v1 values")?;
    tracing::info!(resealed = report.resealed, records = report.records_rewritten, root_key = %to, "re-sealed legacy v1 values as v2");
    loop {
        let (mut record, version) = record::load(store)
            .await?
            .context("the root-key record vanished")?;
        if record.legacy_migrated {
            return Ok(());
        }
        record.legacy_migrated = true;
        record.updated_at = time::OffsetDateTime::now_utc();
        match store
            .commit(vec![record.write(Expect::Version(version))])
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
