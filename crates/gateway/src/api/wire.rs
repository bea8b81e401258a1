//! The shapes botocore parses (`apigatewayv2/2018-11-29/service-2.json`): camelCase JSON
//! members, ISO 8601 dates, and the member constraints the operations share.

use std::collections::BTreeMap;

use rampart_wire::protocol::json;
use rampart_wire::Output;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::GatewayError;

/// Decodes a JSON body (an empty one as `{}`); a body that does not decode is a bad request.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    json::decode(body).map_err(|_| {
        GatewayError::BadRequest("Invalid request body: the members are not of their types.".into())
    })
}

/// A JSON answer with `status`.
pub fn reply<T: Serialize>(status: u16, value: &T) -> Result<Output, GatewayError> {
    let body = serde_json::to_vec(value)
        .map_err(|_| GatewayError::Internal("The answer could not be encoded.".into()))?;
    Ok(Output::Rest { status, body })
}

/// The empty answer of a delete.
pub fn no_content() -> Output {
    Output::Rest {
        status: 204,
        body: Vec::new(),
    }
}

/// A date as botocore's `timestampFormat: iso8601` reads it.
pub fn date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A string member within `min..=max` characters.
pub fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), GatewayError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(GatewayError::BadRequest(format!(
            "Invalid input: {field} must be between {min} and {max} characters long."
        )));
    }
    Ok(())
}

/// Tags as API Gateway allows them: at most 50, keys 1–128 characters not starting with
/// `aws:`, values at most 256.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), GatewayError> {
    if tags.len() > 50 {
        return Err(GatewayError::BadRequest(
            "Invalid input: a resource may have at most 50 tags.".into(),
        ));
    }
    for (k, v) in tags {
        check_length(k, "tag key", 1, 128)?;
        check_length(v, "tag value", 0, 256)?;
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(GatewayError::BadRequest(
                "Invalid input: tag keys may not start with 'aws:'.".into(),
            ));
        }
    }
    Ok(())
}

/// A page of `items` after `next_token`, at most `max_results` (a string member, as the model
/// has it): the page and the token of the next one.
pub fn page<T>(
    items: Vec<(String, T)>,
    max_results: Option<&str>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), GatewayError> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let max = match max_results {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                GatewayError::BadRequest(
                    "Invalid input: maxResults must be between 1 and 500.".into(),
                )
            })?,
        None => 500,
    };
    let after = match next_token.filter(|t| !t.is_empty()) {
        Some(t) => Some(
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| GatewayError::BadRequest("Invalid pagination token.".into()))?,
        ),
        None => None,
    };
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let next = (rest.len() > max).then(|| URL_SAFE_NO_PAD.encode(&rest[max - 1].0));
    rest.truncate(max);
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (first, next) = page(items.clone(), Some("2"), None).unwrap();
        assert_eq!(first, vec![0, 1]);
        let (second, next) = page(items.clone(), Some("2"), next.as_deref()).unwrap();
        assert_eq!(second, vec![2, 3]);
        let (third, next) = page(items.clone(), Some("2"), next.as_deref()).unwrap();
        assert_eq!((third, next), (vec![4], None));
        assert!(page(items.clone(), Some("0"), None).is_err());
        assert!(page(items, None, Some("%%")).is_err());
    }
}
