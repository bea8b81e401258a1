//! The embedded backend: one SQLite file in WAL mode.
//!
//! SQLite allows one writer at a time per file, so instead of letting many connections race for
//! the write lock (and turn load into `SQLITE_BUSY` retries) all writes go through a pool of
//! exactly one connection: writers queue fairly in the pool, readers use a separate small pool
//! and, thanks to WAL, never block or get blocked by the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::audit::{AuditQuery, AuditRecord};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::kv::{self, Applied};
use crate::rows::{
    self, audit_from_row, checks_json, push_audit_filters, statements_json, unix_micros, ErrorCodes,
};
use crate::{Item, Store, StoreError, Write};

/// The SQLite schema, embedded at compile time from `migrations/sqlite`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Read connections: enough for a handful of concurrent requests; WAL readers are cheap.
const READERS: u32 = 4;
/// How long a connection waits on a lock held by another process before `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for the (single) writer or a reader before `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl ErrorCodes for Sqlite {
    fn is_corrupt(code: &str) -> bool {
        // Primary result code is the low byte of the extended code: SQLITE_CORRUPT (11),
        // SQLITE_NOTADB (26).
        code.parse::<i64>()
            .is_ok_and(|c| matches!(c & 0xff, 11 | 26))
    }
}

fn map_err(err: sqlx::Error) -> StoreError {
    rows::map_err::<Sqlite>(err)
}

/// The embedded store. Cheap to share behind an `Arc`; all state is in the file.
#[derive(Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    ///
    /// Missing parent directories are created with mode 0700 and a new database file with mode
    /// 0600 — it holds credentials and secrets — and SQLite gives its `-wal`/`-shm` files the
    /// same mode. `commit` runs at `synchronous=FULL` (WAL fsynced on every commit, so a commit
    /// that returned survives a crash or power loss); audit batches at NORMAL.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let owned = path.to_owned();
        tokio::task::spawn_blocking(move || create_private_file(&owned))
            .await
            .map_err(|e| StoreError::Unavailable(format!("creating {}: {e}", path.display())))??;

        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // The writer runs at NORMAL, which audit batches use; `commit` raises it to FULL
            // around every state change (see there).
            .synchronous(SqliteSynchronous::Normal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(base.clone().journal_mode(SqliteJournalMode::Wal))
            .await
            .map_err(map_err)?;
        verify_durability(&writer).await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(rows::map_migrate_err::<Sqlite>)?;
        // `query_only` rather than a read-only open: a read-only handle cannot create the
        // `-shm` file if the writer has not yet, while `query_only` just refuses writes.
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(map_err)?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(SqliteStore {
            writer,
            readers,
            path: path.to_owned(),
        })
    }

    /// The database file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Checks that the writer really runs in WAL mode with its default `synchronous=NORMAL`
/// (`commit` raises it to FULL per transaction): SQLite silently keeps the old journal mode
/// where WAL is unsupported (some network filesystems), and the durability promises of
/// `commit` and `append_audit` rest on WAL.
async fn verify_durability(writer: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = writer.acquire().await.map_err(map_err)?;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    if journal.eq_ignore_ascii_case("wal") && synchronous == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "SQLite refused durable settings (journal_mode={journal}, synchronous={synchronous}); \
             is the database on a filesystem without WAL support?"
        )))
    }
}

/// Creates missing parent directories (0700) and the database file (0600) if absent. Existing
/// files keep their mode: an operator may have chosen a different one deliberately.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::fs::{DirBuilder, OpenOptions};
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    let fail = |what: &str, e: std::io::Error| {
        StoreError::Unavailable(format!("{what} {}: {e}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        dirs.mode(0o700);
        dirs.create(parent)
            .map_err(|e| fail("creating the directory of", e))?;
    }
    let mut file = OpenOptions::new();
    file.write(true).create(true).truncate(false);
    #[cfg(unix)]
    file.mode(0o600);
    file.open(path).map_err(|e| fail("creating", e))?;
    Ok(())
}

/// The audit columns `seq` aside; `seq` comes from the AUTOINCREMENT key.
const AUDIT_INSERT_HEAD: &str = "INSERT INTO audit_records (time_us, request_id, principal_arn, \
     access_key_id, source_ip, tls, user_agent, service, operation, outcome, error_code, \
     http_status, decision, matched_statements, checks) ";

/// Rows per INSERT statement: 15 parameters each stays well under SQLite's 32766 limit, and
/// one statement per chunk spares a round trip to sqlx's worker thread per record.
const AUDIT_ROWS_PER_STATEMENT: usize = 256;

/// Appends a batch in its own IMMEDIATE transaction and returns the seqs, ascending.
async fn insert_audit_batch(
    conn: &mut sqlx::SqliteConnection,
    records: &[AuditRecord],
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Connection;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    let seqs = insert_audit(&mut tx, records).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(seqs)
}

/// Inserts `records` on `conn`, which the caller has put inside a transaction (and commits or
/// rolls back), and returns their seqs, ascending.
async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    records: &[AuditRecord],
) -> Result<Vec<i64>, StoreError> {
    let mut seqs = Vec::with_capacity(records.len());
    for chunk in records.chunks(AUDIT_ROWS_PER_STATEMENT) {
        let json = chunk
            .iter()
            .map(|r| {
                Ok((
                    statements_json(&r.matched_statements)?,
                    checks_json(&r.checks)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut qb = QueryBuilder::<Sqlite>::new(AUDIT_INSERT_HEAD);
        qb.push_values(
            chunk.iter().zip(json),
            |mut row, (r, (statements, checks))| {
                row.push_bind(unix_micros(r.time))
                    .push_bind(r.request_id.as_str())
                    .push_bind(r.principal_arn.as_deref())
                    .push_bind(r.access_key_id.as_deref())
                    .push_bind(r.source_ip.as_str())
                    .push_bind(r.tls)
                    .push_bind(r.user_agent.as_deref())
                    .push_bind(r.service.as_str())
                    .push_bind(r.operation.as_str())
                    .push_bind(r.outcome.as_str())
                    .push_bind(r.error_code.as_deref())
                    .push_bind(i64::from(r.http_status))
                    .push_bind(r.decision.as_deref())
                    .push_bind(statements)
                    .push_bind(checks);
            },
        );
        qb.push(" RETURNING seq");
        let rows = qb.build().fetch_all(&mut *conn).await.map_err(map_err)?;
        for row in rows {
            seqs.push(row.try_get::<i64, _>(0).map_err(map_err)?);
        }
    }
    // RETURNING order is unspecified; AUTOINCREMENT values within one transaction are not.
    seqs.sort_unstable();
    Ok(seqs)
}

/// Applies `writes` in one IMMEDIATE transaction, together with `record` if given; a failed
/// expectation rolls everything back, the record included.
async fn commit_writes(
    conn: &mut sqlx::SqliteConnection,
    writes: &[Write],
    record: Option<&AuditRecord>,
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Connection;
    // IMMEDIATE takes the write lock up front, so a second process on the same file waits
    // in the busy handler instead of failing to upgrade a read transaction.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    match kv::apply::<Sqlite>(&mut tx, writes)
        .await
        .map_err(map_err)?
    {
        Applied::Done(versions) => {
            // Any error from here on drops `tx`, which rolls the writes back with it.
            if let Some(record) = record {
                insert_audit(&mut tx, std::slice::from_ref(record)).await?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(versions)
        }
        Applied::Conflict(index) => {
            tx.rollback().await.map_err(map_err)?;
            let (ns, key) = writes[index].target();
            Err(StoreError::Conflict {
                ns: ns.to_owned(),
                key: key.to_owned(),
            })
        }
    }
}

impl SqliteStore {
    /// [`commit_writes`] at `synchronous=FULL`: state changes (and the audit records committed
    /// with them) must survive a power cut, not only the process dying. The writer's default
    /// is NORMAL (for audit batches), so raise it first; should lowering it again fail, the
    /// connection merely stays at the safer setting.
    async fn commit_durably(
        &self,
        writes: &[Write],
        record: Option<&AuditRecord>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.writer.acquire().await.map_err(map_err)?;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        let result = commit_writes(&mut conn, writes, record).await;
        let _ = sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await;
        result
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        let mut conn = self.readers.acquire().await.map_err(map_err)?;
        kv::get::<Sqlite>(&mut conn, ns, key).await
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        let mut conn = self.readers.acquire().await.map_err(map_err)?;
        kv::list::<Sqlite>(&mut conn, ns, prefix, start_after, limit).await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.commit_durably(&writes, None).await
    }

    /// One transaction at `synchronous=FULL`, like `commit`; with no writes it still commits
    /// the record.
    async fn commit_audited(
        &self,
        writes: Vec<Write>,
        record: &AuditRecord,
    ) -> Result<Vec<i64>, StoreError> {
        self.commit_durably(&writes, Some(record)).await
    }

    /// Audit batches are committed at the writer's default `synchronous=NORMAL`: the WAL
    /// frames are written to the operating system before the commit returns, so an
    /// acknowledged record survives the process being killed (SIGKILL, OOM, panic), but not a
    /// power cut in the following moments. That is the guarantee an audit trail of requests
    /// needs, at a fraction of an fsync per batch and three statements per batch; state changes
    /// (`commit`) run at FULL.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.writer.acquire().await.map_err(map_err)?;
        insert_audit_batch(&mut conn, records).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM audit_records",
            rows::AUDIT_COLUMNS
        ));
        push_audit_filters(&mut qb, query);
        let found = qb.build().fetch_all(&self.readers).await.map_err(map_err)?;
        found.iter().map(audit_from_row::<_, i64>).collect()
    }

    async fn close(&self) {
        self.readers.close().await;
        // The writer goes last: closing the last connection checkpoints and removes the WAL.
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use rampart_core::audit::AuditOutcome;

    use super::*;

    #[tokio::test]
    async fn commits_restore_the_audit_default() {
        let dir = std::env::temp_dir().join(format!("rampart-sync-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir.join("t.db")).await.unwrap();
        let record = AuditRecord {
            seq: 0,
            time: time::OffsetDateTime::now_utc(),
            request_id: "r".into(),
            principal_arn: None,
            access_key_id: None,
            source_ip: "127.0.0.1".into(),
            tls: false,
            user_agent: None,
            service: "sts".into(),
            operation: "GetCallerIdentity".into(),
            outcome: AuditOutcome::Success,
            error_code: None,
            http_status: 200,
            decision: None,
            matched_statements: vec![],
            checks: vec![],
        };
        let seqs = store
            .append_audit(&vec![record.clone(); 600])
            .await
            .unwrap();
        let audited = record;
        store
            .commit(vec![Write::Put {
                ns: "t".into(),
                key: "k".into(),
                value: b"v".to_vec(),
                expect: crate::Expect::Absent,
            }])
            .await
            .unwrap();
        store
            .commit_audited(
                vec![Write::Put {
                    ns: "t".into(),
                    key: "k".into(),
                    value: b"w".to_vec(),
                    expect: crate::Expect::Version(1),
                }],
                &audited,
            )
            .await
            .unwrap();
        assert_eq!(seqs.len(), 600);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        let mut conn = store.writer.acquire().await.unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        // `commit` and `commit_audited` raised it to FULL for their transactions and lowered it
        // again afterwards.
        assert_eq!(synchronous, 1, "NORMAL between commits");
        drop(conn);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
