//! Secret values and their versions: GetSecretValue, PutSecretValue, ListSecretVersionIds,
//! and the sealing of a new version every family that writes a value shares. A version a
//! rotation created is empty until the rotation function's `PutSecretValue` with its token
//! fills it.

use std::sync::Arc;

use rampart_kms::{EncryptionContext, KeyRecord};
use rampart_store::Write;
use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::secrets::commit_change;
use super::wire;
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::{self, SecretRecord, VersionMeta, AWSCURRENT};
use crate::sealing::{self, context, SealedParts, SecretValue};
use crate::service::{now, KeyUse, NamedSecret};
use crate::SecretsService;

/// Seals `value` as version `version_id` of `secret` under `key`, adds the version's metadata
/// to `secret` with `stages` moved to it, and answers the write of the sealed value.
pub(super) fn seal_version(
    svc: &SecretsService,
    secret: &mut SecretRecord,
    key: &KeyRecord,
    version_id: &str,
    value: &SecretValue,
    stages: &[String],
) -> Result<Write, SecretsError> {
    let sealed = sealing::seal(&svc.kms, key, &secret.arn, version_id, value)?;
    secret.versions.push(VersionMeta {
        id: version_id.to_owned(),
        stages: Vec::new(),
        created_at: now(),
        key_arn: key.arn.clone(),
        empty: false,
    });
    records::attach_stages(&mut secret.versions, version_id, stages);
    Ok(records::put_value(&secret.arn, version_id, &sealed))
}

/// Whether version `version_id` of `secret` holds exactly `value` — for a retried request
/// with the same `ClientRequestToken`. The caller supplied the value, so opening the stored
/// one tells it nothing but "same or not", which is what AWS answers too.
pub(super) async fn same_value(
    svc: &SecretsService,
    secret: &SecretRecord,
    version_id: &str,
    value: &SecretValue,
) -> Result<bool, SecretsError> {
    let Some(sealed) = records::load_value(svc.store.as_ref(), &secret.arn, version_id).await?
    else {
        return Ok(false);
    };
    let key = svc.opening_key(&sealed.parts()?).await?;
    let key = svc.opening_record(key)?;
    Ok(sealing::open(&svc.kms, &key, &secret.arn, version_id, &sealed)? == *value)
}

pub(crate) struct GetSecretValue {
    secret: NamedSecret,
    version_id: Option<String>,
    version_stage: Option<String>,
    /// The version, its sealed value, its key and the encryption context, as the checks read
    /// them.
    resolved: Option<(VersionMeta, Arc<SealedParts>, KeyUse, EncryptionContext)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetSecretValueInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetSecretValueReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    version_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
    version_stages: &'a [String],
    created_date: f64,
}

impl GetSecretValue {
    /// The version the request names in `secret`, if it has a value (a version a rotation
    /// created has none until its function puts one: not found, as on AWS).
    fn pick<'s>(&self, secret: &'s SecretRecord) -> Result<&'s VersionMeta, SecretsError> {
        let by_id = |id: &str| {
            SecretsError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for VersionId: {id}"
            ))
        };
        match (&self.version_id, &self.version_stage) {
            (Some(id), stage) => {
                let version = secret.version(id).ok_or_else(|| by_id(id))?;
                if stage.as_ref().is_some_and(|s| !version.stages.contains(s)) {
                    return Err(SecretsError::InvalidRequest(
                        "You provided a VersionStage that is not associated to the provided VersionId.".into(),
                    ));
                }
                if version.empty {
                    return Err(by_id(id));
                }
                Ok(version)
            }
            (None, stage) => {
                let stage = stage.as_deref().unwrap_or(AWSCURRENT);
                secret
                    .version_at(stage)
                    .filter(|v| !v.empty)
                    .ok_or_else(|| {
                        SecretsError::ResourceNotFound(format!(
                            "Secrets Manager can't find the specified secret value for staging label: {stage}"
                        ))
                    })
            }
        }
    }
}

#[async_trait::async_trait]
impl SecretsOperation for GetSecretValue {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: GetSecretValueInput = wire::decode(body)?;
        if let Some(id) = &input.version_id {
            wire::check_length(id, "versionId", 32, 64)?;
        }
        if let Some(stage) = &input.version_stage {
            wire::check_length(stage, "versionStage", 1, 256)?;
        }
        Ok(GetSecretValue {
            secret: NamedSecret::parse(input.secret_id)?,
            version_id: input.version_id,
            version_stage: input.version_stage,
            resolved: None,
        })
    }

    /// `secretsmanager:GetSecretValue` on the secret, and `kms:Decrypt` on the customer key
    /// the version's data key is sealed under, with the key policy and the encryption context.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut check = self.secret.check_cached(svc, &call.action()).await?;
        if let Some(id) = &self.version_id {
            check.push_key("secretsmanager:VersionId", id);
        }
        if let Some(stage) = &self.version_stage {
            check.push_key("secretsmanager:VersionStage", stage);
        }
        let mut checks = vec![check];
        let readable = self
            .secret
            .secret
            .as_ref()
            .filter(|s| s.record.deletion_date.is_none());
        if let Some(secret) = readable {
            let secret = &secret.record;
            if let Ok(version) = self.pick(secret) {
                let version = version.clone();
                if let Some(sealed) = svc.sealed_value(&secret.arn, &version.id).await? {
                    let key = svc.opening_key(&sealed).await?;
                    let ctx = context(&secret.arn, &version.id);
                    checks.extend(svc.kms_check(&key, "kms:Decrypt", call.account(), &ctx));
                    self.resolved = Some((version, sealed, key, ctx));
                }
            }
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let stored = self
            .secret
            .secret
            .as_ref()
            .ok_or_else(SecretsError::secret_not_found)?;
        let secret = &stored.record;
        secret.check_not_deleted()?;
        self.pick(secret)?;
        let (version, sealed, key, ctx) = self.resolved.ok_or_else(|| {
            SecretsError::Internal("The secret's value is missing from the store.".into())
        })?;
        let key = svc.opening_record(key)?;
        let value = sealing::open_parts(&svc.kms, &key, &secret.arn, &version.id, &sealed, &ctx)?;
        let text;
        let (secret_string, secret_binary) = if value.binary {
            (None, Some(wire::base64(&value.bytes)))
        } else {
            text = Zeroizing::new(String::from_utf8(value.bytes.to_vec()).map_err(|_| {
                SecretsError::DecryptionFailure("The stored secret value is corrupt.".into())
            })?);
            (Some(text.as_str()), None)
        };
        wire::reply(&GetSecretValueReply {
            arn: &secret.arn,
            name: &secret.name,
            version_id: &version.id,
            secret_string,
            secret_binary,
            version_stages: &version.stages,
            created_date: wire::epoch(version.created_at),
        })
    }
}

pub(crate) struct PutSecretValue {
    secret: NamedSecret,
    version_id: String,
    token_given: bool,
    value: SecretValue,
    stages: Vec<String>,
    key: Option<KeyUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutSecretValueInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_string: Option<String>,
    #[serde(default, deserialize_with = "wire::optional_blob")]
    secret_binary: Option<Zeroizing<Vec<u8>>>,
    version_stages: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutSecretValueReply<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    version_id: &'a str,
    version_stages: &'a [String],
}

#[async_trait::async_trait]
impl SecretsOperation for PutSecretValue {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: PutSecretValueInput = wire::decode(body)?;
        let token_given = input.client_request_token.is_some();
        let value =
            wire::secret_value(input.secret_string.map(Zeroizing::new), input.secret_binary)?
                .ok_or_else(|| {
                    SecretsError::InvalidRequest(
                        "You must provide either SecretString or SecretBinary.".into(),
                    )
                })?;
        let stages = input
            .version_stages
            .unwrap_or_else(|| vec![AWSCURRENT.to_owned()]);
        if stages.is_empty() || stages.len() > 20 {
            return Err(SecretsError::constraint(
                stages.len(),
                "versionStages",
                "Member must have length between 1 and 20",
            ));
        }
        for stage in &stages {
            wire::check_length(stage, "versionStages.member", 1, 256)?;
        }
        Ok(PutSecretValue {
            secret: NamedSecret::parse(input.secret_id)?,
            version_id: wire::version_id(input.client_request_token)?,
            token_given,
            value,
            stages,
            key: None,
        })
    }

    /// `secretsmanager:PutSecretValue` on the secret, and `kms:GenerateDataKey` on its key if
    /// that is a customer key.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut checks = vec![self.secret.check(svc, &call.action()).await?];
        if let Some(secret) = &self.secret.secret {
            let key = svc.key_use(secret.record.kms_key_id.as_deref()).await?;
            let ctx = context(&secret.record.arn, &self.version_id);
            checks.extend(svc.kms_check(&key, "kms:GenerateDataKey", call.account(), &ctx));
            self.key = Some(key);
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        let secret = &authorized.record;
        // The pending version a rotation created under this token takes its value now.
        if let Some(existing) = secret.version(&self.version_id).filter(|v| !v.empty) {
            if self.token_given && same_value(svc, secret, &self.version_id, &self.value).await? {
                return wire::reply(&PutSecretValueReply {
                    arn: &secret.arn,
                    name: &secret.name,
                    version_id: &existing.id,
                    version_stages: &existing.stages,
                });
            }
            return Err(SecretsError::ResourceExists(
                "You can't modify an existing version, you can only create a new version.".into(),
            ));
        }
        let key = self
            .key
            .ok_or_else(|| SecretsError::Internal("The key was not resolved before use.".into()))?;
        let key = svc.sealing_key(key).await?;
        let mut scratch = secret.clone();
        let write = seal_version(svc, &mut scratch, &key, &self.version_id, &self.value, &[])?;
        let version = scratch
            .versions
            .pop()
            .ok_or_else(|| SecretsError::Internal("The new version was not recorded.".into()))?;
        let stages = self.stages.clone();
        let updated =
            commit_change(svc, authorized, vec![write], |next| {
                match next.versions.iter().position(|v| v.id == version.id) {
                    Some(i) if next.versions[i].empty => {
                        let pending = &mut next.versions[i];
                        pending.key_arn = version.key_arn.clone();
                        pending.empty = false;
                    }
                    Some(_) => return Err(SecretsError::ResourceExists(
                        "You can't modify an existing version, you can only create a new version."
                            .into(),
                    )),
                    None => next.versions.push(version.clone()),
                }
                records::attach_stages(&mut next.versions, &version.id, &stages);
                Ok(())
            })
            .await?;
        let stored = updated
            .version(&self.version_id)
            .map_or(&[][..], |v| &v.stages[..]);
        wire::reply(&PutSecretValueReply {
            arn: &updated.arn,
            name: &updated.name,
            version_id: &self.version_id,
            version_stages: stored,
        })
    }
}

pub(crate) struct ListSecretVersionIds {
    secret: NamedSecret,
    max_results: usize,
    start: usize,
    include_deprecated: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListSecretVersionIdsInput {
    secret_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionEntry<'a> {
    version_id: &'a str,
    version_stages: &'a [String],
    created_date: f64,
    /// None for a version that has no value yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_ids: Option<[&'a str; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListSecretVersionIdsReply<'a> {
    versions: Vec<VersionEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
}

#[async_trait::async_trait]
impl SecretsOperation for ListSecretVersionIds {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: ListSecretVersionIdsInput = wire::decode(body)?;
        let max = input.max_results.unwrap_or(100);
        if !(1..=100).contains(&max) {
            return Err(SecretsError::constraint(
                max,
                "maxResults",
                "Member must have value between 1 and 100",
            ));
        }
        let start = match input.next_token.filter(|t| !t.is_empty()) {
            Some(token) => token.parse().map_err(|_| {
                SecretsError::InvalidParameter("The NextToken value is not valid.".into())
            })?,
            None => 0,
        };
        Ok(ListSecretVersionIds {
            secret: NamedSecret::parse(input.secret_id)?,
            max_results: usize::try_from(max).unwrap_or(100),
            start,
            include_deprecated: input.include_deprecated.unwrap_or(false),
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![self.secret.check_cached(svc, &call.action()).await?])
    }

    async fn execute(self, _: &SecretsService, _: &Call<'_>) -> Reply {
        let secret = self.secret.into_secret()?.record;
        let listed: Vec<&VersionMeta> = secret
            .versions
            .iter()
            .filter(|v| self.include_deprecated || !v.stages.is_empty())
            .collect();
        let end = (self.start + self.max_results).min(listed.len());
        let page = listed.get(self.start.min(end)..end).unwrap_or_default();
        wire::reply(&ListSecretVersionIdsReply {
            versions: page
                .iter()
                .map(|v| VersionEntry {
                    version_id: &v.id,
                    version_stages: &v.stages,
                    created_date: wire::epoch(v.created_at),
                    kms_key_ids: (!v.empty).then_some([v.key_arn.as_str()]),
                })
                .collect(),
            next_token: (end < listed.len()).then(|| end.to_string()),
            arn: &secret.arn,
            name: &secret.name,
        })
    }
}
