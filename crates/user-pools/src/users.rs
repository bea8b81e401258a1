//! Finding a user by the name a request gives (its username, or an email/phone/preferred
//! username it may sign in with), and writing a user together with the alias records that
//! make those names unique in the pool. Always within one pool: the pool a request was
//! authorized on (Admin*) or the pool of the app client it named (public operations).

use rampart_store::{Expect, Write};

use crate::error::UserPoolsError;
use crate::records::pool::PoolRecord;
use crate::records::user::{alias_value_key, username_key, AliasRecord, UserRecord};
use crate::records::{self, ns, pool_key, Stored};
use crate::UserPoolsService;

/// The store key of `username` in `pool`.
pub fn user_key(pool: &PoolRecord, username: &str) -> String {
    pool_key(
        &pool.id,
        &username_key(username, pool.config.username_case_sensitive),
    )
}

/// The store key of the user record itself.
pub fn record_key(pool: &PoolRecord, user: &UserRecord) -> String {
    user_key(pool, &user.username)
}

/// The alias key of `attribute` = `value` in `pool`.
fn alias_key(pool: &PoolRecord, attribute: &str, value: &str) -> String {
    pool_key(
        &pool.id,
        &format!(
            "{attribute}/{}",
            alias_value_key(attribute, value, pool.config.username_case_sensitive)
        ),
    )
}

/// The sign-in names `user` holds besides its username: every username attribute it has,
/// and each alias attribute once verified (`preferred_username` needs no verification).
pub fn aliases_of(pool: &PoolRecord, user: &UserRecord) -> Vec<(String, String)> {
    let c = &pool.config;
    let mut out = Vec::new();
    for attribute in ["email", "phone_number", "preferred_username"] {
        let Some(value) = user.attribute(attribute) else {
            continue;
        };
        let held = c.is_username_attribute(attribute)
            || (c.alias_attributes.iter().any(|a| a == attribute)
                && (attribute == "preferred_username" || user.is_verified(attribute)));
        if held {
            out.push((attribute.to_owned(), alias_key(pool, attribute, value)));
        }
    }
    out
}

/// The user `name` names in `pool`: by username, then by each sign-in attribute.
pub async fn find(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    name: &str,
) -> Result<Option<Stored<UserRecord>>, UserPoolsError> {
    let store = svc.store.as_ref();
    if let Some(user) = records::load::<UserRecord>(store, ns::USERS, &user_key(pool, name)).await?
    {
        return Ok(Some(user));
    }
    for attribute in ["email", "phone_number", "preferred_username"] {
        if !pool.config.is_sign_in_attribute(attribute) {
            continue;
        }
        let key = alias_key(pool, attribute, name);
        let Some(alias) = records::load::<AliasRecord>(store, ns::ALIASES, &key).await? else {
            continue;
        };
        let user_key = pool_key(&pool.id, &alias.record.username_key);
        if let Some(user) = records::load::<UserRecord>(store, ns::USERS, &user_key).await? {
            // The index is written with the user; check it anyway, so a stale entry can
            // never lead to another user.
            if user.record.sub == alias.record.sub
                && aliases_of(pool, &user.record)
                    .iter()
                    .any(|(_, k)| *k == key)
            {
                return Ok(Some(user));
            }
        }
    }
    Ok(None)
}

/// The user `name` names, or `UserNotFoundException`.
pub async fn require(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    name: &str,
) -> Result<Stored<UserRecord>, UserPoolsError> {
    find(svc, pool, name)
        .await?
        .ok_or_else(UserPoolsError::user_not_found)
}

/// The writes that store `next` (replacing `previous`, or creating it), with its alias
/// records: names it no longer holds are released, names it gains are claimed — refused with
/// `AliasExistsException` (or `UsernameExistsException` for a username attribute) when another
/// user holds one.
pub async fn save(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    previous: Option<&Stored<UserRecord>>,
    next: &UserRecord,
) -> Result<Vec<Write>, UserPoolsError> {
    let key = record_key(pool, next);
    let username_key = username_key(&next.username, pool.config.username_case_sensitive);
    let before = previous
        .map(|p| aliases_of(pool, &p.record))
        .unwrap_or_default();
    let after = aliases_of(pool, next);
    let mut writes = vec![records::put(
        ns::USERS,
        key,
        next,
        match previous {
            Some(p) => Expect::Version(p.version),
            None => Expect::Absent,
        },
    )];
    for (_, alias) in before.iter().filter(|b| !after.contains(b)) {
        writes.push(records::delete(ns::ALIASES, alias.clone(), Expect::Any));
    }
    for (attribute, alias) in after.iter().filter(|a| !before.contains(a)) {
        let existing = records::load::<AliasRecord>(svc.store.as_ref(), ns::ALIASES, alias).await?;
        let expect = match existing {
            Some(held) if held.record.sub != next.sub => {
                return Err(if pool.config.is_username_attribute(attribute) {
                    UserPoolsError::UsernameExists(format!(
                        "An account with the given {attribute} already exists."
                    ))
                } else {
                    UserPoolsError::AliasExists(format!(
                        "An account with the given {attribute} already exists."
                    ))
                });
            }
            Some(held) => Expect::Version(held.version),
            None => Expect::Absent,
        };
        writes.push(records::put(
            ns::ALIASES,
            alias.clone(),
            &AliasRecord {
                username_key: username_key.clone(),
                sub: next.sub.clone(),
            },
            expect,
        ));
    }
    Ok(writes)
}

/// The writes that delete `user` with its aliases and group memberships.
pub async fn delete(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    user: &Stored<UserRecord>,
) -> Result<Vec<Write>, UserPoolsError> {
    let user_key = username_key(&user.record.username, pool.config.username_case_sensitive);
    let mut writes = vec![records::delete(
        ns::USERS,
        record_key(pool, &user.record),
        Expect::Version(user.version),
    )];
    for (_, alias) in aliases_of(pool, &user.record) {
        writes.push(records::delete(ns::ALIASES, alias, Expect::Any));
    }
    let prefix = crate::records::group::memberships_prefix(&pool.id, &user_key);
    for key in records::all_keys(svc.store.as_ref(), ns::USER_GROUPS, &prefix).await? {
        let group = key[prefix.len()..].to_owned();
        writes.push(records::delete(
            ns::GROUP_MEMBERS,
            crate::records::group::member_key(&pool.id, &group, &user_key),
            Expect::Any,
        ));
        writes.push(records::delete(ns::USER_GROUPS, key, Expect::Any));
    }
    Ok(writes)
}

/// Reads a `Username` member: 1 to 128 characters, no whitespace or control characters
/// (`[\p{L}\p{M}\p{S}\p{N}\p{P}]+`).
pub fn username_member(value: &str) -> Result<(), UserPoolsError> {
    let len = value.chars().count();
    if !(1..=128).contains(&len) || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UserPoolsError::constraint(
            value,
            "username",
            "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
        ));
    }
    Ok(())
}
