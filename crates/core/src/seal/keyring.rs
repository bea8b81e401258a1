//! The root keys a process holds: one seals, all open.
//!
//! A process holds one root key, or several during a rotation (the new one and the ones it
//! replaces). New values are sealed under the *sealing* key — the key the store says it is
//! sealed under — and a value is opened by the key its header names. When a value names a key
//! the process does not hold (another process rotated the root key), the keyring re-reads its
//! [`KeySource`] once, rate-limited, before giving up: that is how running servers pick up a
//! new root key without a restart.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::root_key::{sealed_by, RootKey, RootKeyId, SealedBy};
use super::{SealError, SealPurpose};

/// At most one re-read of the key source per interval: a value under an unknown key must not
/// turn every request into a file read or a command run.
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);
#[cfg(test)]
pub(super) const RELOAD_INTERVAL_FOR_TESTS: Duration = RELOAD_INTERVAL;

/// Where the root keys come from, so they can be read again (a keyring file, a command).
pub trait KeySource: Send + Sync {
    /// The keys the source holds now. Errors are worded for an operator.
    fn load(&self) -> Result<Vec<RootKey>, String>;
    /// The source as an operator would name it, for messages (never the key).
    fn describe(&self) -> String;
}

struct Held {
    keys: Vec<Arc<RootKey>>,
    sealing: RootKeyId,
}

impl Held {
    fn get(&self, id: RootKeyId) -> Option<&Arc<RootKey>> {
        self.keys.iter().find(|k| k.id() == id)
    }
}

/// The root keys of this process, shared by everything that seals or opens.
pub struct RootKeyring {
    held: RwLock<Arc<Held>>,
    source: Option<Box<dyn KeySource>>,
    last_reload: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RootKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RootKeyring(sealing {}, holds {:?})",
            self.sealing_key_id(),
            self.key_ids()
        )
    }
}

impl RootKeyring {
    /// A keyring sealing under `sealing` and also opening under `others` (duplicates dropped).
    pub fn new(sealing: RootKey, others: impl IntoIterator<Item = RootKey>) -> RootKeyring {
        let id = sealing.id();
        let mut keys = vec![Arc::new(sealing)];
        for key in others {
            if keys.iter().all(|k| k.id() != key.id()) {
                keys.push(Arc::new(key));
            }
        }
        RootKeyring {
            held: RwLock::new(Arc::new(Held { keys, sealing: id })),
            source: None,
            last_reload: Mutex::new(None),
        }
    }

    /// A keyring of one fresh key, for tests and throwaway stores.
    pub fn ephemeral() -> RootKeyring {
        RootKeyring::new(RootKey::generate(), [])
    }

    /// Re-reads `source` when a value names a key this keyring does not hold.
    pub fn with_source(mut self, source: Box<dyn KeySource>) -> RootKeyring {
        self.source = Some(source);
        self
    }

    fn held(&self) -> Arc<Held> {
        self.held.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key new values are sealed under.
    pub fn sealing_key_id(&self) -> RootKeyId {
        self.held().sealing
    }

    /// Every key held, the sealing key first.
    pub fn key_ids(&self) -> Vec<RootKeyId> {
        let held = self.held();
        let mut ids = vec![held.sealing];
        ids.extend(
            held.keys
                .iter()
                .map(|k| k.id())
                .filter(|id| *id != held.sealing),
        );
        ids
    }

    pub fn holds(&self, id: RootKeyId) -> bool {
        self.held().get(id).is_some()
    }

    /// The keys held, the sealing key first (to write a keyring file).
    pub fn keys(&self) -> Vec<Arc<RootKey>> {
        let held = self.held();
        let mut keys: Vec<_> = held.get(held.sealing).into_iter().cloned().collect();
        keys.extend(held.keys.iter().filter(|k| k.id() != held.sealing).cloned());
        keys
    }

    /// Seals new values under `id` from now on (a key this keyring holds).
    pub fn set_sealing(&self, id: RootKeyId) -> Result<(), SealError> {
        let mut guard = self.held.write().unwrap_or_else(|e| e.into_inner());
        if guard.get(id).is_none() {
            return Err(SealError::UnknownRootKey(id));
        }
        *guard = Arc::new(Held {
            keys: guard.keys.clone(),
            sealing: id,
        });
        Ok(())
    }

    /// Adds `key` (a new root key during a rotation); the sealing key does not change.
    pub fn add(&self, key: RootKey) {
        let mut guard = self.held.write().unwrap_or_else(|e| e.into_inner());
        if guard.get(key.id()).is_none() {
            let mut keys = guard.keys.clone();
            keys.push(Arc::new(key));
            *guard = Arc::new(Held {
                keys,
                sealing: guard.sealing,
            });
        }
    }

    /// Seals `plaintext` for `purpose`, bound to `context`, under the sealing key.
    pub fn seal(&self, purpose: SealPurpose, context: &str, plaintext: &[u8]) -> String {
        let held = self.held();
        let key = held.get(held.sealing).expect("the sealing key is held");
        key.seal(purpose, context, plaintext)
    }

    /// Seals under a particular held key (re-wrapping during a rotation).
    pub fn seal_under(
        &self,
        id: RootKeyId,
        purpose: SealPurpose,
        context: &str,
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        let held = self.held();
        let key = held.get(id).ok_or(SealError::UnknownRootKey(id))?;
        Ok(key.seal(purpose, context, plaintext))
    }

    /// Opens `sealed` (sealed for `purpose`, bound to `context`) with the key it names; a
    /// legacy `v1` value with whichever held key opens it.
    pub fn open(
        &self,
        sealed: &str,
        purpose: SealPurpose,
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        match sealed_by(sealed)? {
            SealedBy::LegacyV1 => {
                let held = self.held();
                let mut last = SealError::Unauthentic;
                for key in &held.keys {
                    match key.open(sealed, purpose, context) {
                        Ok(plain) => return Ok(plain),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            SealedBy::RootKey(id) => {
                let key = match self.held().get(id) {
                    Some(key) => key.clone(),
                    None => {
                        self.reload_for(id);
                        self.held()
                            .get(id)
                            .cloned()
                            .ok_or(SealError::UnknownRootKey(id))?
                    }
                };
                key.open(sealed, purpose, context)
            }
        }
    }

    /// Re-reads the key source now. The keys held become the source's, plus the sealing key if
    /// the source no longer has it (a process never forgets the key it seals under).
    pub fn reload(&self) -> Result<(), String> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        let loaded = source.load()?;
        let mut guard = self.held.write().unwrap_or_else(|e| e.into_inner());
        let sealing = guard.sealing;
        let mut keys: Vec<Arc<RootKey>> = Vec::with_capacity(loaded.len() + 1);
        for key in loaded {
            if keys.iter().all(|k| k.id() != key.id()) {
                keys.push(Arc::new(key));
            }
        }
        if keys.iter().all(|k| k.id() != sealing) {
            if let Some(current) = guard.get(sealing) {
                tracing::warn!(root_key = %sealing, source = %source.describe(), "the key source no longer holds the root key this process seals under; keeping it in memory");
                keys.push(current.clone());
            }
        }
        *guard = Arc::new(Held { keys, sealing });
        Ok(())
    }

    /// Re-reads the key source for a value sealed under `id`, unless another request just did.
    /// Requests that miss at the same time wait for one re-read rather than each doing one.
    pub fn reload_for(&self, id: RootKeyId) {
        let Some(source) = &self.source else { return };
        let mut last = self.last_reload.lock().unwrap_or_else(|e| e.into_inner());
        if self.holds(id) || last.is_some_and(|t| t.elapsed() < RELOAD_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        match self.reload() {
            Ok(()) if self.holds(id) => {
                tracing::info!(root_key = %id, source = %source.describe(), "picked up a new root key");
            }
            Ok(()) => {
                tracing::warn!(root_key = %id, source = %source.describe(), "the key source does not hold this root key");
            }
            Err(e) => {
                tracing::error!(source = %source.describe(), "cannot re-read the root key source: {e}")
            }
        }
    }
}
