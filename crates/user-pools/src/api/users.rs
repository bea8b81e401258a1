//! Users by an administrator: AdminCreateUser, AdminGetUser, AdminDeleteUser and ListUsers —
//! authorized on the pool's ARN; the user is looked up only in that pool.

use rampart_identity::password::{generate_temporary_password, PolicyWording};
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::user_shapes::{self, AdminUser, AdminUserInput, AttributeInput};
use super::wire::{self, epoch};
use super::{Call, Reply, UserPoolsOperation};
use crate::error::UserPoolsError;
use crate::filter::Filter;
use crate::records::outbox::DeliveryMedium;
use crate::records::user::{Attribute, UserRecord, UserStatus};
use crate::records::{self, ns, pool_prefix};
use crate::service::{now, NamedPool};
use crate::{delivery, ids, passwords, users, UserPoolsService};

pub(crate) struct AdminCreateUser {
    user: AdminUser,
    attributes: Vec<Attribute>,
    temporary_password: Option<Zeroizing<String>>,
    action: MessageAction,
    mediums: Vec<DeliveryMedium>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageAction {
    Send,
    Resend,
    Suppress,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminCreateUserInput {
    user_pool_id: String,
    username: String,
    user_attributes: Option<Vec<AttributeInput>>,
    temporary_password: Option<String>,
    message_action: Option<String>,
    desired_delivery_mediums: Option<Vec<String>>,
}

pub(crate) fn mediums(input: Option<Vec<String>>) -> Result<Vec<DeliveryMedium>, UserPoolsError> {
    let list = input.unwrap_or_else(|| vec!["SMS".into()]);
    list.iter()
        .map(|m| match m.as_str() {
            "SMS" => Ok(DeliveryMedium::Sms),
            "EMAIL" => Ok(DeliveryMedium::Email),
            other => Err(UserPoolsError::constraint(
                other,
                "desiredDeliveryMediums",
                "Member must satisfy enum value set: [SMS, EMAIL]",
            )),
        })
        .collect()
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminCreateUser {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminCreateUserInput = wire::decode(body)?;
        let action = match input.message_action.as_deref() {
            None => MessageAction::Send,
            Some("RESEND") => MessageAction::Resend,
            Some("SUPPRESS") => MessageAction::Suppress,
            Some(other) => {
                return Err(UserPoolsError::constraint(
                    other,
                    "messageAction",
                    "Member must satisfy enum value set: [RESEND, SUPPRESS]",
                ))
            }
        };
        Ok(AdminCreateUser {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            attributes: user_shapes::attributes(input.user_attributes)?,
            temporary_password: input
                .temporary_password
                .map(|p| passwords::password_member(p, "temporaryPassword"))
                .transpose()?,
            action,
            mediums: mediums(input.desired_delivery_mediums)?,
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
        let pool = self.user.pool.into_pool()?;
        let pool = &pool.record;
        let at = now();
        let password = match self.temporary_password {
            Some(p) => {
                passwords::check_policy(pool, &p, PolicyWording::Creation)?;
                p
            }
            None => Zeroizing::new(
                generate_temporary_password(&pool.config.policies.password_policy.policy())
                    .map_err(|e| UserPoolsError::Internal(e.to_string()))?,
            ),
        };
        let until = passwords::temporary_until(pool, at);
        let existing = users::find(svc, pool, &self.user.username).await?;
        let (previous, mut user) = match (self.action, existing) {
            (MessageAction::Resend, Some(found)) => {
                if found.record.status != UserStatus::ForceChangePassword {
                    return Err(UserPoolsError::UnsupportedUserState(format!(
                        "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
                        found.record.username
                    )));
                }
                let user = found.record.clone();
                (Some(found), user)
            }
            (MessageAction::Resend, None) => return Err(UserPoolsError::user_not_found()),
            (_, Some(_)) => {
                return Err(UserPoolsError::UsernameExists(
                    "User account already exists".into(),
                ))
            }
            (_, None) => (None, new_user(pool, &self.user.username, self.attributes)?),
        };
        user.password = Some(passwords::secrets(svc, &user, password.clone(), Some(until)).await?);
        user.last_modified_at = at;
        let mut writes = users::save(svc, pool, previous.as_ref(), &user).await?;
        if self.action != MessageAction::Suppress {
            if let Some((medium, to)) = delivery::destination(&user, &self.mediums, false) {
                writes.push(delivery::invitation(
                    svc, &user, medium, &to, &password, at, until,
                )?);
            }
        }
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(&json!({ "User": user_shapes::user_shape(&user, None) }))
    }
}

/// A new FORCE_CHANGE_PASSWORD user named `username` with `attributes` (checked). In a pool
/// whose usernames are email or phone, the name must be one of them: it becomes that
/// attribute, and the username is the new `sub`.
fn new_user(
    pool: &crate::records::pool::PoolRecord,
    username: &str,
    attributes: Vec<Attribute>,
) -> Result<UserRecord, UserPoolsError> {
    user_shapes::check_attributes(pool, &attributes, true)?;
    let sub = ids::new_sub();
    let at = now();
    let mut user = UserRecord {
        pool_id: pool.id.clone(),
        username: username.to_owned(),
        sub: sub.clone(),
        attributes,
        status: UserStatus::ForceChangePassword,
        enabled: true,
        created_at: at,
        last_modified_at: at,
        password: None,
        codes: Vec::new(),
        software_token: None,
    };
    if !pool.config.username_attributes.is_empty() {
        let attribute = username_attribute(pool, username)?;
        user.set_attribute(attribute, username);
        user.username = sub;
    }
    Ok(user)
}

/// Which username attribute `name` is in an email/phone-as-username pool.
pub(crate) fn username_attribute(
    pool: &crate::records::pool::PoolRecord,
    name: &str,
) -> Result<&'static str, UserPoolsError> {
    let is_email = name.contains('@');
    let is_phone = name.starts_with('+') && name[1..].chars().all(|c| c.is_ascii_digit());
    match (is_email, is_phone) {
        (true, _) if pool.config.is_username_attribute("email") => Ok("email"),
        (_, true) if pool.config.is_username_attribute("phone_number") => Ok("phone_number"),
        _ => Err(UserPoolsError::InvalidParameter(
            "Username should be either an email or a phone number.".into(),
        )),
    }
}

pub(crate) struct AdminGetUser {
    user: AdminUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminGetUser {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(AdminGetUser {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
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
        let (_, user) = self.user.load(svc).await?;
        let u = &user.record;
        wire::reply(&json!({
            "Username": u.username,
            "UserAttributes": user_shapes::attribute_list(u, None),
            "UserCreateDate": epoch(u.created_at),
            "UserLastModifiedDate": epoch(u.last_modified_at),
            "Enabled": u.enabled,
            "UserStatus": u.status.as_str(),
        }))
    }
}

pub(crate) struct AdminDeleteUser {
    user: AdminUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminDeleteUser {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(AdminDeleteUser {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
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
        let writes = users::delete(svc, &pool.record, &user).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct ListUsers {
    pool: NamedPool,
    attributes_to_get: Option<Vec<String>>,
    limit: usize,
    token: Option<String>,
    filter: Option<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUsersInput {
    user_pool_id: String,
    attributes_to_get: Option<Vec<String>>,
    limit: Option<i64>,
    pagination_token: Option<String>,
    filter: Option<String>,
}

/// A `Limit` member: 0 to 60 (0 and absent mean 60).
pub(crate) fn limit(value: Option<i64>) -> Result<usize, UserPoolsError> {
    match value {
        None | Some(0) => Ok(60),
        Some(n) if (1..=60).contains(&n) => Ok(n as usize),
        Some(n) => Err(UserPoolsError::constraint(
            n,
            "limit",
            "Member must have value between 0 and 60",
        )),
    }
}

#[async_trait::async_trait]
impl UserPoolsOperation for ListUsers {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ListUsersInput = wire::decode(body)?;
        let filter = match &input.filter {
            Some(f) => {
                wire::check_length(f, "filter", 0, 256)?;
                Filter::parse(f)?
            }
            None => None,
        };
        Ok(ListUsers {
            pool: NamedPool::parse(input.user_pool_id)?,
            attributes_to_get: input.attributes_to_get,
            limit: limit(input.limit)?,
            token: wire::pagination_token(input.pagination_token, "paginationToken")?,
            filter,
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
        if let Some(names) = &self.attributes_to_get {
            if let Some(unknown) = names
                .iter()
                .find(|n| !crate::schema::knows(&pool.record.config, n))
            {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "One or more requested attributes do not exist: {unknown}"
                )));
            }
        }
        let prefix = pool_prefix(&pool.record.id);
        // The token is the last user key seen, under the authorized pool only.
        let mut after = self.token.map(|t| format!("{prefix}{t}"));
        let mut found = Vec::new();
        let mut next = None;
        'scan: loop {
            let (page, more) = records::list::<UserRecord>(
                svc.store.as_ref(),
                ns::USERS,
                &prefix,
                after.as_deref(),
                200,
            )
            .await?;
            for (key, user) in &page {
                after = Some(key.clone());
                if self.filter.as_ref().is_none_or(|f| f.matches(&user.record)) {
                    found.push(user_shapes::user_shape(
                        &user.record,
                        self.attributes_to_get.as_deref(),
                    ));
                    if found.len() == self.limit {
                        next = Some(key[prefix.len()..].to_owned());
                        break 'scan;
                    }
                }
            }
            if !more {
                break;
            }
        }
        // A full page with nothing after it needs no token.
        if let Some(token) = &next {
            let rest = records::list::<UserRecord>(
                svc.store.as_ref(),
                ns::USERS,
                &prefix,
                Some(&format!("{prefix}{token}")),
                1,
            )
            .await?;
            if rest.0.is_empty() {
                next = None;
            }
        }
        let mut out = json!({ "Users": found });
        if let Some(token) = next {
            out["PaginationToken"] = json!(token);
        }
        wire::reply(&out)
    }
}
