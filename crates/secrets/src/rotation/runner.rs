//! One rotation, run in the background as AWS runs it: the function is invoked with
//! `createSecret`, `setSecret`, `testSecret` and `finishSecret` in turn, each with the event
//! `{"Step", "SecretId" (the ARN), "ClientRequestToken" (the pending version), "RotationToken"}`.
//! The function does the work through the Secrets Manager API, as a caller of its own (it
//! puts the new value in the pending version, and moves `AWSCURRENT` to it in `finishSecret`).
//! Before each step the run is re-read from the secret, so a `CancelRotateSecret` stops it; a
//! failed step is recorded on the run and leaves `AWSPENDING` where it is, so the next
//! `RotateSecret` is refused until the run is reattempted or the label removed, as on AWS.

use std::sync::{Arc, Mutex};

use rampart_core::audit::AuditRecord;
use rampart_store::{request_audit, Expect, Store, StoreError};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::{
    Clock, InvokeOutcome, RotationInvoker, RotationRun, RotationState, RunFailure, RunPurpose,
    Schedule, Step,
};
use crate::cache::SecretCaches;
use crate::error::SecretsError;
use crate::records::{self, SecretRecord, VersionMeta, AWSCURRENT, AWSPENDING};

/// How often a change to a secret is retried when another writer got there first.
const UPDATE_ATTEMPTS: usize = 8;

/// Runs rotations: what they invoke, the clock they read, and the runs in flight.
#[derive(Clone)]
pub(crate) struct Rotator {
    pub store: Arc<dyn Store>,
    /// The service's caches: every commit a run makes empties them.
    pub caches: Arc<SecretCaches>,
    pub invoker: Arc<dyn RotationInvoker>,
    pub clock: Arc<dyn Clock>,
    running: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// The answer to a rotation asked for while another is in progress.
pub(crate) fn previous_rotation_incomplete() -> SecretsError {
    SecretsError::InvalidRequest(
        "A previous rotation isn't complete. That rotation will be reattempted.".into(),
    )
}

/// Starts a run of `purpose` on `secret` under `token`: the pending version is created empty
/// with `AWSPENDING` (or kept, when the run resumes the rotation that created it).
pub(crate) fn begin_run(
    secret: &mut SecretRecord,
    token: &str,
    function_arn: &str,
    purpose: RunPurpose,
    now: OffsetDateTime,
) -> Result<(), SecretsError> {
    if secret.pending_version().is_some_and(|p| p.id != token) {
        return Err(previous_rotation_incomplete());
    }
    match secret.version(token) {
        Some(v) if !v.stages.iter().any(|s| s == AWSPENDING) => {
            return Err(SecretsError::ResourceExists(format!(
                "A version with the ClientRequestToken {token} already exists."
            )))
        }
        Some(_) => {}
        None => {
            secret.versions.push(VersionMeta {
                id: token.to_owned(),
                stages: Vec::new(),
                created_at: now,
                key_arn: String::new(),
                empty: true,
            });
            records::attach_stages(&mut secret.versions, token, &[AWSPENDING.to_owned()]);
        }
    }
    let state = secret.rotation.get_or_insert_with(RotationState::default);
    let attempts = state
        .run
        .as_ref()
        .filter(|r| r.token == token)
        .map_or(0, |r| r.attempts);
    state.run = Some(RotationRun {
        token: token.to_owned(),
        function_arn: function_arn.to_owned(),
        purpose,
        started_at: now,
        step: None,
        step_started_at: Some(now),
        attempts: attempts + 1,
        failure: None,
    });
    Ok(())
}

/// Sets the next window of `state` from its rules, counting from `base`.
pub(crate) fn reschedule(state: &mut RotationState, base: OffsetDateTime) {
    let window = state
        .rules
        .as_ref()
        .and_then(|rules| Schedule::parse(rules).ok())
        .and_then(|schedule| schedule.next_window(base));
    state.window_opens_at = window.map(|w| w.0);
    state.next_rotation_at = window.map(|w| w.1);
}

/// Applies `change` to the secret `name`, if it is still the secret `arn` (not a namesake
/// created since), and commits it; `change` answers the event the change is (`RotationStarted`,
/// `RotationSucceeded`, … as CloudTrail names Secrets Manager's own rotation events), or None
/// to leave the secret as it is. Answers the secret as it now stands.
///
/// Inside a request (RotateSecret, CancelRotateSecret) the commit carries that request's audit
/// record; in the background (a run, the scheduler) it carries a record of its own, principal
/// `secretsmanager.amazonaws.com`, so what rotation does is in the trail either way. Each
/// commit empties `caches`, as every write through this node does.
pub(crate) async fn update_secret<F>(
    store: &dyn Store,
    caches: &SecretCaches,
    name: &str,
    arn: &str,
    mut change: F,
) -> Result<Option<SecretRecord>, SecretsError>
where
    F: FnMut(&mut SecretRecord) -> Option<&'static str> + Send,
{
    for _ in 0..UPDATE_ATTEMPTS {
        let Some(stored) = records::load_live(store, name).await? else {
            return Ok(None);
        };
        if stored.record.arn != arn {
            return Ok(None);
        }
        let mut next = stored.record.clone();
        let Some(event) = change(&mut next) else {
            return Ok(Some(stored.record));
        };
        let write = records::put_secret(&next, Expect::Version(stored.version));
        let committed = if request_audit::in_request() {
            request_audit::commit(store, vec![write]).await
        } else {
            let record = AuditRecord::service_action(
                OffsetDateTime::now_utc(),
                "secretsmanager.amazonaws.com",
                "secretsmanager",
                event,
                arn,
            );
            store.commit_audited(vec![write], &record).await
        };
        caches.invalidate_all();
        match committed {
            Ok(_) => return Ok(Some(next)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(SecretsError::Internal(
        "The secret is being changed by other requests.".into(),
    ))
}

/// The run of `secret` under `token`, if it is still going (not failed, not cancelled).
fn live_run<'s>(secret: &'s mut SecretRecord, token: &str) -> Option<&'s mut RotationRun> {
    secret
        .rotation
        .as_mut()
        .and_then(|r| r.run.as_mut())
        .filter(|run| run.token == token && run.failure.is_none())
}

impl Rotator {
    pub fn new(
        store: Arc<dyn Store>,
        caches: Arc<SecretCaches>,
        invoker: Arc<dyn RotationInvoker>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Rotator {
            store,
            caches,
            invoker,
            clock,
            running: Arc::default(),
        }
    }

    /// Runs the rotation of the secret `name` (`arn`) under `token` in the background: it
    /// outlives the request that started it, as on AWS.
    pub fn spawn(&self, name: &str, arn: &str, token: &str) {
        let me = self.clone();
        let (name, arn, token) = (name.to_owned(), arn.to_owned(), token.to_owned());
        let handle = tokio::spawn(async move {
            if let Err(e) = me.drive(&name, &arn, &token).await {
                tracing::error!(secret = %arn, error = %e, "a rotation stopped on an internal error");
            }
        });
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|h| !h.is_finished());
        running.push(handle);
    }

    /// Waits until no run started on this node is in flight.
    pub async fn settled(&self) {
        loop {
            let handles: Vec<_> = {
                let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::take(&mut *running)
            };
            if handles.is_empty() {
                return;
            }
            for handle in handles {
                let _ = handle.await;
            }
        }
    }

    async fn drive(&self, name: &str, arn: &str, token: &str) -> Result<(), SecretsError> {
        let store = self.store.as_ref();
        let Some(stored) = records::load_live(store, name).await? else {
            return Ok(());
        };
        let mut secret = stored.record;
        if secret.arn != arn {
            return Ok(());
        }
        let Some(run) = live_run(&mut secret, token).cloned() else {
            return Ok(());
        };
        let steps: &[Step] = match run.purpose {
            RunPurpose::Rotate => &[
                Step::CreateSecret,
                Step::SetSecret,
                Step::TestSecret,
                Step::FinishSecret,
            ],
            RunPurpose::TestConfiguration => &[Step::TestSecret],
        };
        // Shown to the function only, which may hand it back on `PutSecretValue`.
        let rotation_token = uuid::Uuid::new_v4().to_string();
        for &step in steps {
            let now = self.clock.now();
            let mut ours = false;
            update_secret(store, &self.caches, name, arn, |secret| {
                ours = live_run(secret, token).is_some_and(|run| {
                    run.step = Some(step);
                    run.step_started_at = Some(now);
                    true
                });
                ours.then_some(if step == steps[0] {
                    "RotationStarted"
                } else {
                    "RotationStepStarted"
                })
            })
            .await?;
            if !ours {
                return Ok(()); // cancelled, or another node took the run over
            }
            let event = serde_json::json!({
                "Step": step.as_str(),
                "SecretId": arn,
                "ClientRequestToken": token,
                "RotationToken": rotation_token,
            });
            let payload = serde_json::to_vec(&event).unwrap_or_default();
            let failed = match self.invoker.invoke(&run.function_arn, arn, &payload).await {
                Ok(InvokeOutcome::Success(_)) => None,
                Ok(InvokeOutcome::FunctionError { error_type, .. }) => Some(format!(
                    "The rotation function failed the {} step: {error_type}.",
                    step.as_str()
                )),
                Err(e) => Some(format!(
                    "Secrets Manager could not invoke the rotation function for the {} step: {e}.",
                    step.as_str()
                )),
            };
            if let Some(reason) = failed {
                tracing::warn!(secret = %arn, step = step.as_str(), "a rotation step failed");
                return self.stop(name, arn, token, &run, step, reason).await;
            }
        }
        match run.purpose {
            RunPurpose::TestConfiguration => self.end_test(name, arn, token, None).await,
            RunPurpose::Rotate => self.finish(name, arn, token).await,
        }
    }

    /// A failed step: a rotation keeps its pending version and records why; a configuration
    /// test is over either way.
    async fn stop(
        &self,
        name: &str,
        arn: &str,
        token: &str,
        run: &RotationRun,
        step: Step,
        reason: String,
    ) -> Result<(), SecretsError> {
        if run.purpose == RunPurpose::TestConfiguration {
            return self.end_test(name, arn, token, Some(reason)).await;
        }
        let at = self.clock.now();
        update_secret(self.store.as_ref(), &self.caches, name, arn, |secret| {
            let run = live_run(secret, token)?;
            run.failure = Some(RunFailure {
                step,
                reason: reason.clone(),
                at,
            });
            Some("RotationFailed")
        })
        .await?;
        Ok(())
    }

    /// After `finishSecret`: if the function made the pending version current, the rotation is
    /// done — the version loses `AWSPENDING`, the rotation date is recorded and the next
    /// window set; otherwise the run failed at its last step.
    async fn finish(&self, name: &str, arn: &str, token: &str) -> Result<(), SecretsError> {
        let now = self.clock.now();
        update_secret(self.store.as_ref(), &self.caches, name, arn, |secret| {
            let current = secret
                .version(token)
                .is_some_and(|v| v.stages.iter().any(|s| s == AWSCURRENT));
            let run = live_run(secret, token)?;
            if !current {
                run.failure = Some(RunFailure {
                    step: Step::FinishSecret,
                    reason: "The rotation function did not move AWSCURRENT to the pending version."
                        .into(),
                    at: now,
                });
                return Some("RotationFailed");
            }
            if let Some(version) = secret.versions.iter_mut().find(|v| v.id == token) {
                version.stages.retain(|s| s != AWSPENDING);
            }
            if let Some(state) = secret.rotation.as_mut() {
                state.run = None;
                state.last_token = Some(token.to_owned());
                state.last_rotated_at = Some(now);
                if state.enabled {
                    reschedule(state, now);
                }
            }
            secret.last_changed_at = now;
            Some("RotationSucceeded")
        })
        .await?;
        Ok(())
    }

    /// The end of a configuration test: its pending version goes (its label, and the version
    /// itself if the function left it empty).
    async fn end_test(
        &self,
        name: &str,
        arn: &str,
        token: &str,
        failure: Option<String>,
    ) -> Result<(), SecretsError> {
        if let Some(reason) = &failure {
            tracing::warn!(secret = %arn, reason = %reason, "the rotation configuration test failed");
        }
        update_secret(self.store.as_ref(), &self.caches, name, arn, |secret| {
            live_run(secret, token)?;
            secret.versions.retain(|v| !(v.id == token && v.empty));
            if let Some(version) = secret.versions.iter_mut().find(|v| v.id == token) {
                version.stages.retain(|s| s != AWSPENDING);
            }
            if let Some(state) = secret.rotation.as_mut() {
                state.run = None;
            }
            Some("RotationConfigurationTested")
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rampart_store::SqliteStore;

    use super::*;

    /// What a run commits in the background (no request around it) is read at once on this
    /// node, whatever read operations had cached.
    #[tokio::test]
    async fn a_background_commit_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let caches = SecretCaches::default();
        let at = OffsetDateTime::now_utc();
        let secret = SecretRecord {
            name: "s".into(),
            arn: "arn:aws:secretsmanager:r:1:secret:s-AbC123".into(),
            description: None,
            kms_key_id: None,
            created_at: at,
            last_changed_at: at,
            deletion_date: None,
            tags: Vec::new(),
            versions: Vec::new(),
            rotation: None,
            resource_policy: None,
        };
        store
            .commit(vec![records::put_secret(&secret, Expect::Absent)])
            .await
            .unwrap();
        let cached = caches.live_secret(&store, "s").await.unwrap().unwrap();
        assert_eq!(cached.record.description, None);

        let changed = update_secret(&store, &caches, "s", &secret.arn, |s| {
            s.description = Some("rotated".into());
            Some("RotationSucceeded")
        })
        .await
        .unwrap();
        assert!(changed.is_some());
        let fresh = caches.live_secret(&store, "s").await.unwrap().unwrap();
        assert_eq!(fresh.record.description.as_deref(), Some("rotated"));
        store.close().await;
    }
}
