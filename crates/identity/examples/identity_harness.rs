//! The server side of the identity core behind a line protocol, so real client libraries in
//! other languages can be driven against it (tests/compat/test_identity_core.py runs pycognito,
//! PyJWT and, through tests/compat/js/, amazon-cognito-identity-js and aws-jwt-verify).
//!
//! One JSON object per line on stdin, one answer per line on stdout:
//! - `{"op":"register","pool_id","user","password"}` → `{"verifier"}` (base64 of the stored form)
//! - `{"op":"challenge","pool_id","user","verifier","srp_a"}` →
//!   `{"srp_b","salt","secret_block","session"}` (the session key travels back to the caller,
//!   standing in for the sealed challenge session the API will keep)
//! - `{"op":"verify","pool_id","user","session","secret_block","timestamp","signature"}` →
//!   `{"ok":true}` or `{"ok":false,"error"}`
//! - `{"op":"tokens","issuer","client_id","username","sub","email"}` →
//!   `{"jwks","id_token","access_token","openid_configuration"}` (one key pair per process)
//!
//! A test tool: it prints session keys. Never wire it into anything else.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rampart_identity::srp::{
    pool_name_for_srp, verify_password_claim, PasswordClaim, PasswordVerifier, ServerChallenge,
    SessionKey,
};
use rampart_identity::tokens::{
    openid_configuration, AccessTokenClaims, IdTokenClaims, PoolSigningKeys, SignIn,
};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

fn main() {
    let keys = PoolSigningKeys::generate().expect("keys");
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => handle(&keys, &request).unwrap_or_else(|e| json!({ "error": e })),
            Err(e) => json!({ "error": e.to_string() }),
        };
        writeln!(stdout, "{answer}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}

fn field<'a>(request: &'a Value, name: &str) -> Result<&'a str, String> {
    request[name]
        .as_str()
        .ok_or_else(|| format!("missing {name}"))
}

fn bytes(request: &Value, name: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(field(request, name)?)
        .map_err(|e| format!("{name}: {e}"))
}

fn handle(keys: &PoolSigningKeys, request: &Value) -> Result<Value, String> {
    match field(request, "op")? {
        "register" => {
            let pool = pool_name_for_srp(field(request, "pool_id")?);
            let verifier =
                PasswordVerifier::new(pool, field(request, "user")?, field(request, "password")?)
                    .map_err(|e| e.to_string())?;
            Ok(json!({ "verifier": STANDARD.encode(verifier.to_bytes().as_slice()) }))
        }
        "challenge" => {
            let verifier = PasswordVerifier::from_bytes(&bytes(request, "verifier")?)
                .map_err(|e| e.to_string())?;
            let challenge = ServerChallenge::begin(&verifier, field(request, "srp_a")?)
                .map_err(|e| e.to_string())?;
            let mut secret_block = [0u8; 64];
            aws_lc_rs::rand::fill(&mut secret_block).map_err(|e| e.to_string())?;
            Ok(json!({
                "srp_b": challenge.srp_b,
                "salt": challenge.salt,
                "secret_block": STANDARD.encode(secret_block),
                "session": STANDARD.encode(challenge.session_key.as_bytes()),
            }))
        }
        "verify" => {
            let session: [u8; 16] = bytes(request, "session")?
                .try_into()
                .map_err(|_| "session is not 16 bytes".to_string())?;
            let secret_block = bytes(request, "secret_block")?;
            let claim = PasswordClaim {
                secret_block: &secret_block,
                timestamp: field(request, "timestamp")?,
                signature: field(request, "signature")?,
            };
            let result = verify_password_claim(
                &SessionKey::from_bytes(session),
                pool_name_for_srp(field(request, "pool_id")?),
                field(request, "user")?,
                &claim,
                OffsetDateTime::now_utc(),
                Duration::minutes(5),
            );
            Ok(match result {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            })
        }
        "tokens" => {
            let now = OffsetDateTime::now_utc();
            let issuer = field(request, "issuer")?.to_string();
            let sign_in = SignIn {
                issuer: issuer.clone(),
                client_id: field(request, "client_id")?.to_string(),
                sub: field(request, "sub")?.to_string(),
                username: field(request, "username")?.to_string(),
                groups: vec!["readers".into()],
                auth_time: now,
                origin_jti: uuid::Uuid::new_v4().to_string(),
                event_id: uuid::Uuid::new_v4().to_string(),
            };
            let mut attributes = BTreeMap::new();
            attributes.insert("email".into(), Value::from(field(request, "email")?));
            attributes.insert("email_verified".into(), Value::from(true));
            let id = IdTokenClaims::new(&sign_in, attributes, now, Duration::hours(1));
            let access = AccessTokenClaims::new(&sign_in, now, Duration::hours(1));
            Ok(json!({
                "jwks": keys.jwks(&[]),
                "id_token": keys.id_token.sign(&id).map_err(|e| e.to_string())?,
                "access_token": keys.access_token.sign(&access).map_err(|e| e.to_string())?,
                "openid_configuration": openid_configuration(&issuer),
            }))
        }
        other => Err(format!("unknown op {other}")),
    }
}
