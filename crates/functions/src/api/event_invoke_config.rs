//! A function's configuration for asynchronous invocation: PutFunctionEventInvokeConfig
//! (replaces it), UpdateFunctionEventInvokeConfig (changes the members given),
//! GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig,
//! ListFunctionEventInvokeConfigs. It is part of the function's record (deleted with it) and
//! read by the queue's worker when an event runs ([`crate::async_queue`]).
//!
//! Destinations are functions of this account and region. As on AWS, a destination must be
//! invocable by the function's execution role (checked here and again when a record is sent),
//! and a function is not its own destination.

use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::service::RestInput;
use rampart_wire::{Check, Output};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire::{self, check_length, check_range};
use super::{Call, FunctionsOperation};
use crate::async_queue::worker::invoke_check;
use crate::error::FunctionsError;
use crate::function_ref::{FunctionRef, LATEST};
use crate::records::{self, EventInvokeConfig, FunctionRecord, Stored};
use crate::FunctionsService;

/// How often a change re-reads and retries when another writer changed the function first.
const COMMIT_ATTEMPTS: usize = 4;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    destination: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DestinationConfigInput {
    on_success: Option<DestinationInput>,
    on_failure: Option<DestinationInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput {
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfigInput>,
}

/// What Put and Update were given, validated against the model.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigChange {
    retries: Option<u32>,
    max_age: Option<u32>,
    /// `(on_success, on_failure)` when `DestinationConfig` was given (an empty ARN: none).
    destinations: Option<(Option<String>, Option<String>)>,
}

fn destination(
    input: Option<DestinationInput>,
    field: &str,
) -> Result<Option<String>, FunctionsError> {
    match input.and_then(|d| d.destination).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(arn) => {
            check_length(&arn, field, 0, 350)?;
            let shaped = arn.split(':').count() >= 6
                && arn.starts_with("arn:aws")
                && arn.split(':').nth(2).is_some_and(|s| !s.is_empty());
            if !shaped {
                return Err(FunctionsError::constraint(
                    &arn,
                    field,
                    "Member must satisfy regular expression pattern: ^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
                ));
            }
            Ok(Some(arn))
        }
    }
}

impl ConfigChange {
    fn decode(input: &RestInput) -> Result<Self, FunctionsError> {
        let body: ConfigInput = wire::decode(&input.body)?;
        let retries = body
            .maximum_retry_attempts
            .map(|n| check_range(n, "maximumRetryAttempts", 0, 2))
            .transpose()?;
        let max_age = body
            .maximum_event_age_in_seconds
            .map(|n| check_range(n, "maximumEventAgeInSeconds", 60, 21_600))
            .transpose()?;
        let destinations = match body.destination_config {
            Some(d) => Some((
                destination(d.on_success, "destinationConfig.onSuccess.destination")?,
                destination(d.on_failure, "destinationConfig.onFailure.destination")?,
            )),
            None => None,
        };
        if retries.is_none() && max_age.is_none() && destinations.is_none() {
            return Err(FunctionsError::InvalidParameterValue(
                "You must specify at least one of error handling or destination setting.".into(),
            ));
        }
        Ok(ConfigChange {
            retries,
            max_age,
            destinations,
        })
    }

    /// The configuration after this change: over nothing (Put) or over `current` (Update).
    fn apply(&self, current: Option<&EventInvokeConfig>, now: OffsetDateTime) -> EventInvokeConfig {
        let mut next = current.cloned().unwrap_or(EventInvokeConfig {
            maximum_retry_attempts: None,
            maximum_event_age_seconds: None,
            on_success: None,
            on_failure: None,
            last_modified: now,
        });
        next.last_modified = now;
        if self.retries.is_some() {
            next.maximum_retry_attempts = self.retries;
        }
        if self.max_age.is_some() {
            next.maximum_event_age_seconds = self.max_age;
        }
        if let Some((success, failure)) = &self.destinations {
            next.on_success = success.clone();
            next.on_failure = failure.clone();
        }
        next
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationShape<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationConfigShape<'a> {
    on_success: DestinationShape<'a>,
    on_failure: DestinationShape<'a>,
}

/// `FunctionEventInvokeConfig`, as botocore parses it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigShape<'a> {
    /// Epoch seconds (a rest-json timestamp).
    last_modified: f64,
    function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum_event_age_in_seconds: Option<u32>,
    destination_config: DestinationConfigShape<'a>,
}

fn shape<'a>(f: &FunctionRecord, c: &'a EventInvokeConfig) -> ConfigShape<'a> {
    ConfigShape {
        last_modified: (c.last_modified.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0,
        function_arn: format!("{}:{LATEST}", f.arn),
        maximum_retry_attempts: c.maximum_retry_attempts,
        maximum_event_age_in_seconds: c.maximum_event_age_seconds,
        destination_config: DestinationConfigShape {
            on_success: DestinationShape {
                destination: c.on_success.as_deref(),
            },
            on_failure: DestinationShape {
                destination: c.on_failure.as_deref(),
            },
        },
    }
}

/// The function as authorization read it; AWS's wording when it is not there.
fn existing<'a>(
    named: &FunctionRef,
    function: Option<&'a Stored<FunctionRecord>>,
) -> Result<&'a Stored<FunctionRecord>, FunctionsError> {
    super::functions_found(named, function)
        .map_err(|_| FunctionsError::ResourceNotFound("The function doesn't exist.".into()))
}

/// The function's configuration, or AWS's answer when it has none (or does not exist).
fn configured<'a>(
    named: &FunctionRef,
    function: Option<&'a Stored<FunctionRecord>>,
) -> Result<(&'a FunctionRecord, &'a EventInvokeConfig), FunctionsError> {
    let missing = || {
        FunctionsError::ResourceNotFound(format!(
            "The function {}:{} doesn't have an EventInvokeConfig",
            named.arn,
            named.qualifier.as_deref().unwrap_or(LATEST)
        ))
    };
    let f = super::functions_found(named, function).map_err(|_| missing())?;
    let c = f.record.event_invoke_config.as_ref().ok_or_else(missing)?;
    Ok((&f.record, c))
}

/// Each destination must be another function here that `f`'s execution role may invoke.
async fn check_destinations(
    svc: &FunctionsService,
    f: &FunctionRecord,
    c: &EventInvokeConfig,
) -> Result<(), FunctionsError> {
    for arn in [&c.on_success, &c.on_failure].into_iter().flatten() {
        let invalid = || {
            FunctionsError::InvalidParameterValue(format!("The destination ARN {arn} is invalid."))
        };
        if arn.split(':').nth(2) != Some("lambda") {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "The destination ARN {arn} is not supported: this Rampart host sends asynchronous invocation records to Lambda functions only."
            )));
        }
        let named = FunctionRef::parse(arn, None, "destination", &svc.account_id, &svc.region, 350)
            .map_err(|_| invalid())?;
        if !named.local || !named.is_latest() || !arn.contains(":function:") {
            return Err(invalid());
        }
        if named.name == f.name {
            return Err(FunctionsError::InvalidParameterValue(
                "You can't specify the function as a destination for itself.".into(),
            ));
        }
        let target = records::load_function(svc.store.as_ref(), &named.name)
            .await?
            .ok_or_else(invalid)?;
        let allowed = svc
            .roles
            .role_allows(&f.role, &f.name, &invoke_check(&target.record))
            .await
            .map_err(|e| FunctionsError::Service(e.to_string()))?;
        if !allowed {
            return Err(FunctionsError::InvalidParameterValue(format!(
                "The function execution role does not have permissions to call InvokeFunction on {arn}"
            )));
        }
    }
    Ok(())
}

/// Stores `config` in the function over what authorization read; retried if the record
/// changed meanwhile in what authorization did not read, refused if its tags or policy did.
async fn commit_config(
    svc: &FunctionsService,
    named: &FunctionRef,
    authorized: &Stored<FunctionRecord>,
    change: impl Fn(Option<&EventInvokeConfig>) -> Option<EventInvokeConfig>,
) -> Result<(FunctionRecord, Option<EventInvokeConfig>), FunctionsError> {
    let mut current = authorized.clone();
    for _ in 0..COMMIT_ATTEMPTS {
        let mut next = current.record.clone();
        next.event_invoke_config = change(current.record.event_invoke_config.as_ref());
        let write = records::put_function(&next, Expect::Version(current.version));
        match request_audit::commit(svc.store.as_ref(), vec![write]).await {
            Ok(_) => {
                let config = next.event_invoke_config.clone();
                return Ok((next, config));
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        current = records::load_function(svc.store.as_ref(), &named.name)
            .await?
            .ok_or_else(|| {
                FunctionsError::ResourceNotFound("The function doesn't exist.".into())
            })?;
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

/// Put (`replace`) or Update (`!replace`): the same value, applied over nothing or over what
/// is there.
pub(crate) struct ChangeConfig<const REPLACE: bool> {
    named: FunctionRef,
    change: ConfigChange,
    function: Option<Stored<FunctionRecord>>,
}

pub(crate) type PutFunctionEventInvokeConfig = ChangeConfig<true>;
pub(crate) type UpdateFunctionEventInvokeConfig = ChangeConfig<false>;

#[async_trait::async_trait]
impl<const REPLACE: bool> FunctionsOperation for ChangeConfig<REPLACE> {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(ChangeConfig {
            named: super::functions_named(input, svc)?,
            change: ConfigChange::decode(input)?,
            function: None,
        })
    }

    /// `lambda:PutFunctionEventInvokeConfig` (or `Update…`) on the function (tags, resource
    /// policy).
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
        let authorized = existing(&self.named, self.function.as_ref())?;
        let now = OffsetDateTime::now_utc();
        let current = authorized.record.event_invoke_config.as_ref();
        if !REPLACE && current.is_none() {
            configured(&self.named, self.function.as_ref())?;
        }
        let proposed = self.change.apply(current.filter(|_| !REPLACE), now);
        check_destinations(svc, &authorized.record, &proposed).await?;
        let change = &self.change;
        let (f, stored) = commit_config(svc, &self.named, authorized, |current| {
            Some(change.apply(current.filter(|_| !REPLACE), now))
        })
        .await?;
        let stored =
            stored.ok_or_else(|| FunctionsError::Service("The change was lost.".into()))?;
        wire::reply(200, &shape(&f, &stored))
    }
}

pub(crate) struct GetFunctionEventInvokeConfig {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for GetFunctionEventInvokeConfig {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(GetFunctionEventInvokeConfig {
            named: super::functions_named(input, svc)?,
            function: None,
        })
    }

    /// `lambda:GetFunctionEventInvokeConfig` on the function (tags, resource policy).
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
        let (f, c) = configured(&self.named, self.function.as_ref())?;
        wire::reply(200, &shape(f, c))
    }
}

pub(crate) struct DeleteFunctionEventInvokeConfig {
    named: FunctionRef,
    function: Option<Stored<FunctionRecord>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for DeleteFunctionEventInvokeConfig {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        Ok(DeleteFunctionEventInvokeConfig {
            named: super::functions_named(input, svc)?,
            function: None,
        })
    }

    /// `lambda:DeleteFunctionEventInvokeConfig` on the function (tags, resource policy).
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
        configured(&self.named, self.function.as_ref())?;
        let authorized = existing(&self.named, self.function.as_ref())?;
        commit_config(svc, &self.named, authorized, |_| None).await?;
        Ok(Output::Rest {
            status: 204,
            body: Vec::new(),
        })
    }
}

pub(crate) struct ListFunctionEventInvokeConfigs {
    named: FunctionRef,
    after_marker: bool,
    function: Option<Stored<FunctionRecord>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply<'a> {
    function_event_invoke_configs: Vec<ConfigShape<'a>>,
}

#[async_trait::async_trait]
impl FunctionsOperation for ListFunctionEventInvokeConfigs {
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError> {
        if let Some(text) = input.query.get("MaxItems") {
            let n: i64 = text.parse().map_err(|_| {
                FunctionsError::constraint(text, "maxItems", "Member must be an integer")
            })?;
            check_range(n, "maxItems", 1, 50)?;
        }
        Ok(ListFunctionEventInvokeConfigs {
            named: super::functions_path(input, svc)?,
            after_marker: input.query.get("Marker").is_some_and(|m| !m.is_empty()),
            function: None,
        })
    }

    /// `lambda:ListFunctionEventInvokeConfigs` on the function (tags, resource policy).
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError> {
        let (function, checks) = super::functions_check_named(svc, call, &self.named).await?;
        self.function = function;
        Ok(checks)
    }

    /// At most one configuration (`$LATEST`'s: versions and aliases are not published here),
    /// so one page holds them all and a `Marker` — never handed out — starts past the end.
    async fn execute(self, _: &FunctionsService, _: &Call<'_>) -> Result<Output, FunctionsError> {
        let f = &existing(&self.named, self.function.as_ref())?.record;
        let configs = match (&f.event_invoke_config, self.after_marker) {
            (Some(c), false) => vec![shape(f, c)],
            _ => Vec::new(),
        };
        wire::reply(
            200,
            &ListReply {
                function_event_invoke_configs: configs,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(body: &str) -> Result<ConfigChange, FunctionsError> {
        let input = RestInput {
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
            ..Default::default()
        };
        ConfigChange::decode(&input)
    }

    #[test]
    fn members_are_checked_against_the_model() {
        let e = change(r#"{"MaximumRetryAttempts": 3}"#).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert!(e.to_string().contains("maximumRetryAttempts"));
        let e = change(r#"{"MaximumEventAgeInSeconds": 59}"#).unwrap_err();
        assert!(e.to_string().contains("greater than or equal to 60"));
        let e = change(r#"{"MaximumEventAgeInSeconds": 21601}"#).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        let e =
            change(r#"{"DestinationConfig": {"OnFailure": {"Destination": "nope"}}}"#).unwrap_err();
        assert!(e
            .to_string()
            .contains("destinationConfig.onFailure.destination"));
        let e = change("{}").unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
    }

    #[test]
    fn put_replaces_and_update_merges() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let first = change(
            r#"{"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:d"}}}"#,
        )
        .unwrap()
        .apply(None, now);
        assert_eq!(first.maximum_retry_attempts, Some(0));
        assert!(first.on_failure.is_some());
        let age = change(r#"{"MaximumEventAgeInSeconds": 120}"#).unwrap();
        let merged = age.apply(Some(&first), now);
        assert_eq!(
            (
                merged.maximum_retry_attempts,
                merged.maximum_event_age_seconds
            ),
            (Some(0), Some(120))
        );
        assert_eq!(merged.on_failure, first.on_failure);
        let replaced = age.apply(None, now);
        assert_eq!(replaced.maximum_retry_attempts, None);
        assert_eq!(replaced.on_failure, None);
        // An empty destination clears it.
        let cleared = change(r#"{"DestinationConfig": {"OnFailure": {"Destination": ""}}}"#)
            .unwrap()
            .apply(Some(&first), now);
        assert_eq!(cleared.on_failure, None);
    }
}
