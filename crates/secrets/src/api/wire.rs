//! Secrets Manager's JSON shapes as botocore parses them
//! (`secretsmanager/2017-10-17/service-2.json`): blobs are base64 strings, timestamps epoch
//! seconds; and the member constraints every family shares.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_wire::protocol::json;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::Reply;
use crate::error::SecretsError;
use crate::records::Tag;
use crate::sealing::SecretValue;

/// The largest `SecretString` or `SecretBinary`: 64 KiB.
pub const MAX_VALUE_BYTES: usize = 65536;

/// Decodes an operation's input.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SecretsError> {
    json::decode(body).map_err(SecretsError::from)
}

/// Encodes an operation's answer.
pub fn reply<T: Serialize>(value: &T) -> Reply {
    serde_json::to_vec(value)
        .map_err(|_| SecretsError::Internal("The answer could not be encoded.".into()))
}

/// A `Timestamp` as the JSON protocols carry it: epoch seconds, with milliseconds.
pub fn epoch(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// A blob as the JSON protocols carry it: standard base64.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Deserializes an optional blob member from its base64 text, wiped from memory when dropped.
pub fn optional_blob<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
    let text = Zeroizing::new(String::deserialize(d)?);
    STANDARD
        .decode(text.as_bytes())
        .map(|b| Some(Zeroizing::new(b)))
        .map_err(|_| serde::de::Error::custom("a blob member is not valid base64"))
}

/// A string member within `min..=max` characters.
pub fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), SecretsError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(SecretsError::constraint(
            value,
            field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    Ok(())
}

/// `NextToken`: 1 to 4096 characters (an empty one is taken as none, as botocore's
/// paginators may send it).
pub fn next_token(token: Option<String>) -> Result<Option<String>, SecretsError> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => {
            check_length(&t, "nextToken", 1, 4096)?;
            Ok(Some(t))
        }
        None => Ok(None),
    }
}

/// `Description`: at most 2048 characters.
pub fn description(value: Option<String>) -> Result<Option<String>, SecretsError> {
    if let Some(d) = &value {
        check_length(d, "description", 0, 2048)?;
    }
    Ok(value)
}

/// `ClientRequestToken`: 32 to 64 characters; it becomes the version id. Absent: a UUID.
pub fn version_id(token: Option<String>) -> Result<String, SecretsError> {
    match token {
        Some(t) => {
            check_length(&t, "clientRequestToken", 32, 64)?;
            Ok(t)
        }
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// `SecretString` or `SecretBinary` (at most one, each 1 to 64 KiB).
pub fn secret_value(
    string: Option<Zeroizing<String>>,
    binary: Option<Zeroizing<Vec<u8>>>,
) -> Result<Option<SecretValue>, SecretsError> {
    // The model's length constraints: AWS's front end refuses these with ValidationException
    // and never echoes the value.
    let too_long = |field: &str| {
        SecretsError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {MAX_VALUE_BYTES}"
        ))
    };
    match (string, binary) {
        (Some(_), Some(_)) => Err(SecretsError::InvalidParameter(
            "You can't specify both a binary secret value and a string secret value in the same secret.".into(),
        )),
        (Some(s), None) => {
            if s.len() > MAX_VALUE_BYTES {
                return Err(too_long("secretString"));
            }
            if s.is_empty() {
                return Err(SecretsError::Validation(
                    "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
                ));
            }
            Ok(Some(SecretValue {
                bytes: Zeroizing::new(s.as_bytes().to_vec()),
                binary: false,
            }))
        }
        (None, Some(b)) => {
            if b.len() > MAX_VALUE_BYTES {
                return Err(too_long("secretBinary"));
            }
            if b.is_empty() {
                return Err(SecretsError::Validation(
                    "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
                ));
            }
            Ok(Some(SecretValue {
                bytes: b,
                binary: true,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// A tag as the API carries it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    pub key: String,
    pub value: String,
}

/// Checks tags (keys 1–128, values at most 256 characters, no `aws:` keys, at most 50, no
/// duplicates) and converts them.
pub fn tags(input: Option<Vec<TagShape>>) -> Result<Vec<Tag>, SecretsError> {
    let input = input.unwrap_or_default();
    if input.len() > 50 {
        return Err(SecretsError::InvalidParameter(
            "A secret can have at most 50 tags.".into(),
        ));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(input.len());
    for tag in input {
        check_length(&tag.key, "tags.member.key", 1, 128)?;
        check_length(&tag.value, "tags.member.value", 0, 256)?;
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SecretsError::InvalidParameter(
                "Tag keys must not begin with aws:.".into(),
            ));
        }
        if out.iter().any(|t| t.key == tag.key) {
            return Err(SecretsError::InvalidParameter(format!(
                "Duplicate tag key {}.",
                tag.key
            )));
        }
        out.push(Tag {
            key: tag.key,
            value: tag.value,
        });
    }
    Ok(out)
}

/// Stored tags as the API carries them.
pub fn tag_shapes(tags: &[Tag]) -> Vec<TagShape> {
    tags.iter()
        .map(|t| TagShape {
            key: t.key.clone(),
            value: t.value.clone(),
        })
        .collect()
}

/// Puts `new` into `tags`, replacing the values of keys already there.
pub fn merge_tags(tags: &mut Vec<Tag>, new: &[Tag]) {
    for tag in new {
        match tags.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value.clone(),
            None => tags.push(tag.clone()),
        }
    }
}

/// The `ARN`/`Name` pair most answers carry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretRef<'a> {
    #[serde(rename = "ARN")]
    pub arn: &'a str,
    pub name: &'a str,
}

/// The input of the operations that take only `SecretId`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    pub secret_id: String,
}
