//! The reusable JWT verifier: what the gateway's JWT authorizers and the user-pool API's
//! token-taking operations use to accept a bearer token.
//!
//! One verifier per issuer. The issuer's JWKS comes from a caller-supplied [`JwksFetcher`]
//! (HTTP for a foreign issuer, the store for Rampart's own pools, a map in tests), is cached,
//! and is fetched again when a token names a `kid` the cache lacks — at most once per
//! `min_refresh_interval`, so a stream of made-up `kid`s cannot turn the verifier into a request
//! amplifier against the issuer. The algorithm is pinned: only RS256 over an RSA key of at least
//! 2048 bits from that issuer's JWKS; `none`, `HS256` (with the public key as a "secret") and
//! every other `alg` are refused before any key is touched. Claims are trusted only after the
//! signature verifies, then checked in order: `iss` exactly, `token_use` when required, the
//! audience (`aud`, or for Cognito access tokens which have none, `client_id`), `exp`/`nbf`/`iat`
//! with a small leeway, and last the [`RevocationCheck`] hook.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::tokens::{jwks_uri, Jwk, JwkSet, TokenUse};

/// Tokens longer than this are refused unparsed (Cognito's are ~1–2 KB; headers cap at 8 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Fetches an issuer's JWKS.
#[async_trait]
pub trait JwksFetcher: Send + Sync {
    /// The JWKS at `jwks_uri`.
    async fn fetch(&self, jwks_uri: &str) -> Result<JwkSet, FetchError>;
}

/// A JWKS could not be had.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the JWKS could not be fetched: {0}")]
pub struct FetchError(pub String);

/// Decides whether a verified token has been revoked (Rampart-issued tokens: RevokeToken on its
/// family, GlobalSignOut of its user). Runs only for tokens that passed every other check.
#[async_trait]
pub trait RevocationCheck: Send + Sync {
    /// Whether `token` is revoked. An error is treated as revoked (fail closed).
    async fn is_revoked(&self, token: &VerifiedToken) -> Result<bool, FetchError>;
}

/// Why a token was refused. Each is a 401 to the caller; the variants are for logs and tests.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Not three base64url parts of JSON objects, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// An `alg` other than RS256 (including `none` and every HMAC algorithm).
    #[error("the token's algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// The header's `kid` is not in the issuer's JWKS (after a refresh, when one was allowed).
    #[error("the token's key id is not one of the issuer's keys")]
    UnknownKey,
    /// The signature does not verify with the named key.
    #[error("the token's signature does not verify")]
    Signature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    Issuer,
    /// Neither `aud` nor `client_id` is an allowed audience.
    #[error("the token is for another audience")]
    Audience,
    /// `token_use` is not the required one.
    #[error("the token is not of the required use")]
    TokenUse,
    /// `exp` is missing or past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("the token is not yet valid")]
    NotYetValid,
    /// The revocation hook says so.
    #[error("the token has been revoked")]
    Revoked,
    /// The issuer's keys could not be fetched and none are cached.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
}

/// What a verifier accepts.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The exact `iss` (for a Rampart pool, `<public-url>/<poolId>`).
    pub issuer: String,
    /// Where the JWKS is; defaults to `<issuer>/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// Allowed audiences: `aud` must contain one, or, without `aud`, `client_id` must be one.
    pub audiences: Vec<String>,
    /// `token_use` required, if any.
    pub token_use: Option<TokenUse>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s.
    pub min_refresh_interval: std::time::Duration,
}

impl VerifierConfig {
    /// A configuration for `issuer` accepting `audiences`, with the defaults: the issuer's
    /// well-known JWKS, any `token_use`, 30 s of leeway, at most one refresh a minute.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        let issuer = issuer.into();
        Self {
            jwks_uri: jwks_uri(&issuer),
            issuer,
            audiences,
            token_use: None,
            leeway: Duration::seconds(30),
            min_refresh_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// A token that passed every check: its header's key id and its claims.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The `kid` that signed it.
    pub kid: String,
    /// All claims.
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `token_use`, when it is one of Cognito's.
    pub fn token_use(&self) -> Option<TokenUse> {
        self.claims
            .get("token_use")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A numeric date claim, in seconds since the epoch.
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(numeric_date)
    }
}

/// An RSA public key usable for RS256.
#[derive(Clone)]
struct VerificationKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

struct KeyCache {
    keys: HashMap<String, VerificationKey>,
}

/// Verifies tokens of one issuer.
pub struct JwtVerifier {
    config: VerifierConfig,
    fetcher: Arc<dyn JwksFetcher>,
    revocation: Option<Arc<dyn RevocationCheck>>,
    cache: RwLock<KeyCache>,
    /// When the JWKS was last fetched (or tried); held across a fetch, so concurrent misses
    /// wait for one fetch instead of each making their own.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl JwtVerifier {
    /// A verifier with no revocation hook (foreign issuers).
    pub fn new(config: VerifierConfig, fetcher: Arc<dyn JwksFetcher>) -> Self {
        Self {
            config,
            fetcher,
            revocation: None,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
            }),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// Adds the revocation hook (Rampart's own pools).
    pub fn with_revocation(mut self, revocation: Arc<dyn RevocationCheck>) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies `token` now.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        self.verify_at(token, OffsetDateTime::now_utc()).await
    }

    /// Verifies `token` as of `now`.
    pub async fn verify_at(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, VerifyError> {
        let parsed = ParsedToken::parse(token)?;
        let key = self.key(&parsed.kid).await?;
        RsaPublicKeyComponents {
            n: key.n.as_slice(),
            e: key.e.as_slice(),
        }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            parsed.signed.as_bytes(),
            &parsed.signature,
        )
        .map_err(|_| VerifyError::Signature)?;
        let verified = VerifiedToken {
            kid: parsed.kid,
            claims: parsed.claims,
        };
        self.check_claims(&verified, now)?;
        if let Some(revocation) = &self.revocation {
            if revocation.is_revoked(&verified).await.unwrap_or(true) {
                return Err(VerifyError::Revoked);
            }
        }
        Ok(verified)
    }

    fn check_claims(&self, token: &VerifiedToken, now: OffsetDateTime) -> Result<(), VerifyError> {
        let config = &self.config;
        if token.claim_str("iss") != Some(config.issuer.as_str()) {
            return Err(VerifyError::Issuer);
        }
        if let Some(required) = config.token_use {
            if token.token_use() != Some(required) {
                return Err(VerifyError::TokenUse);
            }
        }
        let allowed = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| config.audiences.iter().any(|a| a == v))
        };
        let audience_ok = match token.claims.get("aud") {
            Some(Value::Array(values)) => values.iter().any(allowed),
            Some(value) => allowed(value),
            None => token.claims.get("client_id").is_some_and(allowed),
        };
        if !audience_ok {
            return Err(VerifyError::Audience);
        }
        let now = now.unix_timestamp();
        let leeway = config.leeway.whole_seconds();
        match token.claim_time("exp") {
            Some(exp) if now <= exp.saturating_add(leeway) => {}
            _ => return Err(VerifyError::Expired),
        }
        for name in ["nbf", "iat"] {
            match token.claims.get(name).map(numeric_date) {
                None => {}
                Some(Some(at)) if at <= now.saturating_add(leeway) => {}
                Some(_) => return Err(VerifyError::NotYetValid),
            }
        }
        Ok(())
    }

    /// The key named `kid`, fetching the JWKS when it is not cached and a fetch is allowed.
    async fn key(&self, kid: &str) -> Result<VerificationKey, VerifyError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let allowed = last_fetch.is_none_or(|at| at.elapsed() >= self.config.min_refresh_interval);
        if !allowed {
            return Err(
                if self.cache.read().expect("key cache lock").keys.is_empty() {
                    VerifyError::KeysUnavailable
                } else {
                    VerifyError::UnknownKey
                },
            );
        }
        *last_fetch = Some(Instant::now());
        match self.fetcher.fetch(&self.config.jwks_uri).await {
            Ok(jwks) => {
                let keys = usable_keys(&jwks);
                self.cache.write().expect("key cache lock").keys = keys;
            }
            Err(_) if self.cache.read().expect("key cache lock").keys.is_empty() => {
                return Err(VerifyError::KeysUnavailable);
            }
            // A failed refresh keeps the keys already known.
            Err(_) => {}
        }
        self.cached(kid).ok_or(VerifyError::UnknownKey)
    }

    fn cached(&self, kid: &str) -> Option<VerificationKey> {
        self.cache
            .read()
            .expect("key cache lock")
            .keys
            .get(kid)
            .cloned()
    }
}

/// The RS256 keys of a JWKS: RSA, for signatures, for RS256 (or unlabelled), 2048 bits or more.
fn usable_keys(jwks: &JwkSet) -> HashMap<String, VerificationKey> {
    jwks.keys
        .iter()
        .filter_map(|jwk: &Jwk| {
            let fits = jwk.kty == "RSA"
                && jwk.alg.as_deref().is_none_or(|alg| alg == "RS256")
                && jwk.key_use.as_deref().is_none_or(|u| u == "sig");
            if !fits {
                return None;
            }
            let n = URL_SAFE_NO_PAD.decode(&jwk.n).ok()?;
            let e = URL_SAFE_NO_PAD.decode(&jwk.e).ok()?;
            let n_bits = n.iter().skip_while(|&&b| b == 0).count() * 8;
            (n_bits >= 2048 && !e.is_empty()).then(|| (jwk.kid.clone(), VerificationKey { n, e }))
        })
        .collect()
}

fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    }
}

/// A compact JWS split and decoded, before its signature is checked.
struct ParsedToken {
    kid: String,
    signed: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

impl ParsedToken {
    fn parse(token: &str) -> Result<Self, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header = decode_object(header)?;
        match header.get("alg") {
            Some(Value::String(alg)) if alg == "RS256" => {}
            Some(Value::String(alg)) => return Err(VerifyError::Algorithm(alg.clone())),
            _ => return Err(VerifyError::Malformed),
        }
        // No extension this verifier understands may be marked critical.
        if header.contains_key("crit") {
            return Err(VerifyError::Malformed);
        }
        let Some(Value::String(kid)) = header.get("kid") else {
            return Err(VerifyError::UnknownKey);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| VerifyError::Malformed)?;
        Ok(Self {
            kid: kid.clone(),
            signed: token[..token.rfind('.').expect("three parts")].to_string(),
            signature,
            claims: decode_object(payload)?,
        })
    }
}

fn decode_object(part: &str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(VerifyError::Malformed),
    }
}

#[cfg(test)]
mod tests;
