//! The identity core's costs: one Argon2id hash at the configured (OWASP) cost, which a
//! `USER_PASSWORD_AUTH` sign-in pays once; SRP's server-side math for one sign-in (`B`, `u`, `S`
//! and the session key at `InitiateAuth`, the claim check at `RespondToAuthChallenge`; the issue
//! asks ≤ 5 ms); and RS256 JWT verification with a cached JWKS (the gateway's per-request cost).
//! Figures are recorded in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_identity::password::{Argon2Cost, PasswordHasher};
use rampart_identity::srp::{
    format_timestamp, verify_password_claim, PasswordClaim, PasswordVerifier, ServerChallenge,
};
use rampart_identity::tokens::{AccessTokenClaims, JwkSet, PoolSigningKeys, SignIn, TokenUse};
use rampart_identity::verifier::{FetchError, JwksFetcher, JwtVerifier, VerifierConfig};
use time::{Duration, OffsetDateTime};

fn argon2id(c: &mut Criterion) {
    let hasher = PasswordHasher::new(Argon2Cost::default()).expect("hasher");
    let stored = hasher.hash("Correct-Horse1!").expect("hash");
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("hash m=19456 t=2 p=1", |b| {
        b.iter(|| hasher.hash(black_box("Correct-Horse1!")).expect("hash"))
    });
    group.bench_function("verify m=19456 t=2 p=1", |b| {
        b.iter(|| hasher.verify(black_box("Correct-Horse1!"), &stored))
    });
    group.finish();
}

fn srp(c: &mut Criterion) {
    let verifier = PasswordVerifier::new("AbC123", "alice", "Correct-Horse1!").expect("verifier");
    // A client's A: any residue g^a does for the server's cost; another verifier's v is one.
    let other = PasswordVerifier::new("AbC123", "client", "a")
        .expect("a")
        .to_bytes();
    let srp_a: String = other[other.len() - rampart_identity::srp::MODULUS_BYTES..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = OffsetDateTime::now_utc();
    let timestamp = format_timestamp(now);
    let secret_block = [7u8; 64];
    let mut group = c.benchmark_group("srp");
    group.sample_size(20);
    group.bench_function("server side of one sign-in", |b| {
        b.iter(|| {
            let challenge = ServerChallenge::begin(&verifier, black_box(&srp_a)).expect("begin");
            // A wrong signature costs the same HMAC as a right one.
            let claim = PasswordClaim {
                secret_block: &secret_block,
                timestamp: &timestamp,
                signature: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            };
            let _ = black_box(verify_password_claim(
                &challenge.session_key,
                "AbC123",
                "alice",
                &claim,
                now,
                Duration::minutes(5),
            ));
        })
    });
    group.bench_function("verifier at password set", |b| {
        b.iter(|| PasswordVerifier::new("AbC123", black_box("alice"), "Correct-Horse1!"))
    });
    group.finish();
}

struct Fixed(JwkSet);

#[async_trait]
impl JwksFetcher for Fixed {
    async fn fetch(&self, _: &str) -> Result<JwkSet, FetchError> {
        Ok(self.0.clone())
    }
}

fn jwt(c: &mut Criterion) {
    let keys = PoolSigningKeys::generate().expect("keys");
    let now = OffsetDateTime::now_utc();
    let sign_in = SignIn {
        issuer: "http://127.0.0.1:4566/us-east-1_AbC123".into(),
        client_id: "client".into(),
        sub: "sub".into(),
        username: "alice".into(),
        groups: vec!["admins".into()],
        auth_time: now,
        origin_jti: "origin".into(),
        event_id: "event".into(),
    };
    let token = keys
        .access_token
        .sign(&AccessTokenClaims::new(&sign_in, now, Duration::hours(1)))
        .expect("sign");
    let mut config = VerifierConfig::new(sign_in.issuer.clone(), vec!["client".into()]);
    config.token_use = Some(TokenUse::Access);
    let verifier = JwtVerifier::new(config, Arc::new(Fixed(keys.jwks(&[]))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(verifier.verify_at(&token, now))
        .expect("valid");
    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify RS256 access token (cached JWKS)", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.verify_at(black_box(&token), now))
                .expect("valid")
        })
    });
    let claims = AccessTokenClaims::new(&sign_in, now, Duration::hours(1));
    group.bench_function("sign RS256 access token", |b| {
        b.iter(|| keys.access_token.sign(black_box(&claims)).expect("sign"))
    });
    group.finish();
}

criterion_group!(benches, argon2id, srp, jwt);
criterion_main!(benches);
