//! Self-service sign-up, public as on AWS (no SigV4): SignUp, ConfirmSignUp and
//! ResendConfirmationCode. The app client named by `ClientId` decides the pool, and proves
//! itself with `SECRET_HASH` when it has a secret; codes go through the outbox.

use rampart_identity::password::PolicyWording;
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::user_shapes::{self, AttributeInput};
use super::users::username_attribute;
use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::app_client::{self, AppClient};
use crate::delivery::{self, CodeCheck};
use crate::error::UserPoolsError;
use crate::records::outbox::{masked_destination, DeliveryMedium};
use crate::records::pool::PoolRecord;
use crate::records::user::{Attribute, CodeKind, UserRecord, UserStatus, MAX_CODE_ATTEMPTS};
use crate::service::now;
use crate::{ids, passwords, send_limit, users, UserPoolsService};

/// What every public user operation names: the client, its secret hash, the user.
pub(crate) struct PublicUser {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub username: String,
}

impl PublicUser {
    pub fn parse(
        client_id: String,
        secret_hash: Option<String>,
        username: String,
    ) -> Result<Self, UserPoolsError> {
        users::username_member(&username)?;
        Ok(PublicUser {
            client_id: app_client::client_id_member(client_id)?,
            secret_hash: app_client::secret_hash_member(secret_hash)?,
            username,
        })
    }

    /// The client (and its pool), its secret hash checked for this username.
    pub async fn client(&self, svc: &UserPoolsService) -> Result<AppClient, UserPoolsError> {
        let client = app_client::resolve(svc, &self.client_id).await?;
        client.check_secret_hash(svc, &self.username, self.secret_hash.as_deref())?;
        Ok(client)
    }
}

/// `UserNotFoundException` as the public operations word it.
pub(crate) fn unknown_user() -> UserPoolsError {
    UserPoolsError::UserNotFound("Username/client id combination not found.".into())
}

fn code_mismatch() -> UserPoolsError {
    UserPoolsError::CodeMismatch("Invalid verification code provided, please try again.".into())
}

/// Reads a `ConfirmationCode` member: 1 to 2048 non-space characters, never echoed.
pub(crate) fn code_member(code: String) -> Result<Zeroizing<String>, UserPoolsError> {
    let code = Zeroizing::new(code);
    if code.is_empty() || code.chars().count() > 2048 || code.chars().any(char::is_whitespace) {
        return Err(UserPoolsError::secret_constraint(
            "confirmationCode",
            "Member must satisfy regular expression pattern: [\\S]+",
        ));
    }
    Ok(code)
}

/// Checks `code` against the user's pending code of `kind`: past [`MAX_CODE_ATTEMPTS`] wrong
/// guesses it is `LimitExceededException` without looking; a wrong code counts one more
/// attempt (committed here) and is `CodeMismatchException`. On success the code is gone from
/// `next`, which the caller commits with its other changes.
pub(crate) async fn take_code(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    user: &crate::records::Stored<UserRecord>,
    next: &mut UserRecord,
    kind: CodeKind,
    code: &str,
) -> Result<(), UserPoolsError> {
    if next
        .code(kind)
        .is_some_and(|c| c.failed_attempts >= MAX_CODE_ATTEMPTS)
    {
        return Err(UserPoolsError::LimitExceeded(
            "Attempt limit exceeded, please try after some time.".into(),
        ));
    }
    match delivery::check_code(svc, next, kind, code, now())? {
        CodeCheck::Accepted => Ok(()),
        CodeCheck::Mismatch => {
            // The attempt counted is the refusal's bookkeeping, not the request's change: a
            // plain commit, so the request is audited once, as the failure it is (committing
            // through `request_audit` would also record it as a success).
            let writes = users::save(svc, pool, Some(user), next).await?;
            svc.store.commit(writes).await?;
            Err(code_mismatch())
        }
    }
}

/// Where a sign-up code goes: the auto-verified attribute the user has, phone first (as
/// Cognito prefers SMS when both are auto-verified).
fn sign_up_destination(pool: &PoolRecord, user: &UserRecord) -> Option<(DeliveryMedium, String)> {
    let auto = &pool.config.auto_verified_attributes;
    let mediums: Vec<DeliveryMedium> = [DeliveryMedium::Sms, DeliveryMedium::Email]
        .into_iter()
        .filter(|m| auto.iter().any(|a| a == m.attribute()))
        .collect();
    delivery::destination(user, &mediums, false)
}

/// `CodeDeliveryDetails` for a user who does not exist, when the client hides that: shaped
/// like a real answer from the name asked about.
pub(crate) fn decoy_delivery(name: &str) -> Value {
    let medium = if name.starts_with('+') {
        DeliveryMedium::Sms
    } else {
        DeliveryMedium::Email
    };
    let destination = if name.contains('@') || medium == DeliveryMedium::Sms {
        name.to_owned()
    } else {
        format!("{name}@{name}")
    };
    json!({
        "Destination": masked_destination(medium, &destination),
        "DeliveryMedium": medium.as_str(),
        "AttributeName": medium.attribute(),
    })
}

pub(crate) struct SignUp {
    user: PublicUser,
    password: Option<Zeroizing<String>>,
    attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    password: Option<String>,
    user_attributes: Option<Vec<AttributeInput>>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for SignUp {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: SignUpInput = wire::decode(body)?;
        Ok(SignUp {
            user: PublicUser::parse(input.client_id, input.secret_hash, input.username)?,
            password: input
                .password
                .map(|p| passwords::password_member(p, "password"))
                .transpose()?,
            attributes: user_shapes::attributes(input.user_attributes)?,
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
        if pool
            .config
            .admin_create_user_config
            .allow_admin_create_user_only
        {
            return Err(UserPoolsError::NotAuthorized(
                "SignUp is not permitted for this user pool".into(),
            ));
        }
        // A client writes the attributes its WriteAttributes lists (all, when it lists none) —
        // but never marks an email or phone verified unless it lists the flag itself: the
        // flag is what the confirmation code proves, and a verified alias is a sign-in name.
        let writable = &client.client.record.write_attributes;
        let allowed = |name: &str| {
            if matches!(name, "email_verified" | "phone_number_verified") {
                writable.iter().any(|w| w == name)
            } else {
                writable.is_empty() || writable.iter().any(|w| w == name)
            }
        };
        if let Some(a) = self.attributes.iter().find(|a| !allowed(&a.name)) {
            return Err(UserPoolsError::NotAuthorized(format!(
                "A client attempted to write unauthorized attribute {}",
                a.name
            )));
        }
        user_shapes::check_attributes(pool, &self.attributes, true)?;
        let Some(password) = self.password else {
            return Err(UserPoolsError::InvalidParameter(
                "Password is required to sign up in this user pool.".into(),
            ));
        };
        passwords::check_policy(pool, &password, PolicyWording::Creation)?;
        let name = self.user.username;
        let mut user = UserRecord {
            pool_id: pool.id.clone(),
            username: name.clone(),
            sub: ids::new_sub(),
            attributes: self.attributes,
            status: UserStatus::Unconfirmed,
            enabled: true,
            created_at: now(),
            last_modified_at: now(),
            password: None,
            codes: Vec::new(),
            software_token: None,
        };
        if pool.config.username_attributes.is_empty() {
            // With email or phone as aliases, a username must not look like one.
            for (attribute, looks) in [
                ("email", name.contains('@')),
                ("phone_number", name.starts_with('+')),
            ] {
                if looks && pool.config.alias_attributes.iter().any(|a| a == attribute) {
                    let kind = if attribute == "email" {
                        "email"
                    } else {
                        "phone number"
                    };
                    return Err(UserPoolsError::InvalidParameter(format!(
                        "Username cannot be of {kind} format, since user pool is configured for {kind} alias."
                    )));
                }
            }
        } else {
            let attribute = username_attribute(pool, &name)?;
            user.set_attribute(attribute, &name);
            user.username = user.sub.clone();
        }
        if users::find(svc, pool, &name).await?.is_some() {
            return Err(UserPoolsError::UsernameExists("User already exists".into()));
        }
        user.password = Some(passwords::secrets(svc, &user, password, None).await?);
        let mut extra = Vec::new();
        let mut details = None;
        if let Some((medium, to)) = sign_up_destination(pool, &user) {
            let (d, message) =
                delivery::issue_code(svc, &mut user, CodeKind::SignUp, medium, &to, now())?;
            details = Some(d);
            extra.push(message);
        }
        let mut writes = users::save(svc, pool, None, &user).await?;
        writes.extend(extra);
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        let mut out = json!({ "UserConfirmed": false, "UserSub": user.sub });
        if let Some(d) = details {
            out["CodeDeliveryDetails"] = d;
        }
        wire::reply(&out)
    }
}

pub(crate) struct ConfirmSignUp {
    user: PublicUser,
    code: Zeroizing<String>,
    force_alias_creation: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfirmSignUpInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
    confirmation_code: String,
    force_alias_creation: Option<bool>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for ConfirmSignUp {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: ConfirmSignUpInput = wire::decode(body)?;
        Ok(ConfirmSignUp {
            user: PublicUser::parse(input.client_id, input.secret_hash, input.username)?,
            code: code_member(input.confirmation_code)?,
            force_alias_creation: input.force_alias_creation.unwrap_or(false),
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
                code_mismatch()
            } else {
                unknown_user()
            });
        };
        if user.record.status != UserStatus::Unconfirmed {
            return Err(UserPoolsError::NotAuthorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.record.status.as_str()
            )));
        }
        let mut next = user.record.clone();
        take_code(svc, pool, &user, &mut next, CodeKind::SignUp, &self.code).await?;
        // The code went to this attribute: it is now verified.
        if let Some((medium, _)) = sign_up_destination(pool, &next) {
            next.set_attribute(&format!("{}_verified", medium.attribute()), "true");
        }
        next.status = UserStatus::Confirmed;
        next.last_modified_at = now();
        if self.force_alias_creation {
            take_aliases(svc, pool, &next).await?;
        }
        let writes = users::save(svc, pool, Some(&user), &next).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

/// `ForceAliasCreation`: the alias attributes `user` now holds verified are taken from whoever
/// held them — that user's attribute is no longer verified, and no longer signs in. Username
/// attributes are never taken (they are the other user's name).
async fn take_aliases(
    svc: &UserPoolsService,
    pool: &PoolRecord,
    user: &UserRecord,
) -> Result<(), UserPoolsError> {
    use crate::records::user::AliasRecord;
    use crate::records::{self, ns, pool_key};
    for (attribute, key) in users::aliases_of(pool, user) {
        if pool.config.is_username_attribute(&attribute) {
            continue;
        }
        let Some(alias) =
            records::load::<AliasRecord>(svc.store.as_ref(), ns::ALIASES, &key).await?
        else {
            continue;
        };
        if alias.record.sub == user.sub {
            continue;
        }
        let holder_key = pool_key(&pool.id, &alias.record.username_key);
        let Some(holder) =
            records::load::<UserRecord>(svc.store.as_ref(), ns::USERS, &holder_key).await?
        else {
            continue;
        };
        let mut released = holder.record.clone();
        released.set_attribute(&format!("{attribute}_verified"), "false");
        released.last_modified_at = now();
        // Committed before the confirmation: if that then fails, the alias is free, as the
        // caller asked, and the confirmation can be retried with the same code.
        let writes = users::save(svc, pool, Some(&holder), &released).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    }
    Ok(())
}

pub(crate) struct ResendConfirmationCode {
    user: PublicUser,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublicUserInput {
    client_id: String,
    secret_hash: Option<String>,
    username: String,
}

impl PublicUserInput {
    pub fn parse(self) -> Result<PublicUser, UserPoolsError> {
        PublicUser::parse(self.client_id, self.secret_hash, self.username)
    }
}

#[async_trait::async_trait]
impl UserPoolsOperation for ResendConfirmationCode {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: PublicUserInput = wire::decode(body)?;
        Ok(ResendConfirmationCode {
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
        if user.record.status != UserStatus::Unconfirmed {
            return Err(UserPoolsError::InvalidParameter(
                "User is already confirmed.".into(),
            ));
        }
        let mut next = user.record.clone();
        let Some((medium, to)) = sign_up_destination(pool, &next) else {
            return Err(UserPoolsError::InvalidParameter(
                "Cannot resend codes. Auto verification not turned on.".into(),
            ));
        };
        let limit = send_limit::claim(svc, &pool.id, &next.sub, now()).await?;
        let (details, message) =
            delivery::issue_code(svc, &mut next, CodeKind::SignUp, medium, &to, now())?;
        let mut writes = users::save(svc, pool, Some(&user), &next).await?;
        writes.extend([message, limit]);
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        wire::reply(&json!({ "CodeDeliveryDetails": details }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoy_delivery_looks_like_a_real_one() {
        assert_eq!(
            decoy_delivery("nobody@example.com"),
            delivery::delivery_details(DeliveryMedium::Email, "nobody@example.com")
        );
        assert_eq!(decoy_delivery("+15555551234")["DeliveryMedium"], "SMS");
        let plain = decoy_delivery("nobody");
        assert_eq!(plain["DeliveryMedium"], "EMAIL");
        assert_eq!(plain["Destination"], "n***@n***");
    }

    #[test]
    fn codes_are_never_echoed_in_errors() {
        for bad in ["", "98 7654", &"9".repeat(2049)] {
            let e = code_member(bad.to_owned()).unwrap_err();
            assert_eq!(e.code(), "ValidationException");
            assert!(!e.to_string().contains('9'), "{e}");
        }
        assert_eq!(code_member("123456".into()).unwrap().as_str(), "123456");
    }

    /// A code past its lifetime is `ExpiredCodeException`, whatever was typed; the right code
    /// within it is accepted once.
    #[tokio::test]
    async fn codes_expire_and_are_single_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = rampart_store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let svc = UserPoolsService::new(
            store,
            std::sync::Arc::new(rampart_core::RootKeyring::ephemeral()),
            "123456789012",
            "eu-west-1",
        )
        .unwrap();
        let at = now();
        let mut user = UserRecord {
            pool_id: "eu-west-1_abc".into(),
            username: "alice".into(),
            sub: ids::new_sub(),
            attributes: Vec::new(),
            status: UserStatus::Unconfirmed,
            enabled: true,
            created_at: at,
            last_modified_at: at,
            password: None,
            codes: Vec::new(),
            software_token: None,
        };
        let issued = at - time::Duration::hours(25);
        delivery::issue_code(
            &svc,
            &mut user,
            CodeKind::SignUp,
            DeliveryMedium::Email,
            "a@b.c",
            issued,
        )
        .unwrap();
        let sealed = user.code(CodeKind::SignUp).unwrap().sealed_code.clone();
        let code = crate::sealing::open_text(
            &svc.keyring,
            rampart_core::SealPurpose::UserCode,
            &crate::sealing::code_context(&user.pool_id, &user.sub, CodeKind::SignUp),
            &sealed,
        )
        .unwrap();
        let e = delivery::check_code(&svc, &mut user, CodeKind::SignUp, &code, at).unwrap_err();
        assert_eq!(e.code(), "ExpiredCodeException");
        // Within its lifetime: accepted, then gone.
        let within = issued + time::Duration::hours(23);
        assert_eq!(
            delivery::check_code(&svc, &mut user, CodeKind::SignUp, &code, within).unwrap(),
            CodeCheck::Accepted
        );
        let e = delivery::check_code(&svc, &mut user, CodeKind::SignUp, &code, within).unwrap_err();
        assert_eq!(e.code(), "ExpiredCodeException");
    }
}
