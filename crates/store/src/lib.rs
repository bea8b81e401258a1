//! Rampart's storage: one small trait, two backends.
//!
//! Every service keeps its state here rather than in process memory, so that Rampart survives
//! restarts and several Rampart processes can share one PostgreSQL database. The trait is
//! deliberately tiny — a versioned key/value map with multi-key atomic commits, plus the
//! append-only audit trail — so both backends can implement it exactly and one test suite
//! (`tests/suite`) can hold them to the same contract.
//!
//! * [`SqliteStore`] is the embedded default: one file, WAL, one writer thread; state changes
//!   at `synchronous=FULL`, audit batches at NORMAL (durable against process death).
//! * [`PostgresStore`] is for scale-out: all coordination happens in the database (row locks,
//!   unique constraints, a table lock for the audit sequence), never in this process.

use std::sync::Arc;

use rampart_core::audit::{AuditQuery, AuditRecord};

mod kv;
mod location;
mod postgres;
/// The request's audit record, committed with its state change.
pub mod request_audit;
mod rows;
mod sqlite;

pub use location::Location;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A stored value with its version.
///
/// The version starts at 1 when a key is created and increases by exactly 1 on every put, so a
/// caller can read, modify and write back with [`Expect::Version`] and learn whether anybody
/// else wrote in between. Deleting a key forgets its version: a re-created key starts at 1 again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: Vec<u8>,
    pub version: i64,
}

/// What a write requires of the key's current state (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No requirement: last writer wins.
    Any,
    /// The key must not exist (create-only).
    Absent,
    /// The key must exist with exactly this version (compare-and-swap).
    Version(i64),
}

/// One write in an atomic [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        ns: String,
        key: String,
        value: Vec<u8>,
        expect: Expect,
    },
    Delete {
        ns: String,
        key: String,
        expect: Expect,
    },
}

impl Write {
    /// The namespace and key this write touches (used to report conflicts).
    pub fn target(&self) -> (&str, &str) {
        match self {
            Write::Put { ns, key, .. } | Write::Delete { ns, key, .. } => (ns, key),
        }
    }
}

/// Why a storage operation failed.
///
/// Callers care about three situations: somebody else won a race ([`StoreError::Conflict`]:
/// re-read and retry or report), the store could not be reached or refused the work
/// ([`StoreError::Unavailable`]: a 5xx, maybe retry later), and the stored data is not what this
/// version of Rampart understands ([`StoreError::Corrupt`]: never silently skipped).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// An [`Expect`] did not hold; nothing in the commit was written.
    #[error("conflicting write to {ns}/{key}")]
    Conflict { ns: String, key: String },
    /// The database could not be reached, timed out, or refused the statement.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data (or the database's schema) is not what this version expects.
    #[error("store data corrupt: {0}")]
    Corrupt(String),
    /// The store URL could not be understood.
    #[error("invalid store URL: {0}")]
    InvalidUrl(String),
}

/// The storage contract every service codes against.
///
/// Implementations must make each call atomic and durable on return; nothing may be cached in
/// process memory as the source of truth, because another process may write the same rows.
///
/// Keys may be any string (they are stored as UTF-8 bytes and ordered bytewise). Namespaces are
/// identifiers chosen by code and must not contain NUL, which PostgreSQL text cannot hold.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`: for logs, metrics and the rare backend-specific test.
    fn backend(&self) -> &'static str;

    /// The current value of `key` in `ns`, if any.
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError>;

    /// Keys in `ns` starting with `prefix`, in byte order, strictly after `start_after`, at most
    /// `limit`. Prefix matching is exact (no wildcards), so `%` and `_` in keys are ordinary.
    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError>;

    /// All writes or none, in one transaction, applied in order (a later write to the same key
    /// sees the earlier one). Any failed [`Expect`] → `Err(Conflict{ns, key})` naming the first
    /// failing write, and nothing is written. Returns the new version of each `Put` (0 for each
    /// `Delete`), in order. Durable when it returns.
    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<i64>, StoreError>;

    /// [`Store::commit`] together with the audit record of the request that makes the change,
    /// in one transaction: the change is never durable without its record, nor the record
    /// without the change (a conflict writes neither). Returns what `commit` returns.
    async fn commit_audited(
        &self,
        writes: Vec<Write>,
        record: &AuditRecord,
    ) -> Result<Vec<i64>, StoreError>;

    /// Appends audit records in one transaction (the group-commit writer hands over many at
    /// once), assigning strictly increasing `seq`s in the order given; durable when it returns.
    /// Seqs may have gaps but are assigned in commit order, so a reader tailing with
    /// `after_seq` never misses a record committed later with a smaller seq.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError>;

    /// Appends one request's record and answers its `seq` once it is durable (as
    /// [`Store::append_audit`] promises). Records appended by concurrent requests are
    /// group-committed: one transaction takes every record queued while the previous one was
    /// being written, so the cost of a durable commit is shared, and each caller is woken once,
    /// when its record's transaction is durable. The queue is bounded: when the trail falls
    /// behind, a record is refused at once with `Unavailable` (the request path then answers
    /// `ServiceUnavailable`) rather than held in memory without limit.
    async fn record_audit(&self, record: AuditRecord) -> Result<i64, StoreError>;

    /// Records matching every set field of `query`, oldest (lowest `seq`) first. `since` and
    /// `until` are both inclusive; `principal` matches `principal_arn` OR `access_key_id`.
    /// Times come back in UTC at microsecond precision.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Closes the store's connections, waiting for in-flight work. Lets SQLite checkpoint its
    /// WAL on a clean shutdown; after `close` every call fails with `Unavailable`.
    async fn close(&self) {}
}

/// Opens the store named by `url` and runs any pending migrations.
///
/// `sqlite:///abs/path/rampart.db`, `sqlite://relative.db` or a bare filesystem path select
/// SQLite; `postgres://…` / `postgresql://…` select PostgreSQL, optionally with `?schema=NAME`
/// so several installations can share one database. See [`Location::parse`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match Location::parse(url)? {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
        Location::Postgres {
            url,
            schema: Some(schema),
        } => Ok(Arc::new(
            PostgresStore::connect_in_schema(&url, &schema).await?,
        )),
        Location::Postgres { url, schema: None } => {
            Ok(Arc::new(PostgresStore::connect(&url).await?))
        }
    }
}
