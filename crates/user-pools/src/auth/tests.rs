//! Tokens from a real sign-in, checked with the identity crate's verifier against the pool's
//! JWKS as the store holds it (the JWKS HTTP route is served elsewhere).

use std::sync::Arc;

use rampart_core::RootKeyring;
use rampart_identity::tokens::{JwkSet, TokenUse};
use rampart_identity::verifier::{
    FetchError, JwksFetcher, JwtVerifier, VerifierConfig, VerifyError,
};
use rampart_wire::{Input, OperationContext, Service};
use serde_json::{json, Value};

use crate::UserPoolsService;

struct Fixed(JwkSet);

#[async_trait::async_trait]
impl JwksFetcher for Fixed {
    async fn fetch(&self, _: &str) -> Result<JwkSet, FetchError> {
        Ok(self.0.clone())
    }
}

pub(crate) async fn call(svc: &UserPoolsService, op: &str, body: Value) -> Value {
    let spec = crate::OPERATIONS
        .iter()
        .find(|s| s.name == op)
        .expect("a known operation");
    let ctx = || OperationContext {
        request_id: "test",
        caller: None,
        region: "eu-west-1",
        operation: spec,
        verdicts: &[],
    };
    let prepared = svc
        .prepare(
            &ctx(),
            Input::Json(serde_json::to_vec(&body).unwrap().into()),
        )
        .await
        .unwrap_or_else(|e| panic!("{op}: {e:?}"));
    match prepared.execute(ctx()).await {
        Ok(rampart_wire::Output::Json(bytes)) => serde_json::from_slice(&bytes).unwrap(),
        other => panic!("{op}: {other:?}"),
    }
}

#[tokio::test]
async fn signed_in_tokens_verify_against_the_pools_jwks() {
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
    .unwrap()
    .with_public_url("http://127.0.0.1:4566");
    let pool = call(&svc, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = call(
        &svc,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "c", "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &svc,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "u", "MessageAction": "SUPPRESS"}),
    )
    .await;
    call(&svc, "AdminSetUserPassword", json!({"UserPoolId": pool_id, "Username": "u", "Password": "Passw0rd!Passw0rd", "Permanent": true})).await;
    let signed_in = call(
        &svc,
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "u", "PASSWORD": "Passw0rd!Passw0rd"}}),
    )
    .await;
    let result = &signed_in["AuthenticationResult"];
    let access = result["AccessToken"].as_str().unwrap();
    let id = result["IdToken"].as_str().unwrap();

    let jwks = super::tokens::jwks(&svc, &pool_id).await.unwrap();
    assert_eq!(
        jwks.keys.len(),
        2,
        "one key for ID tokens, one for access tokens"
    );
    let issuer = format!("http://127.0.0.1:4566/{pool_id}");
    let verifier = |token_use| {
        let mut config = VerifierConfig::new(issuer.clone(), vec![client_id.clone()]);
        config.token_use = Some(token_use);
        JwtVerifier::new(config, Arc::new(Fixed(jwks.clone())))
    };
    let verified = verifier(TokenUse::Access).verify(access).await.unwrap();
    assert_eq!(verified.claim_str("username"), Some("u"));
    assert_eq!(
        verified.claim_str("scope"),
        Some("aws.cognito.signin.user.admin")
    );
    let verified = verifier(TokenUse::Id).verify(id).await.unwrap();
    assert_eq!(verified.claim_str("cognito:username"), Some("u"));
    assert_eq!(verified.claim_str("aud"), Some(client_id.as_str()));
    // An ID token where an access token is required, and the reverse, are refused.
    assert_eq!(
        verifier(TokenUse::Access).verify(id).await.unwrap_err(),
        VerifyError::TokenUse
    );
    assert_eq!(
        verifier(TokenUse::Id).verify(access).await.unwrap_err(),
        VerifyError::TokenUse
    );
    // Another pool's keys do not verify this pool's tokens.
    let other = call(&svc, "CreateUserPool", json!({"PoolName": "q"})).await;
    let other_jwks = super::tokens::jwks(&svc, other["UserPool"]["Id"].as_str().unwrap())
        .await
        .unwrap();
    let mut config = VerifierConfig::new(issuer.clone(), vec![client_id.clone()]);
    config.token_use = Some(TokenUse::Access);
    let wrong = JwtVerifier::new(config, Arc::new(Fixed(other_jwks)));
    assert_eq!(
        wrong.verify(access).await.unwrap_err(),
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn a_hash_at_another_cost_is_renewed_at_sign_in() {
    use rampart_identity::password::Argon2Cost;

    let dir = tempfile::tempdir().unwrap();
    let store = rampart_store::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    let keyring = Arc::new(RootKeyring::ephemeral());
    let cheap = Argon2Cost {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    let old = UserPoolsService::new(store.clone(), keyring.clone(), "123456789012", "eu-west-1")
        .unwrap()
        .with_argon2_cost(cheap)
        .unwrap();
    let pool = call(&old, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = call(
        &old,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "c", "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &old,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "u", "MessageAction": "SUPPRESS"}),
    )
    .await;
    call(&old, "AdminSetUserPassword", json!({"UserPoolId": pool_id, "Username": "u", "Password": "Passw0rd!Passw0rd", "Permanent": true})).await;
    let hash = |svc: &UserPoolsService| {
        let svc_store = svc.store.clone();
        let keyring = keyring.clone();
        let pool_id = pool_id.clone();
        async move {
            let user = crate::records::load::<crate::records::user::UserRecord>(
                svc_store.as_ref(),
                crate::records::ns::USERS,
                &format!("{pool_id}/u"),
            )
            .await
            .unwrap()
            .unwrap()
            .record;
            crate::sealing::open_text(
                &keyring,
                rampart_core::SealPurpose::UserPasswordHash,
                &crate::sealing::user_context(&pool_id, &user.sub),
                &user.password.unwrap().sealed_hash,
            )
            .unwrap()
            .to_string()
        }
    };
    assert!(hash(&old).await.contains("m=8192,t=1"));
    let new =
        UserPoolsService::new(store.clone(), keyring.clone(), "123456789012", "eu-west-1").unwrap();
    let signed_in = call(
        &new,
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "u", "PASSWORD": "Passw0rd!Passw0rd"}}),
    )
    .await;
    assert!(signed_in["AuthenticationResult"]["AccessToken"].is_string());
    assert!(hash(&new).await.contains("m=19456,t=2"));
}

#[tokio::test]
async fn the_sweep_forgets_families_and_refresh_tokens_once_expired() {
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
    let pool = call(&svc, "CreateUserPool", json!({"PoolName": "p"})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = call(
        &svc,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "c", "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &svc,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "u", "MessageAction": "SUPPRESS"}),
    )
    .await;
    call(&svc, "AdminSetUserPassword", json!({"UserPoolId": pool_id, "Username": "u", "Password": "Passw0rd!Passw0rd", "Permanent": true})).await;
    call(
        &svc,
        "InitiateAuth",
        json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "u", "PASSWORD": "Passw0rd!Passw0rd"}}),
    )
    .await;
    let now = time::OffsetDateTime::now_utc();
    let report = svc.sweep_sign_in_state(now).await.unwrap();
    assert_eq!(report, Default::default(), "nothing has expired yet");
    let report = svc
        .sweep_sign_in_state(now + time::Duration::days(31))
        .await
        .unwrap();
    assert_eq!((report.refresh_tokens, report.families), (1, 1));
}
