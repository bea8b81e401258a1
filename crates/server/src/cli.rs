//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Serve(ServeArgs),
    /// Print the audit trail: one record per request, accepted or rejected.
    Audit(AuditArgs),
    /// Check, lint and simulate IAM policy documents offline.
    #[command(subcommand)]
    Policy(crate::policy_cmd::PolicyCommand),
}

/// Where Rampart keeps its state.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database, the master key and the admin credentials.
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
    /// The region this endpoint reports in ARNs and examples.
    #[arg(long, env = "RAMPART_REGION", default_value = "us-east-1")]
    pub region: String,
    /// File holding the 32-byte master key that seals secrets at rest. Default:
    /// <DATA_DIR>/master.key, created on first start. Servers sharing a PostgreSQL store must
    /// share this key.
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Open connections accepted at most per listener; more are closed on accept.
    #[arg(long, env = "RAMPART_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds between sweeps of the services' own work: KMS automatic rotation, destroying
    /// keys past their deletion date, purging secrets whose recovery window ended.
    #[arg(long, default_value_t = 60)]
    pub maintenance_interval_secs: u64,
    /// Seconds a client has to send a request's headers (and a new connection its first
    /// request) before the connection is closed.
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Test only: accept STS session durations shorter than AWS's 900 s minimum, so that
    /// expiry can be observed in a test. Never set this in a deployment.
    #[arg(long, hide = true)]
    pub test_min_session_seconds: Option<u32>,
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
