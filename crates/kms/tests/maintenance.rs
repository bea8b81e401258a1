//! KMS's own periodic work (`KmsService::maintain`), with the clock moved forward: keys whose
//! automatic rotation period ran out get a new backing key (old ciphertexts still decrypt,
//! new ones use the new version); keys past their deletion date are destroyed with their
//! aliases and their backing material, and each change leaves an audit record.

mod common;

use common::*;
use rampart_core::audit::AuditQuery;
use rampart_kms::parse_blob;
use serde_json::json;
use time::{Duration, OffsetDateTime};

fn blob_version(ciphertext: &serde_json::Value) -> u32 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.as_str().unwrap())
        .unwrap();
    parse_blob(&raw).unwrap().backing_version
}

#[tokio::test]
async fn automatic_rotation_happens_when_its_period_runs_out() {
    let h = harness().await;
    let key = create_key(&h).await;
    call(
        &h,
        "EnableKeyRotation",
        json!({"KeyId": key, "RotationPeriodInDays": 90}),
    )
    .await
    .unwrap();
    let before = call(
        &h,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGVsbG8="}),
    )
    .await
    .unwrap();
    assert_eq!(blob_version(&before["CiphertextBlob"]), 1);

    // Not yet due: nothing happens.
    let now = OffsetDateTime::now_utc();
    let report = h.kms.maintain(now + Duration::days(89)).await.unwrap();
    assert!(report.rotated.is_empty(), "{report:?}");

    let report = h.kms.maintain(now + Duration::days(91)).await.unwrap();
    assert_eq!(report.rotated, vec![key.clone()]);
    let after = call(
        &h,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGVsbG8="}),
    )
    .await
    .unwrap();
    assert_eq!(blob_version(&after["CiphertextBlob"]), 2);
    let old = call(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": before["CiphertextBlob"]}),
    )
    .await
    .unwrap();
    assert_eq!(old["Plaintext"], "aGVsbG8=");

    // The period restarts from the rotation: a sweep the next day rotates nothing.
    let report = h.kms.maintain(now + Duration::days(92)).await.unwrap();
    assert!(report.rotated.is_empty(), "{report:?}");

    let audit = h
        .store
        .query_audit(&AuditQuery {
            operation: Some("RotateKey".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].principal_arn.as_deref(), Some("kms.amazonaws.com"));
    assert!(audit[0].checks[0].resource.ends_with(&key));
}

#[tokio::test]
async fn a_key_past_its_deletion_date_is_destroyed_with_its_aliases() {
    let h = harness().await;
    let doomed = create_key(&h).await;
    let kept = create_key(&h).await;
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/doomed", "TargetKeyId": doomed}),
    )
    .await
    .unwrap();
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/kept", "TargetKeyId": kept}),
    )
    .await
    .unwrap();
    call(
        &h,
        "ScheduleKeyDeletion",
        json!({"KeyId": doomed, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();

    let now = OffsetDateTime::now_utc();
    let report = h.kms.maintain(now + Duration::days(6)).await.unwrap();
    assert!(report.destroyed.is_empty(), "{report:?}");
    assert!(h.store.get("kms/keys", &doomed).await.unwrap().is_some());

    let report = h.kms.maintain(now + Duration::days(8)).await.unwrap();
    assert_eq!(report.destroyed, vec![doomed.clone()]);
    assert_eq!(report.aliases_deleted, vec!["alias/doomed".to_owned()]);
    // The record, and with it every sealed backing key, is gone from the store.
    assert!(h.store.get("kms/keys", &doomed).await.unwrap().is_none());
    assert!(h
        .store
        .get("kms/aliases", "alias/doomed")
        .await
        .unwrap()
        .is_none());
    assert!(h.store.get("kms/keys", &kept).await.unwrap().is_some());
    assert!(h
        .store
        .get("kms/aliases", "alias/kept")
        .await
        .unwrap()
        .is_some());

    // A second sweep has nothing left to do.
    let again = h.kms.maintain(now + Duration::days(9)).await.unwrap();
    assert!(again.destroyed.is_empty() && again.aliases_deleted.is_empty());

    let audit = h
        .store
        .query_audit(&AuditQuery {
            operation: Some("DeleteKey".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].principal_arn.as_deref(), Some("kms.amazonaws.com"));
}

#[tokio::test]
async fn a_cancelled_deletion_is_not_destroyed() {
    let h = harness().await;
    let key = create_key(&h).await;
    call(
        &h,
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();
    call(&h, "CancelKeyDeletion", json!({"KeyId": key}))
        .await
        .unwrap();
    let report = h
        .kms
        .maintain(OffsetDateTime::now_utc() + Duration::days(30))
        .await
        .unwrap();
    assert!(report.destroyed.is_empty(), "{report:?}");
    assert!(h.store.get("kms/keys", &key).await.unwrap().is_some());
}
