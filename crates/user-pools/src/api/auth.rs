//! Signing in: InitiateAuth and RespondToAuthChallenge (public: the app client, its secret
//! hash and the user's password or SRP proof say who the caller is) and their `Admin*` forms
//! (SigV4, authorized on the pool's ARN; the client is looked up only in that pool). The flows
//! themselves are in `crate::auth::sign_in`.

use std::collections::HashMap;

use rampart_wire::Check;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::user_shapes::AttributeInput;
use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::auth::session::Challenge;
use crate::auth::sign_in::{self, VerifierAnswer};
use crate::auth::{AuthClient, Flow};
use crate::error::UserPoolsError;
use crate::records::user::Attribute;
use crate::service::NamedPool;
use crate::{ids, passwords, users, UserPoolsService};

/// A `ClientId` member.
fn client_id_member(id: String) -> Result<String, UserPoolsError> {
    if !ids::is_client_id_shaped(&id) {
        return Err(UserPoolsError::constraint(
            &id,
            "clientId",
            "Member must satisfy regular expression pattern: [\\w+]+",
        ));
    }
    Ok(id)
}

/// Parameters maps (`AuthParameters`, `ChallengeResponses`); passwords in them are wiped when
/// the request is dropped.
struct Parameters(HashMap<String, Zeroizing<String>>);

impl Parameters {
    fn new(map: Option<HashMap<String, String>>) -> Self {
        Parameters(
            map.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        )
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }

    fn required(&self, name: &str) -> Result<String, UserPoolsError> {
        self.optional(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(name))
    }

    fn secret(&self, name: &str) -> Result<Zeroizing<String>, UserPoolsError> {
        match self.0.get(name) {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ => Err(missing(name)),
        }
    }
}

fn missing(name: &str) -> UserPoolsError {
    UserPoolsError::InvalidParameter(format!("Missing required parameter {name}"))
}

/// What an InitiateAuth asks, read once.
enum AuthRequest {
    Password {
        flow: Flow,
        username: String,
        password: Zeroizing<String>,
        secret_hash: Option<String>,
    },
    Srp {
        username: String,
        srp_a: String,
        secret_hash: Option<String>,
    },
    Refresh {
        token: Zeroizing<String>,
        username: Option<String>,
        secret_hash: Option<String>,
    },
}

const AUTH_FLOWS: &str = "[USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]";

impl AuthRequest {
    fn parse(flow: &str, params: Parameters, admin: bool) -> Result<Self, UserPoolsError> {
        let secret_hash = params.optional("SECRET_HASH");
        let password_flow = match flow {
            "USER_PASSWORD_AUTH" if !admin => Some(Flow::UserPassword),
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
                Some(Flow::AdminUserPassword)
            }
            _ => None,
        };
        if let Some(flow) = password_flow {
            let username = params.required("USERNAME")?;
            let password = params.secret("PASSWORD")?;
            users::username_member(&username)?;
            return Ok(AuthRequest::Password {
                flow,
                username,
                password: passwords::password_member(password.to_string(), "password")?,
                secret_hash,
            });
        }
        match flow {
            "USER_SRP_AUTH" => {
                let username = params.required("USERNAME")?;
                users::username_member(&username)?;
                Ok(AuthRequest::Srp {
                    username,
                    srp_a: params.required("SRP_A")?,
                    secret_hash,
                })
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => Ok(AuthRequest::Refresh {
                token: params.secret("REFRESH_TOKEN")?,
                username: params.optional("USERNAME"),
                secret_hash,
            }),
            "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Err(
                UserPoolsError::InvalidParameter("Initiate Auth method not supported.".into()),
            ),
            "CUSTOM_AUTH" | "USER_AUTH" => Err(UserPoolsError::InvalidParameter(format!(
                "{flow} is not supported by this user pool."
            ))),
            other => Err(UserPoolsError::constraint(
                other,
                "authFlow",
                &format!("Member must satisfy enum value set: {AUTH_FLOWS}"),
            )),
        }
    }

    fn flow(&self) -> (Flow, &'static str) {
        match self {
            AuthRequest::Password {
                flow: Flow::AdminUserPassword,
                ..
            } => (Flow::AdminUserPassword, "ADMIN_USER_PASSWORD_AUTH"),
            AuthRequest::Password { .. } => (Flow::UserPassword, "USER_PASSWORD_AUTH"),
            AuthRequest::Srp { .. } => (Flow::UserSrp, "USER_SRP_AUTH"),
            AuthRequest::Refresh { .. } => (Flow::Refresh, "REFRESH_TOKEN_AUTH"),
        }
    }

    async fn run(self, svc: &UserPoolsService, client: &AuthClient) -> Reply {
        let (flow, name) = self.flow();
        if !client.allows(flow) {
            return Err(UserPoolsError::InvalidParameter(format!(
                "{name} flow not enabled for this client"
            )));
        }
        match self {
            AuthRequest::Password {
                username,
                password,
                secret_hash,
                ..
            } => {
                sign_in::with_password(svc, client, &username, password, secret_hash.as_deref())
                    .await
            }
            AuthRequest::Srp {
                username,
                srp_a,
                secret_hash,
            } => sign_in::srp_start(svc, client, &username, srp_a, secret_hash.as_deref()).await,
            AuthRequest::Refresh {
                token,
                username,
                secret_hash,
            } => {
                sign_in::refresh(
                    svc,
                    client,
                    &token,
                    username.as_deref(),
                    secret_hash.as_deref(),
                )
                .await
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuthInput {
    auth_flow: String,
    auth_parameters: Option<HashMap<String, String>>,
    client_id: String,
    user_pool_id: Option<String>,
}

pub(crate) struct InitiateAuth {
    client_id: String,
    request: AuthRequest,
}

#[async_trait::async_trait]
impl UserPoolsOperation for InitiateAuth {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: InitiateAuthInput = wire::decode(body)?;
        Ok(InitiateAuth {
            client_id: client_id_member(input.client_id)?,
            request: AuthRequest::parse(
                &input.auth_flow,
                Parameters::new(input.auth_parameters),
                false,
            )?,
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
        let client = AuthClient::public(svc, &self.client_id).await?;
        self.request.run(svc, &client).await
    }
}

pub(crate) struct AdminInitiateAuth {
    pool: NamedPool,
    client_id: String,
    request: AuthRequest,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminInitiateAuth {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: InitiateAuthInput = wire::decode(body)?;
        let pool = input.user_pool_id.ok_or_else(|| {
            UserPoolsError::constraint("null", "userPoolId", "Member must not be null")
        })?;
        Ok(AdminInitiateAuth {
            pool: NamedPool::parse(pool)?,
            client_id: client_id_member(input.client_id)?,
            request: AuthRequest::parse(
                &input.auth_flow,
                Parameters::new(input.auth_parameters),
                true,
            )?,
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
        let client = AuthClient::admin(svc, self.pool.into_pool()?, &self.client_id).await?;
        self.request.run(svc, &client).await
    }
}

/// What a RespondToAuthChallenge answers, read once.
enum ChallengeAnswer {
    NewPassword {
        session: String,
        username: String,
        new_password: Zeroizing<String>,
        attributes: Vec<Attribute>,
        secret_hash: Option<String>,
    },
    PasswordVerifier(VerifierAnswer),
    SoftwareTokenMfa {
        session: String,
        username: String,
        code: Zeroizing<String>,
        secret_hash: Option<String>,
    },
    MfaSetup {
        session: String,
        username: String,
        secret_hash: Option<String>,
    },
}

const CHALLENGE_NAMES: &str = "[SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP, PASSWORD_VERIFIER, CUSTOM_CHALLENGE, SELECT_CHALLENGE, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER, ADMIN_NO_SRP_AUTH, NEW_PASSWORD_REQUIRED, SMS_OTP, PASSWORD, WEB_AUTHN, PASSWORD_SRP]";

impl ChallengeAnswer {
    fn parse(
        name: &str,
        session: Option<String>,
        params: Parameters,
    ) -> Result<Self, UserPoolsError> {
        let challenge = match Challenge::parse(name) {
            Some(c) => c,
            None if CHALLENGE_NAMES
                .trim_matches(['[', ']'])
                .split(", ")
                .any(|n| n == name) =>
            {
                return Err(UserPoolsError::InvalidParameter(format!(
                    "{name} is not a challenge this user pool issues."
                )))
            }
            None => {
                return Err(UserPoolsError::constraint(
                    name,
                    "challengeName",
                    &format!("Member must satisfy enum value set: {CHALLENGE_NAMES}"),
                ))
            }
        };
        let secret_hash = params.optional("SECRET_HASH");
        let username = params.required("USERNAME")?;
        users::username_member(&username)?;
        match challenge {
            Challenge::NewPasswordRequired => {
                let session = session
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| missing("Session"))?;
                let mut attributes = Vec::new();
                for (key, value) in &params.0 {
                    if let Some(name) = key.strip_prefix("userAttributes.") {
                        attributes.push(AttributeInput {
                            name: name.to_owned(),
                            value: Some(value.to_string()),
                        });
                    }
                }
                Ok(ChallengeAnswer::NewPassword {
                    session,
                    username,
                    new_password: passwords::password_member(
                        params.secret("NEW_PASSWORD")?.to_string(),
                        "newPassword",
                    )?,
                    attributes: super::user_shapes::attributes(Some(attributes))?,
                    secret_hash,
                })
            }
            Challenge::PasswordVerifier => Ok(ChallengeAnswer::PasswordVerifier(VerifierAnswer {
                username,
                secret_block: params.required("PASSWORD_CLAIM_SECRET_BLOCK")?,
                signature: params.required("PASSWORD_CLAIM_SIGNATURE")?,
                timestamp: params.required("TIMESTAMP")?,
                secret_hash,
            })),
            Challenge::SoftwareTokenMfa => Ok(ChallengeAnswer::SoftwareTokenMfa {
                session: session
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| missing("Session"))?,
                username,
                code: params.secret("SOFTWARE_TOKEN_MFA_CODE")?,
                secret_hash,
            }),
            Challenge::MfaSetup => Ok(ChallengeAnswer::MfaSetup {
                session: session
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| missing("Session"))?,
                username,
                secret_hash,
            }),
        }
    }

    async fn run(self, svc: &UserPoolsService, client: &AuthClient) -> Reply {
        match self {
            ChallengeAnswer::NewPassword {
                session,
                username,
                new_password,
                attributes,
                secret_hash,
            } => {
                sign_in::new_password(
                    svc,
                    client,
                    &session,
                    &username,
                    new_password,
                    attributes,
                    secret_hash.as_deref(),
                )
                .await
            }
            ChallengeAnswer::PasswordVerifier(answer) => {
                sign_in::srp_verify(svc, client, answer).await
            }
            ChallengeAnswer::SoftwareTokenMfa {
                session,
                username,
                code,
                secret_hash,
            } => {
                crate::auth::mfa::totp_code(
                    svc,
                    client,
                    &session,
                    &username,
                    &code,
                    secret_hash.as_deref(),
                )
                .await
            }
            ChallengeAnswer::MfaSetup {
                session,
                username,
                secret_hash,
            } => {
                crate::auth::mfa::mfa_setup_done(
                    svc,
                    client,
                    &session,
                    &username,
                    secret_hash.as_deref(),
                )
                .await
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RespondInput {
    client_id: String,
    challenge_name: String,
    session: Option<String>,
    challenge_responses: Option<HashMap<String, String>>,
    user_pool_id: Option<String>,
}

pub(crate) struct RespondToAuthChallenge {
    client_id: String,
    answer: ChallengeAnswer,
}

#[async_trait::async_trait]
impl UserPoolsOperation for RespondToAuthChallenge {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: RespondInput = wire::decode(body)?;
        Ok(RespondToAuthChallenge {
            client_id: client_id_member(input.client_id)?,
            answer: ChallengeAnswer::parse(
                &input.challenge_name,
                input.session,
                Parameters::new(input.challenge_responses),
            )?,
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
        let client = AuthClient::public(svc, &self.client_id).await?;
        self.answer.run(svc, &client).await
    }
}

pub(crate) struct AdminRespondToAuthChallenge {
    pool: NamedPool,
    client_id: String,
    answer: ChallengeAnswer,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminRespondToAuthChallenge {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: RespondInput = wire::decode(body)?;
        let pool = input.user_pool_id.ok_or_else(|| {
            UserPoolsError::constraint("null", "userPoolId", "Member must not be null")
        })?;
        Ok(AdminRespondToAuthChallenge {
            pool: NamedPool::parse(pool)?,
            client_id: client_id_member(input.client_id)?,
            answer: ChallengeAnswer::parse(
                &input.challenge_name,
                input.session,
                Parameters::new(input.challenge_responses),
            )?,
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
        let client = AuthClient::admin(svc, self.pool.into_pool()?, &self.client_id).await?;
        self.answer.run(svc, &client).await
    }
}
