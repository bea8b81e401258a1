//! KMS's JSON shapes as botocore parses them (`kms/2014-11-01/service-2.json`): blobs are
//! base64 strings, timestamps epoch seconds, and the shared structures (`KeyMetadata`, tags)
//! and member constraints every family uses.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use super::Reply;
use crate::error::KmsError;
use crate::keys::{KeyRecord, KeyState, Tag, ALGORITHM, KEY_ORIGIN, KEY_SPEC, KEY_USAGE};
use rampart_wire::protocol::json;

/// Decodes an operation's input: `SerializationException` for a body of the wrong shape,
/// `ValidationException` for a missing required member.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, KmsError> {
    json::decode(body).map_err(KmsError::from)
}

/// Encodes an operation's answer.
pub fn reply<T: Serialize>(value: &T) -> Reply {
    serde_json::to_vec(value)
        .map_err(|_| KmsError::Internal("The answer could not be encoded.".into()))
}

/// A `Timestamp` as the JSON protocols carry it: epoch seconds, with milliseconds.
pub fn epoch(t: OffsetDateTime) -> f64 {
    // Milliseconds fit an f64 exactly for any date KMS will see.
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// A blob as the JSON protocols carry it: standard base64.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Deserializes a required blob member from its base64 text.
pub fn blob<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| serde::de::Error::custom("a blob member is not valid base64"))
}

/// Deserializes an optional blob member.
pub fn optional_blob<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    blob(d).map(Some)
}

/// A key identifier member (`KeyId`, `TargetKeyId`, …): 1 to 2048 characters.
pub fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), KmsError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(KmsError::constraint(
            value,
            field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    Ok(())
}

/// An integer member within `min..=max`.
pub fn check_range(value: i64, field: &str, min: i64, max: i64) -> Result<(), KmsError> {
    if value < min {
        return Err(KmsError::constraint(
            value,
            field,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(KmsError::constraint(
            value,
            field,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `Limit`/`Marker` paging input shared by the list operations.
pub fn page(limit: Option<i64>, marker: Option<&str>) -> Result<usize, KmsError> {
    let limit = limit.unwrap_or(100);
    check_range(limit, "limit", 1, 1000)?;
    if let Some(marker) = marker {
        check_length(marker, "marker", 1, 1024)?;
    }
    Ok(usize::try_from(limit).unwrap_or(100))
}

/// `EncryptionAlgorithm`: a symmetric key has only `SYMMETRIC_DEFAULT`.
pub fn check_algorithm(algorithm: Option<&str>) -> Result<(), KmsError> {
    match algorithm {
        None | Some(ALGORITHM) => Ok(()),
        Some("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE") => {
            Err(KmsError::InvalidKeyUsage(format!(
                "The encryption algorithm {} is not supported by a symmetric encryption KMS key.",
                algorithm.unwrap_or_default()
            )))
        }
        Some(other) => Err(KmsError::constraint(
            other,
            "encryptionAlgorithm",
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

/// A tag as the API carries it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    pub tag_key: String,
    pub tag_value: String,
}

/// Checks tags against KMS's rules (keys 1–128, values 0–256 characters, no duplicates, no
/// `aws:` keys, at most 50) and converts them.
pub fn tags(input: Option<Vec<TagInput>>) -> Result<Vec<Tag>, KmsError> {
    let input = input.unwrap_or_default();
    if input.len() > 50 {
        return Err(KmsError::Tag("A key can have at most 50 tags.".into()));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(input.len());
    for tag in input {
        let key_len = tag.tag_key.chars().count();
        if key_len == 0 || key_len > 128 || tag.tag_value.chars().count() > 256 {
            return Err(KmsError::Tag(format!(
                "The tag {} is invalid: keys are 1 to 128 characters, values at most 256.",
                tag.tag_key
            )));
        }
        if tag.tag_key.to_ascii_lowercase().starts_with("aws:") {
            return Err(KmsError::Tag("Tag keys must not begin with aws:.".into()));
        }
        if tags.iter().any(|t| t.key == tag.tag_key) {
            return Err(KmsError::Tag(format!("Duplicate tag key {}.", tag.tag_key)));
        }
        tags.push(Tag {
            key: tag.tag_key,
            value: tag.tag_value,
        });
    }
    Ok(tags)
}

/// `KeyMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    key_id: &'a str,
    arn: &'a str,
    creation_date: f64,
    enabled: bool,
    description: &'a str,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<u32>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    encryption_algorithms: [&'static str; 1],
    multi_region: bool,
}

impl<'a> KeyMetadata<'a> {
    pub fn of(key: &'a KeyRecord) -> Self {
        let (deletion_date, window) = match key.state {
            KeyState::PendingDeletion {
                deletion_date,
                window_days,
            } => (Some(epoch(deletion_date)), Some(window_days)),
            _ => (None, None),
        };
        KeyMetadata {
            aws_account_id: &key.account_id,
            key_id: &key.key_id,
            arn: &key.arn,
            creation_date: epoch(key.created_at),
            enabled: key.state == KeyState::Enabled,
            description: &key.description,
            key_usage: KEY_USAGE,
            key_state: key.state.as_aws_str(),
            deletion_date,
            pending_deletion_window_in_days: window,
            origin: KEY_ORIGIN,
            key_manager: key.manager.as_aws_str(),
            customer_master_key_spec: KEY_SPEC,
            key_spec: KEY_SPEC,
            encryption_algorithms: [ALGORITHM],
            multi_region: false,
        }
    }
}

/// The answer of the operations that answer only `KeyMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataReply<'a> {
    pub key_metadata: KeyMetadata<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_keeps_milliseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(epoch(t), 1_700_000_000.123);
    }

    #[test]
    fn tags_are_checked() {
        let tag = |k: &str, v: &str| TagInput {
            tag_key: k.into(),
            tag_value: v.into(),
        };
        assert_eq!(tags(Some(vec![tag("team", "a")])).unwrap().len(), 1);
        assert!(tags(Some(vec![tag("", "a")])).is_err());
        assert!(tags(Some(vec![tag("aws:x", "a")])).is_err());
        assert!(tags(Some(vec![tag("a", "1"), tag("a", "2")])).is_err());
    }
}
