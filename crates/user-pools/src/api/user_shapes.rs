//! What the user operations share: the `UserType` and `AttributeType` shapes, reading
//! attribute lists, and the typed request of an `Admin*` operation on one user (the pool it is
//! authorized on, and the name looked up only in that pool).

use rampart_wire::Check;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wire::{self, epoch};
use super::Call;
use crate::error::UserPoolsError;
use crate::records::pool::PoolRecord;
use crate::records::user::{Attribute, UserRecord};
use crate::records::Stored;
use crate::service::NamedPool;
use crate::{schema, users, UserPoolsService};

/// `AttributeType` as requests carry it.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeInput {
    pub name: String,
    pub value: Option<String>,
}

/// Reads an attribute list (names 1–32 characters, values at most 2048), checked against the
/// pool's schema when the pool is known.
pub fn attributes(input: Option<Vec<AttributeInput>>) -> Result<Vec<Attribute>, UserPoolsError> {
    let mut out: Vec<Attribute> = Vec::new();
    for a in input.unwrap_or_default() {
        wire::check_length(&a.name, "userAttributes.member.name", 1, 32)?;
        let value = a.value.unwrap_or_default();
        if out.iter().any(|o| o.name == a.name) {
            return Err(UserPoolsError::InvalidParameter(format!(
                "Duplicate attribute {}.",
                a.name
            )));
        }
        out.push(Attribute {
            name: a.name,
            value,
        });
    }
    Ok(out)
}

/// Checks attributes against the pool's schema.
pub fn check_attributes(
    pool: &PoolRecord,
    attributes: &[Attribute],
    creating: bool,
) -> Result<(), UserPoolsError> {
    for a in attributes {
        schema::check_value(&pool.config, &a.name, &a.value, creating)?;
    }
    Ok(())
}

/// `[AttributeType]`, `sub` first, limited to `only` when given.
pub fn attribute_list(user: &UserRecord, only: Option<&[String]>) -> Vec<Value> {
    user.all_attributes()
        .into_iter()
        .filter(|a| only.is_none_or(|names| names.contains(&a.name)))
        .map(|a| json!({"Name": a.name, "Value": a.value}))
        .collect()
}

/// `UserType` (ListUsers, AdminCreateUser, ListUsersInGroup).
pub fn user_shape(user: &UserRecord, only: Option<&[String]>) -> Value {
    json!({
        "Username": user.username,
        "Attributes": attribute_list(user, only),
        "UserCreateDate": epoch(user.created_at),
        "UserLastModifiedDate": epoch(user.last_modified_at),
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    })
}

/// The members of an `Admin*` operation on one user.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminUserInput {
    pub user_pool_id: String,
    pub username: String,
}

/// A user named in an `Admin*` request: authorized on the pool, looked up in it at execute.
pub struct AdminUser {
    pub pool: NamedPool,
    pub username: String,
}

impl AdminUser {
    pub fn parse(user_pool_id: String, username: String) -> Result<Self, UserPoolsError> {
        users::username_member(&username)?;
        Ok(AdminUser {
            pool: NamedPool::parse(user_pool_id)?,
            username,
        })
    }

    /// `cognito-idp:<Action>` on the pool.
    pub async fn check(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(vec![self.pool.check(svc, &call.action()).await?])
    }

    /// The authorized pool and the user in it.
    pub async fn load(
        self,
        svc: &UserPoolsService,
    ) -> Result<(Stored<PoolRecord>, Stored<UserRecord>), UserPoolsError> {
        let pool = self.pool.into_pool()?;
        let user = users::require(svc, &pool.record, &self.username).await?;
        Ok((pool, user))
    }
}
