//! Pools: CreateUserPool, DescribeUserPool, UpdateUserPool, ListUserPools, DeleteUserPool.
//! CreateUserPool and ListUserPools are authorized on `*` (AWS gives them no resource type);
//! the others on the pool's ARN, resolved once in `checks`.

use rampart_store::{Expect, Write};
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::json;

use super::pool_config::{self, ConfigInput, SchemaAttributeInput};
use super::wire::{self, epoch};
use super::{Call, Reply, UserPoolsOperation};
use crate::error::UserPoolsError;
use crate::records::pool::{DeletionProtection, PoolConfig, PoolRecord};
use crate::records::signing_keys::SigningKeysRecord;
use crate::records::{self, ns, pool_prefix};
use crate::service::{now, NamedPool};
use crate::{ids, UserPoolsService};

/// The most pools one account may have (Cognito's quota is 1,000).
const MAX_POOLS: usize = 1000;

pub(crate) struct CreateUserPool {
    name: String,
    config: PoolConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateUserPoolInput {
    pool_name: String,
    username_attributes: Option<Vec<String>>,
    alias_attributes: Option<Vec<String>>,
    schema: Option<Vec<SchemaAttributeInput>>,
    username_configuration: Option<UsernameConfigurationInput>,
    #[serde(flatten)]
    config: ConfigInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UsernameConfigurationInput {
    case_sensitive: bool,
}

#[async_trait::async_trait]
impl UserPoolsOperation for CreateUserPool {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: CreateUserPoolInput = wire::decode(body)?;
        pool_config::pool_name(&input.pool_name)?;
        let (username_attributes, alias_attributes) =
            pool_config::sign_in_attributes(input.username_attributes, input.alias_attributes)?;
        let mut config = PoolConfig {
            username_attributes,
            alias_attributes,
            schema: pool_config::schema_attributes(input.schema)?,
            // Cognito's API makes usernames case-sensitive unless told otherwise.
            username_case_sensitive: input
                .username_configuration
                .is_none_or(|u| u.case_sensitive),
            ..PoolConfig::default()
        };
        pool_config::apply(&mut config, input.config)?;
        Ok(CreateUserPool {
            name: input.pool_name,
            config,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        let mut check = Check::unscoped(call.action());
        for (key, value) in &self.config.user_pool_tags {
            check.push_key(format!("aws:RequestTag/{key}"), value);
            check.push_key("aws:TagKeys", key);
        }
        Ok(vec![check])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let existing = records::all_keys(svc.store.as_ref(), ns::POOLS, "").await?;
        if existing.len() >= MAX_POOLS {
            return Err(UserPoolsError::LimitExceeded(
                "The account has reached its limit of user pools.".into(),
            ));
        }
        let id = ids::new_pool_id(&svc.region)?;
        let at = now();
        let pool = PoolRecord {
            arn: svc.pool_arn(&id),
            id: id.clone(),
            name: self.name,
            created_at: at,
            last_modified_at: at,
            config: self.config,
        };
        let keys = signing_keys(svc, &id).await?;
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            vec![
                records::put(ns::POOLS, id.clone(), &pool, Expect::Absent),
                records::put(ns::SIGNING_KEYS, id, &keys, Expect::Absent),
            ],
        )
        .await?;
        wire::reply(&json!({ "UserPool": pool_config::pool_shape(&pool, 0) }))
    }
}

/// A new pool's two signing keys, sealed.
async fn signing_keys(
    svc: &UserPoolsService,
    pool_id: &str,
) -> Result<SigningKeysRecord, UserPoolsError> {
    Ok(SigningKeysRecord {
        pool_id: pool_id.to_owned(),
        keys: crate::signing_keys::generate(&svc.keyring, pool_id, now()).await?,
    })
}

/// The input of operations that take only `UserPoolId`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolIdInput {
    user_pool_id: String,
}

/// How many users a pool holds (DescribeUserPool's `EstimatedNumberOfUsers`).
async fn count_users(svc: &UserPoolsService, pool_id: &str) -> Result<usize, UserPoolsError> {
    Ok(
        records::all_keys(svc.store.as_ref(), ns::USERS, &pool_prefix(pool_id))
            .await?
            .len(),
    )
}

pub(crate) struct DescribeUserPool {
    pool: NamedPool,
}

#[async_trait::async_trait]
impl UserPoolsOperation for DescribeUserPool {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: PoolIdInput = wire::decode(body)?;
        Ok(DescribeUserPool {
            pool: NamedPool::parse(input.user_pool_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        let users = count_users(svc, &pool.record.id).await?;
        wire::reply(&json!({ "UserPool": pool_config::pool_shape(&pool.record, users) }))
    }
}

pub(crate) struct UpdateUserPool {
    pool: NamedPool,
    name: Option<String>,
    /// Applied to the stored configuration at execute (a member left out resets to its
    /// default; the tags are kept).
    config: ConfigInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateUserPoolInput {
    user_pool_id: String,
    pool_name: Option<String>,
    #[serde(flatten)]
    config: ConfigInput,
}

#[async_trait::async_trait]
impl UserPoolsOperation for UpdateUserPool {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: UpdateUserPoolInput = wire::decode(body)?;
        if let Some(name) = &input.pool_name {
            pool_config::pool_name(name)?;
        }
        // Checked now against an empty configuration, so malformed input is refused before
        // authorization, as on AWS; applied to the stored one at execute.
        pool_config::apply(&mut PoolConfig::default(), input.config.clone())?;
        Ok(UpdateUserPool {
            pool: NamedPool::parse(input.user_pool_id)?,
            name: input.pool_name,
            config: input.config,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let stored = self.pool.into_pool()?;
        let mut next = stored.record.clone();
        pool_config::apply(&mut next.config, self.config)?;
        if let Some(name) = self.name {
            next.name = name;
        }
        next.last_modified_at = now();
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            vec![records::put(
                ns::POOLS,
                next.id.clone(),
                &next,
                Expect::Version(stored.version),
            )],
        )
        .await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct ListUserPools {
    max_results: usize,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUserPoolsInput {
    max_results: i64,
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ListUserPools {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListUserPoolsInput = wire::decode(body)?;
        if !(1..=60).contains(&input.max_results) {
            return Err(UserPoolsError::constraint(
                input.max_results,
                "maxResults",
                "Member must have value between 1 and 60",
            ));
        }
        Ok(ListUserPools {
            max_results: input.max_results as usize,
            next_token: wire::pagination_token(input.next_token, "nextToken")?,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let (page, more) = records::list::<PoolRecord>(
            svc.store.as_ref(),
            ns::POOLS,
            "",
            self.next_token.as_deref(),
            self.max_results,
        )
        .await?;
        let pools: Vec<_> = page
            .iter()
            .map(|(_, p)| {
                json!({
                    "Id": p.record.id,
                    "Name": p.record.name,
                    "LambdaConfig": {},
                    "LastModifiedDate": epoch(p.record.last_modified_at),
                    "CreationDate": epoch(p.record.created_at),
                })
            })
            .collect();
        let mut out = json!({ "UserPools": pools });
        if more {
            if let Some((key, _)) = page.last() {
                out["NextToken"] = json!(key);
            }
        }
        wire::reply(&out)
    }
}

pub(crate) struct DeleteUserPool {
    pool: NamedPool,
}

#[async_trait::async_trait]
impl UserPoolsOperation for DeleteUserPool {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: PoolIdInput = wire::decode(body)?;
        Ok(DeleteUserPool {
            pool: NamedPool::parse(input.user_pool_id)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let pool = self.pool.into_pool()?;
        if pool.record.config.deletion_protection == DeletionProtection::Active {
            return Err(UserPoolsError::InvalidParameter(
                "The user pool cannot be deleted because deletion protection is activated.".into(),
            ));
        }
        let id = pool.record.id.clone();
        let mut writes = vec![
            records::delete(ns::POOLS, id.clone(), Expect::Version(pool.version)),
            records::delete(ns::SIGNING_KEYS, id.clone(), Expect::Any),
        ];
        // Everything the pool owns goes with it, in the same commit.
        let prefix = pool_prefix(&id);
        for namespace in [
            ns::CLIENTS,
            ns::USERS,
            ns::ALIASES,
            ns::GROUPS,
            ns::GROUP_MEMBERS,
            ns::USER_GROUPS,
            ns::OUTBOX,
            ns::OUTBOX_SENT,
            ns::CODE_SENDS,
            ns::TOKEN_FAMILIES,
            ns::REFRESH_TOKENS,
            ns::USED_SESSIONS,
            ns::SIGN_IN_FAILURES,
        ] {
            for key in records::all_keys(svc.store.as_ref(), namespace, &prefix).await? {
                if namespace == ns::CLIENTS {
                    writes.push(records::delete(
                        ns::CLIENT_POOLS,
                        key[prefix.len()..].to_owned(),
                        Expect::Any,
                    ));
                }
                writes.push(Write::Delete {
                    ns: namespace.into(),
                    key,
                    expect: Expect::Any,
                });
            }
        }
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}
