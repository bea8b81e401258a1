//! Asynchronous invocation (`InvocationType: Event`), durable: an event is written to a queue
//! in the store — its payload sealed through KMS — before `Invoke` answers 202, and a worker on
//! every node takes due events and runs them through the one in-process [`crate::Invoker`],
//! retrying function errors as AWS does and sending the record of each event that ends to the
//! function's destination (`PutFunctionEventInvokeConfig`), through the same queue.
//!
//! - [`event`]: an event as queued, its key, and the retry, backoff and lease rules (pure).
//! - [`payload`]: payloads sealed at rest.
//! - [`record`]: the invocation record destinations receive (pure).
//! - [`worker`]: the loop that takes, runs, renews and settles events.
//!
//! Each event is two records: `lambda/async-queue` (small; keyed by when it is next due, so a
//! pass reads only due events) and `lambda/async-payloads` (the sealed payload, by event id).
//! Every move of an event deletes the key it was read at with `Expect::Version`, so with
//! several nodes on one PostgreSQL store each take, renewal and settlement happens once; a node
//! that dies leaves a lease that runs out ([`event::LEASE`]) and the event is taken again.

pub mod event;
pub mod payload;
pub mod record;
pub(crate) mod worker;

use std::sync::Arc;

use rampart_kms::KmsService;
use rampart_store::{Expect, Store, StoreError, Write};
use time::OffsetDateTime;
use tokio::sync::Notify;
use zeroize::Zeroizing;

use crate::error::FunctionsError;
use crate::records::ns;
use event::{due_of, queue_key, QueuedEvent};

/// The largest payload of an asynchronous invocation (AWS: 256 KB).
pub const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;

/// Due events read per page of a pass.
const PAGE: usize = 64;

/// An event as read from the queue: its record, and the key and version it was read at (what
/// the next move must delete).
#[derive(Debug, Clone)]
pub struct Held {
    pub key: String,
    pub version: i64,
    pub event: QueuedEvent,
}

/// The queue in the store, as this node sees it.
pub struct AsyncQueue {
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    /// This process, as leases name it.
    holder: String,
    /// The wait before the first retry of a function error (`--functions-async-retry-base-ms`).
    retry_base: time::Duration,
    /// Wakes this node's worker when this node queued an event.
    wake: Notify,
}

impl AsyncQueue {
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        retry_base: std::time::Duration,
    ) -> Self {
        AsyncQueue {
            store,
            kms,
            holder: uuid::Uuid::new_v4().to_string(),
            retry_base: time::Duration::try_from(retry_base).unwrap_or(time::Duration::MINUTE),
            wake: Notify::new(),
        }
    }

    /// The writes that queue event `id` of `function` with `payload`, due at once: the caller
    /// commits them (with its request's audit record), then calls [`AsyncQueue::wake`].
    pub async fn enqueue_writes(
        &self,
        function: &str,
        id: &str,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<Write>, FunctionsError> {
        let sealed = payload::seal(&self.kms, function, id, payload).await?;
        let event = QueuedEvent::new(id, function, now);
        Ok(vec![
            Write::Put {
                ns: ns::ASYNC_PAYLOADS.to_owned(),
                key: id.to_owned(),
                value: sealed,
                expect: Expect::Absent,
            },
            Write::Put {
                ns: ns::ASYNC_QUEUE.to_owned(),
                key: queue_key(now, &event),
                value: encode(&event),
                expect: Expect::Absent,
            },
        ])
    }

    /// Tells this node's worker that an event is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }

    /// Up to `limit` events due at `now`, the longest due first. Events leased to a running
    /// node are not due until their lease runs out.
    pub async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Held>, FunctionsError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        while out.len() < limit {
            let page = self
                .store
                .list(ns::ASYNC_QUEUE, "", after.as_deref(), PAGE)
                .await?;
            let full = page.len() == PAGE;
            for (key, item) in page {
                after = Some(key.clone());
                match due_of(&key) {
                    Some(due) if due > now => return Ok(out),
                    Some(_) => {}
                    None => {
                        tracing::error!(key, "a queued event's key does not read");
                        continue;
                    }
                }
                match serde_json::from_slice(&item.value) {
                    Ok(event) => out.push(Held {
                        key,
                        version: item.version,
                        event,
                    }),
                    Err(e) => tracing::error!(key, error = %e, "a queued event does not decode"),
                }
                if out.len() == limit {
                    break;
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Moves `held` to `next`, due at `due`; None if another node moved or finished it first.
    pub async fn move_to(
        &self,
        held: &Held,
        next: QueuedEvent,
        due: OffsetDateTime,
    ) -> Result<Option<Held>, FunctionsError> {
        let key = queue_key(due, &next);
        let writes = vec![
            Write::Delete {
                ns: ns::ASYNC_QUEUE.to_owned(),
                key: held.key.clone(),
                expect: Expect::Version(held.version),
            },
            Write::Put {
                ns: ns::ASYNC_QUEUE.to_owned(),
                key: key.clone(),
                value: encode(&next),
                expect: Expect::Absent,
            },
        ];
        match self.store.commit(writes).await {
            Ok(versions) => Ok(Some(Held {
                key,
                version: versions.get(1).copied().unwrap_or(1),
                event: next,
            })),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The writes that remove `held` and its payload from the queue (committed by the caller,
    /// with whatever the event's end queues: a conflict means another node has the event).
    pub fn finish_writes(held: &Held) -> Vec<Write> {
        vec![
            Write::Delete {
                ns: ns::ASYNC_QUEUE.to_owned(),
                key: held.key.clone(),
                expect: Expect::Version(held.version),
            },
            Write::Delete {
                ns: ns::ASYNC_PAYLOADS.to_owned(),
                key: held.event.id.clone(),
                expect: Expect::Any,
            },
        ]
    }

    /// The payload of `event`, opened; None if it is gone (the event was finished).
    pub async fn payload(
        &self,
        event: &QueuedEvent,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, FunctionsError> {
        match self.store.get(ns::ASYNC_PAYLOADS, &event.id).await? {
            Some(item) => Ok(Some(
                payload::open(&self.kms, &event.function, &event.id, &item.value).await?,
            )),
            None => Ok(None),
        }
    }

    pub(crate) fn holder(&self) -> &str {
        &self.holder
    }

    pub(crate) fn retry_base(&self) -> time::Duration {
        self.retry_base
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

fn encode(event: &QueuedEvent) -> Vec<u8> {
    serde_json::to_vec(event).expect("plain records serialise")
}

#[cfg(test)]
mod tests;
