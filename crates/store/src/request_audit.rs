//! The audit record of the request being served, committed in the same transaction as the
//! state change the request makes — so no change is ever durable without its record, even if
//! the process dies, shuts down or the client resets the connection right after the commit.
//!
//! The request path opens a scope ([`scope`]) around an operation that may write; services
//! commit through [`commit`], which carries the pending record in the first commit that
//! succeeds. A task-local keeps this out of every handler's signature: which request a commit
//! belongs to is a fact of the task serving it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use rampart_core::audit::AuditRecord;

use crate::{Store, StoreError, Write};

/// A request's audit record, waiting for the request's first state change.
pub struct PendingAudit {
    record: AuditRecord,
    committed: AtomicBool,
}

tokio::task_local! {
    static PENDING: PendingAudit;
}

/// Runs `operation` with `record` pending; answers its output and whether the record was
/// committed with a state change (then the request path must not write it again).
pub async fn scope<F: Future>(record: AuditRecord, operation: F) -> (F::Output, bool) {
    let pending = PendingAudit {
        record,
        committed: AtomicBool::new(false),
    };
    PENDING
        .scope(pending, async move {
            let output = operation.await;
            let committed = PENDING.with(|p| p.committed.load(Ordering::Acquire));
            (output, committed)
        })
        .await
}

/// Whether the current task is serving a request whose changes carry its audit record (work a
/// service does in the background is not, and audits itself).
pub fn in_request() -> bool {
    PENDING.try_with(|_| ()).is_ok()
}

/// [`Store::commit`], carrying the current request's pending audit record if it has not been
/// committed yet. Outside a request scope (bootstrap, tests, internal callers) a plain commit.
pub async fn commit(store: &dyn Store, writes: Vec<Write>) -> Result<Vec<i64>, StoreError> {
    let pending = PENDING
        .try_with(|p| (!p.committed.load(Ordering::Acquire)).then(|| p.record.clone()))
        .ok()
        .flatten();
    match pending {
        None => store.commit(writes).await,
        Some(record) => {
            let versions = store.commit_audited(writes, &record).await?;
            let _ = PENDING.try_with(|p| p.committed.store(true, Ordering::Release));
            Ok(versions)
        }
    }
}
