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

#[cfg(test)]
mod tests {
    use rampart_store::{Expect, SqliteStore};

    use super::*;
    use crate::entities::User;

    fn user(name: &str, path: &str) -> User {
        User {
            name: name.into(),
            user_id: format!("AIDA{name}"),
            arn: format!("arn:aws:iam::000000000000:user{path}{name}"),
            path: path.into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            attached_policies: Vec::new(),
            inline_policies: Default::default(),
            groups: Vec::new(),
            permissions_boundary: None,
            tags: Vec::new(),
        }
    }

    async fn put(store: &dyn Store, user: &User) {
        store
            .commit(vec![entities::put(user, Expect::Any)])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn serves_from_memory_until_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let cache = EntityCache::<User>::default();

        assert!(cache.load(&store, "bob").await.unwrap().is_none());
        // Absence is not remembered: a user created (say, on another node) is seen at once.
        put(&store, &user("bob", "/")).await;
        let first = cache.load(&store, "bob").await.unwrap().unwrap();
        assert_eq!(first.path, "/");

        // A change behind the cache's back (another node) is not seen within the TTL...
        put(&store, &user("bob", "/ops/")).await;
        let cached = cache.load(&store, "bob").await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &cached), "served from memory");

        // ...but a write through this node invalidates, and the next read sees the store.
        cache.invalidate_all();
        let fresh = cache.load(&store, "bob").await.unwrap().unwrap();
        assert_eq!(fresh.path, "/ops/");

        // A deletion, once invalidated, is not answered from memory either.
        store
            .commit(vec![entities::delete::<User>("bob", Expect::Any)])
            .await
            .unwrap();
        cache.invalidate_all();
        assert!(cache.load(&store, "bob").await.unwrap().is_none());
        store.close().await;
    }

    /// A load that an invalidation overtook (it may have read what the invalidating write
    /// removed) answers once and is not kept.
    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        let cache = Arc::new(EntityCache::<User>::default());
        put(store.as_ref(), &user("bob", "/")).await;

        /// A store whose reads wait until the test has invalidated the cache.
        struct Racing {
            store: Arc<SqliteStore>,
            cache: Arc<EntityCache<User>>,
        }
        #[async_trait::async_trait]
        impl Store for Racing {
            fn backend(&self) -> &'static str {
                "racing"
            }
            async fn get(
                &self,
                ns: &str,
                key: &str,
            ) -> Result<Option<rampart_store::Item>, StoreError> {
                let item = self.store.get(ns, key).await;
                // The write that removes bob lands, and invalidates, after this read.
                self.cache.invalidate_all();
                item
            }
            async fn list(
                &self,
                _: &str,
                _: &str,
                _: Option<&str>,
                _: usize,
            ) -> Result<Vec<(String, rampart_store::Item)>, StoreError> {
                unreachable!()
            }
            async fn commit(&self, _: Vec<rampart_store::Write>) -> Result<Vec<i64>, StoreError> {
                unreachable!()
            }
            async fn commit_audited(
                &self,
                _: Vec<rampart_store::Write>,
                _: &rampart_core::AuditRecord,
            ) -> Result<Vec<i64>, StoreError> {
                unreachable!()
            }
            async fn append_audit(
                &self,
                _: &[rampart_core::AuditRecord],
            ) -> Result<Vec<i64>, StoreError> {
                unreachable!()
            }
            async fn record_audit(&self, _: rampart_core::AuditRecord) -> Result<i64, StoreError> {
                unreachable!()
            }
            async fn query_audit(
                &self,
                _: &rampart_core::audit::AuditQuery,
            ) -> Result<Vec<rampart_core::AuditRecord>, StoreError> {
                unreachable!()
            }
        }

        let racing = Racing {
            store: store.clone(),
            cache: cache.clone(),
        };
        assert!(cache.load(&racing, "bob").await.unwrap().is_some());
        store
            .commit(vec![entities::delete::<User>("bob", Expect::Any)])
            .await
            .unwrap();
        assert!(
            cache.load(store.as_ref(), "bob").await.unwrap().is_none(),
            "the overtaken load was not cached"
        );
        store.close().await;
    }
}
