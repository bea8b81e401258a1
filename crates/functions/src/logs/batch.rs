//! A batch of one function's log events as stored in [`ns::EVENTS`](super::ns::EVENTS).
//!
//! The key is `<function>/<time of the batch's last event, µs, 20 digits>/<batch id>`:
//! function names hold no `/` (`[A-Za-z0-9_-]`), so a function's batches are one prefix and
//! list in the order of their last event, which is what reading since a time and the
//! retention sweep both need (a batch may hold an event at or after `t` exactly when its last
//! event is at or after `t`).
//!
//! The events are sealed through KMS under `alias/aws/lambda`, as the function's environment
//! variables are, with the encryption context `{"RampartLogBatch": <key>}`: a batch opens only
//! under its own key, so batches cannot be moved between functions or times. What stays in the
//! clear is what the key says (function, time) and how many events it holds.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_kms::{parse_blob, EncryptionContext, KeyRecord, KmsService};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::LogEvent;
use crate::error::FunctionsError;

/// Digits of the time in a batch key (µs since the epoch fit in 17 until the year 5138).
const TIME_DIGITS: usize = 20;

/// The key prefix of every batch of `function`.
pub fn prefix(function: &str) -> String {
    format!("{function}/")
}

/// The key of a batch of `function` whose last event is at `last_us`.
pub fn key(function: &str, last_us: i64, id: &str) -> String {
    format!("{function}/{:0width$}/{id}", last_us.max(0), width = TIME_DIGITS)
}

/// A key that sorts after every batch of `function` whose last event is before `time_us` and
/// before every other of its batches: `start_after` for "events at or after `time_us`".
pub fn before(function: &str, time_us: i64) -> String {
    // `<time>` followed by nothing sorts before `<time>/<id>`, so batches ending at
    // `time_us` exactly are listed.
    format!("{function}/{:0width$}", time_us.max(0), width = TIME_DIGITS)
}

/// A key past every batch of `function` (to skip to the next function when listing).
pub fn after_all(function: &str) -> String {
    // Every batch key continues with a digit after the `/`; DEL sorts after the digits.
    format!("{function}/\u{7f}")
}

/// The function and last-event time a batch key names.
pub fn parse_key(key: &str) -> Option<(&str, i64)> {
    let (function, rest) = key.split_once('/')?;
    let (time, _id) = rest.split_once('/')?;
    if time.len() != TIME_DIGITS || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((function, time.parse().ok()?))
}

/// A batch as stored: nothing in it but the count opens without KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBatch {
    /// The ARN of the key the events are sealed under.
    pub key_arn: String,
    /// The KMS ciphertext blob, base64.
    pub blob: String,
    /// How many events it holds.
    pub count: u32,
}

/// The events in the clear: each event's stream is an index into `streams` (a batch is
/// mostly the lines of a few environments).
#[derive(Serialize, Deserialize)]
struct Plain {
    streams: Vec<String>,
    events: Vec<(i64, u32, String)>,
}

fn context(batch_key: &str) -> EncryptionContext {
    EncryptionContext::from([("RampartLogBatch".to_owned(), batch_key.to_owned())])
}

fn encode(events: &[LogEvent]) -> Zeroizing<Vec<u8>> {
    let mut streams: Vec<String> = Vec::new();
    let mut plain = Plain {
        streams: Vec::new(),
        events: Vec::with_capacity(events.len()),
    };
    for e in events {
        let index = match streams.iter().position(|s| **s == *e.stream) {
            Some(i) => i,
            None => {
                streams.push(e.stream.to_string());
                streams.len() - 1
            }
        };
        plain
            .events
            .push((e.time_us, index as u32, e.message.clone()));
    }
    plain.streams = streams;
    Zeroizing::new(serde_json::to_vec(&plain).expect("strings and numbers serialise"))
}

fn decode(bytes: &[u8]) -> Option<Vec<LogEvent>> {
    let plain: Plain = serde_json::from_slice(bytes).ok()?;
    let streams: Vec<std::sync::Arc<str>> =
        plain.streams.into_iter().map(|s| s.into()).collect();
    plain
        .events
        .into_iter()
        .map(|(time_us, stream, message)| {
            Some(LogEvent {
                time_us,
                stream: streams.get(stream as usize)?.clone(),
                message,
            })
        })
        .collect()
}

/// Seals `events` as the batch `batch_key` under `key` (the AWS-managed Lambda key).
pub fn seal(
    kms: &KmsService,
    key: &KeyRecord,
    batch_key: &str,
    events: &[LogEvent],
) -> Result<StoredBatch, FunctionsError> {
    let plain = encode(events);
    let blob = kms
        .encrypt(key, &plain, &context(batch_key))
        .map_err(|e| FunctionsError::Service(format!("A log batch cannot be sealed: {}", e.code())))?;
    Ok(StoredBatch {
        key_arn: key.arn.clone(),
        blob: STANDARD.encode(blob),
        count: u32::try_from(events.len()).unwrap_or(u32::MAX),
    })
}

/// Opens the batch stored under `batch_key`.
pub async fn open(
    kms: &KmsService,
    batch_key: &str,
    stored: &StoredBatch,
) -> Result<Vec<LogEvent>, FunctionsError> {
    let failed = |why: &str| FunctionsError::Service(format!("The log batch {batch_key} cannot be opened: {why}"));
    let bytes = STANDARD.decode(&stored.blob).map_err(|_| failed("not base64"))?;
    let blob = parse_blob(&bytes).map_err(|_| failed("not a KMS ciphertext"))?;
    let key = kms.key(&blob.key_id).await.map_err(|e| failed(e.code()))?;
    let key = key.into_key().map_err(|e| failed(e.code()))?;
    let clear = kms
        .decrypt(&key.record, &blob, &context(batch_key))
        .map_err(|e| failed(e.code()))?;
    decode(&clear).ok_or_else(|| failed("not a batch of events"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_within_a_function() {
        let early = key("f", 1_700_000_000_000_000, "a");
        let late = key("f", 1_700_000_000_000_001, "0");
        assert!(early < late);
        assert_eq!(parse_key(&early), Some(("f", 1_700_000_000_000_000)));
        assert!(early.starts_with(&prefix("f")));
        // "events at or after t" lists the batch ending at t, not the one before it.
        let bound = before("f", 1_700_000_000_000_001);
        assert!(early < bound && bound < late);
        // Past every batch of "f", before those of a function sorting after it.
        assert!(late < after_all("f") && after_all("f") < key("f0", 0, "x"));
        assert_eq!(parse_key("f/123/x"), None);
        assert_eq!(parse_key("nonsense"), None);
    }

    #[test]
    fn plain_round_trip_shares_streams() {
        let a: std::sync::Arc<str> = "2024/05/01/[$LATEST]aa".into();
        let b: std::sync::Arc<str> = "2024/05/01/[$LATEST]bb".into();
        let events = vec![
            LogEvent { time_us: 1, stream: a.clone(), message: "one".into() },
            LogEvent { time_us: 2, stream: b, message: "two\ttabbed".into() },
            LogEvent { time_us: 3, stream: a, message: "three".into() },
        ];
        let bytes = encode(&events);
        let plain: Plain = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(plain.streams.len(), 2);
        assert_eq!(decode(&bytes), Some(events));
        assert_eq!(decode(br#"{"streams":[],"events":[[1,0,"x"]]}"#), None);
    }
}
