//! The audit journal: each request's record appended to a file with one `write`, indexed into
//! the `audit_records` table in large batches off the request path.
//!
//! Why: a group commit of the trail into SQLite cost, per batch of a dozen records, a write
//! transaction (WAL frames, their checksums, `fcntl` locks, a B-tree insert per record) and a
//! wake-up of the writer thread and back for every request — under load the writer thread was a
//! third of the process's CPU and the hand-offs as much again. A `write` to a file is durable
//! against the process dying exactly as a WAL commit at `synchronous=NORMAL` is (the bytes are
//! the operating system's once `write` returns; neither survives a power cut in the following
//! moments), so the trail's promise is unchanged: the record of an answered request survives
//! SIGKILL, OOM and panics. The writer thread indexes the journal into the table in
//! transactions of thousands of records, where it costs a fraction as much per record.
//!
//! **Layout**: a 24-byte header (magic, the trail id, the generation), then one frame per record:
//! its length and CRC-32 (both u32 little-endian) and the record (postcard).
//!
//! **Ownership**: one process appends and indexes — the one holding an exclusive `flock` on the
//! file (`rampart serve`). Any other process on the same database (a command such as
//! `rampart audit`, a second server) appends straight to the table as before, and before a
//! query waits until the owner has indexed what the journal held when the query began; if no
//! process holds the journal (the server died), it indexes the journal itself.
//!
//! **Consistency with the table**: the row `audit_journal` (migration 0004) names the journal's
//! trail id, generation and the offset up to which its records are in the table, and is updated
//! in the same transaction as those records: a crash never indexes a record twice nor skips one,
//! and recovery indexes whatever complete records lie beyond the offset and cuts off a torn last
//! one (whose request was never answered). Once everything is indexed and the file is past
//! [`START_OVER_AT`], it starts over: the table moves to the next generation first, then the file
//! is cut back to a header naming it; a file one generation behind the table is thus known to be
//! fully indexed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rampart_core::audit::AuditRecord;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::writer::{insert_audit, map_err};
use crate::StoreError;

const MAGIC: &[u8; 8] = b"RAMPAUD1";
/// Magic, trail id, generation.
pub(crate) const HEADER_LEN: u64 = 24;
/// Length and CRC-32 before each record.
const FRAME_HEAD: usize = 8;
/// A record larger than this is refused (headers are bounded far below it).
const MAX_RECORD: usize = 1 << 20;
/// Bytes of journal indexed per transaction: thousands of records.
const INDEX_CHUNK: usize = 4 << 20;
/// Size past which a fully indexed journal starts over.
pub(crate) const START_OVER_AT: u64 = 64 << 20;
/// Journal bytes not yet indexed past which records are refused (`Unavailable`): the trail has
/// fallen behind, and memory and disk stay bounded.
pub(crate) const BACKLOG_LIMIT: u64 = 64 << 20;

/// The journal beside the database at `db`: `<db>-audit`.
pub(crate) fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-audit");
    PathBuf::from(name)
}

/// Where the next record goes; changed only under the lock.
#[derive(Debug)]
struct Tail {
    end: u64,
    generation: u64,
}

/// The journal as its owner holds it.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    trail_id: i64,
    tail: Mutex<Tail>,
    /// The end of the last complete record: the indexer reads up to here.
    written: AtomicU64,
    /// The offset up to which records are in the table.
    indexed: AtomicU64,
    /// An appender asked the writer thread to index; it clears this before it reads `written`.
    wake_pending: AtomicBool,
    /// Set when the journal can no longer be appended to (closed, or a failed start-over).
    stopped: AtomicBool,
    backlog_limit: u64,
    start_over_at: u64,
}

/// The `audit_journal` row.
struct Meta {
    trail_id: i64,
    generation: u64,
    indexed_to: u64,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("audit journal {}: {why}", path.display()))
}

fn read_meta(conn: &Connection) -> Result<Meta, StoreError> {
    let row = conn
        .query_row(
            "SELECT trail_id, generation, indexed_to FROM audit_journal WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()
        .map_err(map_err)?;
    let (trail_id, generation, indexed_to) =
        row.ok_or_else(|| StoreError::Corrupt("the audit_journal row is missing".into()))?;
    let unsigned = |v: i64| {
        u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("audit_journal holds {v}")))
    };
    Ok(Meta {
        trail_id,
        generation: unsigned(generation)?,
        indexed_to: unsigned(indexed_to)?,
    })
}

fn header(trail_id: i64, generation: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&trail_id.to_le_bytes());
    h[16..].copy_from_slice(&generation.to_le_bytes());
    h
}

/// The file's trail id and generation; `None` when it is shorter than a header.
fn read_header(file: &File, path: &Path) -> Result<Option<(i64, u64)>, StoreError> {
    let mut h = [0u8; HEADER_LEN as usize];
    match file.read_exact_at(&mut h, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(unavailable("reading the audit journal", e)),
    }
    if &h[..8] != MAGIC {
        return Err(corrupt(path, "not a Rampart audit journal (bad magic)"));
    }
    let word = |range: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[range]);
        b
    };
    Ok(Some((
        i64::from_le_bytes(word(8..16)),
        u64::from_le_bytes(word(16..24)),
    )))
}

/// One record as a frame.
pub(crate) fn encode(record: &AuditRecord) -> Result<Vec<u8>, StoreError> {
    let mut frame = Vec::with_capacity(512);
    frame.extend_from_slice(&[0u8; FRAME_HEAD]);
    let mut frame = postcard::to_extend(record, frame)
        .map_err(|e| StoreError::Unavailable(format!("encoding an audit record: {e}")))?;
    let len = frame.len() - FRAME_HEAD;
    if len > MAX_RECORD {
        return Err(StoreError::Unavailable(format!(
            "an audit record of {len} bytes is larger than the journal takes"
        )));
    }
    let crc = crc32fast::hash(&frame[FRAME_HEAD..]);
    frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
    frame[4..FRAME_HEAD].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Why a scan stopped before the end of its buffer.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// Every byte was a complete record.
    End,
    /// The buffer ends inside a record.
    Incomplete,
    /// A record's length or checksum is wrong, or it does not decode.
    Invalid(String),
}

/// The complete, valid records at the start of `buf` and how many bytes they span.
fn scan(buf: &[u8]) -> (Vec<AuditRecord>, usize, Stop) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let Some(head) = buf.get(at..at + FRAME_HEAD) else {
            return (records, at, Stop::Incomplete);
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            return (records, at, Stop::Invalid(format!("record length {len}")));
        }
        let Some(payload) = buf.get(at + FRAME_HEAD..at + FRAME_HEAD + len) else {
            return (records, at, Stop::Incomplete);
        };
        if crc32fast::hash(payload) != crc {
            return (records, at, Stop::Invalid("checksum mismatch".into()));
        }
        match postcard::from_bytes::<AuditRecord>(payload) {
            Ok(record) => records.push(record),
            Err(e) => {
                return (
                    records,
                    at,
                    Stop::Invalid(format!("undecodable record: {e}")),
                )
            }
        }
        at += FRAME_HEAD + len;
    }
    (records, at, Stop::End)
}

/// Inserts `records` and moves the table's offset to `to`, in one transaction (at the
/// connection's `synchronous=NORMAL`, as the journal itself is durable).
fn commit_indexed(
    conn: &mut Connection,
    records: &[AuditRecord],
    generation: u64,
    to: u64,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    insert_audit(&tx, records)?;
    let moved = tx
        .execute(
            "UPDATE audit_journal SET indexed_to = ?1 WHERE id = 1 AND generation = ?2",
            rusqlite::params![to as i64, generation as i64],
        )
        .map_err(map_err)?;
    if moved != 1 {
        return Err(StoreError::Conflict {
            ns: "audit_journal".into(),
            key: format!("generation {generation}"),
        });
    }
    tx.commit().map_err(map_err)
}

/// Moves the table to a new generation and starts `file` over with a header naming it.
fn start_over(
    file: &File,
    conn: &Connection,
    trail_id: i64,
    generation: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE audit_journal SET generation = ?1, indexed_to = ?2 WHERE id = 1",
        rusqlite::params![generation as i64, HEADER_LEN as i64],
    )
    .map_err(map_err)?;
    file.set_len(0)
        .and_then(|()| file.write_all_at(&header(trail_id, generation), 0))
        .map_err(|e| unavailable("starting the audit journal over", e))
}

/// Brings the journal `file` (locked by the caller) in line with the table: indexes the
/// complete records it holds beyond the table's offset, cuts off a torn last record, and
/// starts a missing or spent file over. Answers the generation and the offset to append at.
fn recover(file: &File, path: &Path, conn: &mut Connection) -> Result<(u64, u64), StoreError> {
    let meta = read_meta(conn)?;
    let len = file
        .metadata()
        .map_err(|e| unavailable("reading the audit journal", e))?
        .len();
    let fresh = |conn: &Connection| {
        let next = meta.generation + 1;
        start_over(file, conn, meta.trail_id, next).map(|()| (next, HEADER_LEN))
    };
    let Some((trail_id, generation)) = read_header(file, path)? else {
        // No header: a new journal, or one cut back by a start-over that crashed before
        // writing it. No record can be in it.
        return fresh(conn);
    };
    if trail_id != meta.trail_id {
        return Err(corrupt(
            path,
            "it belongs to another database (its trail id differs); move it away",
        ));
    }
    if generation + 1 == meta.generation {
        // A start-over moved the table on but crashed before cutting the file back: every
        // record in it was indexed before.
        start_over(file, conn, meta.trail_id, meta.generation)?;
        return Ok((meta.generation, HEADER_LEN));
    }
    if generation != meta.generation {
        return Err(corrupt(
            path,
            format!(
                "it is generation {generation}, the database expects {}",
                meta.generation
            ),
        ));
    }
    if len < meta.indexed_to {
        tracing::warn!(path = %path.display(), len, indexed_to = meta.indexed_to,
            "the audit journal is shorter than what was indexed from it; starting it over");
        return fresh(conn);
    }
    let mut from = meta.indexed_to;
    while from < len {
        let want = (len - from).min(INDEX_CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        file.read_exact_at(&mut buf, from)
            .map_err(|e| unavailable("reading the audit journal", e))?;
        let (records, used, stop) = scan(&buf);
        let chunk_cut = stop == Stop::Incomplete && (from + want as u64) < len;
        if !records.is_empty() {
            commit_indexed(conn, &records, generation, from + used as u64)?;
            tracing::info!(
                records = records.len(),
                "indexed audit records left in the journal"
            );
        }
        from += used as u64;
        if stop == Stop::End || (chunk_cut && used > 0) {
            continue;
        }
        // A torn or damaged last record: its write never completed, so its request was
        // never answered. Anything after it was not either (appends go in order).
        tracing::warn!(path = %path.display(), at = from, dropped = len - from, ?stop,
            "cutting an incomplete record off the audit journal");
        file.set_len(from)
            .map_err(|e| unavailable("truncating the audit journal", e))?;
        break;
    }
    Ok((generation, from))
}

/// Opens the journal file (0600), creating it if needed.
fn open_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| unavailable(&format!("opening {}", path.display()), e))
}

/// Takes `file`'s lock, trying until `wait` has passed: false if another process holds it.
fn try_lock_for(file: &File, wait: Duration) -> Result<bool, StoreError> {
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(unavailable("locking the audit journal", e))
            }
        }
    }
}

impl Journal {
    /// Takes the journal of the database at `db` (waiting up to `wait` for another process to
    /// let go of it) and recovers it through `conn`; `None` if another process keeps it.
    pub(crate) fn take(
        db: &Path,
        conn: &mut Connection,
        wait: Duration,
        backlog_limit: u64,
        start_over_at: u64,
    ) -> Result<Option<Journal>, StoreError> {
        let path = path_for(db);
        let file = open_file(&path)?;
        if !try_lock_for(&file, wait)? {
            return Ok(None);
        }
        let (generation, end) = recover(&file, &path, conn)?;
        let trail_id = read_meta(conn)?.trail_id;
        Ok(Some(Journal {
            file,
            trail_id,
            tail: Mutex::new(Tail { end, generation }),
            written: AtomicU64::new(end),
            indexed: AtomicU64::new(end),
            wake_pending: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            backlog_limit,
            start_over_at,
        }))
    }

    fn tail(&self) -> MutexGuard<'_, Tail> {
        // A panic while holding the lock cannot leave `Tail` half-updated (two plain stores
        // after the write succeeded): the value is usable.
        self.tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `record`; durable (against the process dying) when it returns. Answers whether
    /// the writer thread needs waking to index it (false while an earlier wake is pending).
    ///
    /// This is one `pwrite` to the page cache (a few microseconds), done on the request's own
    /// thread: cheaper than handing the record to another thread and being woken back.
    pub(crate) fn append(&self, record: &AuditRecord) -> Result<bool, StoreError> {
        let frame = encode(record)?;
        let mut tail = self.tail();
        if self.stopped.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(
                "the audit journal is closed".into(),
            ));
        }
        let backlog = tail.end - self.indexed.load(Ordering::Acquire);
        if backlog + frame.len() as u64 > self.backlog_limit {
            return Err(StoreError::Unavailable(
                "the audit trail is falling behind (journal backlog full)".into(),
            ));
        }
        // A failed or short write leaves `end` where it was: the next record overwrites it.
        self.file
            .write_all_at(&frame, tail.end)
            .map_err(|e| unavailable("appending to the audit journal", e))?;
        tail.end += frame.len() as u64;
        self.written.store(tail.end, Ordering::SeqCst);
        drop(tail);
        Ok(!self.wake_pending.swap(true, Ordering::SeqCst))
    }

    /// Journal bytes appended but not yet indexed.
    pub(crate) fn backlog(&self) -> u64 {
        self.written.load(Ordering::SeqCst) - self.indexed.load(Ordering::SeqCst)
    }

    /// Indexes every record appended before the call into the table (the writer thread's
    /// work), then starts the file over if it is due. Answers how many records it indexed.
    pub(crate) fn index(&self, conn: &mut Connection) -> Result<usize, StoreError> {
        // Cleared before reading `written`: an append after this point wakes the thread again.
        self.wake_pending.store(false, Ordering::SeqCst);
        let target = self.written.load(Ordering::SeqCst);
        let generation = self.tail().generation;
        let mut from = self.indexed.load(Ordering::Acquire);
        let mut indexed = 0;
        while from < target {
            let want = (target - from).min(INDEX_CHUNK as u64) as usize;
            let mut buf = vec![0u8; want];
            self.file
                .read_exact_at(&mut buf, from)
                .map_err(|e| unavailable("reading the audit journal", e))?;
            let (records, used, stop) = scan(&buf);
            let short_chunk = stop == Stop::Incomplete && from + (want as u64) < target;
            if used == 0 || !(stop == Stop::End || short_chunk) {
                // Below `written` every record is complete: this is damage, not a torn write.
                return Err(StoreError::Corrupt(format!(
                    "audit journal at offset {}: {stop:?}",
                    from + used as u64
                )));
            }
            let to = from + used as u64;
            commit_indexed(conn, &records, generation, to)?;
            self.indexed.store(to, Ordering::SeqCst);
            indexed += records.len();
            from = to;
        }
        self.start_over_if_due(conn)?;
        Ok(indexed)
    }

    fn start_over_if_due(&self, conn: &Connection) -> Result<(), StoreError> {
        if self.indexed.load(Ordering::SeqCst) < self.start_over_at {
            return Ok(());
        }
        let mut tail = self.tail();
        if tail.end != self.indexed.load(Ordering::SeqCst) {
            return Ok(()); // records came in meanwhile: next time
        }
        let next = tail.generation + 1;
        if let Err(e) = start_over(&self.file, conn, self.trail_id, next) {
            // The table may have moved on without the file: appending now could lose records
            // at recovery, so stop; a restart recovers consistently.
            self.stopped.store(true, Ordering::Release);
            return Err(e);
        }
        tail.end = HEADER_LEN;
        tail.generation = next;
        self.indexed.store(HEADER_LEN, Ordering::SeqCst);
        self.written.store(HEADER_LEN, Ordering::SeqCst);
        Ok(())
    }

    /// Refuses further appends and lets go of the file's lock (after the writer thread indexed
    /// what was appended), so another store may take the journal.
    pub(crate) fn release(&self) {
        let _tail = self.tail();
        self.stopped.store(true, Ordering::Release);
        let _ = self.file.unlock();
    }
}

/// For a process that does not own the journal of the database at `db`: waits until the
/// owner has indexed every record the journal held when this was called — or, if no process
/// holds the journal any more, indexes it through `conn` itself — so that a query sees every
/// record answered before it began. Gives up after `wait` with a warning (the owner is alive
/// but stuck: the query answers what is indexed).
pub(crate) fn wait_until_indexed(
    db: &Path,
    conn: &mut Connection,
    wait: Duration,
) -> Result<(), StoreError> {
    let path = path_for(db);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unavailable(&format!("opening {}", path.display()), e)),
    };
    let deadline = Instant::now() + wait;
    let mut target: Option<(u64, u64)> = None;
    loop {
        if try_lock_for(&file, Duration::ZERO)? {
            let recovered = recover(&file, &path, conn).map(|_| ());
            let _ = file.unlock();
            return recovered;
        }
        let meta = read_meta(conn)?;
        let (generation, end) = match target {
            Some(t) => t,
            None => {
                let Some((_, generation)) = read_header(&file, &path)? else {
                    return Ok(());
                };
                if generation != meta.generation {
                    return Ok(()); // started over since: what it held is indexed
                }
                let len = file
                    .metadata()
                    .map_err(|e| unavailable("reading the audit journal", e))?
                    .len();
                let mut buf = vec![0u8; len.saturating_sub(meta.indexed_to) as usize];
                file.read_exact_at(&mut buf, meta.indexed_to)
                    .map_err(|e| unavailable("reading the audit journal", e))?;
                let complete = meta.indexed_to + scan(&buf).1 as u64;
                *target.insert((generation, complete))
            }
        };
        if meta.generation > generation || meta.indexed_to >= end {
            return Ok(());
        }
        if Instant::now() >= deadline {
            tracing::warn!(path = %path.display(),
                "the process holding the audit journal has not indexed it in time; the query \
                 answers what is indexed");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests;
