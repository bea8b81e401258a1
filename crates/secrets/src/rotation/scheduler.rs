//! The rotation scheduler: on each tick, every secret with rotation on is looked at — a
//! window that has opened starts a rotation (a fresh token), a failed run is reattempted after
//! a pause (AWS "retries the entire rotation process multiple times"), and a run whose step
//! has outlived any function timeout (its node died) is taken over. Starting is an optimistic
//! commit on the secret, so of several nodes sharing a store exactly one starts each run.

use std::sync::{Arc, Weak};

use time::{Duration, OffsetDateTime};
use tokio::task::JoinHandle;

use super::runner::{begin_run, update_secret};
use super::{RotationRun, RotationState, RunPurpose};
use crate::error::SecretsError;
use crate::records::{self, SecretRecord};
use crate::SecretsService;

/// How many times a rotation is attempted before the scheduler leaves it to the operator
/// (`RotateSecret` with its token, or `CancelRotateSecret`).
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a failed rotation waits before it is reattempted.
pub const RETRY_AFTER: Duration = Duration::hours(1);
/// A step running longer than this was lost (a function runs at most 15 minutes).
pub const STALLED_AFTER: Duration = Duration::minutes(20);

/// What the scheduler does with a secret now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// Start a new rotation: its window has opened.
    Start,
    /// Reattempt the run in progress (failed a while ago, or stalled).
    Resume,
}

fn due(secret: &SecretRecord, now: OffsetDateTime) -> Option<Due> {
    if secret.deletion_date.is_some() {
        return None;
    }
    let state = secret.rotation.as_ref().filter(|s| s.enabled)?;
    state.lambda_arn.as_ref()?;
    match &state.run {
        Some(run) => resumable(run, now).then_some(Due::Resume),
        // A pending version left by a cancelled rotation blocks new ones, as on AWS.
        None if secret.pending_version().is_some() => None,
        None => state
            .window_opens_at
            .is_some_and(|opens| opens <= now)
            .then_some(Due::Start),
    }
}

fn resumable(run: &RotationRun, now: OffsetDateTime) -> bool {
    if run.attempts >= MAX_ATTEMPTS {
        return false;
    }
    match &run.failure {
        Some(failure) => failure.at + RETRY_AFTER <= now,
        None => run.step_started_at.unwrap_or(run.started_at) + STALLED_AFTER <= now,
    }
}

impl SecretsService {
    /// Starts the rotations that are due (see the module documentation); answers how many.
    pub async fn rotate_due(&self) -> Result<usize, SecretsError> {
        let store = self.store.as_ref();
        let mut started = 0;
        let mut after: Option<String> = None;
        loop {
            let (page, more) = records::list_secrets(store, after.as_deref(), 100).await?;
            for secret in page {
                after = Some(secret.name.clone());
                if secret.is_purged(OffsetDateTime::now_utc())
                    || due(&secret, self.rotator.clock.now()).is_none()
                {
                    continue;
                }
                match self.start_due(&secret).await {
                    Ok(Some(token)) => {
                        self.rotator.spawn(&secret.name, &secret.arn, &token);
                        started += 1;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(secret = %secret.arn, error = %e, "a scheduled rotation did not start");
                    }
                }
            }
            if !more {
                return Ok(started);
            }
        }
    }

    /// Commits the start (or resumption) of the run `secret` is due, if it still is when
    /// re-read; answers its token.
    async fn start_due(&self, secret: &SecretRecord) -> Result<Option<String>, SecretsError> {
        let now = self.rotator.clock.now();
        let fresh_token = uuid::Uuid::new_v4().to_string();
        let mut token = None;
        update_secret(
            self.store.as_ref(),
            &self.caches,
            &secret.name,
            &secret.arn,
            |next| {
                token = None;
                let kind = due(next, now)?;
                let state: &RotationState = next.rotation.as_ref()?;
                let function = state.lambda_arn.clone()?;
                let run_token = match (kind, &state.run) {
                    (Due::Resume, Some(run)) => run.token.clone(),
                    _ => fresh_token.clone(),
                };
                let purpose = match (kind, &state.run) {
                    (Due::Resume, Some(run)) => run.purpose,
                    _ => RunPurpose::Rotate,
                };
                if begin_run(next, &run_token, &function, purpose, now).is_err() {
                    return None;
                }
                token = Some(run_token);
                Some("RotationScheduled")
            },
        )
        .await?;
        Ok(token)
    }

    /// Waits for the rotations this node started to finish (tests; an orderly shutdown).
    pub async fn rotations_settled(&self) {
        self.rotator.settled().await;
    }
}

/// Runs [`SecretsService::rotate_due`] every `every` for as long as the service lives.
pub fn spawn_scheduler(
    service: &Arc<SecretsService>,
    every: std::time::Duration,
) -> JoinHandle<()> {
    let service: Weak<SecretsService> = Arc::downgrade(service);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(e) = service.rotate_due().await {
                tracing::warn!(error = %e, "the rotation scheduler's pass failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::{RunFailure, Step};
    use time::macros::datetime;

    fn secret(state: Option<RotationState>) -> SecretRecord {
        SecretRecord {
            name: "s".into(),
            arn: "arn:aws:secretsmanager:r:1:secret:s-AbC123".into(),
            description: None,
            kms_key_id: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            last_changed_at: OffsetDateTime::UNIX_EPOCH,
            deletion_date: None,
            tags: Vec::new(),
            versions: Vec::new(),
            rotation: state,
            resource_policy: None,
        }
    }

    fn enabled(opens: OffsetDateTime) -> RotationState {
        RotationState {
            enabled: true,
            lambda_arn: Some("arn:aws:lambda:r:1:function:f".into()),
            window_opens_at: Some(opens),
            ..Default::default()
        }
    }

    fn run(failure: Option<OffsetDateTime>, attempts: u32) -> RotationRun {
        RotationRun {
            token: "t".repeat(32),
            function_arn: "f".into(),
            purpose: RunPurpose::Rotate,
            started_at: datetime!(2024-01-01 00:00 UTC),
            step: Some(Step::SetSecret),
            step_started_at: Some(datetime!(2024-01-01 00:00 UTC)),
            attempts,
            failure: failure.map(|at| RunFailure {
                step: Step::SetSecret,
                reason: "x".into(),
                at,
            }),
        }
    }

    #[test]
    fn a_window_that_opened_starts_a_rotation() {
        let opens = datetime!(2024-01-02 00:00 UTC);
        let s = secret(Some(enabled(opens)));
        assert_eq!(due(&s, opens - Duration::seconds(1)), None);
        assert_eq!(due(&s, opens), Some(Due::Start));
        assert_eq!(due(&secret(None), opens), None);
        let mut off = s.clone();
        off.rotation.as_mut().unwrap().enabled = false;
        assert_eq!(due(&off, opens), None);
        let mut deleted = s.clone();
        deleted.deletion_date = Some(opens);
        assert_eq!(due(&deleted, opens), None);
    }

    #[test]
    fn failed_runs_wait_then_resume_a_bounded_number_of_times() {
        let failed = datetime!(2024-01-01 00:05 UTC);
        let mut s = secret(Some(enabled(datetime!(2023-01-01 00:00 UTC))));
        s.rotation.as_mut().unwrap().run = Some(run(Some(failed), 1));
        assert_eq!(due(&s, failed + Duration::minutes(59)), None);
        assert_eq!(due(&s, failed + RETRY_AFTER), Some(Due::Resume));
        s.rotation.as_mut().unwrap().run = Some(run(Some(failed), MAX_ATTEMPTS));
        assert_eq!(due(&s, failed + RETRY_AFTER * 10), None);
        // A running step is left alone until it has clearly been lost.
        s.rotation.as_mut().unwrap().run = Some(run(None, 1));
        assert_eq!(due(&s, datetime!(2024-01-01 00:10 UTC)), None);
        assert_eq!(due(&s, datetime!(2024-01-01 00:20 UTC)), Some(Due::Resume));
    }
}
