//! Drives `KmsService` as the request path does — `prepare` (decode once, declare checks),
//! then `execute` the same value — against a real SQLite store in a temporary directory.

#![allow(dead_code)]

pub mod counting;

use std::sync::Arc;

use rampart_core::{CallerIdentity, PrincipalType, RootKeyring};
use rampart_kms::KmsService;
use rampart_store::{SqliteStore, Store};
use rampart_wire::{
    Check, Input, OperationContext, OperationSpec, Output, PreparedOperation, Service, ServiceError,
};
use serde_json::Value;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub kms: KmsService,
    pub admin: CallerIdentity,
}

pub async fn harness() -> Harness {
    harness_over(|store| store).await
}

/// A harness whose KMS reads and writes through `wrap(store)` (a counting store, say).
pub async fn harness_over(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = wrap(Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .expect("open store"),
    ));
    let key = RootKeyring::ephemeral();
    let kms = KmsService::new(store.clone(), Arc::new(key), ACCOUNT, REGION);
    Harness {
        dir,
        store,
        kms,
        admin: caller("admin", "AIDAADMIN"),
    }
}

/// An IAM user of the account as the authenticator would describe it.
pub fn caller(name: &str, user_id: &str) -> CallerIdentity {
    CallerIdentity {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        user_id: user_id.into(),
        principal_type: PrincipalType::User,
        name: name.into(),
        access_key_id: "AKIATEST".into(),
        temporary: false,
        session_name: None,
        token_issue_time: None,
        source_ip: [127, 0, 0, 1].into(),
        secure_transport: true,
        mfa_present: false,
        lineage: Default::default(),
    }
}

fn spec(h: &Harness, operation: &str) -> &'static OperationSpec {
    h.kms
        .operations()
        .iter()
        .find(|op| op.name == operation)
        .unwrap_or_else(|| panic!("no operation {operation}"))
}

fn context<'a>(spec: &'a OperationSpec, caller: &'a CallerIdentity) -> OperationContext<'a> {
    OperationContext {
        request_id: "test",
        caller: Some(caller),
        region: REGION,
        operation: spec,
        verdicts: &[],
    }
}

/// Decodes `operation` and declares its checks, as the request path does before authorizing.
pub async fn prepare<'h>(
    h: &'h Harness,
    operation: &str,
    body: &Value,
) -> Result<Box<dyn PreparedOperation + 'h>, ServiceError> {
    let bytes = serde_json::to_vec(body).unwrap();
    h.kms
        .prepare(
            &context(spec(h, operation), &h.admin),
            Input::Json(bytes.into()),
        )
        .await
}

/// Runs a prepared operation, as the request path does once every check is allowed.
pub async fn run(
    h: &Harness,
    operation: &str,
    prepared: Box<dyn PreparedOperation + '_>,
) -> Result<Value, ServiceError> {
    match prepared
        .execute(context(spec(h, operation), &h.admin))
        .await?
    {
        Output::Json(bytes) => Ok(serde_json::from_slice(&bytes).expect("JSON answer")),
        other => panic!("unexpected output {other:?}"),
    }
}

/// Prepares and runs `operation` as the admin.
pub async fn call(h: &Harness, operation: &str, body: Value) -> Result<Value, ServiceError> {
    let prepared = prepare(h, operation, &body).await?;
    run(h, operation, prepared).await
}

/// The checks `operation` declares for `body`.
pub async fn checks(h: &Harness, operation: &str, body: Value) -> Vec<Check> {
    match prepare(h, operation, &body).await {
        Ok(prepared) => prepared.checks().to_vec(),
        Err(e) => panic!("{operation} did not prepare: {e}"),
    }
}

/// The error code `operation` answers.
pub async fn error(h: &Harness, operation: &str, body: Value) -> String {
    match call(h, operation, body).await {
        Ok(v) => panic!("{operation} succeeded: {v}"),
        Err(e) => e.code.to_string(),
    }
}

/// Creates a key and answers its id.
pub async fn create_key(h: &Harness) -> String {
    let created = call(h, "CreateKey", serde_json::json!({})).await.unwrap();
    created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

/// The values of condition key `key` in `check`.
pub fn values<'c>(check: &'c Check, key: &str) -> Vec<&'c str> {
    check
        .condition_keys
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}
