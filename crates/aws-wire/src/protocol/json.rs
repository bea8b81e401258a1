//! The AWS JSON protocols (1.0 and 1.1): `X-Amz-Target: Prefix.Operation`, JSON in and out,
//! errors as `{"__type": code, "message": …}`.

use serde::de::DeserializeOwned;

use super::EncodedResponse;
use crate::error::{CommonError, ServiceError};

/// The content type for a JSON protocol version.
pub fn content_type(json_version: &str) -> &'static str {
    if json_version == "1.0" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    }
}

/// Splits `X-Amz-Target` into prefix and operation (`TrentService.Encrypt`).
pub fn split_target(target: &str) -> Option<(&str, &str)> {
    let (prefix, operation) = target.rsplit_once('.')?;
    if prefix.is_empty() || operation.is_empty() {
        return None;
    }
    Some((prefix, operation))
}

/// Decodes an operation's input. An empty body is an empty object, as SDKs send for operations
/// without members. A missing required member becomes `ValidationException` naming it; any
/// other mismatch `SerializationException`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CommonError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        if let Some(rest) = text.strip_prefix("missing field `") {
            if let Some(end) = rest.find('`') {
                return CommonError::MissingParameter(rest[..end].to_owned());
            }
        }
        match e.classify() {
            serde_json::error::Category::Data => CommonError::Serialization(format!(
                "The request body does not match the operation's input shape: {text}"
            )),
            _ => CommonError::Serialization(format!("The request body is not valid JSON: {text}")),
        }
    })
}

/// Encodes a JSON error. `x-amzn-ErrorType` carries the code too, as AWS does.
pub fn encode_error(json_version: &str, error: &ServiceError) -> EncodedResponse {
    let body = serde_json::json!({ "__type": error.code, "message": error.message });
    EncodedResponse {
        status: error.status,
        content_type: content_type(json_version),
        headers: vec![("x-amzn-errortype", error.code.to_string())],
        body: body.to_string().into_bytes(),
    }
}

/// Encodes a successful JSON result.
pub fn encode_result(json_version: &str, body: Vec<u8>) -> EncodedResponse {
    EncodedResponse {
        status: 200,
        content_type: content_type(json_version),
        headers: Vec::new(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Input {
        key_id: String,
        limit: Option<u32>,
    }

    #[test]
    fn decode_errors_are_aws_shaped() {
        assert!(decode::<Input>(br#"{"KeyId":"k"}"#).is_ok());
        assert_eq!(
            decode::<Input>(b"").unwrap_err(),
            CommonError::MissingParameter("KeyId".into())
        );
        assert!(matches!(
            decode::<Input>(b"{"),
            Err(CommonError::Serialization(_))
        ));
        assert!(matches!(
            decode::<Input>(br#"{"KeyId":5}"#),
            Err(CommonError::Serialization(_))
        ));
        assert!(matches!(
            decode::<Input>(b"[]"),
            Err(CommonError::Serialization(_))
        ));
    }

    #[test]
    fn targets() {
        assert_eq!(
            split_target("TrentService.Encrypt"),
            Some(("TrentService", "Encrypt"))
        );
        assert_eq!(split_target("a.b.C"), Some(("a.b", "C")));
        assert_eq!(split_target("Encrypt"), None);
        assert_eq!(split_target(".Encrypt"), None);
        assert_eq!(split_target("X."), None);
    }
}
