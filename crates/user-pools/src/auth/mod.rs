//! Signing in: what InitiateAuth, RespondToAuthChallenge and their `Admin*` forms share — the
//! app client the request names (found through its pool: the authorized pool for `Admin*`,
//! the client index for public operations) and its secret hash, the password check with the
//! failed-attempt counter ([`lockout`]), challenge sessions ([`session`]) and the tokens a
//! successful sign-in yields ([`tokens`]).

pub mod lockout;
pub mod mfa;
pub mod session;
pub mod sign_in;
pub mod sweep;
pub mod tokens;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rampart_core::SealPurpose;

use crate::app_client::{self, AppClient};
use crate::error::UserPoolsError;
use crate::records::client::ClientRecord;
use crate::records::pool::PoolRecord;
use crate::records::Stored;
use crate::sealing::{self, client_context};
use crate::UserPoolsService;

/// The app client a sign-in goes through, with its pool.
pub struct AuthClient {
    pub pool: Stored<PoolRecord>,
    pub client: Stored<ClientRecord>,
    /// Reached through an `Admin*` operation (SigV4 + IAM on the pool).
    pub admin: bool,
}

impl AuthClient {
    /// The client `client_id` of whichever pool holds it (public operations).
    pub async fn public(svc: &UserPoolsService, client_id: &str) -> Result<Self, UserPoolsError> {
        let AppClient { pool, client } = app_client::resolve(svc, client_id).await?;
        Ok(AuthClient {
            pool,
            client,
            admin: false,
        })
    }

    /// The client `client_id` of the authorized `pool` only (`Admin*` operations).
    pub async fn admin(
        svc: &UserPoolsService,
        pool: Stored<PoolRecord>,
        client_id: &str,
    ) -> Result<Self, UserPoolsError> {
        let client = svc
            .load_client(&pool.record.id, client_id)
            .await?
            .ok_or_else(|| UserPoolsError::client_not_found(client_id))?;
        Ok(AuthClient {
            pool,
            client,
            admin: true,
        })
    }

    pub fn pool(&self) -> &PoolRecord {
        &self.pool.record
    }

    pub fn client(&self) -> &ClientRecord {
        &self.client.record
    }

    /// Whether the client allows `flow` (`USER_PASSWORD_AUTH`, …), by its `ALLOW_` name or the
    /// legacy one.
    pub fn allows(&self, flow: Flow) -> bool {
        let c = self.client();
        match flow {
            Flow::UserPassword => {
                c.allows_flow("ALLOW_USER_PASSWORD_AUTH") || c.allows_flow("USER_PASSWORD_AUTH")
            }
            Flow::AdminUserPassword => {
                c.allows_flow("ALLOW_ADMIN_USER_PASSWORD_AUTH")
                    || c.allows_flow("ADMIN_NO_SRP_AUTH")
            }
            // Legacy clients always allow SRP and refresh.
            Flow::UserSrp => c.allows_flow("ALLOW_USER_SRP_AUTH") || legacy(c) && !custom_only(c),
            Flow::Refresh => c.allows_flow("ALLOW_REFRESH_TOKEN_AUTH") || legacy(c),
        }
    }

    /// Refuses the request when the client has a secret and `secret_hash` is not
    /// base64(HMAC-SHA256(secret, username ‖ client id)) for one of `usernames`; compared in
    /// constant time.
    pub fn check_secret_hash(
        &self,
        svc: &UserPoolsService,
        usernames: &[&str],
        secret_hash: Option<&str>,
    ) -> Result<(), UserPoolsError> {
        let c = self.client();
        let Some(sealed) = &c.sealed_secret else {
            return Ok(());
        };
        let refused = || {
            UserPoolsError::NotAuthorized(format!(
                "Unable to verify secret hash for client {}",
                c.client_id
            ))
        };
        let given = secret_hash
            .and_then(|h| STANDARD.decode(h.trim()).ok())
            .ok_or_else(refused)?;
        let secret = sealing::open(
            &svc.keyring,
            SealPurpose::UserPoolClientSecret,
            &client_context(&c.pool_id, &c.client_id),
            sealed,
        )?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        let mut ok = false;
        for username in usernames {
            let message = format!("{username}{}", c.client_id);
            // aws-lc-rs compares the tags in constant time.
            ok |= hmac::verify(&key, message.as_bytes(), &given).is_ok();
        }
        if ok {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

fn legacy(c: &ClientRecord) -> bool {
    c.explicit_auth_flows.is_empty()
        || c.explicit_auth_flows
            .iter()
            .any(|f| !f.starts_with("ALLOW_"))
}

fn custom_only(c: &ClientRecord) -> bool {
    c.explicit_auth_flows
        .iter()
        .any(|f| f == "CUSTOM_AUTH_FLOW_ONLY")
}

/// The sign-in flows a client may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    UserPassword,
    AdminUserPassword,
    UserSrp,
    Refresh,
}

#[cfg(test)]
pub(crate) mod tests;
