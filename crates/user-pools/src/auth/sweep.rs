//! Forgetting sign-in state that can no longer matter, run by the server's maintenance sweep on
//! every node: spent challenge sessions past their expiry, refresh tokens and token families
//! past their refresh validity (no token of theirs can be accepted any more), and failed-attempt
//! counters whose lockout is over and whose last failure is a day old. Each delete expects the
//! version it read, so nodes sweeping one store together delete each record once, and a counter
//! that failed again meanwhile is kept.

use rampart_store::{Expect, Write};
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use crate::error::UserPoolsError;
use crate::records::auth::{
    RefreshTokenRecord, SignInFailuresRecord, TokenFamilyRecord, UsedSessionRecord,
};
use crate::records::{self, ns};
use crate::UserPoolsService;

/// How long an idle failed-attempt counter is kept after its lockout is over.
const FAILURES_KEPT: Duration = Duration::days(1);
/// Records examined per store page.
const PAGE: usize = 500;

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub sessions: usize,
    pub refresh_tokens: usize,
    pub families: usize,
    pub counters: usize,
}

impl UserPoolsService {
    /// Removes the sign-in state that expired before `now`.
    pub async fn sweep_sign_in_state(
        &self,
        now: OffsetDateTime,
    ) -> Result<SweepReport, UserPoolsError> {
        Ok(SweepReport {
            sessions: self
                .sweep::<UsedSessionRecord>(ns::USED_SESSIONS, |r| r.expires_at <= now)
                .await?,
            refresh_tokens: self
                .sweep::<RefreshTokenRecord>(ns::REFRESH_TOKENS, |r| r.expires_at <= now)
                .await?,
            families: self
                .sweep::<TokenFamilyRecord>(ns::TOKEN_FAMILIES, |r| r.expires_at <= now)
                .await?,
            counters: self
                .sweep::<SignInFailuresRecord>(ns::SIGN_IN_FAILURES, |r| {
                    r.locked_until.is_none_or(|until| until <= now)
                        && r.last_failure_at + FAILURES_KEPT <= now
                })
                .await?,
        })
    }

    async fn sweep<T: DeserializeOwned>(
        &self,
        namespace: &'static str,
        expired: impl Fn(&T) -> bool,
    ) -> Result<usize, UserPoolsError> {
        let mut removed = 0;
        let mut after: Option<String> = None;
        loop {
            let (page, more) =
                records::list::<T>(self.store.as_ref(), namespace, "", after.as_deref(), PAGE)
                    .await?;
            let mut writes: Vec<Write> = Vec::new();
            for (key, item) in page {
                after = Some(key.clone());
                if expired(&item.record) {
                    writes.push(records::delete(
                        namespace,
                        key,
                        Expect::Version(item.version),
                    ));
                }
            }
            // One record at a time: a record changed meanwhile fails alone and stays.
            for write in writes {
                if self.store.commit(vec![write]).await.is_ok() {
                    removed += 1;
                }
            }
            if !more {
                return Ok(removed);
            }
        }
    }
}
