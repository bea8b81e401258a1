//! UpdateFunctionCode and UpdateFunctionConfiguration: a new revision of the function, stored
//! with `LastUpdateStatus: InProgress` and finished in the background once its code is ready
//! on this node (as AWS reports an update). Warm environments of the old revision are retired:
//! none ever serves the new one.

use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::create::{
    check_architectures, check_handler, check_memory, check_role_arn, check_timeout, read_zip,
    unsupported, variables, EnvironmentInput,
};
use super::wire::{self, check_length, configuration};
use super::{Call, FunctionsOperation};
use crate::code::DeploymentPackage;
use crate::error::FunctionsError;
use crate::function_ref::FunctionRef;
use crate::records::{self, CodeMeta, FunctionRecord, LastUpdate, Stored};
use crate::roles::{ExecutionRole, LAMBDA_PRINCIPAL};
use crate::runtimes::Runtime;
use crate::sealing::{self, Variables};
use crate::FunctionsService;

/// Stores `next` over `authorized` (exactly the version authorization read), with `writes`
/// besides, retires warm environments and starts finishing the update.
async fn commit_update(
    svc: &FunctionsService,
    authorized: &Stored<FunctionRecord>,
    next: &FunctionRecord,
    mut writes: Vec<rampart_store::Write>,
) -> Result<(), FunctionsError> {
    writes.insert(
        0,
        records::put_function(next, Expect::Version(authorized.version)),
    );
    match request_audit::commit(svc.store.as_ref(), writes).await {
        Ok(_) => {}
        // Changed since it was authorized: another update (or its completion) came first.
        Err(StoreError::Conflict { .. }) => {
            return Err(FunctionsError::ResourceConflict(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {}",
                next.arn
            )))
        }
        Err(e) => return Err(e.into()),
    }
    svc.invoker.retire(&next.name);
    svc.invoker
        .spawn_activation(next.name.clone(), next.code.key.clone());
    Ok(())
}

/// `next` as a new revision of `f`, its update in progress.
fn new_revision(f: &FunctionRecord) -> FunctionRecord {
    let mut next = f.clone();
    next.revision_id = uuid::Uuid::new_v4().to_string();
    next.last_modified = time::OffsetDateTime::now_utc();
    next.last_update = Some(LastUpdate::in_progress());
    next
}

async fn open_variables(
    svc: &FunctionsService,
    f: &FunctionRecord,
) -> Result<Option<Variables>, FunctionsError> {
    match &f.environment {
        Some(sealed) => Ok(Some(sealing::open(&svc.kms, &f.name, sealed).await?)),
        None => Ok(None),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateFunctionCodeInput {
    zip_file: Option<Zeroizing<String>>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    image_uri: Option<String>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
}

pub(crate) struct UpdateFunctionCode {
    named: FunctionRef,
    package: DeploymentPackage,
    dry_run: bool,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for UpdateFunctionCode {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = super::functions_path(input, svc)?;
        let body: UpdateFunctionCodeInput = wire::decode(&input.body)?;
        if body.s3_bucket.is_some() || body.s3_key.is_some() {
            return Err(unsupported("Code from S3"));
        }
        if body.image_uri.is_some() {
            return Err(unsupported("A container image (ImageUri)"));
        }
        if body.publish == Some(true) {
            return Err(unsupported("Publishing a version (Publish)"));
        }
        let architectures = body.architectures.map(check_architectures).transpose()?;
        Ok(UpdateFunctionCode {
            named,
            package: read_zip(body.zip_file, "ZipFile")?,
            dry_run: body.dry_run.unwrap_or(false),
            revision_id: body.revision_id,
            architectures,
            function: None,
        })
    }

    /// `lambda:UpdateFunctionCode` on the function, with its tags and resource policy.
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let authorized = super::functions_found(&self.named, self.function.as_ref())?;
        let f = &authorized.record;
        f.check_revision(self.revision_id.as_deref())?;
        f.check_updatable()?;
        let mut next = new_revision(f);
        next.code = CodeMeta {
            sha256: self.package.sha256.clone(),
            size: self.package.zip.len() as u64,
            key: format!("{}/{}", f.name, next.revision_id),
        };
        if let Some(architectures) = self.architectures {
            next.architectures = architectures;
        }
        let vars = open_variables(svc, f).await?;
        if self.dry_run {
            // Validated and authorized; the function stays as it is.
            let mut would_be = next;
            would_be.revision_id = f.revision_id.clone();
            would_be.last_modified = f.last_modified;
            would_be.last_update = f.last_update.clone();
            return wire::reply(200, &configuration(&would_be, vars.as_ref()));
        }
        let writes = vec![
            records::put_code(&next.code.key, self.package.zip),
            records::delete_code(&f.code.key),
        ];
        commit_update(svc, authorized, &next, writes).await?;
        wire::reply(200, &configuration(&next, vars.as_ref()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateFunctionConfigurationInput {
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    runtime: Option<String>,
    revision_id: Option<String>,
    layers: Option<Vec<String>>,
    #[serde(rename = "KMSKeyArn")]
    kms_key_arn: Option<String>,
}

pub(crate) struct UpdateFunctionConfiguration {
    named: FunctionRef,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<u32>,
    memory_size: Option<u32>,
    /// `Some(None)`: the request clears the variables.
    variables: Option<Option<Variables>>,
    runtime: Option<Runtime>,
    revision_id: Option<String>,
    /// Read by `checks`: the function, and the role the request names.
    function: Option<Stored<FunctionRecord>>,
    execution_role: Option<ExecutionRole>,
}

#[async_trait::async_trait]
impl FunctionsOperation for UpdateFunctionConfiguration {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = super::functions_path(input, svc)?;
        let body: UpdateFunctionConfigurationInput = wire::decode(&input.body)?;
        if let Some(role) = &body.role {
            check_length(role, "role", 0, 10000)?;
            check_role_arn(role)?;
        }
        if let Some(handler) = &body.handler {
            check_handler(handler)?;
        }
        if let Some(description) = &body.description {
            check_length(description, "description", 0, 256)?;
        }
        if body.layers.is_some_and(|l| !l.is_empty()) {
            return Err(unsupported("Layers"));
        }
        if body.kms_key_arn.is_some_and(|k| !k.is_empty()) {
            return Err(unsupported(
                "A customer managed key for environment variables (KMSKeyArn)",
            ));
        }
        let variables = match body.environment {
            // `Environment: {}` or `{"Variables": {}}` clears them, as on AWS.
            Some(env) => Some(variables(Some(env))?),
            None => None,
        };
        Ok(UpdateFunctionConfiguration {
            named,
            role: body.role,
            handler: body.handler,
            description: body.description,
            timeout: body.timeout.map(check_timeout).transpose()?,
            memory_size: body.memory_size.map(check_memory).transpose()?,
            variables,
            runtime: body.runtime.as_deref().map(Runtime::parse).transpose()?,
            revision_id: body.revision_id,
            function: None,
            execution_role: None,
        })
    }

    /// `lambda:UpdateFunctionConfiguration` on the function (tags, resource policy) and, when
    /// the request gives a role, `iam:PassRole` on it for `lambda.amazonaws.com`, as
    /// CreateFunction checks.
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, mut checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        if let Some(role) = &self.role {
            self.execution_role = svc.roles.role(role).await.map_err(|e| {
                FunctionsError::Service(format!("The execution role could not be read: {e}"))
            })?;
            checks.push(
                Check::on("iam:PassRole", role)
                    .with_key("iam:PassedToService", LAMBDA_PRINCIPAL)
                    .with_key("iam:AssociatedResourceARN", &self.named.arn),
            );
        }
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let authorized = super::functions_found(&self.named, self.function.as_ref())?;
        let f = &authorized.record;
        f.check_revision(self.revision_id.as_deref())?;
        f.check_updatable()?;
        let mut next = new_revision(f);
        if let Some(role) = self.role {
            match &self.execution_role {
                Some(r) if r.trusts_lambda => next.role = role,
                _ => {
                    return Err(FunctionsError::InvalidParameterValue(
                        "The role defined for the function cannot be assumed by Lambda.".into(),
                    ))
                }
            }
        }
        if let Some(handler) = self.handler {
            next.handler = handler;
        }
        if let Some(description) = self.description {
            next.description = description;
        }
        if let Some(timeout) = self.timeout {
            next.timeout = timeout;
        }
        if let Some(memory_size) = self.memory_size {
            next.memory_size = memory_size;
        }
        if let Some(runtime) = &self.runtime {
            next.runtime = runtime.name().to_owned();
        }
        let vars = match self.variables {
            Some(new) => {
                // Sealed anew under aws/lambda: nothing of the old blob is kept.
                next.environment = match &new {
                    Some(vars) => Some(sealing::seal(&svc.kms, &f.name, vars).await?),
                    None => None,
                };
                new
            }
            None => open_variables(svc, f).await?,
        };
        commit_update(svc, authorized, &next, Vec::new()).await?;
        wire::reply(200, &configuration(&next, vars.as_ref()))
    }
}
