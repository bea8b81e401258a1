//! A store that counts the reads made through it, to prove which requests the caches answer
//! without a store round trip. (Shared with Secrets Manager's tests by path.)

use std::sync::{Arc, Mutex};

use rampart_core::audit::AuditQuery;
use rampart_core::AuditRecord;
use rampart_store::{Item, Store, StoreError, Write};

/// Forwards every call to `inner`, noting point reads and listings.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    /// The namespaces read, in order, since the last [`CountingStore::take_reads`].
    read: Mutex<Vec<String>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            read: Mutex::new(Vec::new()),
        }
    }

    /// The namespaces read since the last call (one entry per read), and starts again.
    pub fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.read.lock().unwrap())
    }

    fn count(&self, ns: &str) {
        self.read.lock().unwrap().push(ns.to_owned());
    }
}

#[async_trait::async_trait]
impl Store for CountingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        self.count(ns);
        self.inner.get(ns, key).await
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        self.count(ns);
        self.inner.list(ns, prefix, start_after, limit).await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        self.inner.commit(writes).await
    }

    async fn commit_audited(
        &self,
        writes: Vec<Write>,
        record: &AuditRecord,
    ) -> Result<Vec<i64>, StoreError> {
        self.inner.commit_audited(writes, record).await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        self.inner.append_audit(records).await
    }

    async fn record_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        self.inner.record_audit(record).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.query_audit(query).await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}
