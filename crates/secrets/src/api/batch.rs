//! BatchGetSecretValue: the AWSCURRENT values of up to 20 secrets, named in `SecretIdList` or
//! chosen by `Filters` (with `MaxResults`/`NextToken` paging, as ListSecrets pages).
//!
//! Authorization, as AWS documents it: `secretsmanager:BatchGetSecretValue` (no resource
//! type) and, with filters, `secretsmanager:ListSecrets` must be allowed for the request to
//! run at all; then `secretsmanager:GetSecretValue` on each secret (with its resource policy)
//! and `kms:Decrypt` on a customer key are *per-item* checks: the request path reports their
//! verdicts, and a secret whose checks were not all allowed is answered in `Errors` as
//! `AccessDeniedException` — never with its value. A secret that does not exist, is scheduled
//! for deletion, or cannot be opened is an `Errors` entry too, but only for a caller allowed
//! to read it (so a denial says nothing of existence, as GetSecretValue's does). The set of
//! secrets, their versions, sealed values and keys are fixed in `checks`; `execute` serves
//! exactly those.

use std::ops::Range;
use std::sync::Arc;

use rampart_wire::Check;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::metadata::{Filter, FilterInput};
use super::wire;
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::{self, VersionMeta, AWSCURRENT};
use crate::sealing::{self, context, SealedParts};
use crate::service::{now, KeyUse, NamedSecret};
use crate::SecretsService;

/// The most secrets one call names or answers.
const MAX_SECRETS: usize = 20;

/// The per-item action.
const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";

/// Which secrets the request asks for.
enum Selection {
    Ids(Vec<String>),
    Filters {
        filters: Vec<Filter>,
        max_results: usize,
        next_token: Option<String>,
    },
}

/// One secret of the batch, as its checks saw it.
struct Item {
    secret: NamedSecret,
    /// The indexes of its per-item checks among the request's checks.
    checks: Range<usize>,
    /// The current version, its sealed value and key; or why there is nothing to open.
    value: Result<(VersionMeta, Arc<SealedParts>, KeyUse), SecretsError>,
}

pub(crate) struct BatchGetSecretValue {
    selection: Selection,
    items: Vec<Item>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetSecretValueInput {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<FilterInput>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecretValueEntry<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    version_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<Plaintext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<Plaintext>,
    version_stages: &'a [String],
    created_date: f64,
}

/// An opened value (or its base64), wiped from memory when the answer has been written.
struct Plaintext(Zeroizing<String>);

impl Serialize for Plaintext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorEntry<'a> {
    secret_id: &'a str,
    error_code: String,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetSecretValueReply<'a> {
    secret_values: Vec<SecretValueEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
    errors: Vec<ErrorEntry<'a>>,
}

impl BatchGetSecretValue {
    /// The secrets the filters choose, one page of them, and where the next page starts.
    async fn filtered(
        svc: &SecretsService,
        filters: &[Filter],
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), SecretsError> {
        let at = now();
        let mut found: Vec<(String, String)> = Vec::new();
        let mut after = next_token.map(str::to_owned);
        loop {
            let (page, more) =
                records::list_secrets(svc.store.as_ref(), after.as_deref(), 100).await?;
            for secret in page {
                after = Some(secret.name.clone());
                let listed = !secret.is_purged(at)
                    && secret.deletion_date.is_none()
                    && filters.iter().all(|f| f.matches(&secret));
                if !listed {
                    continue;
                }
                if found.len() == max_results {
                    let token = found.last().map(|(name, _)| name.clone());
                    return Ok((found.into_iter().map(|(_, arn)| arn).collect(), token));
                }
                found.push((secret.name, secret.arn));
            }
            if !more {
                return Ok((found.into_iter().map(|(_, arn)| arn).collect(), None));
            }
        }
    }

    /// What `secret` would answer: its AWSCURRENT version, sealed value and key, and the
    /// `kms:Decrypt` check a customer key needs.
    async fn current_value(
        svc: &SecretsService,
        call: &Call<'_>,
        secret: &NamedSecret,
    ) -> Result<((VersionMeta, Arc<SealedParts>, KeyUse), Option<Check>), SecretsError> {
        let stored = secret
            .secret
            .as_ref()
            .ok_or_else(SecretsError::secret_not_found)?;
        let record = &stored.record;
        record.check_not_deleted()?;
        let version = record.version_at(AWSCURRENT).cloned().ok_or_else(|| {
            SecretsError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for staging label: {AWSCURRENT}"
            ))
        })?;
        let sealed = svc
            .sealed_value(&record.arn, &version.id)
            .await?
            .ok_or_else(|| {
                SecretsError::Internal("The secret's value is missing from the store.".into())
            })?;
        let key = svc.opening_key(&sealed).await?;
        let ctx = context(&record.arn, &version.id);
        let check = svc.kms_check(&key, "kms:Decrypt", call.account(), &ctx);
        Ok(((version, sealed, key), check))
    }

    /// Opens one item's value (its checks were allowed).
    fn open<'a>(
        svc: &SecretsService,
        item: &'a Item,
        (version, sealed, key): &'a (VersionMeta, Arc<SealedParts>, KeyUse),
    ) -> Result<SecretValueEntry<'a>, SecretsError> {
        let secret = item
            .secret
            .secret
            .as_ref()
            .ok_or_else(SecretsError::secret_not_found)?;
        let record = &secret.record;
        let key = svc.opening_record(key.clone())?;
        let ctx = context(&record.arn, &version.id);
        let value = sealing::open_parts(&svc.kms, &key, &record.arn, &version.id, sealed, &ctx)?;
        let (secret_string, secret_binary) = if value.binary {
            (
                None,
                Some(Plaintext(Zeroizing::new(wire::base64(&value.bytes)))),
            )
        } else {
            let text = String::from_utf8(value.bytes.to_vec()).map_err(|_| {
                SecretsError::DecryptionFailure("The stored secret value is corrupt.".into())
            })?;
            (Some(Plaintext(Zeroizing::new(text))), None)
        };
        Ok(SecretValueEntry {
            arn: &record.arn,
            name: &record.name,
            version_id: &version.id,
            secret_string,
            secret_binary,
            version_stages: &version.stages,
            created_date: wire::epoch(version.created_at),
        })
    }
}

#[async_trait::async_trait]
impl SecretsOperation for BatchGetSecretValue {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: BatchGetSecretValueInput = wire::decode(body)?;
        if let Some(max) = input.max_results {
            if !(1..=MAX_SECRETS as i64).contains(&max) {
                return Err(SecretsError::constraint(
                    max,
                    "maxResults",
                    "Member must have value between 1 and 20",
                ));
            }
        }
        let next_token = wire::next_token(input.next_token)?;
        let selection = match (input.secret_id_list, input.filters) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > MAX_SECRETS {
                    return Err(SecretsError::constraint(
                        ids.len(),
                        "secretIdList",
                        "Member must have length between 1 and 20",
                    ));
                }
                if input.max_results.is_some() || next_token.is_some() {
                    return Err(SecretsError::InvalidParameter(
                        "MaxResults and NextToken can only be used with Filters, not with SecretIdList.".into(),
                    ));
                }
                for id in &ids {
                    NamedSecret::parse(id.clone())?;
                }
                Selection::Ids(ids)
            }
            (None, Some(filters)) => Selection::Filters {
                filters: Filter::parse_all(Some(filters))?,
                max_results: input
                    .max_results
                    .and_then(|m| usize::try_from(m).ok())
                    .unwrap_or(MAX_SECRETS),
                next_token,
            },
            (Some(_), Some(_)) | (None, None) => {
                return Err(SecretsError::InvalidParameter(
                    "You must include either SecretIdList or Filters, but not both.".into(),
                ))
            }
        };
        Ok(BatchGetSecretValue {
            selection,
            items: Vec::new(),
            next_token: None,
        })
    }

    /// `secretsmanager:BatchGetSecretValue` (and `secretsmanager:ListSecrets` with filters) for
    /// the request; per secret, `secretsmanager:GetSecretValue` and `kms:Decrypt` on a
    /// customer key, each per-item.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut checks = vec![Check::unscoped(call.action())];
        let ids = match &self.selection {
            Selection::Ids(ids) => ids.clone(),
            Selection::Filters {
                filters,
                max_results,
                next_token,
            } => {
                checks.push(Check::unscoped("secretsmanager:ListSecrets"));
                let (arns, token) =
                    Self::filtered(svc, filters, *max_results, next_token.as_deref()).await?;
                self.next_token = token;
                arns
            }
        };
        for id in ids {
            let mut secret = NamedSecret::parse(id)?;
            let start = checks.len();
            checks.push(secret.check_cached(svc, GET_SECRET_VALUE).await?.per_item());
            let value = match Self::current_value(svc, call, &secret).await {
                Ok((value, kms)) => {
                    checks.extend(kms.map(Check::per_item));
                    Ok(value)
                }
                Err(e @ SecretsError::Internal(_)) => return Err(e),
                Err(e) => Err(e),
            };
            self.items.push(Item {
                secret,
                checks: start..checks.len(),
                value,
            });
        }
        Ok(checks)
    }

    async fn execute(self, svc: &SecretsService, call: &Call<'_>) -> Reply {
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for item in &self.items {
            let id = item.secret.id.as_str();
            if let Some(denial) = item.checks.clone().find_map(|i| call.denial(i)) {
                errors.push(ErrorEntry {
                    secret_id: id,
                    error_code: "AccessDeniedException".into(),
                    message: denial.to_owned(),
                });
                continue;
            }
            let opened = match &item.value {
                Ok(value) => Self::open(svc, item, value),
                Err(e) => Err(e.clone()),
            };
            match opened {
                Ok(entry) => values.push(entry),
                Err(e @ SecretsError::Internal(_)) => return Err(e),
                Err(e) => errors.push(ErrorEntry {
                    secret_id: id,
                    error_code: e.code().to_owned(),
                    message: e.to_string(),
                }),
            }
        }
        wire::reply(&BatchGetSecretValueReply {
            secret_values: values,
            next_token: self.next_token.as_deref(),
            errors,
        })
    }
}
