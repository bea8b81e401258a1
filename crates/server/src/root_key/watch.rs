//! What a running server does for key custody in the background.
//!
//! * It follows the store's root key: every few seconds it reads the root-key record. When a
//!   rotation announces the key it is about to switch to, the node re-reads its key source
//!   until it holds that key (the rotation waits for every running node); when the store is
//!   sealed under a new key, the node seals under it from then on. A node whose source never
//!   gets the key keeps sealing under the old one and says so in its log.
//! * It reports itself in `custody/nodes/<node id>` (which key it seals under, which it holds),
//!   at once when that changes and every half minute otherwise, so that retiring an old root
//!   key can wait until no running node still seals under it. A clean shutdown removes the
//!   record; a killed node's record goes stale and stops counting after a minute and a half.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::{RootKeyId, RootKeyring};
use rampart_store::{Expect, Store, Write};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::record::{self, NodeRecord, NODES_NS};

/// How often the store's root-key record is read.
const POLL: Duration = Duration::from_secs(5);
/// How often the node record is refreshed when nothing changed.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// The background task; [`Watch::stop`] ends it and removes the node record.
pub struct Watch {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    pub fn start(store: Arc<dyn Store>, keyring: Arc<RootKeyring>) -> Watch {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(run(store, keyring, stop.clone()));
        Watch { stop, task }
    }

    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

async fn run(store: Arc<dyn Store>, keyring: Arc<RootKeyring>, stop: Arc<Notify>) {
    let node_id = uuid::Uuid::new_v4().to_string();
    let host = record::host_name();
    let mut reported: Option<(RootKeyId, Vec<RootKeyId>)> = None;
    let mut reported_at = Instant::now();
    let mut warned: Option<RootKeyId> = None;
    loop {
        follow_store(store.as_ref(), &keyring, &mut warned).await;
        let now = (keyring.sealing_key_id(), keyring.key_ids());
        if reported.as_ref() != Some(&now) || reported_at.elapsed() >= HEARTBEAT {
            let node = NodeRecord {
                node_id: node_id.clone(),
                host: host.clone(),
                pid: std::process::id(),
                sealing: now.0,
                holds: now.1.clone(),
                seen_at: OffsetDateTime::now_utc(),
            };
            let write = Write::Put {
                ns: NODES_NS.into(),
                key: node_id.clone(),
                value: serde_json::to_vec(&node).expect("plain records serialise"),
                expect: Expect::Any,
            };
            match store.commit(vec![write]).await {
                Ok(_) => {
                    reported = Some(now);
                    reported_at = Instant::now();
                }
                Err(e) => tracing::warn!("cannot report this node's root key: {e}"),
            }
        }
        tokio::select! {
            _ = stop.notified() => break,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    let _ = store
        .commit(vec![Write::Delete {
            ns: NODES_NS.into(),
            key: node_id,
            expect: Expect::Any,
        }])
        .await;
}

/// Holds the keys the store names (re-reading the key source, rate-limited, for one it does
/// not hold) and seals under the store's root key.
async fn follow_store(
    store: &dyn Store,
    keyring: &Arc<RootKeyring>,
    warned: &mut Option<RootKeyId>,
) {
    let record = match record::load(store).await {
        Ok(Some((record, _))) => record,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("cannot read the store's root-key record: {e}");
            return;
        }
    };
    let id = record.root_key_id;
    for wanted in [Some(id), record.next_root_key_id].into_iter().flatten() {
        if !keyring.holds(wanted) {
            // A key command may take a while: not on a worker thread serving requests.
            let keyring = keyring.clone();
            let _ = tokio::task::spawn_blocking(move || keyring.reload_for(wanted)).await;
        }
    }
    if id == keyring.sealing_key_id() {
        return;
    }
    if keyring.holds(id) && record.check(keyring).is_ok() {
        let previous = keyring.sealing_key_id();
        keyring.set_sealing(id).expect("held");
        tracing::info!(root_key = %id, previous = %previous, "the store's root key was rotated; sealing under the new root key");
    } else if *warned != Some(id) {
        *warned = Some(id);
        tracing::error!(root_key = %id, sealing = %keyring.sealing_key_id(), "the store is now sealed under a root key this node's key source does not hold; give this node the new key (it keeps sealing under its old one meanwhile)");
    }
}
