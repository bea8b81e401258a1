//! Stored entities kept in memory for the reads that need them on every request (`GetUser`),
//! so that such a read costs no store round trip.
//!
//! A cache, never the source of truth: an entry is used for at most [`ENTITY_TTL`], so a
//! change made through another node sharing the store shows within that time; a change made
//! through this node empties the cache at once ([`EntityCache::invalidate_all`], called by
//! every IAM write before it answers). Like the credential cache, it is generation-checked: a
//! load that an invalidation overtook is answered once but never cached, so a read that raced
//! a write cannot put back what the write removed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_store::{Store, StoreError};

use crate::entities::{self, Entity};

/// How long an entity read from the store is used without reading it again: the time a change
/// made through another node may take to show here. The same as the credential cache's.
pub const ENTITY_TTL: Duration = crate::credentials::CACHE_TTL;

/// Entries kept per entity type; an account's IAM has far fewer users or roles.
const CAPACITY: usize = 10_000;

/// One entity type's cache, by key.
pub struct EntityCache<T> {
    entries: quick_cache::sync::Cache<String, (Arc<T>, Instant)>,
    /// Bumped by every invalidation; a load that started before one is not cached.
    generation: AtomicU64,
}

impl<T> Default for EntityCache<T>
where
    T: Entity + Send + Sync + 'static,
{
    fn default() -> Self {
        EntityCache {
            entries: quick_cache::sync::Cache::new(CAPACITY),
            generation: AtomicU64::new(0),
        }
    }
}

impl<T> EntityCache<T>
where
    T: Entity + Send + Sync + 'static,
{
    /// The entity `key`, from memory if it was read less than [`ENTITY_TTL`] ago and no IAM
    /// write on this node came since, else from the store. Absence is not cached: an entity
    /// created elsewhere is seen at once.
    pub async fn load(&self, store: &dyn Store, key: &str) -> Result<Option<Arc<T>>, StoreError> {
        if let Some((entity, read_at)) = self.entries.get(key) {
            if read_at.elapsed() < ENTITY_TTL {
                return Ok(Some(entity));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let read_at = Instant::now();
        let Some(found) = entities::load::<T>(store, key).await? else {
            self.entries.remove(key);
            return Ok(None);
        };
        let entity = Arc::new(found.entity);
        let current = || self.generation.load(Ordering::Acquire) == generation;
        if current() {
            self.entries
                .insert(key.to_owned(), (entity.clone(), read_at));
            // An invalidation between the check and the insert: take it back out.
            if !current() {
                self.entries.remove(key);
            }
        }
        Ok(Some(entity))
    }

    /// Forgets every entry: called on every IAM write made through this node, before it
    /// answers, so that its own caller (and everyone else) reads what it wrote.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}
