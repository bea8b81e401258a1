//! The node's log buffer and the task that stores it.
//!
//! Execution environments hand each line to [`LogStream::push`]: a short lock and a `Vec`
//! push, never a store call, so an invocation never waits on the store for its log. A task
//! ([`LogShipper::spawn`]) takes everything buffered every [`FLUSH_INTERVAL`] (sooner when
//! [`FLUSH_BYTES`] are waiting), seals it in batches of at most [`MAX_BATCH_BYTES`] per
//! function and writes them all in one store commit.
//!
//! Memory is bounded: past [`MAX_BUFFER_BYTES`] waiting, lines are dropped — counted per
//! function and in [`LogShipper::dropped`] — and the function's log gets a line saying how
//! many were lost, rather than a function blocking on its own output.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rampart_core::AuditRecord;
use rampart_kms::{KeyRecord, KmsService};
use rampart_store::{request_audit, Expect, Store, Write};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::batch::{self, StoredBatch};
use super::{ns, unix_micros, LogEvent};
use crate::error::FunctionsError;
use crate::roles::LAMBDA_PRINCIPAL;
use crate::sealing::MANAGED_KEY_ALIAS;

/// How often buffered lines are stored (what `rampart logs --follow` waits at least).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Buffered bytes that make the task store them without waiting for the interval.
pub const FLUSH_BYTES: usize = 1024 * 1024;
/// Buffered bytes past which lines are dropped.
pub const MAX_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// The plaintext of one stored batch at most.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// One event's message at most; a longer line is cut into several events (CloudWatch's limit
/// is 256 KiB per event, its 26 bytes of overhead included).
pub const MAX_EVENT_BYTES: usize = 256 * 1024 - 26;
/// What an event costs in the buffer besides its message.
const EVENT_OVERHEAD: usize = 48;
/// Batches written in one store commit at most.
const BATCHES_PER_COMMIT: usize = 64;
/// How long the Lambda key's record is used before it is read again.
const KEY_TTL: Duration = Duration::from_secs(60);

/// What one function has waiting.
#[derive(Default)]
struct Pending {
    events: Vec<LogEvent>,
    /// Lines dropped since the last flush, and the stream of the last of them.
    dropped: u64,
    dropped_stream: Option<Arc<str>>,
    /// The time of the last event taken: times never go backwards within a function on this
    /// node, so its batches are written in the order of their keys.
    last_us: i64,
}

#[derive(Default)]
struct Buffer {
    functions: HashMap<Arc<str>, Pending>,
    bytes: usize,
}

/// The node's function logs on their way to the store.
pub struct LogShipper {
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    buffer: Mutex<Buffer>,
    wake: Notify,
    dropped: AtomicU64,
    /// The Lambda key's record, read at most every [`KEY_TTL`].
    key: tokio::sync::Mutex<Option<(Instant, KeyRecord)>>,
    /// One flush at a time (the task's, and the last one at shutdown).
    flushing: tokio::sync::Mutex<()>,
}

/// Where one execution environment's lines go: its function's log, its own stream.
#[derive(Clone)]
pub struct LogStream {
    shipper: Weak<LogShipper>,
    function: Arc<str>,
    stream: Arc<str>,
}

impl LogStream {
    /// Adds one line (without its newline), timed now. Never waits on the store.
    pub fn push(&self, message: &str) {
        if let Some(shipper) = self.shipper.upgrade() {
            shipper.push(&self.function, &self.stream, message);
        }
    }

    /// Adds each line of `text`.
    pub fn push_text(&self, text: &str) {
        for line in text.lines() {
            self.push(line);
        }
    }

    /// The stream's name (`2024/05/01/[$LATEST]<id>`).
    pub fn name(&self) -> &str {
        &self.stream
    }
}

/// `text` cut into pieces of at most `max` bytes, on character boundaries.
fn pieces(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    let mut first = true;
    std::iter::from_fn(move || {
        if rest.is_empty() && !std::mem::take(&mut first) {
            return None;
        }
        first = false;
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

impl LogShipper {
    pub fn new(store: Arc<dyn Store>, kms: Arc<KmsService>) -> Arc<Self> {
        Arc::new(LogShipper {
            store,
            kms,
            buffer: Mutex::new(Buffer::default()),
            wake: Notify::new(),
            dropped: AtomicU64::new(0),
            key: tokio::sync::Mutex::new(None),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// The handle an environment of `function` writes its stream `stream` through.
    pub fn stream(self: &Arc<Self>, function: &str, stream: &str) -> LogStream {
        LogStream {
            shipper: Arc::downgrade(self),
            function: function.into(),
            stream: stream.into(),
        }
    }

    /// Lines dropped because the buffer was full, since the process started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn push(&self, function: &Arc<str>, stream: &Arc<str>, message: &str) {
        let now = unix_micros(OffsetDateTime::now_utc());
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = buffer.bytes;
        let pending = buffer.functions.entry(function.clone()).or_default();
        for piece in pieces(message, MAX_EVENT_BYTES) {
            let cost = piece.len() + EVENT_OVERHEAD;
            if bytes + cost > MAX_BUFFER_BYTES {
                pending.dropped += 1;
                pending.dropped_stream = Some(stream.clone());
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            bytes += cost;
            pending.last_us = pending.last_us.max(now);
            pending.events.push(LogEvent {
                time_us: pending.last_us,
                stream: stream.clone(),
                message: piece.to_owned(),
            });
        }
        buffer.bytes = bytes;
        if bytes >= FLUSH_BYTES {
            self.wake.notify_one();
        }
    }

    /// Stores what is buffered every [`FLUSH_INTERVAL`], for as long as the shipper lives.
    pub fn spawn(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(shipper) = weak.upgrade() else {
                    return;
                };
                tokio::select! {
                    _ = tokio::time::sleep(FLUSH_INTERVAL) => {}
                    _ = shipper.wake.notified() => {}
                }
                if let Err(e) = shipper.flush().await {
                    tracing::warn!(error = %e, "function logs could not be stored; retrying");
                }
            }
        });
    }

    /// Takes what is buffered, with a line for each function whose lines were dropped. A
    /// function's entry goes with it: its next line is timed after the clock moved on.
    fn take(&self) -> Vec<(Arc<str>, Vec<LogEvent>)> {
        let functions = {
            let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
            buffer.bytes = 0;
            std::mem::take(&mut buffer.functions)
        };
        let mut taken = Vec::with_capacity(functions.len());
        for (function, mut pending) in functions {
            if pending.dropped > 0 {
                let stream = pending
                    .dropped_stream
                    .take()
                    .unwrap_or_else(|| "rampart".into());
                let now = unix_micros(OffsetDateTime::now_utc());
                pending.events.push(LogEvent {
                    time_us: pending.last_us.max(now),
                    stream,
                    message: format!(
                        "RAMPART Dropped {} log lines: this node's log buffer was full",
                        pending.dropped
                    ),
                });
            }
            if !pending.events.is_empty() {
                taken.push((function, pending.events));
            }
        }
        taken
    }

    /// Puts back events whose commit failed, in front of newer ones, as far as the buffer
    /// has room (the rest count as dropped).
    fn put_back(&self, function: &Arc<str>, events: Vec<LogEvent>) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = buffer.bytes;
        let pending = buffer.functions.entry(function.clone()).or_default();
        let mut kept = Vec::with_capacity(events.len() + pending.events.len());
        for e in events {
            let cost = e.message.len() + EVENT_OVERHEAD;
            if bytes + cost > MAX_BUFFER_BYTES {
                pending.dropped += 1;
                pending.dropped_stream = Some(e.stream.clone());
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            bytes += cost;
            kept.push(e);
        }
        kept.append(&mut pending.events);
        pending.events = kept;
        buffer.bytes = bytes;
    }

    /// The AWS-managed Lambda key, created on first use as for environment variables.
    async fn lambda_key(&self) -> Result<KeyRecord, FunctionsError> {
        let mut cached = self.key.lock().await;
        if let Some((read, key)) = cached.as_ref() {
            if read.elapsed() < KEY_TTL {
                return Ok(key.clone());
            }
        }
        // Created here if no request did first: by nobody's request, so audited as Lambda's.
        let record = AuditRecord::service_action(
            OffsetDateTime::now_utc(),
            LAMBDA_PRINCIPAL,
            "kms",
            "CreateKey",
            &self.kms.alias_arn(MANAGED_KEY_ALIAS),
        );
        let (key, _) =
            request_audit::scope(record, self.kms.aws_managed_key(MANAGED_KEY_ALIAS)).await;
        let key = key.map_err(|e| {
            FunctionsError::Service(format!("No key for function logs: {}", e.code()))
        })?;
        *cached = Some((Instant::now(), key.clone()));
        Ok(key)
    }

    /// Stores everything buffered now. Events whose commit fails go back to the buffer.
    pub async fn flush(&self) -> Result<(), FunctionsError> {
        let _one = self.flushing.lock().await;
        let taken = self.take();
        if taken.is_empty() {
            return Ok(());
        }
        let key = match self.lambda_key().await {
            Ok(key) => key,
            Err(e) => {
                for (function, events) in taken {
                    self.put_back(&function, events);
                }
                return Err(e);
            }
        };
        // Sealed first, all of them: nothing is written unless every batch sealed.
        let mut batches: Vec<(Arc<str>, Vec<LogEvent>)> = Vec::new();
        for (function, events) in taken {
            batches.extend(chunks(events).into_iter().map(|c| (function.clone(), c)));
        }
        let mut writes = Vec::with_capacity(batches.len());
        for (function, events) in &batches {
            match self.sealed(&key, function, events) {
                Ok(write) => writes.push(write),
                Err(e) => {
                    for (function, events) in batches {
                        self.put_back(&function, events);
                    }
                    return Err(e);
                }
            }
        }
        let mut failure = None;
        let mut writes = writes.into_iter();
        let mut batches = batches.into_iter();
        loop {
            let group: Vec<Write> = writes.by_ref().take(BATCHES_PER_COMMIT).collect();
            let events: Vec<_> = batches.by_ref().take(group.len()).collect();
            if group.is_empty() {
                break;
            }
            if let Err(e) = self.store.commit(group).await {
                failure = Some(e);
                for (function, events) in events {
                    self.put_back(&function, events);
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The write of one batch of `function`, sealed.
    fn sealed(
        &self,
        key: &KeyRecord,
        function: &str,
        events: &[LogEvent],
    ) -> Result<Write, FunctionsError> {
        let last_us = events.last().map_or(0, |e| e.time_us);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let batch_key = batch::key(function, last_us, &id[..16]);
        let stored: StoredBatch = batch::seal(&self.kms, key, &batch_key, events)?;
        Ok(Write::Put {
            ns: ns::EVENTS.to_owned(),
            key: batch_key,
            value: serde_json::to_vec(&stored).expect("a batch serialises"),
            expect: Expect::Absent,
        })
    }
}

/// `events` cut into batches of at most [`MAX_BATCH_BYTES`] of messages each.
fn chunks(events: Vec<LogEvent>) -> Vec<Vec<LogEvent>> {
    let mut out: Vec<Vec<LogEvent>> = Vec::new();
    let mut size = 0;
    for e in events {
        let cost = e.message.len() + EVENT_OVERHEAD;
        match out.last_mut() {
            Some(current) if size + cost <= MAX_BATCH_BYTES => {
                size += cost;
                current.push(e);
            }
            _ => {
                size = cost;
                out.push(vec![e]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cut_on_character_boundaries() {
        assert_eq!(pieces("", 4).collect::<Vec<_>>(), vec![""]);
        assert_eq!(
            pieces("abcdefghij", 4).collect::<Vec<_>>(),
            vec!["abcd", "efgh", "ij"]
        );
        // "é" is two bytes: never split inside it.
        assert_eq!(pieces("aéé", 2).collect::<Vec<_>>(), vec!["a", "é", "é"]);
        assert_eq!(pieces("abcd", 4).collect::<Vec<_>>(), vec!["abcd"]);
    }

    fn event(message: &str) -> LogEvent {
        LogEvent {
            time_us: 1,
            stream: "s".into(),
            message: message.into(),
        }
    }

    #[test]
    fn chunks_stay_under_a_batch() {
        let big = "x".repeat(MAX_BATCH_BYTES / 2);
        let batches = chunks(vec![event(&big), event(&big), event("small"), event(&big)]);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 2, 1]);
        for b in &batches {
            let bytes: usize = b.iter().map(|e| e.message.len() + EVENT_OVERHEAD).sum();
            assert!(bytes <= MAX_BATCH_BYTES);
        }
        assert!(chunks(Vec::new()).is_empty());
    }
}
