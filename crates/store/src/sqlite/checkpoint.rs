//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1000 pages: that
//! commit copies the WAL into the database file and fsyncs both, several milliseconds during
//! which the writer thread commits nothing and every request waiting for its audit batch
//! waits too — the tail of the latency distribution. In WAL mode a checkpoint may run beside
//! the writer, so the writer's connection never checkpoints (`wal_autocheckpoint = 0`) and this
//! thread, with a connection of its own, runs a PASSIVE checkpoint whenever commits happened
//! since its last one, at most every [`INTERVAL`]. PASSIVE never waits for readers or the
//! writer: what it could not copy is copied next time.
//!
//! The WAL only starts over from its beginning when a write transaction begins with every frame
//! copied — which, with audit batches committed back to back and a checkpoint every 50 ms, is
//! never (a soak run grew it to 11 GB in two minutes). So once the WAL holds more than
//! [`RESTART_AFTER_FRAMES`], the checkpointer runs a RESTART checkpoint: it waits for the
//! readers of old frames (short transactions) and holds writers back while it copies the few
//! frames PASSIVE left and syncs — a pause of the writer every few seconds under full load,
//! instead of one per 1000 pages as SQLite's automatic checkpoint does — and the next commit
//! starts the WAL over (cut back to 64 MiB by `journal_size_limit`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::writer::map_err;
use crate::StoreError;

/// How often the checkpointer looks for new commits.
const INTERVAL: Duration = Duration::from_millis(50);

/// WAL size (frames, 4 KiB each) past which the checkpointer makes the WAL start over.
pub(crate) const RESTART_AFTER_FRAMES: i64 = 8192;

/// WAL frames left uncopied after a checkpoint that are worth a warning (~40 MB): long read
/// transactions keep a checkpoint from finishing.
const BEHIND_WARNING: i64 = 10_000;

/// The running checkpointer; stopped by [`Checkpointer::stop`] or when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Commits the writer made; the checkpointer runs when it changed.
pub(crate) type CommitCount = Arc<AtomicU64>;

impl Checkpointer {
    /// Starts checkpointing `path` whenever `commits` moves.
    /// The WAL starts over once it holds more than `restart_after` frames.
    pub(crate) fn start(
        path: &Path,
        commits: CommitCount,
        restart_after: i64,
    ) -> Result<Self, StoreError> {
        let conn = open(path)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rampart-sqlite-checkpoint".into())
            .spawn(move || run(conn, &commits, &stopped, restart_after))
            .map_err(|e| StoreError::Unavailable(format!("starting the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and closes its connection (waiting for a checkpoint under way).
    pub(crate) fn stop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(map_err)?;
    Ok(conn)
}

fn run(conn: Connection, commits: &AtomicU64, stopped: &mpsc::Receiver<()>, restart_after: i64) {
    let mut seen = commits.load(Ordering::Relaxed);
    // Until the handle is dropped (`Disconnected`): every `INTERVAL`, look for new commits.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        let outcome =
            checkpoint(&conn, "PASSIVE").and_then(|(log, copied)| match log > restart_after {
                true => checkpoint(&conn, "RESTART"),
                false => Ok((log, copied)),
            });
        match outcome {
            Ok((log, copied)) => {
                seen = now;
                if log - copied > BEHIND_WARNING {
                    tracing::warn!(log, copied, "WAL checkpoints are falling behind");
                }
            }
            // Busy or failed: the writer's data is safe in the WAL; try again next time.
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint did not run"),
        }
    }
}

/// Runs a checkpoint of `mode`: the WAL's frames and how many of them are copied.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    })
}
