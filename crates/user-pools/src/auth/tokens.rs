//! The tokens a sign-in yields, and taking an access token back (GetUser, GlobalSignOut).
//!
//! A sign-in starts a token family (`origin_jti`): a [`TokenFamilyRecord`] and one refresh
//! token, of which only the SHA-256 is stored. ID and access tokens are RS256 JWTs signed with
//! the pool's current ID and access keys, with Cognito's claims and the client's validities;
//! refreshing issues new ones in the same family. An access token is accepted back only if it
//! verifies against the pool's keys (the identity crate's verifier, fed from the store), is an
//! access token of a client that still exists, and its family is neither revoked nor gone.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rampart_core::SealPurpose;
use rampart_identity::tokens::{
    AccessTokenClaims, IdTokenClaims, JwkSet, SignIn, SigningKey, TokenUse,
};
use rampart_identity::verifier::{
    FetchError, JwksFetcher, JwtVerifier, VerifierConfig, VerifyError,
};
use rampart_store::{Expect, Write};
use serde_json::{json, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::AuthClient;
use crate::error::UserPoolsError;
use crate::records::auth::{families_prefix, family_key, RefreshTokenRecord, TokenFamilyRecord};
use crate::records::client::ClientRecord;
use crate::records::group::{memberships_prefix, GroupRecord};
use crate::records::pool::PoolRecord;
use crate::records::signing_keys::{KeyUse, SigningKeysRecord};
use crate::records::user::{username_key, UserRecord};
use crate::records::{self, ns, pool_key, Stored};
use crate::sealing::{self, signing_key_context};
use crate::UserPoolsService;

/// The pool's signing keys published now, opened: (key use, retired, key). A retired key
/// past its `published_until` is left out: no token it signed can be valid any more.
///
/// The record is read on every call (a rotation on any node shows at once); the keys are
/// opened once per version of it on this node ([`OpenedPoolKeys`]): unsealing and parsing two
/// RSA keys cost more than the rest of a `GetUser`.
pub async fn pool_keys(
    svc: &UserPoolsService,
    pool_id: &str,
) -> Result<Vec<(KeyUse, bool, Arc<SigningKey>)>, UserPoolsError> {
    let stored = records::load::<SigningKeysRecord>(svc.store.as_ref(), ns::SIGNING_KEYS, pool_id)
        .await?
        .ok_or_else(|| UserPoolsError::Internal("The pool has no signing keys.".into()))?;
    let opened = match svc.opened_keys.get(pool_id, stored.version) {
        Some(opened) => opened,
        None => {
            let mut opened = Vec::with_capacity(stored.record.keys.len());
            for k in &stored.record.keys {
                let der = sealing::open(
                    &svc.keyring,
                    SealPurpose::UserPoolSigningKey,
                    &signing_key_context(pool_id, &k.kid),
                    &k.sealed_pkcs8,
                )?;
                let key = SigningKey::from_pkcs8(&der).map_err(|e| {
                    UserPoolsError::Internal(format!("A signing key is unusable: {e}"))
                })?;
                opened.push(Arc::new(key));
            }
            let opened = Arc::new(opened);
            svc.opened_keys
                .put(pool_id, stored.version, Arc::clone(&opened));
            opened
        }
    };
    let now = crate::service::now();
    Ok(stored
        .record
        .keys
        .iter()
        .zip(opened.iter())
        .filter(|(k, _)| k.is_published(now))
        .map(|(k, key)| (k.key_use, k.retired_at.is_some(), Arc::clone(key)))
        .collect())
}

/// Opened signing keys by pool, each for one version of the pool's keys record. A newer
/// version (a rotation, a sweep) replaces the entry the first time it is read.
#[derive(Default)]
pub struct OpenedPoolKeys {
    by_pool: std::sync::Mutex<std::collections::HashMap<String, (i64, OpenedKeys)>>,
}

/// One version of a pool's keys record, opened, in the record's order.
type OpenedKeys = Arc<Vec<Arc<SigningKey>>>;

/// Pools whose keys one node keeps opened; past it the map starts over (deleted pools' keys
/// would otherwise stay in memory).
const OPENED_POOLS_MAX: usize = 4096;

impl OpenedPoolKeys {
    fn get(&self, pool_id: &str, version: i64) -> Option<OpenedKeys> {
        let map = self.by_pool.lock().unwrap_or_else(|p| p.into_inner());
        map.get(pool_id)
            .filter(|(v, _)| *v == version)
            .map(|(_, keys)| Arc::clone(keys))
    }

    fn put(&self, pool_id: &str, version: i64, keys: OpenedKeys) {
        let mut map = self.by_pool.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= OPENED_POOLS_MAX && !map.contains_key(pool_id) {
            map.clear();
        }
        map.insert(pool_id.to_owned(), (version, keys));
    }
}

impl std::fmt::Debug for OpenedPoolKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenedPoolKeys")
    }
}

/// The pool's JWKS (current keys first, then retired ones).
pub async fn jwks(svc: &UserPoolsService, pool_id: &str) -> Result<JwkSet, UserPoolsError> {
    let mut keys = pool_keys(svc, pool_id).await?;
    keys.sort_by_key(|(_, retired, _)| *retired);
    Ok(JwkSet {
        keys: keys.iter().map(|(_, _, k)| k.jwk()).collect(),
    })
}

fn current(
    keys: &[(KeyUse, bool, Arc<SigningKey>)],
    key_use: KeyUse,
) -> Result<&SigningKey, UserPoolsError> {
    keys.iter()
        .rev()
        .find(|(u, retired, _)| *u == key_use && !retired)
        .map(|(_, _, k)| k.as_ref())
        .ok_or_else(|| UserPoolsError::Internal("The pool has no current signing key.".into()))
}

/// A per-pool secret for SRP decoys (so a name that does not exist gets the same `SALT` every
/// time, on every node): derived from the pool's current ID-token private key.
pub fn decoy_key(
    keys: &[(KeyUse, bool, Arc<SigningKey>)],
) -> Result<Zeroizing<Vec<u8>>, UserPoolsError> {
    let key = current(keys, KeyUse::IdToken)?;
    let der = key
        .to_pkcs8()
        .map_err(|e| UserPoolsError::Internal(format!("Key export failed: {e}")))?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"rampart srp decoy key\0");
    ctx.update(&der);
    Ok(Zeroizing::new(ctx.finish().as_ref().to_vec()))
}

/// The user's groups, by precedence (lowest first) then name.
async fn groups_of(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    user: &UserRecord,
) -> Result<Vec<String>, UserPoolsError> {
    let user_key = username_key(&user.username, pool.config.username_case_sensitive);
    let prefix = memberships_prefix(&pool.id, &user_key);
    let mut groups = Vec::new();
    for key in records::all_keys(svc.store.as_ref(), ns::USER_GROUPS, &prefix).await? {
        let name = key[prefix.len()..].to_owned();
        let precedence = records::load::<GroupRecord>(
            svc.store.as_ref(),
            ns::GROUPS,
            &pool_key(&pool.id, &name),
        )
        .await?
        .and_then(|g| g.record.precedence);
        groups.push((precedence.unwrap_or(u32::MAX), name));
    }
    groups.sort();
    Ok(groups.into_iter().map(|(_, name)| name).collect())
}

/// The ID token's attribute claims: what the client may read (all, when it names none), `*_verified`
/// as booleans, never `sub` (a claim of its own).
fn id_attributes(client: &AuthClient, user: &UserRecord) -> BTreeMap<String, Value> {
    let readable = &client.client().read_attributes;
    user.attributes
        .iter()
        .filter(|a| readable.is_empty() || readable.contains(&a.name))
        .map(|a| {
            let value = if a.name.ends_with("_verified") {
                json!(a.value == "true")
            } else {
                json!(a.value)
            };
            (a.name.clone(), value)
        })
        .collect()
}

/// The SHA-256 (hex) a refresh token is stored by.
pub fn refresh_token_digest(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a sign-in or refresh answers: the `AuthenticationResult` and the writes to commit.
pub struct Issued {
    pub result: Value,
    pub writes: Vec<Write>,
}

/// Signs the ID and access tokens of `user` through `client`. `family` is the family being
/// refreshed; None starts a new one with its refresh token (a sign-in).
pub async fn issue(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: &UserRecord,
    family: Option<&TokenFamilyRecord>,
    now: OffsetDateTime,
) -> Result<Issued, UserPoolsError> {
    let pool = client.pool();
    let c = client.client();
    let validity = c.token_validity;
    let keys = pool_keys(svc, &pool.id).await?;
    let mut writes = Vec::new();
    let mut refresh_token = None;
    let (origin_jti, auth_time) = match family {
        Some(f) => (f.origin_jti.clone(), f.auth_time),
        None => {
            let origin_jti = uuid::Uuid::new_v4().to_string();
            let token = Zeroizing::new(new_refresh_token()?);
            let expires_at = now + validity.refresh_duration();
            writes.push(records::put(
                ns::TOKEN_FAMILIES,
                family_key(&pool.id, &user.sub, &origin_jti),
                &TokenFamilyRecord {
                    pool_id: pool.id.clone(),
                    sub: user.sub.clone(),
                    client_id: c.client_id.clone(),
                    origin_jti: origin_jti.clone(),
                    auth_time: now,
                    expires_at,
                    revoked_at: None,
                },
                Expect::Absent,
            ));
            writes.push(records::put(
                ns::REFRESH_TOKENS,
                pool_key(&pool.id, &refresh_token_digest(&token)),
                &RefreshTokenRecord {
                    pool_id: pool.id.clone(),
                    client_id: c.client_id.clone(),
                    sub: user.sub.clone(),
                    username: user.username.clone(),
                    origin_jti: origin_jti.clone(),
                    expires_at,
                },
                Expect::Absent,
            ));
            refresh_token = Some(token);
            (origin_jti, now)
        }
    };
    let sign_in = SignIn {
        issuer: svc.issuer(&pool.id),
        client_id: c.client_id.clone(),
        sub: user.sub.clone(),
        username: user.username.clone(),
        groups: groups_of(svc, pool, user).await?,
        auth_time,
        origin_jti,
        event_id: uuid::Uuid::new_v4().to_string(),
    };
    let id_claims = IdTokenClaims::new(
        &sign_in,
        id_attributes(client, user),
        now,
        validity.id_duration(),
    );
    let access_claims = AccessTokenClaims::new(&sign_in, now, validity.access_duration());
    let sign_error = |e: rampart_identity::tokens::TokenError| {
        UserPoolsError::Internal(format!("A token could not be signed: {e}"))
    };
    let id_token = current(&keys, KeyUse::IdToken)?
        .sign(&id_claims)
        .map_err(sign_error)?;
    let access_token = current(&keys, KeyUse::AccessToken)?
        .sign(&access_claims)
        .map_err(sign_error)?;
    let mut result = json!({
        "AccessToken": access_token,
        "ExpiresIn": validity.access_duration().whole_seconds(),
        "TokenType": "Bearer",
        "IdToken": id_token,
    });
    if let Some(token) = refresh_token {
        result["RefreshToken"] = json!(token.as_str());
    }
    Ok(Issued { result, writes })
}

/// 48 random bytes, base64url: opaque to clients, unguessable.
fn new_refresh_token() -> Result<String, UserPoolsError> {
    let mut bytes = Zeroizing::new([0u8; 48]);
    aws_lc_rs::rand::fill(bytes.as_mut_slice())
        .map_err(|_| UserPoolsError::Internal("The random source failed.".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes.as_slice()))
}

/// The JWKS of one pool, already read from the store, for the verifier.
struct StoredJwks(JwkSet);

#[async_trait::async_trait]
impl JwksFetcher for StoredJwks {
    async fn fetch(&self, _: &str) -> Result<JwkSet, FetchError> {
        Ok(self.0.clone())
    }
}

/// An access token taken back: who it is for, in which pool and family, through which client.
pub struct AccessGrant {
    pub pool: Stored<PoolRecord>,
    pub user: Stored<UserRecord>,
    pub family: Stored<TokenFamilyRecord>,
    /// The app client the token was issued to (its ReadAttributes bound what GetUser shows).
    pub client: Stored<ClientRecord>,
}

fn invalid_token() -> UserPoolsError {
    UserPoolsError::NotAuthorized("Invalid Access Token".into())
}

fn revoked_token() -> UserPoolsError {
    UserPoolsError::NotAuthorized("Access Token has been revoked".into())
}

/// Accepts `token` as an access token of one of this installation's pools (GetUser,
/// GlobalSignOut): signature against that pool's keys, `token_use`, `exp`, a client that still
/// exists, a family neither revoked nor expired, a user that still exists and is enabled.
pub async fn accept_access_token(
    svc: &UserPoolsService,
    token: &str,
) -> Result<AccessGrant, UserPoolsError> {
    // The claims are read unverified only to find which pool's keys to verify with; the
    // verifier then checks the issuer is exactly that pool's.
    let unverified = unverified_claims(token).ok_or_else(invalid_token)?;
    let pool_id = unverified
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| iss.rsplit('/').next())
        .filter(|id| crate::ids::is_pool_id_shaped(id))
        .ok_or_else(invalid_token)?
        .to_owned();
    let client_id = unverified
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or_else(invalid_token)?
        .to_owned();
    let pool = svc.load_pool(&pool_id).await?.ok_or_else(invalid_token)?;
    let client = svc
        .load_client(&pool_id, &client_id)
        .await?
        .ok_or_else(invalid_token)?;
    let mut config = VerifierConfig::new(svc.issuer(&pool_id), vec![client_id.clone()]);
    config.token_use = Some(TokenUse::Access);
    let verifier = JwtVerifier::new(config, Arc::new(StoredJwks(jwks(svc, &pool_id).await?)));
    let verified = verifier.verify(token).await.map_err(|e| match e {
        VerifyError::Expired => UserPoolsError::NotAuthorized("Access Token has expired".into()),
        _ => invalid_token(),
    })?;
    let (Some(sub), Some(username), Some(origin_jti)) = (
        verified.claim_str("sub"),
        verified.claim_str("username"),
        verified.claim_str("origin_jti"),
    ) else {
        return Err(invalid_token());
    };
    let family = records::load::<TokenFamilyRecord>(
        svc.store.as_ref(),
        ns::TOKEN_FAMILIES,
        &family_key(&pool_id, sub, origin_jti),
    )
    .await?
    .ok_or_else(revoked_token)?;
    if family.record.revoked_at.is_some() {
        return Err(revoked_token());
    }
    let user = records::load::<UserRecord>(
        svc.store.as_ref(),
        ns::USERS,
        &crate::users::user_key(&pool.record, username),
    )
    .await?
    .filter(|u| u.record.sub == sub)
    .ok_or_else(|| UserPoolsError::NotAuthorized("User does not exist.".into()))?;
    if !user.record.enabled {
        return Err(UserPoolsError::NotAuthorized("User is disabled.".into()));
    }
    Ok(AccessGrant {
        pool,
        user,
        family,
        client,
    })
}

fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The writes that revoke every unrevoked family of `user` (a global sign-out).
pub async fn revoke_all(
    svc: &UserPoolsService,
    pool_id: &str,
    sub: &str,
    now: OffsetDateTime,
) -> Result<Vec<Write>, UserPoolsError> {
    let prefix = families_prefix(pool_id, sub);
    let mut writes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, more) = records::list::<TokenFamilyRecord>(
            svc.store.as_ref(),
            ns::TOKEN_FAMILIES,
            &prefix,
            after.as_deref(),
            200,
        )
        .await?;
        for (key, family) in page {
            after = Some(key.clone());
            if family.record.revoked_at.is_none() {
                writes.push(revoke(key, family, now));
            }
        }
        if !more {
            return Ok(writes);
        }
    }
}

/// The write that revokes one family.
pub fn revoke(key: String, family: Stored<TokenFamilyRecord>, now: OffsetDateTime) -> Write {
    let mut record = family.record;
    record.revoked_at = Some(now);
    records::put(
        ns::TOKEN_FAMILIES,
        key,
        &record,
        Expect::Version(family.version),
    )
}
