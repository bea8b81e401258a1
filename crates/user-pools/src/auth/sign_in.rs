//! The sign-in flows themselves, shared by the public and `Admin*` operations: a password
//! (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH), SRP (USER_SRP_AUTH → PASSWORD_VERIFIER), a
//! new password for a temporary one (NEW_PASSWORD_REQUIRED) and a refresh token.
//!
//! Unknown users cost what a wrong password costs (the hasher's decoy hash, an SRP decoy
//! verifier). When the client has PreventUserExistenceErrors, they are answered exactly as a
//! wrong password — the same error, the same lockout — and otherwise with
//! `UserNotFoundException`, as Cognito does. Passwords, SRP values and tokens are never logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rampart_core::SealPurpose;
use rampart_identity::password::{PolicyWording, Verification};
use rampart_identity::srp::{
    pool_name_for_srp, verify_password_claim, PasswordClaim, PasswordVerifier, ServerChallenge,
    SessionKey, SESSION_KEY_BYTES,
};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::lockout::{self, Attempts};
use super::session::{Challenge, ChallengeSession};
use super::tokens::{self, refresh_token_digest};
use super::AuthClient;
use crate::error::UserPoolsError;
use crate::records::auth::{family_key, RefreshTokenRecord, TokenFamilyRecord};
use crate::records::pool::MfaConfiguration;
use crate::records::user::{username_key, Attribute, UserRecord, UserStatus};
use crate::records::{self, ns, pool_key, Stored};
use crate::sealing::{self, user_context};
use crate::service::now;
use crate::{passwords, users, UserPoolsService};

/// An operation's JSON answer.
pub type Reply = Result<Vec<u8>, UserPoolsError>;

/// How far a PASSWORD_VERIFIER `TIMESTAMP` may be from the server's clock.
const CLAIM_WINDOW: Duration = Duration::minutes(5);

fn incorrect() -> UserPoolsError {
    UserPoolsError::NotAuthorized("Incorrect username or password.".into())
}

pub(crate) fn reply(value: &Value) -> Reply {
    serde_json::to_vec(value)
        .map_err(|_| UserPoolsError::Internal("The answer could not be encoded.".into()))
}

/// The key failures are counted under: the user's username key, or the name as given.
fn name_key(client: &AuthClient, user: Option<&Stored<UserRecord>>, given: &str) -> String {
    let case_sensitive = client.pool().config.username_case_sensitive;
    match user {
        Some(u) => username_key(&u.record.username, case_sensitive),
        None => username_key(given, case_sensitive),
    }
}

/// USER_PASSWORD_AUTH / ADMIN_USER_PASSWORD_AUTH.
pub async fn with_password(
    svc: &UserPoolsService,
    client: &AuthClient,
    username: &str,
    password: Zeroizing<String>,
    secret_hash: Option<&str>,
) -> Reply {
    client.check_secret_hash(svc, &[username], secret_hash)?;
    let at = now();
    let found = users::find(svc, client.pool(), username).await?;
    let hide = client.client().prevent_user_existence_errors;
    if found.is_none() && !hide {
        let _ = decoy_password_check(svc, password).await?;
        return Err(UserPoolsError::user_not_found());
    }
    let attempts = Attempts::check(
        svc,
        &client.pool().id,
        &name_key(client, found.as_ref(), username),
        at,
    )
    .await?;
    let verification = match &found {
        Some(user) => passwords::verify(svc, &user.record, password.clone()).await?,
        None => decoy_password_check(svc, password.clone()).await?,
    };
    match (found, verification) {
        (Some(user), Verification::MatchNeedsRehash) => {
            rehash(svc, client, &user, password).await;
            after_password(svc, client, user, &attempts, at).await
        }
        (Some(user), Verification::Match) => after_password(svc, client, user, &attempts, at).await,
        _ => Err(lockout::refuse(svc, &attempts, at, incorrect()).await),
    }
}

/// A right password whose hash was made at another Argon2id cost is hashed again at the
/// configured one while the plaintext is at hand (its SRP verifier is made afresh with it).
/// Best effort: a failure leaves the old, still valid, hash.
async fn rehash(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: &Stored<UserRecord>,
    password: Zeroizing<String>,
) {
    let mut next = user.record.clone();
    let until = user
        .record
        .password
        .as_ref()
        .and_then(|p| p.temporary_until);
    let done = async {
        next.password = Some(passwords::secrets(svc, &next, password, until).await?);
        let writes = users::save(svc, client.pool(), Some(user), &next).await?;
        svc.store.commit(writes).await?;
        Ok::<_, UserPoolsError>(())
    };
    if let Err(e) = done.await {
        tracing::warn!(error = %e, "a password hash could not be renewed at the configured cost");
    }
}

async fn decoy_password_check(
    svc: &UserPoolsService,
    password: Zeroizing<String>,
) -> Result<Verification, UserPoolsError> {
    let hasher = svc.hasher.clone();
    tokio::task::spawn_blocking(move || hasher.verify_unknown_user(&password))
        .await
        .map_err(|_| UserPoolsError::Internal("Password check was interrupted.".into()))
}

/// The user proved its password: the counter is cleared, then its state decides — refused,
/// NEW_PASSWORD_REQUIRED, or tokens.
async fn after_password(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: Stored<UserRecord>,
    attempts: &Attempts,
    at: OffsetDateTime,
) -> Reply {
    let cleared = attempts.succeeded();
    let refuse = |error: UserPoolsError| async {
        if let Some(write) = attempts.succeeded() {
            svc.store.commit(vec![write]).await?;
        }
        Err::<Vec<u8>, _>(error)
    };
    let u = &user.record;
    if !u.enabled {
        return refuse(UserPoolsError::NotAuthorized("User is disabled.".into())).await;
    }
    match u.status {
        UserStatus::Unconfirmed => {
            return refuse(UserPoolsError::UserNotConfirmed(
                "User is not confirmed.".into(),
            ))
            .await
        }
        UserStatus::ResetRequired => {
            return refuse(UserPoolsError::PasswordResetRequired(
                "Password reset required for the user".into(),
            ))
            .await
        }
        UserStatus::ForceChangePassword => {
            let expired = u
                .password
                .as_ref()
                .and_then(|p| p.temporary_until)
                .is_some_and(|until| until <= at);
            if expired {
                return refuse(UserPoolsError::NotAuthorized(
                    "Temporary password has expired and must be reset by an administrator.".into(),
                ))
                .await;
            }
            if let Some(write) = cleared {
                svc.store.commit(vec![write]).await?;
            }
            return new_password_challenge(svc, client, u, at);
        }
        UserStatus::Confirmed => {}
    }
    // A second factor, when the pool asks for one.
    let mfa = match client.pool().config.mfa_configuration {
        MfaConfiguration::Off => None,
        MfaConfiguration::Optional => u.totp_enabled().then_some(Challenge::SoftwareTokenMfa),
        MfaConfiguration::On if u.totp_enabled() => Some(Challenge::SoftwareTokenMfa),
        MfaConfiguration::On => Some(Challenge::MfaSetup),
    };
    if let Some(challenge) = mfa {
        // The counter stays until the second factor is proved too: wrong codes count toward
        // the same lockout (as Cognito counts them), and a right password must not reset what
        // wrong codes earned.
        return super::mfa::challenge(svc, client, u, challenge, at);
    }
    let issued = tokens::issue(svc, client, u, None, at).await?;
    let mut writes = issued.writes;
    writes.extend(cleared);
    rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    reply(&json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.result }))
}

/// The user a session names, still the same user (`sub`), named by `username` in the answer.
pub async fn session_user(
    svc: &UserPoolsService,
    client: &AuthClient,
    session: &ChallengeSession,
    username: &str,
) -> Result<Stored<UserRecord>, UserPoolsError> {
    users::find(svc, client.pool(), username)
        .await?
        .filter(|u| Some(&u.record.sub) == session.sub.as_ref())
        .ok_or_else(|| UserPoolsError::NotAuthorized("Invalid session for the user.".into()))
}

fn new_password_challenge(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: &UserRecord,
    at: OffsetDateTime,
) -> Reply {
    let session = ChallengeSession::new(
        &client.pool().id,
        &client.client().client_id,
        Challenge::NewPasswordRequired,
        &user.username,
        Some(&user.sub),
        client.client().auth_session_validity_minutes,
        at,
    )?;
    let attributes: serde_json::Map<String, Value> = user
        .attributes
        .iter()
        .map(|a| (a.name.clone(), json!(a.value)))
        .collect();
    reply(&json!({
        "ChallengeName": Challenge::NewPasswordRequired.name(),
        "Session": session.seal(svc),
        "ChallengeParameters": {
            "USER_ID_FOR_SRP": user.username,
            "requiredAttributes": "[]",
            "userAttributes": Value::Object(attributes).to_string(),
        },
    }))
}

/// RespondToAuthChallenge NEW_PASSWORD_REQUIRED: the session's user sets a permanent password
/// (and any `userAttributes.*` given), then gets tokens.
pub async fn new_password(
    svc: &UserPoolsService,
    client: &AuthClient,
    session: &str,
    username: &str,
    new_password: Zeroizing<String>,
    attributes: Vec<Attribute>,
    secret_hash: Option<&str>,
) -> Reply {
    let at = now();
    let session = ChallengeSession::open(
        svc,
        &client.pool().id,
        &client.client().client_id,
        Challenge::NewPasswordRequired,
        session,
        at,
    )
    .await?;
    let user = users::find(svc, client.pool(), username)
        .await?
        .filter(|u| Some(&u.record.sub) == session.sub.as_ref())
        .ok_or_else(|| UserPoolsError::NotAuthorized("Invalid session for the user.".into()))?;
    client.check_secret_hash(svc, &[username, &user.record.username], secret_hash)?;
    if user.record.status != UserStatus::ForceChangePassword {
        return Err(UserPoolsError::NotAuthorized(
            "Invalid session for the user.".into(),
        ));
    }
    passwords::check_policy(client.pool(), &new_password, PolicyWording::Change)?;
    crate::api::check_attributes(client.pool(), &attributes, false)?;
    let mut next = user.record.clone();
    for a in attributes {
        next.set_attribute(&a.name, &a.value);
    }
    next.password = Some(passwords::secrets(svc, &next, new_password, None).await?);
    next.status = UserStatus::Confirmed;
    next.last_modified_at = at;
    let mut writes = users::save(svc, client.pool(), Some(&user), &next).await?;
    let issued = tokens::issue(svc, client, &next, None, at).await?;
    writes.extend(issued.writes);
    rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    reply(&json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.result }))
}

/// USER_SRP_AUTH: answers the client's `SRP_A` with `SRP_B`, `SALT` and a `SECRET_BLOCK`
/// carrying the session key.
pub async fn srp_start(
    svc: &UserPoolsService,
    client: &AuthClient,
    username: &str,
    srp_a: String,
    secret_hash: Option<&str>,
) -> Reply {
    client.check_secret_hash(svc, &[username], secret_hash)?;
    let at = now();
    let pool = client.pool();
    let found = users::find(svc, pool, username).await?;
    if found.is_none() && !client.client().prevent_user_existence_errors {
        return Err(UserPoolsError::user_not_found());
    }
    Attempts::check(
        svc,
        &pool.id,
        &name_key(client, found.as_ref(), username),
        at,
    )
    .await?;
    let (user_id, sub, verifier) = match &found {
        Some(user) => {
            let u = &user.record;
            let verifier = match &u.password {
                Some(p) => {
                    let bytes = sealing::open(
                        &svc.keyring,
                        SealPurpose::UserSrpVerifier,
                        &user_context(&u.pool_id, &u.sub),
                        &p.sealed_srp_verifier,
                    )?;
                    Some(PasswordVerifier::from_bytes(&bytes).map_err(|_| {
                        UserPoolsError::Internal("A stored SRP verifier is unreadable.".into())
                    })?)
                }
                None => None,
            };
            (u.username.clone(), Some(u.sub.clone()), verifier)
        }
        None => (username.to_owned(), None, None),
    };
    let verifier = match verifier {
        Some(v) => v,
        // A user without a password, or no user: a decoy whose exchange can never succeed.
        None => {
            let keys = tokens::pool_keys(svc, &pool.id).await?;
            let key = tokens::decoy_key(&keys)?;
            PasswordVerifier::decoy(&key, pool_name_for_srp(&pool.id), &user_id)
        }
    };
    let challenge = tokio::task::spawn_blocking(move || ServerChallenge::begin(&verifier, &srp_a))
        .await
        .map_err(|_| UserPoolsError::Internal("SRP was interrupted.".into()))?
        .map_err(|e| UserPoolsError::InvalidParameter(format!("Invalid SRP_A: {e}")))?;
    let mut session = ChallengeSession::new(
        &pool.id,
        &client.client().client_id,
        Challenge::PasswordVerifier,
        &user_id,
        sub.as_deref(),
        client.client().auth_session_validity_minutes,
        at,
    )?;
    session.srp_key = Some(STANDARD.encode(challenge.session_key.as_bytes()));
    reply(&json!({
        "ChallengeName": Challenge::PasswordVerifier.name(),
        "ChallengeParameters": {
            "SALT": challenge.salt,
            "SECRET_BLOCK": session.seal(svc),
            "SRP_B": challenge.srp_b,
            "USERNAME": user_id,
            "USER_ID_FOR_SRP": user_id,
        },
    }))
}

/// What a PASSWORD_VERIFIER answer carries.
pub struct VerifierAnswer {
    pub username: String,
    pub secret_block: String,
    pub signature: String,
    pub timestamp: String,
    pub secret_hash: Option<String>,
}

/// RespondToAuthChallenge PASSWORD_VERIFIER: checks the password claim signed with the
/// session key, then continues as a password sign-in.
pub async fn srp_verify(
    svc: &UserPoolsService,
    client: &AuthClient,
    answer: VerifierAnswer,
) -> Reply {
    let at = now();
    let pool = client.pool();
    let session = ChallengeSession::open(
        svc,
        &pool.id,
        &client.client().client_id,
        Challenge::PasswordVerifier,
        &answer.secret_block,
        at,
    )
    .await?;
    if answer.username != session.username {
        return Err(incorrect());
    }
    client.check_secret_hash(svc, &[&answer.username], answer.secret_hash.as_deref())?;
    let case_sensitive = pool.config.username_case_sensitive;
    let attempts = Attempts::check(
        svc,
        &pool.id,
        &username_key(&session.username, case_sensitive),
        at,
    )
    .await?;
    let key = session
        .srp_key
        .as_deref()
        .and_then(|k| STANDARD.decode(k).ok())
        .and_then(|k| <[u8; SESSION_KEY_BYTES]>::try_from(k.as_slice()).ok())
        .map(SessionKey::from_bytes)
        .ok_or_else(|| UserPoolsError::NotAuthorized("Invalid session for the user.".into()))?;
    let block = STANDARD
        .decode(answer.secret_block.trim())
        .map_err(|_| incorrect())?;
    let claim = PasswordClaim {
        secret_block: &block,
        timestamp: &answer.timestamp,
        signature: &answer.signature,
    };
    let verified = verify_password_claim(
        &key,
        pool_name_for_srp(&pool.id),
        &session.username,
        &claim,
        at,
        CLAIM_WINDOW,
    );
    let user = match (&session.sub, verified) {
        (Some(sub), Ok(())) => users::find(svc, pool, &session.username)
            .await?
            .filter(|u| &u.record.sub == sub),
        _ => None,
    };
    match user {
        Some(user) => after_password(svc, client, user, &attempts, at).await,
        None => Err(lockout::refuse(svc, &attempts, at, incorrect()).await),
    }
}

/// REFRESH_TOKEN_AUTH / REFRESH_TOKEN: new ID and access tokens in the refresh token's family.
pub async fn refresh(
    svc: &UserPoolsService,
    client: &AuthClient,
    token: &str,
    username: Option<&str>,
    secret_hash: Option<&str>,
) -> Reply {
    let at = now();
    let pool = client.pool();
    let invalid = || UserPoolsError::NotAuthorized("Invalid Refresh Token".into());
    let record = records::load::<RefreshTokenRecord>(
        svc.store.as_ref(),
        ns::REFRESH_TOKENS,
        &pool_key(&pool.id, &refresh_token_digest(token)),
    )
    .await?
    .ok_or_else(invalid)?
    .record;
    if record.client_id != client.client().client_id {
        return Err(invalid());
    }
    let mut names = vec![record.username.as_str(), record.sub.as_str()];
    names.extend(username);
    client.check_secret_hash(svc, &names, secret_hash)?;
    if record.expires_at <= at {
        return Err(UserPoolsError::NotAuthorized(
            "Refresh Token has expired".into(),
        ));
    }
    let family = records::load::<TokenFamilyRecord>(
        svc.store.as_ref(),
        ns::TOKEN_FAMILIES,
        &family_key(&pool.id, &record.sub, &record.origin_jti),
    )
    .await?
    .ok_or_else(invalid)?;
    if family.record.revoked_at.is_some() {
        return Err(UserPoolsError::NotAuthorized(
            "Refresh Token has been revoked".into(),
        ));
    }
    let user = users::find(svc, pool, &record.username)
        .await?
        .filter(|u| u.record.sub == record.sub)
        .ok_or_else(|| UserPoolsError::NotAuthorized("User does not exist.".into()))?;
    if !user.record.enabled {
        return Err(UserPoolsError::NotAuthorized("User is disabled.".into()));
    }
    let issued = tokens::issue(svc, client, &user.record, Some(&family.record), at).await?;
    reply(&json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.result }))
}
