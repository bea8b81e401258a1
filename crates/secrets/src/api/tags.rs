//! Tags: TagResource and UntagResource. Both are authorized with the secret's stored tags
//! (`aws:ResourceTag/*`) and the keys the request sets or removes (`aws:RequestTag/*`,
//! `aws:TagKeys`).

use rampart_wire::Check;
use serde::Deserialize;

use super::secrets::commit_change;
use super::wire::{self, TagShape};
use super::{Call, Reply, SecretsOperation};
use crate::error::SecretsError;
use crate::records::Tag;
use crate::service::{push_request_tags, NamedSecret};
use crate::SecretsService;

/// The most tags a secret may carry.
const MAX_TAGS: usize = 50;

pub(crate) struct TagResource {
    secret: NamedSecret,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResourceInput {
    secret_id: String,
    tags: Vec<TagShape>,
}

#[async_trait::async_trait]
impl SecretsOperation for TagResource {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: TagResourceInput = wire::decode(body)?;
        Ok(TagResource {
            secret: NamedSecret::parse(input.secret_id)?,
            tags: wire::tags(Some(input.tags))?,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut check = self.secret.check(svc, &call.action()).await?;
        push_request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        commit_change(svc, authorized, Vec::new(), |next| {
            wire::merge_tags(&mut next.tags, &self.tags);
            if next.tags.len() > MAX_TAGS {
                return Err(SecretsError::InvalidParameter(format!(
                    "A secret can have at most {MAX_TAGS} tags."
                )));
            }
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct UntagResource {
    secret: NamedSecret,
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagResourceInput {
    secret_id: String,
    tag_keys: Vec<String>,
}

#[async_trait::async_trait]
impl SecretsOperation for UntagResource {
    fn decode(body: &[u8]) -> Result<Self, SecretsError> {
        let input: UntagResourceInput = wire::decode(body)?;
        for key in &input.tag_keys {
            wire::check_length(key, "tagKeys.member", 1, 128)?;
        }
        Ok(UntagResource {
            secret: NamedSecret::parse(input.secret_id)?,
            keys: input.tag_keys,
        })
    }

    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError> {
        let mut check = self.secret.check(svc, &call.action()).await?;
        for key in &self.keys {
            check.push_key("aws:TagKeys", key);
        }
        Ok(vec![check])
    }

    async fn execute(self, svc: &SecretsService, _: &Call<'_>) -> Reply {
        let authorized = self.secret.into_live()?;
        commit_change(svc, authorized, Vec::new(), |next| {
            next.tags.retain(|t| !self.keys.contains(&t.key));
            Ok(())
        })
        .await?;
        Ok(b"{}".to_vec())
    }
}
