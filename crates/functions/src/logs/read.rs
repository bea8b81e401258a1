//! Reading a function's log back (`rampart logs FUNCTION [--since] [--follow]`).
//!
//! A [`LogCursor`] reads the batches whose last event is at or after a time, then, polled
//! again, the batches written since. Batches are keyed by the time of their last event, and
//! nodes sharing a store (or a buffer that waited for a slow store) may write a batch after
//! one holding later events; so each poll lists again from [`LOOKBACK`] before the newest
//! batch seen and skips the batches it already read, rather than only after the last key.

use std::collections::BTreeMap;

use rampart_kms::KmsService;
use rampart_store::Store;

use super::batch::{self, StoredBatch};
use super::{ns, LogEvent};
use crate::error::FunctionsError;

/// How far back each poll looks for batches written late.
pub const LOOKBACK_US: i64 = 30_000_000;
/// Batches listed per store call.
const PAGE: usize = 100;

/// What one poll found.
#[derive(Debug, Default)]
pub struct Poll {
    /// New events at or after the cursor's start, oldest first.
    pub events: Vec<LogEvent>,
    /// Batches that could not be opened (their key and why): reported, not skipped silently.
    pub unreadable: Vec<(String, FunctionsError)>,
}

/// A position in one function's log.
pub struct LogCursor {
    function: String,
    since_us: i64,
    /// Batches read, by key, with the time of their last event; those older than
    /// [`LOOKBACK_US`] before the newest are forgotten.
    seen: BTreeMap<String, i64>,
    newest_us: Option<i64>,
}

impl LogCursor {
    /// The log of `function` from `since_us` (µs since the epoch) on.
    pub fn new(function: &str, since_us: i64) -> Self {
        LogCursor {
            function: function.to_owned(),
            since_us,
            seen: BTreeMap::new(),
            newest_us: None,
        }
    }

    /// The events of every batch not read before.
    pub async fn poll(
        &mut self,
        store: &dyn Store,
        kms: &KmsService,
    ) -> Result<Poll, FunctionsError> {
        let from = match self.newest_us {
            Some(newest) => self.since_us.max(newest - LOOKBACK_US),
            None => self.since_us,
        };
        let prefix = batch::prefix(&self.function);
        let mut after = batch::before(&self.function, from);
        let mut poll = Poll::default();
        loop {
            let page = store.list(ns::EVENTS, &prefix, Some(&after), PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            for (key, item) in page {
                let Some((_, last_us)) = batch::parse_key(&key) else {
                    continue;
                };
                if self.seen.contains_key(&key) {
                    continue;
                }
                self.seen.insert(key.clone(), last_us);
                self.newest_us = Some(self.newest_us.map_or(last_us, |n| n.max(last_us)));
                let opened = match serde_json::from_slice::<StoredBatch>(&item.value) {
                    Ok(stored) => batch::open(kms, &key, &stored).await,
                    Err(e) => Err(FunctionsError::Service(format!("not a log batch: {e}"))),
                };
                match opened {
                    Ok(events) => poll
                        .events
                        .extend(events.into_iter().filter(|e| e.time_us >= self.since_us)),
                    Err(e) => poll.unreadable.push((key, e)),
                }
            }
        }
        if let Some(newest) = self.newest_us {
            self.seen
                .retain(|_, last_us| *last_us >= newest - LOOKBACK_US);
        }
        // Stable: events of one environment keep their order when times are equal.
        poll.events.sort_by_key(|e| e.time_us);
        Ok(poll)
    }
}
