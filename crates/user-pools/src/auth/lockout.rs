//! Failed sign-in attempts — wrong passwords, SRP claims and TOTP codes alike, as Cognito counts
//! them — and the lockout they earn, as Cognito grows it: from the fifth failure in a row, no
//! password or code is checked for 2^(n−5) seconds (1 s, 2 s, 4 s, …), at most
//! [`MAX_LOCKOUT`]. The counter is a store record, so it holds across nodes sharing the store
//! and across restarts; a completed sign-in clears it (a right password followed by a second
//! factor does not, until the factor is proved). Attempts made while locked are refused
//! without being checked or counted (`NotAuthorizedException: Password attempts exceeded`).

use rampart_store::{Expect, Write};
use time::{Duration, OffsetDateTime};

use crate::error::UserPoolsError;
use crate::records::auth::SignInFailuresRecord;
use crate::records::{self, ns, pool_key, Stored};
use crate::UserPoolsService;

/// Failures in a row before the first lockout.
pub const FREE_FAILURES: u32 = 5;
/// The longest lockout (Cognito's is about 15 minutes).
pub const MAX_LOCKOUT: Duration = Duration::minutes(15);

/// How long the `failures`-th failure in a row locks the name out.
pub fn lockout_after(failures: u32) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let exponent = failures - FREE_FAILURES;
    if exponent >= 10 {
        return Some(MAX_LOCKOUT);
    }
    Some(Duration::seconds(1 << exponent).min(MAX_LOCKOUT))
}

/// A sign-in name's counter, as read before the password check.
pub struct Attempts {
    key: String,
    current: Option<Stored<SignInFailuresRecord>>,
}

/// The error a locked name gets.
pub fn exceeded() -> UserPoolsError {
    UserPoolsError::NotAuthorized("Password attempts exceeded".into())
}

impl Attempts {
    /// The counter of `name_key` (a username key) in `pool_id`; refused when it is locked now.
    pub async fn check(
        svc: &UserPoolsService,
        pool_id: &str,
        name_key: &str,
        now: OffsetDateTime,
    ) -> Result<Self, UserPoolsError> {
        let key = pool_key(pool_id, name_key);
        let current =
            records::load::<SignInFailuresRecord>(svc.store.as_ref(), ns::SIGN_IN_FAILURES, &key)
                .await?;
        if let Some(c) = &current {
            if c.record.locked_until.is_some_and(|until| now < until) {
                return Err(exceeded());
            }
        }
        Ok(Attempts { key, current })
    }

    /// The write that counts one more failure (and locks when it is the fifth or later).
    pub fn failed(&self, now: OffsetDateTime) -> Write {
        let failures = self.current.as_ref().map_or(0, |c| c.record.failures) + 1;
        let record = SignInFailuresRecord {
            failures,
            last_failure_at: now,
            locked_until: lockout_after(failures).map(|d| now + d),
        };
        // Two failures racing: one commit fails on the version and answers the same error.
        records::put(
            ns::SIGN_IN_FAILURES,
            self.key.clone(),
            &record,
            self.expect(),
        )
    }

    /// The write that clears the counter after a successful sign-in, if there is one.
    pub fn succeeded(&self) -> Option<Write> {
        self.current
            .as_ref()
            .map(|_| records::delete(ns::SIGN_IN_FAILURES, self.key.clone(), Expect::Any))
    }

    fn expect(&self) -> Expect {
        match &self.current {
            Some(c) => Expect::Version(c.version),
            None => Expect::Absent,
        }
    }
}

/// Commits a failure's count, then answers `error`. The count is committed on its own, not
/// with the request's audit record: that record is written by the pipeline as the failure it
/// is.
pub async fn refuse(
    svc: &UserPoolsService,
    attempts: &Attempts,
    now: OffsetDateTime,
    error: UserPoolsError,
) -> UserPoolsError {
    if let Err(e) = svc.store.commit(vec![attempts.failed(now)]).await {
        tracing::warn!(error = %e, "a failed sign-in could not be counted");
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_from_the_fifth_failure_and_is_capped() {
        assert_eq!(lockout_after(4), None);
        assert_eq!(lockout_after(5), Some(Duration::seconds(1)));
        assert_eq!(lockout_after(6), Some(Duration::seconds(2)));
        assert_eq!(lockout_after(9), Some(Duration::seconds(16)));
        assert_eq!(lockout_after(14), Some(Duration::seconds(512)));
        assert_eq!(lockout_after(15), Some(MAX_LOCKOUT));
        assert_eq!(lockout_after(u32::MAX), Some(MAX_LOCKOUT));
    }
}
