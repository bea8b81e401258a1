//! What the store records about its root key: which key it is sealed under, with a canary
//! sealed under that key so a process can tell before writing anything whether its key is the
//! store's, and which root key each running node seals under (so retiring an old key can wait
//! until no node still uses it).

use rampart_core::seal::RootKeyring;
use rampart_core::{RootKeyId, SealPurpose};
use rampart_store::{Expect, Item, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Namespace of the store's root-key record.
pub const NS: &str = "custody";
/// Its key.
pub const KEY: &str = "root-key";
/// Namespace of node records, by node id.
pub const NODES_NS: &str = "custody/nodes";
/// What the canary holds; it proves the key, not a secret.
const CANARY_PLAINTEXT: &[u8] = b"rampart root key canary";
const CANARY_CONTEXT: &str = "custody/root-key";
/// A node not heard from for this long is taken to be stopped.
pub const NODE_LIVENESS: time::Duration = time::Duration::seconds(90);

/// The store's root-key record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootKeyRecord {
    /// The root key the store is sealed under; every node seals new values under it.
    pub root_key_id: RootKeyId,
    /// [`CANARY_PLAINTEXT`] sealed under that key.
    pub canary: String,
    /// Whether every `v1` value of an older install has been re-sealed as `v2`.
    pub legacy_migrated: bool,
    /// Set while `rampart keys rotate-root` re-wraps values under `root_key_id`; cleared
    /// when none is left under another key.
    #[serde(default)]
    pub rotation: Option<Rotation>,
    /// The root key a rotation is about to switch to: running nodes re-read their key source
    /// until they hold it, and the switch waits for them.
    #[serde(default)]
    pub next_root_key_id: Option<RootKeyId>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A rotation under way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rotation {
    /// The root key the store was sealed under before.
    pub from: RootKeyId,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}

impl RootKeyRecord {
    /// A record naming `id` (a key `keyring` holds), with a fresh canary.
    pub fn new(keyring: &RootKeyring, id: RootKeyId, legacy_migrated: bool) -> RootKeyRecord {
        RootKeyRecord {
            root_key_id: id,
            canary: keyring
                .seal_under(
                    id,
                    SealPurpose::RootKeyCanary,
                    CANARY_CONTEXT,
                    CANARY_PLAINTEXT,
                )
                .expect("the record names a key the keyring holds"),
            legacy_migrated,
            rotation: None,
            next_root_key_id: None,
            updated_at: OffsetDateTime::now_utc(),
        }
    }

    /// Whether `keyring` holds this store's root key and the canary opens under it.
    pub fn check(&self, keyring: &RootKeyring) -> Result<(), CanaryError> {
        if !keyring.holds(self.root_key_id) {
            return Err(CanaryError::NotHeld);
        }
        match keyring.open(&self.canary, SealPurpose::RootKeyCanary, CANARY_CONTEXT) {
            Ok(plain) if plain.as_slice() == CANARY_PLAINTEXT => Ok(()),
            _ => Err(CanaryError::Unauthentic),
        }
    }

    pub fn write(&self, expect: Expect) -> Write {
        Write::Put {
            ns: NS.into(),
            key: KEY.into(),
            value: serde_json::to_vec(self).expect("plain records serialise"),
            expect,
        }
    }
}

/// Why a keyring is not this store's.
#[derive(Debug, PartialEq, Eq)]
pub enum CanaryError {
    /// The keyring does not hold the key the store names.
    NotHeld,
    /// It holds a key of that id, but the canary does not open: the record was altered.
    Unauthentic,
}

/// The store's root-key record and its version, if it has one.
pub async fn load(store: &dyn Store) -> Result<Option<(RootKeyRecord, i64)>, StoreError> {
    let Some(Item { value, version }) = store.get(NS, KEY).await? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&value)
        .map_err(|e| StoreError::Corrupt(format!("{NS}/{KEY}: {e}")))?;
    Ok(Some((record, version)))
}

/// A running `rampart serve`, as it reports itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node_id: String,
    pub host: String,
    pub pid: u32,
    /// The root key it seals new values under.
    pub sealing: RootKeyId,
    /// Every root key it holds.
    pub holds: Vec<RootKeyId>,
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

impl NodeRecord {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now - self.seen_at < NODE_LIVENESS
    }
}

/// Every node record (live or not).
pub async fn nodes(store: &dyn Store) -> Result<Vec<(NodeRecord, i64)>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(NODES_NS, "", after.as_deref(), 100).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, item) in page {
            let record = serde_json::from_slice(&item.value)
                .map_err(|e| StoreError::Corrupt(format!("{NODES_NS}/{key}: {e}")))?;
            out.push((record, item.version));
        }
    }
    Ok(out)
}

/// This machine's name, for operators reading node records.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
