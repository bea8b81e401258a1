//! What both backends share: turning rows into domain values (never panicking on bad data),
//! mapping sqlx errors onto [`StoreError`], and the audit query's filters.

use rampart_core::audit::{AccessDetail, AuditCheck, AuditOutcome, AuditQuery, AuditRecord};
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};
use time::OffsetDateTime;

use crate::StoreError;

/// How a backend's native error codes classify, beyond the generic sqlx kinds.
pub(crate) trait ErrorCodes {
    /// True when the database itself says its data or schema is damaged or unexpected.
    fn is_corrupt(code: &str) -> bool;
}

/// Maps an sqlx error to a [`StoreError`]: decoding problems and damaged-data codes are
/// `Corrupt`, everything else (I/O, timeouts, pool closed, refused statements) `Unavailable`.
pub(crate) fn map_err<C: ErrorCodes>(err: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match err {
        E::ColumnDecode { .. }
        | E::Decode(_)
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. }
        | E::TypeNotFound { .. } => StoreError::Corrupt(err.to_string()),
        E::Database(ref db) if db.code().is_some_and(|c| C::is_corrupt(&c)) => {
            StoreError::Corrupt(err.to_string())
        }
        E::Migrate(m) => map_migrate_err::<C>(*m),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Migration failures that mean "this database is not one this build understands" are
/// `Corrupt`, so an operator sees it at startup instead of a retry loop.
pub(crate) fn map_migrate_err<C: ErrorCodes>(err: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match err {
        M::Execute(e) => map_err::<C>(e),
        M::VersionMissing(v) => StoreError::Corrupt(format!(
            "migration {v} is applied but unknown to this build: the database belongs to a newer Rampart"
        )),
        other @ (M::VersionMismatch(_) | M::Dirty(_) | M::ExecuteMigration(..)) => {
            StoreError::Corrupt(other.to_string())
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Time as stored: whole microseconds since the Unix epoch (sub-microsecond precision is dropped).
pub(crate) fn unix_micros(t: OffsetDateTime) -> i64 {
    // `time` limits years to ±9999, so the quotient always fits in i64; saturate regardless.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

/// The inverse of [`unix_micros`], in UTC.
pub(crate) fn from_unix_micros(us: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("audit time {us}µs out of range: {e}")))
}

/// The smallest byte string greater than every string starting with `prefix`, or `None` when
/// no such bound exists (empty prefix, or all `0xFF`). Prefix scans become index range scans
/// `prefix <= key < end`, which avoids `LIKE` and its `%`/`_` wildcards altogether.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Keys are stored as bytes (so ordering is plain byte order on every backend); a stored key
/// that is not UTF-8 was not written by us.
pub(crate) fn key_from_bytes(ns: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes)
        .map_err(|e| StoreError::Corrupt(format!("key in {ns} is not UTF-8: {e}")))
}

/// Versions start at 1; anything else in the table was not written by us.
pub(crate) fn checked_version(ns: &str, key: &str, version: i64) -> Result<i64, StoreError> {
    if version >= 1 {
        Ok(version)
    } else {
        Err(StoreError::Corrupt(format!(
            "{ns}/{key} has version {version}"
        )))
    }
}

/// `limit` as an SQL bind (both backends take a signed 64-bit LIMIT).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `matched_statements` as stored: a JSON array of strings.
pub(crate) fn statements_json(statements: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(statements)
        .map_err(|e| StoreError::Corrupt(format!("matched_statements not encodable: {e}")))
}

/// `checks` as stored: a JSON array of `{"action", "resource", "decision"}` objects.
pub(crate) fn checks_json(checks: &[AuditCheck]) -> Result<String, StoreError> {
    serde_json::to_string(checks)
        .map_err(|e| StoreError::Corrupt(format!("checks not encodable: {e}")))
}

/// `access` as stored: a JSON object, NULL for records that are not a deployed API's.
pub(crate) fn access_json(access: Option<&AccessDetail>) -> Result<Option<String>, StoreError> {
    access
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("access not encodable: {e}")))
}

/// The audit columns in select order, shared so the row decoder and the query agree. The
/// 17th, `access`, is PostgreSQL's alone: SQLite's rows from before its batches never had one
/// and select `NULL` in its place.
pub(crate) const AUDIT_COLUMNS: &str = "seq, time_us, request_id, principal_arn, access_key_id, \
     source_ip, tls, user_agent, service, operation, outcome, error_code, http_status, decision, \
     matched_statements, checks";

/// Appends ` WHERE …` for every set field of `query`, then the order and limit. Binds every
/// value, so nothing from the query is ever spliced into SQL text.
pub(crate) fn push_audit_filters<'a, DB>(qb: &mut QueryBuilder<'a, DB>, query: &'a AuditQuery)
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut sep = " WHERE ";
    let mut next = |qb: &mut QueryBuilder<'a, DB>, sql: &str| {
        qb.push(sep).push(sql);
        sep = " AND ";
    };
    if let Some(since) = query.since {
        next(qb, "time_us >= ");
        qb.push_bind(unix_micros(since));
    }
    if let Some(until) = query.until {
        next(qb, "time_us <= ");
        qb.push_bind(unix_micros(until));
    }
    if let Some(principal) = query.principal.as_deref() {
        next(qb, "(principal_arn = ");
        qb.push_bind(principal)
            .push(" OR access_key_id = ")
            .push_bind(principal)
            .push(")");
    }
    for (column, value) in [
        ("service", query.service.as_deref()),
        ("operation", query.operation.as_deref()),
        ("outcome", query.outcome.map(AuditOutcome::as_str)),
        ("decision", query.decision.as_deref()),
    ] {
        if let Some(value) = value {
            next(qb, column);
            qb.push(" = ").push_bind(value);
        }
    }
    if let Some(after) = query.after_seq {
        next(qb, "seq > ");
        qb.push_bind(after);
    }
    qb.push(" ORDER BY seq");
    if let Some(limit) = query.limit {
        qb.push(" LIMIT ").push_bind(sql_limit(limit));
    }
}

/// Decodes one audit row selected with [`AUDIT_COLUMNS`]. `Status` is the integer type the
/// backend stores `http_status` in; out-of-range or unknown values are `Corrupt`, not panics.
pub(crate) fn audit_from_row<'r, R, Status>(row: &'r R) -> Result<AuditRecord, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Status: Decode<'r, R::Database> + Type<R::Database> + Into<i64>,
{
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("audit row: {e}"));
    let seq: i64 = row.try_get(0).map_err(corrupt)?;
    let outcome: String = row.try_get(10).map_err(corrupt)?;
    let status: Status = row.try_get(12).map_err(corrupt)?;
    let status: i64 = status.into();
    let statements: String = row.try_get(14).map_err(corrupt)?;
    let checks: String = row.try_get(15).map_err(corrupt)?;
    let access: Option<String> = row.try_get(16).map_err(corrupt)?;
    Ok(AuditRecord {
        seq,
        time: from_unix_micros(row.try_get(1).map_err(corrupt)?)?,
        request_id: row.try_get(2).map_err(corrupt)?,
        principal_arn: row.try_get(3).map_err(corrupt)?,
        access_key_id: row.try_get(4).map_err(corrupt)?,
        source_ip: row.try_get(5).map_err(corrupt)?,
        tls: row.try_get(6).map_err(corrupt)?,
        user_agent: row.try_get(7).map_err(corrupt)?,
        service: row.try_get(8).map_err(corrupt)?,
        operation: row.try_get(9).map_err(corrupt)?,
        outcome: AuditOutcome::parse(&outcome).ok_or_else(|| {
            StoreError::Corrupt(format!("audit record {seq}: unknown outcome {outcome:?}"))
        })?,
        error_code: row.try_get(11).map_err(corrupt)?,
        http_status: u16::try_from(status).map_err(|_| {
            StoreError::Corrupt(format!("audit record {seq}: http_status {status}"))
        })?,
        decision: row.try_get(13).map_err(corrupt)?,
        matched_statements: serde_json::from_str(&statements).map_err(|e| {
            StoreError::Corrupt(format!("audit record {seq}: matched_statements: {e}"))
        })?,
        checks: serde_json::from_str(&checks)
            .map_err(|e| StoreError::Corrupt(format!("audit record {seq}: checks: {e}")))?,
        access: access
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit record {seq}: access: {e}")))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_exactly_the_prefixed_keys() {
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        // Multi-byte UTF-8: "é" is C3 A9, so the bound is C3 AA — above "é…", below "ê".
        assert_eq!(prefix_end("é".as_bytes()), Some(vec![0xC3, 0xAA]));
        assert!("ê".as_bytes() >= [0xC3, 0xAA].as_slice());
    }

    #[test]
    fn micros_round_trip_and_truncate() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).ok();
        let t = t.map(unix_micros);
        assert_eq!(t, Some(1_700_000_000_123_456));
        let back = from_unix_micros(1_700_000_000_123_456).map(|t| t.unix_timestamp_nanos());
        assert_eq!(back.ok(), Some(1_700_000_000_123_456_000));
        assert_eq!(
            unix_micros(OffsetDateTime::UNIX_EPOCH - time::Duration::nanoseconds(1)),
            -1
        );
        assert!(matches!(
            from_unix_micros(i64::MAX),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn bad_versions_are_corrupt() {
        assert!(checked_version("n", "k", 1).is_ok());
        assert!(matches!(
            checked_version("n", "k", 0),
            Err(StoreError::Corrupt(_))
        ));
    }
}
