//! Functions as stored. A function is one JSON record in `lambda/functions`, keyed by name:
//! its configuration, tags, state, its environment variables sealed through KMS
//! ([`crate::sealing`]) and what its code is (size, SHA-256, where it is). The deployment
//! package itself lives beside it in `lambda/code`, keyed `<name>/<revision id>`, written once
//! with the record and deleted with it: every node that runs the function unpacks it from
//! there (nothing on one node's disk is the source of truth).

use std::collections::BTreeMap;

use rampart_store::{Expect, Store, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FunctionsError;
use crate::sealing::SealedVariables;

/// The store namespaces Lambda owns.
pub mod ns {
    /// Function records, by name.
    pub const FUNCTIONS: &str = "lambda/functions";
    /// Deployment packages (the zip as uploaded), by `<name>/<revision id>`.
    pub const CODE: &str = "lambda/code";
    /// Asynchronous invocations waiting to run, by `<due>/<event id>/<generation>`
    /// ([`crate::async_queue`]).
    pub const ASYNC_QUEUE: &str = "lambda/async-queue";
    /// Their payloads, sealed through KMS, by event id.
    pub const ASYNC_PAYLOADS: &str = "lambda/async-payloads";
}

/// Where a function is in its life, as `State` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionState {
    /// Created; its code is being prepared to run.
    Pending,
    /// Ready to be invoked.
    Active,
    /// Its code could not be prepared; it cannot be invoked.
    Failed,
}

impl FunctionState {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionState::Pending => "Pending",
            FunctionState::Active => "Active",
            FunctionState::Failed => "Failed",
        }
    }
}

/// How the last change of code or configuration went, as `LastUpdateStatus` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStatus {
    /// The change is stored; its code is being prepared on this node.
    InProgress,
    Successful,
    Failed,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::InProgress => "InProgress",
            UpdateStatus::Successful => "Successful",
            UpdateStatus::Failed => "Failed",
        }
    }
}

/// The last update of a function: its status and, unless it succeeded, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUpdate {
    pub status: UpdateStatus,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub reason_code: Option<String>,
}

impl LastUpdate {
    /// An update just stored, as AWS words it while the update runs.
    pub fn in_progress() -> Self {
        LastUpdate {
            status: UpdateStatus::InProgress,
            reason: Some("The function is being created.".into()),
            reason_code: Some("Creating".into()),
        }
    }
}

/// What a function's code is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMeta {
    /// Base64 SHA-256 of the zip, as `CodeSha256` reports it.
    pub sha256: String,
    /// Bytes of the zip (`CodeSize`).
    pub size: u64,
    /// The package's key in [`ns::CODE`].
    pub key: String,
}

impl CodeMeta {
    /// The digest as hex, which names the unpacked directory on each node.
    pub fn sha256_hex(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.sha256)
            .map(hex_lower)
            .unwrap_or_default()
    }
}

fn hex_lower(bytes: Vec<u8>) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A function (its `$LATEST` version: publishing versions comes later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub arn: String,
    /// `python3.12`, `provided.al2023`, …
    pub runtime: String,
    pub handler: String,
    /// The execution role's ARN.
    pub role: String,
    #[serde(default)]
    pub description: String,
    /// Seconds an invocation may run.
    pub timeout: u32,
    /// Megabytes of memory (the environment's address-space limit derives from it).
    pub memory_size: u32,
    /// The environment variables, sealed; None when the function has none.
    #[serde(default)]
    pub environment: Option<SealedVariables>,
    pub architectures: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub code: CodeMeta,
    /// Changes with every change of code or configuration (`RevisionId`).
    pub revision_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub state: FunctionState,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub state_reason_code: Option<String>,
    /// The last UpdateFunctionCode/UpdateFunctionConfiguration; None for a function never
    /// updated (its status then follows its state).
    #[serde(default)]
    pub last_update: Option<LastUpdate>,
    /// The function's resource policy (AddPermission's statements), None when it has none.
    #[serde(default)]
    pub policy: Option<FunctionPolicy>,
    /// `ReservedConcurrentExecutions`, None when the function uses the account's unreserved
    /// concurrency.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// How asynchronous invocations are retried and where their records go
    /// (PutFunctionEventInvokeConfig), None when the function has no such configuration.
    #[serde(default)]
    pub event_invoke_config: Option<EventInvokeConfig>,
}

/// A function's configuration for asynchronous invocation (`FunctionEventInvokeConfig`).
/// Members left unset take AWS's defaults when an event runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    /// Retries after a function error (0–2; AWS's default 2).
    #[serde(default)]
    pub maximum_retry_attempts: Option<u32>,
    /// How long an event may wait to run (60–21600 s; AWS's default 21600).
    #[serde(default)]
    pub maximum_event_age_seconds: Option<u32>,
    /// The function that receives the record of a successful invocation.
    #[serde(default)]
    pub on_success: Option<String>,
    /// The function that receives the record of an event that failed for good.
    #[serde(default)]
    pub on_failure: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

/// AWS's default `MaximumRetryAttempts`.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 2;
/// AWS's default (and largest) `MaximumEventAgeInSeconds`: six hours.
pub const DEFAULT_EVENT_AGE_SECONDS: u32 = 21_600;

impl FunctionRecord {
    /// Retries after a function error for an asynchronous invocation.
    pub fn async_retry_attempts(&self) -> u32 {
        self.event_invoke_config
            .as_ref()
            .and_then(|c| c.maximum_retry_attempts)
            .unwrap_or(DEFAULT_RETRY_ATTEMPTS)
    }

    /// How long an asynchronous invocation may wait to run.
    pub fn async_event_age(&self) -> time::Duration {
        let seconds = self
            .event_invoke_config
            .as_ref()
            .and_then(|c| c.maximum_event_age_seconds)
            .unwrap_or(DEFAULT_EVENT_AGE_SECONDS);
        time::Duration::seconds(i64::from(seconds))
    }

    /// Where the record of an asynchronous invocation goes: `on_success` or `on_failure`.
    pub fn async_destination(&self, success: bool) -> Option<&str> {
        let c = self.event_invoke_config.as_ref()?;
        match success {
            true => c.on_success.as_deref(),
            false => c.on_failure.as_deref(),
        }
    }

    /// Whether a change of code or configuration may start now: AWS refuses one while the
    /// function is being created or another update runs.
    pub fn check_updatable(&self) -> Result<(), FunctionsError> {
        if self.state == FunctionState::Pending {
            return Err(FunctionsError::ResourceConflict(format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {}",
                self.state.as_str()
            )));
        }
        if self.is_updating() {
            return Err(FunctionsError::ResourceConflict(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {}",
                self.arn
            )));
        }
        Ok(())
    }

    /// What an execution environment is started from: the package and the configuration as
    /// of the last CreateFunction/UpdateFunctionCode/UpdateFunctionConfiguration (each sets
    /// `last_modified`). Warm environments serve only invocations of the same key, so an
    /// update never meets an environment of the old revision, while a policy change or a
    /// reservation (which no environment reads) keeps them warm.
    pub fn environment_key(&self) -> String {
        format!(
            "{}@{}",
            self.code.key,
            self.last_modified.unix_timestamp_nanos()
        )
    }

    /// Whether an update's code is still being prepared (`LastUpdateStatus: InProgress`).
    pub fn is_updating(&self) -> bool {
        self.last_update
            .as_ref()
            .is_some_and(|u| u.status == UpdateStatus::InProgress)
    }

    /// `RevisionId` given with a change must be the current one.
    pub fn check_revision(&self, expected: Option<&str>) -> Result<(), FunctionsError> {
        match expected {
            Some(r) if r != self.revision_id => Err(FunctionsError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A function's resource policy: the statements AddPermission added, in order. Each is kept
/// as the JSON AWS answers it in (`Sid`, `Effect`, `Principal`, `Action`, `Resource`,
/// `Condition`), so GetPolicy and the authorizer read the same document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionPolicy {
    pub statements: Vec<serde_json::Value>,
}

impl FunctionPolicy {
    /// The policy document, as GetPolicy answers it and the authorizer evaluates it.
    pub fn document(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": self.statements,
        })
        .to_string()
    }
}

/// A record read from the store with the version to write it back with.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub record: T,
    pub version: i64,
}

/// Reads the function `name`.
pub async fn load_function(
    store: &dyn Store,
    name: &str,
) -> Result<Option<Stored<FunctionRecord>>, FunctionsError> {
    match store.get(ns::FUNCTIONS, name).await? {
        Some(item) => Ok(Some(Stored {
            record: decode(name, &item.value)?,
            version: item.version,
        })),
        None => Ok(None),
    }
}

/// Functions in name order after `start_after`, at most `limit`.
pub async fn list_functions(
    store: &dyn Store,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Vec<FunctionRecord>, FunctionsError> {
    store
        .list(ns::FUNCTIONS, "", start_after, limit)
        .await?
        .into_iter()
        .map(|(key, item)| decode(&key, &item.value))
        .collect()
}

fn decode(key: &str, bytes: &[u8]) -> Result<FunctionRecord, FunctionsError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(function = key, error = %e, "stored function does not decode");
        FunctionsError::Service("A stored function could not be read.".into())
    })
}

/// A write that stores `record`.
pub fn put_function(record: &FunctionRecord, expect: Expect) -> Write {
    Write::Put {
        ns: ns::FUNCTIONS.to_owned(),
        key: record.name.clone(),
        value: serde_json::to_vec(record).expect("plain records serialise"),
        expect,
    }
}

/// A write that deletes the function `name`.
pub fn delete_function(name: &str, expect: Expect) -> Write {
    Write::Delete {
        ns: ns::FUNCTIONS.to_owned(),
        key: name.to_owned(),
        expect,
    }
}

/// A write that stores a deployment package.
pub fn put_code(key: &str, zip: Vec<u8>) -> Write {
    Write::Put {
        ns: ns::CODE.to_owned(),
        key: key.to_owned(),
        value: zip,
        expect: Expect::Absent,
    }
}

/// A write that deletes a deployment package.
pub fn delete_code(key: &str) -> Write {
    Write::Delete {
        ns: ns::CODE.to_owned(),
        key: key.to_owned(),
        expect: Expect::Any,
    }
}

/// The deployment package stored under `key`.
pub async fn load_code(store: &dyn Store, key: &str) -> Result<Option<Vec<u8>>, FunctionsError> {
    Ok(store.get(ns::CODE, key).await?.map(|item| item.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FunctionRecord {
        FunctionRecord {
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            runtime: "python3.12".into(),
            handler: "app.handler".into(),
            role: "arn:aws:iam::123456789012:role/r".into(),
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            environment: None,
            architectures: vec!["x86_64".into()],
            tags: BTreeMap::new(),
            code: CodeMeta {
                sha256: String::new(),
                size: 0,
                key: "f/r1".into(),
            },
            revision_id: "r1".into(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            state: FunctionState::Active,
            state_reason: None,
            state_reason_code: None,
            last_update: None,
            policy: None,
            reserved_concurrency: None,
            event_invoke_config: None,
        }
    }

    #[test]
    fn updates_wait_for_creation_and_for_each_other() {
        let mut f = record();
        assert!(f.check_updatable().is_ok());
        f.state = FunctionState::Pending;
        assert!(matches!(
            f.check_updatable(),
            Err(FunctionsError::ResourceConflict(m)) if m.contains("Pending")
        ));
        f.state = FunctionState::Active;
        f.last_update = Some(LastUpdate::in_progress());
        assert!(matches!(
            f.check_updatable(),
            Err(FunctionsError::ResourceConflict(m)) if m.contains("An update is in progress")
        ));
    }

    #[test]
    fn revision_ids_are_preconditions() {
        let f = record();
        assert!(f.check_revision(None).is_ok());
        assert!(f.check_revision(Some("r1")).is_ok());
        let e = f.check_revision(Some("r0")).unwrap_err();
        assert_eq!((e.code(), e.status()), ("PreconditionFailedException", 412));
    }

    #[test]
    fn environments_follow_code_and_configuration_not_policy() {
        let f = record();
        let mut policy = f.clone();
        policy.revision_id = "r2".into();
        policy.policy = Some(FunctionPolicy { statements: vec![] });
        policy.reserved_concurrency = Some(1);
        assert_eq!(policy.environment_key(), f.environment_key());
        let mut configured = f.clone();
        configured.last_modified += time::Duration::milliseconds(1);
        assert_ne!(configured.environment_key(), f.environment_key());
        let mut code = f.clone();
        code.code.key = "f/r3".into();
        assert_ne!(code.environment_key(), f.environment_key());
    }

    #[test]
    fn records_written_before_these_fields_still_read() {
        let mut json = serde_json::to_value(record()).unwrap();
        for field in [
            "last_update",
            "policy",
            "reserved_concurrency",
            "event_invoke_config",
        ] {
            json.as_object_mut().unwrap().remove(field);
        }
        let read = decode("f", json.to_string().as_bytes()).unwrap();
        assert_eq!(read, record());
    }
}
