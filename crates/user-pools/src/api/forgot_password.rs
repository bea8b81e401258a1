//! Self-service password reset, public as on AWS: ForgotPassword sends a code to the user's
//! verified email or phone (in the pool's account-recovery order) through the outbox;
//! ConfirmForgotPassword takes that code and the new password.

use rampart_identity::password::PolicyWording;
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::sign_up::{
    code_member, decoy_delivery, take_code, unknown_user, PublicUser, PublicUserInput,
};
use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::delivery;
use crate::error::UserPoolsError;
use crate::records::outbox::DeliveryMedium;
use crate::records::pool::PoolRecord;
use crate::records::user::{CodeKind, UserStatus};
use crate::service::now;
use crate::{passwords, send_limit, users, UserPoolsService};

/// The mediums a reset code may go to, in the pool's order: its AccountRecoverySetting
/// (`verified_phone_number`, `verified_email`; `admin_only` allows none), else SMS then email.
fn recovery_mediums(pool: &PoolRecord) -> Vec<DeliveryMedium> {
    match &pool.config.account_recovery_setting {
        Some(setting) => {
            let mut options = setting.recovery_mechanisms.clone();
            options.sort_by_key(|o| o.priority);
            options
                .iter()
                .filter_map(|o| match o.name.as_str() {
                    "verified_email" => Some(DeliveryMedium::Email),
                    "verified_phone_number" => Some(DeliveryMedium::Sms),
                    _ => None,
                })
                .collect()
        }
        None => vec![DeliveryMedium::Sms, DeliveryMedium::Email],
    }
}

pub(crate) struct ForgotPassword {
    user: PublicUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ForgotPassword {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: PublicUserInput = wire::decode(body)?;
        Ok(ForgotPassword {
            user: input.parse()?,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        _: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(Vec::new())
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let client = self.user.client(svc).await?;
        let pool = client.pool();
        let Some(user) = users::find(svc, pool, &self.user.username).await? else {
            if client.prevents_user_existence_errors() {
                return wire::reply(
                    &json!({ "CodeDeliveryDetails": decoy_delivery(&self.user.username) }),
                );
            }
            return Err(unknown_user());
        };
        if !user.record.enabled {
            return Err(UserPoolsError::NotAuthorized("User is disabled.".into()));
        }
        let mut next = user.record.clone();
        let Some((medium, to)) = delivery::destination(&next, &recovery_mediums(pool), true) else {
            return Err(UserPoolsError::InvalidParameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number".into(),
            ));
        };
        let limit = send_limit::claim(svc, &pool.id, &next.sub, now()).await?;
        let (details, message) =
            delivery::issue_code(svc, &mut next, CodeKind::ForgotPassword, medium, &to, now())?;
        let mut writes = users::save(svc, pool, Some(&user), &next).await?;
        writes.extend([message, limit]);
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(&json!({ "CodeDeliveryDetails": details }))
    }
}

pub(crate) struct ConfirmForgotPassword {
    user: PublicUser,
    code: Zeroizing<String>,
    password: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfirmForgotPasswordInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    password: String,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ConfirmForgotPassword {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ConfirmForgotPasswordInput = wire::decode(body)?;
        Ok(ConfirmForgotPassword {
            user: PublicUser::parse(input.client_id, input.secret_hash, input.username)?,
            code: code_member(input.confirmation_code)?,
            password: passwords::password_member(input.password, "password")?,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        _: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(Vec::new())
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let client = self.user.client(svc).await?;
        let pool = client.pool();
        let Some(user) = users::find(svc, pool, &self.user.username).await? else {
            return Err(if client.prevents_user_existence_errors() {
                UserPoolsError::CodeMismatch(
                    "Invalid verification code provided, please try again.".into(),
                )
            } else {
                unknown_user()
            });
        };
        // The policy first: a refused password must not spend the code.
        passwords::check_policy(pool, &self.password, PolicyWording::Change)?;
        let mut next = user.record.clone();
        take_code(
            svc,
            pool,
            &user,
            &mut next,
            CodeKind::ForgotPassword,
            &self.code,
        )
        .await?;
        next.password = Some(passwords::secrets(svc, &next, self.password, None).await?);
        if next.status != UserStatus::Unconfirmed {
            next.status = UserStatus::Confirmed;
        }
        next.last_modified_at = now();
        let writes = users::save(svc, pool, Some(&user), &next).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::pool::{AccountRecoverySetting, PoolConfig, RecoveryOption};

    fn pool(setting: Option<AccountRecoverySetting>) -> PoolRecord {
        let now = time::OffsetDateTime::now_utc();
        PoolRecord {
            id: "eu-west-1_abc".into(),
            arn: String::new(),
            name: "p".into(),
            created_at: now,
            last_modified_at: now,
            config: PoolConfig {
                account_recovery_setting: setting,
                ..PoolConfig::default()
            },
        }
    }

    fn option(name: &str, priority: u32) -> RecoveryOption {
        RecoveryOption {
            priority,
            name: name.into(),
        }
    }

    #[test]
    fn reset_codes_follow_the_pools_recovery_order() {
        assert_eq!(
            recovery_mediums(&pool(None)),
            [DeliveryMedium::Sms, DeliveryMedium::Email]
        );
        let email_first = AccountRecoverySetting {
            recovery_mechanisms: vec![
                option("verified_phone_number", 2),
                option("verified_email", 1),
            ],
        };
        assert_eq!(
            recovery_mediums(&pool(Some(email_first))),
            [DeliveryMedium::Email, DeliveryMedium::Sms]
        );
        let admin_only = AccountRecoverySetting {
            recovery_mechanisms: vec![option("admin_only", 1)],
        };
        assert!(recovery_mediums(&pool(Some(admin_only))).is_empty());
    }
}
