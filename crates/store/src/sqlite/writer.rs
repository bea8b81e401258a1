//! The SQLite writer: one dedicated thread owning the store's only write connection.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and hands each one over
//! there and back, so an audit batch of three statements cost six thread hand-offs, and the
//! profile of a loaded server was a quarter context switches. Here one thread owns a plain
//! (rusqlite) connection with its statements prepared once, and everything that writes — state
//! changes and audit records — reaches it through one bounded queue:
//!
//! * **Audit records are group-committed.** The thread takes every record queued while it was
//!   busy into one transaction, as one row ([`audit_batches`]), at `synchronous=NORMAL` (durable against the process dying,
//!   see [`Store::append_audit`](crate::Store::append_audit)), and wakes each waiting request
//!   once, when its batch is durable.
//! * **State changes** run one transaction each at `synchronous=FULL`, with the request's audit
//!   record if given, exactly as before: a change and its record are durable together.
//! * **Backpressure**: when the queue is full, a new audit record is refused at once
//!   (`Unavailable`, which requests answer as `ServiceUnavailable`) rather than held in memory
//!   without bound; a state change waits for room, at most [`QUEUE_WAIT`].
//!
//! One writer per file also keeps SQLite's single write lock uncontended within the process.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rampart_core::audit::AuditRecord;
use rusqlite::{named_params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::audit_batches;
use super::checkpoint::CommitCount;
use crate::kv;
use crate::rows::unix_micros;
use crate::{Expect, StoreError, Write};

/// Jobs the queue holds before audit records are refused: a few batches' worth.
pub(crate) const QUEUE_CAPACITY: usize = 4096;
/// Most audit records one transaction takes.
const MAX_BATCH: usize = 1024;
/// How long a state change waits for room in a full queue before `Unavailable`.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

type Reply = oneshot::Sender<Result<Vec<i64>, StoreError>>;

enum Job {
    /// One transaction at `synchronous=FULL`: `writes`, with `record` if given.
    Commit {
        writes: Vec<Write>,
        // Boxed: a record is large and most queued jobs are not commits.
        record: Option<Box<AuditRecord>>,
        done: Reply,
    },
    /// Records to append, grouped with every other record queued at the same time.
    Audit {
        records: Vec<AuditRecord>,
        done: Reply,
    },
    /// Finish what is queued, then close the connection (checkpointing the WAL if it is the
    /// last one on the file).
    Close(oneshot::Sender<()>),
    /// The connection's current `PRAGMA synchronous`, for tests.
    #[cfg(test)]
    Synchronous(oneshot::Sender<Result<i64, StoreError>>),
}

/// The handle requests use; the thread stops when every handle is gone or on [`Writer::close`].
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Transactions committed, for the checkpointer.
    commits: CommitCount,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Commit { .. } => "Commit",
            Job::Audit { .. } => "Audit",
            Job::Close(_) => "Close",
            #[cfg(test)]
            Job::Synchronous(_) => "Synchronous",
        })
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped (store closed)".into())
}

impl Writer {
    /// Opens the write connection to `path` on a new thread and checks that it runs in WAL mode
    /// at `synchronous=NORMAL`, the settings the durability promises rest on.
    pub(crate) async fn start(path: &Path, capacity: usize) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(capacity);
        let (ready, opened) = oneshot::channel();
        let path = path.to_owned();
        let commits = CommitCount::default();
        let counted = commits.clone();
        std::thread::Builder::new()
            .name("rampart-sqlite-writer".into())
            .spawn(move || match open(&path) {
                Ok(conn) => {
                    let _ = ready.send(Ok(()));
                    run(conn, queue, &counted);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("starting the SQLite writer: {e}")))?;
        opened.await.map_err(|_| stopped())??;
        Ok(Writer { jobs, commits })
    }

    /// The count of committed transactions, which the checkpointer follows.
    pub(crate) fn commits(&self) -> CommitCount {
        self.commits.clone()
    }

    /// Commits `writes` (and `record`) in one durable transaction.
    pub(crate) async fn commit(
        &self,
        writes: Vec<Write>,
        record: Option<AuditRecord>,
    ) -> Result<Vec<i64>, StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Commit {
            writes,
            record: record.map(Box::new),
            done,
        };
        match tokio::time::timeout(QUEUE_WAIT, self.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(stopped()),
            Err(_) => {
                return Err(StoreError::Unavailable(
                    "the SQLite writer is overloaded".into(),
                ))
            }
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Appends `records` in the next group commit; refused at once when the queue is full.
    pub(crate) async fn append_audit(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<i64>, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .try_send(Job::Audit { records, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    StoreError::Unavailable("the audit trail is falling behind (queue full)".into())
                }
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Jobs waiting in the queue.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// The write connection's `PRAGMA synchronous`.
    #[cfg(test)]
    pub(crate) async fn synchronous(&self) -> Result<i64, StoreError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job::Synchronous(done))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Lets the thread finish what is queued and close its connection; afterwards every call
    /// fails with `Unavailable`.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// The write connection, set up as every SQLite store connection is (`sqlite.rs`).
fn open(path: &Path) -> Result<Connection, StoreError> {
    // A plain file name (never a `file:` URI): the file exists, `open` created and migrated it.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    let journal: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(map_err)?;
    // Checkpoints run on their own thread (`checkpoint.rs`), never inside a commit here; a
    // WAL that grew during a burst is cut back to 64 MiB when it starts over.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )
    .map_err(map_err)?;
    let synchronous: i64 = conn
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .map_err(map_err)?;
    if journal.eq_ignore_ascii_case("wal") && synchronous == 1 {
        Ok(conn)
    } else {
        Err(StoreError::Unavailable(format!(
            "SQLite refused durable settings (journal_mode={journal}, synchronous={synchronous}); \
             is the database on a filesystem without WAL support?"
        )))
    }
}

/// The thread's loop: take what is queued (up to a batch of records), commit the records as
/// one group, then the state changes one by one.
fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>, committed: &AtomicU64) {
    let mut records: Vec<AuditRecord> = Vec::with_capacity(MAX_BATCH);
    let mut waiters: Vec<(Reply, usize)> = Vec::with_capacity(MAX_BATCH);
    let mut changes = Vec::new();
    let mut closing = None;
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Audit {
                    records: mut batch,
                    done,
                } => {
                    waiters.push((done, batch.len()));
                    records.append(&mut batch);
                }
                Job::Commit {
                    writes,
                    record,
                    done,
                } => changes.push((writes, record, done)),
                Job::Close(done) => {
                    closing = Some(done);
                    break;
                }
                #[cfg(test)]
                Job::Synchronous(done) => {
                    let _ = done.send(
                        conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
                            .map_err(map_err),
                    );
                }
            }
            if records.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !records.is_empty() {
            let result = append(&mut conn, &records);
            if let Err(e) = &result {
                tracing::error!(error = %e, records = records.len(), "audit batch failed");
            }
            let mut seqs = result.as_deref().unwrap_or_default().iter();
            for (done, count) in waiters.drain(..) {
                let _ = done.send(match &result {
                    Ok(_) => Ok(seqs.by_ref().take(count).copied().collect()),
                    Err(e) => Err(e.clone()),
                });
            }
            records.clear();
            committed.fetch_add(1, Ordering::Relaxed);
        }
        for (writes, record, done) in changes.drain(..) {
            let _ = done.send(commit_durably(&mut conn, &writes, record.as_deref()));
            committed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(done) = closing.take() {
            // Refuse whatever comes after the close, then close the connection.
            queue.close();
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

/// One group commit of audit records, at the connection's default `synchronous=NORMAL`.
fn append(conn: &mut Connection, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let seqs = audit_batches::insert(&tx, records)?;
    tx.commit().map_err(map_err)?;
    Ok(seqs)
}

/// [`commit_writes`] at `synchronous=FULL`: state changes (and the audit records committed
/// with them) must survive a power cut, not only the process dying. Should lowering it again
/// fail, the connection merely stays at the safer setting.
fn commit_durably(
    conn: &mut Connection,
    writes: &[Write],
    record: Option<&AuditRecord>,
) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch("PRAGMA synchronous = FULL")
        .map_err(map_err)?;
    let result = commit_writes(conn, writes, record);
    let _ = conn.execute_batch("PRAGMA synchronous = NORMAL");
    result
}

/// Applies `writes` in one IMMEDIATE transaction (the write lock taken up front, so another
/// process on the file makes this wait in the busy handler rather than fail to upgrade),
/// together with `record` if given; a failed expectation rolls everything back.
fn commit_writes(
    conn: &mut Connection,
    writes: &[Write],
    record: Option<&AuditRecord>,
) -> Result<Vec<i64>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let now = unix_micros(time::OffsetDateTime::now_utc());
    let mut versions = Vec::with_capacity(writes.len());
    for write in writes {
        match apply(&tx, write, now)? {
            Some(version) => versions.push(version),
            // Dropping `tx` rolls back; say so explicitly to surface an error doing it.
            None => {
                tx.rollback().map_err(map_err)?;
                let (ns, key) = write.target();
                return Err(StoreError::Conflict {
                    ns: ns.to_owned(),
                    key: key.to_owned(),
                });
            }
        }
    }
    if let Some(record) = record {
        audit_batches::insert(&tx, std::slice::from_ref(record))?;
    }
    tx.commit().map_err(map_err)?;
    Ok(versions)
}

/// One write: its new version (0 for a delete), or `None` when its expectation failed. The
/// statements are `kv.rs`'s, shared with the PostgreSQL backend.
fn apply(conn: &Connection, write: &Write, now: i64) -> Result<Option<i64>, StoreError> {
    let outcome = match write {
        Write::Put {
            ns,
            key,
            value,
            expect,
        } => {
            let (ns, key, value) = (ns.as_str(), key.as_bytes(), value.as_slice());
            match expect {
                Expect::Any => conn.prepare_cached(kv::PUT_ANY).and_then(|mut s| {
                    s.query_row(
                        named_params! {"$1": ns, "$2": key, "$3": value, "$4": now},
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                }),
                Expect::Absent => conn.prepare_cached(kv::PUT_ABSENT).and_then(|mut s| {
                    s.query_row(
                        named_params! {"$1": ns, "$2": key, "$3": value, "$4": now},
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                }),
                Expect::Version(v) => conn.prepare_cached(kv::PUT_VERSION).and_then(|mut s| {
                    s.query_row(
                        named_params! {"$1": ns, "$2": key, "$3": value, "$4": now, "$5": v},
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                }),
            }
        }
        Write::Delete { ns, key, expect } => {
            let (ns, key) = (ns.as_str(), key.as_bytes());
            match expect {
                Expect::Any => conn
                    .prepare_cached(kv::DELETE_ANY)
                    .and_then(|mut s| s.execute(named_params! {"$1": ns, "$2": key}))
                    .map(|_| Some(0)),
                Expect::Version(v) => conn.prepare_cached(kv::DELETE_VERSION).and_then(|mut s| {
                    s.query_row(named_params! {"$1": ns, "$2": key, "$3": v}, |_| Ok(0))
                        .optional()
                }),
                Expect::Absent => conn
                    .prepare_cached(kv::EXISTS)
                    .and_then(|mut s| {
                        s.query_row(named_params! {"$1": ns, "$2": key}, |_| Ok(()))
                            .optional()
                    })
                    .map(|found| found.is_none().then_some(0)),
            }
        }
    };
    outcome.map_err(map_err)
}

/// Damaged data or a file that is not a database is `Corrupt`; everything else (I/O, locks
/// held too long, a full disk) `Unavailable`.
pub(crate) fn map_err(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &err {
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            StoreError::Corrupt(err.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Unavailable(err.to_string()),
    }
}
