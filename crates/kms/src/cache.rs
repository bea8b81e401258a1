//! Stored records kept in memory for the reads every request makes (the key and alias records
//! a `Decrypt` or a `GetSecretValue` resolves, a secret's record and its sealed value), so that
//! such a read costs no store round trip. The same design as IAM's entity cache
//! (`rampart_iam::cache`), generic over the record and shared with Secrets Manager.
//!
//! A cache, never the source of truth: an entry is used for at most [`CACHE_TTL`], so a change
//! made through another node sharing the store shows within that time; a change made through
//! this node empties the cache at once ([`RecordCache::invalidate_all`], called by every write
//! of the owning service before it answers). It is generation-checked: a load that an
//! invalidation overtook is answered once but never cached, so a read that raced a write cannot
//! put back what the write removed. Absence is not cached: a record created elsewhere is seen
//! at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a record read from the store is used without reading it again: the time a change
/// made through another node may take to show here. The same as IAM's credential and entity
/// caches', so one figure (5 s) describes every node's lag.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

struct Entry<V> {
    value: Arc<V>,
    read_at: Instant,
    weight: u64,
}

// By hand: a derive would require `V: Clone`, and only the `Arc` is cloned.
impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            read_at: self.read_at,
            weight: self.weight,
        }
    }
}

/// Weighs an entry by the size its loader gave (the stored record's length), so a cache of
/// large records (64 KiB secret values) is bounded in bytes, not in entries.
#[derive(Clone, Copy)]
struct ByWeight;

impl<V> quick_cache::Weighter<String, Entry<V>> for ByWeight {
    fn weight(&self, _: &String, entry: &Entry<V>) -> u64 {
        entry.weight.max(1)
    }
}

/// When a load began: the generation it must still be current in to be kept, and the time its
/// entry counts from (taken before the store read, so an entry never outlives the TTL).
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    generation: u64,
    read_at: Instant,
}

/// One kind of record's cache, by store key.
pub struct RecordCache<V> {
    entries: quick_cache::sync::Cache<String, Entry<V>, ByWeight>,
    /// Bumped by every invalidation; a load that started before one is not kept.
    generation: AtomicU64,
}

impl<V> RecordCache<V>
where
    V: Send + Sync + 'static,
{
    /// A cache of about `estimated_items` entries holding at most `capacity` in weight (the
    /// bytes of the stored records, as loads weigh them).
    pub fn new(estimated_items: usize, capacity: u64) -> Self {
        RecordCache {
            entries: quick_cache::sync::Cache::with_weighter(estimated_items, capacity, ByWeight),
            generation: AtomicU64::new(0),
        }
    }

    /// The record `key`, if it was read less than [`CACHE_TTL`] ago and no write through this
    /// node came since.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let entry = self.entries.get(key)?;
        (entry.read_at.elapsed() < CACHE_TTL).then_some(entry.value)
    }

    /// Marks the start of a load whose result may be [`kept`](Self::keep).
    pub fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.generation.load(Ordering::Acquire),
            read_at: Instant::now(),
        }
    }

    /// Keeps `value`, loaded under `ticket`, unless an invalidation came since the load
    /// began (it may have read what the invalidating write changed).
    pub fn keep(&self, key: &str, value: Arc<V>, weight: u64, ticket: Ticket) {
        let current = || self.generation.load(Ordering::Acquire) == ticket.generation;
        if !current() {
            return;
        }
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                read_at: ticket.read_at,
                weight,
            },
        );
        // An invalidation between the check and the insert: take it back out.
        if !current() {
            self.entries.remove(key);
        }
    }

    /// The record `key` from memory, or else from `read` (which answers the record and its
    /// weight, or None if there is none), keeping what it read.
    pub async fn load<E, F, Fut>(&self, key: &str, read: F) -> Result<Option<Arc<V>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<(V, u64)>, E>>,
    {
        if let Some(value) = self.get(key) {
            return Ok(Some(value));
        }
        let ticket = self.ticket();
        let Some((value, weight)) = read().await? else {
            self.entries.remove(key);
            return Ok(None);
        };
        let value = Arc::new(value);
        self.keep(key, value.clone(), weight, ticket);
        Ok(Some(value))
    }

    /// Forgets every entry: called on every write made through this node, before it answers,
    /// so that its own caller (and everyone else) reads what it wrote.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    /// Drops the entries too old to be used, so what they hold leaves memory even if nothing
    /// asks for them again (the periodic maintenance sweep calls this).
    pub fn forget_expired(&self) {
        self.entries
            .retain(|_, entry| entry.read_at.elapsed() < CACHE_TTL);
    }

    /// How many entries it holds (tests).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    async fn read(value: Option<&str>) -> Result<Option<(String, u64)>, Infallible> {
        Ok(value.map(|v| (v.to_owned(), v.len() as u64)))
    }

    #[tokio::test]
    async fn serves_from_memory_until_invalidated() {
        let cache = RecordCache::<String>::new(16, 1 << 20);
        assert!(cache.load("k", || read(None)).await.unwrap().is_none());
        // Absence is not remembered: a record created (say, on another node) is seen at once.
        let first = cache
            .load("k", || read(Some("one")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*first, "one");
        // A change behind the cache's back (another node) is not seen within the TTL...
        let cached = cache
            .load("k", || read(Some("two")))
            .await
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &cached), "served from memory");
        // ...but a write through this node invalidates, and the next read sees the store.
        cache.invalidate_all();
        assert!(cache.get("k").is_none());
        let fresh = cache
            .load("k", || read(Some("two")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*fresh, "two");
        // A deletion, once invalidated, is not answered from memory either.
        cache.invalidate_all();
        assert!(cache.load("k", || read(None)).await.unwrap().is_none());
        assert!(cache.is_empty());
    }

    /// A load that an invalidation overtook (it may have read what the invalidating write
    /// removed) answers once and is not kept.
    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_not_kept() {
        let cache = RecordCache::<String>::new(16, 1 << 20);
        let answered = cache
            .load("k", || async {
                // The write that changes the record lands, and invalidates, after this read.
                let item = read(Some("old")).await;
                cache.invalidate_all();
                item
            })
            .await
            .unwrap();
        assert_eq!(answered.as_deref().map(String::as_str), Some("old"));
        assert!(cache.get("k").is_none(), "the overtaken load was not kept");
        let fresh = cache.load("k", || read(Some("new"))).await.unwrap();
        assert_eq!(fresh.as_deref().map(String::as_str), Some("new"));
    }

    #[test]
    fn entries_are_used_for_at_most_the_ttl() {
        let cache = RecordCache::<String>::new(16, 1 << 20);
        let stale = Ticket {
            generation: 0,
            read_at: Instant::now()
                .checked_sub(CACHE_TTL)
                .expect("the clock is past the TTL"),
        };
        cache.keep("old", Arc::new("x".into()), 1, stale);
        cache.keep("new", Arc::new("y".into()), 1, cache.ticket());
        assert!(
            cache.get("old").is_none(),
            "an entry past the TTL is not used"
        );
        assert!(cache.get("new").is_some());
        cache.forget_expired();
        assert_eq!(cache.len(), 1, "the expired entry left memory");
    }

    #[test]
    fn capacity_is_in_bytes() {
        let cache = RecordCache::<String>::new(16, 64 * 1024);
        for i in 0..64 {
            cache.keep(
                &format!("k{i}"),
                Arc::new(String::new()),
                16 * 1024,
                cache.ticket(),
            );
        }
        assert!(
            cache.len() <= 4,
            "held {} entries of 16 KiB in 64 KiB",
            cache.len()
        );
    }
}
