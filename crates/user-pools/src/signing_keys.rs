//! A pool's signing keys over their life: made with the pool, rotated by
//! `rampart identity rotate-keys POOL`, published while any token they signed can still be
//! valid, then dropped.
//!
//! A rotation makes a new ID-token key and a new access-token key and retires the current
//! ones: from then on every node signs with the new keys (each sign-in reads the pool's keys from
//! the store), while the retired keys' public halves stay in the JWKS, and keep verifying, until
//! `published_until` = the rotation + the longest ID or access token validity of the pool's app
//! clients + the verifiers' clock-skew leeway. After that no token they signed can be valid: they
//! leave the JWKS and the verifier at once (every read filters them), and the maintenance sweep
//! removes them from the store with an audit record of its own.
//!
//! A client whose validity was shortened or that was deleted before the rotation is not counted:
//! tokens it issued with the longer validity may outlive their key by the difference.

use rampart_core::{AuditRecord, RootKeyring, SealPurpose};
use rampart_identity::tokens::PoolSigningKeys;
use rampart_store::{Expect, Store};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::error::UserPoolsError;
use crate::records::client::ClientRecord;
use crate::records::pool::PoolRecord;
use crate::records::signing_keys::{KeyUse, SigningKeysRecord, StoredSigningKey};
use crate::records::{self, ns, pool_prefix};
use crate::sealing::{self, signing_key_context};

/// The clock skew verifiers allow on `exp` (the identity verifier's default leeway): a retired
/// key stays published this long after the last token it signed expired.
pub const VERIFIER_LEEWAY: Duration = Duration::seconds(30);

/// A new ID-token key and access-token key for `pool_id`, sealed, current from `at`.
pub async fn generate(
    keyring: &RootKeyring,
    pool_id: &str,
    at: OffsetDateTime,
) -> Result<Vec<StoredSigningKey>, UserPoolsError> {
    // RSA key generation takes tens of milliseconds: off the async workers.
    let generated = tokio::task::spawn_blocking(PoolSigningKeys::generate)
        .await
        .map_err(|_| UserPoolsError::Internal("Key generation was interrupted.".into()))?
        .map_err(|e| UserPoolsError::Internal(format!("Key generation failed: {e}")))?;
    let mut keys = Vec::with_capacity(2);
    for (key, key_use) in [
        (&generated.id_token, KeyUse::IdToken),
        (&generated.access_token, KeyUse::AccessToken),
    ] {
        let der = key
            .to_pkcs8()
            .map_err(|e| UserPoolsError::Internal(format!("Key export failed: {e}")))?;
        keys.push(StoredSigningKey {
            kid: key.kid().to_owned(),
            key_use,
            sealed_pkcs8: sealing::seal(
                keyring,
                SealPurpose::UserPoolSigningKey,
                &signing_key_context(pool_id, key.kid()),
                &der,
            ),
            created_at: at,
            retired_at: None,
            published_until: None,
        });
    }
    Ok(keys)
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRotation {
    pub pool_id: String,
    pub pool_arn: String,
    /// The new current keys' ids (ID token, access token).
    pub new_kids: Vec<String>,
    /// The keys this rotation retired.
    pub retired_kids: Vec<String>,
    /// Keys retired earlier whose tokens can no longer be valid, removed now.
    pub dropped_kids: Vec<String>,
    /// Until when the retired keys stay published.
    #[serde(with = "time::serde::rfc3339")]
    pub retired_published_until: OffsetDateTime,
}

/// How long tokens signed now can be valid: the longest ID or access token validity of the
/// pool's clients (`without_clients` for a pool that has none), plus [`VERIFIER_LEEWAY`].
pub async fn token_lifetime(
    store: &dyn Store,
    pool_id: &str,
    without_clients: Duration,
) -> Result<Duration, UserPoolsError> {
    let mut longest: Option<Duration> = None;
    let mut after: Option<String> = None;
    loop {
        let (page, more) = records::list::<ClientRecord>(
            store,
            ns::CLIENTS,
            &pool_prefix(pool_id),
            after.as_deref(),
            200,
        )
        .await?;
        for (key, client) in page {
            after = Some(key);
            let v = client.record.token_validity;
            let client_longest = v.access_duration().max(v.id_duration());
            longest = Some(longest.map_or(client_longest, |l| l.max(client_longest)));
        }
        if !more {
            return Ok(longest.unwrap_or(without_clients) + VERIFIER_LEEWAY);
        }
    }
}

/// Rotates the signing keys of `pool_id` at `now`: new current keys, the current ones retired
/// and published for as long as their tokens can be valid, expired retired keys dropped. The
/// change is committed with the audit record `audit` makes of it, or not at all (a concurrent
/// change to the keys fails it with `ConcurrentModificationException`).
pub async fn rotate(
    store: &dyn Store,
    keyring: &RootKeyring,
    pool_id: &str,
    now: OffsetDateTime,
    audit: impl FnOnce(&KeyRotation) -> AuditRecord,
) -> Result<KeyRotation, UserPoolsError> {
    let pool = records::load::<PoolRecord>(store, ns::POOLS, pool_id)
        .await?
        .ok_or_else(|| UserPoolsError::pool_not_found(pool_id))?;
    let stored = records::load::<SigningKeysRecord>(store, ns::SIGNING_KEYS, pool_id)
        .await?
        .ok_or_else(|| UserPoolsError::Internal("The pool has no signing keys.".into()))?;
    // A pool without clients has issued no token that could still be valid, but a client
    // deleted a moment ago may have: Cognito's default validity covers it.
    let lifetime = token_lifetime(store, pool_id, Duration::hours(1)).await?;
    let published_until = now + lifetime;
    let mut rotation = KeyRotation {
        pool_id: pool_id.to_owned(),
        pool_arn: pool.record.arn.clone(),
        new_kids: Vec::new(),
        retired_kids: Vec::new(),
        dropped_kids: Vec::new(),
        retired_published_until: published_until,
    };
    let mut keys = Vec::with_capacity(stored.record.keys.len() + 2);
    for mut key in stored.record.keys {
        if !key.is_published(now) {
            rotation.dropped_kids.push(key.kid);
            continue;
        }
        if key.retired_at.is_none() {
            key.retired_at = Some(now);
            key.published_until = Some(published_until);
            rotation.retired_kids.push(key.kid.clone());
        }
        keys.push(key);
    }
    for key in generate(keyring, pool_id, now).await? {
        rotation.new_kids.push(key.kid.clone());
        keys.push(key);
    }
    let record = SigningKeysRecord {
        pool_id: pool_id.to_owned(),
        keys,
    };
    let write = records::put(
        ns::SIGNING_KEYS,
        pool_id.to_owned(),
        &record,
        Expect::Version(stored.version),
    );
    store.commit_audited(vec![write], &audit(&rotation)).await?;
    Ok(rotation)
}

/// The principal the service's own changes are audited under, as CloudTrail names Cognito.
const SERVICE_PRINCIPAL: &str = "cognito-idp.amazonaws.com";

/// Removes, from every pool, the retired keys no token can need any more (the maintenance
/// sweep; each pool's change audited on its own and expecting the version it read, so nodes
/// sweeping together make it once). Answers how many keys went.
pub async fn drop_unpublished(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<usize, UserPoolsError> {
    let mut dropped = 0;
    let mut after: Option<String> = None;
    loop {
        let (page, more) =
            records::list::<SigningKeysRecord>(store, ns::SIGNING_KEYS, "", after.as_deref(), 200)
                .await?;
        for (pool_id, stored) in page {
            after = Some(pool_id.clone());
            let (kept, gone): (Vec<_>, Vec<_>) = stored
                .record
                .keys
                .into_iter()
                .partition(|k| k.is_published(now));
            if gone.is_empty() {
                continue;
            }
            let arn = records::load::<PoolRecord>(store, ns::POOLS, &pool_id)
                .await?
                .map(|p| p.record.arn)
                .unwrap_or_else(|| pool_id.clone());
            let mut audit = AuditRecord::service_action(
                now,
                SERVICE_PRINCIPAL,
                "cognito-idp",
                "DropRetiredSigningKeys",
                &arn,
            );
            audit.checks = gone
                .iter()
                .map(|k| rampart_core::AuditCheck {
                    action: "cognito-idp:DropRetiredSigningKeys".to_owned(),
                    resource: key_resource(&arn, &k.kid),
                    decision: "service".to_owned(),
                })
                .collect();
            let record = SigningKeysRecord {
                pool_id: pool_id.clone(),
                keys: kept,
            };
            let write = records::put(
                ns::SIGNING_KEYS,
                pool_id.clone(),
                &record,
                Expect::Version(stored.version),
            );
            // A rotation meanwhile fails this write alone; the next sweep sees its result.
            if store.commit_audited(vec![write], &audit).await.is_ok() {
                dropped += gone.len();
            }
        }
        if !more {
            return Ok(dropped);
        }
    }
}

/// How an audit record names one key of a pool.
pub fn key_resource(pool_arn: &str, kid: &str) -> String {
    format!("{pool_arn}/signing-key/{kid}")
}

#[cfg(test)]
mod tests;
