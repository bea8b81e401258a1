//! Functions themselves: GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction
//! (CreateFunction is in `create`), and how the operations on one function name it and check it.

use std::collections::BTreeMap;

use base64::Engine;
use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output, ResourcePolicy, ResourcePolicyKind};
use serde::Serialize;
use time::OffsetDateTime;

use super::wire::{self, check_range, configuration};
use super::{path_param, Call, FunctionsOperation};
use crate::error::FunctionsError;
use crate::function_ref::{FunctionRef, LATEST};
use crate::records::{self, FunctionRecord, Stored};
use crate::sealing::{self, Variables};
use crate::FunctionsService;

/// How often a change re-reads and retries when another writer changed the function first.
const COMMIT_ATTEMPTS: usize = 4;

/// `aws:ResourceTag/*` of a stored function.
fn push_resource_tags(check: &mut Check, function: Option<&Stored<FunctionRecord>>) {
    if let Some(f) = function {
        for (k, v) in &f.record.tags {
            check.push_key(format!("aws:ResourceTag/{k}"), v);
        }
    }
}

/// The function a request named, as authorization read it: found only if it is in this
/// account and region, and the version named is the one there is.
pub(crate) fn found<'a>(
    named: &FunctionRef,
    function: Option<&'a Stored<FunctionRecord>>,
) -> Result<&'a Stored<FunctionRecord>, FunctionsError> {
    match function {
        Some(f) if named.local && named.is_latest() => Ok(f),
        _ => Err(FunctionsError::function_not_found(&named.qualified_arn())),
    }
}

/// The function named by the path and `Qualifier`, as every read and delete decodes it.
pub(crate) fn named_function(
    input: &RestInput,
    svc: &FunctionsService,
) -> Result<FunctionRef, FunctionsError> {
    let qualifier = input.query.get("Qualifier");
    if let Some(q) = qualifier {
        crate::function_ref::check_qualifier(q)?;
    }
    FunctionRef::parse(
        path_param(input, "FunctionName")?,
        qualifier,
        "functionName",
        &svc.account_id,
        &svc.region,
        256,
    )
}

/// The function named by the path alone, for operations that take no `Qualifier` (a
/// `Qualifier` query member is ignored, as every member an operation does not take).
pub(crate) fn path_function(
    input: &RestInput,
    svc: &FunctionsService,
) -> Result<FunctionRef, FunctionsError> {
    FunctionRef::parse(
        path_param(input, "FunctionName")?,
        None,
        "functionName",
        &svc.account_id,
        &svc.region,
        140,
    )
}

/// `lambda:<Action>` on the function as named (qualified if it was), with its tags.
pub(crate) async fn check_named(
    svc: &FunctionsService,
    call: &Call<'_>,
    named: &FunctionRef,
) -> Result<(Option<Stored<FunctionRecord>>, Vec<Check>), FunctionsError> {
    let function = match named.local {
        true => records::load_function(svc.store.as_ref(), &named.name).await?,
        false => None,
    };
    Ok((
        function.clone(),
        vec![declare(call, named, function.as_ref())],
    ))
}

/// `lambda:<Action>` on the function as named, with its tags and its resource policy: the
/// policy rides on every check on the function, as AWS evaluates a function policy beside
/// the caller's own (an Allow in it suffices within the account, an explicit Deny refuses
/// anyone).
pub(crate) fn declare(
    call: &Call<'_>,
    named: &FunctionRef,
    function: Option<&Stored<FunctionRecord>>,
) -> Check {
    let mut check = Check::on(call.action(), named.qualified_arn());
    push_resource_tags(&mut check, function);
    match function.and_then(|f| f.record.policy.as_ref()) {
        Some(policy) => check.with_resource_policy(ResourcePolicy {
            kind: ResourcePolicyKind::Resource,
            document: Some(policy.document()),
        }),
        None => check,
    }
}

/// Opens the environment variables of `f` for an answer.
async fn open_variables(
    svc: &FunctionsService,
    f: &FunctionRecord,
) -> Result<Option<Variables>, FunctionsError> {
    match &f.environment {
        Some(sealed) => Ok(Some(sealing::open(&svc.kms, &f.name, sealed).await?)),
        None => Ok(None),
    }
}

pub(crate) struct GetFunctionConfiguration {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for GetFunctionConfiguration {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(GetFunctionConfiguration {
            named: named_function(input, svc)?,
            function: None,
        })
    }

    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let f = &found(&self.named, self.function.as_ref())?.record;
        let vars = open_variables(svc, f).await?;
        wire::reply(200, &configuration(f, vars.as_ref()))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CodeLocation {
    repository_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetFunctionReply<'a> {
    configuration: wire::FunctionConfiguration<'a>,
    code: CodeLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<ReservedConcurrency>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReservedConcurrency {
    reserved_concurrent_executions: u32,
}

pub(crate) struct GetFunction {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for GetFunction {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(GetFunction {
            named: named_function(input, svc)?,
            function: None,
        })
    }

    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let f = &found(&self.named, self.function.as_ref())?.record;
        let vars = open_variables(svc, f).await?;
        wire::reply(
            200,
            &GetFunctionReply {
                configuration: configuration(f, vars.as_ref()),
                // The package stays in Rampart's store: there is no S3 to point at.
                code: CodeLocation {
                    repository_type: "S3",
                },
                tags: (!f.tags.is_empty()).then_some(&f.tags),
                concurrency: f.reserved_concurrency.map(|r| ReservedConcurrency {
                    reserved_concurrent_executions: r,
                }),
            },
        )
    }
}

pub(crate) struct ListFunctions {
    marker: Option<String>,
    max_items: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListFunctionsReply<'a> {
    functions: Vec<wire::FunctionConfiguration<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

#[async_trait::async_trait]
impl FunctionsOperation for ListFunctions {
    fn decode(input: &RestInput, _: &FunctionsService) -> Result<Self, FunctionsError> {
        let max_items = match input.query.get("MaxItems") {
            Some(text) => {
                let n: i64 = text.parse().map_err(|_| {
                    FunctionsError::constraint(text, "maxItems", "Member must be an integer")
                })?;
                check_range(n, "maxItems", 1, 10000)?.min(50) as usize
            }
            None => 50,
        };
        if let Some(v) = input.query.get("FunctionVersion") {
            if v != "ALL" {
                return Err(FunctionsError::constraint(
                    v,
                    "functionVersion",
                    "Member must satisfy enum value set: [ALL]",
                ));
            }
        }
        let marker = match input.query.get("Marker").filter(|m| !m.is_empty()) {
            Some(m) => Some(decode_marker(m)?),
            None => None,
        };
        Ok(ListFunctions { marker, max_items })
    }

    async fn checks(
        &mut self,
        _: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let mut page = records::list_functions(
            svc.store.as_ref(),
            self.marker.as_deref(),
            self.max_items + 1,
        )
        .await?;
        let next_marker = match page.len() > self.max_items {
            true => {
                page.truncate(self.max_items);
                page.last().map(|f| encode_marker(&f.name))
            }
            false => None,
        };
        let mut vars = Vec::with_capacity(page.len());
        for f in &page {
            vars.push(open_variables(svc, f).await?);
        }
        let functions = page
            .iter()
            .zip(vars.iter())
            .map(|(f, v)| configuration(f, v.as_ref()))
            .collect();
        wire::reply(
            200,
            &ListFunctionsReply {
                functions,
                next_marker,
            },
        )
    }
}

/// A page marker: the last name answered, base64 so clients treat it as opaque.
fn encode_marker(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_marker(marker: &str) -> Result<String, FunctionsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| FunctionsError::InvalidParameterValue("Invalid pagination marker.".into()))
}

pub(crate) struct DeleteFunction {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for DeleteFunction {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = named_function(input, svc)?;
        if named.qualifier.as_deref() == Some(LATEST) {
            return Err(FunctionsError::InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            ));
        }
        Ok(DeleteFunction {
            named,
            function: None,
        })
    }

    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, svc: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let authorized = found(&self.named, self.function.as_ref())?;
        let mut current = authorized.clone();
        let mut deleted = false;
        for _ in 0..COMMIT_ATTEMPTS {
            let f = &current.record;
            let writes = vec![
                records::delete_function(&f.name, Expect::Version(current.version)),
                records::delete_code(&f.code.key),
                // Its log goes with it (up to now: a namesake created later keeps its own).
                crate::logs::retention::forget_write(&f.name, OffsetDateTime::now_utc()),
            ];
            match request_audit::commit(svc.store.as_ref(), writes).await {
                Ok(_) => {
                    deleted = true;
                    break;
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            // Changed meanwhile (a new function becoming Active): delete what is there now,
            // unless what authorization read of it (its tags) changed.
            current = records::load_function(svc.store.as_ref(), &f.name)
                .await?
                .ok_or_else(|| FunctionsError::function_not_found(&self.named.qualified_arn()))?;
            if current.record.tags != authorized.record.tags {
                return Err(FunctionsError::ResourceConflict(
                    "The function was changed while this request was authorized. Retry the request.".into(),
                ));
            }
        }
        if !deleted {
            return Err(FunctionsError::ResourceConflict(
                "The function is being changed by other requests. Retry the request.".into(),
            ));
        }
        let f = &current.record;
        svc.invoker.deleted(&f.name);
        // The log is deleted now rather than at the next sweep (which finishes it otherwise).
        let store = svc.store.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::logs::retention::forget_deleted(store.as_ref()).await {
                tracing::warn!(error = %e, "a deleted function's log is left to the next sweep");
            }
        });
        // Its reservation no longer holds back the account's unreserved concurrency.
        svc.invoker.concurrency().set_reserved(&f.name, None);
        Ok(Output::Rest {
            status: 204,
            body: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        assert_eq!(decode_marker(&encode_marker("f-1")).unwrap(), "f-1");
        assert!(decode_marker("%%%").is_err());
    }
}
