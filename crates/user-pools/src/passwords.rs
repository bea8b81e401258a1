//! Setting and checking a user's password: the pool's policy (Cognito's
//! `InvalidPasswordException` messages), then both stored forms — the Argon2id PHC string and
//! the SRP verifier (`USER_ID_FOR_SRP` = the stored username, pool name = the part of the pool
//! id after `_`) — computed off the async workers and sealed under the root key.

use rampart_core::SealPurpose;
use rampart_identity::password::{PolicyWording, Verification};
use rampart_identity::srp::{pool_name_for_srp, PasswordVerifier};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::UserPoolsError;
use crate::records::pool::PoolRecord;
use crate::records::user::{PasswordSecrets, UserRecord};
use crate::sealing::{self, user_context};
use crate::UserPoolsService;

/// Refuses a password that breaks the pool's policy, as Cognito words it.
pub fn check_policy(
    pool: &PoolRecord,
    password: &str,
    wording: PolicyWording,
) -> Result<(), UserPoolsError> {
    pool.config
        .policies
        .password_policy
        .policy()
        .check(password)
        .map_err(|v| UserPoolsError::InvalidPassword(v.message(wording)))
}

/// The sealed stored forms of `password` for `user` (the policy already checked).
/// `temporary_until` marks a temporary password.
pub async fn secrets(
    svc: &UserPoolsService,
    user: &UserRecord,
    password: Zeroizing<String>,
    temporary_until: Option<OffsetDateTime>,
) -> Result<PasswordSecrets, UserPoolsError> {
    let hasher = svc.hasher.clone();
    let pool_name = pool_name_for_srp(&user.pool_id).to_owned();
    let srp_user = user.username.clone();
    // Argon2id costs ~60 ms and 19 MiB, the verifier one 3072-bit exponentiation.
    let (hash, verifier) = tokio::task::spawn_blocking(move || {
        let hash = hasher.hash(&password);
        let verifier = PasswordVerifier::new(&pool_name, &srp_user, &password);
        (hash, verifier)
    })
    .await
    .map_err(|_| UserPoolsError::Internal("Password hashing was interrupted.".into()))?;
    let hash = Zeroizing::new(
        hash.map_err(|e| UserPoolsError::Internal(format!("Password hashing failed: {e}")))?,
    );
    let verifier =
        verifier.map_err(|e| UserPoolsError::Internal(format!("SRP verifier failed: {e}")))?;
    let context = user_context(&user.pool_id, &user.sub);
    Ok(PasswordSecrets {
        sealed_hash: sealing::seal(
            &svc.keyring,
            SealPurpose::UserPasswordHash,
            &context,
            hash.as_bytes(),
        ),
        sealed_srp_verifier: sealing::seal(
            &svc.keyring,
            SealPurpose::UserSrpVerifier,
            &context,
            &verifier.to_bytes(),
        ),
        set_at: OffsetDateTime::now_utc(),
        temporary_until,
    })
}

/// Checks `password` against the user's stored hash (a user without a password, or whose
/// hash does not open, is a mismatch at the same cost).
pub async fn verify(
    svc: &UserPoolsService,
    user: &UserRecord,
    password: Zeroizing<String>,
) -> Result<Verification, UserPoolsError> {
    let hasher = svc.hasher.clone();
    let stored = match &user.password {
        Some(p) => Some(sealing::open_text(
            &svc.keyring,
            SealPurpose::UserPasswordHash,
            &user_context(&user.pool_id, &user.sub),
            &p.sealed_hash,
        )?),
        None => None,
    };
    tokio::task::spawn_blocking(move || match stored {
        Some(hash) => hasher.verify(&password, &hash),
        None => hasher.verify_unknown_user(&password),
    })
    .await
    .map_err(|_| UserPoolsError::Internal("Password check was interrupted.".into()))
}

/// The password's expiry when it is temporary: the policy's `TemporaryPasswordValidityDays`
/// from now.
pub fn temporary_until(pool: &PoolRecord, now: OffsetDateTime) -> OffsetDateTime {
    pool.config
        .policies
        .password_policy
        .policy()
        .temporary_password_expires_at(now)
}

/// Reads a password member: 1 to 256 characters, never echoed in errors.
pub fn password_member(value: String, field: &str) -> Result<Zeroizing<String>, UserPoolsError> {
    let value = Zeroizing::new(value);
    let len = value.chars().count();
    if !(1..=256).contains(&len) {
        return Err(UserPoolsError::secret_constraint(
            field,
            "Member must have length between 1 and 256",
        ));
    }
    Ok(value)
}
