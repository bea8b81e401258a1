//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand.
//!
//! A rotation adds a backing-key version in front; the older versions stay in the record, so
//! every blob sealed before still decrypts (the blob names its version). Automatic rotation is
//! recorded (period and anchor) and reported; performing it on schedule is a sweeper's job.

use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::lifecycle::named_key;
use super::wire;
use super::{Call, KmsOperation, Reply};
use crate::authorization::NamedKey;
use crate::custody::BackingKey;
use crate::error::KmsError;
use crate::keys::{AutoRotation, KeyRecord};
use crate::KmsService;

/// AWS's default and bounds for `RotationPeriodInDays`.
const DEFAULT_PERIOD_DAYS: i64 = 365;
/// AWS's quota of on-demand rotations per key.
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

/// The state rules of rotation changes: customer-managed, enabled keys only.
fn check_rotatable(key: &KeyRecord) -> Result<(), KmsError> {
    key.check_customer_managed()?;
    key.check_usable()
}

pub(crate) struct EnableKeyRotation {
    key: NamedKey,
    period_days: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableInput {
    key_id: String,
    rotation_period_in_days: Option<i64>,
}

#[async_trait::async_trait]
impl KmsOperation for EnableKeyRotation {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: EnableInput = wire::decode(body)?;
        let days = input.rotation_period_in_days.unwrap_or(DEFAULT_PERIOD_DAYS);
        wire::check_range(days, "rotationPeriodInDays", 90, 2560)?;
        Ok(EnableKeyRotation {
            key: NamedKey::parse(&input.key_id, "keyId")?,
            period_days: u32::try_from(days).unwrap_or(365),
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.key.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let period_days = self.period_days;
        let now = OffsetDateTime::now_utc();
        kms.update_key(self.key.into_key()?, move |key| {
            check_rotatable(key)?;
            // Re-enabling keeps the schedule's anchor; only the period changes.
            let anchor = key.rotation.as_ref().map_or(now, |r| r.anchor);
            key.rotation = Some(AutoRotation {
                period_days,
                anchor,
            });
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct DisableKeyRotation(NamedKey);

#[async_trait::async_trait]
impl KmsOperation for DisableKeyRotation {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(DisableKeyRotation)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        kms.update_key(self.0.into_key()?, |key| {
            check_rotatable(key)?;
            key.rotation = None;
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct GetKeyRotationStatus(NamedKey);

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatusReply<'a> {
    key_rotation_enabled: bool,
    key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
}

#[async_trait::async_trait]
impl KmsOperation for GetKeyRotationStatus {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(GetKeyRotationStatus)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    async fn execute(self, _: &KmsService, _: &Call<'_>) -> Reply {
        let key = self.0.into_key()?.record;
        let rotation = key.rotation.as_ref();
        wire::reply(&StatusReply {
            key_rotation_enabled: rotation.is_some(),
            key_id: &key.arn,
            rotation_period_in_days: rotation.map(|r| r.period_days),
            next_rotation_date: rotation
                .map(|r| wire::epoch(r.anchor + Duration::days(i64::from(r.period_days)))),
        })
    }
}

pub(crate) struct RotateKeyOnDemand(NamedKey);

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotateReply<'a> {
    key_id: &'a str,
}

#[async_trait::async_trait]
impl KmsOperation for RotateKeyOnDemand {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        named_key(body).map(RotateKeyOnDemand)
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        Ok(vec![
            self.0.check(kms, &call.action(), call.account()).await?,
        ])
    }

    /// A new backing key, sealed under the root key, becomes current at once.
    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let root_keys = kms.root_keys.clone();
        let key = kms
            .update_key(self.0.into_key()?, move |key| {
                check_rotatable(key)?;
                let on_demand = key.backing_keys.iter().filter(|b| b.on_demand).count();
                if on_demand >= MAX_ON_DEMAND_ROTATIONS {
                    return Err(KmsError::LimitExceeded(format!(
                        "{} has reached the maximum of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                        key.arn
                    )));
                }
                let version = key.backing_keys.iter().map(|b| b.version).max().unwrap_or(0) + 1;
                let fresh = BackingKey::generate(
                    &root_keys,
                    &key.key_id,
                    version,
                    OffsetDateTime::now_utc(),
                    true,
                );
                key.backing_keys.insert(0, fresh);
                Ok(())
            })
            .await?;
        wire::reply(&RotateReply {
            key_id: &key.key_id,
        })
    }
}
