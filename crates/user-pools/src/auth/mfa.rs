//! TOTP software tokens (RFC 6238, the identity crate's `totp`): associating a secret with a
//! user (sealed, [`SealPurpose::UserTotpSecret`]), verifying a first code, and checking a code
//! at sign-in — each time step is accepted once (`last_used_step`), so a code seen once cannot
//! be replayed.

use rampart_core::SealPurpose;
use rampart_identity::totp::{self, TotpSecret};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::UserPoolsError;
use crate::records::user::{SoftwareToken, UserRecord};
use crate::sealing::{self, user_context};
use crate::UserPoolsService;

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
