//! How often one user may be sent a code by the public operations (ResendConfirmationCode,
//! ForgotPassword): at most [`MAX_SENDS_PER_WINDOW`] per hour, then `LimitExceededException`.
//! Each new code comes with [`crate::records::user::MAX_CODE_ATTEMPTS`] fresh guesses, so
//! without this bound a six-digit code falls to anyone who asks for codes often enough; with
//! it, at most 25 guesses an hour. Kept in a record of its own per user
//! (`cognito-idp/code-sends`, `<pool id>/<sub>`), deleted with the pool.

use rampart_store::{Expect, Write};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::UserPoolsError;
use crate::records::{self, ns, pool_key};
use crate::UserPoolsService;

/// Codes one user may be sent per window.
pub const MAX_SENDS_PER_WINDOW: u32 = 5;
/// The window.
pub const WINDOW: Duration = Duration::hours(1);

/// The current window of a user's code sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    pub sent: u32,
}

/// Counts one more code for the user `sub` of `pool_id` at `now`: the write to commit with the
/// code, or `LimitExceededException` past the bound.
pub async fn claim(
    svc: &UserPoolsService,
    pool_id: &str,
    sub: &str,
    now: OffsetDateTime,
) -> Result<Write, UserPoolsError> {
    let key = pool_key(pool_id, sub);
    let stored = records::load::<SendWindow>(svc.store.as_ref(), ns::CODE_SENDS, &key).await?;
    let (next, expect) = match stored {
        Some(s) if s.record.started_at + WINDOW > now => {
            if s.record.sent >= MAX_SENDS_PER_WINDOW {
                return Err(UserPoolsError::LimitExceeded(
                    "Attempt limit exceeded, please try after some time.".into(),
                ));
            }
            (
                SendWindow {
                    started_at: s.record.started_at,
                    sent: s.record.sent + 1,
                },
                Expect::Version(s.version),
            )
        }
        Some(s) => (
            SendWindow {
                started_at: now,
                sent: 1,
            },
            Expect::Version(s.version),
        ),
        None => (
            SendWindow {
                started_at: now,
                sent: 1,
            },
            Expect::Absent,
        ),
    };
    Ok(records::put(ns::CODE_SENDS, key, &next, expect))
}
