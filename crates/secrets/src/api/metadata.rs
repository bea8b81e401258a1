//! A secret's metadata: DescribeSecret and ListSecrets (with AWS's filters and paging).

use std::collections::BTreeMap;

use rampart_wire::Check;
use serde::{Deserialize, Serialize};

use super::wire::{self, SecretIdInput, TagShape};
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::{self, SecretRecord};
use crate::rotation::RotationRules;
use crate::service::{now, NamedSecret};
use crate::SecretsService;

/// `DescribeSecret`'s answer and, without `VersionIdsToStages`' name, a `SecretListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecretShape<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN", skip_serializing_if = "Option::is_none")]
    rotation_lambda_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_rules: Option<&'a RotationRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_rotated_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
    last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_ids_to_stages: Option<BTreeMap<&'a str, &'a [String]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_versions_to_stages: Option<BTreeMap<&'a str, &'a [String]>>,
    created_date: f64,
}

impl<'a> SecretShape<'a> {
    fn of(secret: &'a SecretRecord, list_entry: bool) -> Self {
        let stages: BTreeMap<&str, &[String]> = secret
            .versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.as_str(), v.stages.as_slice()))
            .collect();
        let (describe, list) = if list_entry {
            (None, Some(stages))
        } else {
            (Some(stages), None)
        };
        // A secret never configured for rotation shows none of its fields; one whose rotation
        // was turned off keeps its function and rules but no dates, as AWS documents.
        let rotation = secret.rotation.as_ref();
        let enabled = rotation.filter(|r| r.enabled);
        SecretShape {
            arn: &secret.arn,
            name: &secret.name,
            description: secret.description.as_deref(),
            kms_key_id: secret.kms_key_id.as_deref(),
            rotation_enabled: rotation.map(|r| r.enabled),
            rotation_lambda_arn: rotation.and_then(|r| r.lambda_arn.as_deref()),
            rotation_rules: rotation.and_then(|r| r.rules.as_ref()),
            last_rotated_date: enabled.and_then(|r| r.last_rotated_at).map(wire::epoch),
            next_rotation_date: enabled.and_then(|r| r.next_rotation_at).map(wire::epoch),
            last_changed_date: wire::epoch(secret.last_changed_at),
            deleted_date: secret.deletion_date.map(wire::epoch),
            tags: wire::tag_shapes(&secret.tags),
            version_ids_to_stages: describe,
            secret_versions_to_stages: list,
            created_date: wire::epoch(secret.created_at),
        }
    }
}

pub(crate) struct DescribeSecret {
    secret: NamedSecret,
}

#[async_trait::async_trait]
impl SecretsOperation for DescribeSecret {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: SecretIdInput = wire::decode(body)?;
        Ok(DescribeSecret {
            secret: NamedSecret::parse(input.secret_id)?,
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
        wire::reply(&SecretShape::of(&secret, false))
    }
}

pub(crate) struct ListSecrets {
    max_results: usize,
    next_token: Option<String>,
    filters: Vec<Filter>,
    include_planned_deletion: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListSecretsInput {
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<FilterInput>>,
    include_planned_deletion: Option<bool>,
    #[allow(dead_code)]
    sort_order: Option<String>,
    #[allow(dead_code)]
    sort_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct FilterInput {
    key: String,
    values: Option<Vec<String>>,
}

/// One `Filters` entry: a secret passes if any plain value matches and no `!`-value does.
/// (ListSecrets and BatchGetSecretValue share it.)
pub(super) struct Filter {
    key: String,
    values: Vec<String>,
}

impl Filter {
    pub(super) fn parse(input: FilterInput) -> Result<Self, SecretsError> {
        const KEYS: [&str; 7] = [
            "description",
            "name",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
        ];
        if !KEYS.contains(&input.key.as_str()) {
            return Err(SecretsError::constraint(
                &input.key,
                "filters.member.key",
                "Member must satisfy enum value set: [all, name, tag-key, description, tag-value, owning-service, primary-region]",
            ));
        }
        let values = input.values.unwrap_or_default();
        if values.is_empty() || values.len() > 10 {
            return Err(SecretsError::constraint(
                values.len(),
                "filters.member.values",
                "Member must have length between 1 and 10",
            ));
        }
        for v in &values {
            wire::check_length(v, "filters.member.values.member", 0, 512)?;
            // The model's pattern: `^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$`.
            let allowed = |c: char| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c);
            if !v.chars().all(allowed) {
                return Err(SecretsError::constraint(
                    v,
                    "filters.member.values.member",
                    "Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$",
                ));
            }
        }
        Ok(Filter {
            key: input.key,
            values,
        })
    }

    /// A request's `Filters`: at most 10.
    pub(super) fn parse_all(inputs: Option<Vec<FilterInput>>) -> Result<Vec<Self>, SecretsError> {
        let inputs = inputs.unwrap_or_default();
        if inputs.len() > 10 {
            return Err(SecretsError::constraint(
                inputs.len(),
                "filters",
                "Member must have length less than or equal to 10",
            ));
        }
        inputs.into_iter().map(Filter::parse).collect()
    }

    fn fields<'s>(&self, secret: &'s SecretRecord) -> Vec<&'s str> {
        let description = || secret.description.iter().map(String::as_str);
        let tag_keys = || secret.tags.iter().map(|t| t.key.as_str());
        let tag_values = || secret.tags.iter().map(|t| t.value.as_str());
        match self.key.as_str() {
            "name" => vec![secret.name.as_str()],
            "description" => description().collect(),
            "tag-key" => tag_keys().collect(),
            "tag-value" => tag_values().collect(),
            "all" => std::iter::once(secret.name.as_str())
                .chain(description())
                .chain(tag_keys())
                .chain(tag_values())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Prefix matches: case-sensitive for names and tags, not for descriptions and `all`
    /// (where each word of a field may match), as AWS documents.
    pub(super) fn matches(&self, secret: &SecretRecord) -> bool {
        let fields = self.fields(secret);
        let loose = matches!(self.key.as_str(), "description" | "all");
        let hit = |value: &str| {
            fields.iter().any(|field| {
                if loose {
                    let (field, value) = (field.to_lowercase(), value.to_lowercase());
                    field.starts_with(&value)
                        || field.split_whitespace().any(|w| w.starts_with(&value))
                } else {
                    field.starts_with(value)
                }
            })
        };
        let (negated, plain): (Vec<&String>, Vec<&String>) =
            self.values.iter().partition(|v| v.starts_with('!'));
        (plain.is_empty() || plain.iter().any(|v| hit(v))) && !negated.iter().any(|v| hit(&v[1..]))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListSecretsReply<'a> {
    secret_list: Vec<SecretShape<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl SecretsOperation for ListSecrets {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: ListSecretsInput = wire::decode(body)?;
        let max = input.max_results.unwrap_or(100);
        if !(1..=100).contains(&max) {
            return Err(SecretsError::constraint(
                max,
                "maxResults",
                "Member must have value between 1 and 100",
            ));
        }
        Ok(ListSecrets {
            max_results: usize::try_from(max).unwrap_or(100),
            next_token: wire::next_token(input.next_token)?,
            filters: Filter::parse_all(input.filters)?,
            include_planned_deletion: input.include_planned_deletion.unwrap_or(false),
        })
    }

    /// `secretsmanager:ListSecrets` has no resource type.
    async fn checks(
        &mut self,
        _: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let at = now();
        let mut found = Vec::new();
        let mut after = self.next_token.clone();
        let mut next_token = None;
        'pages: loop {
            let (page, more) =
                records::list_secrets(svc.store.as_ref(), after.as_deref(), 100).await?;
            for secret in page {
                after = Some(secret.name.clone());
                let listed = !secret.is_purged(at)
                    && (self.include_planned_deletion || secret.deletion_date.is_none())
                    && self.filters.iter().all(|f| f.matches(&secret));
                if !listed {
                    continue;
                }
                if found.len() == self.max_results {
                    next_token = found.last().map(|s: &SecretRecord| s.name.clone());
                    break 'pages;
                }
                found.push(secret);
            }
            if !more {
                break;
            }
        }
        wire::reply(&ListSecretsReply {
            secret_list: found.iter().map(|s| SecretShape::of(s, true)).collect(),
            next_token,
        })
    }
}
