//! Groups: CreateGroup, GetGroup, ListGroups, DeleteGroup, AdminAddUserToGroup,
//! AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup — authorized on the
//! pool's ARN; groups and users are looked up only in that pool.

use rampart_store::Expect;
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::{json, Value};

use super::user_shapes::{self, AdminUser};
use super::users::limit;
use super::wire::{self, epoch};
use super::{Call, Reply, UserPoolsOperation};
use crate::error::UserPoolsError;
use crate::records::group::{
    member_key, members_prefix, membership_key, memberships_prefix, GroupRecord,
};
use crate::records::pool::PoolRecord;
use crate::records::user::{username_key, UserRecord};
use crate::records::{self, ns, pool_key, pool_prefix, Stored};
use crate::service::{now, NamedPool};
use crate::UserPoolsService;

/// The most groups a pool may have (Cognito's quota is 10,000).
const MAX_GROUPS: usize = 10_000;

fn group_shape(g: &GroupRecord) -> Value {
    let mut out = json!({
        "GroupName": g.name,
        "UserPoolId": g.pool_id,
        "LastModifiedDate": epoch(g.last_modified_at),
        "CreationDate": epoch(g.created_at),
    });
    let o = out.as_object_mut().expect("an object");
    if let Some(d) = &g.description {
        o.insert("Description".into(), json!(d));
    }
    if let Some(r) = &g.role_arn {
        o.insert("RoleArn".into(), json!(r));
    }
    if let Some(p) = g.precedence {
        o.insert("Precedence".into(), json!(p));
    }
    out
}

/// A `GroupName`: 1 to 128 characters, no whitespace or control characters.
fn group_name(name: &str) -> Result<(), UserPoolsError> {
    let len = name.chars().count();
    if !(1..=128).contains(&len) || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UserPoolsError::constraint(
            name,
            "groupName",
            "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
        ));
    }
    Ok(())
}

async fn load_group(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    name: &str,
) -> Result<Stored<GroupRecord>, UserPoolsError> {
    records::load(svc.store.as_ref(), ns::GROUPS, &pool_key(&pool.id, name))
        .await?
        .ok_or_else(UserPoolsError::group_not_found)
}

pub(crate) struct CreateGroup {
    pool: NamedPool,
    name: String,
    description: Option<String>,
    role_arn: Option<String>,
    precedence: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGroupInput {
    user_pool_id: String,
    group_name: String,
    description: Option<String>,
    role_arn: Option<String>,
    precedence: Option<i64>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for CreateGroup {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: CreateGroupInput = wire::decode(body)?;
        group_name(&input.group_name)?;
        if let Some(d) = &input.description {
            wire::check_length(d, "description", 0, 2048)?;
        }
        if let Some(r) = &input.role_arn {
            wire::check_length(r, "roleArn", 20, 2048)?;
            if !r.starts_with("arn:") {
                return Err(UserPoolsError::constraint(r, "roleArn", "Member must satisfy regular expression pattern: arn:[\\w+=/,.@-]+:[\\w+=/,.@-]+:([\\w+=/,.@-]*)?:[0-9]+:[\\w+=/,.@-]+(:[\\w+=/,.@-]+)?(:[\\w+=/,.@-]+)?"));
            }
        }
        let precedence = match input.precedence {
            Some(p) if !(0..=i64::from(i32::MAX)).contains(&p) => {
                return Err(UserPoolsError::constraint(
                    p,
                    "precedence",
                    "Member must have value greater than or equal to 0",
                ))
            }
            p => p.map(|p| p as u32),
        };
        Ok(CreateGroup {
            pool: NamedPool::parse(input.user_pool_id)?,
            name: input.group_name,
            description: input.description,
            role_arn: input.role_arn,
            precedence,
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
        let key = pool_key(&pool.record.id, &self.name);
        if svc.store.get(ns::GROUPS, &key).await?.is_some() {
            return Err(UserPoolsError::GroupExists(
                "A group with the name already exists.".into(),
            ));
        }
        let count = records::all_keys(
            svc.store.as_ref(),
            ns::GROUPS,
            &pool_prefix(&pool.record.id),
        )
        .await?
        .len();
        if count >= MAX_GROUPS {
            return Err(UserPoolsError::LimitExceeded(
                "The user pool has reached its limit of groups.".into(),
            ));
        }
        let at = now();
        let group = GroupRecord {
            pool_id: pool.record.id.clone(),
            name: self.name,
            description: self.description,
            role_arn: self.role_arn,
            precedence: self.precedence,
            created_at: at,
            last_modified_at: at,
        };
        rampart_store::request_audit::commit(
            svc.store.as_ref(),
            vec![records::put(ns::GROUPS, key, &group, Expect::Absent)],
        )
        .await?;
        wire::reply(&json!({ "Group": group_shape(&group) }))
    }
}

/// The members of an operation on one group.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupInput {
    user_pool_id: String,
    group_name: String,
}

pub(crate) struct GetGroup {
    pool: NamedPool,
    name: String,
}

#[async_trait::async_trait]
impl UserPoolsOperation for GetGroup {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: GroupInput = wire::decode(body)?;
        group_name(&input.group_name)?;
        Ok(GetGroup {
            pool: NamedPool::parse(input.user_pool_id)?,
            name: input.group_name,
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
        let group = load_group(svc, &pool.record, &self.name).await?;
        wire::reply(&json!({ "Group": group_shape(&group.record) }))
    }
}

pub(crate) struct DeleteGroup {
    pool: NamedPool,
    name: String,
}

#[async_trait::async_trait]
impl UserPoolsOperation for DeleteGroup {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: GroupInput = wire::decode(body)?;
        group_name(&input.group_name)?;
        Ok(DeleteGroup {
            pool: NamedPool::parse(input.user_pool_id)?,
            name: input.group_name,
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
        let pool_id = &pool.record.id;
        let group = load_group(svc, &pool.record, &self.name).await?;
        let mut writes = vec![records::delete(
            ns::GROUPS,
            pool_key(pool_id, &self.name),
            Expect::Version(group.version),
        )];
        let prefix = members_prefix(pool_id, &self.name);
        for key in records::all_keys(svc.store.as_ref(), ns::GROUP_MEMBERS, &prefix).await? {
            let user_key = key[prefix.len()..].to_owned();
            writes.push(records::delete(
                ns::USER_GROUPS,
                membership_key(pool_id, &user_key, &self.name),
                Expect::Any,
            ));
            writes.push(records::delete(ns::GROUP_MEMBERS, key, Expect::Any));
        }
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct ListGroups {
    pool: NamedPool,
    limit: usize,
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListGroupsInput {
    user_pool_id: String,
    limit: Option<i64>,
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ListGroups {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListGroupsInput = wire::decode(body)?;
        Ok(ListGroups {
            pool: NamedPool::parse(input.user_pool_id)?,
            limit: limit(input.limit)?,
            token: wire::pagination_token(input.next_token, "nextToken")?,
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
        let prefix = pool_prefix(&pool.record.id);
        let after = self.token.map(|t| format!("{prefix}{t}"));
        let (page, more) = records::list::<GroupRecord>(
            svc.store.as_ref(),
            ns::GROUPS,
            &prefix,
            after.as_deref(),
            self.limit,
        )
        .await?;
        let mut out = json!({ "Groups": page.iter().map(|(_, g)| group_shape(&g.record)).collect::<Vec<_>>() });
        if more {
            if let Some((_, g)) = page.last() {
                out["NextToken"] = json!(g.record.name);
            }
        }
        wire::reply(&out)
    }
}

/// AdminAddUserToGroup and AdminRemoveUserFromGroup.
pub(crate) struct Membership<const ADD: bool> {
    user: AdminUser,
    group: String,
}

pub(crate) type AdminAddUserToGroup = Membership<true>;
pub(crate) type AdminRemoveUserFromGroup = Membership<false>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MembershipInput {
    user_pool_id: String,
    username: String,
    group_name: String,
}

#[async_trait::async_trait]
impl<const ADD: bool> UserPoolsOperation for Membership<ADD> {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: MembershipInput = wire::decode(body)?;
        group_name(&input.group_name)?;
        Ok(Membership {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            group: input.group_name,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        self.user.check(svc, call).await
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let (pool, user) = self.user.load(svc).await?;
        let pool_id = &pool.record.id;
        load_group(svc, &pool.record, &self.group).await?;
        let user_key = username_key(
            &user.record.username,
            pool.record.config.username_case_sensitive,
        );
        let member = member_key(pool_id, &self.group, &user_key);
        let membership = membership_key(pool_id, &user_key, &self.group);
        let writes = if ADD {
            vec![
                records::put(ns::GROUP_MEMBERS, member, &user_key, Expect::Any),
                records::put(ns::USER_GROUPS, membership, &self.group, Expect::Any),
                // The user must still be the one found: a deleted user gets no membership.
                records::put(
                    ns::USERS,
                    crate::users::record_key(&pool.record, &user.record),
                    &user.record,
                    Expect::Version(user.version),
                ),
            ]
        } else {
            vec![
                records::delete(ns::GROUP_MEMBERS, member, Expect::Any),
                records::delete(ns::USER_GROUPS, membership, Expect::Any),
            ]
        };
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminListGroupsForUser {
    user: AdminUser,
    limit: usize,
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListForUserInput {
    user_pool_id: String,
    username: String,
    limit: Option<i64>,
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminListGroupsForUser {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListForUserInput = wire::decode(body)?;
        Ok(AdminListGroupsForUser {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            limit: limit(input.limit)?,
            token: wire::pagination_token(input.next_token, "nextToken")?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        self.user.check(svc, call).await
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let (pool, user) = self.user.load(svc).await?;
        let user_key = username_key(
            &user.record.username,
            pool.record.config.username_case_sensitive,
        );
        let prefix = memberships_prefix(&pool.record.id, &user_key);
        let after = self.token.map(|t| format!("{prefix}{t}"));
        let (page, more) = records::list::<String>(
            svc.store.as_ref(),
            ns::USER_GROUPS,
            &prefix,
            after.as_deref(),
            self.limit,
        )
        .await?;
        let mut groups = Vec::with_capacity(page.len());
        for (_, name) in &page {
            if let Some(g) = records::load::<GroupRecord>(
                svc.store.as_ref(),
                ns::GROUPS,
                &pool_key(&pool.record.id, &name.record),
            )
            .await?
            {
                groups.push(group_shape(&g.record));
            }
        }
        let mut out = json!({ "Groups": groups });
        if more {
            if let Some((_, name)) = page.last() {
                out["NextToken"] = json!(name.record);
            }
        }
        wire::reply(&out)
    }
}

pub(crate) struct ListUsersInGroup {
    pool: NamedPool,
    group: String,
    limit: usize,
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInGroupInput {
    user_pool_id: String,
    group_name: String,
    limit: Option<i64>,
    next_token: Option<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ListUsersInGroup {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListInGroupInput = wire::decode(body)?;
        group_name(&input.group_name)?;
        Ok(ListUsersInGroup {
            pool: NamedPool::parse(input.user_pool_id)?,
            group: input.group_name,
            limit: limit(input.limit)?,
            token: wire::pagination_token(input.next_token, "nextToken")?,
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
        load_group(svc, &pool.record, &self.group).await?;
        let prefix = members_prefix(&pool.record.id, &self.group);
        let after = self.token.map(|t| format!("{prefix}{t}"));
        let (page, more) = records::list::<String>(
            svc.store.as_ref(),
            ns::GROUP_MEMBERS,
            &prefix,
            after.as_deref(),
            self.limit,
        )
        .await?;
        let mut users = Vec::with_capacity(page.len());
        for (_, user_key) in &page {
            if let Some(u) = records::load::<UserRecord>(
                svc.store.as_ref(),
                ns::USERS,
                &pool_key(&pool.record.id, &user_key.record),
            )
            .await?
            {
                users.push(user_shapes::user_shape(&u.record, None));
            }
        }
        let mut out = json!({ "Users": users });
        if more {
            if let Some((_, user_key)) = page.last() {
                out["NextToken"] = json!(user_key.record);
            }
        }
        wire::reply(&out)
    }
}
