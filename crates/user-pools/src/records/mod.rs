//! What the user-pool service stores, one JSON record per key (see the crate documentation for
//! the namespaces and keys), and the load/put helpers every operation shares.
//!
//! Keys put the pool id first, so everything of one pool lists by the prefix `<pool id>/`
//! (a pool id never contains `/`). Where two names follow each other in a key (a group and a
//! user), they are separated by [`SEP`], a control character neither name may contain, so
//! no pair of names can spell another pair's key.

pub mod auth;
pub mod client;
pub mod group;
pub mod outbox;
pub mod pool;
pub mod signing_keys;
pub mod user;

use rampart_store::{Expect, Item, Store, Write};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::UserPoolsError;

/// The store namespaces the user-pool service owns.
pub mod ns {
    /// [`super::pool::PoolRecord`]s, by pool id.
    pub const POOLS: &str = "cognito-idp/pools";
    /// [`super::signing_keys::SigningKeysRecord`]s, by pool id.
    pub const SIGNING_KEYS: &str = "cognito-idp/signing-keys";
    /// [`super::client::ClientRecord`]s, by `<pool id>/<client id>`.
    pub const CLIENTS: &str = "cognito-idp/clients";
    /// [`crate::app_client::ClientPool`]s: which pool an app client belongs to, by client id:
    /// public operations (sign-up, sign-in) name only the client. Written and deleted with the
    /// client.
    pub const CLIENT_POOLS: &str = "cognito-idp/client-pools";
    /// [`super::user::UserRecord`]s, by `<pool id>/<username key>`
    /// ([`super::user::username_key`]).
    pub const USERS: &str = "cognito-idp/users";
    /// [`super::user::AliasRecord`]s: which user holds an attribute value as a sign-in alias
    /// or username attribute (a verified email, a phone number), by
    /// `<pool id>/<attribute>/<value key>`.
    pub const ALIASES: &str = "cognito-idp/aliases";
    /// [`super::group::GroupRecord`]s, by `<pool id>/<group name>`.
    pub const GROUPS: &str = "cognito-idp/groups";
    /// Group membership by group: `<pool id>/<group name><SEP><username key>` → the user's
    /// username key (for ListUsersInGroup).
    pub const GROUP_MEMBERS: &str = "cognito-idp/group-members";
    /// The same membership by user: `<pool id>/<username key><SEP><group name>` → the group
    /// name (for AdminListGroupsForUser, and deleting a user's memberships).
    pub const USER_GROUPS: &str = "cognito-idp/user-groups";
    /// [`crate::send_limit::SendWindow`]s: codes sent to a user in the current window, by
    /// `<pool id>/<sub>`.
    pub const CODE_SENDS: &str = "cognito-idp/code-sends";
    /// [`super::outbox::OutboxMessage`]s, by `<pool id>/<message id>` (time-ordered ids).
    pub const OUTBOX: &str = "cognito-idp/outbox";
    /// Which outbox messages the mail relay took (`crate::mail_relay`), by the message's key:
    /// written before it sends, so one node sends each message once.
    pub const OUTBOX_SENT: &str = "cognito-idp/outbox-sent";
    /// [`super::auth::TokenFamilyRecord`]s, by `<pool id>/<sub>/<origin_jti>`.
    pub const TOKEN_FAMILIES: &str = "cognito-idp/token-families";
    /// [`super::auth::RefreshTokenRecord`]s, by `<pool id>/<hex SHA-256 of the token>`.
    pub const REFRESH_TOKENS: &str = "cognito-idp/refresh-tokens";
    /// [`super::auth::UsedSessionRecord`]s, by `<pool id>/<session id>`.
    pub const USED_SESSIONS: &str = "cognito-idp/used-sessions";
    /// [`super::auth::SignInFailuresRecord`]s, by `<pool id>/<username key>`.
    pub const SIGN_IN_FAILURES: &str = "cognito-idp/sign-in-failures";
}

/// Separates two names in one key (see the module documentation).
pub const SEP: char = '\u{1f}';

/// A record read from the store with the version to write it back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub record: T,
    /// The store's version of the record, for [`Expect::Version`] on write-back.
    pub version: i64,
}

/// `<pool id>/<rest>`.
pub fn pool_key(pool_id: &str, rest: &str) -> String {
    format!("{pool_id}/{rest}")
}

/// The prefix of every key of `pool_id` in a namespace keyed by pool.
pub fn pool_prefix(pool_id: &str) -> String {
    format!("{pool_id}/")
}

pub(crate) fn decode<T: DeserializeOwned>(
    ns: &str,
    key: &str,
    item: Item,
) -> Result<Stored<T>, UserPoolsError> {
    let record = serde_json::from_slice(&item.value).map_err(|e| {
        tracing::error!(ns, key, error = %e, "stored user-pool record does not decode");
        UserPoolsError::Internal("A stored user-pool record is unreadable.".into())
    })?;
    Ok(Stored {
        record,
        version: item.version,
    })
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain structs of strings, numbers and dates: encoding cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The record at `ns`/`key`, if any.
pub async fn load<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &'static str,
    key: &str,
) -> Result<Option<Stored<T>>, UserPoolsError> {
    match store.get(ns, key).await? {
        Some(item) => decode(ns, key, item).map(Some),
        None => Ok(None),
    }
}

/// Up to `limit` records of `ns` under `prefix` after `start_after`, in key order, and
/// whether the store had more.
pub async fn list<T: DeserializeOwned>(
    store: &dyn Store,
    ns: &'static str,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<(Vec<(String, Stored<T>)>, bool), UserPoolsError> {
    let page = store.list(ns, prefix, start_after, limit + 1).await?;
    let more = page.len() > limit;
    let mut out = Vec::with_capacity(page.len().min(limit));
    for (key, item) in page.into_iter().take(limit) {
        let record = decode(ns, &key, item)?;
        out.push((key, record));
    }
    Ok((out, more))
}

/// Every key of `ns` under `prefix` (for deleting what a pool or user owns).
pub async fn all_keys(
    store: &dyn Store,
    ns: &'static str,
    prefix: &str,
) -> Result<Vec<String>, UserPoolsError> {
    const PAGE: usize = 500;
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(ns, prefix, after.as_deref(), PAGE).await?;
        let done = page.len() < PAGE;
        for (key, _) in page {
            after = Some(key.clone());
            keys.push(key);
        }
        if done {
            return Ok(keys);
        }
    }
}

/// Writes `record` at `ns`/`key`.
pub fn put<T: Serialize>(ns: &'static str, key: String, record: &T, expect: Expect) -> Write {
    Write::Put {
        ns: ns.into(),
        key,
        value: encode(record),
        expect,
    }
}

/// Deletes `ns`/`key`.
pub fn delete(ns: &'static str, key: String, expect: Expect) -> Write {
    Write::Delete {
        ns: ns.into(),
        key,
        expect,
    }
}
