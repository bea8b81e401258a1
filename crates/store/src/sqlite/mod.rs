//! The embedded backend: one SQLite file in WAL mode.
//!
//! SQLite allows one writer at a time per file, so instead of letting many connections race for
//! the write lock (and turn load into `SQLITE_BUSY` retries) every write goes through one
//! dedicated thread owning the only write connection ([`writer`]), which also group-commits the
//! audit trail; readers use a few connections of their own on the requesting thread
//! ([`readers`]) and, thanks to WAL, never block or get blocked by the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::audit::{AuditQuery, AuditRecord};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite};

use crate::rows::{self, audit_from_row, push_audit_filters, ErrorCodes};
use crate::{Item, Store, StoreError, Write};

mod audit_batches;
mod checkpoint;
mod readers;
mod writer;

use checkpoint::Checkpointer;
use readers::Readers;
use writer::Writer;

/// The SQLite schema, embedded at compile time from `migrations/sqlite`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Read connections: enough for a handful of concurrent requests; WAL readers are cheap.
const READERS: u32 = 4;
/// How long a connection waits on a lock held by another process before `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a reader before `Unavailable`.
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
    writer: Writer,
    /// Point reads and listings, on the requesting thread.
    reads: Readers,
    /// sqlx's pool, for the audit trail's queries.
    readers: SqlitePool,
    /// Checkpoints the WAL beside the writer; stopped on close.
    checkpointer: std::sync::Mutex<Checkpointer>,
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
        Self::open_with(
            path,
            writer::QUEUE_CAPACITY,
            checkpoint::RESTART_AFTER_FRAMES,
        )
        .await
    }

    /// [`SqliteStore::open`] with a writer queue of `capacity` jobs and the WAL starting over
    /// past `restart_after` frames (tests use tiny ones).
    async fn open_with(
        path: &Path,
        capacity: usize,
        restart_after: i64,
    ) -> Result<Self, StoreError> {
        let owned = path.to_owned();
        tokio::task::spawn_blocking(move || create_private_file(&owned))
            .await
            .map_err(|e| StoreError::Unavailable(format!("creating {}: {e}", path.display())))??;

        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // Migrations run on a connection of their own, closed before the writer starts.
        let mut migrating = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .connect()
            .await
            .map_err(map_err)?;
        let leftover = leftover_audit_journal(path, &mut migrating).await;
        if let Err(e) = leftover {
            let _ = migrating.close().await;
            return Err(e);
        }
        let migrated = MIGRATOR.run_direct(&mut migrating).await;
        let _ = migrating.close().await;
        migrated.map_err(rows::map_migrate_err::<Sqlite>)?;
        let writer = Writer::start(path, capacity).await?;
        let (owned, commits) = (path.to_owned(), writer.commits());
        let (reads, checkpointer) = tokio::task::spawn_blocking(move || {
            Ok::<_, StoreError>((
                Readers::open(&owned, READERS as usize)?,
                Checkpointer::start(&owned, commits, restart_after)?,
            ))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("opening readers: {e}")))??;
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
            reads,
            readers,
            checkpointer: std::sync::Mutex::new(checkpointer),
            path: path.to_owned(),
        })
    }

    /// The database file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates missing parent directories (0700) and the database file (0600) if absent. Existing
/// files keep their mode: an operator may have chosen a different one deliberately.
/// Deals with the audit journal file (`<db>-audit`) of the builds that had one (schema version
/// 4): removed when every record in it is in `audit_records` (the table's offset reaches the
/// file's end), refused otherwise, so that migration 5 dropping the journal's table never
/// loses a record. Those builds index on a clean close, so only one that was killed leaves any.
async fn leftover_audit_journal(
    path: &Path,
    conn: &mut sqlx::SqliteConnection,
) -> Result<(), StoreError> {
    let mut journal = path.as_os_str().to_owned();
    journal.push("-audit");
    let journal = PathBuf::from(journal);
    let len = match std::fs::metadata(&journal) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "{}: {e}",
                journal.display()
            )))
        }
    };
    let indexed_to: Option<i64> = sqlx::query_scalar(
        "SELECT indexed_to FROM audit_journal WHERE id = 1 \
         AND EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'audit_journal')",
    )
    .fetch_optional(&mut *conn)
    .await
    .unwrap_or(None);
    // The journal's header alone (24 bytes) holds no record.
    let indexed = u64::try_from(indexed_to.unwrap_or(24)).unwrap_or(0);
    if len > indexed {
        return Err(StoreError::Corrupt(format!(
            "{} holds audit records not yet in the audit trail, written by an earlier build of \
             Rampart that kept an audit journal; start that build once and stop it cleanly (it \
             indexes them), then start this one",
            journal.display()
        )));
    }
    std::fs::remove_file(&journal)
        .map_err(|e| StoreError::Unavailable(format!("removing {}: {e}", journal.display())))
}

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

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        self.reads.get(ns, key)
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        self.reads.list(ns, prefix, start_after, limit)
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.commit(writes, None).await
    }

    /// One transaction at `synchronous=FULL`, like `commit`; with no writes it still commits
    /// the record.
    async fn commit_audited(
        &self,
        writes: Vec<Write>,
        record: &AuditRecord,
    ) -> Result<Vec<i64>, StoreError> {
        self.writer.commit(writes, Some(record.clone())).await
    }

    /// Audit batches are committed at the writer's default `synchronous=NORMAL`: the WAL
    /// frames are written to the operating system before the commit returns, so an
    /// acknowledged record survives the process being killed (SIGKILL, OOM, panic), but not a
    /// power cut in the following moments. That is the guarantee an audit trail of requests
    /// needs, at a fraction of an fsync per batch; state changes (`commit`) run at FULL.
    /// Batches appended at the same moment share one transaction.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.append_audit(records.to_vec()).await
    }

    /// Group-committed by the writer thread, as `append_audit`.
    async fn record_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        let seqs = self.writer.append_audit(vec![record]).await?;
        seqs.first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("the audit insert returned no seq".into()))
    }

    /// Rows from before schema version 6 first (their seqs are lower), then the batches, each
    /// read on a blocking thread with a connection of its own: a query over a long trail must
    /// not hold a request's reader or an async worker.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {}, NULL FROM audit_records",
            rows::AUDIT_COLUMNS
        ));
        push_audit_filters(&mut qb, query);
        let found = qb.build().fetch_all(&self.readers).await.map_err(map_err)?;
        let mut found = found
            .iter()
            .map(audit_from_row::<_, i64>)
            .collect::<Result<Vec<_>, _>>()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        if found.len() >= limit {
            return Ok(found);
        }
        let (path, query, rest) = (self.path.clone(), query.clone(), limit - found.len());
        let batches = tokio::task::spawn_blocking(move || {
            let conn = readers::open_reader(&path)?;
            audit_batches::query(&conn, &query, rest)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reading the audit trail: {e}")))??;
        found.extend(batches);
        Ok(found)
    }

    async fn close(&self) {
        self.readers.close().await;
        self.reads.close();
        self.checkpointer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .stop();
        // The writer goes last: closing the last connection checkpoints and removes the WAL.
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rampart_core::audit::AuditOutcome;

    use super::*;

    fn record(request_id: &str) -> AuditRecord {
        AuditRecord {
            seq: 0,
            time: time::OffsetDateTime::now_utc(),
            request_id: request_id.into(),
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
            access: None,
        }
    }

    fn temp_db(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("rampart-{name}-{}", uuid::Uuid::new_v4()));
        let db = dir.join("t.db");
        (dir, db)
    }

    /// When the trail falls behind (here: another connection holds the write lock), the queue
    /// fills, and a record beyond it is refused at once instead of waiting or piling up; what
    /// was queued is written once the lock is free.
    #[tokio::test]
    async fn a_full_queue_refuses_records_at_once() {
        let (dir, db) = temp_db("backpressure");
        let store = Arc::new(
            SqliteStore::open_with(&db, 1, checkpoint::RESTART_AFTER_FRAMES)
                .await
                .unwrap(),
        );
        let blocker = rusqlite::Connection::open(&db).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

        let spawn = |id: &'static str| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.record_audit(record(id)).await })
        };
        // The writer takes the first record and waits for the lock...
        let first = spawn("first");
        tokio::task::yield_now().await;
        wait_until(|| store.writer.queued() == 0).await;
        // ...the second fills the one-job queue...
        let second = spawn("second");
        wait_until(|| store.writer.queued() == 1).await;
        // ...and the third is refused without waiting.
        let started = std::time::Instant::now();
        let refused = store.record_audit(record("third")).await;
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("queue full")),
            "{refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        blocker.execute_batch("COMMIT").unwrap();
        let first = first.await.unwrap().expect("first is written");
        let second = second.await.unwrap().expect("second is written");
        assert!(first < second);
        let stored = store.query_audit(&AuditQuery::default()).await.unwrap();
        let ids: Vec<_> = stored.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["first", "second"]);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    async fn wait_until(condition: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !condition() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The writer never checkpoints; the checkpointer thread copies its commits into the
    /// database file soon after they are made (the file grows without any other connection
    /// touching it), and closing the store leaves no WAL behind.
    #[tokio::test]
    async fn the_checkpointer_copies_commits_into_the_database_file() {
        let (dir, db) = temp_db("checkpoint");
        let store = SqliteStore::open(&db).await.unwrap();
        let before = std::fs::metadata(&db).unwrap().len();
        for _ in 0..20 {
            store.append_audit(&vec![record("r"); 100]).await.unwrap();
        }
        let grown = || std::fs::metadata(&db).unwrap().len() > before + 100 * 1024;
        wait_until(grown).await;
        store.close().await;
        let wal = db.with_extension("db-wal");
        assert!(!wal.exists(), "the WAL is removed when the store closes");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Reads run on the caller's thread against their own connections: they see every
    /// commit, list in key order, and fail cleanly once the store is closed.
    #[tokio::test]
    async fn reads_see_commits_and_stop_at_close() {
        let (dir, db) = temp_db("reads");
        let store = SqliteStore::open(&db).await.unwrap();
        let put = |key: &str| Write::Put {
            ns: "t".into(),
            key: key.into(),
            value: key.as_bytes().to_vec(),
            expect: crate::Expect::Absent,
        };
        store
            .commit(vec![put("b"), put("a"), put("c")])
            .await
            .unwrap();
        assert_eq!(store.get("t", "a").await.unwrap().unwrap().value, b"a");
        let keys: Vec<_> = store
            .list("t", "", Some("a"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["b", "c"]);
        store.close().await;
        assert!(matches!(
            store.get("t", "a").await,
            Err(StoreError::Unavailable(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Under audit batches committed back to back while readers read, the WAL does not grow
    /// without bound: past its restart size the checkpointer makes it start over, and
    /// `journal_size_limit` cuts the file back.
    #[tokio::test]
    async fn the_wal_starts_over_under_constant_writes() {
        let (dir, db) = temp_db("restart");
        let store = Arc::new(SqliteStore::open_with(&db, 4096, 64).await.unwrap());
        let wal = db.with_extension("db-wal");
        let reader = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..2000 {
                    let _ = store.get("t", "k").await;
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut largest = 0;
        let started = std::time::Instant::now();
        // About 3 s of batches, each a few pages, never pausing for the checkpointer.
        while started.elapsed() < std::time::Duration::from_secs(3) {
            store.append_audit(&vec![record("r"); 50]).await.unwrap();
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        reader.await.unwrap();
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        // The file keeps its high-water mark (a restart reuses it from the start) up to
        // `journal_size_limit`, 64 MiB; without restarts these three seconds of batches grew
        // it to ~235 MB here, with them it stayed at ~12 MB.
        assert!(size <= 64 << 20, "WAL at {size} bytes (largest {largest})");
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A query walks many batches page by page, starts inside the batch holding the seq after
    /// `after_seq`, and stops at its limit.
    #[tokio::test]
    async fn queries_walk_batches_from_any_seq() {
        let (dir, db) = temp_db("batches");
        let store = SqliteStore::open(&db).await.unwrap();
        let mut seqs = Vec::new();
        for b in 0..150 {
            let batch: Vec<_> = (0..3).map(|i| record(&format!("r{b}-{i}"))).collect();
            seqs.extend(store.append_audit(&batch).await.unwrap());
        }
        assert_eq!(seqs, (1..=450).collect::<Vec<i64>>());
        let all = store.query_audit(&AuditQuery::default()).await.unwrap();
        assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
        assert_eq!(all[4].request_id, "r1-1");
        for after in [0, 1, 2, 3, 4, 200, 448, 449, 450, 1000] {
            let query = AuditQuery {
                after_seq: Some(after),
                limit: Some(7),
                ..AuditQuery::default()
            };
            let got: Vec<i64> = store
                .query_audit(&query)
                .await
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect();
            let want: Vec<i64> = (after + 1..=450).take(7).collect();
            assert_eq!(got, want, "after {after}");
        }
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// State changes run at `synchronous=FULL` and leave the writer at NORMAL, the audit
    /// batches' setting.
    #[tokio::test]
    async fn commits_restore_the_audit_default() {
        let (dir, db) = temp_db("sync");
        let store = SqliteStore::open(&db).await.unwrap();
        let seqs = store.append_audit(&vec![record("r"); 600]).await.unwrap();
        assert_eq!(seqs.len(), 600);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
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
                &record("audited"),
            )
            .await
            .unwrap();
        assert_eq!(
            store.writer.synchronous().await.unwrap(),
            1,
            "NORMAL between commits"
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
