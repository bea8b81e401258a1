//! [`FunctionsService`]: the store, the shared KMS (environment variables are sealed through
//! it), IAM as [`RoleDirectory`], and the [`Invoker`] that runs functions on this node.

use std::sync::Arc;

use rampart_kms::KmsService;
use rampart_store::Store;

use crate::async_queue::worker::Worker;
use crate::async_queue::AsyncQueue;
use crate::error::FunctionsError;
use crate::invoker::{HostConfig, Invoker};
use crate::roles::RoleDirectory;

/// The Lambda service of one account and region.
pub struct FunctionsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) kms: Arc<KmsService>,
    pub(crate) roles: Arc<dyn RoleDirectory>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    pub(crate) invoker: Arc<Invoker>,
    /// Asynchronous invocations, queued in the store.
    pub(crate) queue: Arc<AsyncQueue>,
}

impl FunctionsService {
    /// The service, with this node prepared to run functions under `host.root`. Starts the
    /// reaper of idle environments and the worker of the asynchronous invocation queue, and
    /// finishes activating functions left `Pending`, so it must be called inside the Tokio
    /// runtime.
    pub async fn start(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        roles: Arc<dyn RoleDirectory>,
        account_id: String,
        region: String,
        host: HostConfig,
    ) -> Result<Self, FunctionsError> {
        let queue = Arc::new(AsyncQueue::new(
            store.clone(),
            kms.clone(),
            host.async_retry_base,
        ));
        let permits = host.max_environments.max(1);
        let invoker = Arc::new(Invoker::new(
            store.clone(),
            kms.clone(),
            roles.clone(),
            account_id.clone(),
            region.clone(),
            host,
        ));
        invoker.prepare_host().map_err(|e| {
            FunctionsError::Service(format!("The functions directory cannot be prepared: {e}"))
        })?;
        match crate::environment::sandbox::kernel_landlock_abi() {
            0 => tracing::warn!("this kernel has no Landlock: function environments are not confined to their files and ports"),
            abi if abi < 6 => tracing::warn!(abi, "this kernel's Landlock is older than ABI 6: some of the environments' rules (network before 4, signal scoping before 6) are not enforced"),
            abi => tracing::debug!(abi, "Landlock confines function environments"),
        }
        invoker.spawn_reaper();
        invoker.logs().spawn();
        invoker.resume_pending().await?;
        Arc::new(Worker {
            queue: queue.clone(),
            invoker: invoker.clone(),
            roles: roles.clone(),
            account_id: account_id.clone(),
            region: region.clone(),
            permits: Arc::new(tokio::sync::Semaphore::new(permits)),
        })
        .spawn();
        Ok(FunctionsService {
            store,
            kms,
            roles,
            account_id,
            region,
            invoker,
            queue,
        })
    }

    /// The in-process invoker (for the services that invoke functions).
    pub fn invoker(&self) -> Arc<Invoker> {
        self.invoker.clone()
    }

    /// Stores the log lines this node still buffers (at shutdown, before the store closes).
    pub async fn flush_logs(&self) -> Result<(), FunctionsError> {
        self.invoker.logs().flush().await
    }

    /// The maintenance sweep's part: deleted functions' logs, and events older than their
    /// function's retention (`default` unless it has its own).
    pub async fn sweep_logs(
        &self,
        now: time::OffsetDateTime,
        default: std::time::Duration,
    ) -> Result<crate::logs::retention::SweepReport, FunctionsError> {
        Ok(crate::logs::retention::sweep(self.store.as_ref(), now, default).await?)
    }
}
