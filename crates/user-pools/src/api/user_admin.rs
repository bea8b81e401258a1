//! Changing a user as an administrator: AdminSetUserPassword, AdminConfirmSignUp,
//! AdminDisableUser/AdminEnableUser, AdminUpdateUserAttributes, AdminDeleteUserAttributes,
//! AdminResetUserPassword — authorized on the pool's ARN; the user is looked up only in it.

use rampart_identity::password::PolicyWording;
use rampart_wire::Check;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::user_shapes::{self, AdminUser, AdminUserInput, AttributeInput};
use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::error::UserPoolsError;
use crate::records::outbox::DeliveryMedium;
use crate::records::pool::PoolRecord;
use crate::records::user::{Attribute, CodeKind, UserRecord, UserStatus};
use crate::records::Stored;
use crate::service::now;
use crate::{delivery, passwords, schema, users, UserPoolsService};

/// Commits `next` in place of `user` (with its aliases) and `extra` writes.
async fn save(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    user: &Stored<UserRecord>,
    mut next: UserRecord,
    extra: Vec<rampart_store::Write>,
) -> Result<(), UserPoolsError> {
    next.last_modified_at = now();
    let mut writes = users::save(svc, pool, Some(user), &next).await?;
    writes.extend(extra);
    rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    Ok(())
}

pub(crate) struct AdminSetUserPassword {
    user: AdminUser,
    password: Zeroizing<String>,
    permanent: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetPasswordInput {
    user_pool_id: String,
    username: String,
    password: String,
    permanent: Option<bool>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminSetUserPassword {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: SetPasswordInput = wire::decode(body)?;
        Ok(AdminSetUserPassword {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            password: passwords::password_member(input.password, "password")?,
            permanent: input.permanent.unwrap_or(false),
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
        passwords::check_policy(&pool.record, &self.password, PolicyWording::Change)?;
        let mut next = user.record.clone();
        let until = (!self.permanent).then(|| passwords::temporary_until(&pool.record, now()));
        next.password = Some(passwords::secrets(svc, &next, self.password, until).await?);
        next.status = if self.permanent {
            UserStatus::Confirmed
        } else {
            UserStatus::ForceChangePassword
        };
        next.clear_code(CodeKind::ForgotPassword);
        save(svc, &pool.record, &user, next, Vec::new()).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminConfirmSignUp {
    user: AdminUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminConfirmSignUp {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(AdminConfirmSignUp {
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
        if user.record.status != UserStatus::Unconfirmed {
            return Err(UserPoolsError::NotAuthorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.record.status.as_str()
            )));
        }
        let mut next = user.record.clone();
        next.status = UserStatus::Confirmed;
        next.clear_code(CodeKind::SignUp);
        save(svc, &pool.record, &user, next, Vec::new()).await?;
        Ok(b"{}".to_vec())
    }
}

/// AdminDisableUser and AdminEnableUser.
pub(crate) struct SetEnabled<const ENABLED: bool> {
    user: AdminUser,
}

pub(crate) type AdminDisableUser = SetEnabled<false>;
pub(crate) type AdminEnableUser = SetEnabled<true>;

#[async_trait::async_trait]
impl<const ENABLED: bool> UserPoolsOperation for SetEnabled<ENABLED> {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(SetEnabled {
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
        let mut next = user.record.clone();
        next.enabled = ENABLED;
        save(svc, &pool.record, &user, next, Vec::new()).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminUpdateUserAttributes {
    user: AdminUser,
    attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateAttributesInput {
    user_pool_id: String,
    username: String,
    user_attributes: Vec<AttributeInput>,
}

/// Sets `attributes` on `user`: a changed email or phone number is no longer verified unless
/// the same request says it is (as Cognito does).
pub(crate) fn apply_attributes(user: &mut UserRecord, attributes: &[Attribute]) {
    for a in attributes {
        let changed = user.attribute(&a.name) != Some(a.value.as_str());
        user.set_attribute(&a.name, &a.value);
        if changed && matches!(a.name.as_str(), "email" | "phone_number") {
            let flag = format!("{}_verified", a.name);
            if !attributes.iter().any(|x| x.name == flag) {
                user.set_attribute(&flag, "false");
            }
        }
    }
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminUpdateUserAttributes {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: UpdateAttributesInput = wire::decode(body)?;
        Ok(AdminUpdateUserAttributes {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            attributes: user_shapes::attributes(Some(input.user_attributes))?,
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
        user_shapes::check_attributes(&pool.record, &self.attributes, false)?;
        let mut next = user.record.clone();
        apply_attributes(&mut next, &self.attributes);
        save(svc, &pool.record, &user, next, Vec::new()).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminDeleteUserAttributes {
    user: AdminUser,
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAttributesInput {
    user_pool_id: String,
    username: String,
    user_attribute_names: Vec<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminDeleteUserAttributes {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: DeleteAttributesInput = wire::decode(body)?;
        for n in &input.user_attribute_names {
            wire::check_length(n, "userAttributeNames.member", 1, 32)?;
        }
        Ok(AdminDeleteUserAttributes {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
            names: input.user_attribute_names,
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
        let config = &pool.record.config;
        for name in &self.names {
            let required = crate::schema::STANDARD
                .iter()
                .find(|s| s.name == name.as_str())
                .map(|s| schema::effective(config, s).required)
                .unwrap_or(false);
            if name == "sub" || required || config.is_username_attribute(name) {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "Cannot delete the required or non-mutable attribute {name}"
                )));
            }
            if !schema::knows(config, name) {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "Attribute does not exist in the schema.\n{name}"
                )));
            }
        }
        let mut next = user.record.clone();
        for name in &self.names {
            next.remove_attribute(name);
        }
        save(svc, &pool.record, &user, next, Vec::new()).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminResetUserPassword {
    user: AdminUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminResetUserPassword {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(AdminResetUserPassword {
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
        let mut next = user.record.clone();
        let Some((medium, to)) =
            delivery::destination(&next, &[DeliveryMedium::Email, DeliveryMedium::Sms], true)
        else {
            return Err(UserPoolsError::InvalidParameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number".into(),
            ));
        };
        let (_, message) =
            delivery::issue_code(svc, &mut next, CodeKind::ForgotPassword, medium, &to, now())?;
        next.status = UserStatus::ResetRequired;
        save(svc, &pool.record, &user, next, vec![message]).await?;
        Ok(b"{}".to_vec())
    }
}
