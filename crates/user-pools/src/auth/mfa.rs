//! TOTP software tokens (RFC 6238, the identity crate's `totp`): associating a secret with a
//! user (sealed, [`SealPurpose::UserTotpSecret`]), verifying a first code, and checking a code
//! at sign-in — each time step is accepted once (`last_used_step`), so a code seen once cannot
//! be replayed, and a wrong code at sign-in counts toward the user's lockout like a wrong
//! password (the counter is cleared only when the sign-in completes).

use rampart_core::SealPurpose;
use rampart_identity::totp::{self, TotpSecret};
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::lockout::{self, Attempts};
use super::session::{Challenge, ChallengeSession};
use super::sign_in::{reply, session_user, Reply};
use super::{tokens, AuthClient};
use crate::error::UserPoolsError;
use crate::records::user::{username_key, SoftwareToken, UserRecord};
use crate::sealing::{self, user_context};
use crate::service::now;
use crate::{users, UserPoolsService};

/// Puts a fresh, unverified secret on `user` and answers it (base32, for the authenticator).
pub fn associate(
    svc: &UserPoolsService,
    user: &mut UserRecord,
) -> Result<Zeroizing<String>, UserPoolsError> {
    let secret = TotpSecret::generate()
        .map_err(|e| UserPoolsError::Internal(format!("A TOTP secret could not be made: {e}")))?;
    user.software_token = Some(SoftwareToken {
        sealed_secret: sealing::seal(
            &svc.keyring,
            SealPurpose::UserTotpSecret,
            &user_context(&user.pool_id, &user.sub),
            secret.as_bytes(),
        ),
        verified: false,
        enabled: false,
        preferred: false,
        last_used_step: None,
    });
    Ok(secret.to_base32())
}

/// Checks `code` against the user's secret and records its step as used. Wrong, replayed or
/// no secret: `CodeMismatchException`.
pub fn check_code(
    svc: &UserPoolsService,
    user: &mut UserRecord,
    code: &str,
    now: OffsetDateTime,
) -> Result<(), UserPoolsError> {
    let mismatch = || UserPoolsError::CodeMismatch("Invalid code received for user".into());
    let context = user_context(&user.pool_id, &user.sub);
    let token = user.software_token.as_mut().ok_or_else(mismatch)?;
    let bytes = sealing::open(
        &svc.keyring,
        SealPurpose::UserTotpSecret,
        &context,
        &token.sealed_secret,
    )?;
    let secret = TotpSecret::from_bytes(&bytes)
        .map_err(|_| UserPoolsError::Internal("A stored TOTP secret is unreadable.".into()))?;
    let step = totp::verify(&secret, code, now, token.last_used_step).map_err(|_| mismatch())?;
    token.last_used_step = Some(step);
    Ok(())
}

/// VerifySoftwareToken: a first right code marks the secret verified; `enable` (the MFA_SETUP
/// challenge) also turns it on for sign-in.
pub fn verify_first_code(
    svc: &UserPoolsService,
    user: &mut UserRecord,
    code: &str,
    enable: bool,
    now: OffsetDateTime,
) -> Result<(), UserPoolsError> {
    if user.software_token.is_none() {
        return Err(UserPoolsError::InvalidParameter(
            "User has not set up software token mfa".into(),
        ));
    }
    check_code(svc, user, code, now).map_err(|e| match e {
        UserPoolsError::CodeMismatch(_) => UserPoolsError::EnableSoftwareTokenMfa(
            "Code mismatch and fail enable Software Token MFA mode".into(),
        ),
        other => other,
    })?;
    if let Some(token) = &mut user.software_token {
        token.verified = true;
        if enable {
            token.enabled = true;
            token.preferred = true;
        }
    }
    Ok(())
}

/// SOFTWARE_TOKEN_MFA (a code from the user's authenticator) or MFA_SETUP (associate one
/// first, with the session).
pub fn challenge(
    svc: &UserPoolsService,
    client: &AuthClient,
    user: &UserRecord,
    challenge: Challenge,
    at: OffsetDateTime,
) -> Reply {
    let session = ChallengeSession::new(
        &client.pool().id,
        &client.client().client_id,
        challenge,
        &user.username,
        Some(&user.sub),
        client.client().auth_session_validity_minutes,
        at,
    )?;
    let parameters = match challenge {
        Challenge::MfaSetup => json!({ "MFAS_CAN_SETUP": "[\"SOFTWARE_TOKEN_MFA\"]" }),
        _ => json!({ "USER_ID_FOR_SRP": user.username }),
    };
    reply(&json!({
        "ChallengeName": challenge.name(),
        "Session": session.seal(svc),
        "ChallengeParameters": parameters,
    }))
}

/// RespondToAuthChallenge SOFTWARE_TOKEN_MFA: a fresh TOTP code (each step accepted once),
/// then tokens.
pub async fn totp_code(
    svc: &UserPoolsService,
    client: &AuthClient,
    session: &str,
    username: &str,
    code: &str,
    secret_hash: Option<&str>,
) -> Reply {
    let at = now();
    let session = ChallengeSession::open(
        svc,
        &client.pool().id,
        &client.client().client_id,
        Challenge::SoftwareTokenMfa,
        session,
        at,
    )
    .await?;
    let user = session_user(svc, client, &session, username).await?;
    client.check_secret_hash(svc, &[username, &user.record.username], secret_hash)?;
    // Wrong codes count toward the user's lockout as wrong passwords do: otherwise whoever
    // knows the password could guess codes without end.
    let attempts = Attempts::check(
        svc,
        &client.pool().id,
        &username_key(
            &user.record.username,
            client.pool().config.username_case_sensitive,
        ),
        at,
    )
    .await?;
    let mut next = user.record.clone();
    match check_code(svc, &mut next, code, at) {
        Ok(()) => {}
        Err(e @ UserPoolsError::CodeMismatch(_)) => {
            return Err(lockout::refuse(svc, &attempts, at, e).await)
        }
        Err(e) => return Err(e),
    }
    let mut writes = users::save(svc, client.pool(), Some(&user), &next).await?;
    let issued = tokens::issue(svc, client, &next, None, at).await?;
    writes.extend(issued.writes);
    writes.extend(attempts.succeeded());
    rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    reply(&json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.result }))
}

/// RespondToAuthChallenge MFA_SETUP: the session VerifySoftwareToken answered, once the
/// authenticator is verified; then tokens.
pub async fn mfa_setup_done(
    svc: &UserPoolsService,
    client: &AuthClient,
    session: &str,
    username: &str,
    secret_hash: Option<&str>,
) -> Reply {
    let at = now();
    let session = ChallengeSession::open(
        svc,
        &client.pool().id,
        &client.client().client_id,
        Challenge::MfaSetup,
        session,
        at,
    )
    .await?;
    let user = session_user(svc, client, &session, username).await?;
    client.check_secret_hash(svc, &[username, &user.record.username], secret_hash)?;
    if !user.record.totp_enabled() {
        return Err(UserPoolsError::NotAuthorized(
            "Software token MFA has not been verified for the user.".into(),
        ));
    }
    let attempts = Attempts::check(
        svc,
        &client.pool().id,
        &username_key(
            &user.record.username,
            client.pool().config.username_case_sensitive,
        ),
        at,
    )
    .await?;
    let issued = tokens::issue(svc, client, &user.record, None, at).await?;
    let mut writes = issued.writes;
    writes.extend(attempts.succeeded());
    rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
    reply(&json!({ "ChallengeParameters": {}, "AuthenticationResult": issued.result }))
}
