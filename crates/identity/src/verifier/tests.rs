//! One test per refusal the issue lists, one acceptance, and the JWKS cache's behaviour.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use serde_json::json;

use super::*;
use crate::tokens::{
    issuer, AccessTokenClaims, IdTokenClaims, PoolSigningKeys, SignIn, SigningKey,
};

const POOL: &str = "us-east-1_PoolA";
const CLIENT: &str = "client-a";

/// A JWKS served from memory, counting fetches.
struct Served {
    jwks: Mutex<JwkSet>,
    fetches: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl JwksFetcher for Served {
    async fn fetch(&self, jwks_uri: &str) -> Result<JwkSet, FetchError> {
        assert_eq!(
            jwks_uri,
            format!("http://rampart.test/{POOL}/.well-known/jwks.json")
        );
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(FetchError("connection refused".into()));
        }
        Ok(self.jwks.lock().unwrap().clone())
    }
}

/// Revokes every token of one family.
struct RevokedFamily(String);

#[async_trait]
impl RevocationCheck for RevokedFamily {
    async fn is_revoked(&self, token: &VerifiedToken) -> Result<bool, FetchError> {
        Ok(token.claim_str("origin_jti") == Some(self.0.as_str()))
    }
}

struct Pool {
    keys: PoolSigningKeys,
    served: Arc<Served>,
    now: OffsetDateTime,
}

impl Pool {
    fn new() -> Self {
        let keys = PoolSigningKeys::generate().unwrap();
        let served = Arc::new(Served {
            jwks: Mutex::new(keys.jwks(&[])),
            fetches: AtomicUsize::new(0),
            fail: false.into(),
        });
        Self {
            keys,
            served,
            now: time::macros::datetime!(2026-11-30 13:00 UTC),
        }
    }

    fn sign_in(&self) -> SignIn {
        SignIn {
            issuer: issuer("http://rampart.test", POOL),
            client_id: CLIENT.into(),
            sub: "sub-1".into(),
            username: "alice".into(),
            groups: vec!["admins".into()],
            auth_time: self.now,
            origin_jti: "family-1".into(),
            event_id: "event-1".into(),
        }
    }

    fn access_token(&self) -> String {
        let claims = AccessTokenClaims::new(&self.sign_in(), self.now, Duration::hours(1));
        self.keys.access_token.sign(&claims).unwrap()
    }

    fn id_token(&self) -> String {
        let claims = IdTokenClaims::new(
            &self.sign_in(),
            Default::default(),
            self.now,
            Duration::hours(1),
        );
        self.keys.id_token.sign(&claims).unwrap()
    }

    fn config(&self) -> VerifierConfig {
        let mut config =
            VerifierConfig::new(issuer("http://rampart.test", POOL), vec![CLIENT.into()]);
        config.token_use = Some(TokenUse::Access);
        config
    }

    fn verifier(&self) -> JwtVerifier {
        JwtVerifier::new(self.config(), self.served.clone())
    }

    /// Signs arbitrary claims with the pool's access-token key.
    fn sign_claims(&self, claims: Value) -> String {
        self.keys.access_token.sign(&claims).unwrap()
    }

    fn access_claims(&self) -> Value {
        serde_json::to_value(AccessTokenClaims::new(
            &self.sign_in(),
            self.now,
            Duration::hours(1),
        ))
        .unwrap()
    }

    async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        self.verifier().verify_at(token, self.now).await
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn accepts_a_valid_access_token() {
    let pool = Pool::new();
    let verified = pool.verify(&pool.access_token()).await.unwrap();
    assert_eq!(verified.kid, pool.keys.access_token.kid());
    assert_eq!(verified.claim_str("username"), Some("alice"));
    assert_eq!(verified.token_use(), Some(TokenUse::Access));
    // And an ID token, where the verifier asks for one (audience from `aud`).
    let mut config = pool.config();
    config.token_use = Some(TokenUse::Id);
    let verifier = JwtVerifier::new(config, pool.served.clone());
    let verified = verifier
        .verify_at(&pool.id_token(), pool.now)
        .await
        .unwrap();
    assert_eq!(verified.claim_str("cognito:username"), Some("alice"));
}

#[tokio::test]
async fn refuses_alg_none() {
    let pool = Pool::new();
    let header = json!({"alg": "none", "kid": pool.keys.access_token.kid()});
    let token = format!("{}.{}.", b64(&header), b64(&pool.access_claims()));
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::Algorithm("none".into())
    );
    // Without the trailing dot, and with a lowercase variant, too.
    let token = format!("{}.{}", b64(&header), b64(&pool.access_claims()));
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::Malformed
    );
    let header = json!({"alg": "None", "kid": pool.keys.access_token.kid()});
    let token = format!("{}.{}.", b64(&header), b64(&pool.access_claims()));
    assert!(matches!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::Algorithm(_)
    ));
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_public_key() {
    let pool = Pool::new();
    let jwk = pool.keys.access_token.jwk();
    let header = json!({"alg": "HS256", "kid": jwk.kid});
    let signed = format!("{}.{}", b64(&header), b64(&pool.access_claims()));
    // Every form a confused verifier might use as the "secret".
    let secrets: Vec<Vec<u8>> = vec![
        serde_json::to_vec(&jwk).unwrap(),
        URL_SAFE_NO_PAD.decode(&jwk.n).unwrap(),
        jwk.n.clone().into_bytes(),
    ];
    for secret in secrets {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            signed.as_bytes(),
        );
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(
            pool.verify(&token).await.unwrap_err(),
            VerifyError::Algorithm("HS256".into())
        );
    }
}

#[tokio::test]
async fn refuses_an_unknown_kid() {
    let pool = Pool::new();
    let stranger = SigningKey::generate().unwrap();
    let token = stranger.sign(&pool.access_claims()).unwrap();
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    // A header without a kid at all.
    let header = json!({"alg": "RS256"});
    let token = format!("{}.{}.AAAA", b64(&header), b64(&pool.access_claims()));
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn refuses_a_kid_of_another_pools_key() {
    let pool = Pool::new();
    let other = Pool::new();
    // Pool B's key signs claims that name pool A as issuer and A's client: B's kid is not in A's
    // JWKS, so A's verifier never uses it.
    let token = other.keys.access_token.sign(&pool.access_claims()).unwrap();
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    // Nor does relabelling it with A's kid help: A's key does not verify B's signature.
    let parts: Vec<&str> = token.split('.').collect();
    let header = json!({"alg": "RS256", "kid": pool.keys.access_token.kid()});
    let relabelled = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    assert_eq!(
        pool.verify(&relabelled).await.unwrap_err(),
        VerifyError::Signature
    );
}

#[tokio::test]
async fn refuses_an_expired_token() {
    let pool = Pool::new();
    let token = pool.access_token();
    let verifier = pool.verifier();
    let expiry = pool.now + Duration::hours(1);
    assert!(
        verifier
            .verify_at(&token, expiry + Duration::seconds(30))
            .await
            .is_ok(),
        "within the leeway"
    );
    assert_eq!(
        verifier
            .verify_at(&token, expiry + Duration::seconds(31))
            .await
            .unwrap_err(),
        VerifyError::Expired
    );
    // No exp at all is not "never expires".
    let mut claims = pool.access_claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::Expired
    );
}

#[tokio::test]
async fn refuses_a_token_not_yet_valid() {
    let pool = Pool::new();
    let mut claims = pool.access_claims();
    claims["nbf"] = json!(pool.now.unix_timestamp() + 120);
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::NotYetValid
    );
    let mut claims = pool.access_claims();
    claims["iat"] = json!(pool.now.unix_timestamp() + 120);
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::NotYetValid
    );
    let mut claims = pool.access_claims();
    claims["iat"] = json!(pool.now.unix_timestamp() + 20);
    assert!(
        pool.verify(&pool.sign_claims(claims)).await.is_ok(),
        "within the leeway"
    );
}

#[tokio::test]
async fn refuses_a_wrong_issuer() {
    let pool = Pool::new();
    for iss in [
        json!("http://rampart.test/us-east-1_PoolB"),
        json!("http://rampart.test/us-east-1_PoolA/"),
        json!("HTTP://rampart.test/us-east-1_PoolA"),
        json!(null),
    ] {
        let mut claims = pool.access_claims();
        claims["iss"] = iss.clone();
        assert_eq!(
            pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
            VerifyError::Issuer,
            "{iss}"
        );
    }
}

#[tokio::test]
async fn refuses_a_wrong_audience_or_client_id() {
    let pool = Pool::new();
    let mut claims = pool.access_claims();
    claims["client_id"] = json!("client-b");
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::Audience
    );
    let mut claims = pool.access_claims();
    claims.as_object_mut().unwrap().remove("client_id");
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::Audience
    );
    // An `aud` is decisive when present, whatever client_id says.
    let mut claims = pool.access_claims();
    claims["aud"] = json!(["client-b", "client-c"]);
    assert_eq!(
        pool.verify(&pool.sign_claims(claims)).await.unwrap_err(),
        VerifyError::Audience
    );
    let mut claims = pool.access_claims();
    claims["aud"] = json!(["client-b", CLIENT]);
    assert!(pool.verify(&pool.sign_claims(claims)).await.is_ok());
}

#[tokio::test]
async fn refuses_a_tampered_payload() {
    let pool = Pool::new();
    let token = pool.access_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = pool.access_claims();
    claims["username"] = json!("mallory");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(
        pool.verify(&tampered).await.unwrap_err(),
        VerifyError::Signature
    );
    // A flipped bit in the signature, too.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert_eq!(
        pool.verify(&flipped).await.unwrap_err(),
        VerifyError::Signature
    );
}

#[tokio::test]
async fn refuses_an_id_token_where_an_access_token_is_required() {
    let pool = Pool::new();
    assert_eq!(
        pool.verify(&pool.id_token()).await.unwrap_err(),
        VerifyError::TokenUse
    );
}

#[tokio::test]
async fn refuses_a_revoked_token() {
    let pool = Pool::new();
    let verifier = pool
        .verifier()
        .with_revocation(Arc::new(RevokedFamily("family-1".into())));
    assert_eq!(
        verifier
            .verify_at(&pool.access_token(), pool.now)
            .await
            .unwrap_err(),
        VerifyError::Revoked
    );
    let verifier = pool
        .verifier()
        .with_revocation(Arc::new(RevokedFamily("family-2".into())));
    assert!(verifier
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
}

#[tokio::test]
async fn refuses_garbage() {
    let pool = Pool::new();
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    for token in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "e30.e30.",
        "W10.e30.AAAA",
        huge.as_str(),
    ] {
        assert!(pool.verify(token).await.is_err(), "{token:.20}");
    }
    let header = json!({"alg": "RS256", "kid": pool.keys.access_token.kid(), "crit": ["exp"]});
    let token = format!("{}.{}.AAAA", b64(&header), b64(&pool.access_claims()));
    assert_eq!(
        pool.verify(&token).await.unwrap_err(),
        VerifyError::Malformed
    );
}

#[tokio::test]
async fn unknown_kids_refresh_the_jwks_at_most_once_per_interval() {
    let pool = Pool::new();
    let verifier = pool.verifier();
    assert!(verifier
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
    assert_eq!(pool.served.fetches.load(Ordering::SeqCst), 1);
    // Cached: no fetch for a known kid.
    assert!(verifier
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
    assert_eq!(pool.served.fetches.load(Ordering::SeqCst), 1);
    // A rotated-in key appears in the JWKS; the first fetch was just now, so the refresh waits.
    let rotated = SigningKey::generate().unwrap();
    pool.served.jwks.lock().unwrap().keys.push(rotated.jwk());
    let token = rotated.sign(&pool.access_claims()).unwrap();
    for _ in 0..20 {
        assert_eq!(
            verifier.verify_at(&token, pool.now).await.unwrap_err(),
            VerifyError::UnknownKey
        );
    }
    assert_eq!(
        pool.served.fetches.load(Ordering::SeqCst),
        1,
        "made-up kids cause no fetch storm"
    );
    // Once the interval allows it, one refresh finds the new key.
    let mut config = pool.config();
    config.min_refresh_interval = std::time::Duration::ZERO;
    let eager = JwtVerifier::new(config, pool.served.clone());
    assert!(eager
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
    assert!(eager.verify_at(&token, pool.now).await.is_ok());
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_known_keys() {
    let pool = Pool::new();
    let mut config = pool.config();
    config.min_refresh_interval = std::time::Duration::ZERO;
    let verifier = JwtVerifier::new(config, pool.served.clone());
    pool.served.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        verifier
            .verify_at(&pool.access_token(), pool.now)
            .await
            .unwrap_err(),
        VerifyError::KeysUnavailable
    );
    // Within the refresh interval an unreachable issuer is still "unavailable", not "unknown key".
    let patient = JwtVerifier::new(pool.config(), pool.served.clone());
    for _ in 0..2 {
        assert_eq!(
            patient
                .verify_at(&pool.access_token(), pool.now)
                .await
                .unwrap_err(),
            VerifyError::KeysUnavailable
        );
    }
    pool.served.fail.store(false, Ordering::SeqCst);
    assert!(verifier
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
    pool.served.fail.store(true, Ordering::SeqCst);
    let stranger = SigningKey::generate()
        .unwrap()
        .sign(&pool.access_claims())
        .unwrap();
    assert_eq!(
        verifier.verify_at(&stranger, pool.now).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    assert!(verifier
        .verify_at(&pool.access_token(), pool.now)
        .await
        .is_ok());
}

#[tokio::test]
async fn weak_or_foreign_keys_in_a_jwks_are_ignored() {
    let key = SigningKey::generate().unwrap();
    let good = key.jwk();
    let mut hs = good.clone();
    hs.alg = Some("HS256".into());
    let mut enc = good.clone();
    enc.key_use = Some("enc".into());
    let mut ec = good.clone();
    ec.kty = "EC".into();
    let mut short = good.clone();
    short.n = URL_SAFE_NO_PAD.encode([0xffu8; 128]);
    for jwk in [hs, enc, ec, short] {
        assert!(
            usable_keys(&JwkSet {
                keys: vec![jwk.clone()]
            })
            .is_empty(),
            "{jwk:?}"
        );
    }
    let mut unlabelled = good.clone();
    unlabelled.alg = None;
    unlabelled.key_use = None;
    assert_eq!(
        usable_keys(&JwkSet {
            keys: vec![unlabelled]
        })
        .len(),
        1
    );
}
