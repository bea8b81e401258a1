//! Functions: a Lambda-compatible API, the Runtime API each execution environment talks to,
//! and the environments that run a function's code natively (no containers) under its own
//! role's temporary credentials.
//!
//! What lives where:
//! - [`function_ref`]: how a request names a function (name, partial or full ARN, qualifier).
//!   No I/O.
//! - [`records`]: functions as stored (`lambda/functions`, by name) and their deployment
//!   packages (`lambda/code`).
//! - [`code`]: reading a zip once at upload (zip-slip, links, quotas), its digest, unpacking
//!   it read-only on each node.
//! - [`unpacked`]: which unpacked packages environments hold, and the sweep that removes the
//!   ones no function names.
//! - [`sealing`]: environment variables sealed through KMS under `alias/aws/lambda`.
//! - [`roles`]: [`RoleDirectory`], what Lambda needs of IAM (a role and whether it trusts
//!   Lambda; a role session for an environment), implemented by the server over IAM.
//! - [`runtimes`]: the runtimes this host runs, and the Python runtime loop Rampart ships.
//! - [`concurrency`]: reserved and unreserved concurrency, counted on this node.
//! - [`environment`]: execution environments — process, sandbox (rlimits, no new
//!   privileges, process group), log capture, the warm pool, the Runtime API peer check.
//! - [`logs`]: functions' persisted logs (CloudWatch Logs' part): Lambda's `START`/`END`/
//!   `REPORT` lines, the node's buffer and the task that stores it in sealed batches,
//!   reading it back (`rampart logs`), retention and the sweep.
//! - [`runtime_api`]: the Runtime API served to one environment on its own loopback port.
//! - [`invoker`]: [`Invoker`], the one in-process way to run a function.
//! - [`async_queue`]: asynchronous invocations (`InvocationType: Event`), queued durably in
//!   the store, retried and sent to destinations by a worker on every node.
//! - [`service`]: [`FunctionsService`]; `api/`: the Lambda API (rest-json), one module per
//!   family (`functions`, `invoke`) with `wire` for the shapes botocore parses.
//! - [`error`]: [`FunctionsError`], one variant per AWS error code.
//!
//! Layering: depends on `rampart-kms`, `rampart-core`, `rampart-wire` and `rampart-store`,
//! never on `rampart-iam` (IAM comes in through [`RoleDirectory`]); the server registers the
//! service.

mod api;
pub mod async_queue;
pub mod code;
pub mod concurrency;
pub mod environment;
pub mod error;
pub mod function_ref;
pub mod invoker;
pub mod logs;
pub mod records;
pub mod roles;
pub mod runtime_api;
pub mod runtimes;
pub mod sealing;
pub mod service;
pub mod unpacked;

pub use api::{OPERATIONS, PROTOCOL};
pub use error::FunctionsError;
pub use invoker::{HostConfig, InvocationRequest, InvocationResult, Invoker};
pub use roles::{ExecutionRole, RoleCredentials, RoleDirectory, RoleError, ServiceCaller};
pub use service::FunctionsService;
