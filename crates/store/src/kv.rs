//! The versioned key/value operations, written once for both backends.
//!
//! SQLite and PostgreSQL both understand `$N` placeholders, `INSERT … ON CONFLICT` and
//! `RETURNING`, so every write is a single conditional statement whose row count *is* the
//! `Expect` check. That makes the check and the write one atomic step on both backends — no
//! read-then-write window for another process to slip into — and the backends only differ in how
//! they open the transaction and run the statements (see `sqlite/writer.rs`, `postgres.rs`).

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::rows::{checked_version, key_from_bytes, prefix_end, sql_limit, unix_micros};
use crate::{Expect, Item, Write};

/// Upsert: creates at version 1 or bumps the existing version.
pub(crate) const PUT_ANY: &str =
    "INSERT INTO kv (ns, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4) \
     ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, version = kv.version + 1, \
     updated_at = excluded.updated_at RETURNING version";
/// Create-only: no row comes back when the key already exists.
pub(crate) const PUT_ABSENT: &str =
    "INSERT INTO kv (ns, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4) \
     ON CONFLICT (ns, key) DO NOTHING RETURNING version";
/// Compare-and-swap: no row comes back unless the stored version is `$5`.
pub(crate) const PUT_VERSION: &str =
    "UPDATE kv SET value = $3, version = version + 1, updated_at = $4 \
     WHERE ns = $1 AND key = $2 AND version = $5 RETURNING version";
pub(crate) const DELETE_ANY: &str = "DELETE FROM kv WHERE ns = $1 AND key = $2";
/// Conditional delete: a row comes back only if the stored version was `$3`.
pub(crate) const DELETE_VERSION: &str =
    "DELETE FROM kv WHERE ns = $1 AND key = $2 AND version = $3 RETURNING version";
pub(crate) const EXISTS: &str = "SELECT 1 FROM kv WHERE ns = $1 AND key = $2";
pub(crate) const GET: &str = "SELECT value, version FROM kv WHERE ns = $1 AND key = $2";
pub(crate) const LIST_RANGE: &str = "SELECT key, value, version FROM kv \
     WHERE ns = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4";
/// For prefixes with no upper bound (the empty prefix).
pub(crate) const LIST_FROM: &str =
    "SELECT key, value, version FROM kv WHERE ns = $1 AND key >= $2 ORDER BY key LIMIT $3";

/// The outcome of applying a commit's writes inside a transaction.
pub(crate) enum Applied {
    /// Every expectation held; the new version of each write (0 for deletes).
    Done(Vec<i64>),
    /// The write at this index failed its expectation; the caller must roll back.
    Conflict(usize),
}

/// Applies `writes` in order on `conn` (which the caller has put inside a transaction), stopping
/// at the first failed expectation.
pub(crate) async fn apply<DB>(
    conn: &mut DB::Connection,
    writes: &[Write],
) -> Result<Applied, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let now = unix_micros(time::OffsetDateTime::now_utc());
    let mut versions = Vec::with_capacity(writes.len());
    for (index, write) in writes.iter().enumerate() {
        let outcome = match write {
            Write::Put {
                ns,
                key,
                value,
                expect,
            } => {
                let sql = match expect {
                    Expect::Any => PUT_ANY,
                    Expect::Absent => PUT_ABSENT,
                    Expect::Version(_) => PUT_VERSION,
                };
                let mut query = sqlx::query::<DB>(sql)
                    .bind(ns.as_str())
                    .bind(key.as_bytes())
                    .bind(value.as_slice())
                    .bind(now);
                if let Expect::Version(v) = expect {
                    query = query.bind(*v);
                }
                match query.fetch_optional(&mut *conn).await? {
                    Some(row) => Some(row.try_get::<i64, _>(0)?),
                    None => None,
                }
            }
            Write::Delete { ns, key, expect } => {
                let (ns, key) = (ns.as_str(), key.as_bytes());
                let held = match expect {
                    Expect::Any => {
                        let q = sqlx::query::<DB>(DELETE_ANY).bind(ns).bind(key);
                        q.execute(&mut *conn).await.map(|_| true)?
                    }
                    Expect::Version(v) => {
                        let q = sqlx::query::<DB>(DELETE_VERSION)
                            .bind(ns)
                            .bind(key)
                            .bind(*v);
                        q.fetch_optional(&mut *conn).await?.is_some()
                    }
                    Expect::Absent => {
                        let q = sqlx::query::<DB>(EXISTS).bind(ns).bind(key);
                        q.fetch_optional(&mut *conn).await?.is_none()
                    }
                };
                held.then_some(0)
            }
        };
        match outcome {
            Some(version) => versions.push(version),
            None => return Ok(Applied::Conflict(index)),
        }
    }
    Ok(Applied::Done(versions))
}

/// Reads one key.
pub(crate) async fn get<DB>(
    conn: &mut DB::Connection,
    ns: &str,
    key: &str,
) -> Result<Option<Item>, crate::StoreError>
where
    DB: Database + crate::rows::ErrorCodes,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let row = sqlx::query::<DB>(GET)
        .bind(ns)
        .bind(key.as_bytes())
        .fetch_optional(&mut *conn)
        .await
        .map_err(crate::rows::map_err::<DB>)?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |e: sqlx::Error| crate::StoreError::Corrupt(format!("{ns}/{key}: {e}"));
    Ok(Some(Item {
        value: row.try_get(0).map_err(corrupt)?,
        version: checked_version(ns, key, row.try_get(1).map_err(corrupt)?)?,
    }))
}

/// Lists keys by prefix as an index range scan (`lower <= key < prefix_end(prefix)`), so `%`,
/// `_` and every other character are matched literally and order is byte order.
pub(crate) async fn list<DB>(
    conn: &mut DB::Connection,
    ns: &str,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, Item)>, crate::StoreError>
where
    DB: Database + crate::rows::ErrorCodes,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    if limit == 0 {
        return Ok(Vec::new());
    }
    let lower = lower_bound(prefix.as_bytes(), start_after.map(str::as_bytes));
    let upper = prefix_end(prefix.as_bytes());
    let query = match &upper {
        Some(upper) => sqlx::query::<DB>(LIST_RANGE)
            .bind(ns)
            .bind(lower.as_slice())
            .bind(upper.as_slice()),
        None => sqlx::query::<DB>(LIST_FROM).bind(ns).bind(lower.as_slice()),
    };
    let rows = query
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(crate::rows::map_err::<DB>)?;
    let corrupt = |e: sqlx::Error| crate::StoreError::Corrupt(format!("listing {ns}: {e}"));
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let key = key_from_bytes(ns, row.try_get(0).map_err(corrupt)?)?;
        let version = checked_version(ns, &key, row.try_get(2).map_err(corrupt)?)?;
        let value = row.try_get(1).map_err(corrupt)?;
        items.push((key, Item { value, version }));
    }
    Ok(items)
}

/// The inclusive lower bound of a listing: the prefix itself, or — when `start_after` sorts at
/// or above it — the smallest key strictly after `start_after`, which is `start_after` + NUL.
/// One inclusive bound keeps the SQL static (two variants instead of four).
pub(crate) fn lower_bound(prefix: &[u8], start_after: Option<&[u8]>) -> Vec<u8> {
    match start_after {
        Some(after) if after >= prefix => {
            let mut lower = after.to_vec();
            lower.push(0);
            lower
        }
        _ => prefix.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::lower_bound;

    #[test]
    fn lower_bound_is_strictly_after_start_after() {
        assert_eq!(lower_bound(b"a/", None), b"a/");
        assert_eq!(lower_bound(b"a/", Some(b"a")), b"a/");
        assert_eq!(lower_bound(b"a/", Some(b"a/")), b"a/\0");
        assert_eq!(lower_bound(b"a/", Some(b"a/x")), b"a/x\0");
        assert_eq!(lower_bound(b"", Some(b"")), b"\0");
    }
}
