//! The one in-process invoker: the Lambda API's `Invoke` calls it, and so will every later
//! caller (the gateway, the asynchronous queue, Secrets Manager's rotation) — never an HTTP
//! call back into Rampart's own API. It finds or starts an execution environment for the
//! function, runs the invocation, and keeps the environment warm when it may serve again.
//!
//! It also prepares code on this node: a new function becomes `Active` once its package is
//! unpacked ([`Invoker::spawn_activation`]); another node unpacks the stored package the first
//! time it runs the function.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rampart_core::AuditRecord;
use rampart_kms::KmsService;
use rampart_store::{Expect, Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::code;
use crate::concurrency::Concurrency;
use crate::environment::identity::Identities;
use crate::environment::isolation::Isolation;
use crate::environment::pool::Pool;
use crate::environment::sandbox::Limits;
use crate::environment::{ExecutionEnvironment, Launch, StartFailure};
use crate::error::{FunctionsError, ThrottleReason};
use crate::function_ref::LATEST;
use crate::logs::{framing, LogShipper};
use crate::records::{self, FunctionRecord, FunctionState, LastUpdate, UpdateStatus};
use crate::roles::{RoleDirectory, RoleError, LAMBDA_PRINCIPAL};
use crate::runtimes::Runtime;
use crate::sealing;
use crate::unpacked::CodeInUse;

mod code_sweep;
mod host;

use host::{create_private_dir, endpoint_port};
mod service_principals;

/// The largest payload of a synchronous invocation, request or response (AWS: 6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// Where and how this node runs functions.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// `<data-dir>/functions`: unpacked code (`code/<sha256>`), environments' private
    /// directories (`tmp/<id>`) and the runtimes Rampart ships (`runtimes/`).
    pub root: PathBuf,
    /// Rampart's AWS API endpoint, given to functions as `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    /// The Python interpreter that runs `python3.x` functions.
    pub python: PathBuf,
    /// Where that interpreter is installed (`sys.prefix`, `sys.base_prefix`, …): readable by
    /// environments beside the system's directories.
    pub interpreter_paths: Vec<PathBuf>,
    /// Environments this node runs at most at once (warm ones included).
    pub max_environments: usize,
    /// Concurrent executions the account may have on this node (reserved and unreserved
    /// together; `--functions-account-concurrency`).
    pub account_concurrency: u32,
    /// The wait before an asynchronous invocation's first retry; the second waits twice as
    /// long (AWS: one minute, then two; `--functions-async-retry-base-ms`).
    pub async_retry_base: Duration,
}

/// What an invocation is asked to do.
#[derive(Debug, Clone)]
pub struct InvocationRequest {
    /// The event (JSON).
    pub payload: Bytes,
    /// `X-Amz-Client-Context`, decoded.
    pub client_context: Option<String>,
    /// Whether to answer the end of the log (`LogType: Tail`).
    pub tail: bool,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    /// The function's response, or its error document.
    pub payload: Bytes,
    /// `Unhandled` when the function failed (`X-Amz-Function-Error`).
    pub function_error: Option<String>,
    /// The last 4 KB of the invocation's log, when asked for.
    pub log_tail: Option<Vec<u8>>,
}

/// Runs invocations on this node.
pub struct Invoker {
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    roles: Arc<dyn RoleDirectory>,
    region: String,
    account_id: String,
    host: HostConfig,
    pool: Pool,
    concurrency: Arc<Concurrency>,
    /// The users environments run as, one per function (when Rampart runs as root).
    identities: Identities,
    /// The unpacked packages this node's environments run from.
    code_in_use: Arc<CodeInUse>,
    /// Whether the host's Python can import `awslambdaric`, asked once.
    python_ric: OnceCell<bool>,
    /// Set once the shipped Python runtime loop is on disk.
    bootstrap_written: OnceCell<()>,
    /// Where environments' output goes on its way to the functions' persisted logs.
    logs: Arc<LogShipper>,
}

fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

impl Invoker {
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        roles: Arc<dyn RoleDirectory>,
        account_id: String,
        region: String,
        host: HostConfig,
    ) -> Self {
        Invoker {
            logs: LogShipper::new(store.clone(), kms.clone()),
            pool: Pool::new(host.max_environments),
            concurrency: Concurrency::new(host.account_concurrency),
            store,
            kms,
            roles,
            account_id,
            region,
            host,
            identities: Identities::for_this_process(),
            code_in_use: Arc::default(),
            python_ric: OnceCell::new(),
            bootstrap_written: OnceCell::new(),
        }
    }

    /// Unpacks the package `code_key` of `name` on this node and marks the function
    /// `Active` (or `Failed`), in the background.
    pub fn spawn_activation(self: &Arc<Self>, name: String, code_key: String) {
        let invoker = self.clone();
        tokio::spawn(async move {
            // An update's old package may now be unused.
            if invoker.activate(&name, &code_key).await {
                invoker.spawn_code_sweep();
            }
        });
    }

    /// Activates every function left `Pending` or mid-update (a node stopped while
    /// preparing one).
    pub async fn resume_pending(self: &Arc<Self>) -> Result<(), FunctionsError> {
        let mut after: Option<String> = None;
        loop {
            let page = records::list_functions(self.store.as_ref(), after.as_deref(), 100).await?;
            let Some(last) = page.last() else {
                // Code of functions deleted while this node was down.
                self.spawn_code_sweep();
                return Ok(());
            };
            after = Some(last.name.clone());
            for f in &page {
                self.concurrency
                    .set_reserved(&f.name, f.reserved_concurrency);
            }
            for f in page
                .iter()
                .filter(|f| f.state == FunctionState::Pending || f.is_updating())
            {
                self.spawn_activation(f.name.clone(), f.code.key.clone());
            }
        }
    }

    /// Unpacks the package `code_key` of `name` and ends its creation (`Pending` → `Active`
    /// or `Failed`) or its update (`LastUpdateStatus` `InProgress` → `Successful` or
    /// `Failed`); nothing if the function moved on to other code meanwhile. Keyed by the
    /// package, not the revision: a policy change or a reservation while it runs is no reason
    /// to stop. Answers whether an update was finished.
    async fn activate(&self, name: &str, code_key: &str) -> bool {
        for _ in 0..4 {
            let stored = match records::load_function(self.store.as_ref(), name).await {
                Ok(Some(s)) => s,
                _ => return false,
            };
            let f = &stored.record;
            let updating = f.is_updating();
            if f.code.key != code_key || (f.state != FunctionState::Pending && !updating) {
                return false;
            }
            let mut next = f.clone();
            let prepared = self.code_dir(f).await;
            if let Err(e) = &prepared {
                tracing::error!(function = name, error = %e, "the function's code could not be prepared");
            }
            match (prepared.is_ok(), updating) {
                (true, true) => {
                    next.last_update = Some(LastUpdate {
                        status: UpdateStatus::Successful,
                        reason: None,
                        reason_code: None,
                    })
                }
                (false, true) => {
                    next.last_update = Some(LastUpdate {
                        status: UpdateStatus::Failed,
                        reason: Some("Lambda could not unpack the function's code.".into()),
                        reason_code: Some("InternalError".into()),
                    })
                }
                (true, false) => {
                    next.state = FunctionState::Active;
                    next.state_reason = None;
                    next.state_reason_code = None;
                }
                (false, false) => {
                    next.state = FunctionState::Failed;
                    next.state_reason = Some("Lambda could not unpack the function's code.".into());
                    next.state_reason_code = Some("InternalError".into());
                }
            }
            // Nobody's request: the change is audited as Lambda's own.
            let record = AuditRecord::service_action(
                OffsetDateTime::now_utc(),
                LAMBDA_PRINCIPAL,
                "lambda",
                "ActivateFunction",
                &f.arn,
            );
            let write = records::put_function(&next, Expect::Version(stored.version));
            match self.store.commit_audited(vec![write], &record).await {
                Ok(_) => return updating && prepared.is_ok(),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => {
                    tracing::error!(function = name, error = %e, "the function's state could not be stored");
                    return false;
                }
            }
        }
        false
    }

    /// The function's unpacked code on this node, unpacking the stored package if needed.
    async fn code_dir(&self, f: &FunctionRecord) -> Result<PathBuf, FunctionsError> {
        let sha_hex = f.code.sha256_hex();
        let dir = self.code_root().join(&sha_hex);
        if dir.is_dir() {
            return Ok(dir);
        }
        let zip = records::load_code(self.store.as_ref(), &f.code.key)
            .await?
            .ok_or_else(|| {
                FunctionsError::Service("The function's code is missing from the store.".into())
            })?;
        self.host_dirs().map_err(|e| {
            FunctionsError::Service(format!("The functions directory cannot be made: {e}"))
        })?;
        let root = self.code_root();
        tokio::task::spawn_blocking(move || code::unpack(&root, &sha_hex, &zip))
            .await
            .map_err(|_| FunctionsError::Service("Unpacking the function's code failed.".into()))?
            .map_err(|e| {
                FunctionsError::Service(format!("Unpacking the function's code failed: {e}"))
            })
    }

    /// The node's log buffer (its task is started with the service; flushed at shutdown).
    pub fn logs(&self) -> &Arc<LogShipper> {
        &self.logs
    }

    /// The node's concurrency accounting (reservations are set through it).
    pub fn concurrency(&self) -> &Concurrency {
        &self.concurrency
    }

    /// Stops the warm environments of the function `name` (deleted or changed).
    pub fn retire(&self, name: &str) {
        self.pool.retire(name);
    }

    /// Stops idle environments past their time, every 30 seconds, for the life of the process.
    pub fn spawn_reaper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            let mut ticks: u32 = 0;
            loop {
                tick.tick().await;
                let Some(invoker) = weak.upgrade() else {
                    return;
                };
                invoker.pool.reap();
                ticks += 1;
                if ticks == code_sweep::SWEEP_EVERY_TICKS {
                    ticks = 0;
                    invoker.spawn_code_sweep();
                }
            }
        });
    }

    /// Runs `request` on the function `f` (its `$LATEST`): in a warm environment of its
    /// revision if one is idle, in a new one otherwise.
    pub async fn invoke(
        &self,
        f: &FunctionRecord,
        request: InvocationRequest,
    ) -> Result<InvocationResult, FunctionsError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.invoke_as_request(f, request, request_id).await
    }

    /// [`Invoker::invoke`] under a request id of the caller's: an asynchronous invocation's
    /// id is its `Invoke` request's, the same on every attempt.
    pub async fn invoke_as_request(
        &self,
        f: &FunctionRecord,
        request: InvocationRequest,
        request_id: String,
    ) -> Result<InvocationResult, FunctionsError> {
        if f.state != FunctionState::Active {
            return Err(FunctionsError::ResourceConflict(format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {}",
                f.state.as_str()
            )));
        }
        // Counted until the invocation ends, whatever way it ends.
        let _permit = self
            .concurrency
            .acquire(&f.name, f.reserved_concurrency)
            .map_err(|reason| FunctionsError::TooManyRequests(reason, "Rate Exceeded.".into()))?;
        let needed = Duration::from_secs(u64::from(f.timeout) + 60);
        let (mut env, slot) = match self.pool.take(&f.name, &f.environment_key(), needed) {
            Some(warm) => {
                warm.0.logs.clear();
                warm
            }
            None => {
                let slot = self.pool.reserve().ok_or_else(|| {
                    FunctionsError::TooManyRequests(
                        ThrottleReason::ConcurrentInvocationLimitExceeded,
                        "Rate Exceeded. This host runs as many execution environments as it may."
                            .into(),
                    )
                })?;
                match self.start(f).await? {
                    Ok(env) => (env, slot),
                    Err(failure) => {
                        let message = format!("RequestId: {request_id} Error: {}", failure.message);
                        let log = format!(
                            "{}\n{} {}\n{}\n",
                            framing::start(&request_id),
                            failure.error_type,
                            message,
                            framing::end(&request_id)
                        );
                        let stream = crate::logs::stream_name(OffsetDateTime::now_utc());
                        self.logs.stream(&f.name, &stream).push_text(&log);
                        return Ok(InvocationResult {
                            payload: error_document(failure.error_type, &message),
                            function_error: Some("Unhandled".into()),
                            log_tail: request.tail.then(|| log.into_bytes()),
                        });
                    }
                }
            }
        };
        let cold = env.init_duration.is_none();
        let outcome = env
            .invoke(
                &request_id,
                request.payload,
                request.client_context,
                f.timeout,
            )
            .await;
        let report = framing::Report {
            request_id: &request_id,
            duration: outcome.duration,
            init: env.init_duration.filter(|_| cold),
            memory_size_mb: env.memory_size(),
            max_memory_used_mb: env.max_memory_used_mb(),
        };
        env.logs.platform_line(&framing::end(&request_id));
        env.logs.platform_line(&report.line());
        let log_tail = request.tail.then(|| env.logs.tail());
        // A per-invocation environment is dropped here: its process tree is killed and its
        // tmp directory removed before the next invocation can start.
        if outcome.reusable && env.isolation == Isolation::Warm {
            self.pool.put(&f.name, env, slot);
        }
        Ok(InvocationResult {
            payload: outcome.payload,
            function_error: outcome.function_error.map(str::to_owned),
            log_tail,
        })
    }

    /// Starts a new environment for `f`: its code, its variables, its role's credentials,
    /// a private directory and the process its runtime runs.
    async fn start(
        &self,
        f: &FunctionRecord,
    ) -> Result<Result<ExecutionEnvironment, StartFailure>, FunctionsError> {
        // Held before the directory is looked for, so no sweep removes it under the environment.
        let code = self.code_in_use.lease(&f.code.sha256_hex());
        let code_dir = self.code_dir(f).await?;
        self.host_dirs().map_err(|e| {
            FunctionsError::Service(format!("The functions directory cannot be made: {e}"))
        })?;
        let user_variables = match &f.environment {
            Some(sealed) => sealing::open(&self.kms, &f.name, sealed).await?.0,
            None => Default::default(),
        };
        let isolation = Isolation::of(user_variables.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let credentials =
            self.roles
                .assume(&f.role, &f.name, &f.arn)
                .await
                .map_err(|e| match e {
                    RoleError::NotAssumable(_) => FunctionsError::InvalidParameterValue(
                        "The role defined for the function cannot be assumed by Lambda.".into(),
                    ),
                    RoleError::Unavailable(m) => FunctionsError::Service(m),
                })?;
        let runtime = Runtime::parse(&f.runtime)?;
        let (program, args, runtime_variables): (PathBuf, Vec<String>, Vec<(&str, String)>) =
            match &runtime {
                Runtime::Provided(_) => (code_dir.join("bootstrap"), Vec::new(), Vec::new()),
                Runtime::Python(_) => {
                    let args = match self.python_has_ric().await {
                        true => vec![
                            "-m".to_owned(),
                            "awslambdaric".to_owned(),
                            f.handler.clone(),
                        ],
                        false => vec![self
                            .python_bootstrap()
                            .await?
                            .to_string_lossy()
                            .into_owned()],
                    };
                    let python_vars = vec![
                        ("PYTHONPATH", code_dir.to_string_lossy().into_owned()),
                        ("PYTHONUNBUFFERED", "1".to_owned()),
                        ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
                    ];
                    (self.host.python.clone(), args, python_vars)
                }
            };
        let tmp_dir = self
            .host
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        create_private_dir(&tmp_dir).map_err(|e| {
            FunctionsError::Service(format!("No private directory for the environment: {e}"))
        })?;
        let stream = crate::logs::stream_name(OffsetDateTime::now_utc());
        let log_stream = self.logs.stream(&f.name, &stream);
        let path_str = |p: &Path| p.to_string_lossy().into_owned();
        let mut variables: Vec<(String, Zeroizing<String>)> = user_variables.into_iter().collect();
        let mut set = |name: &str, value: String| {
            variables.push((name.to_owned(), Zeroizing::new(value)));
        };
        set("PATH", "/usr/local/bin:/usr/bin:/bin".into());
        set("LANG", "en_US.UTF-8".into());
        set("TZ", ":UTC".into());
        set("HOME", path_str(&tmp_dir));
        set("TMPDIR", path_str(&tmp_dir));
        set("LAMBDA_TASK_ROOT", path_str(&code_dir));
        set("LAMBDA_RUNTIME_DIR", path_str(&self.runtimes_dir()));
        set("_HANDLER", f.handler.clone());
        set("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", f.runtime));
        set("AWS_LAMBDA_FUNCTION_NAME", f.name.clone());
        set("AWS_LAMBDA_FUNCTION_VERSION", LATEST.into());
        set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_size.to_string());
        set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
        set(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", f.name),
        );
        set("AWS_LAMBDA_LOG_STREAM_NAME", stream);
        set("AWS_REGION", self.region.clone());
        set("AWS_DEFAULT_REGION", self.region.clone());
        set("AWS_ENDPOINT_URL", self.host.endpoint.clone());
        set("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone());
        set(
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.to_string(),
        );
        set("AWS_SESSION_TOKEN", credentials.session_token.to_string());
        for (name, value) in runtime_variables {
            set(name, value);
        }
        let mut read_only = vec![code_dir.clone(), self.runtimes_dir()];
        read_only.extend(self.host.interpreter_paths.iter().cloned());
        let launch = Launch {
            program,
            args,
            code_dir,
            tmp_dir,
            variables,
            limits: Limits::for_memory(f.memory_size),
            read_only,
            tcp_connect: endpoint_port(&self.host.endpoint).into_iter().collect(),
            identity: self.identities.of(&f.name),
            jail_dir: self.host.root.join("jail"),
            log_stream: Some(log_stream),
        };
        tracing::debug!(function = %f.name, "starting an execution environment");
        let started = ExecutionEnvironment::start(
            launch,
            f.arn.clone(),
            f.environment_key(),
            f.memory_size,
            credentials.expires_at,
        )
        .await;
        Ok(started.map(|env| env.with_isolation(isolation).holding(code)))
    }
}
