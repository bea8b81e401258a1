//! The user-pool service: what it holds (the store, the root keyring that seals every secret,
//! the password hasher, the account and region its ARNs name, the public URL its issuers name)
//! and the checks a request declares on the pool it names.
//!
//! **Authorization.** Pool and client management and every `Admin*` operation are SigV4
//! requests authorized on `cognito-idp:<Action>` for the pool's ARN (CreateUserPool and
//! ListUserPools on `*`, as AWS scopes them). The pool is resolved once, in `checks`, and
//! [`NamedPool`] keeps it: `execute` acts on exactly the pool that was authorized, and every
//! user, client or group it touches is looked up under that pool's id, so no other member of
//! the request can move the operation to another pool. Public operations (SignUp,
//! ConfirmSignUp, …) declare no check: the client id, a secret hash, a code or a password
//! prove what they may do.

use std::sync::Arc;

use rampart_core::RootKeyring;
use rampart_identity::password::{Argon2Cost, PasswordHasher};
use rampart_store::Store;
use rampart_wire::Check;
use time::OffsetDateTime;

use crate::error::UserPoolsError;
use crate::ids;
use crate::records::client::ClientRecord;
use crate::records::pool::PoolRecord;
use crate::records::{self, ns, pool_key, Stored};

/// The cognito-idp service.
pub struct UserPoolsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: Arc<RootKeyring>,
    pub(crate) hasher: Arc<PasswordHasher>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    /// The URL token issuers and JWKS URIs are built on (`<public-url>/<poolId>`).
    pub(crate) public_url: String,
    /// The least ID and access token validity an app client may have: Cognito's 5 minutes,
    /// lowered only by tests that wait for tokens (and the keys that signed them) to expire.
    pub(crate) min_token_validity: time::Duration,
    /// The pools' signing keys, opened once per version of their record on this node.
    pub(crate) opened_keys: crate::auth::tokens::OpenedPoolKeys,
}

impl UserPoolsService {
    /// User pools for the installation's `account_id`, minting ids and ARNs in `region`,
    /// sealing under `keyring`, hashing passwords with Argon2id at OWASP's cost.
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<RootKeyring>,
        account_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<Self, UserPoolsError> {
        let region = region.into();
        Ok(UserPoolsService {
            store,
            keyring,
            hasher: Arc::new(hasher(Argon2Cost::default())?),
            account_id: account_id.into(),
            public_url: format!("https://cognito-idp.{region}.amazonaws.com"),
            region,
            min_token_validity: time::Duration::minutes(5),
            opened_keys: Default::default(),
        })
    }

    /// The same service letting app clients have ID and access tokens as short as
    /// `min_token_validity` (`rampart serve --test-min-token-validity-seconds`; tests only).
    pub fn with_min_token_validity(mut self, min_token_validity: time::Duration) -> Self {
        self.min_token_validity = min_token_validity;
        self
    }

    /// The same service hashing passwords at `cost`.
    pub fn with_argon2_cost(mut self, cost: Argon2Cost) -> Result<Self, UserPoolsError> {
        self.hasher = Arc::new(hasher(cost)?);
        Ok(self)
    }

    /// The same service naming `public_url` in its issuers (`--public-url`).
    pub fn with_public_url(mut self, public_url: impl Into<String>) -> Self {
        self.public_url = public_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The store, for the server's commands (`rampart identity outbox`).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The root keyring every secret is sealed under.
    pub fn keyring(&self) -> &Arc<RootKeyring> {
        &self.keyring
    }

    /// The password hasher (Argon2id at the configured cost).
    pub fn hasher(&self) -> &Arc<PasswordHasher> {
        &self.hasher
    }

    /// The issuer of `pool_id`'s tokens.
    pub fn issuer(&self, pool_id: &str) -> String {
        rampart_identity::tokens::issuer(&self.public_url, pool_id)
    }

    /// The ARN of the pool `pool_id` in this installation.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        ids::pool_arn(&self.region, &self.account_id, pool_id)
    }

    /// The region pool ids are minted in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The pool `pool_id`, if it exists.
    pub async fn load_pool(
        &self,
        pool_id: &str,
    ) -> Result<Option<Stored<PoolRecord>>, UserPoolsError> {
        records::load(self.store.as_ref(), ns::POOLS, pool_id).await
    }

    /// The app client `client_id` of the pool `pool_id`, if it exists.
    pub async fn load_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<Stored<ClientRecord>>, UserPoolsError> {
        records::load(
            self.store.as_ref(),
            ns::CLIENTS,
            &pool_key(pool_id, client_id),
        )
        .await
    }
}

fn hasher(cost: Argon2Cost) -> Result<PasswordHasher, UserPoolsError> {
    PasswordHasher::new(cost)
        .map_err(|e| UserPoolsError::Internal(format!("The password hasher cannot start: {e}")))
}

/// A pool a request names by `UserPoolId`, and, once resolved, the stored pool its checks were
/// made on.
#[derive(Debug, Clone)]
pub struct NamedPool {
    pub id: String,
    /// The ARN checks are made on: the stored pool's, or what the id would name.
    pub arn: String,
    pub pool: Option<Stored<PoolRecord>>,
}

impl NamedPool {
    /// Reads a `UserPoolId` member: 1 to 55 characters of `[\w-]+_[0-9a-zA-Z]+`.
    pub fn parse(id: String) -> Result<Self, UserPoolsError> {
        if !ids::is_pool_id_shaped(&id) {
            return Err(UserPoolsError::constraint(
                &id,
                "userPoolId",
                "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
            ));
        }
        Ok(NamedPool {
            id,
            arn: String::new(),
            pool: None,
        })
    }

    /// Looks the pool up once, keeps it, and declares `action` on its ARN (a missing pool is
    /// checked on the ARN its id would have, so a caller without permission learns nothing).
    pub async fn check(
        &mut self,
        svc: &UserPoolsService,
        action: &str,
    ) -> Result<Check, UserPoolsError> {
        self.pool = svc.load_pool(&self.id).await?;
        self.arn = match &self.pool {
            Some(p) => p.record.arn.clone(),
            None => svc.pool_arn(&self.id),
        };
        let mut check = Check::on(action, &self.arn);
        if let Some(pool) = &self.pool {
            for (key, value) in &pool.record.config.user_pool_tags {
                check.push_key(format!("aws:ResourceTag/{key}"), value);
            }
        }
        Ok(check)
    }

    /// Looks the pool up without a check (public operations, which name it through a client).
    pub async fn resolve(&mut self, svc: &UserPoolsService) -> Result<(), UserPoolsError> {
        self.pool = svc.load_pool(&self.id).await?;
        self.arn = svc.pool_arn(&self.id);
        Ok(())
    }

    /// The pool the checks were made on, or `ResourceNotFoundException`.
    pub fn into_pool(self) -> Result<Stored<PoolRecord>, UserPoolsError> {
        let id = self.id;
        self.pool.ok_or_else(|| UserPoolsError::pool_not_found(&id))
    }
}

/// Now, for stored dates.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
