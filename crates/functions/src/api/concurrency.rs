//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency. The reservation is part of the function's record; the invoker
//! enforces it ([`crate::concurrency`]). A reservation may not leave the account less
//! unreserved concurrency than [`minimum_unreserved`] of its limit (AWS: 100 of 1000).

use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};

use super::wire::{self, check_range};
use super::{Call, FunctionsOperation};
use crate::concurrency::minimum_unreserved;
use crate::error::FunctionsError;
use crate::function_ref::FunctionRef;
use crate::records::{self, FunctionRecord, Stored};
use crate::FunctionsService;

/// How often a change re-reads and retries when another writer changed the function first.
const COMMIT_ATTEMPTS: usize = 4;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConcurrencyReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    reserved_concurrent_executions: Option<u32>,
}

/// Sets the function's reservation to `reserved` over what authorization read; retried if
/// the record changed meanwhile in what authorization did not read (its state, as a new
/// function becomes Active), refused if its tags or policy changed.
async fn commit_reservation(
    svc: &FunctionsService,
    named: &FunctionRef,
    authorized: &Stored<FunctionRecord>,
    reserved: Option<u32>,
) -> Result<(), FunctionsError> {
    let mut current = authorized.clone();
    for _ in 0..COMMIT_ATTEMPTS {
        let mut next = current.record.clone();
        next.reserved_concurrency = reserved;
        let write = records::put_function(&next, Expect::Version(current.version));
        match request_audit::commit(svc.store.as_ref(), vec![write]).await {
            Ok(_) => {
                svc.invoker.concurrency().set_reserved(&next.name, reserved);
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        current = records::load_function(svc.store.as_ref(), &named.name)
            .await?
            .ok_or_else(|| FunctionsError::function_not_found(&named.qualified_arn()))?;
        if current.record.tags != authorized.record.tags
            || current.record.policy != authorized.record.policy
        {
            break;
        }
    }
    Err(FunctionsError::ResourceConflict(
        "The function was changed while this request was authorized. Retry the request.".into(),
    ))
}

/// The reservations of every function but `except`.
async fn reserved_elsewhere(svc: &FunctionsService, except: &str) -> Result<u64, FunctionsError> {
    let mut total = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = records::list_functions(svc.store.as_ref(), after.as_deref(), 200).await?;
        let Some(last) = page.last() else {
            return Ok(total);
        };
        after = Some(last.name.clone());
        total += page
            .iter()
            .filter(|f| f.name != except)
            .filter_map(|f| f.reserved_concurrency)
            .map(u64::from)
            .sum::<u64>();
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutFunctionConcurrencyInput {
    reserved_concurrent_executions: Option<i64>,
}

pub(crate) struct PutFunctionConcurrency {
    named: FunctionRef,
    reserved: u32,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for PutFunctionConcurrency {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        let named = super::functions_path(input, svc)?;
        let body: PutFunctionConcurrencyInput = wire::decode(&input.body)?;
        let reserved = body.reserved_concurrent_executions.ok_or_else(|| {
            FunctionsError::from(rampart_wire::CommonError::MissingParameter(
                "ReservedConcurrentExecutions".into(),
            ))
        })?;
        Ok(PutFunctionConcurrency {
            named,
            reserved: check_range(
                reserved,
                "reservedConcurrentExecutions",
                0,
                i64::from(u32::MAX),
            )?,
            function: None,
        })
    }

    /// `lambda:PutFunctionConcurrency` on the function (tags, resource policy).
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
        let limit = svc.invoker.concurrency().account_limit();
        let minimum = minimum_unreserved(limit);
        let others = reserved_elsewhere(svc, &authorized.record.name).await?;
        if others + u64::from(self.reserved) > u64::from(limit - minimum) {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
            )));
        }
        commit_reservation(svc, &self.named, authorized, Some(self.reserved)).await?;
        wire::reply(
            200,
            &ConcurrencyReply {
                reserved_concurrent_executions: Some(self.reserved),
            },
        )
    }
}

pub(crate) struct GetFunctionConcurrency {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for GetFunctionConcurrency {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(GetFunctionConcurrency {
            named: super::functions_path(input, svc)?,
            function: None,
        })
    }

    /// `lambda:GetFunctionConcurrency` on the function (tags, resource policy).
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    async fn execute(self, _: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let f = &super::functions_found(&self.named, self.function.as_ref())?.record;
        wire::reply(
            200,
            &ConcurrencyReply {
                reserved_concurrent_executions: f.reserved_concurrency,
            },
        )
    }
}

pub(crate) struct DeleteFunctionConcurrency {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for DeleteFunctionConcurrency {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(DeleteFunctionConcurrency {
            named: super::functions_path(input, svc)?,
            function: None,
        })
    }

    /// `lambda:DeleteFunctionConcurrency` on the function (tags, resource policy).
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
        commit_reservation(svc, &self.named, authorized, None).await?;
        Ok(Output::Rest {
            status: 204,
            body: Vec::new(),
        })
    }
}
