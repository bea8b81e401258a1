//! Cognito's JSON shapes as botocore parses them (`cognito-idp/2016-04-18/service-2.json`):
//! timestamps are epoch seconds; and the member constraints every family shares.

use rampart_wire::protocol::json;
use serde::Serialize;
use time::OffsetDateTime;

use super::Reply;
use crate::error::UserPoolsError;

/// Decodes an operation's input.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, UserPoolsError> {
    json::decode(body).map_err(UserPoolsError::from)
}

/// Encodes an operation's answer.
pub fn reply<T: Serialize>(value: &T) -> Reply {
    serde_json::to_vec(value)
        .map_err(|_| UserPoolsError::Internal("The answer could not be encoded.".into()))
}

/// A `Timestamp` as the JSON protocols carry it: epoch seconds, with milliseconds.
pub fn epoch(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// A string member within `min..=max` characters.
pub fn check_length(
    value: &str,
    field: &str,
    min: usize,
    max: usize,
) -> Result<(), UserPoolsError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(UserPoolsError::constraint(
            value,
            field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    Ok(())
}

/// A pagination token (`NextToken`, `PaginationToken`): 1 to 131072 non-space characters; an
/// empty one is taken as none, as botocore's paginators may send it. Tokens are the last key
/// of the previous page, listed under the authorized pool's prefix only.
pub fn pagination_token(
    token: Option<String>,
    field: &str,
) -> Result<Option<String>, UserPoolsError> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => {
            if t.chars().count() > 131072 || t.chars().any(char::is_whitespace) {
                return Err(UserPoolsError::constraint(
                    &t,
                    field,
                    "Member must satisfy regular expression pattern: [\\S]+",
                ));
            }
            Ok(Some(t))
        }
        None => Ok(None),
    }
}
