//! Secrets Manager: versioned secrets whose values exist in the store only sealed through KMS.
//!
//! What lives where:
//! - [`secret_id`]: secret ARNs (`…:secret:<name>-<6 random alphanumerics>`) and how a
//!   `SecretId` — a name, a full ARN or a partial ARN without the suffix — finds a secret. No I/O.
//! - [`records`]: secrets as stored (`secretsmanager/secrets`, by name; version metadata and
//!   staging labels inside), sealed values (`secretsmanager/values`, by `<arn>/<version>`), and
//!   how staging labels move ([`records::attach_stages`]). No I/O beyond load/put helpers.
//! - [`sealing`]: envelope encryption of a version's value: a fresh AES-256 data key per
//!   version, sealed by KMS under the secret's key with encryption context
//!   `{"SecretARN": arn, "SecretVersionId": id}` as AWS binds it; the value sealed under the data
//!   key with the same binding as AAD.
//! - [`resource_policy`]: what a secret's resource policy may be, and which policies grant
//!   broad (public) access (`BlockPublicPolicy`, `ValidateResourcePolicy`). No I/O.
//! - [`service`]: [`SecretsService`] — the store, the shared [`rampart_kms::KmsService`], and the
//!   checks a request declares on the secrets and keys it names.
//! - `cache`: secret records and sealed values (never opened ones) kept in memory for read
//!   operations, at most 5 s, emptied by every write through this node.
//! - [`rotation`]: rotation schedules, the invoker of rotation functions, the four-step
//!   rotation run in the background and the scheduler that starts runs when windows open.
//! - `api/`: the API (JSON 1.1, target prefix `secretsmanager`), one module per family —
//!   `secrets` (create, update, delete, restore), `metadata` (describe, list), `values` (get,
//!   put, version ids), `stages` (UpdateSecretVersionStage), `rotation` (rotate, cancel),
//!   `batch` (BatchGetSecretValue), `policies` (resource policies), `tags`, `random` — with
//!   `wire` for the shapes botocore parses.
//! - [`purge`]: deleting, record and values, the secrets whose recovery window has ended (the
//!   server runs [`SecretsService::purge_deleted`] periodically), audited as
//!   `secretsmanager.amazonaws.com`.
//! - [`error`]: [`SecretsError`], one variant per AWS error code.
//!
//! Layering: depends on `rampart-kms` (key custody), `rampart-core`, `rampart-wire` and
//! `rampart-store`, never on `rampart-iam`; the server registers the service.

mod api;
mod cache;
pub mod error;
pub mod purge;
pub mod records;
pub mod resource_policy;
pub mod rotation;
pub mod sealing;
pub mod secret_id;
pub mod service;

pub use api::{OPERATIONS, PROTOCOL};
pub use error::SecretsError;
pub use service::SecretsService;
