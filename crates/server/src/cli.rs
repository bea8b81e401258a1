//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rampart_user_pools::source_limit::SourceRateLimit;

/// Rampart: AWS's serverless security model — IAM, SigV4, audited requests — on your own machine.
///
/// One binary serves every Rampart service on one listener. Point the AWS CLI or any AWS SDK at
/// it with AWS_ENDPOINT_URL and the profile written at first start.
#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: every service on one listener.
    ///
    /// On first start Rampart creates an account with a random id and an administrator with
    /// one access key. The secret is shown once (when the terminal is interactive) and written
    /// to <DATA_DIR>/admin-credentials (mode 0600) as an AWS CLI profile. There are no default
    /// credentials.
    Serve(Box<ServeArgs>),
    /// Print the audit trail: one record per request, accepted or rejected.
    Audit(AuditArgs),
    /// Check, lint and simulate IAM policy documents offline.
    #[command(subcommand)]
    Policy(crate::policy_cmd::PolicyCommand),
    /// Key custody: rotate the root key that seals secrets at rest, show what it seals.
    #[command(subcommand)]
    Keys(crate::keys_cmd::KeysCommand),
    /// Print a function's log (its output and Lambda's START/END/REPORT lines) or a deployed
    /// API's access log, as `aws logs tail` does; --follow for new events.
    Logs(Box<crate::logs_cmd::LogsArgs>),
    /// User pools' local tooling: read the delivery outbox (codes, temporary passwords).
    #[command(subcommand)]
    Identity(crate::identity_cmd::IdentityCommand),
}

/// Where Rampart keeps its state.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database, the root key file and the admin credentials.
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = ".rampart")]
    pub data_dir: PathBuf,
    /// Storage URL. Default: the embedded SQLite database in the data directory.
    /// Use postgres://user@host/db[?schema=NAME] to share state between several servers.
    #[arg(long, env = "RAMPART_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    /// The store URL, defaulting to SQLite under the data directory.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("rampart.db").display()),
        }
    }
}

/// Where the root key comes from: exactly one of a keyring file, `RAMPART_ROOT_KEY`, or a
/// command; by default `<DATA_DIR>/root.key`.
#[derive(Debug, Args, Clone, Default)]
pub struct RootKeyArgs {
    /// Keyring file holding the root key that seals secrets at rest (mode 0600; refused if
    /// others may read it). Default: <DATA_DIR>/root.key, created when a new store is
    /// bootstrapped; an older install's <DATA_DIR>/master.key is adopted and renamed to it.
    /// Alternatives: RAMPART_ROOT_KEY (base64 of 32 bytes; removed from the environment once
    /// read) or --root-key-cmd. Servers sharing a PostgreSQL store need the same root key.
    #[arg(long, env = "RAMPART_ROOT_KEY_FILE", value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Deprecated name of --root-key-file.
    #[arg(
        long,
        env = "RAMPART_MASTER_KEY_FILE",
        value_name = "FILE",
        hide = true
    )]
    pub master_key_file: Option<PathBuf>,
    /// Shell command whose standard output is the root key (32 raw bytes, or base64 lines as
    /// in a keyring file), e.g. one that asks an HSM or a cloud KMS. Run at start and again
    /// when a stored value names a root key this process does not hold (after a rotation).
    #[arg(long, env = "RAMPART_ROOT_KEY_CMD", value_name = "COMMAND")]
    pub root_key_cmd: Option<String>,
}

impl RootKeyArgs {
    /// The source these options name, defaulting to the data directory's key file.
    pub fn source(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<crate::root_key::source::SourceSpec> {
        crate::root_key::source::SourceSpec::resolve(
            data_dir,
            self.root_key_file.as_deref(),
            self.master_key_file.as_deref(),
            self.root_key_cmd.as_deref(),
        )
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "RAMPART_LISTEN", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Serve Prometheus /metrics on this separate plain-HTTP address (port 0 picks a free
    /// port) instead of on --listen, which then answers /metrics like any other unsigned
    /// request. Default: /metrics on --listen.
    #[arg(long, env = "RAMPART_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "RAMPART_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "RAMPART_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The URL clients reach this server at, as the user pools name it in their token issuer
    /// (`<URL>/<poolId>`) and JWKS URI. Default: http(s)://<listen address>.
    #[arg(long, env = "RAMPART_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The region this endpoint reports in ARNs and examples.
    #[arg(long, env = "RAMPART_REGION", default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Open connections accepted at most per listener; more are closed on accept.
    #[arg(long, env = "RAMPART_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Unsigned requests to the user pools' sign-in and sign-up endpoints (InitiateAuth,
    /// RespondToAuthChallenge, SignUp, ConfirmSignUp, ForgotPassword, ConfirmForgotPassword,
    /// ResendConfirmationCode) one source address (an IPv6 /64) may make per
    /// --auth-rate-window-secs; more get TooManyRequestsException. Counted in this node's
    /// memory: each node admits this many, and a restart forgets the counts (the per-user
    /// lockout is the control shared by every node). 0 turns the limit off.
    #[arg(
        long,
        env = "RAMPART_AUTH_REQUESTS_PER_SOURCE",
        default_value_t = SourceRateLimit::DEFAULT.burst
    )]
    pub auth_requests_per_source: u32,
    /// The window of --auth-requests-per-source, in seconds: the allowance refills evenly
    /// over it (a token bucket of that many requests).
    #[arg(
        long,
        default_value_t = SourceRateLimit::DEFAULT.window.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub auth_rate_window_secs: u64,
    /// Send the user pools' email messages (confirmation and reset codes, invitations) through
    /// this SMTP server as well as keeping them in the outbox: `smtp://host:port` (STARTTLS
    /// when offered), `smtp://host:port?tls=required`, `smtps://user:password@host:465`. Kept
    /// out of logs (it may carry a password).
    #[arg(long, env = "RAMPART_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of those emails.
    #[arg(
        long,
        env = "RAMPART_SMTP_FROM",
        default_value = "Rampart <no-reply@localhost>"
    )]
    pub smtp_from: String,
    /// Seconds between sweeps of the services' own work: KMS automatic rotation, destroying
    /// keys past their deletion date, purging secrets whose recovery window ended.
    #[arg(long, default_value_t = 60)]
    pub maintenance_interval_secs: u64,
    /// Seconds a client has to send a request's headers (and a new connection its first
    /// request) before the connection is closed.
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// The Python interpreter that runs `python3.x` functions (it runs `awslambdaric` when it
    /// can import it, otherwise the runtime loop Rampart ships). A bare name is looked up in
    /// PATH when the server starts.
    #[arg(long, env = "RAMPART_FUNCTIONS_PYTHON", default_value = "python3")]
    pub functions_python: PathBuf,
    /// Execution environments (function processes, warm ones included) this node runs at most
    /// at once; an invocation past that is refused with TooManyRequestsException.
    #[arg(long, env = "RAMPART_FUNCTIONS_MAX_ENVIRONMENTS", default_value_t = 64)]
    pub functions_max_environments: usize,
    /// Concurrent function executions the account may have on this node, reserved
    /// (PutFunctionConcurrency) and unreserved together; a tenth of it (at most AWS's 100)
    /// always stays unreserved. 0: --functions-max-environments, so every reservation can
    /// be had.
    #[arg(
        long,
        env = "RAMPART_FUNCTIONS_ACCOUNT_CONCURRENCY",
        default_value_t = 0
    )]
    pub functions_account_concurrency: usize,
    /// Milliseconds before an asynchronous invocation (InvocationType Event) that failed is
    /// retried; the second retry waits twice as long (AWS: one minute, then two). Lower it
    /// only to test retries.
    #[arg(
        long,
        env = "RAMPART_FUNCTIONS_ASYNC_RETRY_BASE_MS",
        default_value_t = 60_000
    )]
    pub functions_async_retry_base_ms: u64,
    /// Days a function's log events are kept (`rampart logs`) unless the function has a
    /// retention of its own (`rampart logs FUNCTION --retention-days N`); older ones are
    /// deleted by the maintenance sweep.
    #[arg(
        long,
        env = "RAMPART_FUNCTIONS_LOG_RETENTION_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(u32).range(1..=3653)
    )]
    pub functions_log_retention_days: u32,
    /// Test only: accept STS session durations shorter than AWS's 900 s minimum, so that
    /// expiry can be observed in a test. Never set this in a deployment.
    #[arg(long, hide = true)]
    pub test_min_session_seconds: Option<u32>,
    /// Test only: let user-pool app clients have ID and access tokens shorter than Cognito's
    /// 5-minute minimum, so that token expiry and the end of a rotated key's publication can
    /// be observed in a test. Never set this in a deployment.
    #[arg(long, hide = true)]
    pub test_min_token_validity_seconds: Option<u32>,
    /// Log format.
    #[arg(long, env = "RAMPART_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// Log filter (tracing's EnvFilter syntax, e.g. "info" or "rampart=debug").
    #[arg(long, env = "RAMPART_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only records at or after this time: RFC 3339 (2026-11-26T10:00:00Z) or an age (15m, 2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records of this principal ARN or access key id.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only records of this service (signing name, e.g. sts).
    #[arg(long)]
    pub service: Option<String>,
    /// Only records of this operation (e.g. GetCallerIdentity).
    #[arg(long)]
    pub operation: Option<String>,
    /// Only records of this action, service:Operation (e.g. iam:CreateRole).
    #[arg(long, conflicts_with_all = ["service", "operation"])]
    pub action: Option<String>,
    /// Only successful or only failed requests.
    #[arg(long, value_parser = ["success", "failure"])]
    pub outcome: Option<String>,
    /// Only records with this authorization decision (allowed, explicitDeny, implicitDeny).
    #[arg(long)]
    pub decision: Option<String>,
    /// At most this many records (the oldest matching first).
    #[arg(long)]
    pub limit: Option<usize>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}
