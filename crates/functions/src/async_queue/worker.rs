//! The worker every node runs: it takes due events from the queue (a pass every second, or at
//! once when this node queued one), runs each through the one in-process [`Invoker`] while
//! renewing its lease, and settles it — done, back in the queue for a retry, or failed for good
//! — sending the invocation record to the function's destination when it has one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rampart_core::AuditRecord;
use rampart_store::{Store, Write};
use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::event::{self, Condition, Next, Outcome, Start, RENEW_EVERY};
use super::record::{invocation_record, Response};
use super::{AsyncQueue, Held};
use crate::error::FunctionsError;
use crate::function_ref::{FunctionRef, LATEST};
use crate::invoker::{InvocationRequest, InvocationResult, Invoker};
use crate::records::{self, FunctionRecord};
use crate::roles::{RoleDirectory, LAMBDA_PRINCIPAL};

/// How often a node looks for due events (retries and other nodes' events).
const POLL: Duration = Duration::from_secs(1);

/// What the worker works with.
pub(crate) struct Worker {
    pub queue: Arc<AsyncQueue>,
    pub invoker: Arc<Invoker>,
    pub roles: Arc<dyn RoleDirectory>,
    pub account_id: String,
    pub region: String,
    /// Events this node runs at once (as many as it may run environments).
    pub permits: Arc<Semaphore>,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Worker {
    /// Runs passes for the life of the process.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.pass().await {
                    tracing::warn!(error = %e, "the asynchronous invocation queue could not be read");
                }
                tokio::select! {
                    _ = self.queue.woken() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        });
    }

    fn store(&self) -> &dyn Store {
        self.queue.store().as_ref()
    }

    /// Takes every due event this node has room for and starts running it.
    async fn pass(self: &Arc<Self>) -> Result<(), FunctionsError> {
        let room = self.permits.available_permits();
        if room == 0 {
            return Ok(());
        }
        for held in self.queue.due(now(), room).await? {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break;
            };
            if let Some((taken, function)) = self.take(held).await? {
                let worker = self.clone();
                tokio::spawn(async move { worker.run(taken, function, permit).await });
            }
        }
        Ok(())
    }

    /// Takes `held` to run it now, or ends it here (its function is gone, it is too old, its
    /// attempts are spent); None when it does not run here.
    async fn take(&self, held: Held) -> Result<Option<(Held, FunctionRecord)>, FunctionsError> {
        let Some(function) = records::load_function(self.store(), &held.event.function).await?
        else {
            // AWS discards the events of a deleted function.
            tracing::info!(function = %held.event.function, event = %held.event.id,
                "an asynchronous event's function is gone; the event is discarded");
            self.settle(AsyncQueue::finish_writes(&held), None).await;
            return Ok(None);
        };
        let f = function.record;
        let now = now();
        match event::start(
            &held.event,
            now,
            f.async_event_age(),
            f.async_retry_attempts(),
        ) {
            Start::Fail(condition) => {
                self.fail(&held, &f, condition).await;
                Ok(None)
            }
            Start::Run => {
                let (next, until) = held.event.taken(self.queue.holder(), now);
                Ok(self
                    .queue
                    .move_to(&held, next, until)
                    .await?
                    .map(|taken| (taken, f)))
            }
        }
    }

    /// Runs a taken event, renewing its lease while the function runs, and settles it.
    async fn run(&self, mut held: Held, f: FunctionRecord, _permit: OwnedSemaphorePermit) {
        let payload = match self.queue.payload(&held.event).await {
            Ok(Some(p)) => Bytes::from(p.to_vec()),
            Ok(None) => {
                // Finished by another node after this one's lease lapsed.
                return;
            }
            Err(e) => {
                tracing::warn!(event = %held.event.id, error = %e, "an asynchronous event's payload could not be read");
                return self.again(&held, &f, Outcome::Deferred).await;
            }
        };
        let request = InvocationRequest {
            payload: payload.clone(),
            client_context: None,
            tail: false,
        };
        let invocation = self
            .invoker
            .invoke_as_request(&f, request, held.event.id.clone());
        tokio::pin!(invocation);
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
        let result = loop {
            tokio::select! {
                result = &mut invocation => break result,
                _ = renew.tick() => {
                    let (next, until) = held.event.renewed(now());
                    match self.queue.move_to(&held, next, until).await {
                        Ok(Some(renewed)) => held = renewed,
                        // Lost (this node stalled past its lease): the settlement below will
                        // find the event moved and leave it to its new holder.
                        Ok(None) => {}
                        Err(e) => tracing::warn!(event = %held.event.id, error = %e, "a lease could not be renewed"),
                    }
                }
            }
        };
        let (outcome, response) = classify(result);
        match event::after(
            &held.event,
            outcome,
            now(),
            f.async_retry_attempts(),
            self.queue.retry_base(),
        ) {
            Next::Done => {
                let mut writes = AsyncQueue::finish_writes(&held);
                if f.async_destination(true).is_some() {
                    let record = self.record(&held, &f, "Success", &payload, response.as_ref());
                    writes.extend(self.destination(&f, true, record).await);
                }
                self.settle(writes, None).await;
            }
            Next::Again(next, due) => {
                match self.queue.move_to(&held, next, due).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::info!(event = %held.event.id, "an asynchronous event was taken by another node meanwhile")
                    }
                    // Left where it is: due when this node's lease runs out, and counted.
                    Err(e) => {
                        tracing::warn!(event = %held.event.id, error = %e, "an asynchronous event could not be put back")
                    }
                }
            }
            Next::Fail(condition) => {
                self.fail_with(&held, &f, condition, &payload, response.as_ref())
                    .await
            }
        }
    }

    /// Puts `held` back after `outcome` (a deferral: nothing ran).
    async fn again(&self, held: &Held, f: &FunctionRecord, outcome: Outcome) {
        let next = event::after(
            &held.event,
            outcome,
            now(),
            f.async_retry_attempts(),
            self.queue.retry_base(),
        );
        if let Next::Again(next, due) = next {
            let _ = self.queue.move_to(held, next, due).await;
        }
    }

    /// Ends `held` unrun (too old, or its attempts spent by a node that died).
    async fn fail(&self, held: &Held, f: &FunctionRecord, condition: Condition) {
        // A payload that does not open still ends its event (its record says `null`), or the
        // event would stay in the queue for good.
        let payload = match self.queue.payload(&held.event).await {
            Ok(Some(p)) => Bytes::from(p.to_vec()),
            Ok(None) => Bytes::from_static(b"null"),
            Err(e) => {
                tracing::warn!(event = %held.event.id, error = %e, "an asynchronous event's payload could not be read");
                Bytes::from_static(b"null")
            }
        };
        self.fail_with(held, f, condition, &payload, None).await
    }

    /// Ends `held` for good: out of the queue, its record to the failure destination, audited
    /// as Lambda's own action (an event no invocation answered is not dropped silently).
    async fn fail_with(
        &self,
        held: &Held,
        f: &FunctionRecord,
        condition: Condition,
        payload: &[u8],
        response: Option<&Response>,
    ) {
        tracing::info!(function = %f.name, event = %held.event.id, condition = condition.as_str(),
            invokes = held.event.invokes, "an asynchronous invocation failed for good");
        let mut writes = AsyncQueue::finish_writes(held);
        let record = self.record(held, f, condition.as_str(), payload, response);
        writes.extend(self.destination(f, false, record).await);
        let audit = AuditRecord::service_action(
            now(),
            LAMBDA_PRINCIPAL,
            "lambda",
            "AsyncInvocationFailed",
            &f.arn,
        );
        self.settle(writes, Some(audit)).await;
    }

    fn record(
        &self,
        held: &Held,
        f: &FunctionRecord,
        condition: &str,
        payload: &[u8],
        response: Option<&Response>,
    ) -> Vec<u8> {
        invocation_record(
            &held.event.id,
            &format!("{}:{LATEST}", f.arn),
            condition,
            held.event.invokes,
            payload,
            response,
            now(),
        )
    }

    /// Commits an event's end; a conflict means another node took the event meanwhile, and it
    /// settles it instead.
    async fn settle(&self, writes: Vec<Write>, audit: Option<AuditRecord>) {
        let result = match &audit {
            Some(record) => self.store().commit_audited(writes, record).await,
            None => self.store().commit(writes).await,
        };
        match result {
            Ok(_) => {
                // A destination's event may be waiting.
                self.queue.wake();
            }
            Err(rampart_store::StoreError::Conflict { .. }) => {
                tracing::info!("an asynchronous event was settled by another node")
            }
            Err(e) => tracing::warn!(error = %e, "an asynchronous event could not be settled"),
        }
    }

    /// The writes that queue `record` for `source`'s destination (on success or failure), if
    /// it has one that is a function here its execution role may invoke — as on AWS, the
    /// destination runs under the source function's permission to invoke it.
    async fn destination(
        &self,
        source: &FunctionRecord,
        success: bool,
        record: Vec<u8>,
    ) -> Vec<Write> {
        let Some(arn) = source.async_destination(success) else {
            return Vec::new();
        };
        let skip = |why: &str| {
            tracing::warn!(function = %source.name, destination = arn, why, "an asynchronous invocation record was not delivered");
            Vec::new()
        };
        let named = match FunctionRef::parse(
            arn,
            None,
            "destination",
            &self.account_id,
            &self.region,
            256,
        ) {
            Ok(n) if n.local && n.is_latest() => n,
            _ => return skip("the destination is not a function of this account and region"),
        };
        let target = match records::load_function(self.store(), &named.name).await {
            Ok(Some(t)) => t.record,
            Ok(None) => return skip("the destination function does not exist"),
            Err(_) => return skip("the destination function could not be read"),
        };
        let check = invoke_check(&target);
        match self
            .roles
            .role_allows(&source.role, &source.name, &check)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return skip("the function's execution role may not invoke the destination")
            }
            Err(_) => return skip("the function's execution role could not be read"),
        }
        let id = uuid::Uuid::new_v4().to_string();
        match self
            .queue
            .enqueue_writes(&target.name, &id, &record, now())
            .await
        {
            Ok(writes) => writes,
            Err(_) => skip("the record could not be sealed"),
        }
    }
}

/// `lambda:InvokeFunction` on `target`, with its tags and resource policy.
pub(crate) fn invoke_check(target: &FunctionRecord) -> Check {
    let mut check = Check::on("lambda:InvokeFunction", &target.arn);
    for (k, v) in &target.tags {
        check.push_key(format!("aws:ResourceTag/{k}"), v);
    }
    match &target.policy {
        Some(policy) => check.with_resource_policy(ResourcePolicy {
            kind: ResourcePolicyKind::Resource,
            document: Some(policy.document()),
        }),
        None => check,
    }
}

/// How an attempt went, and what the function answered if it ran. Throttles, a function not
/// ready to run and Rampart's own failures defer the event (they do not spend an attempt);
/// any other refusal (its role cannot be assumed, its runtime cannot run) counts as a failed
/// attempt, as a function error does.
fn classify(result: Result<InvocationResult, FunctionsError>) -> (Outcome, Option<Response>) {
    match result {
        Ok(r) => {
            let outcome = match r.function_error.is_some() {
                true => Outcome::FunctionError,
                false => Outcome::Succeeded,
            };
            (
                outcome,
                Some(Response {
                    status_code: 200,
                    function_error: r.function_error,
                    payload: r.payload.to_vec(),
                }),
            )
        }
        Err(
            FunctionsError::TooManyRequests(..)
            | FunctionsError::ResourceConflict(_)
            | FunctionsError::Service(_),
        ) => (Outcome::Deferred, None),
        Err(e) => {
            let document =
                serde_json::json!({ "errorType": e.code(), "errorMessage": e.to_string() });
            (
                Outcome::FunctionError,
                Some(Response {
                    status_code: e.status(),
                    function_error: None,
                    payload: document.to_string().into_bytes(),
                }),
            )
        }
    }
}
