//! The tokens a user pool issues: RS256 JWTs signed with the pool's RSA keys, with Cognito's
//! claim sets; the pool's JWKS and OpenID discovery document.
//!
//! Signing and the compact serialization are done here directly over aws-lc-rs rather than
//! through `jsonwebtoken`: a JWS with one fixed algorithm is a few lines (`base64url(header) .
//! base64url(claims) . base64url(RSASSA-PKCS1-v1_5-SHA256)`), aws-lc-rs is already the
//! workspace's crypto, and the verifier ([`crate::verifier`]) must pin the algorithm to the key
//! and check Cognito's `token_use`/`client_id`, which `jsonwebtoken`'s `Validation` does not model
//! — so the crate would add a second RSA stack and key formats without removing code.
//!
//! Cognito signs ID and access tokens with *different* keys of the pool (its documentation says
//! so, and its JWKS lists two keys); [`PoolSigningKeys`] keeps that shape.

use std::collections::BTreeMap;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// The scope every token from the user-pool API carries (self-service operations accept it).
pub const USER_ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Why a key or token could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Key generation or signing failed inside aws-lc-rs.
    #[error("the RSA operation failed")]
    Crypto,
    /// The private key bytes are not an RSA PKCS#8 key of at least 2048 bits.
    #[error("the private key is not a usable RSA PKCS#8 key")]
    InvalidKey,
    /// The claims could not be serialized.
    #[error("the claims could not be serialized: {0}")]
    Claims(String),
}

/// `token_use`: which of the two tokens this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// The ID token (`aud` = the app client).
    Id,
    /// The access token (`client_id` = the app client, `scope`).
    Access,
}

/// One RSA-2048 signing key of a pool. Its private half leaves only through
/// [`SigningKey::to_pkcs8`], for the caller to seal under the root key; `Debug` shows the `kid`
/// alone.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh RSA-2048 key (aws-lc-rs).
    pub fn generate() -> Result<Self, TokenError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| TokenError::Crypto)?;
        Ok(Self::from_pair(pair))
    }

    /// A key back from its (unsealed) PKCS#8 bytes; the `kid` is derived from the public key, so
    /// it is the same as when the key was made.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, TokenError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| TokenError::InvalidKey)?;
        if pair.public_modulus_len() < 256 {
            return Err(TokenError::InvalidKey);
        }
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: RsaKeyPair) -> Self {
        let (n, e) = public_components(&pair);
        Self {
            kid: thumbprint(&n, &e),
            pair,
        }
    }

    /// The private key as PKCS#8 DER, to be sealed by the caller. Wiped when dropped.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let der = self.pair.as_der().map_err(|_| TokenError::Crypto)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The key id: the RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK),
    /// stable for the key's life and unique per key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS entry.
    pub fn jwk(&self) -> Jwk {
        let (n, e) = public_components(&self.pair);
        Jwk {
            kty: "RSA".into(),
            alg: Some("RS256".into()),
            kid: self.kid.clone(),
            key_use: Some("sig".into()),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        }
    }

    /// A compact RS256 JWS of `claims` with this key's `kid` in the header (Cognito's header is
    /// exactly `{"kid":…,"alg":"RS256"}`).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, TokenError> {
        let header = serde_json::json!({ "kid": self.kid, "alg": "RS256" });
        let header = serde_json::to_vec(&header).map_err(|e| TokenError::Claims(e.to_string()))?;
        let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Claims(e.to_string()))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, token.as_bytes(), &mut signature)
            .map_err(|_| TokenError::Crypto)?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

fn public_components(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    let public = pair.public_key();
    (
        public.modulus().big_endian_without_leading_zero().to_vec(),
        public.exponent().big_endian_without_leading_zero().to_vec(),
    )
}

fn thumbprint(n: &[u8], e: &[u8]) -> String {
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// A pool's two current keys: one for ID tokens, one for access tokens.
#[derive(Debug)]
pub struct PoolSigningKeys {
    /// Signs ID tokens.
    pub id_token: SigningKey,
    /// Signs access tokens.
    pub access_token: SigningKey,
}

impl PoolSigningKeys {
    /// Two fresh keys.
    pub fn generate() -> Result<Self, TokenError> {
        Ok(Self {
            id_token: SigningKey::generate()?,
            access_token: SigningKey::generate()?,
        })
    }

    /// The pool's JWKS: both current keys, then `retired` public keys kept until the tokens they
    /// signed have expired (rotation).
    pub fn jwks(&self, retired: &[Jwk]) -> JwkSet {
        let mut keys = vec![self.id_token.jwk(), self.access_token.jwk()];
        keys.extend(retired.iter().cloned());
        JwkSet { keys }
    }
}

/// One public key of a JWKS (RFC 7517), as Cognito publishes it: `kty`, `alg`, `kid`, `use`,
/// `n`, `e`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type; only `RSA` is used.
    pub kty: String,
    /// The algorithm the key is for; `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id, matched against a token's header.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Modulus, base64url.
    pub n: String,
    /// Public exponent, base64url.
    pub e: String,
}

/// A JWKS document: `{"keys":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The issuer of a pool's tokens: `<public-url>/<poolId>` (Cognito's is
/// `https://cognito-idp.<region>.amazonaws.com/<poolId>`).
pub fn issuer(public_url: &str, pool_id: &str) -> String {
    format!("{}/{pool_id}", public_url.trim_end_matches('/'))
}

/// Where a pool's JWKS is served, relative to its issuer.
pub fn jwks_uri(issuer: &str) -> String {
    format!("{issuer}/.well-known/jwks.json")
}

/// `/<poolId>/.well-known/openid-configuration`. Only what Rampart serves is listed: there is no
/// hosted UI yet, so no authorization, token or userinfo endpoint is advertised (a client that
/// needs them must fail here, not at a URL that answers 404).
pub fn openid_configuration(issuer: &str) -> Value {
    serde_json::json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri(issuer),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code", "token"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
}

/// What an authentication established, shared by the ID and access tokens it yields.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The token issuer ([`issuer`]).
    pub issuer: String,
    /// The app client id.
    pub client_id: String,
    /// The user's `sub` (a UUID).
    pub sub: String,
    /// The user name (`cognito:username` in the ID token, `username` in the access token).
    pub username: String,
    /// The user's groups, in precedence order; omitted from the tokens when empty, as Cognito does.
    pub groups: Vec<String>,
    /// When the user authenticated (kept across refreshes).
    pub auth_time: OffsetDateTime,
    /// The id of the token family (a refresh token's lineage), revoked together.
    pub origin_jti: String,
    /// The authentication event.
    pub event_id: String,
}

/// The ID token's claims, in Cognito's names. Readable attributes (`email`, `email_verified`,
/// `phone_number`, `custom:…`) go in `attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Subject.
    pub sub: String,
    /// Groups, when any.
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// The user name.
    #[serde(rename = "cognito:username")]
    pub username: String,
    /// The token family.
    pub origin_jti: String,
    /// The app client.
    pub aud: String,
    /// The authentication event.
    pub event_id: String,
    /// Always [`TokenUse::Id`].
    pub token_use: TokenUse,
    /// Seconds since the epoch.
    pub auth_time: i64,
    /// Seconds since the epoch.
    pub exp: i64,
    /// Seconds since the epoch.
    pub iat: i64,
    /// This token's id.
    pub jti: String,
    /// Readable attributes.
    #[serde(flatten)]
    pub attributes: BTreeMap<String, Value>,
}

/// The access token's claims, in Cognito's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Subject.
    pub sub: String,
    /// Groups, when any.
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// The app client.
    pub client_id: String,
    /// The token family.
    pub origin_jti: String,
    /// The authentication event.
    pub event_id: String,
    /// Always [`TokenUse::Access`].
    pub token_use: TokenUse,
    /// Space-separated scopes; [`USER_ADMIN_SCOPE`] for API sign-ins.
    pub scope: String,
    /// Seconds since the epoch.
    pub auth_time: i64,
    /// Seconds since the epoch.
    pub exp: i64,
    /// Seconds since the epoch.
    pub iat: i64,
    /// This token's id.
    pub jti: String,
    /// The user name.
    pub username: String,
}

impl IdTokenClaims {
    /// The ID token for `sign_in`, issued at `now`, valid for `validity`.
    pub fn new(
        sign_in: &SignIn,
        attributes: BTreeMap<String, Value>,
        now: OffsetDateTime,
        validity: Duration,
    ) -> Self {
        Self {
            sub: sign_in.sub.clone(),
            groups: sign_in.groups.clone(),
            iss: sign_in.issuer.clone(),
            username: sign_in.username.clone(),
            origin_jti: sign_in.origin_jti.clone(),
            aud: sign_in.client_id.clone(),
            event_id: sign_in.event_id.clone(),
            token_use: TokenUse::Id,
            auth_time: sign_in.auth_time.unix_timestamp(),
            exp: (now + validity).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            attributes,
        }
    }
}

impl AccessTokenClaims {
    /// The access token for `sign_in`, issued at `now`, valid for `validity`.
    pub fn new(sign_in: &SignIn, now: OffsetDateTime, validity: Duration) -> Self {
        Self {
            sub: sign_in.sub.clone(),
            groups: sign_in.groups.clone(),
            iss: sign_in.issuer.clone(),
            client_id: sign_in.client_id.clone(),
            origin_jti: sign_in.origin_jti.clone(),
            event_id: sign_in.event_id.clone(),
            token_use: TokenUse::Access,
            scope: USER_ADMIN_SCOPE.to_string(),
            auth_time: sign_in.auth_time.unix_timestamp(),
            exp: (now + validity).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            username: sign_in.username.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
