//! A key's life: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion.

use rampart_store::{request_audit, Expect};
use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::wire::{self, KeyMetadata, KeyMetadataReply, TagInput};
use super::{Call, KmsOperation, Reply};
use crate::authorization::NamedKey;
use crate::error::KmsError;
use crate::key_policy;
use crate::keys::{self, KeyManager, KeyState, Tag, KEY_ORIGIN, KEY_SPEC, KEY_USAGE};
use crate::KmsService;

/// The input of the operations that take only a key.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyInput {
    key_id: String,
}

/// Decodes `{"KeyId": …}`.
pub(super) fn named_key(body: &[u8]) -> Result<NamedKey, KmsError> {
    let input: KeyInput = wire::decode(body)?;
    NamedKey::parse(&input.key_id, "keyId")
}

pub(crate) struct CreateKey {
    policy: Option<String>,
    description: String,
    tags: Vec<Tag>,
    bypass_lockout_check: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyInput {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    tags: Option<Vec<TagInput>>,
    multi_region: Option<bool>,
    xks_key_id: Option<String>,
}

/// Only what Rampart implements: KMS-generated symmetric encryption keys in one region.
fn check_key_shape(input: &CreateKeyInput) -> Result<(), KmsError> {
    let unsupported = |what: &str| {
        KmsError::UnsupportedOperation(format!(
            "{what} is not supported: Rampart offers SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys with AWS_KMS origin."
        ))
    };
    if let Some(usage) = input.key_usage.as_deref().filter(|u| *u != KEY_USAGE) {
        return Err(unsupported(&format!("KeyUsage {usage}")));
    }
    for spec in [&input.key_spec, &input.customer_master_key_spec] {
        if let Some(spec) = spec.as_deref().filter(|s| *s != KEY_SPEC) {
            return Err(unsupported(&format!("KeySpec {spec}")));
        }
    }
    if let Some(origin) = input.origin.as_deref().filter(|o| *o != KEY_ORIGIN) {
        return Err(unsupported(&format!("Origin {origin}")));
    }
    if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
        return Err(unsupported("A custom key store"));
    }
    if input.multi_region == Some(true) {
        return Err(unsupported("A multi-Region key"));
    }
    Ok(())
}

#[async_trait::async_trait]
impl KmsOperation for CreateKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: CreateKeyInput = wire::decode(body)?;
        check_key_shape(&input)?;
        if let Some(policy) = &input.policy {
            wire::check_length(policy, "policy", 1, 131_072)?;
        }
        let description = input.description.unwrap_or_default();
        wire::check_length(&description, "description", 0, 8192)?;
        Ok(CreateKey {
            policy: input.policy,
            description,
            tags: wire::tags(input.tags)?,
            bypass_lockout_check: input.bypass_policy_lockout_safety_check.unwrap_or(false),
        })
    }

    /// The key does not exist yet: `kms:CreateKey` has no resource, with the condition keys
    /// AWS documents for it; tagging on creation also needs `kms:TagResource`.
    async fn checks(&mut self, _: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let mut create = Check::unscoped(call.action())
            .with_key("kms:CallerAccount", call.account())
            .with_key("kms:KeySpec", KEY_SPEC)
            .with_key("kms:KeyUsage", KEY_USAGE)
            .with_key("kms:KeyOrigin", KEY_ORIGIN)
            .with_key("kms:MultiRegion", "false")
            .with_key(
                "kms:BypassPolicyLockoutSafetyCheck",
                self.bypass_lockout_check.to_string(),
            );
        let mut checks = Vec::new();
        if !self.tags.is_empty() {
            let mut tag =
                Check::unscoped("kms:TagResource").with_key("kms:CallerAccount", call.account());
            for t in &self.tags {
                for check in [&mut create, &mut tag] {
                    check.push_key(format!("aws:RequestTag/{}", t.key), &t.value);
                    check.push_key("aws:TagKeys", &t.key);
                }
            }
            checks.push(tag);
        }
        checks.insert(0, create);
        Ok(checks)
    }

    async fn execute(self, kms: &KmsService, call: &Call<'_>) -> Reply {
        let key = kms.new_key(
            KeyManager::Customer,
            self.description,
            self.policy,
            self.tags,
        );
        key_policy::validate(&key.policy, &key.arn)?;
        if !self.bypass_lockout_check
            && !key_policy::allows_future_updates(&key.policy, &key.arn, call.caller)
        {
            return Err(lockout());
        }
        request_audit::commit(
            kms.store.as_ref(),
            vec![keys::put_key(&key, Expect::Absent)],
        )
        .await?;
        wire::reply(&KeyMetadataReply {
            key_metadata: KeyMetadata::of(&key),
        })
    }
}

/// AWS's answer to a policy that would lock its own administrators out.
pub(super) fn lockout() -> KmsError {
    KmsError::MalformedPolicyDocument(
        "The new key policy will not allow you to update the key policy in the future.".into(),
    )
}

pub(crate) struct DescribeKey(NamedKey);

#[async_trait::async_trait]
impl KmsOperation for DescribeKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(DescribeKey)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, _: &KmsService, _: &Call<'_>) -> Reply {
        let key = self.0.into_key()?.record;
        wire::reply(&KeyMetadataReply {
            key_metadata: KeyMetadata::of(&key),
        })
    }
}

pub(crate) struct ListKeys {
    limit: usize,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyListEntry<'a> {
    key_id: &'a str,
    key_arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeysReply<'a> {
    keys: Vec<KeyListEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

#[async_trait::async_trait]
impl KmsOperation for ListKeys {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: ListInput = wire::decode(body)?;
        let limit = wire::page(input.limit, input.marker.as_deref())?;
        if let Some(marker) = &input.marker {
            keys::check_key_id(marker)
                .map_err(|_| KmsError::InvalidMarker("The marker is not valid.".into()))?;
        }
        Ok(ListKeys {
            limit,
            marker: input.marker,
        })
    }

    async fn checks(&mut self, _: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            Check::unscoped(call.action()).with_key("kms:CallerAccount", call.account())
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let (keys, next) =
            keys::list_keys(kms.store.as_ref(), self.marker.as_deref(), self.limit).await?;
        wire::reply(&ListKeysReply {
            keys: keys
                .iter()
                .map(|k| KeyListEntry {
                    key_id: &k.key_id,
                    key_arn: &k.arn,
                })
                .collect(),
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}

pub(crate) struct EnableKey(NamedKey);

#[async_trait::async_trait]
impl KmsOperation for EnableKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(EnableKey)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        kms.update_key(self.0.into_key()?, |key| {
            key.check_customer_managed()?;
            key.check_not_pending_deletion()?;
            key.state = KeyState::Enabled;
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct DisableKey(NamedKey);

#[async_trait::async_trait]
impl KmsOperation for DisableKey {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(DisableKey)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        kms.update_key(self.0.into_key()?, |key| {
            key.check_customer_managed()?;
            key.check_not_pending_deletion()?;
            key.state = KeyState::Disabled;
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct ScheduleKeyDeletion {
    key: NamedKey,
    window_days: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleInput {
    key_id: String,
    pending_window_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleReply<'a> {
    key_id: &'a str,
    deletion_date: f64,
    key_state: &'static str,
    pending_window_in_days: u32,
}

#[async_trait::async_trait]
impl KmsOperation for ScheduleKeyDeletion {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: ScheduleInput = wire::decode(body)?;
        let days = input.pending_window_in_days.unwrap_or(30);
        // The model allows 1–365; KMS itself takes 7–30.
        wire::check_range(days, "pendingWindowInDays", 7, 30)?;
        Ok(ScheduleKeyDeletion {
            key: NamedKey::parse(&input.key_id, "keyId")?,
            window_days: u32::try_from(days).unwrap_or(30),
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.key.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let window_days = self.window_days;
        let deletion_date = OffsetDateTime::now_utc() + Duration::days(i64::from(window_days));
        let key = kms
            .update_key(self.key.into_key()?, move |key| {
                key.check_customer_managed()?;
                key.check_not_pending_deletion()?;
                key.state = KeyState::PendingDeletion {
                    deletion_date,
                    window_days,
                };
                Ok(())
            })
            .await?;
        wire::reply(&ScheduleReply {
            key_id: &key.arn,
            deletion_date: wire::epoch(deletion_date),
            key_state: key.state.as_aws_str(),
            pending_window_in_days: window_days,
        })
    }
}

pub(crate) struct CancelKeyDeletion(NamedKey);

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdReply<'a> {
    key_id: &'a str,
}

#[async_trait::async_trait]
impl KmsOperation for CancelKeyDeletion {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(CancelKeyDeletion)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    /// A cancelled deletion leaves the key `Disabled`, as AWS does.
    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let key = kms
            .update_key(self.0.into_key()?, |key| {
                if !matches!(key.state, KeyState::PendingDeletion { .. }) {
                    return Err(KmsError::InvalidState(format!(
                        "{} is not pending deletion.",
                        key.arn
                    )));
                }
                key.state = KeyState::Disabled;
                Ok(())
            })
            .await?;
        wire::reply(&KeyIdReply { key_id: &key.arn })
    }
}
