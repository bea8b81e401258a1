//! TOTP software tokens: AssociateSoftwareToken, VerifySoftwareToken (with an access token, or
//! with the session of an MFA_SETUP challenge) and SetUserMFAPreference. Public: the access
//! token or the sealed session says who the user is.

use rampart_wire::Check;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::auth::session::{Challenge, ChallengeSession};
use crate::auth::{mfa, sign_in, tokens, AuthClient};
use crate::error::UserPoolsError;
use crate::records::user::UserRecord;
use crate::records::Stored;
use crate::service::now;
use crate::{users, UserPoolsService};

/// Who the request is for: an access token or an MFA_SETUP session, never echoed.
enum Credential {
    AccessToken(Zeroizing<String>),
    Session(String),
}

impl Credential {
    fn parse(
        access_token: Option<String>,
        session: Option<String>,
    ) -> Result<Self, UserPoolsError> {
        match (
            access_token.filter(|t| !t.is_empty()),
            session.filter(|s| !s.is_empty()),
        ) {
            (Some(token), None) => Ok(Credential::AccessToken(Zeroizing::new(token))),
            (None, Some(session)) => Ok(Credential::Session(session)),
            _ => Err(UserPoolsError::InvalidParameter(
                "Exactly one of AccessToken and Session must be given.".into(),
            )),
        }
    }

    /// The user, its pool's client (for a session, to answer a new one) and, for a session,
    /// the user name it was for.
    async fn resolve(
        &self,
        svc: &UserPoolsService,
    ) -> Result<(AuthClient, Stored<UserRecord>, bool), UserPoolsError> {
        match self {
            Credential::AccessToken(token) => {
                let grant = tokens::accept_access_token(svc, token).await?;
                let client = AuthClient {
                    pool: grant.pool,
                    client: grant.client,
                    admin: false,
                };
                Ok((client, grant.user, false))
            }
            Credential::Session(carried) => {
                let session =
                    ChallengeSession::open_carried(svc, Challenge::MfaSetup, carried, now())
                        .await?;
                let client = AuthClient::public(svc, &session.client_id).await?;
                let user = sign_in::session_user(svc, &client, &session, &session.username).await?;
                Ok((client, user, true))
            }
        }
    }
}

/// A new MFA_SETUP session for `user`, for the next step.
fn next_session(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: &UserRecord,
) -> Result<String, UserPoolsError> {
    Ok(ChallengeSession::new(
        &client.pool().id,
        &client.client().client_id,
        Challenge::MfaSetup,
        &user.username,
        Some(&user.sub),
        client.client().auth_session_validity_minutes,
        now(),
    )?
    .seal(svc))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociateInput {
    access_token: Option<String>,
    session: Option<String>,
}

pub(crate) struct AssociateSoftwareToken {
    credential: Credential,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AssociateSoftwareToken {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AssociateInput = wire::decode(body)?;
        Ok(AssociateSoftwareToken {
            credential: Credential::parse(input.access_token, input.session)?,
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
        let (client, user, by_session) = self.credential.resolve(svc).await?;
        let mut next = user.record.clone();
        let secret = mfa::associate(svc, &mut next)?;
        let writes = users::save(svc, client.pool(), Some(&user), &next).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        let mut out = json!({ "SecretCode": secret.as_str() });
        if by_session {
            out["Session"] = json!(next_session(svc, &client, &next)?);
        }
        wire::reply(&out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyInput {
    access_token: Option<String>,
    session: Option<String>,
    user_code: String,
}

pub(crate) struct VerifySoftwareToken {
    credential: Credential,
    code: Zeroizing<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for VerifySoftwareToken {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: VerifyInput = wire::decode(body)?;
        if input.user_code.len() != 6 || !input.user_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UserPoolsError::secret_constraint(
                "userCode",
                "Member must satisfy regular expression pattern: [0-9]+",
            ));
        }
        Ok(VerifySoftwareToken {
            credential: Credential::parse(input.access_token, input.session)?,
            code: Zeroizing::new(input.user_code),
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
        let (client, user, by_session) = self.credential.resolve(svc).await?;
        let mut next = user.record.clone();
        mfa::verify_first_code(svc, &mut next, &self.code, by_session, now())?;
        let writes = users::save(svc, client.pool(), Some(&user), &next).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        let mut out = json!({ "Status": "SUCCESS" });
        if by_session {
            out["Session"] = json!(next_session(svc, &client, &next)?);
        }
        wire::reply(&out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MfaSettings {
    enabled: Option<bool>,
    preferred_mfa: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PreferenceInput {
    access_token: String,
    software_token_mfa_settings: Option<MfaSettings>,
    #[serde(rename = "SMSMfaSettings")]
    sms_mfa_settings: Option<MfaSettings>,
    email_mfa_settings: Option<MfaSettings>,
}

pub(crate) struct SetUserMfaPreference {
    token: Zeroizing<String>,
    software_token: Option<(bool, bool)>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for SetUserMfaPreference {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: PreferenceInput = wire::decode(body)?;
        let asks_other = [&input.sms_mfa_settings, &input.email_mfa_settings]
            .iter()
            .any(|s| s.as_ref().is_some_and(|s| s.enabled == Some(true)));
        if asks_other {
            return Err(UserPoolsError::InvalidParameter(
                "Only software token MFA is available in this user pool.".into(),
            ));
        }
        Ok(SetUserMfaPreference {
            token: Zeroizing::new(input.access_token),
            software_token: input
                .software_token_mfa_settings
                .map(|s| (s.enabled.unwrap_or(false), s.preferred_mfa.unwrap_or(false))),
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
        let grant = tokens::accept_access_token(svc, &self.token).await?;
        let Some((enabled, preferred)) = self.software_token else {
            return Ok(b"{}".to_vec());
        };
        let mut next = grant.user.record.clone();
        match &mut next.software_token {
            Some(token) if token.verified => {
                token.enabled = enabled;
                token.preferred = enabled && preferred;
            }
            _ if !enabled => {}
            _ => {
                return Err(UserPoolsError::InvalidParameter(
                    "User has not verified software token mfa".into(),
                ))
            }
        }
        let writes = users::save(svc, &grant.pool.record, Some(&grant.user), &next).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}
