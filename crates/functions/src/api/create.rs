//! CreateFunction: a function from a zip, with an execution role Lambda may assume and the
//! caller may pass (`iam:PassRole`), environment variables sealed through KMS, and tags.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::wire::{self, check_length, check_range, configuration};
use super::{Call, FunctionsOperation};
use crate::code::DeploymentPackage;
use crate::environment::isolation::{Isolation, ISOLATION_VARIABLE};
use crate::error::FunctionsError;
use crate::function_ref::FunctionRef;
use crate::records::{self, CodeMeta, FunctionRecord, FunctionState};
use crate::roles::{ExecutionRole, LAMBDA_PRINCIPAL};
use crate::runtimes::Runtime;
use crate::sealing::{self, Variables};
use crate::FunctionsService;

/// The largest environment (keys and values together), as AWS counts it.
const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// Tags one function may carry.
const MAX_TAGS: usize = 50;
/// Lambda's own ceilings, below the service model's.
const MAX_TIMEOUT: i64 = 900;
const MAX_MEMORY: i64 = 10240;

/// Variables Lambda sets itself, which a function may not set (AWS refuses them too).
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The role pattern of the service model.
pub(super) fn check_role_arn(role: &str) -> Result<(), FunctionsError> {
    let bad = || {
        FunctionsError::constraint(
            role,
            "role",
            "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
        )
    };
    let rest = role.strip_prefix("arn:").ok_or_else(bad)?;
    let (partition, rest) = rest.split_once(':').ok_or_else(bad)?;
    let rest = rest.strip_prefix("iam::").ok_or_else(bad)?;
    let (account, path) = rest.split_once(':').ok_or_else(bad)?;
    let path = path.strip_prefix("role").ok_or_else(bad)?;
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c);
    if !partition.starts_with("aws")
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || path.trim_start_matches('/').is_empty()
        || !path.chars().all(name_ok)
    {
        return Err(bad());
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<Zeroizing<String>>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    image_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EnvironmentInput {
    variables: Option<BTreeMap<String, Zeroizing<String>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateFunctionInput {
    function_name: String,
    runtime: Option<String>,
    role: String,
    handler: Option<String>,
    code: CodeInput,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    publish: Option<bool>,
    package_type: Option<String>,
    environment: Option<EnvironmentInput>,
    tags: Option<BTreeMap<String, String>>,
    architectures: Option<Vec<String>>,
    layers: Option<Vec<String>>,
    #[serde(rename = "KMSKeyArn")]
    kms_key_arn: Option<String>,
}

pub(crate) struct CreateFunction {
    named: FunctionRef,
    runtime: Runtime,
    handler: String,
    role: String,
    package: DeploymentPackage,
    description: String,
    timeout: u32,
    memory_size: u32,
    variables: Option<Variables>,
    tags: BTreeMap<String, String>,
    architectures: Vec<String>,
    /// Read by `checks`: the role the request names, and any function of that name.
    execution_role: Option<ExecutionRole>,
    existing: bool,
}

pub(super) fn unsupported(what: &str) -> FunctionsError {
    FunctionsError::InvalidParameterValue(format!("{what} is not supported by this Rampart host."))
}

pub(super) fn variables(
    input: Option<EnvironmentInput>,
) -> Result<Option<Variables>, FunctionsError> {
    let Some(vars) = input.and_then(|e| e.variables) else {
        return Ok(None);
    };
    let mut size = 0;
    let mut reserved = Vec::new();
    for (key, value) in &vars {
        let mut chars = key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(FunctionsError::constraint(
                key,
                "environment.variables",
                "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
            ));
        }
        if RESERVED_VARIABLES.contains(&key.as_str()) {
            reserved.push(key.as_str());
        }
        if key == ISOLATION_VARIABLE {
            Isolation::parse(value)?;
        }
        size += key.len() + value.len();
    }
    if !reserved.is_empty() {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    if size > MAX_ENVIRONMENT_BYTES {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {size}"
        )));
    }
    Ok((!vars.is_empty()).then(|| Variables(vars)))
}

/// A `Handler`: 1 to 128 characters, no whitespace.
pub(super) fn check_handler(handler: &str) -> Result<(), FunctionsError> {
    check_length(handler, "handler", 0, 128)?;
    if handler.is_empty() || handler.chars().any(char::is_whitespace) {
        return Err(FunctionsError::constraint(
            handler,
            "handler",
            "Member must satisfy regular expression pattern: [^\\s]+",
        ));
    }
    Ok(())
}

/// A `Timeout` within the model's range and Lambda's 900 s.
pub(super) fn check_timeout(value: i64) -> Result<u32, FunctionsError> {
    let timeout = check_range(value, "timeout", 1, 5400)?;
    if i64::from(timeout) > MAX_TIMEOUT {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "'Timeout' value failed to satisfy constraint: Member must have value less than or equal to {MAX_TIMEOUT}"
        )));
    }
    Ok(timeout)
}

/// A `MemorySize` within the model's range and Lambda's 10240 MB.
pub(super) fn check_memory(value: i64) -> Result<u32, FunctionsError> {
    let memory_size = check_range(value, "memorySize", 128, 32768)?;
    if i64::from(memory_size) > MAX_MEMORY {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to {MAX_MEMORY}"
        )));
    }
    Ok(memory_size)
}

/// `Architectures`: exactly one of `x86_64`, `arm64`.
pub(super) fn check_architectures(
    architectures: Vec<String>,
) -> Result<Vec<String>, FunctionsError> {
    match architectures.as_slice() {
        [a] if a == "x86_64" || a == "arm64" => Ok(architectures),
        _ => Err(FunctionsError::constraint(
            format!("{architectures:?}"),
            "architectures",
            "Member must have length less than or equal to 1, and each member must satisfy enum value set: [x86_64, arm64]",
        )),
    }
}

/// The zip a request uploads (base64 in the JSON body), read and checked once.
pub(super) fn read_zip(
    zip: Option<Zeroizing<String>>,
    member: &str,
) -> Result<DeploymentPackage, FunctionsError> {
    let zip = zip.ok_or_else(|| {
        FunctionsError::InvalidParameterValue("Please provide a source for function code.".into())
    })?;
    let zip = STANDARD.decode(zip.as_bytes()).map_err(|_| {
        FunctionsError::from(rampart_wire::CommonError::Serialization(format!(
            "{member} is not valid base64."
        )))
    })?;
    DeploymentPackage::read(zip)
}

fn tags(
    input: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, FunctionsError> {
    let tags = input.unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(FunctionsError::InvalidParameterValue(format!(
            "A function can have at most {MAX_TAGS} tags."
        )));
    }
    for (k, v) in &tags {
        check_length(k, "tags.key", 1, 128)?;
        check_length(v, "tags.value", 0, 256)?;
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(FunctionsError::InvalidParameterValue(
                "Tag keys must not begin with aws:.".into(),
            ));
        }
    }
    Ok(tags)
}

#[async_trait::async_trait]
impl FunctionsOperation for CreateFunction {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let body: CreateFunctionInput = wire::decode(&input.body)?;
        let named = FunctionRef::parse(
            &body.function_name,
            None,
            "functionName",
            &svc.account_id,
            &svc.region,
            140,
        )?;
        if named.qualifier.is_some() || !named.local {
            return Err(FunctionsError::InvalidParameterValue(
                "The function name must be a name, or the ARN of a function of this account and region without a qualifier.".into(),
            ));
        }
        check_length(&body.role, "role", 0, 10000)?;
        check_role_arn(&body.role)?;
        if body.package_type.as_deref().is_some_and(|p| p != "Zip") {
            return Err(unsupported("PackageType Image"));
        }
        let (Some(runtime), Some(handler)) = (body.runtime, body.handler) else {
            return Err(FunctionsError::InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        };
        let runtime = Runtime::parse(&runtime)?;
        check_handler(&handler)?;
        if body.publish == Some(true) {
            return Err(unsupported("Publishing a version (Publish)"));
        }
        if body.layers.is_some_and(|l| !l.is_empty()) {
            return Err(unsupported("Layers"));
        }
        if body.kms_key_arn.is_some_and(|k| !k.is_empty()) {
            return Err(unsupported(
                "A customer managed key for environment variables (KMSKeyArn)",
            ));
        }
        if body.code.s3_bucket.is_some() || body.code.s3_key.is_some() {
            return Err(unsupported("Code from S3"));
        }
        if body.code.image_uri.is_some() {
            return Err(unsupported("A container image (ImageUri)"));
        }
        let package = read_zip(body.code.zip_file, "Code.ZipFile")?;
        let description = body.description.unwrap_or_default();
        check_length(&description, "description", 0, 256)?;
        let timeout = check_timeout(body.timeout.unwrap_or(3))?;
        let memory_size = check_memory(body.memory_size.unwrap_or(128))?;
        let architectures =
            check_architectures(body.architectures.unwrap_or_else(|| vec!["x86_64".into()]))?;
        Ok(CreateFunction {
            named,
            runtime,
            handler,
            role: body.role,
            package,
            description,
            timeout,
            memory_size,
            variables: variables(body.environment)?,
            tags: tags(body.tags)?,
            architectures,
            execution_role: None,
            existing: false,
        })
    }

    /// `lambda:CreateFunction` on the function's ARN (with the request's tags) and
    /// `iam:PassRole` on the execution role, for `lambda.amazonaws.com`.
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        self.existing = records::load_function(svc.store.as_ref(), &self.named.name)
            .await?
            .is_some();
        self.execution_role = svc.roles.role(&self.role).await.map_err(|e| {
            FunctionsError::Service(format!("The execution role could not be read: {e}"))
        })?;
        let mut create = Check::on(call.action(), &self.named.arn);
        for (k, v) in &self.tags {
            create.push_key(format!("aws:RequestTag/{k}"), v);
            create.push_key("aws:TagKeys", k);
        }
        let pass_role = Check::on("iam:PassRole", &self.role)
            .with_key("iam:PassedToService", LAMBDA_PRINCIPAL)
            .with_key("iam:AssociatedResourceARN", &self.named.arn);
        Ok(vec![create, pass_role])
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        if self.existing {
            return Err(FunctionsError::ResourceConflict(format!(
                "Function already exist: {}",
                self.named.name
            )));
        }
        match &self.execution_role {
            Some(role) if role.trusts_lambda => {}
            _ => {
                return Err(FunctionsError::InvalidParameterValue(
                    "The role defined for the function cannot be assumed by Lambda.".into(),
                ))
            }
        }
        let environment = match &self.variables {
            Some(vars) => Some(sealing::seal(&svc.kms, &self.named.name, vars).await?),
            None => None,
        };
        let revision_id = uuid::Uuid::new_v4().to_string();
        let code_key = format!("{}/{revision_id}", self.named.name);
        let record = FunctionRecord {
            name: self.named.name.clone(),
            arn: self.named.arn.clone(),
            runtime: self.runtime.name().to_owned(),
            handler: self.handler,
            role: self.role,
            description: self.description,
            timeout: self.timeout,
            memory_size: self.memory_size,
            environment,
            architectures: self.architectures,
            tags: self.tags,
            code: CodeMeta {
                sha256: self.package.sha256.clone(),
                size: self.package.zip.len() as u64,
                key: code_key.clone(),
            },
            revision_id,
            last_modified: time::OffsetDateTime::now_utc(),
            state: FunctionState::Pending,
            state_reason: Some("The function is being created.".into()),
            state_reason_code: Some("Creating".into()),
            last_update: None,
            policy: None,
            reserved_concurrency: None,
            event_invoke_config: None,
        };
        let writes = vec![
            records::put_function(&record, Expect::Absent),
            records::put_code(&code_key, self.package.zip),
        ];
        match request_audit::commit(svc.store.as_ref(), writes).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(FunctionsError::ResourceConflict(format!(
                    "Function already exist: {}",
                    record.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
        // The code is unpacked on this node and the function becomes Active in the
        // background, as on AWS, where a new function is Pending for a moment.
        svc.invoker
            .spawn_activation(record.name.clone(), record.code.key.clone());
        wire::reply(201, &configuration(&record, self.variables.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(check_role_arn("arn:aws:iam::123456789012:role/fn").is_ok());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/path/fn").is_ok());
        for bad in [
            "",
            "arn:aws:iam::123456789012:user/fn",
            "arn:aws:iam::12345:role/fn",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_and_malformed_variables_are_refused() {
        let env = |k: &str| {
            Some(EnvironmentInput {
                variables: Some(BTreeMap::from([(k.to_owned(), Zeroizing::new("v".into()))])),
            })
        };
        assert!(variables(env("GREETING")).unwrap().is_some());
        assert!(matches!(
            variables(env("AWS_REGION")),
            Err(FunctionsError::InvalidParameterValue(_))
        ));
        assert!(variables(env("1BAD")).is_err());
        assert!(variables(env("A")).is_err());
    }
}
