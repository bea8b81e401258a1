//! The audit writer: every request's record goes through here and is durable before the
//! request is answered.
//!
//! Records are group-committed: while one batch is being written, newly arriving records queue
//! up and go into the next transaction, so the cost of a durable commit is shared by every
//! request that arrived during it.

use std::sync::Arc;

use rampart_core::AuditRecord;
use rampart_store::Store;
use tokio::sync::{mpsc, oneshot};

/// Most records one transaction takes.
const MAX_BATCH: usize = 1024;

/// Why a record could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit trail unavailable: {0}")]
    Unavailable(String),
}

struct Pending {
    record: AuditRecord,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the background writer.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<Pending>(MAX_BATCH * 8);
        tokio::spawn(async move {
            let mut records = Vec::with_capacity(MAX_BATCH);
            let mut waiters = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = incoming.recv().await {
                records.push(first.record);
                waiters.push(first.done);
                while records.len() < MAX_BATCH {
                    match incoming.try_recv() {
                        Ok(p) => {
                            records.push(p.record);
                            waiters.push(p.done);
                        }
                        Err(_) => break,
                    }
                }
                let result = store
                    .append_audit(&records)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(error = %e, records = records.len(), "audit batch failed");
                }
                records.clear();
                for done in waiters.drain(..) {
                    let _ = done.send(result.clone());
                }
            }
        });
        AuditWriter { queue }
    }

    /// Queues `record` and waits until it is durable.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { record, done })
            .await
            .map_err(|_| AuditError::Unavailable("writer stopped".into()))?;
        committed
            .await
            .map_err(|_| AuditError::Unavailable("writer stopped".into()))?
            .map_err(AuditError::Unavailable)
    }
}
