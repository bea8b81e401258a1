//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! AWS authorizes alias changes on both sides: "kms:CreateAlias on the alias (IAM policy)"
//! and "kms:CreateAlias on the KMS key (key policy)"; `UpdateAlias` on the alias, the key it
//! points at now and the key it will point at; `DeleteAlias` on the alias and its key. The
//! alias has no policy of its own, so its check is decided by IAM alone.

use rampart_store::{request_audit, Expect, StoreError};
use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::wire;
use super::{Call, KmsOperation, Reply};
use crate::authorization::{KeyTarget, NamedKey};
use crate::error::KmsError;
use crate::keys::{self, AliasRecord, KeyRef, Stored, ALIAS_PREFIX};
use crate::KmsService;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    alias_name: String,
    target_key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasNameInput {
    alias_name: String,
}

/// `TargetKeyId`: a key id or key ARN, never another alias.
fn target_key(text: &str) -> Result<NamedKey, KmsError> {
    let key = NamedKey::parse(text, "targetKeyId")?;
    if !key.reference.is_key() {
        return Err(KmsError::Validation(
            "TargetKeyId must be a key ID or key ARN, not an alias.".into(),
        ));
    }
    Ok(key)
}

/// `action` on the alias itself: IAM decides, with the caller's account.
fn alias_check(kms: &KmsService, action: &str, name: &str, call: &Call<'_>) -> Check {
    Check::on(action, kms.alias_arn(name)).with_key("kms:CallerAccount", call.account())
}

fn alias_not_found(kms: &KmsService, name: &str) -> KmsError {
    KmsError::NotFound(format!("Alias {} is not found.", kms.alias_arn(name)))
}

fn conflict(error: StoreError) -> KmsError {
    match error {
        StoreError::Conflict { .. } => KmsError::Conflict(
            "The alias was changed by another request. Retry the request.".into(),
        ),
        other => other.into(),
    }
}

pub(crate) struct CreateAlias {
    name: String,
    key: NamedKey,
}

#[async_trait::async_trait]
impl KmsOperation for CreateAlias {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: AliasInput = wire::decode(body)?;
        keys::check_customer_alias(&input.alias_name)?;
        Ok(CreateAlias {
            name: input.alias_name,
            key: target_key(&input.target_key_id)?,
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let action = call.action();
        Ok(vec![
            alias_check(kms, &action, &self.name, call),
            self.key.check(kms, &action, call.account()).await?,
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let key = self.key.into_key()?.record;
        key.check_customer_managed()?;
        key.check_not_pending_deletion()?;
        let now = OffsetDateTime::now_utc();
        let alias = AliasRecord {
            name: self.name,
            target_key_id: key.key_id,
            created_at: now,
            updated_at: now,
        };
        let write = keys::put_alias(&alias, Expect::Absent);
        match request_audit::commit(kms.store.as_ref(), vec![write]).await {
            Ok(_) => Ok(b"{}".to_vec()),
            Err(StoreError::Conflict { .. }) => Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                kms.alias_arn(&alias.name)
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) struct UpdateAlias {
    name: String,
    new_key: NamedKey,
    /// The alias as authorization read it, and the key it pointed at then.
    current: Option<(Stored<AliasRecord>, KeyTarget)>,
}

#[async_trait::async_trait]
impl KmsOperation for UpdateAlias {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: AliasInput = wire::decode(body)?;
        keys::check_customer_alias(&input.alias_name)?;
        Ok(UpdateAlias {
            name: input.alias_name,
            new_key: target_key(&input.target_key_id)?,
            current: None,
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let action = call.action();
        let mut checks = vec![
            alias_check(kms, &action, &self.name, call),
            self.new_key.check(kms, &action, call.account()).await?,
        ];
        if let Some(alias) = keys::load_alias(kms.store.as_ref(), &self.name).await? {
            let old = kms
                .target(&KeyRef::Id(alias.record.target_key_id.clone()))
                .await?;
            checks.push(old.check(&action, call.account()));
            self.current = Some((alias, old));
        }
        Ok(checks)
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let (alias, _) = self
            .current
            .ok_or_else(|| alias_not_found(kms, &self.name))?;
        let key = self.new_key.into_key()?.record;
        key.check_customer_managed()?;
        key.check_not_pending_deletion()?;
        let updated = AliasRecord {
            target_key_id: key.key_id,
            updated_at: OffsetDateTime::now_utc(),
            ..alias.record
        };
        let write = keys::put_alias(&updated, Expect::Version(alias.version));
        request_audit::commit(kms.store.as_ref(), vec![write])
            .await
            .map_err(conflict)?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct DeleteAlias {
    name: String,
    current: Option<Stored<AliasRecord>>,
}

#[async_trait::async_trait]
impl KmsOperation for DeleteAlias {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: AliasNameInput = wire::decode(body)?;
        keys::check_customer_alias(&input.alias_name)?;
        Ok(DeleteAlias {
            name: input.alias_name,
            current: None,
        })
    }

    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        let action = call.action();
        let mut checks = vec![alias_check(kms, &action, &self.name, call)];
        if let Some(alias) = keys::load_alias(kms.store.as_ref(), &self.name).await? {
            let key = kms
                .target(&KeyRef::Id(alias.record.target_key_id.clone()))
                .await?;
            checks.push(key.check(&action, call.account()));
            self.current = Some(alias);
        }
        Ok(checks)
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let alias = self
            .current
            .ok_or_else(|| alias_not_found(kms, &self.name))?;
        let write = keys::delete_alias(&alias.record.name, Expect::Version(alias.version));
        request_audit::commit(kms.store.as_ref(), vec![write])
            .await
            .map_err(conflict)?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct ListAliases {
    key: Option<NamedKey>,
    limit: usize,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AliasListEntry {
    alias_name: String,
    alias_arn: String,
    target_key_id: String,
    creation_date: f64,
    last_updated_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesReply {
    aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

#[async_trait::async_trait]
impl KmsOperation for ListAliases {
    fn decode(body: &[u8]) -> Result<Self, KmsError> {
        let input: ListAliasesInput = wire::decode(body)?;
        let limit = wire::page(input.limit, input.marker.as_deref())?;
        if let Some(marker) = &input.marker {
            if !marker.starts_with(ALIAS_PREFIX) {
                return Err(KmsError::InvalidMarker("The marker is not valid.".into()));
            }
        }
        Ok(ListAliases {
            key: input
                .key_id
                .as_deref()
                .map(|k| NamedKey::parse(k, "keyId"))
                .transpose()?,
            limit,
            marker: input.marker,
        })
    }

    /// `kms:ListAliases` has no resource, even when the listing is for one key; the key is
    /// still resolved now, so the listing is of the key that was named at this moment.
    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
        if let Some(key) = &mut self.key {
            key.resolve(kms).await?;
        }
        Ok(vec![
            Check::unscoped(call.action()).with_key("kms:CallerAccount", call.account())
        ])
    }

    async fn execute(self, kms: &KmsService, _: &Call<'_>) -> Reply {
        let key_id = match self.key {
            Some(key) => Some(key.into_key()?.record.key_id),
            None => None,
        };
        let (aliases, next) = page(kms, key_id.as_deref(), self.marker, self.limit).await?;
        wire::reply(&ListAliasesReply {
            aliases: aliases
                .into_iter()
                .map(|a| AliasListEntry {
                    alias_arn: kms.alias_arn(&a.name),
                    alias_name: a.name,
                    target_key_id: a.target_key_id,
                    creation_date: wire::epoch(a.created_at),
                    last_updated_date: wire::epoch(a.updated_at),
                })
                .collect(),
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}

/// One page of aliases after `marker`, only those of `key_id` if given, and the marker to go
/// on from.
async fn page(
    kms: &KmsService,
    key_id: Option<&str>,
    marker: Option<String>,
    limit: usize,
) -> Result<(Vec<AliasRecord>, Option<String>), KmsError> {
    let store = kms.store.as_ref();
    let Some(key_id) = key_id else {
        return keys::list_aliases(store, marker.as_deref(), limit).await;
    };
    // Filtered: scan until one more match than the page holds, or the end.
    let mut matched = Vec::new();
    let mut after = marker;
    loop {
        let (batch, next) = keys::list_aliases(store, after.as_deref(), 1000).await?;
        for alias in batch {
            if alias.target_key_id == key_id {
                if matched.len() == limit {
                    let last = matched.last().map(|a: &AliasRecord| a.name.clone());
                    return Ok((matched, last));
                }
                matched.push(alias);
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => return Ok((matched, None)),
        }
    }
}
