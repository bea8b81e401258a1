//! Rotation and the end of a retired key's publication, on a temporary store with the clock
//! given.

use std::sync::Arc;

use rampart_core::{AuditRecord, RootKeyring};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{drop_unpublished, rotate, VERIFIER_LEEWAY};
use crate::auth::tests::call;
use crate::error::UserPoolsError;
use crate::records::signing_keys::{KeyUse, SigningKeysRecord};
use crate::records::{self, ns};
use crate::UserPoolsService;

async fn service() -> (tempfile::TempDir, UserPoolsService) {
    let dir = tempfile::tempdir().unwrap();
    let store = rampart_store::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    let svc = UserPoolsService::new(
        store,
        Arc::new(RootKeyring::ephemeral()),
        "123456789012",
        "eu-west-1",
    )
    .unwrap();
    (dir, svc)
}

async fn keys(svc: &UserPoolsService, pool_id: &str) -> SigningKeysRecord {
    records::load::<SigningKeysRecord>(svc.store().as_ref(), ns::SIGNING_KEYS, pool_id)
        .await
        .unwrap()
        .unwrap()
        .record
}

fn audit(at: OffsetDateTime) -> impl FnOnce(&super::KeyRotation) -> AuditRecord {
    move |r| {
        AuditRecord::service_action(at, "test", "cognito-idp", "RotateSigningKeys", &r.pool_arn)
    }
}

#[tokio::test]
async fn retired_keys_stay_published_as_long_as_their_tokens_can_be_valid() {
    let (_dir, svc) = service().await;
    let pool = call(&svc, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    // The longest validity among the clients decides: 2 hours of ID token.
    for body in [
        json!({"UserPoolId": pool_id, "ClientName": "short"}),
        json!({"UserPoolId": pool_id, "ClientName": "long", "IdTokenValidity": 2, "TokenValidityUnits": {"IdToken": "hours"}}),
    ] {
        call(&svc, "CreateUserPoolClient", body).await;
    }
    let original: Vec<String> = keys(&svc, &pool_id)
        .await
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(original.len(), 2);

    let t0 = OffsetDateTime::now_utc();
    let store = svc.store().as_ref();
    let rotation = rotate(store, svc.keyring(), &pool_id, t0, audit(t0))
        .await
        .unwrap();
    assert_eq!(rotation.retired_kids, original);
    assert!(rotation.dropped_kids.is_empty());
    let until = t0 + Duration::hours(2) + VERIFIER_LEEWAY;
    assert_eq!(rotation.retired_published_until, until);
    let record = keys(&svc, &pool_id).await;
    assert_eq!(record.keys.len(), 4);
    for use_ in [KeyUse::IdToken, KeyUse::AccessToken] {
        assert!(rotation
            .new_kids
            .contains(&record.current(use_).unwrap().kid));
    }
    // Published now (the JWKS lists both generations), current keys first.
    let jwks = svc.jwks(&pool_id).await.unwrap().unwrap();
    let listed: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed[..2],
        [rotation.new_kids[0].as_str(), rotation.new_kids[1].as_str()]
    );

    // Kept until the last token they signed is past its leeway, then dropped.
    assert_eq!(
        drop_unpublished(store, until - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(drop_unpublished(store, until).await.unwrap(), 2);
    let left: Vec<String> = keys(&svc, &pool_id)
        .await
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(left, rotation.new_kids);
    assert_eq!(drop_unpublished(store, until).await.unwrap(), 0);

    // A rotation drops what is no longer published itself.
    let t1 = t0 + Duration::minutes(1);
    let second = rotate(store, svc.keyring(), &pool_id, t1, audit(t1))
        .await
        .unwrap();
    assert_eq!(second.retired_kids, rotation.new_kids);
    let t2 = t1 + Duration::days(1);
    let third = rotate(store, svc.keyring(), &pool_id, t2, audit(t2))
        .await
        .unwrap();
    assert_eq!(third.dropped_kids, rotation.new_kids);
    assert_eq!(third.retired_kids, second.new_kids);
    assert_eq!(keys(&svc, &pool_id).await.keys.len(), 4);
}

#[tokio::test]
async fn a_pool_without_clients_keeps_retired_keys_for_the_default_validity() {
    let (_dir, svc) = service().await;
    let pool = call(&svc, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let t0 = OffsetDateTime::now_utc();
    let rotation = rotate(svc.store().as_ref(), svc.keyring(), &pool_id, t0, audit(t0))
        .await
        .unwrap();
    assert_eq!(
        rotation.retired_published_until,
        t0 + Duration::hours(1) + VERIFIER_LEEWAY
    );
}

#[tokio::test]
async fn a_pool_that_does_not_exist_is_not_rotated() {
    let (_dir, svc) = service().await;
    let t0 = OffsetDateTime::now_utc();
    let refused = rotate(
        svc.store().as_ref(),
        svc.keyring(),
        "eu-west-1_Nothing12",
        t0,
        audit(t0),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, UserPoolsError::ResourceNotFound(_)),
        "{refused:?}"
    );
}

/// The keys are opened once per version of the pool's keys record: two reads of one version
/// share the opened keys, and a rotation (a new version) is seen by the very next read.
#[tokio::test]
async fn opened_keys_follow_the_record_version() {
    let (_dir, svc) = service().await;
    let pool = call(&svc, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let first = crate::auth::tokens::pool_keys(&svc, &pool_id)
        .await
        .unwrap();
    let again = crate::auth::tokens::pool_keys(&svc, &pool_id)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    for ((_, _, a), (_, _, b)) in first.iter().zip(&again) {
        assert!(Arc::ptr_eq(a, b), "the same version is not opened twice");
    }
    let t0 = OffsetDateTime::now_utc();
    let rotation = rotate(svc.store().as_ref(), svc.keyring(), &pool_id, t0, audit(t0))
        .await
        .unwrap();
    let after = crate::auth::tokens::pool_keys(&svc, &pool_id)
        .await
        .unwrap();
    let current: Vec<&str> = after
        .iter()
        .filter(|(_, retired, _)| !retired)
        .map(|(_, _, k)| k.kid())
        .collect();
    assert_eq!(current.len(), 2);
    for kid in &rotation.new_kids {
        assert!(
            current.contains(&kid.as_str()),
            "{kid} signs right after the rotation"
        );
    }
}
