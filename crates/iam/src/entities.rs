//! IAM's entities as stored: users, groups, roles and managed policies.
//!
//! Each entity is one JSON record in its own namespace, keyed by name (managed policies by
//! ARN). Inline policies live inside their owner's record, so an entity and its policies
//! change atomically. Group membership is kept on the user (`User::groups`); listing a
//! group's members scans users, which is fine at the scale of one account's IAM.

use std::collections::BTreeMap;

use rampart_store::{Expect, Item, Store, StoreError, Write};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ns;

/// The AWS-managed policy that grants everything; the bootstrap administrator has it attached.
pub const ADMINISTRATOR_ACCESS_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// The unique id (`AIDA…`), stable across renames.
    pub user_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// ARNs of the managed policies attached to the user.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies: name → policy document (JSON text as submitted).
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Names of the groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// ARN of the managed policy used as the user's permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// The unique id (`AGPA…`).
    pub group_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    /// The unique id (`AROA…`).
    pub role_id: String,
    pub arn: String,
    pub path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The trust policy (JSON text as submitted).
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Longest session `AssumeRole` may grant, in seconds (3600..=43200).
    pub max_session_duration: u32,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub version_id: String,
    /// The document (JSON text as submitted).
    pub document: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A customer-managed policy (AWS-managed ones are built in, see [`aws_managed_policy`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    /// The unique id (`ANPA…`).
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub default_version_id: String,
    /// At most five, oldest first.
    pub versions: Vec<PolicyVersion>,
    /// The number the next `CreatePolicyVersion` uses (`v{n}`); version ids are never reused.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// How many users, groups and roles have the policy attached. Kept in the same commit as
    /// every attach and detach, so `DeletePolicy` can refuse atomically.
    #[serde(default)]
    pub attachment_count: u32,
    /// How many users and roles use the policy as their permissions boundary.
    #[serde(default)]
    pub permissions_boundary_usage_count: u32,
}

impl ManagedPolicy {
    /// The document of the default version.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| v.document.as_str())
    }
}

/// The AWS-managed policies Rampart ships, by ARN, with their documents.
pub fn aws_managed_policy(arn: &str) -> Option<&'static str> {
    match arn {
        ADMINISTRATOR_ACCESS_ARN => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        _ => None,
    }
}

/// A stored entity: its namespace and key.
pub trait Entity: Serialize + DeserializeOwned {
    const NAMESPACE: &'static str;
    fn key(&self) -> &str;
}

impl Entity for User {
    const NAMESPACE: &'static str = ns::USERS;
    fn key(&self) -> &str {
        &self.name
    }
}

impl Entity for Group {
    const NAMESPACE: &'static str = ns::GROUPS;
    fn key(&self) -> &str {
        &self.name
    }
}

impl Entity for Role {
    const NAMESPACE: &'static str = ns::ROLES;
    fn key(&self) -> &str {
        &self.name
    }
}

impl Entity for ManagedPolicy {
    const NAMESPACE: &'static str = ns::POLICIES;
    fn key(&self) -> &str {
        &self.arn
    }
}

/// An entity read from the store with the version to write it back with.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub entity: T,
    pub version: i64,
}

fn decode<T: Entity>(key: &str, item: Item) -> Result<Versioned<T>, StoreError> {
    let entity = serde_json::from_slice(&item.value)
        .map_err(|e| StoreError::Corrupt(format!("{} {key:?}: {e}", T::NAMESPACE)))?;
    Ok(Versioned {
        entity,
        version: item.version,
    })
}

/// Reads one entity.
pub async fn load<T: Entity>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<Versioned<T>>, StoreError> {
    match store.get(T::NAMESPACE, key).await? {
        Some(item) => decode(key, item).map(Some),
        None => Ok(None),
    }
}

/// Lists entities whose key starts with `prefix`, after `start_after`, at most `limit`.
pub async fn list<T: Entity>(
    store: &dyn Store,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Vec<Versioned<T>>, StoreError> {
    store
        .list(T::NAMESPACE, prefix, start_after, limit)
        .await?
        .into_iter()
        .map(|(key, item)| decode(&key, item))
        .collect()
}

/// A write that stores `entity`, expecting the key to be at `expect`.
pub fn put<T: Entity>(entity: &T, expect: Expect) -> Write {
    Write::Put {
        ns: T::NAMESPACE.to_owned(),
        key: entity.key().to_owned(),
        value: serde_json::to_vec(entity).expect("plain records serialise"),
        expect,
    }
}

/// A write that deletes `key`, expecting it to be at `expect`.
pub fn delete<T: Entity>(key: &str, expect: Expect) -> Write {
    Write::Delete {
        ns: T::NAMESPACE.to_owned(),
        key: key.to_owned(),
        expect,
    }
}
