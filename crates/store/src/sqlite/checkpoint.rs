//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1000 pages: that
//! commit copies the WAL into the database file and fsyncs both, several milliseconds during
//! which the writer thread commits nothing and every request waiting for its audit batch
//! waits too — the tail of the latency distribution. In WAL mode a checkpoint may run beside
//! the writer, so the writer's connection never checkpoints (`wal_autocheckpoint = 0`) and this
//! thread, with a connection of its own, runs a PASSIVE checkpoint whenever commits happened
//! since its last one, at most every [`INTERVAL`]. PASSIVE never waits for readers or the
//! writer: what it could not copy is copied next time, and once everything is copied the
//! writer starts the WAL over from its beginning.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::writer::map_err;
use crate::StoreError;

/// How often the checkpointer looks for new commits.
const INTERVAL: Duration = Duration::from_millis(50);

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
    pub(crate) fn start(path: &Path, commits: CommitCount) -> Result<Self, StoreError> {
        let conn = open(path)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rampart-sqlite-checkpoint".into())
            .spawn(move || run(conn, &commits, &stopped))
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

fn run(conn: Connection, commits: &AtomicU64, stopped: &mpsc::Receiver<()>) {
    let mut seen = commits.load(Ordering::Relaxed);
    // Until the handle is dropped (`Disconnected`): every `INTERVAL`, look for new commits.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
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
