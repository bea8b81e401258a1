//! Warm environments waiting for their function's next invocation. An environment is kept
//! for the revision (code and configuration) it was started for, while its process lives and
//! its role credentials stay valid well past a full invocation; idle ones are reaped. The
//! pool also bounds how many environments run on this node at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

use super::ExecutionEnvironment;

/// How long an environment may wait unused before it is stopped.
pub const IDLE_LIMIT: Duration = Duration::from_secs(600);

/// The warm environments of this node, by function name.
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<ExecutionEnvironment>>>,
    running: Arc<AtomicUsize>,
    max_environments: usize,
}

/// One environment counted against the node's limit, released when dropped.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    pub fn new(max_environments: usize) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            running: Arc::new(AtomicUsize::new(0)),
            max_environments: max_environments.max(1),
        }
    }

    /// A warm environment of `function` started for `environment_key` (its code and
    /// configuration) whose credentials outlive `needed_for`, if one is idle. Environments of
    /// other code or configuration are stopped.
    pub fn take(
        &self,
        function: &str,
        environment_key: &str,
        needed_for: Duration,
    ) -> Option<(ExecutionEnvironment, Slot)> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(function)?;
        let fresh_until = OffsetDateTime::now_utc() + needed_for;
        while let Some(mut env) = list.pop() {
            if env.environment_key == environment_key
                && env.credentials_expire > fresh_until
                && env.alive()
            {
                self.running.fetch_add(1, Ordering::AcqRel);
                return Some((env, Slot(self.running.clone())));
            }
            // Stale: dropped (killed) here.
        }
        None
    }

    /// A slot for a new environment, unless the node runs as many as it may.
    pub fn reserve(&self) -> Option<Slot> {
        let idle: usize = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Vec::len)
            .sum();
        let running = self.running.fetch_add(1, Ordering::AcqRel);
        if running + idle >= self.max_environments {
            // Make room by stopping the longest-idle environment, if any.
            if !self.evict_oldest() {
                self.running.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
        }
        Some(Slot(self.running.clone()))
    }

    fn evict_oldest(&self) -> bool {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = idle
            .iter()
            .flat_map(|(name, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(i, e)| (name.clone(), i, e.last_used))
            })
            .min_by_key(|(_, _, used)| *used);
        match oldest {
            Some((name, i, _)) => {
                if let Some(list) = idle.get_mut(&name) {
                    list.remove(i);
                }
                true
            }
            None => false,
        }
    }

    /// Returns an environment after an invocation it may serve again after. Every one is
    /// kept (as many as the function's concurrency needed, as on Lambda): the node's limit
    /// bounds them all, and [`Pool::reserve`] stops the longest-idle one when it is reached.
    /// (A cap per function stopped environments that the same function's next invocations,
    /// already arriving, then had to start again: at 16 concurrent invocations of one
    /// function on a busy host, one invocation in ten was a cold start.)
    pub fn put(&self, function: &str, env: ExecutionEnvironment, slot: Slot) {
        drop(slot);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.entry(function.to_owned()).or_default().push(env);
    }

    /// Stops every idle environment of `function` (deleted or changed).
    pub fn retire(&self, function: &str) {
        let removed = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(function);
        drop(removed);
    }

    /// Stops environments idle past [`IDLE_LIMIT`] or whose credentials are about to expire.
    pub fn reap(&self) {
        let now = Instant::now();
        let soon = OffsetDateTime::now_utc() + Duration::from_secs(900);
        let mut stale = Vec::new();
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            for list in idle.values_mut() {
                let (keep, gone): (Vec<_>, Vec<_>) = list.drain(..).partition(|e| {
                    now.duration_since(e.last_used) < IDLE_LIMIT && e.credentials_expire > soon
                });
                *list = keep;
                stale.extend(gone);
            }
            idle.retain(|_, list| !list.is_empty());
        }
        drop(stale);
    }
}
