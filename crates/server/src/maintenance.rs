//! The services' own periodic work, run by every node: KMS's automatic key rotation and the
//! destruction of keys past their deletion date, and the purge of secrets whose recovery
//! window ended, and user pools' expired sign-in state (spent sessions, refresh tokens and
//! families past their validity, idle failed-attempt counters) and retired signing keys no
//! token can need any more, and functions' log events past their retention (and deleted
//! functions' logs). Each change is committed with its own audit record and expects the
//! version it read, so several nodes sweeping one PostgreSQL store make each change once.

use std::sync::Arc;
use std::time::Duration;

use rampart_functions::FunctionsService;
use rampart_kms::KmsService;
use rampart_secrets::SecretsService;
use rampart_user_pools::UserPoolsService;
use time::OffsetDateTime;

/// Sweeps now, then every `every`, for as long as the server runs.
pub fn spawn(
    kms: Arc<KmsService>,
    secrets: Arc<SecretsService>,
    user_pools: Arc<UserPoolsService>,
    functions: Arc<FunctionsService>,
    log_retention: Duration,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = OffsetDateTime::now_utc();
            sweep(&kms, &secrets, &user_pools, now).await;
            sweep_function_logs(&functions, log_retention, now).await;
        }
    });
}

/// One sweep at `now`. Failures are logged and retried at the next tick: a store that is
/// briefly unavailable must not stop the loop.
pub async fn sweep(
    kms: &KmsService,
    secrets: &SecretsService,
    user_pools: &UserPoolsService,
    now: OffsetDateTime,
) {
    match kms.maintain(now).await {
        Ok(report) if report != Default::default() => tracing::info!(
            rotated = report.rotated.len(),
            destroyed = report.destroyed.len(),
            aliases_deleted = report.aliases_deleted.len(),
            "KMS maintenance"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "KMS maintenance failed; retrying at the next sweep"),
    }
    match secrets.purge_deleted(now).await {
        Ok(purged) if !purged.is_empty() => {
            tracing::info!(purged = purged.len(), "purged deleted secrets")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "purging deleted secrets failed; retrying at the next sweep")
        }
    }
    // Deleting expired state is no audited change: nothing anyone did, nothing anyone can use.
    match user_pools.sweep_sign_in_state(now).await {
        Ok(report) if report != Default::default() => tracing::info!(
            sessions = report.sessions,
            refresh_tokens = report.refresh_tokens,
            families = report.families,
            counters = report.counters,
            "forgot expired user-pool sign-in state"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            error = %e,
            "sweeping user-pool sign-in state failed; retrying at the next sweep"
        ),
    }
    match rampart_user_pools::signing_keys::drop_unpublished(user_pools.store().as_ref(), now).await
    {
        Ok(0) => {}
        Ok(dropped) => tracing::info!(dropped, "dropped retired user-pool signing keys"),
        Err(e) => tracing::warn!(
            error = %e,
            "dropping retired user-pool signing keys failed; retrying at the next sweep"
        ),
    }
}

/// Deletes function log events past their retention and deleted functions' logs. Not audited:
/// deleting what the retention says is gone is nobody's decision now (setting it was audited).
pub async fn sweep_function_logs(
    functions: &FunctionsService,
    default_retention: Duration,
    now: OffsetDateTime,
) {
    match functions.sweep_logs(now, default_retention).await {
        Ok(report) if report != Default::default() => tracing::info!(
            expired = report.expired,
            of_deleted_functions = report.of_deleted,
            "deleted function log batches"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            error = %e,
            "sweeping function logs failed; retrying at the next sweep"
        ),
    }
}
