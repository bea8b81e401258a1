//! JWT authorizers on the data plane, through `rampart_identity`'s verifier: one verifier per
//! (issuer, audiences), kept while the process runs so each issuer's JWKS is cached and
//! refreshed at most once a minute for unknown key ids.
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

/// The data plane's JWT verifiers.
pub struct JwtAuthorizers {
    local: Arc<dyn LocalIssuers>,
    remote: Arc<dyn JwksFetcher>,
    verifiers: Mutex<HashMap<VerifierKey, Arc<JwtVerifier>>>,
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
        }
    }

    /// Whether `issuer` is one of Rampart's own.
    pub(crate) fn is_local(&self, issuer: &str) -> bool {
        self.local.is_local(issuer)
    }

    fn verifier(&self, authorizer: &AuthorizerRecord) -> Arc<JwtVerifier> {
        let mut audiences = authorizer.audience.clone();
        audiences.sort();
        let key = (authorizer.issuer.clone(), audiences.clone());
        let mut verifiers = self.verifiers.lock().expect("verifier map lock");
        if let Some(v) = verifiers.get(&key) {
            return v.clone();
        }
        if verifiers.len() >= MAX_VERIFIERS {
            verifiers.clear();
        }
        let mut config = VerifierConfig::new(authorizer.issuer.clone(), audiences);
        let fetcher: Arc<dyn JwksFetcher> = match self.local.is_local(&authorizer.issuer) {
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
        verifiers.insert(key, verifier.clone());
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
    use serde_json::json;

    fn authorizer(source: &str) -> AuthorizerRecord {
        AuthorizerRecord {
            authorizer_id: "a".into(),
            name: "n".into(),
            identity_source: vec![source.into()],
            issuer: "https://issuer".into(),
            audience: vec!["aud".into()],
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
