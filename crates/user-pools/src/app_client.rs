//! The app client a public operation names (SignUp, ConfirmSignUp, ForgotPassword, …): found
//! by its id alone through the `client-pools` index, and proven by `SECRET_HASH` when it has a
//! secret. The client decides the pool: every user such an operation touches is looked up in
//! that pool only.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rampart_core::SealPurpose;
use rampart_store::{Expect, Write};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::UserPoolsError;
use crate::records::client::ClientRecord;
use crate::records::pool::PoolRecord;
use crate::records::{self, ns, Stored};
use crate::sealing::{self, client_context};
use crate::{ids, UserPoolsService};

/// An entry of [`ns::CLIENT_POOLS`]: the pool a client id belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPool {
    pub pool_id: String,
}

/// The index entry written with a new client.
pub fn index_write(pool_id: &str, client_id: &str) -> Write {
    records::put(
        ns::CLIENT_POOLS,
        client_id.to_owned(),
        &ClientPool {
            pool_id: pool_id.to_owned(),
        },
        Expect::Absent,
    )
}

/// Reads a `ClientId` member: 1 to 128 characters of `[\w+]+`.
pub fn client_id_member(id: String) -> Result<String, UserPoolsError> {
    if !ids::is_client_id_shaped(&id) {
        return Err(UserPoolsError::constraint(
            &id,
            "clientId",
            "Member must satisfy regular expression pattern: [\\w+]+",
        ));
    }
    Ok(id)
}

/// A client and the pool it belongs to.
pub struct AppClient {
    pub pool: Stored<PoolRecord>,
    pub client: Stored<ClientRecord>,
}

/// The client `client_id` and its pool, or `ResourceNotFoundException`.
pub async fn resolve(svc: &UserPoolsService, client_id: &str) -> Result<AppClient, UserPoolsError> {
    let not_found = || UserPoolsError::client_not_found(client_id);
    let index = records::load::<ClientPool>(svc.store.as_ref(), ns::CLIENT_POOLS, client_id)
        .await?
        .ok_or_else(not_found)?;
    let pool_id = index.record.pool_id;
    let client = svc
        .load_client(&pool_id, client_id)
        .await?
        .ok_or_else(not_found)?;
    let pool = svc.load_pool(&pool_id).await?.ok_or_else(not_found)?;
    // The client record is keyed under its pool; check anyway that the index and the record
    // agree, so a stale entry can never lead into another pool.
    if client.record.pool_id != pool.record.id || client.record.client_id != client_id {
        return Err(not_found());
    }
    Ok(AppClient { pool, client })
}

/// `SECRET_HASH`: Base64(HMAC-SHA256(key = client secret, message = username ‖ client id)).
pub fn secret_hash(secret: &[u8], username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(username.as_bytes());
    ctx.update(client_id.as_bytes());
    STANDARD.encode(ctx.sign().as_ref())
}

impl AppClient {
    /// The pool's record.
    pub fn pool(&self) -> &PoolRecord {
        &self.pool.record
    }

    /// Checks `given` (the request's `SecretHash`) for `username` when the client has a
    /// secret: required then, compared in constant time. A client without a secret ignores it.
    pub fn check_secret_hash(
        &self,
        svc: &UserPoolsService,
        username: &str,
        given: Option<&str>,
    ) -> Result<(), UserPoolsError> {
        let c = &self.client.record;
        let Some(sealed) = &c.sealed_secret else {
            return Ok(());
        };
        let refused = || {
            UserPoolsError::NotAuthorized(format!(
                "Unable to verify secret hash for client {}",
                c.client_id
            ))
        };
        let given = given.ok_or_else(refused)?;
        let secret = sealing::open(
            &svc.keyring,
            SealPurpose::UserPoolClientSecret,
            &client_context(&c.pool_id, &c.client_id),
            sealed,
        )?;
        let expected = secret_hash(&secret, username, &c.client_id);
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// Whether the client answers unknown users as it answers wrong codes and passwords.
    pub fn prevents_user_existence_errors(&self) -> bool {
        self.client.record.prevent_user_existence_errors
    }
}

/// Reads a `SecretHash` member: 1 to 128 characters of `[\w+=/]+`, never echoed.
pub fn secret_hash_member(value: Option<String>) -> Result<Option<String>, UserPoolsError> {
    match value {
        Some(v)
            if v.is_empty()
                || v.chars().count() > 128
                || !v.chars().all(|c| c.is_alphanumeric() || "_+=/".contains(c)) =>
        {
            Err(UserPoolsError::secret_constraint(
                "secretHash",
                "Member must satisfy regular expression pattern: [\\w+=/]+",
            ))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_is_cognitos() {
        // Computed with Python's hmac: base64(hmac_sha256(b"secret", b"alice" + b"client1")).
        let h = secret_hash(b"secret", "alice", "client1");
        assert_eq!(h, "1f+jIZ5jrvd9T9LKNEBwDVXuGhIxTem62DTEPkKb29k=");
        assert_ne!(h, secret_hash(b"secret", "alice", "client2"));
    }
}
