//! A function's log, kept as CloudWatch Logs keeps a Lambda function's log group
//! (`/aws/lambda/<name>`): every line its execution environments write to stdout or stderr
//! and Lambda's own `START`/`END`/`REPORT` lines ([`framing`]), each an event with a time and
//! the environment's log stream (`2024/05/01/[$LATEST]<id>`).
//!
//! - [`shipper`]: the environments' lines go into one bounded buffer per node and are written
//!   by a task of their own, many lines per stored batch and one store commit per flush —
//!   never on an invocation's path; a full buffer drops lines (counted, and said so in the log)
//!   rather than make a function wait.
//! - [`batch`]: a batch as stored in `lambda/log-events`, keyed `<function>/<time of its last
//!   event, µs, 20 digits>/<id>` so a function's batches list in time order; the events are
//!   sealed through KMS under `alias/aws/lambda` (a function may print a secret), bound to
//!   the batch's key.
//! - [`read`]: the events of a function since a time (`rampart logs`).
//! - [`retention`]: the sweep that deletes batches past the retention, and a deleted
//!   function's batches.

pub mod batch;
pub mod framing;
pub mod read;
pub mod retention;
pub mod shipper;

use std::sync::Arc;

use time::OffsetDateTime;

pub use shipper::{LogShipper, LogStream};

/// The store namespaces of function logs.
pub mod ns {
    /// Sealed batches of log events, by `<function>/<last event µs>/<batch id>`.
    pub const EVENTS: &str = "lambda/log-events";
    /// Functions deleted whose log events are still to be deleted, by name: the time of the
    /// deletion (events up to it belong to the deleted function).
    pub const DELETIONS: &str = "lambda/log-deletions";
    /// A function's own log retention (`rampart logs FUNCTION --retention-days N`), by name.
    pub const RETENTION: &str = "lambda/log-retention";
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    /// The log stream (one per execution environment).
    pub stream: Arc<str>,
    pub message: String,
}

impl LogEvent {
    pub fn time(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.time_us) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// The log stream name Lambda gives an execution environment started at `now`:
/// `YYYY/MM/DD/[$LATEST]<32 hex digits>`.
pub fn stream_name(now: OffsetDateTime) -> String {
    format!(
        "{:04}/{:02}/{:02}/[{}]{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        crate::function_ref::LATEST,
        uuid::Uuid::new_v4().simple()
    )
}
