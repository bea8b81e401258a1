//! Keys, JWKS and claim sets. Signatures are checked by the verifier's tests and by PyJWT
//! (tests/compat/test_identity_core.py).

use super::*;

fn sign_in() -> SignIn {
    SignIn {
        issuer: issuer("http://127.0.0.1:4566/", "us-east-1_AbC123"),
        client_id: "client123".into(),
        sub: "8f0e4c1e-0000-4000-8000-000000000001".into(),
        username: "alice".into(),
        groups: vec![],
        auth_time: time::macros::datetime!(2026-11-30 13:00 UTC),
        origin_jti: "origin".into(),
        event_id: "event".into(),
    }
}

#[test]
fn keys_round_trip_through_pkcs8_with_the_same_kid() {
    let key = SigningKey::generate().unwrap();
    let der = key.to_pkcs8().unwrap();
    let back = SigningKey::from_pkcs8(&der).unwrap();
    assert_eq!(back.kid(), key.kid());
    assert_eq!(back.jwk(), key.jwk());
    assert_ne!(SigningKey::generate().unwrap().kid(), key.kid());
    assert_eq!(
        SigningKey::from_pkcs8(b"not a key").unwrap_err(),
        TokenError::InvalidKey
    );
    // Debug shows the kid, never key material.
    let debug = format!("{key:?}");
    assert!(debug.contains(key.kid()) && debug.len() < 120, "{debug}");
}

#[test]
fn jwks_entries_are_cognitos_shape() {
    let keys = PoolSigningKeys::generate().unwrap();
    assert_ne!(keys.id_token.kid(), keys.access_token.kid());
    let retired = SigningKey::generate().unwrap().jwk();
    let jwks = serde_json::to_value(keys.jwks(std::slice::from_ref(&retired))).unwrap();
    let entries = jwks["keys"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        let mut fields: Vec<_> = entry.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(entry["kty"], "RSA");
        assert_eq!(entry["alg"], "RS256");
        assert_eq!(entry["use"], "sig");
        assert_eq!(entry["e"], "AQAB");
        let n = URL_SAFE_NO_PAD
            .decode(entry["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len(), 256, "RSA-2048");
    }
    assert_eq!(entries[2]["kid"], retired.kid.as_str());
}

#[test]
fn tokens_have_cognitos_header_and_claims() {
    let key = SigningKey::generate().unwrap();
    let now = time::macros::datetime!(2026-11-30 13:05 UTC);
    let mut attributes = BTreeMap::new();
    attributes.insert("email".to_string(), Value::from("alice@example.com"));
    attributes.insert("email_verified".to_string(), Value::from(true));
    let mut grouped = sign_in();
    grouped.groups = vec!["admins".into(), "readers".into()];
    let id = IdTokenClaims::new(&grouped, attributes, now, Duration::hours(1));
    let token = key.sign(&id).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"kid": key.kid(), "alg": "RS256"})
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "http://127.0.0.1:4566/us-east-1_AbC123");
    assert_eq!(claims["aud"], "client123");
    assert_eq!(claims["token_use"], "id");
    assert_eq!(claims["cognito:username"], "alice");
    assert_eq!(
        claims["cognito:groups"],
        serde_json::json!(["admins", "readers"])
    );
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["auth_time"], 1_796_043_600);
    assert_eq!(claims["iat"], now.unix_timestamp());
    assert_eq!(claims["exp"], now.unix_timestamp() + 3600);
    assert_eq!(claims["origin_jti"], "origin");
    assert_eq!(claims["event_id"], "event");
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 256);

    let access = AccessTokenClaims::new(&sign_in(), now, Duration::minutes(5));
    let claims = serde_json::to_value(&access).unwrap();
    let mut fields: Vec<_> = claims.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "auth_time",
            "client_id",
            "event_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "origin_jti",
            "scope",
            "sub",
            "token_use",
            "username"
        ],
        "no cognito:groups when the user has none, no aud"
    );
    assert_eq!(claims["scope"], USER_ADMIN_SCOPE);
    assert_eq!(claims["token_use"], "access");
    assert_ne!(claims["jti"], serde_json::to_value(&id).unwrap()["jti"]);
}

#[test]
fn discovery_points_at_the_jwks() {
    let iss = issuer("https://id.example.com", "eu-west-1_Pool");
    assert_eq!(iss, "https://id.example.com/eu-west-1_Pool");
    let doc = openid_configuration(&iss);
    assert_eq!(doc["issuer"], iss.as_str());
    assert_eq!(
        doc["jwks_uri"],
        "https://id.example.com/eu-west-1_Pool/.well-known/jwks.json"
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}
