//! The AWS rest-json protocol: the HTTP method and a path template pick the operation
//! (`POST /2015-03-31/functions/{FunctionName}/invocations`), members travel in the path, the
//! query string, headers and a JSON body.

use percent_encoding::percent_decode_str;

use super::EncodedResponse;
use crate::error::ServiceError;

/// A path template with `{Label}` segments and at most one trailing greedy `{Label+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRoute {
    pub method: &'static str,
    pub template: &'static str,
}

impl RestRoute {
    /// The labels bound by `path` (raw, percent-encoded) if it matches; None otherwise.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(&'static str, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let mut bound = Vec::new();
        let mut template = self.template.trim_start_matches('/').split('/');
        let mut segments = path.trim_start_matches('/').split('/');
        loop {
            match (template.next(), segments.next()) {
                (None, None) => return Some(bound),
                (Some(t), Some(s)) => {
                    if let Some(label) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                        if let Some(greedy) = label.strip_suffix('+') {
                            // A greedy label takes the rest of the path, slashes included.
                            let rest: Vec<&str> =
                                std::iter::once(s).chain(segments.by_ref()).collect();
                            bound.push((greedy, decode_segment(&rest.join("/"))?));
                            return template.next().is_none().then_some(bound);
                        }
                        if s.is_empty() {
                            return None;
                        }
                        bound.push((label, decode_segment(s)?));
                    } else if t != s {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

fn decode_segment(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Encodes a rest-json error: status, `x-amzn-ErrorType`, and a JSON body with the code
/// (`Type` names the fault side, as Lambda does).
pub fn encode_error(error: &ServiceError) -> EncodedResponse {
    let side = if error.status >= 500 {
        "Service"
    } else {
        "User"
    };
    let mut body =
        serde_json::json!({ "Type": side, "__type": error.code, "message": error.message });
    for (name, value) in &error.members {
        body[*name] = serde_json::Value::from(value.as_str());
    }
    EncodedResponse {
        status: error.status,
        content_type: "application/json",
        headers: vec![("x-amzn-errortype", error.code.to_string())],
        body: body.to_string().into_bytes(),
    }
}

/// Encodes a successful rest-json result with its status.
pub fn encode_result(status: u16, body: Vec<u8>) -> EncodedResponse {
    EncodedResponse {
        status,
        content_type: "application/json",
        headers: Vec::new(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVOKE: RestRoute = RestRoute {
        method: "POST",
        template: "/2015-03-31/functions/{FunctionName}/invocations",
    };
    const OBJECT: RestRoute = RestRoute {
        method: "GET",
        template: "/{Bucket}/{Key+}",
    };

    #[test]
    fn matches_labels() {
        let bound = INVOKE
            .matches("POST", "/2015-03-31/functions/my%20fn/invocations")
            .unwrap();
        assert_eq!(bound, vec![("FunctionName", "my fn".to_owned())]);
        assert!(INVOKE
            .matches("GET", "/2015-03-31/functions/f/invocations")
            .is_none());
        assert!(INVOKE
            .matches("POST", "/2015-03-31/functions//invocations")
            .is_none());
        assert!(INVOKE.matches("POST", "/2015-03-31/functions/f").is_none());
        assert!(INVOKE
            .matches("POST", "/2015-03-31/functions/f/invocations/x")
            .is_none());
        assert!(INVOKE
            .matches("POST", "/2015-03-31/functions/%FF/invocations")
            .is_none());
    }

    #[test]
    fn greedy_labels_take_the_rest() {
        let bound = OBJECT.matches("GET", "/b/a/b/c").unwrap();
        assert_eq!(
            bound,
            vec![("Bucket", "b".to_owned()), ("Key", "a/b/c".to_owned())]
        );
    }

    #[test]
    fn error_members_ride_beside_the_message() {
        let error = ServiceError::new("TooManyRequestsException", 429, "Rate Exceeded.")
            .with_member(
                "Reason",
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            );
        let encoded = encode_error(&error);
        let body: serde_json::Value = serde_json::from_slice(&encoded.body).unwrap();
        assert_eq!(encoded.status, 429);
        assert_eq!(body["__type"], "TooManyRequestsException");
        assert_eq!(body["message"], "Rate Exceeded.");
        assert_eq!(
            body["Reason"],
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        );
    }
}
