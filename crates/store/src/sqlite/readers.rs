//! Reads on the caller's own thread: a few plain (rusqlite) read connections, each behind a
//! mutex.
//!
//! sqlx runs every SQLite statement on a worker thread of its own, so each `get` cost two
//! thread hand-offs (~55 µs under load, most of it waiting to be scheduled) for a B-tree
//! lookup that takes a few microseconds in SQLite's page cache. A point read or a short range
//! scan is cheap enough to run where the request is (as SQLite is designed to be used), and in
//! WAL mode a reader never waits for the writer. A request takes the first free connection; if
//! every one is busy it waits for one, which holds it only for one statement.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::writer::map_err;
use crate::kv::{lower_bound, GET, LIST_FROM, LIST_RANGE};
use crate::rows::{checked_version, key_from_bytes, prefix_end, sql_limit};
use crate::{Item, StoreError};

/// Read connections, shared by every request.
#[derive(Debug)]
pub(crate) struct Readers {
    /// `None` once the store is closed.
    connections: Vec<Mutex<Option<Connection>>>,
    /// Where the next search for a free connection starts, so load spreads over all of them.
    next: AtomicUsize,
}

impl Readers {
    /// Opens `count` read connections to `path` (an existing, migrated database in WAL mode).
    pub(crate) fn open(path: &Path, count: usize) -> Result<Self, StoreError> {
        let connections = (0..count.max(1))
            .map(|_| open_reader(path).map(|c| Mutex::new(Some(c))))
            .collect::<Result<_, _>>()?;
        Ok(Readers {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, or — when all are busy — the next one once it is free.
    fn connection(&self) -> Result<OpenReader<'_>, StoreError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        let guard = (0..n)
            .find_map(|i| self.connections[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| {
                // A poisoned lock only means a panic elsewhere while reading: the connection
                // is fine.
                self.connections[start % n]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            });
        match guard.is_some() {
            true => Ok(OpenReader(guard)),
            false => Err(StoreError::Unavailable("the SQLite store is closed".into())),
        }
    }

    /// Closes every connection; reads fail with `Unavailable` afterwards.
    pub(crate) fn close(&self) {
        for connection in &self.connections {
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.take();
        }
    }

    /// Reads one key.
    pub(crate) fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        let conn = self.connection()?;
        let mut statement = conn.prepare_cached(GET).map_err(map_err)?;
        let row = statement
            .query_row(rusqlite::params![ns, key.as_bytes()], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
            })
            .optional()
            .map_err(map_err)?;
        match row {
            None => Ok(None),
            Some((value, version)) => Ok(Some(Item {
                value,
                version: checked_version(ns, key, version)?,
            })),
        }
    }

    /// Lists keys by prefix, as [`crate::kv::list`] does.
    pub(crate) fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lower = lower_bound(prefix.as_bytes(), start_after.map(str::as_bytes));
        let upper = prefix_end(prefix.as_bytes());
        let conn = self.connection()?;
        let read = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, i64>(2)?,
            ))
        };
        let rows: Vec<_> = match &upper {
            Some(upper) => {
                let mut statement = conn.prepare_cached(LIST_RANGE).map_err(map_err)?;
                let found = statement
                    .query_map(rusqlite::params![ns, lower, upper, sql_limit(limit)], read)
                    .map_err(map_err)?;
                found.collect::<Result<_, _>>().map_err(map_err)?
            }
            None => {
                let mut statement = conn.prepare_cached(LIST_FROM).map_err(map_err)?;
                let found = statement
                    .query_map(rusqlite::params![ns, lower, sql_limit(limit)], read)
                    .map_err(map_err)?;
                found.collect::<Result<_, _>>().map_err(map_err)?
            }
        };
        drop(conn);
        let mut items = Vec::with_capacity(rows.len());
        for (key, value, version) in rows {
            let key = key_from_bytes(ns, key)?;
            let version = checked_version(ns, &key, version)?;
            items.push((key, Item { value, version }));
        }
        Ok(items)
    }
}

/// A held connection that is open (checked by [`Readers::connection`]).
struct OpenReader<'a>(MutexGuard<'a, Option<Connection>>);

impl std::ops::Deref for OpenReader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.0.as_ref().expect("checked open when taken")
    }
}

/// A connection that may only read (`query_only`: a read-only open could not create the
/// `-shm` file were it missing).
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(8);
    conn.execute_batch("PRAGMA query_only = ON;")
        .map_err(map_err)?;
    Ok(conn)
}
