//! When this node's unpacked packages are removed ([`crate::unpacked`]): after a function is
//! deleted here, after an update here has its new code ready, and every few minutes for what
//! other nodes deleted or updated.

use std::collections::HashSet;
use std::sync::Arc;

use super::Invoker;
use crate::error::FunctionsError;
use crate::records;

/// Reaper ticks (30 s each) between two sweeps for other nodes' changes.
pub(super) const SWEEP_EVERY_TICKS: u32 = 10;

impl Invoker {
    /// A function deleted through this node: its warm environments stop, its uid is given
    /// back, and its unpacked code goes unless another function has the same package.
    pub fn deleted(self: &Arc<Self>, name: &str) {
        self.pool.retire(name);
        self.identities.release(name);
        self.spawn_code_sweep();
    }

    /// Sweeps in the background.
    pub(super) fn spawn_code_sweep(self: &Arc<Self>) {
        let invoker = self.clone();
        tokio::spawn(async move {
            if let Err(e) = invoker.sweep_code().await {
                tracing::warn!(error = %e, "unpacked code could not be swept");
            }
        });
    }

    /// Removes the unpacked packages no function names and no environment runs from;
    /// answers how many went.
    pub async fn sweep_code(&self) -> Result<usize, FunctionsError> {
        let mut wanted = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = records::list_functions(self.store.as_ref(), after.as_deref(), 100).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.name.clone());
            wanted.extend(page.iter().map(|f| f.code.sha256_hex()));
        }
        let in_use = self.code_in_use.clone();
        let root = self.code_root();
        let gone = tokio::task::spawn_blocking(move || in_use.sweep(&root, &wanted))
            .await
            .map_err(|_| FunctionsError::Service("The code sweep stopped.".into()))?;
        if gone > 0 {
            tracing::debug!(removed = gone, "unpacked code removed");
        }
        Ok(gone)
    }
}
