//! Execution environments: one process tree per environment, started from the function's
//! unpacked code (read-only) with a private writable tmp directory, Lambda's environment
//! variables, the function's role credentials, a Runtime API listener of its own and the
//! sandbox of [`sandbox`]. An environment runs one invocation at a time and is kept warm for
//! the next invocation of the same function revision ([`pool`]); dropping it kills its
//! whole process group.

pub mod identity;
pub mod isolation;
pub mod jail;
pub mod logs;
pub mod memory;
pub mod peer;
pub mod pool;
pub mod sandbox;
mod sock_diag;
pub mod spawn;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::code::remove_tree;
use crate::logs::LogStream;
use crate::runtime_api::{self, Invocation, RuntimeChannel, RuntimeOutcome};
use crate::unpacked::CodeLease;
use isolation::Isolation;
use jail::Jail;
use logs::LogCapture;
use sandbox::{Confinement, Limits, Reach};
use spawn::{Identity, Process, Spawn, Stage};

/// How long a new environment's runtime may take to ask for its first invocation
/// (Lambda's on-demand initialization limit).
pub const INIT_LIMIT: Duration = Duration::from_secs(10);
/// How long a warm environment's runtime may take to ask for its next invocation.
const WARM_TAKE_LIMIT: Duration = Duration::from_secs(5);

/// How to start an environment's process.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The unpacked code: the working directory and `LAMBDA_TASK_ROOT`.
    pub code_dir: PathBuf,
    /// The private writable directory (`TMPDIR`, `HOME`), created by the caller; removed
    /// with the environment.
    pub tmp_dir: PathBuf,
    /// Every variable the process gets (its environment is cleared first); the Runtime API
    /// address is added here.
    pub variables: Vec<(String, Zeroizing<String>)>,
    pub limits: Limits,
    /// Readable beside the system's directories: the code, the runtimes, the interpreter.
    pub read_only: Vec<PathBuf>,
    /// TCP ports the environment may connect to besides its Runtime API (Rampart's).
    pub tcp_connect: Vec<u16>,
    /// Whom it runs as, in namespaces and a root of its own ([`jail`]); `None` runs it as
    /// Rampart's user in Rampart's namespaces (Rampart is not root).
    pub identity: Option<Identity>,
    /// An empty directory the environment's root is mounted on (in its own namespace).
    pub jail_dir: PathBuf,
    /// Where its output is persisted (the function's log, the environment's stream).
    pub log_stream: Option<LogStream>,
}

/// Why an environment could not be started: reported to the caller as the function's
/// error, as Lambda reports a bad entry point.
#[derive(Debug)]
pub struct StartFailure {
    pub error_type: &'static str,
    pub message: String,
}

/// How one invocation in an environment ended.
pub struct Outcome {
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// Whether the environment can serve another invocation.
    pub reusable: bool,
    pub duration: Duration,
}

/// One running environment.
pub struct ExecutionEnvironment {
    /// The function's `environment_key` it was started for (code and configuration).
    pub environment_key: String,
    child: Process,
    pgid: i32,
    invocations: mpsc::Sender<Invocation>,
    server: JoinHandle<()>,
    log_pump: JoinHandle<()>,
    pub logs: Arc<LogCapture>,
    tmp_dir: PathBuf,
    /// When the role credentials it was started with expire: it must not serve past then.
    pub credentials_expire: OffsetDateTime,
    started: Instant,
    /// Set once the runtime took its first invocation: how long initialization took.
    pub init_duration: Option<Duration>,
    pub last_used: Instant,
    memory_size: u32,
    /// Whether it may serve another invocation after its first ([`isolation`]).
    pub isolation: Isolation,
    /// Its code's directory, kept from the sweep while it lives.
    code: Option<CodeLease>,
    /// The most memory its process tree has been seen to use, in KiB.
    peak_memory_kib: AtomicU64,
    /// Its process tree, for that figure: walked again only when it may have grown.
    tree: Option<memory::TreeWatch>,
}

fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

impl ExecutionEnvironment {
    /// Starts the process of `launch` for the function `function_arn`, with a Runtime API
    /// listener that serves only its process group.
    pub async fn start(
        launch: Launch,
        function_arn: String,
        environment_key: String,
        memory_size: u32,
        credentials_expire: OffsetDateTime,
    ) -> Result<Self, StartFailure> {
        let internal = |what: &str, e: std::io::Error| StartFailure {
            error_type: "Runtime.Unknown",
            message: format!("{what}: {e}"),
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| internal("the Runtime API could not listen", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| internal("the Runtime API could not listen", e))?;
        let (sender, receiver) =
            tokio::net::unix::pipe::pipe().map_err(|e| internal("no log pipe", e))?;
        let out: OwnedFd = sender
            .into_blocking_fd()
            .map_err(|e| internal("no log pipe", e))?;

        let reach = Reach {
            read_only: launch.read_only.clone(),
            writable: launch.tmp_dir.clone(),
            tcp_connect: launch
                .tcp_connect
                .iter()
                .copied()
                .chain([address.port()])
                .collect(),
        };
        let mut variables = launch.variables.clone();
        variables.push((
            "AWS_LAMBDA_RUNTIME_API".into(),
            Zeroizing::new(address.to_string()),
        ));
        let started = Instant::now();
        let child = match start_process(&launch, &reach, &variables, out).await {
            Ok(child) => child,
            Err(failure) => {
                remove_tree(&launch.tmp_dir);
                return Err(failure);
            }
        };
        let pgid = child.id();
        let logs = LogCapture::new(receiver, launch.log_stream.clone());
        let log_pump = tokio::spawn(logs.clone().pump());
        let (channel, invocations) = RuntimeChannel::new(function_arn, logs.clone());
        let server = tokio::spawn(runtime_api::serve(listener, channel, pgid));
        Ok(ExecutionEnvironment {
            environment_key,
            child,
            pgid,
            invocations,
            server,
            log_pump,
            logs,
            tmp_dir: launch.tmp_dir,
            credentials_expire,
            started,
            init_duration: None,
            last_used: started,
            memory_size,
            isolation: Isolation::Warm,
            code: None,
            peak_memory_kib: AtomicU64::new(0),
            tree: u32::try_from(pgid).ok().map(memory::TreeWatch::new),
        })
    }

    /// Runs one invocation: hands it to the runtime, waits for its answer, the process's
    /// exit, or the deadline (`timeout` from when the runtime takes it; a new environment's
    /// runtime must take it within [`INIT_LIMIT`]). On a timeout the whole process group is
    /// killed.
    pub async fn invoke(
        &mut self,
        request_id: &str,
        payload: Bytes,
        client_context: Option<String>,
        timeout_seconds: u32,
    ) -> Outcome {
        let cold = self.init_duration.is_none();
        let begun = Instant::now();
        let (taken_tx, mut taken_rx) = oneshot::channel();
        let (done_tx, mut done_rx) = oneshot::channel();
        let trace_id = format!(
            "Root=1-{:08x}-{};Sampled=0",
            OffsetDateTime::now_utc().unix_timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24]
        );
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload,
            timeout: Duration::from_secs(u64::from(timeout_seconds)),
            client_context,
            trace_id,
            taken: taken_tx,
            done: done_tx,
        };
        let exited = |status: std::io::Result<std::process::ExitStatus>| {
            let how = match status {
                Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(code), _) => format!("exit status {code}"),
                    (None, Some(signal)) => format!("signal {signal}"),
                    _ => "unknown".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            (
                error_document(
                    "Runtime.ExitError",
                    &format!("RequestId: {request_id} Error: Runtime exited with error: {how}"),
                ),
                false,
            )
        };
        let timed_out = |env: &Self| {
            sandbox::kill_group(env.pgid);
            env.logs.platform_line(&format!(
                "{} {request_id} Task timed out after {timeout_seconds}.00 seconds",
                logs::log_time(OffsetDateTime::now_utc())
            ));
            (
                error_document(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {request_id} Error: Task timed out after {timeout_seconds}.00 seconds"
                    ),
                ),
                false,
            )
        };
        let finished = |outcome: Result<RuntimeOutcome, oneshot::error::RecvError>| match outcome {
            Ok(RuntimeOutcome::Response(body)) => (body, true, None),
            Ok(RuntimeOutcome::Error(body)) => (body, true, Some("Unhandled")),
            Ok(RuntimeOutcome::InitError(body)) => (body, false, Some("Unhandled")),
            Ok(RuntimeOutcome::ResponseTooLarge) => (
                error_document(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size exceeded maximum allowed payload size ({} bytes).",
                        runtime_api::MAX_RESPONSE_BYTES
                    ),
                ),
                true,
                Some("Unhandled"),
            ),
            Err(_) => (
                error_document(
                    "Runtime.Unknown",
                    "The runtime stopped serving the invocation.",
                ),
                false,
                Some("Unhandled"),
            ),
        };
        // `START` once the runtime takes the invocation (the Runtime API writes it), as on
        // Lambda: a new environment's initialization output comes before it. Written here
        // only if the invocation ends without being taken.
        if self.invocations.send(invocation).await.is_err() {
            self.logs.start(request_id);
            return Outcome {
                payload: error_document("Runtime.Unknown", "The environment stopped."),
                function_error: Some("Unhandled"),
                reusable: false,
                duration: begun.elapsed(),
            };
        }
        let init_limit = if cold { INIT_LIMIT } else { WARM_TAKE_LIMIT };
        // Until the runtime takes the invocation. Taking is looked at first: a quick runtime
        // has taken and answered by the time this task polls, and its start is still cold.
        // Both instants of `Duration` are the Runtime API's, not this task's: on a busy host
        // this task may see the taking late, after the answer, and would read 0.
        let timeout = Duration::from_secs(u64::from(timeout_seconds));
        let (taken, deadline) = tokio::select! {
            biased;
            taken = &mut taken_rx => {
                match taken {
                    Ok(taken) => (taken, taken + timeout),
                    Err(_) => (Instant::now(), Instant::now()),
                }
            }
            outcome = &mut done_rx => {
                self.logs.start(request_id);
                if cold {
                    self.init_duration = Some(self.started.elapsed());
                }
                let answered = outcome.as_ref().ok().map(|(_, at)| *at);
                let (payload, reusable, function_error) = finished(outcome.map(|(o, _)| o));
                return self.outcome(payload, function_error, reusable, begun, answered);
            }
            status = self.child.wait() => {
                self.logs.start(request_id);
                let (payload, _) = exited(status);
                return self.outcome(payload, Some("Unhandled"), false, begun, None);
            }
            _ = tokio::time::sleep(init_limit) => {
                self.logs.start(request_id);
                let (payload, _) = timed_out(self);
                return self.outcome(payload, Some("Unhandled"), false, begun, None);
            }
        };
        if cold {
            self.init_duration = Some(taken.saturating_duration_since(self.started));
        }
        let running = taken;
        tokio::select! {
            outcome = &mut done_rx => {
                let answered = outcome.as_ref().ok().map(|(_, at)| *at);
                let (payload, reusable, function_error) = finished(outcome.map(|(o, _)| o));
                self.outcome(payload, function_error, reusable, running, answered)
            }
            status = self.child.wait() => {
                let (payload, _) = exited(status);
                self.outcome(payload, Some("Unhandled"), false, running, None)
            }
            _ = tokio::time::sleep_until(deadline) => {
                let (payload, _) = timed_out(self);
                self.outcome(payload, Some("Unhandled"), false, running, None)
            }
        }
    }

    /// How the invocation ended; its duration from `since` to `until` (when the Runtime API
    /// had the answer), or to now.
    fn outcome(
        &mut self,
        payload: Bytes,
        function_error: Option<&'static str>,
        reusable: bool,
        since: Instant,
        until: Option<Instant>,
    ) -> Outcome {
        self.last_used = Instant::now();
        Outcome {
            payload,
            function_error,
            reusable,
            duration: until
                .unwrap_or(self.last_used)
                .saturating_duration_since(since),
        }
    }

    /// The environment, living as `isolation` says.
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// The environment, holding its code's directory for as long as it lives.
    pub fn holding(mut self, code: CodeLease) -> Self {
        self.code = Some(code);
        self
    }

    /// The memory size the function was configured with.
    pub fn memory_size(&self) -> u32 {
        self.memory_size
    }

    /// The most memory the environment's process tree has used so far, in MB (over all its
    /// invocations, as Lambda reports it; see [`memory`] for what is measured).
    pub fn max_memory_used_mb(&self) -> u64 {
        let now = self.tree.as_ref().map_or(0, memory::TreeWatch::peak_kib);
        let peak = self
            .peak_memory_kib
            .fetch_max(now, Ordering::Relaxed)
            .max(now);
        memory::as_mb(peak)
    }

    /// Whether the process is still there.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Whether environments can have namespaces of their own here: cleared (with one warning)
/// the first time the kernel or a container refuses them, after which environments run in
/// Rampart's namespaces as before.
static NAMESPACES_AVAILABLE: AtomicBool = AtomicBool::new(true);

/// Starts the process of `launch` with `variables`, its output to `out`: jailed as its
/// identity when it has one and namespaces are available.
async fn start_process(
    launch: &Launch,
    reach: &Reach,
    variables: &[(String, Zeroizing<String>)],
    out: OwnedFd,
) -> Result<Process, StartFailure> {
    let unknown = |what: &str, e: &dyn std::fmt::Display| StartFailure {
        error_type: "Runtime.Unknown",
        message: format!("{what}: {e}"),
    };
    let identity = launch
        .identity
        .filter(|_| NAMESPACES_AVAILABLE.load(Ordering::Relaxed));
    if let Some(id) = identity {
        std::os::unix::fs::chown(&launch.tmp_dir, Some(id.uid), Some(id.gid))
            .map_err(|e| unknown("the environment's tmp directory", &e))?;
    }
    let prepare = |jailed: Option<Identity>| -> Result<Spawn, StartFailure> {
        let confinement = Confinement::build(launch.limits, reach)
            .map_err(|e| unknown("the sandbox could not be built", &e))?;
        let stdout = out.try_clone().map_err(|e| unknown("no log pipe", &e))?;
        let stderr = out.try_clone().map_err(|e| unknown("no log pipe", &e))?;
        let mut spawn = Spawn::new(
            &launch.program,
            &launch.args,
            variables,
            &launch.code_dir,
            stdout,
            stderr,
            confinement,
        )
        .map_err(|e| unknown("the process could not be prepared", &e))?;
        if let Some(id) = jailed {
            let jail = Jail::plan(&launch.jail_dir, &reach.exposures())
                .map_err(|e| unknown("the environment's root could not be planned", &e))?;
            spawn.jail = Some((jail, id));
        }
        Ok(spawn)
    };
    let mut result = prepare(identity)?.start().await;
    if let (Some(_), Err(e)) = (identity, &result) {
        if matches!(e.stage, Stage::Clone | Stage::Jail | Stage::Identity) {
            NAMESPACES_AVAILABLE.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "execution environments cannot have namespaces of their own here: they run as Rampart's user in its namespaces");
            result = prepare(None)?.start().await;
        }
    }
    result.map_err(|e| match e.stage {
        Stage::Exec => StartFailure {
            error_type: "Runtime.InvalidEntrypoint",
            message: format!(
                "fork/exec {}: {}",
                launch.program.display(),
                entrypoint_error(&e.error)
            ),
        },
        _ => unknown("the execution environment could not be started", &e),
    })
}

/// How a failed exec reads, as Lambda words it (`permission denied`, `no such file or
/// directory`, `exec format error`).
fn entrypoint_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::ENOEXEC) => "exec format error".into(),
        _ => e.to_string(),
    }
}

impl Drop for ExecutionEnvironment {
    fn drop(&mut self) {
        sandbox::kill_group(self.pgid);
        self.server.abort();
        self.log_pump.abort();
        remove_tree(&self.tmp_dir);
    }
}
