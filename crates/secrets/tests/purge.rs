//! Purging secrets whose recovery window ended (`SecretsService::purge_deleted`), with the
//! clock moved forward: the record and every sealed value leave the store, with an audit
//! record; a secret still in its window, or restored, stays.

use std::sync::Arc;

use rampart_core::audit::AuditQuery;
use rampart_core::{CallerIdentity, PrincipalType, RootKeyring};
use rampart_kms::KmsService;
use rampart_secrets::SecretsService;
use rampart_store::{SqliteStore, Store};
use rampart_wire::{Input, OperationContext, Output, Service};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn admin() -> CallerIdentity {
    CallerIdentity {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/admin"),
        user_id: "AIDAADMIN".into(),
        principal_type: PrincipalType::User,
        name: "admin".into(),
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

async fn call(svc: &SecretsService, operation: &str, body: Value) -> Value {
    let caller = admin();
    let spec = svc
        .operations()
        .iter()
        .find(|op| op.name == operation)
        .unwrap();
    let ctx = || OperationContext {
        request_id: "test",
        caller: Some(&caller),
        region: REGION,
        operation: spec,
        verdicts: &[],
    };
    let prepared = svc
        .prepare(
            &ctx(),
            Input::Json(serde_json::to_vec(&body).unwrap().into()),
        )
        .await
        .unwrap_or_else(|e| panic!("{operation}: {e}"));
    match prepared.execute(ctx()).await.unwrap() {
        Output::Json(bytes) => serde_json::from_slice(&bytes).unwrap(),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn stored_values(store: &dyn Store, arn: &str) -> usize {
    store
        .list("secretsmanager/values", &format!("{arn}/"), None, 100)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn secrets_past_their_window_are_purged_with_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap(),
    );
    let root = RootKeyring::ephemeral();
    let kms = Arc::new(KmsService::new(
        store.clone(),
        Arc::new(root),
        ACCOUNT,
        REGION,
    ));
    let svc = SecretsService::new(store.clone(), kms, ACCOUNT, REGION);

    let doomed = call(
        &svc,
        "CreateSecret",
        json!({"Name": "doomed", "SecretString": "one"}),
    )
    .await;
    call(
        &svc,
        "PutSecretValue",
        json!({"SecretId": "doomed", "SecretString": "two"}),
    )
    .await;
    call(
        &svc,
        "CreateSecret",
        json!({"Name": "restored", "SecretString": "x"}),
    )
    .await;
    call(
        &svc,
        "CreateSecret",
        json!({"Name": "kept", "SecretString": "y"}),
    )
    .await;
    call(
        &svc,
        "DeleteSecret",
        json!({"SecretId": "doomed", "RecoveryWindowInDays": 7}),
    )
    .await;
    call(
        &svc,
        "DeleteSecret",
        json!({"SecretId": "restored", "RecoveryWindowInDays": 7}),
    )
    .await;
    call(&svc, "RestoreSecret", json!({"SecretId": "restored"})).await;
    let arn = doomed["ARN"].as_str().unwrap().to_owned();
    assert_eq!(stored_values(store.as_ref(), &arn).await, 2);

    let now = OffsetDateTime::now_utc();
    assert!(svc
        .purge_deleted(now + Duration::days(6))
        .await
        .unwrap()
        .is_empty());
    let purged = svc.purge_deleted(now + Duration::days(8)).await.unwrap();
    assert_eq!(purged, vec![arn.clone()]);
    assert!(store
        .get("secretsmanager/secrets", "doomed")
        .await
        .unwrap()
        .is_none());
    assert_eq!(stored_values(store.as_ref(), &arn).await, 0);
    for name in ["restored", "kept"] {
        assert!(store
            .get("secretsmanager/secrets", name)
            .await
            .unwrap()
            .is_some());
    }
    assert!(svc
        .purge_deleted(now + Duration::days(9))
        .await
        .unwrap()
        .is_empty());

    let audit = store
        .query_audit(&AuditQuery {
            operation: Some("DeleteSecret".into()),
            principal: Some("secretsmanager.amazonaws.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].checks[0].resource, arn);
}
