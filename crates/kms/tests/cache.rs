//! KMS serves the key and alias records a request names from memory (`kms/src/cache.rs`), and
//! every change made through this node shows at once: each test warms the cache with a read,
//! changes the key or alias through the API or the maintenance sweep, and expects the very
//! next request to see the change.

mod common;

use std::sync::Arc;

use common::counting::CountingStore;
use common::*;
use rampart_kms::parse_blob;
use rampart_store::Store;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

fn blob_key_and_version(ciphertext: &Value) -> (String, u32) {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.as_str().unwrap())
        .unwrap();
    let blob = parse_blob(&raw).unwrap();
    (blob.key_id, blob.backing_version)
}

async fn encrypt(h: &Harness, key: &str) -> Value {
    call(h, "Encrypt", json!({"KeyId": key, "Plaintext": "aGVsbG8="}))
        .await
        .unwrap()["CiphertextBlob"]
        .clone()
}

async fn decrypt(h: &Harness, blob: &Value) -> Result<Value, String> {
    call(h, "Decrypt", json!({ "CiphertextBlob": blob }))
        .await
        .map_err(|e| e.code.to_string())
}

/// A harness whose store notes every read, and that store.
async fn counting() -> (Harness, Arc<CountingStore>) {
    let mut counting = None;
    let h = harness_over(|store| {
        let c = Arc::new(CountingStore::new(store));
        counting = Some(c.clone());
        c as Arc<dyn Store>
    })
    .await;
    (h, counting.unwrap())
}

#[tokio::test]
async fn a_repeated_request_reads_its_key_and_alias_from_memory() {
    let (h, store) = counting().await;
    let key = create_key(&h).await;
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": key}),
    )
    .await
    .unwrap();
    store.take_reads();

    // The alias write emptied the caches: the first request reads the alias and its key.
    let blob = encrypt(&h, "alias/app").await;
    assert_eq!(store.take_reads(), ["kms/aliases", "kms/keys"]);
    decrypt(&h, &blob).await.unwrap();
    encrypt(&h, "alias/app").await;
    decrypt(&h, &blob).await.unwrap();
    assert!(
        store.take_reads().is_empty(),
        "warm requests read nothing from the store"
    );
}

#[tokio::test]
async fn a_disabled_key_refuses_at_once() {
    let h = harness().await;
    let key = create_key(&h).await;
    let blob = encrypt(&h, &key).await;
    decrypt(&h, &blob).await.unwrap();

    call(&h, "DisableKey", json!({ "KeyId": key }))
        .await
        .unwrap();
    assert_eq!(decrypt(&h, &blob).await.unwrap_err(), "DisabledException");
    assert_eq!(
        error(
            &h,
            "Encrypt",
            json!({"KeyId": key, "Plaintext": "aGVsbG8="})
        )
        .await,
        "DisabledException"
    );

    call(&h, "EnableKey", json!({ "KeyId": key }))
        .await
        .unwrap();
    decrypt(&h, &blob).await.unwrap();
}

#[tokio::test]
async fn a_key_scheduled_for_deletion_refuses_at_once() {
    let h = harness().await;
    let key = create_key(&h).await;
    let blob = encrypt(&h, &key).await;
    decrypt(&h, &blob).await.unwrap();

    call(
        &h,
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();
    assert_eq!(
        decrypt(&h, &blob).await.unwrap_err(),
        "KMSInvalidStateException"
    );
    // Cancelled, it is disabled (as on AWS), and says so at once.
    call(&h, "CancelKeyDeletion", json!({ "KeyId": key }))
        .await
        .unwrap();
    assert_eq!(decrypt(&h, &blob).await.unwrap_err(), "DisabledException");
}

#[tokio::test]
async fn a_key_destroyed_by_the_sweep_is_gone_at_once() {
    let h = harness().await;
    let key = create_key(&h).await;
    let blob = encrypt(&h, &key).await;
    call(
        &h,
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();
    // Cached now: pending deletion, its date a week away.
    assert_eq!(
        decrypt(&h, &blob).await.unwrap_err(),
        "KMSInvalidStateException"
    );

    let report = h
        .kms
        .maintain(OffsetDateTime::now_utc() + Duration::days(8))
        .await
        .unwrap();
    assert_eq!(report.destroyed, vec![key.clone()]);
    // The record is gone from memory too: the blob names no key any more.
    assert_eq!(
        decrypt(&h, &blob).await.unwrap_err(),
        "InvalidCiphertextException"
    );
}

#[tokio::test]
async fn a_new_key_policy_applies_at_once() {
    let h = harness().await;
    let key = create_key(&h).await;
    let policy = |checks: &[rampart_wire::Check]| {
        checks[0]
            .resource_policy
            .as_ref()
            .and_then(|p| p.document.clone())
            .unwrap_or_default()
    };
    let blob = encrypt(&h, &key).await;
    let before = policy(&checks(&h, "Decrypt", json!({ "CiphertextBlob": blob })).await);
    assert!(!before.contains("CacheTest"), "{before}");

    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CacheTest",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    call(
        &h,
        "PutKeyPolicy",
        json!({"KeyId": key, "PolicyName": "default", "Policy": document.to_string()}),
    )
    .await
    .unwrap();
    let after = policy(&checks(&h, "Decrypt", json!({ "CiphertextBlob": blob })).await);
    assert!(after.contains("CacheTest"), "{after}");
}

#[tokio::test]
async fn alias_changes_apply_at_once() {
    let h = harness().await;
    let first = create_key(&h).await;
    let second = create_key(&h).await;
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/moving", "TargetKeyId": first}),
    )
    .await
    .unwrap();
    assert_eq!(
        blob_key_and_version(&encrypt(&h, "alias/moving").await).0,
        first
    );

    call(
        &h,
        "UpdateAlias",
        json!({"AliasName": "alias/moving", "TargetKeyId": second}),
    )
    .await
    .unwrap();
    assert_eq!(
        blob_key_and_version(&encrypt(&h, "alias/moving").await).0,
        second
    );

    call(&h, "DeleteAlias", json!({"AliasName": "alias/moving"}))
        .await
        .unwrap();
    assert_eq!(
        error(
            &h,
            "Encrypt",
            json!({"KeyId": "alias/moving", "Plaintext": "aGVsbG8="})
        )
        .await,
        "NotFoundException"
    );
}

#[tokio::test]
async fn rotations_apply_at_once() {
    let h = harness().await;
    let key = create_key(&h).await;
    let old = encrypt(&h, &key).await;
    assert_eq!(blob_key_and_version(&old).1, 1);

    call(&h, "RotateKeyOnDemand", json!({ "KeyId": key }))
        .await
        .unwrap();
    assert_eq!(blob_key_and_version(&encrypt(&h, &key).await).1, 2);

    call(
        &h,
        "EnableKeyRotation",
        json!({"KeyId": key, "RotationPeriodInDays": 90}),
    )
    .await
    .unwrap();
    let status = call(&h, "GetKeyRotationStatus", json!({ "KeyId": key }))
        .await
        .unwrap();
    assert_eq!(status["KeyRotationEnabled"], true);

    // The sweep's automatic rotation shows at once too.
    let report = h
        .kms
        .maintain(OffsetDateTime::now_utc() + Duration::days(91))
        .await
        .unwrap();
    assert_eq!(report.rotated, vec![key.clone()]);
    assert_eq!(blob_key_and_version(&encrypt(&h, &key).await).1, 3);
    // Every earlier version still opens.
    decrypt(&h, &old).await.unwrap();
}
