//! Drives `SecretsService` as the request path does — `prepare` (decode once, declare checks),
//! then `execute` the same value — against a real SQLite store in a temporary directory, with
//! an injected clock and rotation invoker.

#![allow(dead_code)]

#[path = "../../../kms/tests/common/counting.rs"]
pub mod counting;
pub mod rotation_fn;

use std::sync::Arc;

use rampart_core::{CallerIdentity, PrincipalType, RootKeyring};
use rampart_kms::KmsService;
use rampart_secrets::rotation::{Clock, ManualClock, RotationInvoker};
use rampart_secrets::SecretsService;
use rampart_store::{SqliteStore, Store};
use rampart_wire::{Check, Input, OperationContext, Output, Service, ServiceError};
use serde_json::Value;
use time::OffsetDateTime;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub kms: Arc<KmsService>,
    pub svc: Arc<SecretsService>,
    pub clock: Arc<ManualClock>,
    pub admin: CallerIdentity,
}

/// A service whose rotations invoke `invoker` and read `clock`.
pub async fn harness(invoker: Arc<dyn RotationInvoker>, start: OffsetDateTime) -> Harness {
    harness_over(invoker, start, |store| store).await
}

/// The same, reading and writing through `wrap(store)` (a counting store, say).
pub async fn harness_over(
    invoker: Arc<dyn RotationInvoker>,
    start: OffsetDateTime,
    wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = wrap(Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .expect("open store"),
    ));
    let key = RootKeyring::ephemeral();
    let kms = Arc::new(KmsService::new(
        store.clone(),
        Arc::new(key),
        ACCOUNT,
        REGION,
    ));
    let clock = Arc::new(ManualClock::new(start));
    let svc = Arc::new(
        SecretsService::new(store.clone(), kms.clone(), ACCOUNT, REGION)
            .with_rotation_invoker(invoker)
            .with_clock(clock.clone() as Arc<dyn Clock>),
    );
    Harness {
        dir,
        store,
        kms,
        svc,
        clock,
        admin: user("admin"),
    }
}

/// An IAM user of the account as the authenticator would describe it.
pub fn user(name: &str) -> CallerIdentity {
    identity(
        format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        name,
        PrincipalType::User,
    )
}

/// A rotation function's execution role session, as Lambda's credentials would describe it.
pub fn function_role(name: &str) -> CallerIdentity {
    let mut caller = identity(
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{name}"),
        name,
        PrincipalType::AssumedRole,
    );
    caller.temporary = true;
    caller.session_name = Some(name.into());
    caller
}

fn identity(arn: String, name: &str, principal_type: PrincipalType) -> CallerIdentity {
    CallerIdentity {
        account_id: ACCOUNT.into(),
        arn,
        user_id: format!("AIDA{}", name.to_uppercase()),
        principal_type,
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

/// One call as the request path makes it: the checks it declared and its answer.
pub struct Called {
    pub checks: Vec<Check>,
    pub result: Result<Value, ServiceError>,
}

/// Prepares and executes `operation` with `body` as `caller`.
pub async fn call(
    svc: &SecretsService,
    caller: &CallerIdentity,
    operation: &str,
    body: Value,
) -> Called {
    let spec = svc
        .operations()
        .iter()
        .find(|op| op.name == operation)
        .unwrap_or_else(|| panic!("no operation {operation}"));
    let ctx = OperationContext {
        request_id: "test",
        caller: Some(caller),
        region: REGION,
        operation: spec,
        verdicts: &[],
    };
    let bytes = serde_json::to_vec(&body).expect("json");
    let prepared = match svc.prepare(&ctx, Input::Json(bytes.into())).await {
        Ok(p) => p,
        Err(e) => {
            return Called {
                checks: Vec::new(),
                result: Err(e),
            }
        }
    };
    let checks = prepared.checks().to_vec();
    let result = prepared.execute(ctx).await.map(|out| match out {
        Output::Json(body) => serde_json::from_slice(&body).expect("a JSON answer"),
        other => panic!("{operation} answered {other:?}"),
    });
    Called { checks, result }
}

/// The answer of a call that must succeed.
pub async fn ok(
    svc: &SecretsService,
    caller: &CallerIdentity,
    operation: &str,
    body: Value,
) -> Value {
    match call(svc, caller, operation, body.clone()).await.result {
        Ok(v) => v,
        Err(e) => panic!("{operation} {body} failed: {} {}", e.code, e.message),
    }
}

/// The error of a call that must fail.
pub async fn err(
    svc: &SecretsService,
    caller: &CallerIdentity,
    operation: &str,
    body: Value,
) -> ServiceError {
    match call(svc, caller, operation, body.clone()).await.result {
        Ok(v) => panic!("{operation} {body} succeeded: {v}"),
        Err(e) => e,
    }
}
