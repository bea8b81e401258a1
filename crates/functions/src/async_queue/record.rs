//! The invocation record a destination function receives, in AWS's shape
//! (`version`, `timestamp`, `requestContext`, `requestPayload`, `responseContext`,
//! `responsePayload`). Pure.

use serde_json::{json, Value};
use time::OffsetDateTime;

/// How the function answered its last attempt.
#[derive(Debug, Clone)]
pub struct Response {
    /// 200 when the function ran (even if it failed), else the status Lambda's error has.
    pub status_code: u16,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// Its answer or its error document.
    pub payload: Vec<u8>,
}

/// JSON as JSON; anything else (a function may answer any bytes) as a string.
fn as_json(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// `2019-11-14T18:16:05.568Z`, as AWS stamps records.
fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The record of event `request_id` of the function `function_arn` (qualified) that ended
/// with `condition` (`Success`, `RetriesExhausted`, `EventAgeExceeded`) after about
/// `invokes` attempts; `response` is the last attempt's, if one answered.
pub fn invocation_record(
    request_id: &str,
    function_arn: &str,
    condition: &str,
    invokes: u32,
    request_payload: &[u8],
    response: Option<&Response>,
    now: OffsetDateTime,
) -> Vec<u8> {
    let mut record = json!({
        "version": "1.0",
        "timestamp": timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "requestPayload": as_json(request_payload),
    });
    if let Some(r) = response {
        let mut context = json!({
            "statusCode": r.status_code,
            "executedVersion": crate::function_ref::LATEST,
        });
        if let Some(error) = &r.function_error {
            context["functionError"] = Value::String(error.clone());
        }
        record["responseContext"] = context;
        record["responsePayload"] = as_json(&r.payload);
    }
    serde_json::to_vec(&record).expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_has_awss_shape() {
        let response = Response {
            status_code: 200,
            function_error: Some("Unhandled".into()),
            payload: br#"{"errorMessage":"boom","errorType":"Exception"}"#.to_vec(),
        };
        let now = time::macros::datetime!(2019-11-14 18:16:05.568 UTC);
        let bytes = invocation_record(
            "e4b46cbf",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            "RetriesExhausted",
            3,
            br#"{"order": 1}"#,
            Some(&response),
            now,
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["timestamp"], "2019-11-14T18:16:05.568Z");
        assert_eq!(v["requestContext"]["requestId"], "e4b46cbf");
        assert_eq!(v["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(v["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(v["requestPayload"], json!({"order": 1}));
        assert_eq!(v["responseContext"]["statusCode"], 200);
        assert_eq!(v["responseContext"]["executedVersion"], "$LATEST");
        assert_eq!(v["responseContext"]["functionError"], "Unhandled");
        assert_eq!(v["responsePayload"]["errorMessage"], "boom");
    }

    #[test]
    fn an_event_that_never_ran_has_no_response() {
        let bytes = invocation_record(
            "id",
            "arn",
            "EventAgeExceeded",
            0,
            b"[1,2]",
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["requestPayload"], json!([1, 2]));
        assert!(v.get("responseContext").is_none() && v.get("responsePayload").is_none());
    }

    #[test]
    fn a_success_record_keeps_a_non_json_answer_as_text() {
        let response = Response {
            status_code: 200,
            function_error: None,
            payload: b"plain".to_vec(),
        };
        let bytes = invocation_record(
            "id",
            "arn",
            "Success",
            1,
            b"{}",
            Some(&response),
            OffsetDateTime::UNIX_EPOCH,
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["responsePayload"], "plain");
        assert!(v["responseContext"].get("functionError").is_none());
    }
}
