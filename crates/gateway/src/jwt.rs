//! JWT authorizers on the data plane, through `rampart_identity`'s verifier: one verifier per
//! (issuer, audiences), which caches the issuer's JWKS and refetches it at most once a minute
//! for unknown key ids. A verifier is replaced after a while ([`LOCAL_KEYS_TTL`],
//! [`REMOTE_KEYS_TTL`]), so keys an issuer withdrew — a pool deleted, a rotated key retired —
//! stop verifying tokens within that time.
//!
//! Where keys come from: a Rampart user pool's issuer (`<public-url>/<poolId>`) is answered
//! straight from the store ([`LocalIssuers`], implemented by the server over the user pools);
//! any other issuer through OpenID discovery over HTTP(S) ([`crate::fetch`]).
//!
//! What a request gets, as API Gateway answers: no token, a malformed, forged, expired or
//! foreign one → 401 `{"message":"Unauthorized"}`; a valid token without one of the route's
//! scopes → 403 `{"message":"Forbidden"}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::HeaderMap;
use rampart_identity::tokens::JwkSet;
use rampart_identity::verifier::{FetchError, JwksFetcher, JwtVerifier, VerifierConfig};
use serde_json::Value;

use crate::events::JwtContext;
use crate::records::AuthorizerRecord;

/// Issuers whose keys Rampart holds itself (its user pools).
#[async_trait]
pub trait LocalIssuers: Send + Sync {
    /// Whether `issuer` is one of Rampart's own (its keys come from the store, never HTTP).
    fn is_local(&self, issuer: &str) -> bool;
    /// The JWKS of the local `issuer`; an error when it names nothing (a deleted pool).
    async fn jwks(&self, issuer: &str) -> Result<JwkSet, FetchError>;
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401 `{"message":"Unauthorized"}`.
    Unauthorized,
    /// 403 `{"message":"Forbidden"}`.
    Forbidden,
}

/// Verifiers at most this many; past it they are all dropped (and rebuilt as needed), so
/// authorizers created and deleted over time cannot grow the process without bound.
const MAX_VERIFIERS: usize = 1024;

/// A verifier's issuer and sorted audiences.
type VerifierKey = (String, Vec<String>);

/// How long keys of Rampart's own pools are trusted before they are read again (cheap: the
/// store).
pub const LOCAL_KEYS_TTL: Duration = Duration::from_secs(60);

/// How long an external issuer's keys are trusted before discovery runs again.
pub const REMOTE_KEYS_TTL: Duration = Duration::from_secs(15 * 60);

/// The data plane's JWT verifiers.
pub struct JwtAuthorizers {
    local: Arc<dyn LocalIssuers>,
    remote: Arc<dyn JwksFetcher>,
    verifiers: Mutex<HashMap<VerifierKey, (Instant, Arc<JwtVerifier>)>>,
    local_ttl: Duration,
    remote_ttl: Duration,
}

/// Fetches the JWKS of a local issuer from the store.
struct LocalFetcher {
    local: Arc<dyn LocalIssuers>,
    issuer: String,
}

#[async_trait]
impl JwksFetcher for LocalFetcher {
    async fn fetch(&self, _jwks_uri: &str) -> Result<JwkSet, FetchError> {
        self.local.jwks(&self.issuer).await
    }
}

impl JwtAuthorizers {
    /// `remote` fetches the keys of every issuer `local` does not claim.
    pub fn new(local: Arc<dyn LocalIssuers>, remote: Arc<dyn JwksFetcher>) -> Self {
        JwtAuthorizers {
            local,
            remote,
            verifiers: Mutex::new(HashMap::new()),
            local_ttl: LOCAL_KEYS_TTL,
            remote_ttl: REMOTE_KEYS_TTL,
        }
    }

    /// The same with other key lifetimes (tests).
    #[cfg(test)]
    fn with_ttls(mut self, local: Duration, remote: Duration) -> Self {
        self.local_ttl = local;
        self.remote_ttl = remote;
        self
    }

    /// Whether `issuer` is one of Rampart's own.
    pub(crate) fn is_local(&self, issuer: &str) -> bool {
        self.local.is_local(issuer)
    }

    fn verifier(&self, authorizer: &AuthorizerRecord) -> Arc<JwtVerifier> {
        let mut audiences = authorizer.audience.clone();
        audiences.sort();
        let key = (authorizer.issuer.clone(), audiences.clone());
        let local = self.local.is_local(&authorizer.issuer);
        let ttl = if local {
            self.local_ttl
        } else {
            self.remote_ttl
        };
        let mut verifiers = self.verifiers.lock().expect("verifier map lock");
        if let Some((made, v)) = verifiers.get(&key) {
            if made.elapsed() < ttl {
                return v.clone();
            }
        }
        if verifiers.len() >= MAX_VERIFIERS {
            verifiers.clear();
        }
        let mut config = VerifierConfig::new(authorizer.issuer.clone(), audiences);
        let fetcher: Arc<dyn JwksFetcher> = match local {
            true => Arc::new(LocalFetcher {
                local: self.local.clone(),
                issuer: authorizer.issuer.clone(),
            }),
            false => {
                // The remote fetcher starts from the discovery document, not a guessed JWKS URL.
                config.jwks_uri = crate::fetch::discovery_url(&authorizer.issuer);
                self.remote.clone()
            }
        };
        let verifier = Arc::new(JwtVerifier::new(config, fetcher));
        verifiers.insert(key, (Instant::now(), verifier.clone()));
        verifier
    }

    /// Authorizes a request on a route with `scopes` through `authorizer`.
    pub async fn authorize(
        &self,
        authorizer: &AuthorizerRecord,
        scopes: &[String],
        headers: &HeaderMap,
        raw_query: &str,
    ) -> Result<JwtContext, Refusal> {
        let token = identity_token(authorizer, headers, raw_query).ok_or(Refusal::Unauthorized)?;
        let verified = self
            .verifier(authorizer)
            .verify(&token)
            .await
            .map_err(|e| {
                tracing::debug!(error = %e, authorizer = %authorizer.authorizer_id, "JWT refused");
                Refusal::Unauthorized
            })?;
        let granted = token_scopes(&verified.claims);
        if !scopes.is_empty() && !scopes.iter().any(|s| granted.contains(s)) {
            return Err(Refusal::Forbidden);
        }
        Ok(JwtContext {
            claims: verified
                .claims
                .iter()
                .map(|(k, v)| (k.clone(), claim_string(v)))
                .collect::<BTreeMap<_, _>>(),
            scopes: (!scopes.is_empty()).then_some(granted),
        })
    }
}

/// The token from the authorizer's identity source (its first; JWT authorizers have one):
/// `$request.header.<name>` or `$request.querystring.<name>`, with any `Bearer ` prefix
/// removed, as API Gateway accepts both forms.
fn identity_token(
    authorizer: &AuthorizerRecord,
    headers: &HeaderMap,
    raw_query: &str,
) -> Option<String> {
    let source = authorizer.identity_source.first()?;
    let value = if let Some(name) = source.strip_prefix("$request.header.") {
        headers.get(name)?.to_str().ok()?.to_owned()
    } else if let Some(name) = source.strip_prefix("$request.querystring.") {
        raw_query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })?
    } else {
        return None;
    };
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

/// The scopes a token grants: its `scope` claim (space-separated) or an `scp` list.
fn token_scopes(claims: &serde_json::Map<String, Value>) -> Vec<String> {
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
        (_, Some(Value::Array(list))) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        (_, Some(Value::String(s))) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// A claim as API Gateway renders it in the event: strings as they are, lists as
/// `[a b]`, numbers and booleans written out, objects as their JSON.
fn claim_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_string).collect::<Vec<_>>().join(" ")
        ),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_identity::tokens::SigningKey;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::OffsetDateTime;

    const ISSUER: &str = "http://rampart.test/us-east-1_pool";

    /// One local pool whose keys the test sets; counts reads.
    struct Pool {
        keys: Mutex<Vec<SigningKey>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl LocalIssuers for Pool {
        fn is_local(&self, issuer: &str) -> bool {
            issuer == ISSUER
        }

        async fn jwks(&self, _: &str) -> Result<JwkSet, FetchError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(JwkSet {
                keys: self
                    .keys
                    .lock()
                    .unwrap()
                    .iter()
                    .map(SigningKey::jwk)
                    .collect(),
            })
        }
    }

    /// A remote fetcher that must never be asked (every issuer here is local).
    struct NoRemote;

    #[async_trait]
    impl JwksFetcher for NoRemote {
        async fn fetch(&self, uri: &str) -> Result<JwkSet, FetchError> {
            panic!("a local issuer's keys were fetched remotely: {uri}");
        }
    }

    fn token(key: &SigningKey, aud: &str, scope: &str) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        key.sign(
            &json!({"iss": ISSUER, "aud": aud, "sub": "u1", "scope": scope, "exp": now + 600,
                          "iat": now, "groups": ["a", "b"]}),
        )
        .unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        h
    }

    fn pool_authorizer() -> AuthorizerRecord {
        AuthorizerRecord {
            issuer: ISSUER.into(),
            ..authorizer("$request.header.Authorization")
        }
    }

    #[tokio::test]
    async fn authorizes_against_a_local_pool() {
        let key = SigningKey::generate().unwrap();
        let pool = Arc::new(Pool {
            keys: Mutex::new(vec![key]),
            reads: AtomicUsize::new(0),
        });
        let authorizers = JwtAuthorizers::new(pool.clone(), Arc::new(NoRemote));
        let a = pool_authorizer();
        let good = token(&pool.keys.lock().unwrap()[0], "aud", "read admin");
        let ctx = authorizers
            .authorize(&a, &[], &bearer(&good), "")
            .await
            .unwrap();
        assert_eq!(ctx.claims["sub"], "u1");
        assert_eq!(ctx.claims["groups"], "[a b]");
        assert_eq!(ctx.scopes, None);
        let ctx = authorizers
            .authorize(&a, &["admin".into()], &bearer(&good), "")
            .await
            .unwrap();
        assert_eq!(ctx.scopes, Some(vec!["read".into(), "admin".into()]));
        assert_eq!(
            authorizers
                .authorize(&a, &["write".into()], &bearer(&good), "")
                .await
                .unwrap_err(),
            Refusal::Forbidden
        );
        let other_aud = token(&pool.keys.lock().unwrap()[0], "elsewhere", "");
        let stranger = token(&SigningKey::generate().unwrap(), "aud", "");
        for bad in [other_aud.as_str(), stranger.as_str(), "x.y.z"] {
            assert_eq!(
                authorizers
                    .authorize(&a, &[], &bearer(bad), "")
                    .await
                    .unwrap_err(),
                Refusal::Unauthorized
            );
        }
        assert_eq!(
            authorizers
                .authorize(&a, &[], &HeaderMap::new(), "")
                .await
                .unwrap_err(),
            Refusal::Unauthorized
        );
        // The keys were read once for all of that (the stranger's kid may cause one refresh).
        assert!(pool.reads.load(Ordering::SeqCst) <= 2);
    }

    #[tokio::test]
    async fn withdrawn_keys_stop_verifying_after_their_ttl() {
        let key = SigningKey::generate().unwrap();
        let good = {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            key.sign(&json!({"iss": ISSUER, "aud": "aud", "exp": now + 600}))
                .unwrap()
        };
        let pool = Arc::new(Pool {
            keys: Mutex::new(vec![key]),
            reads: AtomicUsize::new(0),
        });
        let a = pool_authorizer();
        // A long lifetime: the cached key still verifies after the pool dropped it.
        let cached = JwtAuthorizers::new(pool.clone(), Arc::new(NoRemote));
        assert!(cached.authorize(&a, &[], &bearer(&good), "").await.is_ok());
        // No lifetime: every request reads the keys again.
        let fresh = JwtAuthorizers::new(pool.clone(), Arc::new(NoRemote))
            .with_ttls(Duration::ZERO, Duration::ZERO);
        assert!(fresh.authorize(&a, &[], &bearer(&good), "").await.is_ok());
        pool.keys.lock().unwrap().clear();
        assert!(cached.authorize(&a, &[], &bearer(&good), "").await.is_ok());
        assert_eq!(
            fresh
                .authorize(&a, &[], &bearer(&good), "")
                .await
                .unwrap_err(),
            Refusal::Unauthorized
        );
    }

    fn authorizer(source: &str) -> AuthorizerRecord {
        AuthorizerRecord {
            authorizer_id: "a".into(),
            name: "n".into(),
            identity_source: vec![source.into()],
            issuer: "https://issuer".into(),
            audience: vec!["aud".into()],
            request: None,
        }
    }

    #[test]
    fn tokens_from_identity_sources() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc.def.ghi".parse().unwrap());
        let a = authorizer("$request.header.Authorization");
        assert_eq!(identity_token(&a, &h, "").as_deref(), Some("abc.def.ghi"));
        h.insert("authorization", "abc.def.ghi".parse().unwrap());
        assert_eq!(identity_token(&a, &h, "").as_deref(), Some("abc.def.ghi"));
        h.insert("authorization", "bearer  ".parse().unwrap());
        assert_eq!(identity_token(&a, &h, ""), None);
        assert_eq!(identity_token(&a, &HeaderMap::new(), ""), None);
        let q = authorizer("$request.querystring.token");
        assert_eq!(
            identity_token(&q, &HeaderMap::new(), "a=1&token=x%2Ey").as_deref(),
            Some("x.y")
        );
        assert_eq!(identity_token(&authorizer("$context.x"), &h, ""), None);
    }

    #[test]
    fn scopes_and_claims() {
        let claims = json!({"scope": "a b", "groups": ["x", "y"], "n": 5, "ok": true});
        let map = claims.as_object().unwrap();
        assert_eq!(token_scopes(map), vec!["a", "b"]);
        assert_eq!(
            token_scopes(json!({"scp": ["c"]}).as_object().unwrap()),
            vec!["c"]
        );
        assert_eq!(claim_string(&map["groups"]), "[x y]");
        assert_eq!(claim_string(&map["n"]), "5");
        assert_eq!(claim_string(&map["ok"]), "true");
    }
}
