//! Read operations serve the secret's record, its sealed value and the KMS records they name
//! from memory (`secrets/src/cache.rs`, `kms/src/cache.rs`), and every change made through this
//! node shows at once: each test warms the caches with a read, changes the secret (or its key)
//! through the API, the rotation runner or the purge, and expects the very next read to see it.

mod common;

use std::sync::Arc;

use common::counting::CountingStore;
use common::rotation_fn::{FakeRotation, FUNCTION};
use common::{call, err, harness, harness_over, ok, Harness};
use rampart_secrets::rotation::NoFunctions;
use rampart_store::Store;
use rampart_wire::{Input, OperationContext, Output, Service};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

async fn setup() -> Harness {
    harness(Arc::new(NoFunctions), OffsetDateTime::now_utc()).await
}

async fn create(h: &Harness, name: &str, extra: Value) -> String {
    let mut body = json!({"Name": name, "SecretString": "v1"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ok(&h.svc, &h.admin, "CreateSecret", body).await["ARN"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// GetSecretValue's SecretString, or its error code.
async fn get(h: &Harness, body: Value) -> Result<String, String> {
    call(&h.svc, &h.admin, "GetSecretValue", body)
        .await
        .result
        .map(|v| v["SecretString"].as_str().unwrap().to_owned())
        .map_err(|e| e.code.to_string())
}

async fn current(h: &Harness, id: &str) -> Result<String, String> {
    get(h, json!({ "SecretId": id })).await
}

/// A KMS operation as the admin, through the KMS the secrets service seals with.
async fn kms(h: &Harness, operation: &str, body: Value) -> Value {
    let spec = h
        .kms
        .operations()
        .iter()
        .find(|op| op.name == operation)
        .unwrap();
    let ctx = || OperationContext {
        request_id: "test",
        caller: Some(&h.admin),
        region: common::REGION,
        operation: spec,
        verdicts: &[],
    };
    let bytes = serde_json::to_vec(&body).unwrap();
    let prepared = h
        .kms
        .prepare(&ctx(), Input::Json(bytes.into()))
        .await
        .unwrap();
    match prepared.execute(ctx()).await.unwrap() {
        Output::Json(bytes) => serde_json::from_slice(&bytes).unwrap(),
        other => panic!("{operation} answered {other:?}"),
    }
}

#[tokio::test]
async fn a_repeated_get_secret_value_reads_nothing_from_the_store() {
    let mut counting = None;
    let h = harness_over(Arc::new(NoFunctions), OffsetDateTime::now_utc(), |store| {
        let c = Arc::new(CountingStore::new(store));
        counting = Some(c.clone());
        c as Arc<dyn Store>
    })
    .await;
    let store = counting.unwrap();
    create(&h, "db/password", json!({})).await;
    store.take_reads();

    // Cold (the create emptied the caches): the secret, its value, the key its data key names
    // and the `aws/secretsmanager` alias — each once (the alias's key is the key just read).
    assert_eq!(current(&h, "db/password").await.unwrap(), "v1");
    let mut cold = store.take_reads();
    cold.sort();
    assert_eq!(
        cold,
        [
            "kms/aliases",
            "kms/keys",
            "secretsmanager/secrets",
            "secretsmanager/values"
        ]
    );
    // Warm: nothing.
    for _ in 0..3 {
        assert_eq!(current(&h, "db/password").await.unwrap(), "v1");
    }
    assert_eq!(store.take_reads(), Vec::<String>::new());
}

#[tokio::test]
async fn a_deleted_secret_refuses_reads_at_once_and_a_restored_one_reads_again() {
    let h = setup().await;
    create(&h, "app/key", json!({})).await;
    assert_eq!(current(&h, "app/key").await.unwrap(), "v1");

    ok(
        &h.svc,
        &h.admin,
        "DeleteSecret",
        json!({"SecretId": "app/key", "RecoveryWindowInDays": 7}),
    )
    .await;
    assert_eq!(
        current(&h, "app/key").await.unwrap_err(),
        "InvalidRequestException"
    );
    let described = ok(
        &h.svc,
        &h.admin,
        "DescribeSecret",
        json!({"SecretId": "app/key"}),
    )
    .await;
    assert!(described["DeletedDate"].is_number(), "{described}");

    ok(
        &h.svc,
        &h.admin,
        "RestoreSecret",
        json!({"SecretId": "app/key"}),
    )
    .await;
    assert_eq!(current(&h, "app/key").await.unwrap(), "v1");

    ok(
        &h.svc,
        &h.admin,
        "DeleteSecret",
        json!({"SecretId": "app/key", "ForceDeleteWithoutRecovery": true}),
    )
    .await;
    assert_eq!(
        current(&h, "app/key").await.unwrap_err(),
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn new_values_and_moved_labels_read_at_once() {
    let h = setup().await;
    let arn = create(&h, "app/rotating", json!({})).await;
    assert_eq!(current(&h, &arn).await.unwrap(), "v1");

    ok(
        &h.svc,
        &h.admin,
        "PutSecretValue",
        json!({"SecretId": arn, "SecretString": "v2"}),
    )
    .await;
    assert_eq!(current(&h, &arn).await.unwrap(), "v2");
    assert_eq!(
        get(&h, json!({"SecretId": arn, "VersionStage": "AWSPREVIOUS"}))
            .await
            .unwrap(),
        "v1"
    );

    let updated = ok(
        &h.svc,
        &h.admin,
        "UpdateSecret",
        json!({"SecretId": arn, "SecretString": "v3", "Description": "third"}),
    )
    .await;
    assert_eq!(current(&h, &arn).await.unwrap(), "v3");
    let described = ok(&h.svc, &h.admin, "DescribeSecret", json!({"SecretId": arn})).await;
    assert_eq!(described["Description"], "third");

    // AWSCURRENT moved back to the first version by UpdateSecretVersionStage.
    let versions = ok(
        &h.svc,
        &h.admin,
        "ListSecretVersionIds",
        json!({"SecretId": arn, "IncludeDeprecated": true}),
    )
    .await;
    let first = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["VersionId"] != updated["VersionId"] && v["VersionStages"] == json!([]))
        .map(|v| v["VersionId"].as_str().unwrap().to_owned())
        .expect("the deprecated first version");
    ok(
        &h.svc,
        &h.admin,
        "UpdateSecretVersionStage",
        json!({"SecretId": arn, "VersionStage": "AWSCURRENT",
               "MoveToVersionId": first, "RemoveFromVersionId": updated["VersionId"]}),
    )
    .await;
    assert_eq!(current(&h, &arn).await.unwrap(), "v1");
}

#[tokio::test]
async fn tags_and_resource_policies_reach_the_next_check_at_once() {
    let h = setup().await;
    let arn = create(&h, "app/guarded", json!({})).await;
    let checks = |h: &Harness| {
        let svc = h.svc.clone();
        let admin = h.admin.clone();
        async move {
            call(
                &svc,
                &admin,
                "GetSecretValue",
                json!({"SecretId": "app/guarded"}),
            )
            .await
            .checks
        }
    };
    let first = checks(&h).await;
    assert!(first[0].resource_policy.is_none());
    assert!(!first[0]
        .condition_keys
        .iter()
        .any(|(k, _)| k == "aws:ResourceTag/team"));

    ok(
        &h.svc,
        &h.admin,
        "TagResource",
        json!({"SecretId": arn, "Tags": [{"Key": "team", "Value": "payments"}]}),
    )
    .await;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"},
                       "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]
    });
    ok(
        &h.svc,
        &h.admin,
        "PutResourcePolicy",
        json!({"SecretId": arn, "ResourcePolicy": policy.to_string()}),
    )
    .await;
    let tagged = checks(&h).await;
    assert!(tagged[0]
        .condition_keys
        .contains(&("aws:ResourceTag/team".into(), "payments".into())));
    assert!(tagged[0].resource_policy.is_some(), "the Deny is evaluated");

    ok(
        &h.svc,
        &h.admin,
        "UntagResource",
        json!({"SecretId": arn, "TagKeys": ["team"]}),
    )
    .await;
    ok(
        &h.svc,
        &h.admin,
        "DeleteResourcePolicy",
        json!({ "SecretId": arn }),
    )
    .await;
    let cleared = checks(&h).await;
    assert!(cleared[0].resource_policy.is_none());
    assert!(!cleared[0]
        .condition_keys
        .iter()
        .any(|(k, _)| k == "aws:ResourceTag/team"));
}

#[tokio::test]
async fn a_disabled_customer_key_refuses_the_secret_at_once() {
    let h = setup().await;
    let key = kms(&h, "CreateKey", json!({})).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    create(&h, "app/cmk", json!({ "KmsKeyId": key })).await;
    assert_eq!(current(&h, "app/cmk").await.unwrap(), "v1");

    kms(&h, "DisableKey", json!({ "KeyId": key })).await;
    assert_eq!(
        current(&h, "app/cmk").await.unwrap_err(),
        "DecryptionFailure"
    );
    kms(&h, "EnableKey", json!({ "KeyId": key })).await;
    assert_eq!(current(&h, "app/cmk").await.unwrap(), "v1");

    // Moved to another key by UpdateSecret: sealed anew, read at once under the new key.
    let other = kms(&h, "CreateKey", json!({})).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &h.svc,
        &h.admin,
        "UpdateSecret",
        json!({"SecretId": "app/cmk", "KmsKeyId": other}),
    )
    .await;
    kms(&h, "DisableKey", json!({ "KeyId": key })).await;
    assert_eq!(current(&h, "app/cmk").await.unwrap(), "v1");
}

#[tokio::test]
async fn a_purged_secret_is_gone_at_once() {
    let h = setup().await;
    create(&h, "app/purged", json!({})).await;
    ok(
        &h.svc,
        &h.admin,
        "DeleteSecret",
        json!({"SecretId": "app/purged", "RecoveryWindowInDays": 7}),
    )
    .await;
    // Cached now: scheduled for deletion a week from now.
    assert_eq!(
        current(&h, "app/purged").await.unwrap_err(),
        "InvalidRequestException"
    );
    let purged = h
        .svc
        .purge_deleted(OffsetDateTime::now_utc() + Duration::days(8))
        .await
        .unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(
        current(&h, "app/purged").await.unwrap_err(),
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn what_a_rotation_commits_in_the_background_reads_at_once() {
    let fake = FakeRotation::new();
    let h = harness(fake.clone(), OffsetDateTime::now_utc()).await;
    fake.svc.set(Arc::downgrade(&h.svc)).ok();
    let arn = create(&h, "db/rotated", json!({})).await;
    let before = ok(&h.svc, &h.admin, "DescribeSecret", json!({"SecretId": arn})).await;
    assert!(before.get("LastRotatedDate").is_none());

    // The function fails its test step: the pending version the run left is seen at once, and
    // a new rotation is refused while it is there.
    fake.fail_at(Some("testSecret"));
    let token = "00000001-0000-4000-8000-000000000000";
    let started = call(
        &h.svc,
        &h.admin,
        "RotateSecret",
        json!({"SecretId": arn, "ClientRequestToken": token, "RotationLambdaARN": FUNCTION,
               "RotationRules": {"AutomaticallyAfterDays": 30}}),
    )
    .await
    .result;
    assert!(started.is_ok(), "{started:?}");
    h.svc.rotations_settled().await;
    let failed = ok(&h.svc, &h.admin, "DescribeSecret", json!({"SecretId": arn})).await;
    assert_eq!(failed["VersionIdsToStages"][token], json!(["AWSPENDING"]));
    assert!(failed.get("LastRotatedDate").is_none());
    assert_eq!(
        err(
            &h.svc,
            &h.admin,
            "RotateSecret",
            json!({"SecretId": arn, "ClientRequestToken": "00000002-0000-4000-8000-000000000000"})
        )
        .await
        .code,
        "InvalidRequestException",
        "a previous rotation isn't complete"
    );

    // Reattempted under its token, it succeeds: what the runner committed last (the rotation
    // date, AWSPENDING gone) shows at once. (`update_secret`'s own test in
    // `rotation/runner.rs` proves each background commit empties the cache.)
    fake.fail_at(None);
    ok(
        &h.svc,
        &h.admin,
        "RotateSecret",
        json!({"SecretId": arn, "ClientRequestToken": token}),
    )
    .await;
    h.svc.rotations_settled().await;
    let done = ok(&h.svc, &h.admin, "DescribeSecret", json!({"SecretId": arn})).await;
    assert!(done["LastRotatedDate"].is_number(), "{done}");
    assert_eq!(done["VersionIdsToStages"][token], json!(["AWSCURRENT"]));
    assert_ne!(current(&h, &arn).await.unwrap(), "v1");
}
