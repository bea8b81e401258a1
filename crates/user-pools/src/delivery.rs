//! Sending codes and invitations — into the outbox (see `records::outbox`). A code is six
//! random digits, kept sealed on the user's record (single-use, expiring, attempts counted)
//! and sealed again in the outbox message that "delivers" it.

use rampart_core::SealPurpose;
use rampart_store::{Expect, Write};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::error::UserPoolsError;
use crate::records::outbox::{
    masked_destination, new_message_id, DeliveryMedium, MessageKind, OutboxMessage,
};
use crate::records::user::{CodeKind, PendingCode, UserRecord, MAX_CODE_ATTEMPTS};
use crate::records::{self, ns, pool_key};
use crate::sealing::{self, code_context, outbox_context};
use crate::UserPoolsService;

/// How long a code lasts: 24 hours for sign-up and attribute codes, 1 hour for a password
/// reset (Cognito's figures).
pub fn code_lifetime(kind: CodeKind) -> Duration {
    match kind {
        CodeKind::ForgotPassword => Duration::hours(1),
        _ => Duration::hours(24),
    }
}

/// Six random digits.
pub fn new_code() -> Result<Zeroizing<String>, UserPoolsError> {
    crate::ids::random_string(b"0123456789", 6).map(Zeroizing::new)
}

/// Where a message for `user` goes: the first of `mediums` whose attribute the user has
/// (verified, when `verified_only`).
pub fn destination(
    user: &UserRecord,
    mediums: &[DeliveryMedium],
    verified_only: bool,
) -> Option<(DeliveryMedium, String)> {
    mediums.iter().find_map(|m| {
        let attribute = m.attribute();
        let value = user.attribute(attribute)?;
        (!verified_only || user.is_verified(attribute)).then(|| (*m, value.to_owned()))
    })
}

/// Puts a fresh code of `kind` on `user` and a message carrying it into the outbox, to
/// `medium`/`destination`; answers the `CodeDeliveryDetails` and the outbox write (commit it
/// with the user).
pub fn issue_code(
    svc: &UserPoolsService,
    user: &mut UserRecord,
    kind: CodeKind,
    medium: DeliveryMedium,
    destination: &str,
    now: OffsetDateTime,
) -> Result<(Value, Write), UserPoolsError> {
    let code = new_code()?;
    let expires_at = now + code_lifetime(kind);
    user.set_code(PendingCode {
        kind,
        sealed_code: sealing::seal(
            &svc.keyring,
            SealPurpose::UserCode,
            &code_context(&user.pool_id, &user.sub, kind),
            code.as_bytes(),
        ),
        expires_at,
        failed_attempts: 0,
    });
    let write = outbox_write(
        svc,
        user,
        MessageKind::Code(kind),
        medium,
        destination,
        &code,
        now,
        expires_at,
    )?;
    Ok((delivery_details(medium, destination), write))
}

/// An invitation (AdminCreateUser) carrying the temporary password.
pub fn invitation(
    svc: &UserPoolsService,
    user: &UserRecord,
    medium: DeliveryMedium,
    destination: &str,
    temporary_password: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<Write, UserPoolsError> {
    outbox_write(
        svc,
        user,
        MessageKind::Invitation,
        medium,
        destination,
        temporary_password,
        now,
        expires_at,
    )
}

#[allow(clippy::too_many_arguments)]
fn outbox_write(
    svc: &UserPoolsService,
    user: &UserRecord,
    kind: MessageKind,
    medium: DeliveryMedium,
    destination: &str,
    secret: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<Write, UserPoolsError> {
    let id = new_message_id(now)?;
    let message = OutboxMessage {
        sealed_secret: sealing::seal(
            &svc.keyring,
            SealPurpose::UserPoolOutboxMessage,
            &outbox_context(&user.pool_id, &id),
            secret.as_bytes(),
        ),
        id: id.clone(),
        pool_id: user.pool_id.clone(),
        username: user.username.clone(),
        sub: user.sub.clone(),
        kind,
        medium,
        destination: destination.to_owned(),
        created_at: now,
        expires_at,
    };
    Ok(records::put(
        ns::OUTBOX,
        pool_key(&user.pool_id, &id),
        &message,
        Expect::Absent,
    ))
}

/// `CodeDeliveryDetailsType`.
pub fn delivery_details(medium: DeliveryMedium, destination: &str) -> Value {
    json!({
        "Destination": masked_destination(medium, destination),
        "DeliveryMedium": medium.as_str(),
        "AttributeName": medium.attribute(),
    })
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right: the code is gone from the record (single-use).
    Accepted,
    /// Wrong: one more failed attempt is on the record (commit it).
    Mismatch,
}

/// Checks `given` against the user's pending code of `kind`, in constant time. No code, an
/// expired one or one past its attempts is `ExpiredCodeException`; the record is changed
/// either way (code consumed, or an attempt counted) and must be committed.
pub fn check_code(
    svc: &UserPoolsService,
    user: &mut UserRecord,
    kind: CodeKind,
    given: &str,
    now: OffsetDateTime,
) -> Result<CodeCheck, UserPoolsError> {
    let expired = || {
        UserPoolsError::ExpiredCode("Invalid code provided, please request a code again.".into())
    };
    let Some(pending) = user.code(kind).cloned() else {
        return Err(expired());
    };
    if pending.expires_at <= now || pending.failed_attempts >= MAX_CODE_ATTEMPTS {
        return Err(expired());
    }
    let code = sealing::open(
        &svc.keyring,
        SealPurpose::UserCode,
        &code_context(&user.pool_id, &user.sub, kind),
        &pending.sealed_code,
    )?;
    if bool::from(code.as_slice().ct_eq(given.as_bytes())) {
        user.clear_code(kind);
        Ok(CodeCheck::Accepted)
    } else {
        let mut next = pending;
        next.failed_attempts += 1;
        user.set_code(next);
        Ok(CodeCheck::Mismatch)
    }
}
