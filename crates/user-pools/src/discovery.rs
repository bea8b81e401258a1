//! What a pool publishes for anyone to verify its tokens: the JWKS (the public halves of its
//! signing keys, current and retired) and the OpenID discovery document naming its issuer
//! (`<public-url>/<poolId>`). The server serves them unsigned at
//! `/<poolId>/.well-known/jwks.json` and `/<poolId>/.well-known/openid-configuration`.

use rampart_core::SealPurpose;
use rampart_identity::tokens::{self, JwkSet, SigningKey};
use serde_json::Value;

use crate::error::UserPoolsError;
use crate::records::signing_keys::{KeyUse, SigningKeysRecord};
use crate::records::{self, ns};
use crate::sealing::{self, signing_key_context};
use crate::{ids, UserPoolsService};

impl UserPoolsService {
    /// The JWKS of `pool_id`: its current ID-token key, its current access-token key, then
    /// every retired key still published; None for a pool that does not exist.
    pub async fn jwks(&self, pool_id: &str) -> Result<Option<JwkSet>, UserPoolsError> {
        if !ids::is_pool_id_shaped(pool_id) || self.load_pool(pool_id).await?.is_none() {
            return Ok(None);
        }
        let Some(stored) =
            records::load::<SigningKeysRecord>(self.store.as_ref(), ns::SIGNING_KEYS, pool_id)
                .await?
        else {
            return Ok(None);
        };
        let now = crate::service::now();
        let mut keys = stored.record.keys;
        // Retired keys no token can need any more are gone from the JWKS at once, whether or
        // not the sweep has dropped them yet.
        keys.retain(|k| k.is_published(now));
        // Current keys first (ID, then access), retired ones after, newest first.
        keys.sort_by_key(|k| {
            (
                k.retired_at.is_some(),
                k.key_use != KeyUse::IdToken,
                std::cmp::Reverse(k.created_at),
            )
        });
        let mut set = JwkSet::default();
        for k in &keys {
            let der = sealing::open(
                &self.keyring,
                SealPurpose::UserPoolSigningKey,
                &signing_key_context(pool_id, &k.kid),
                &k.sealed_pkcs8,
            )?;
            let key = SigningKey::from_pkcs8(&der)
                .map_err(|e| UserPoolsError::Internal(format!("A signing key is unusable: {e}")))?;
            set.keys.push(key.jwk());
        }
        Ok(Some(set))
    }

    /// The OpenID discovery document of `pool_id`; None for a pool that does not exist.
    pub async fn openid_configuration(
        &self,
        pool_id: &str,
    ) -> Result<Option<Value>, UserPoolsError> {
        if !ids::is_pool_id_shaped(pool_id) || self.load_pool(pool_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(tokens::openid_configuration(&self.issuer(pool_id))))
    }
}
