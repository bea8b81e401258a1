//! Access keys and the resolver that turns an access key id into a verified identity.
//!
//! Secrets are sealed with the installation's root key before they reach the store. The
//! resolver caches what it read for a short time: a key disabled or deleted on another node
//! stops working within [`CACHE_TTL`]; on this node, invalidation is immediate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rampart_core::arn::assumed_role_arn;
use rampart_core::seal::{HoldsSealed, SealedSlot};
use rampart_core::{CallerIdentity, PrincipalType, RootKeyring, SealPurpose, SessionLineage};
use rampart_policy::RequestPrincipal;
use rampart_store::{Store, StoreError};
use rampart_wire::sigv4::SigningKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::entities::{self, Role, User};
use crate::evaluation::{
    role_policies, session_policies, user_policies, CompiledPolicyCache, PrincipalPolicies,
};
use crate::ns;
use crate::sessions::{SessionOrigin, SessionRecord};

/// How long a resolved (or unknown) access key is trusted without re-reading the store.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// How many derived signing keys one credential keeps (one per date/region/service in use).
const SIGNING_KEYS_PER_CREDENTIAL: usize = 8;

/// Whether an access key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

/// An access key as stored: the secret only in sealed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub user_name: String,
    pub status: AccessKeyStatus,
    /// The secret access key sealed with the root key, bound to the access key id.
    pub sealed_secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl AccessKeyRecord {
    /// A store write that saves this record, expecting the key to be at `expect`.
    pub fn write(&self, expect: rampart_store::Expect) -> rampart_store::Write {
        rampart_store::Write::Put {
            ns: ns::ACCESS_KEYS.to_owned(),
            key: self.access_key_id.clone(),
            value: serde_json::to_vec(self).expect("plain records serialise"),
            expect,
        }
    }
}

impl HoldsSealed for AccessKeyRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        vec![SealedSlot {
            purpose: SealPurpose::AccessKeySecret,
            context: self.access_key_id.clone(),
            sealed: &mut self.sealed_secret,
        }]
    }
}

/// Why a request's credentials were refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("unknown access key")]
    UnknownAccessKey,
    #[error("inactive access key")]
    InactiveAccessKey,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stored credential cannot be opened: {0}")]
    Unsealable(String),
}

/// A known, active credential: the secret to verify signatures with and the identity it proves.
pub struct ResolvedCredential {
    pub access_key_id: String,
    secret: String,
    /// The identity, less the per-request facts (source IP, transport) the server fills in.
    pub identity: CallerIdentity,
    /// The principal as the policy engine sees it (ARN, ids, tags).
    pub principal: RequestPrincipal,
    /// The principal's compiled policies, read when the credential was resolved.
    pub policies: PrincipalPolicies,
    /// For temporary credentials: the session token and expiry to check on every request.
    pub session: Option<SessionFacts>,
    signing_keys: RwLock<Vec<(String, SigningKey)>>,
    fetched_at: Instant,
}

impl std::fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("access_key_id", &self.access_key_id)
            .field("identity", &self.identity.arn)
            .finish_non_exhaustive()
    }
}

impl ResolvedCredential {
    /// The SigV4 signing key for a credential scope, derived once and then reused.
    pub fn signing_key(&self, date: &str, region: &str, service: &str) -> SigningKey {
        let scope_matches = |s: &str| {
            let mut parts = s.split('/');
            parts.next() == Some(date)
                && parts.next() == Some(region)
                && parts.next() == Some(service)
        };
        if let Ok(keys) = self.signing_keys.read() {
            if let Some((_, key)) = keys.iter().find(|(s, _)| scope_matches(s)) {
                return key.clone();
            }
        }
        let key = SigningKey::derive(&self.secret, date, region, service);
        if let Ok(mut keys) = self.signing_keys.write() {
            if keys.len() >= SIGNING_KEYS_PER_CREDENTIAL {
                keys.remove(0);
            }
            keys.push((format!("{date}/{region}/{service}"), key.clone()));
        }
        key
    }
}

/// Looks up access keys, with a short-lived cache in front of the store.
pub struct CredentialResolver {
    store: Arc<dyn Store>,
    root_keys: Arc<RootKeyring>,
    cache: quick_cache::sync::Cache<String, CacheEntry>,
    compiled: CompiledPolicyCache,
    /// Bumped by every invalidation. A load that started before an invalidation read state
    /// the invalidation may have removed, so its result is used once but never cached.
    generation: AtomicU64,
}

#[derive(Clone)]
enum CacheEntry {
    Known(Arc<ResolvedCredential>),
    Unknown(Instant),
}

impl CredentialResolver {
    pub fn new(store: Arc<dyn Store>, root_keys: Arc<RootKeyring>) -> Self {
        CredentialResolver {
            store,
            root_keys,
            cache: quick_cache::sync::Cache::new(10_000),
            compiled: CompiledPolicyCache::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// The credential for `access_key_id`, if it exists and is active.
    pub async fn resolve(
        &self,
        access_key_id: &str,
    ) -> Result<Arc<ResolvedCredential>, CredentialError> {
        match self.cache.get(access_key_id) {
            Some(CacheEntry::Known(cred)) if cred.fetched_at.elapsed() < CACHE_TTL => {
                return Ok(cred)
            }
            Some(CacheEntry::Unknown(at)) if at.elapsed() < CACHE_TTL => {
                return Err(CredentialError::UnknownAccessKey)
            }
            _ => {}
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = self.load(access_key_id).await;
        // Cache only what no invalidation overtook while it was read.
        let current = || self.generation.load(Ordering::Acquire) == generation;
        match loaded {
            Ok(cred) => {
                let cred = Arc::new(cred);
                if current() {
                    self.cache
                        .insert(access_key_id.to_owned(), CacheEntry::Known(cred.clone()));
                    // An invalidation between the check and the insert: take it back out.
                    if !current() {
                        self.cache.remove(access_key_id);
                    }
                }
                Ok(cred)
            }
            Err(CredentialError::UnknownAccessKey) => {
                if current() {
                    self.cache.insert(
                        access_key_id.to_owned(),
                        CacheEntry::Unknown(Instant::now()),
                    );
                    if !current() {
                        self.cache.remove(access_key_id);
                    }
                }
                Err(CredentialError::UnknownAccessKey)
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets every cached credential, e.g. after a policy, group or boundary changed: IAM
    /// writes are rare, and re-reading is cheaper than working out whom a change affects.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }

    async fn load(&self, access_key_id: &str) -> Result<ResolvedCredential, CredentialError> {
        // Key ids are upper-case base32; anything else cannot exist, so spare the store.
        if access_key_id.len() > 128 || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CredentialError::UnknownAccessKey);
        }
        if access_key_id.starts_with("ASIA") {
            return self.load_session(access_key_id).await;
        }
        let Some(item) = self.store.get(ns::ACCESS_KEYS, access_key_id).await? else {
            return Err(CredentialError::UnknownAccessKey);
        };
        let record: AccessKeyRecord = serde_json::from_slice(&item.value)
            .map_err(|e| StoreError::Corrupt(format!("access key record: {e}")))?;
        if record.status != AccessKeyStatus::Active {
            return Err(CredentialError::InactiveAccessKey);
        }
        let user = entities::load::<User>(self.store.as_ref(), &record.user_name)
            .await?
            .ok_or(CredentialError::UnknownAccessKey)?
            .entity;
        let secret = self.unseal(&record.sealed_secret, access_key_id)?;
        let policies = user_policies(self.store.as_ref(), &self.compiled, &user).await?;
        Ok(self.user_credential(access_key_id, secret, &user, policies, None))
    }

    fn unseal(&self, sealed: &str, access_key_id: &str) -> Result<String, CredentialError> {
        let secret = self
            .root_keys
            .open(sealed, SealPurpose::AccessKeySecret, access_key_id)
            .map_err(|e| CredentialError::Unsealable(e.to_string()))?;
        String::from_utf8(secret.to_vec())
            .map_err(|_| CredentialError::Unsealable("secret is not UTF-8".into()))
    }

    /// A credential that acts as `user` (a long-term key, or a `GetSessionToken` session).
    fn user_credential(
        &self,
        access_key_id: &str,
        secret: String,
        user: &User,
        policies: PrincipalPolicies,
        session: Option<SessionFacts>,
    ) -> ResolvedCredential {
        let principal = RequestPrincipal::user(&user.arn, &user.user_id)
            .with_tags(user.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
        let identity = CallerIdentity {
            account_id: account_of(&user.arn),
            arn: user.arn.clone(),
            user_id: user.user_id.clone(),
            principal_type: PrincipalType::User,
            name: user.name.clone(),
            access_key_id: access_key_id.to_owned(),
            temporary: session.is_some(),
            session_name: None,
            token_issue_time: session.as_ref().map(|s| s.issued_at),
            source_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            secure_transport: false,
            mfa_present: false,
            lineage: SessionLineage::default(),
        };
        self.credential(
            access_key_id,
            secret,
            identity,
            principal,
            policies,
            session,
        )
    }

    fn credential(
        &self,
        access_key_id: &str,
        secret: String,
        identity: CallerIdentity,
        principal: RequestPrincipal,
        policies: PrincipalPolicies,
        session: Option<SessionFacts>,
    ) -> ResolvedCredential {
        ResolvedCredential {
            access_key_id: access_key_id.to_owned(),
            secret,
            identity,
            principal,
            policies,
            session,
            signing_keys: RwLock::new(Vec::with_capacity(2)),
            fetched_at: Instant::now(),
        }
    }

    /// Temporary credentials from `sts:AssumeRole` or `sts:GetSessionToken`.
    async fn load_session(
        &self,
        access_key_id: &str,
    ) -> Result<ResolvedCredential, CredentialError> {
        let Some(item) = self.store.get(ns::SESSIONS, access_key_id).await? else {
            return Err(CredentialError::UnknownAccessKey);
        };
        let record: SessionRecord = serde_json::from_slice(&item.value)
            .map_err(|e| StoreError::Corrupt(format!("session record: {e}")))?;
        let secret = self.unseal(&record.sealed_secret, access_key_id)?;
        let mut token_sha256 = [0u8; 32];
        hex::decode_to_slice(&record.token_sha256, &mut token_sha256)
            .map_err(|_| StoreError::Corrupt("session token hash".into()))?;
        let facts = SessionFacts {
            token_sha256,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            from_get_session_token: matches!(record.origin, SessionOrigin::SessionToken { .. }),
        };
        let store = self.store.as_ref();
        match &record.origin {
            SessionOrigin::SessionToken { user_name, user_id } => {
                let user = entities::load::<User>(store, user_name)
                    .await?
                    .ok_or(CredentialError::UnknownAccessKey)?
                    .entity;
                // Another user under the same name is another principal.
                if user_id.as_ref().is_some_and(|id| *id != user.user_id) {
                    return Err(CredentialError::UnknownAccessKey);
                }
                let policies = user_policies(store, &self.compiled, &user).await?;
                Ok(self.user_credential(access_key_id, secret, &user, policies, Some(facts)))
            }
            SessionOrigin::AssumedRole {
                role_name,
                role_id,
                session_name,
                ..
            } => {
                // A deleted role takes its sessions with it, and a role re-created under the
                // same name is another role: its id differs, as on AWS.
                let role = entities::load::<Role>(store, role_name)
                    .await?
                    .ok_or(CredentialError::UnknownAccessKey)?
                    .entity;
                if role.role_id != *role_id {
                    return Err(CredentialError::UnknownAccessKey);
                }
                let mut policies = role_policies(store, &self.compiled, &role).await?;
                policies.session = session_policies(store, &self.compiled, &record).await?;
                let account_id = account_of(&role.arn);
                // Session tags override the role's tags of the same key.
                let mut tags: Vec<(&str, &str)> = record
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str()))
                    .collect();
                for t in &role.tags {
                    if !tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(&t.key)) {
                        tags.push((&t.key, &t.value));
                    }
                }
                let principal =
                    RequestPrincipal::role_session(&role.arn, session_name, &role.role_id)
                        .with_tags(tags);
                let identity = CallerIdentity {
                    arn: assumed_role_arn(&account_id, &role.name, session_name),
                    user_id: format!("{}:{session_name}", role.role_id),
                    account_id,
                    principal_type: PrincipalType::AssumedRole,
                    name: role.name.clone(),
                    access_key_id: access_key_id.to_owned(),
                    temporary: true,
                    session_name: Some(session_name.clone()),
                    token_issue_time: Some(record.issued_at),
                    source_ip: std::net::IpAddr::from([0, 0, 0, 0]),
                    secure_transport: false,
                    mfa_present: false,
                    lineage: SessionLineage {
                        source_identity: record.source_identity.clone(),
                        transitive_tags: record
                            .tags
                            .iter()
                            .filter(|t| {
                                record
                                    .transitive_tag_keys
                                    .iter()
                                    .any(|k| k.eq_ignore_ascii_case(&t.key))
                            })
                            .map(|t| (t.key.clone(), t.value.clone()))
                            .collect(),
                    },
                };
                Ok(self.credential(
                    access_key_id,
                    secret,
                    identity,
                    principal,
                    policies,
                    Some(facts),
                ))
            }
        }
    }
}

/// The account id in an IAM ARN (empty if it is not one).
fn account_of(arn: &str) -> String {
    rampart_core::Arn::parse(arn)
        .map(|a| a.account_id)
        .unwrap_or_default()
}

/// What a temporary credential must also satisfy on every request.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    /// SHA-256 of the session token the request must carry.
    pub token_sha256: [u8; 32],
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// `GetSessionToken` credentials may not call the IAM API without MFA (AWS's rule).
    pub from_get_session_token: bool,
}

impl SessionFacts {
    /// Whether `token` is this session's token (constant-time comparison).
    pub fn token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        crate::sessions::token_sha256(token)
            .ct_eq(&self.token_sha256)
            .into()
    }
}
