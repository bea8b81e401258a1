//! A batch of one function's log events as stored in [`ns::EVENTS`](super::ns::EVENTS).
//!
//! The key is `<function>/<time of the batch's last event, µs, 20 digits>/<batch id>`:
//! function names hold no `/` (`[A-Za-z0-9_-]`), so a function's batches are one prefix and
//! list in the order of their last event, which is what reading since a time and the
//! retention sweep both need (a batch may hold an event at or after `t` exactly when its last
//! event is at or after `t`).
//!
//! The events are sealed by envelope encryption, as Secrets Manager seals values: a fresh
//! 256-bit data key per batch, sealed through KMS under `alias/aws/lambda` (the key the
//! function's environment variables are sealed under) with the encryption context
//! `{"RampartLogBatch": <batch key>}`, and the events sealed under it with AES-256-GCM, the
//! batch key in the associated data (a batch is far larger than what KMS encrypts directly).
//! A batch opens only under its own key, so batches cannot be moved between functions or
//! times. What stays in the clear is what the key says (function, time) and how many events
//! the batch holds.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_kms::custody::random_bytes;
use rampart_kms::{parse_blob, EncryptionContext, KeyRecord, KmsService};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::LogEvent;
use crate::error::FunctionsError;

/// Labels the events' associated data, so it can never be confused with another use of a key.
const AAD_LABEL: &str = "rampart:lambda:log-batch:v1";

/// Digits of the time in a batch key (µs since the epoch fit in 17 until the year 5138).
const TIME_DIGITS: usize = 20;

/// The key prefix of every batch of `function`.
pub fn prefix(function: &str) -> String {
    format!("{function}/")
}

/// The key of a batch of `function` whose last event is at `last_us`.
pub fn key(function: &str, last_us: i64, id: &str) -> String {
    format!(
        "{function}/{:0width$}/{id}",
        last_us.max(0),
        width = TIME_DIGITS
    )
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
    /// The ARN of the KMS key the data key is sealed under.
    pub key_arn: String,
    /// The KMS ciphertext blob of the data key, base64.
    pub data_key: String,
    /// The AES-GCM nonce, base64.
    pub nonce: String,
    /// The events sealed under the data key, followed by the tag, base64.
    pub ciphertext: String,
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
    let streams: Vec<std::sync::Arc<str>> = plain.streams.into_iter().map(|s| s.into()).collect();
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

fn aad(batch_key: &str) -> Vec<u8> {
    format!("{AAD_LABEL}\0{batch_key}").into_bytes()
}

fn cipher(data_key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .ok()
        .map(LessSafeKey::new)
}

/// Seals `events` as the batch `batch_key` under `key` (the AWS-managed Lambda key).
pub fn seal(
    kms: &KmsService,
    key: &KeyRecord,
    batch_key: &str,
    events: &[LogEvent],
) -> Result<StoredBatch, FunctionsError> {
    let failed =
        |why: &str| FunctionsError::Service(format!("A log batch cannot be sealed: {why}"));
    let mut data_key = Zeroizing::new([0u8; 32]);
    random_bytes(data_key.as_mut());
    let wrapped = kms
        .encrypt(key, data_key.as_ref(), &context(batch_key))
        .map_err(|e| failed(e.code()))?;
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce);
    let mut sealed = encode(events).to_vec();
    cipher(data_key.as_ref())
        .ok_or_else(|| failed("a data key is malformed"))?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(batch_key)),
            &mut sealed,
        )
        .map_err(|_| failed("AES-GCM failed"))?;
    Ok(StoredBatch {
        key_arn: key.arn.clone(),
        data_key: STANDARD.encode(wrapped),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(sealed),
        count: u32::try_from(events.len()).unwrap_or(u32::MAX),
    })
}

/// Opens the batch stored under `batch_key`.
pub async fn open(
    kms: &KmsService,
    batch_key: &str,
    stored: &StoredBatch,
) -> Result<Vec<LogEvent>, FunctionsError> {
    let failed = |why: &str| {
        FunctionsError::Service(format!("The log batch {batch_key} cannot be opened: {why}"))
    };
    let wrapped = STANDARD
        .decode(&stored.data_key)
        .map_err(|_| failed("not base64"))?;
    let blob = parse_blob(&wrapped).map_err(|_| failed("not a KMS ciphertext"))?;
    let key = kms.key(&blob.key_id).await.map_err(|e| failed(e.code()))?;
    let key = key.into_key().map_err(|e| failed(e.code()))?;
    let data_key = kms
        .decrypt(&key.record, &blob, &context(batch_key))
        .map_err(|e| failed(e.code()))?;
    let nonce: [u8; NONCE_LEN] = STANDARD
        .decode(&stored.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| failed("no nonce"))?;
    let mut bytes = Zeroizing::new(
        STANDARD
            .decode(&stored.ciphertext)
            .map_err(|_| failed("not base64"))?,
    );
    let len = cipher(&data_key)
        .ok_or_else(|| failed("a data key is malformed"))?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(batch_key)),
            bytes.as_mut_slice(),
        )
        .map_err(|_| failed("it does not open under its data key"))?
        .len();
    decode(&bytes[..len]).ok_or_else(|| failed("not a batch of events"))
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
            LogEvent {
                time_us: 1,
                stream: a.clone(),
                message: "one".into(),
            },
            LogEvent {
                time_us: 2,
                stream: b,
                message: "two\ttabbed".into(),
            },
            LogEvent {
                time_us: 3,
                stream: a,
                message: "three".into(),
            },
        ];
        let bytes = encode(&events);
        let plain: Plain = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(plain.streams.len(), 2);
        assert_eq!(decode(&bytes), Some(events));
        assert_eq!(decode(br#"{"streams":[],"events":[[1,0,"x"]]}"#), None);
    }
}
