//! Secrets as stored, and how staging labels move between their versions.
//!
//! A secret is one JSON record in `secretsmanager/secrets`, keyed by name: its ARN, metadata,
//! tags and every version's metadata (id, staging labels, the KMS key that sealed it) — so a
//! new version and the labels it takes from others are one optimistic commit on one row. The
//! sealed values live beside it in `secretsmanager/values`, keyed `<arn>/<version id>`, written
//! once and never changed but for being re-sealed under a new key when `UpdateSecret` moves the
//! secret to one (the same plaintext: the version stays immutable); the ARN's random suffix
//! keeps a re-created namesake's values apart.
//!
//! A secret scheduled for deletion whose date has passed no longer exists: lookups answer
//! nothing, and a new secret may take its name.

use rampart_store::{Expect, Item, Store, Write};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::SecretsError;
use crate::rotation::RotationState;
use crate::sealing::SealedValue;

/// The store namespaces Secrets Manager owns.
pub mod ns {
    /// Secret records, by name.
    pub const SECRETS: &str = "secretsmanager/secrets";
    /// Sealed version values, by `<secret arn>/<version id>`.
    pub const VALUES: &str = "secretsmanager/values";
}

/// The label of the version `GetSecretValue` answers by default.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label the previous `AWSCURRENT` version takes when another becomes current.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The label of the version a rotation is creating.
pub const AWSPENDING: &str = "AWSPENDING";
/// How many staging labels one version may carry.
pub const MAX_STAGES_PER_VERSION: usize = 20;

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// One version's metadata; its value is a [`SealedValue`] in [`ns::VALUES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The `ClientRequestToken` it was created with, or a UUID.
    pub id: String,
    /// Its staging labels; none means deprecated.
    pub stages: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The ARN of the KMS key its data key is sealed under (empty while the version is).
    pub key_arn: String,
    /// A version a rotation created under its token before the rotation function put a value
    /// in it: it has labels but no value yet, as on AWS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
}

/// A secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    /// `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>`.
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The `KmsKeyId` the secret was given (key id, key ARN, alias or alias ARN); None for the
    /// AWS-managed `alias/aws/secretsmanager` key.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_changed_at: OffsetDateTime,
    /// When the secret is deleted for good, if `DeleteSecret` scheduled it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deletion_date: Option<OffsetDateTime>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Every version, oldest first.
    #[serde(default)]
    pub versions: Vec<VersionMeta>,
    /// Its rotation configuration and the rotation in progress; None if `RotateSecret` never
    /// configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationState>,
    /// The resource policy `PutResourcePolicy` attached, as submitted; evaluated with IAM on
    /// every check on the secret.
    #[serde(default)]
    pub resource_policy: Option<String>,
}

impl SecretRecord {
    /// Whether its scheduled deletion date has passed: it no longer exists.
    pub fn is_purged(&self, now: OffsetDateTime) -> bool {
        self.deletion_date.is_some_and(|d| d <= now)
    }

    /// Refuses use of a secret scheduled for deletion.
    pub fn check_not_deleted(&self) -> Result<(), SecretsError> {
        match self.deletion_date {
            Some(_) => Err(SecretsError::marked_for_deletion()),
            None => Ok(()),
        }
    }

    /// The version `id`.
    pub fn version(&self, id: &str) -> Option<&VersionMeta> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// The version carrying `stage`.
    pub fn version_at(&self, stage: &str) -> Option<&VersionMeta> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version a rotation left `AWSPENDING` on, unless that is also `AWSCURRENT` (a
    /// finished rotation): while there is one, AWS takes a rotation to be in progress.
    pub fn pending_version(&self) -> Option<&VersionMeta> {
        self.version_at(AWSPENDING)
            .filter(|v| !v.stages.iter().any(|s| s == AWSCURRENT))
    }

    /// The store key of a version's sealed value.
    pub fn value_key(&self, version_id: &str) -> String {
        value_key(&self.arn, version_id)
    }
}

/// The store key of the sealed value of `version_id` of the secret `arn`.
pub fn value_key(arn: &str, version_id: &str) -> String {
    format!("{arn}/{version_id}")
}

/// Moves `stages` to the version `target`: each label leaves whichever other version held it,
/// and when `AWSCURRENT` moves, the version that loses it takes `AWSPREVIOUS` (which leaves its
/// holder) — as Secrets Manager moves labels on `PutSecretValue` and `UpdateSecret`.
pub fn attach_stages(versions: &mut [VersionMeta], target: &str, stages: &[String]) {
    for stage in stages {
        let mut previous_current = None;
        for version in versions.iter_mut().filter(|v| v.id != target) {
            let before = version.stages.len();
            version.stages.retain(|s| s != stage);
            if stage == AWSCURRENT && version.stages.len() != before {
                previous_current = Some(version.id.clone());
            }
        }
        if let Some(previous) = previous_current {
            for version in versions.iter_mut() {
                version.stages.retain(|s| s != AWSPREVIOUS);
                if version.id == previous {
                    version.stages.push(AWSPREVIOUS.to_owned());
                }
            }
        }
        if let Some(version) = versions.iter_mut().find(|v| v.id == target) {
            if !version.stages.contains(stage) {
                version.stages.push(stage.clone());
            }
        }
    }
}

/// A record read from the store with the version to write it back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub record: T,
    /// The store's version of the record, for [`Expect::Version`] on write-back.
    pub version: i64,
}

fn decode<T: DeserializeOwned>(ns: &str, key: &str, item: Item) -> Result<Stored<T>, SecretsError> {
    let record = serde_json::from_slice(&item.value).map_err(|e| {
        tracing::error!(ns, key, error = %e, "stored Secrets Manager record does not decode");
        SecretsError::Internal("A stored secret is unreadable.".into())
    })?;
    Ok(Stored {
        record,
        version: item.version,
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain structs of strings and dates: encoding cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The secret stored under `name`, including one whose deletion date has passed (a create may
/// replace it); callers that look a secret up use [`load_live`].
pub async fn load_secret(
    store: &dyn Store,
    name: &str,
) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
    match store.get(ns::SECRETS, name).await? {
        Some(item) => decode(ns::SECRETS, name, item).map(Some),
        None => Ok(None),
    }
}

/// The secret stored under `name`, purged or not, and its stored length (for the cache, which
/// checks the deletion date on every use).
pub(crate) async fn read_secret(
    store: &dyn Store,
    name: &str,
) -> Result<Option<(Stored<SecretRecord>, u64)>, SecretsError> {
    let Some(item) = store.get(ns::SECRETS, name).await? else {
        return Ok(None);
    };
    let weight = item.value.len() as u64;
    Ok(Some((decode(ns::SECRETS, name, item)?, weight)))
}

/// The sealed value of one version and its stored length (for the cache).
pub(crate) async fn read_value(
    store: &dyn Store,
    arn: &str,
    version_id: &str,
) -> Result<Option<(SealedValue, u64)>, SecretsError> {
    let key = value_key(arn, version_id);
    let Some(item) = store.get(ns::VALUES, &key).await? else {
        return Ok(None);
    };
    let weight = item.value.len() as u64;
    Ok(Some((decode(ns::VALUES, &key, item)?.record, weight)))
}

/// The secret `name`, unless it does not exist or its deletion date has passed.
pub async fn load_live(
    store: &dyn Store,
    name: &str,
) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
    let now = OffsetDateTime::now_utc();
    Ok(load_secret(store, name)
        .await?
        .filter(|s| !s.record.is_purged(now)))
}

/// Up to `limit` stored secrets after `start_after`, in name order (purged ones included), and
/// whether the store had more.
pub async fn list_secrets(
    store: &dyn Store,
    start_after: Option<&str>,
    limit: usize,
) -> Result<(Vec<SecretRecord>, bool), SecretsError> {
    let page = store.list(ns::SECRETS, "", start_after, limit + 1).await?;
    let more = page.len() > limit;
    let mut out = Vec::with_capacity(page.len().min(limit));
    for (key, item) in page.into_iter().take(limit) {
        out.push(decode::<SecretRecord>(ns::SECRETS, &key, item)?.record);
    }
    Ok((out, more))
}

/// The sealed value of one version.
pub async fn load_value(
    store: &dyn Store,
    arn: &str,
    version_id: &str,
) -> Result<Option<SealedValue>, SecretsError> {
    Ok(load_stored_value(store, arn, version_id)
        .await?
        .map(|s| s.record))
}

/// The sealed value of one version with its store version, for [`reseal_value`].
pub async fn load_stored_value(
    store: &dyn Store,
    arn: &str,
    version_id: &str,
) -> Result<Option<Stored<SealedValue>>, SecretsError> {
    let key = value_key(arn, version_id);
    match store.get(ns::VALUES, &key).await? {
        Some(item) => decode(ns::VALUES, &key, item).map(Some),
        None => Ok(None),
    }
}

/// Writes a secret record.
pub fn put_secret(secret: &SecretRecord, expect: Expect) -> Write {
    Write::Put {
        ns: ns::SECRETS.into(),
        key: secret.name.clone(),
        value: encode(secret),
        expect,
    }
}

/// Writes a version's sealed value, once.
pub fn put_value(arn: &str, version_id: &str, value: &SealedValue) -> Write {
    Write::Put {
        ns: ns::VALUES.into(),
        key: value_key(arn, version_id),
        value: encode(value),
        expect: Expect::Absent,
    }
}

/// Replaces a version's sealed value with the same value sealed under another key (a secret
/// moved to a new KMS key), if it is still the one stored at `version`.
pub fn reseal_value(arn: &str, version_id: &str, value: &SealedValue, version: i64) -> Write {
    Write::Put {
        ns: ns::VALUES.into(),
        key: value_key(arn, version_id),
        value: encode(value),
        expect: Expect::Version(version),
    }
}

/// Deletes the secret record and every sealed value of the secret `arn`.
pub async fn delete_all(
    store: &dyn Store,
    secret: &Stored<SecretRecord>,
) -> Result<Vec<Write>, SecretsError> {
    let mut writes = vec![Write::Delete {
        ns: ns::SECRETS.into(),
        key: secret.record.name.clone(),
        expect: Expect::Version(secret.version),
    }];
    writes.extend(value_deletes(store, &secret.record.arn).await?);
    Ok(writes)
}

/// Deletes of every sealed value stored for the secret `arn`.
pub async fn value_deletes(store: &dyn Store, arn: &str) -> Result<Vec<Write>, SecretsError> {
    let prefix = format!("{arn}/");
    let mut writes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(ns::VALUES, &prefix, after.as_deref(), 500)
            .await?;
        let done = page.len() < 500;
        for (key, _) in page {
            after = Some(key.clone());
            writes.push(Write::Delete {
                ns: ns::VALUES.into(),
                key,
                expect: Expect::Any,
            });
        }
        if done {
            return Ok(writes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, stages: &[&str]) -> VersionMeta {
        VersionMeta {
            id: id.into(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            key_arn: String::new(),
            empty: false,
        }
    }

    fn stages(versions: &[VersionMeta]) -> Vec<(String, Vec<String>)> {
        versions
            .iter()
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect()
    }

    fn current() -> Vec<String> {
        vec![AWSCURRENT.to_owned()]
    }

    #[test]
    fn the_first_version_becomes_current() {
        let mut versions = vec![version("v1", &[])];
        attach_stages(&mut versions, "v1", &current());
        assert_eq!(stages(&versions), vec![("v1".into(), current())]);
    }

    #[test]
    fn a_new_current_version_pushes_the_old_one_to_previous() {
        let mut versions = vec![version("v1", &[AWSCURRENT]), version("v2", &[])];
        attach_stages(&mut versions, "v2", &current());
        assert_eq!(versions[0].stages, vec![AWSPREVIOUS]);
        assert_eq!(versions[1].stages, vec![AWSCURRENT]);

        versions.push(version("v3", &[]));
        attach_stages(&mut versions, "v3", &current());
        assert!(versions[0].stages.is_empty(), "v1 is deprecated");
        assert_eq!(versions[1].stages, vec![AWSPREVIOUS]);
        assert_eq!(versions[2].stages, vec![AWSCURRENT]);
    }

    #[test]
    fn custom_labels_move_without_touching_current() {
        let mut versions = vec![version("v1", &[AWSCURRENT, "blue"]), version("v2", &[])];
        attach_stages(&mut versions, "v2", &["blue".to_owned()]);
        assert_eq!(versions[0].stages, vec![AWSCURRENT]);
        assert_eq!(versions[1].stages, vec!["blue"]);
    }

    #[test]
    fn reattaching_current_to_the_current_version_changes_nothing() {
        let mut versions = vec![version("v1", &[AWSPREVIOUS]), version("v2", &[AWSCURRENT])];
        attach_stages(&mut versions, "v2", &current());
        assert_eq!(versions[0].stages, vec![AWSPREVIOUS]);
        assert_eq!(versions[1].stages, vec![AWSCURRENT]);
    }

    #[test]
    fn lookups_by_stage_and_id() {
        let secret = SecretRecord {
            name: "n".into(),
            arn: "arn:aws:secretsmanager:r:1:secret:n-AbC123".into(),
            description: None,
            kms_key_id: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            last_changed_at: OffsetDateTime::UNIX_EPOCH,
            deletion_date: None,
            tags: Vec::new(),
            versions: vec![version("v1", &[AWSPREVIOUS]), version("v2", &[AWSCURRENT])],
            rotation: None,
            resource_policy: None,
        };
        assert_eq!(secret.version_at(AWSCURRENT).unwrap().id, "v2");
        assert_eq!(secret.version("v1").unwrap().stages, vec![AWSPREVIOUS]);
        assert!(secret.version_at(AWSPENDING).is_none());
        assert!(secret.pending_version().is_none());
        assert_eq!(
            secret.value_key("v2"),
            "arn:aws:secretsmanager:r:1:secret:n-AbC123/v2"
        );
        assert!(!secret.is_purged(OffsetDateTime::now_utc()));
    }
}
