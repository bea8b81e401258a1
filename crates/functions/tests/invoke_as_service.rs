//! `Invoker::invoke_as_service`, the gateway's and event sources' entry point: it asks IAM's
//! authorizer (here a fake `RoleDirectory` that records what it was asked) about
//! `lambda:InvokeFunction` on the function with the function's own resource policy and the
//! service principal's `aws:SourceArn`/`aws:SourceAccount`, and runs the function only when
//! allowed. (The decision itself over AddPermission's statements is tested beside the
//! server's implementation, crates/server/src/functions_roles.rs.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rampart_core::RootKeyring;
use rampart_functions::records::{self, CodeMeta, FunctionPolicy, FunctionRecord, FunctionState};
use rampart_functions::{
    ExecutionRole, FunctionsError, HostConfig, InvocationRequest, Invoker, RoleCredentials,
    RoleDirectory, RoleError, ServiceCaller,
};
use rampart_kms::KmsService;
use rampart_store::{Expect, SqliteStore, Store};
use rampart_wire::{Check, ResourcePolicyKind};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const API: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/items";

/// Answers `allow` to every service question and remembers each one.
struct FakeIam {
    allow: bool,
    asked: Mutex<Vec<(String, String, String, Check)>>,
}

#[async_trait::async_trait]
impl RoleDirectory for FakeIam {
    async fn role(&self, _: &str) -> Result<Option<ExecutionRole>, RoleError> {
        Ok(None)
    }

    async fn assume(&self, _: &str, _: &str, _: &str) -> Result<RoleCredentials, RoleError> {
        Err(RoleError::Unavailable("not in this test".into()))
    }

    async fn role_allows(&self, _: &str, _: &str, _: &Check) -> Result<bool, RoleError> {
        Ok(false)
    }

    fn allows_service(&self, caller: &ServiceCaller<'_>, check: &Check) -> bool {
        self.asked.lock().unwrap().push((
            caller.service.to_owned(),
            caller.source_arn.to_owned(),
            caller.source_account.to_owned(),
            check.clone(),
        ));
        self.allow
    }
}

fn function(name: &str, policy: Option<FunctionPolicy>) -> FunctionRecord {
    FunctionRecord {
        name: name.into(),
        arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
        runtime: "python3.12".into(),
        handler: "app.handler".into(),
        role: format!("arn:aws:iam::{ACCOUNT}:role/r"),
        description: String::new(),
        timeout: 3,
        memory_size: 128,
        environment: None,
        architectures: vec!["x86_64".into()],
        tags: BTreeMap::new(),
        code: CodeMeta {
            sha256: String::new(),
            size: 0,
            key: format!("{name}/r1"),
        },
        revision_id: "r1".into(),
        last_modified: time::OffsetDateTime::now_utc(),
        // Pending: an allowed invocation gets as far as the function's state and stops there,
        // so no process is started by this test.
        state: FunctionState::Pending,
        state_reason: None,
        state_reason_code: None,
        last_update: None,
        policy,
        reserved_concurrency: None,
        event_invoke_config: None,
    }
}

async fn invoker(allow: bool) -> (tempfile::TempDir, Arc<FakeIam>, Invoker, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap(),
    );
    let kms = Arc::new(KmsService::new(
        store.clone(),
        Arc::new(RootKeyring::ephemeral()),
        ACCOUNT,
        REGION,
    ));
    let iam = Arc::new(FakeIam {
        allow,
        asked: Mutex::new(Vec::new()),
    });
    let host = HostConfig {
        root: dir.path().join("functions"),
        endpoint: "http://127.0.0.1:1".into(),
        python: "python3".into(),
        interpreter_paths: Vec::new(),
        max_environments: 4,
        account_concurrency: 4,
        async_retry_base: std::time::Duration::from_secs(60),
    };
    let invoker = Invoker::new(
        store.clone(),
        kms,
        iam.clone(),
        ACCOUNT.into(),
        REGION.into(),
        host,
    );
    (dir, iam, invoker, store)
}

fn request() -> InvocationRequest {
    InvocationRequest {
        payload: bytes::Bytes::from_static(b"{}"),
        client_context: None,
        tail: false,
    }
}

fn policy() -> FunctionPolicy {
    FunctionPolicy {
        statements: vec![serde_json::json!({
            "Sid": "gw", "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        })],
    }
}

async fn store_function(store: &dyn Store, f: &FunctionRecord) {
    store
        .commit(vec![records::put_function(f, Expect::Absent)])
        .await
        .unwrap();
}

#[tokio::test]
async fn asks_about_the_function_with_its_policy_and_the_source() {
    let (_dir, iam, invoker, store) = invoker(true).await;
    store_function(store.as_ref(), &function("f", Some(policy()))).await;
    let outcome = invoker
        .invoke_as_service("f", "apigateway.amazonaws.com", API, ACCOUNT, request())
        .await;
    // Allowed: it went on to the function itself (Pending, so refused there).
    assert!(
        matches!(outcome, Err(FunctionsError::ResourceConflict(ref m)) if m.contains("Pending")),
        "{outcome:?}"
    );
    let asked = iam.asked.lock().unwrap();
    let (service, source_arn, source_account, check) = &asked[0];
    assert_eq!(service, "apigateway.amazonaws.com");
    assert_eq!(source_arn, API);
    assert_eq!(source_account, ACCOUNT);
    assert_eq!(check.action, "lambda:InvokeFunction");
    assert_eq!(
        check.resource.as_str(),
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    let attached = check.resource_policy.as_ref().unwrap();
    assert_eq!(attached.kind, ResourcePolicyKind::Resource);
    assert_eq!(
        attached.document.as_deref(),
        Some(policy().document().as_str())
    );
}

#[tokio::test]
async fn refused_unless_allowed_and_for_functions_that_do_not_exist() {
    let (_dir, iam, invoker, store) = invoker(false).await;
    store_function(store.as_ref(), &function("f", Some(policy()))).await;
    for name in [
        "f",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "missing",
        // Another account's or region's function is never this one.
        "arn:aws:lambda:eu-west-1:123456789012:function:f",
        "arn:aws:lambda:us-east-1:210987654321:function:f",
    ] {
        let outcome = invoker
            .invoke_as_service(name, "apigateway.amazonaws.com", API, ACCOUNT, request())
            .await;
        match outcome {
            Err(e @ FunctionsError::AccessDenied(_)) => {
                assert_eq!(e.code(), "AccessDeniedException");
                assert_eq!(e.status(), 403);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Only the two names of the existing function were decided; the others never were.
    assert_eq!(iam.asked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_function_without_a_policy_is_asked_about_with_none() {
    let (_dir, iam, invoker, store) = invoker(false).await;
    store_function(store.as_ref(), &function("bare", None)).await;
    let outcome = invoker
        .invoke_as_service("bare", "apigateway.amazonaws.com", API, ACCOUNT, request())
        .await;
    assert!(matches!(outcome, Err(FunctionsError::AccessDenied(_))));
    let asked = iam.asked.lock().unwrap();
    let policy = asked[0].3.resource_policy.as_ref().unwrap();
    // A resource policy that is missing allows nothing (the authorizer's rule).
    assert_eq!(policy.document, None);
}
