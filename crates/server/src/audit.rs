//! The audit writer: every request's record goes through here and is durable before the
//! request is answered.
//!
//! The store group-commits the records ([`Store::record_audit`]): one transaction takes every
//! record queued while the previous one was written, so the cost of a durable commit is shared
//! by every request that arrived during it, and each request is woken once, when its batch is
//! durable. On the embedded store a dedicated writer thread owns the connection; on
//! PostgreSQL one multi-row INSERT writes a batch. The queue is bounded: when the trail falls
//! behind, a record is refused at once and the request answered `ServiceUnavailable`, never
//! queued without limit and never answered unaudited.

use std::sync::Arc;

use rampart_core::AuditRecord;
use rampart_store::Store;

/// Why a record could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit trail unavailable: {0}")]
    Unavailable(String),
}

/// A handle to the audit trail.
#[derive(Clone)]
pub struct AuditWriter {
    store: Arc<dyn Store>,
}

impl AuditWriter {
    /// The trail in `store`.
    pub fn start(store: Arc<dyn Store>) -> Self {
        AuditWriter { store }
    }

    /// Appends `record` and waits until it is durable.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.store
            .record_audit(record)
            .await
            .map(|_| ())
            .map_err(|e| AuditError::Unavailable(e.to_string()))
    }
}
