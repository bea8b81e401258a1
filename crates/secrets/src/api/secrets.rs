//! The secret itself: CreateSecret, UpdateSecret, DeleteSecret, RestoreSecret, and the
//! optimistic write-back every family that changes a secret shares.

use rampart_store::{request_audit, Expect, StoreError, Write};
use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use time::Duration;
use zeroize::Zeroizing;

use super::values::{same_value, seal_version};
use super::wire::{self, SecretIdInput, SecretRef, TagShape};
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::{self, SecretRecord, Stored, Tag, AWSCURRENT};
use crate::sealing::{self, context, SealedValue, SecretValue};
use crate::secret_id;
use crate::service::{now, push_request_tags, with_resource_policy, KeyUse, NamedSecret};
use crate::SecretsService;

/// How often a change re-reads and retries when another request wrote the secret first.
const COMMIT_ATTEMPTS: usize = 4;

/// Applies `change` to the secret authorization read and commits it with `extra` writes. If
/// another request wrote the secret in between, the change is re-applied to the fresh record —
/// unless something authorization depended on (its ARN, tags, key) changed.
pub(super) async fn commit_change<F>(
    svc: &SecretsService,
    authorized: Stored<SecretRecord>,
    extra: Vec<Write>,
    change: F,
) -> Result<SecretRecord, SecretsError>
where
    F: Fn(&mut SecretRecord) -> Result<(), SecretsError> + Send + Sync,
{
    let mut current = authorized.clone();
    for _ in 0..COMMIT_ATTEMPTS {
        let mut next = current.record.clone();
        change(&mut next)?;
        next.last_changed_at = now();
        let mut writes = vec![records::put_secret(&next, Expect::Version(current.version))];
        writes.extend(extra.iter().cloned());
        match request_audit::commit(svc.store.as_ref(), writes).await {
            Ok(_) => return Ok(next),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        current = records::load_live(svc.store.as_ref(), &authorized.record.name)
            .await?
            .ok_or_else(SecretsError::secret_not_found)?;
        let (now, then) = (&current.record, &authorized.record);
        if now.arn != then.arn
            || now.tags != then.tags
            || now.kms_key_id != then.kms_key_id
            || now.resource_policy != then.resource_policy
        {
            return Err(changed_meanwhile());
        }
    }
    Err(SecretsError::Internal(
        "The secret is being changed by other requests. Retry the request.".into(),
    ))
}

/// The answer when the secret changed under a request in a way its checks did not see.
fn changed_meanwhile() -> SecretsError {
    SecretsError::InvalidRequest(
        "The secret changed while this request was authorized. Retry the request.".into(),
    )
}

/// `ARN`, `Name` and `VersionId` when the request created one.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
}

pub(crate) struct CreateSecret {
    name: String,
    arn: String,
    version_id: String,
    token_given: bool,
    value: Option<SecretValue>,
    description: Option<String>,
    kms_key_id: Option<String>,
    tags: Vec<Tag>,
    existing: Option<Stored<SecretRecord>>,
    key: Option<KeyUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateSecretInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    #[serde(default, deserialize_with = "wire::optional_blob")]
    secret_binary: Option<Zeroizing<Vec<u8>>>,
    tags: Option<Vec<TagShape>>,
    add_replica_regions: Option<serde_json::Value>,
}

#[async_trait::async_trait]
impl SecretsOperation for CreateSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: CreateSecretInput = wire::decode(body)?;
        secret_id::check_name(&input.name)?;
        if input.add_replica_regions.is_some() {
            return Err(SecretsError::InvalidParameter(
                "Replicating secrets to other Regions is not supported.".into(),
            ));
        }
        if let Some(k) = &input.kms_key_id {
            wire::check_length(k, "kmsKeyId", 0, 2048)?;
        }
        let token_given = input.client_request_token.is_some();
        Ok(CreateSecret {
            version_id: wire::version_id(input.client_request_token)?,
            token_given,
            value: wire::secret_value(
                input.secret_string.map(Zeroizing::new),
                input.secret_binary,
            )?,
            description: wire::description(input.description)?,
            kms_key_id: input.kms_key_id.filter(|k| !k.is_empty()),
            tags: wire::tags(input.tags)?,
            arn: String::new(),
            name: input.name,
            existing: None,
            key: None,
        })
    }

    /// `secretsmanager:CreateSecret` on the ARN the secret will have (or has, if it exists),
    /// with the request's name, description, key and tags; `kms:GenerateDataKey` on a
    /// customer key that will seal the first version.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        self.existing = records::load_secret(svc.store.as_ref(), &self.name).await?;
        let live = self
            .existing
            .as_ref()
            .filter(|s| !s.record.is_purged(now()));
        self.arn = match live {
            Some(s) => s.record.arn.clone(),
            None => svc.mint_arn(&self.name),
        };
        // Denied under the requested name: the stored ARN (or a freshly minted suffix) would
        // tell a caller without permission whether the secret exists.
        let mut check = Check::on(call.action(), &self.arn)
            .with_key("secretsmanager:Name", &self.name)
            .named_as(&self.name);
        if let Some(d) = &self.description {
            check.push_key("secretsmanager:Description", d);
        }
        if let Some(k) = &self.kms_key_id {
            check.push_key("secretsmanager:KmsKeyId", k);
        }
        push_request_tags(&mut check, &self.tags);
        if let Some(existing) = live {
            check = with_resource_policy(check, &existing.record);
        }
        let mut checks = vec![check];
        if self.value.is_some() {
            let key = svc.key_use(self.kms_key_id.as_deref()).await?;
            let ctx = context(&self.arn, &self.version_id);
            checks.extend(svc.kms_check(&key, "kms:GenerateDataKey", call.account(), &ctx));
            self.key = Some(key);
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let at = now();
        let mut writes = Vec::new();
        let expect = match &self.existing {
            Some(existing) if !existing.record.is_purged(at) => {
                let secret = &existing.record;
                if secret.deletion_date.is_some() {
                    return Err(SecretsError::InvalidRequest(
                        "You can't create this secret because a secret with this name is already scheduled for deletion.".into(),
                    ));
                }
                if let (true, Some(value)) = (self.token_given, &self.value) {
                    if secret.version(&self.version_id).is_some()
                        && same_value(svc, secret, &self.version_id, value).await?
                    {
                        return wire::reply(&VersionReply {
                            arn: &secret.arn,
                            name: &secret.name,
                            version_id: Some(&self.version_id),
                        });
                    }
                }
                return Err(SecretsError::ResourceExists(format!(
                    "The operation failed because the secret {} already exists.",
                    self.name
                )));
            }
            Some(purged) => {
                writes
                    .extend(records::value_deletes(svc.store.as_ref(), &purged.record.arn).await?);
                Expect::Version(purged.version)
            }
            None => Expect::Absent,
        };
        let mut secret = SecretRecord {
            name: self.name.clone(),
            arn: self.arn.clone(),
            description: self.description.clone(),
            kms_key_id: self.kms_key_id.clone(),
            created_at: at,
            last_changed_at: at,
            deletion_date: None,
            tags: self.tags.clone(),
            versions: Vec::new(),
            rotation: None,
            resource_policy: None,
        };
        let mut version_id = None;
        if let (Some(value), Some(key)) = (&self.value, self.key.clone()) {
            let key = svc.sealing_key(key).await?;
            writes.push(seal_version(
                svc,
                &mut secret,
                &key,
                &self.version_id,
                value,
                &[AWSCURRENT.to_owned()],
            )?);
            version_id = Some(self.version_id.as_str());
        }
        writes.insert(0, records::put_secret(&secret, expect));
        match request_audit::commit(svc.store.as_ref(), writes).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(SecretsError::ResourceExists(format!(
                    "The operation failed because the secret {} already exists.",
                    self.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
        wire::reply(&VersionReply {
            arn: &secret.arn,
            name: &secret.name,
            version_id,
        })
    }
}

pub(crate) struct UpdateSecret {
    secret: NamedSecret,
    version_id: String,
    token_given: bool,
    description: Option<String>,
    kms_key_id: Option<String>,
    value: Option<SecretValue>,
    key: Option<KeyUse>,
    /// The key a new `KmsKeyId` names, when the secret has versions to move to it.
    new_key: Option<KeyUse>,
    /// The labeled versions sealed under another key than the new one, as the checks read
    /// them, to re-seal under it in the same commit.
    reseal: Vec<Reseal>,
}

/// A version `UpdateSecret` re-seals under the secret's new key.
struct Reseal {
    version_id: String,
    sealed: Stored<SealedValue>,
    /// The key it is sealed under now.
    old_key: KeyUse,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    #[serde(default, deserialize_with = "wire::optional_blob")]
    secret_binary: Option<Zeroizing<Vec<u8>>>,
}

#[async_trait::async_trait]
impl SecretsOperation for UpdateSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: UpdateSecretInput = wire::decode(body)?;
        if let Some(k) = &input.kms_key_id {
            wire::check_length(k, "kmsKeyId", 0, 2048)?;
        }
        let token_given = input.client_request_token.is_some();
        Ok(UpdateSecret {
            secret: NamedSecret::parse(input.secret_id)?,
            version_id: wire::version_id(input.client_request_token)?,
            token_given,
            description: wire::description(input.description)?,
            kms_key_id: input.kms_key_id,
            value: wire::secret_value(
                input.secret_string.map(Zeroizing::new),
                input.secret_binary,
            )?,
            key: None,
            new_key: None,
            reseal: Vec::new(),
        })
    }

    /// `secretsmanager:UpdateSecret` on the secret (with the new description and key), and
    /// `kms:GenerateDataKey` on a customer key that seals a new value. A `KmsKeyId` naming
    /// another key moves the secret's labeled versions to it, as AWS does: for each one sealed
    /// under a different key, `kms:Decrypt` on the key it is sealed under now and
    /// `kms:GenerateDataKey` on the new one (each only when customer-managed), with that
    /// version's encryption context.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut check = self.secret.check(svc, &call.action()).await?;
        if let Some(d) = &self.description {
            check.push_key("secretsmanager:Description", d);
        }
        if let Some(k) = &self.kms_key_id {
            check.push_key("secretsmanager:KmsKeyId", k);
        }
        let mut checks = vec![check];
        if let (Some(_), Some(secret)) = (&self.value, &self.secret.secret) {
            let named = match &self.kms_key_id {
                Some(k) if !k.is_empty() => Some(k.as_str()),
                Some(_) => None,
                None => secret.record.kms_key_id.as_deref(),
            };
            let key = svc.key_use(named).await?;
            let ctx = context(&self.secret.arn, &self.version_id);
            checks.extend(svc.kms_check(&key, "kms:GenerateDataKey", call.account(), &ctx));
            self.key = Some(key);
        }
        if let (Some(k), Some(secret)) = (&self.kms_key_id, &self.secret.secret) {
            let new_key = svc
                .key_use(Some(k.as_str()).filter(|k| !k.is_empty()))
                .await?;
            let new_key_id = svc.key_id_of(&new_key).await?;
            let secret = &secret.record;
            // Only the versions a staging label (AWSCURRENT, AWSPREVIOUS, AWSPENDING) points
            // at move, as on AWS: a version without labels stays sealed under the key it was
            // sealed with, which it names, so it still opens as long as that key is usable.
            for version in secret.versions.iter().filter(|v| !v.stages.is_empty()) {
                let Some(sealed) =
                    records::load_stored_value(svc.store.as_ref(), &secret.arn, &version.id)
                        .await?
                else {
                    continue;
                };
                let current = sealed.record.key_id();
                if current.is_some() && current == new_key_id {
                    continue;
                }
                let old_key = svc.opening_key(&sealed.record.parts()?).await?;
                let ctx = context(&secret.arn, &version.id);
                checks.extend(svc.kms_check(&old_key, "kms:Decrypt", call.account(), &ctx));
                checks.extend(svc.kms_check(&new_key, "kms:GenerateDataKey", call.account(), &ctx));
                self.reseal.push(Reseal {
                    version_id: version.id.clone(),
                    sealed,
                    old_key,
                });
            }
            self.new_key = Some(new_key);
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        let mut extra = Vec::new();
        let mut resealed = Vec::new();
        let mut new_key_arn = None;
        if let Some(new_key) = self.new_key.clone() {
            let new_key = svc.sealing_key(new_key).await?;
            let arn = &authorized.record.arn;
            for reseal in &self.reseal {
                let old_key = svc.opening_record(reseal.old_key.clone())?;
                let value = sealing::open(
                    &svc.kms,
                    &old_key,
                    arn,
                    &reseal.version_id,
                    &reseal.sealed.record,
                )?;
                let sealed = sealing::seal(&svc.kms, &new_key, arn, &reseal.version_id, &value)?;
                extra.push(records::reseal_value(
                    arn,
                    &reseal.version_id,
                    &sealed,
                    reseal.sealed.version,
                ));
                resealed.push(reseal.version_id.clone());
            }
            new_key_arn = Some(new_key.arn);
        }
        let mut sealed_version = None;
        if let (Some(value), Some(key)) = (&self.value, self.key.clone()) {
            let secret = &authorized.record;
            if secret.version(&self.version_id).is_some() {
                if self.token_given && same_value(svc, secret, &self.version_id, value).await? {
                    return wire::reply(&VersionReply {
                        arn: &secret.arn,
                        name: &secret.name,
                        version_id: Some(&self.version_id),
                    });
                }
                return Err(SecretsError::ResourceExists(
                    "You can't modify an existing version, you can only create a new version."
                        .into(),
                ));
            }
            let key = svc.sealing_key(key).await?;
            let mut scratch = secret.clone();
            extra.push(seal_version(
                svc,
                &mut scratch,
                &key,
                &self.version_id,
                value,
                &[],
            )?);
            sealed_version = scratch.versions.pop();
        }
        let labeled: Vec<String> = authorized
            .record
            .versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| v.id.clone())
            .collect();
        let updated = commit_change(svc, authorized, extra, |next| {
            if let Some(d) = &self.description {
                next.description = Some(d.clone());
            }
            if let Some(k) = &self.kms_key_id {
                next.kms_key_id = Some(k.clone()).filter(|k| !k.is_empty());
            }
            if let Some(version) = &sealed_version {
                if next.version(&version.id).is_some() {
                    return Err(SecretsError::ResourceExists(
                        "You can't modify an existing version, you can only create a new version."
                            .into(),
                    ));
                }
                next.versions.push(version.clone());
                records::attach_stages(&mut next.versions, &version.id, &[AWSCURRENT.to_owned()]);
            }
            if let Some(key_arn) = &new_key_arn {
                for id in &resealed {
                    let version = next
                        .versions
                        .iter_mut()
                        .find(|v| v.id == *id)
                        .ok_or_else(changed_meanwhile)?;
                    version.key_arn = key_arn.clone();
                }
                // A version another request labeled since the checks read the secret would
                // stay under the old key: refuse rather than move the secret halfway.
                let left_behind = next.versions.iter().any(|v| {
                    !v.stages.is_empty() && v.key_arn != *key_arn && !labeled.contains(&v.id)
                });
                if left_behind {
                    return Err(changed_meanwhile());
                }
            }
            Ok(())
        })
        .await?;
        wire::reply(&VersionReply {
            arn: &updated.arn,
            name: &updated.name,
            version_id: sealed_version.as_ref().map(|v| v.id.as_str()),
        })
    }
}

pub(crate) struct DeleteSecret {
    secret: NamedSecret,
    recovery_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteSecretInput {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteSecretReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    deletion_date: f64,
}

#[async_trait::async_trait]
impl SecretsOperation for DeleteSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: DeleteSecretInput = wire::decode(body)?;
        let force = input.force_delete_without_recovery.unwrap_or(false);
        let recovery_days = match (force, input.recovery_window_in_days) {
            (true, Some(_)) => {
                return Err(SecretsError::InvalidParameter(
                    "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.".into(),
                ))
            }
            (true, None) => None,
            (false, days) => {
                let days = days.unwrap_or(30);
                if !(7..=30).contains(&days) {
                    return Err(SecretsError::InvalidParameter(
                        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
                    ));
                }
                Some(days)
            }
        };
        Ok(DeleteSecret {
            secret: NamedSecret::parse(input.secret_id)?,
            recovery_days,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_secret()?;
        let at = now();
        let Some(days) = self.recovery_days else {
            let writes = records::delete_all(svc.store.as_ref(), &authorized).await?;
            request_audit::commit(svc.store.as_ref(), writes).await?;
            let secret = &authorized.record;
            return wire::reply(&DeleteSecretReply {
                arn: &secret.arn,
                name: &secret.name,
                deletion_date: wire::epoch(at),
            });
        };
        authorized.record.check_not_deleted()?;
        let date = at + Duration::days(days);
        let updated = commit_change(svc, authorized, Vec::new(), |next| {
            next.check_not_deleted()?;
            next.deletion_date = Some(date);
            Ok(())
        })
        .await?;
        wire::reply(&DeleteSecretReply {
            arn: &updated.arn,
            name: &updated.name,
            deletion_date: wire::epoch(date),
        })
    }
}

pub(crate) struct RestoreSecret {
    secret: NamedSecret,
}

#[async_trait::async_trait]
impl SecretsOperation for RestoreSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: SecretIdInput = wire::decode(body)?;
        Ok(RestoreSecret {
            secret: NamedSecret::parse(input.secret_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_secret()?;
        let updated = commit_change(svc, authorized, Vec::new(), |next| {
            next.deletion_date = None;
            Ok(())
        })
        .await?;
        wire::reply(&SecretRef {
            arn: &updated.arn,
            name: &updated.name,
        })
    }
}
