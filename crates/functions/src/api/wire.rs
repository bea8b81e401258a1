//! Lambda's rest-json shapes as botocore parses them (`lambda/2015-03-31/service-2.json`):
//! `FunctionConfiguration` and the member constraints the operations share.

use std::collections::BTreeMap;

use rampart_wire::protocol::json;
use rampart_wire::Output;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::FunctionsError;
use crate::function_ref::LATEST;
use crate::records::{FunctionRecord, FunctionState};
use crate::sealing::Variables;

/// Decodes a JSON body.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, FunctionsError> {
    json::decode(body).map_err(FunctionsError::from)
}

/// A JSON answer with `status`.
pub fn reply<T: Serialize>(status: u16, value: &T) -> Result<Output, FunctionsError> {
    let body = serde_json::to_vec(value)
        .map_err(|_| FunctionsError::Service("The answer could not be encoded.".into()))?;
    Ok(Output::Rest { status, body })
}

/// `LastModified` as Lambda writes it: `2024-05-01T12:34:56.789+0000`.
pub fn last_modified(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A string member within `min..=max` characters.
pub fn check_length(
    value: &str,
    field: &str,
    min: usize,
    max: usize,
) -> Result<(), FunctionsError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(FunctionsError::constraint(
            value,
            field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    Ok(())
}

/// An integer member within `min..=max`.
pub fn check_range(value: i64, field: &str, min: i64, max: i64) -> Result<u32, FunctionsError> {
    if value < min {
        return Err(FunctionsError::constraint(
            value,
            field,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(FunctionsError::constraint(
            value,
            field,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(value as u32)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EnvironmentShape<'a> {
    variables: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TracingConfig {
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EphemeralStorage {
    size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnapStart {
    apply_on: &'static str,
    optimization_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingConfig {
    log_format: &'static str,
    log_group: String,
}

/// `FunctionConfiguration`, as every operation that describes a function answers it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration<'a> {
    function_name: &'a str,
    function_arn: &'a str,
    runtime: &'a str,
    role: &'a str,
    handler: &'a str,
    code_size: u64,
    description: &'a str,
    timeout: u32,
    memory_size: u32,
    last_modified: String,
    code_sha256: &'a str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<EnvironmentShape<'a>>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    kms_key_arn: Option<&'a str>,
    tracing_config: TracingConfig,
    revision_id: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update_status_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update_status_reason_code: Option<&'a str>,
    package_type: &'static str,
    architectures: &'a [String],
    ephemeral_storage: EphemeralStorage,
    snap_start: SnapStart,
    logging_config: LoggingConfig,
}

/// The configuration of `f`, with its environment variables in the clear if given.
pub fn configuration<'a>(
    f: &'a FunctionRecord,
    variables: Option<&'a Variables>,
) -> FunctionConfiguration<'a> {
    FunctionConfiguration {
        function_name: &f.name,
        function_arn: &f.arn,
        runtime: &f.runtime,
        role: &f.role,
        handler: &f.handler,
        code_size: f.code.size,
        description: &f.description,
        timeout: f.timeout,
        memory_size: f.memory_size,
        last_modified: last_modified(f.last_modified),
        code_sha256: &f.code.sha256,
        version: LATEST,
        environment: variables.map(|v| EnvironmentShape {
            variables: v.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        }),
        kms_key_arn: None,
        tracing_config: TracingConfig {
            mode: "PassThrough",
        },
        revision_id: &f.revision_id,
        state: f.state.as_str(),
        state_reason: f.state_reason.as_deref(),
        state_reason_code: f.state_reason_code.as_deref(),
        last_update_status: match &f.last_update {
            Some(u) => Some(u.status.as_str()),
            // Never updated: the status follows the creation's.
            None => (f.state != FunctionState::Pending).then_some(match f.state {
                FunctionState::Failed => "Failed",
                _ => "Successful",
            }),
        },
        last_update_status_reason: f.last_update.as_ref().and_then(|u| u.reason.as_deref()),
        last_update_status_reason_code: f
            .last_update
            .as_ref()
            .and_then(|u| u.reason_code.as_deref()),
        package_type: "Zip",
        architectures: &f.architectures,
        ephemeral_storage: EphemeralStorage { size: 512 },
        snap_start: SnapStart {
            apply_on: "None",
            optimization_status: "Off",
        },
        logging_config: LoggingConfig {
            log_format: "Text",
            log_group: format!("/aws/lambda/{}", f.name),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_is_lambdas_format() {
        let t = time::macros::datetime!(2024-05-01 12:34:56.789 UTC);
        assert_eq!(last_modified(t), "2024-05-01T12:34:56.789+0000");
    }
}
