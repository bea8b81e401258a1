//! The scale-out backend: PostgreSQL, shared by any number of Rampart processes.
//!
//! Nothing here trusts process memory. Optimistic concurrency is enforced by single conditional
//! statements under PostgreSQL's row locks (see `kv.rs`); multi-key commits take per-key
//! advisory locks in a global order so they queue rather than deadlock; audit `seq`s are
//! allocated under a transaction-scoped advisory lock so that seq order equals commit order
//! across processes.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::audit::{AuditQuery, AuditRecord};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use crate::kv::{self, Applied};
use crate::location::{split_schema, validate_schema};
use crate::rows::{
    self, access_json, audit_from_row, checks_json, push_audit_filters, statements_json,
    unix_micros, ErrorCodes,
};
use crate::{Item, Store, StoreError, Write};

/// The PostgreSQL schema, embedded at compile time from `migrations/postgres`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process. Requests hold a connection only for one statement or one short
/// transaction, so 16 keeps a busy node fed while leaving room for several nodes under
/// PostgreSQL's default `max_connections` of 100.
const POOL_SIZE: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Commits that PostgreSQL aborts as deadlocked or unserialisable are retried this many times
/// (each retry re-checks every `Expect`). [`key_lock`] should make this a safety net only.
const DEADLOCK_RETRIES: usize = 5;
/// First key of the advisory lock that serialises audit appends (`'RAMP'` in ASCII); the second
/// key is the audit table's oid, so each schema has its own lock.
const AUDIT_LOCK_CLASS: i32 = 0x5241_4d50;
/// Records [`Store::record_audit`] queues before it refuses more (the trail is behind).
const AUDIT_QUEUE: usize = 4096;
/// Most records one group commit takes.
const AUDIT_BATCH: usize = 1024;

impl ErrorCodes for Postgres {
    fn is_corrupt(code: &str) -> bool {
        // Class XX: internal error / data_corrupted / index_corrupted. 42P01, 42703: a table or
        // column this build expects is missing, so the schema is not ours.
        code.starts_with("XX") || code == "42P01" || code == "42703"
    }
}

fn map_err(err: sqlx::Error) -> StoreError {
    rows::map_err::<Postgres>(err)
}

/// True for errors after which PostgreSQL has rolled the transaction back and a retry may
/// succeed: deadlock_detected, serialization_failure.
fn is_retryable(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}

/// The shared store. Cheap to share behind an `Arc`; all state is in the database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Only to keep advisory lock keys of different installations apart.
    schema: Option<String>,
    /// The group commit behind [`Store::record_audit`].
    audit: mpsc::Sender<QueuedRecord>,
}

/// A record waiting for the next group commit, and its request waiting for its seq.
type QueuedRecord = (AuditRecord, oneshot::Sender<Result<i64, StoreError>>);

impl PostgresStore {
    /// Connects to `url` and applies pending migrations. A `schema=NAME` parameter in the URL
    /// behaves like [`PostgresStore::connect_in_schema`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (url, schema) = split_schema(url)?;
        Self::open(&url, schema.as_deref()).await
    }

    /// Connects with every table in `schema` (created if missing, then first on the
    /// `search_path`), so several installations can share one database.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let (url, in_url) = split_schema(url)?;
        let schema = validate_schema(schema)?;
        if in_url.as_deref().is_some_and(|s| s != schema) {
            return Err(StoreError::InvalidUrl(format!(
                "URL names schema {in_url:?} but {schema:?} was requested"
            )));
        }
        Self::open(&url, Some(schema)).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact(url))))?;
        if let Some(schema) = schema {
            let mut conn = PgConnection::connect_with(&options)
                .await
                .map_err(map_err)?;
            create_schema(&mut conn, schema).await?;
            conn.close().await.map_err(map_err)?;
            // Quoted so the name is taken literally (case, reserved words); the name was
            // validated to plain identifier characters, so no escaping is needed.
            options = options.options([("search_path", format!("\"{schema}\""))]);
        }
        // Migrations run on their own connection: sqlx holds a session-level advisory lock
        // while migrating (so concurrent nodes starting together take turns), and closing the
        // connection guarantees that lock can never leak into the pool.
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(map_err)?;
        // `run_direct` rather than `run`: `run`'s generic `Acquire` bound makes this future
        // fail the `Send` check ("implementation of `Acquire` is not general enough").
        let migrated = MIGRATOR.run_direct(&mut conn).await;
        conn.close().await.map_err(map_err)?;
        migrated.map_err(rows::map_migrate_err::<Postgres>)?;

        // No ping before every acquire: it would double the round trips of every call, and a
        // connection broken by a server restart fails one call with `Unavailable` and is dropped.
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        tracing::debug!(
            schema = schema.unwrap_or("(default)"),
            "connected to PostgreSQL store"
        );
        let (audit, queued) = mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(group_commit(pool.clone(), queued));
        Ok(PostgresStore {
            pool,
            schema: schema.map(str::to_owned),
            audit,
        })
    }

    /// One attempt at a commit, with `audit` inserted in the same transaction if given. A
    /// multi-key commit first takes transaction-scoped advisory locks on its keys in one global
    /// order; see [`key_lock`] for why.
    async fn try_commit(
        &self,
        writes: &[Write],
        audit: Option<&AuditRows<'_>>,
    ) -> Result<Result<Vec<i64>, usize>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if writes.len() > 1 {
            let mut locks: Vec<i64> = writes
                .iter()
                .map(|w| {
                    let (ns, key) = w.target();
                    key_lock(self.schema.as_deref(), ns, key)
                })
                .collect();
            locks.sort_unstable();
            locks.dedup();
            // WITH ORDINALITY + ORDER BY: the locks are taken in exactly this sorted order.
            sqlx::query(
                "SELECT pg_advisory_xact_lock(k) FROM UNNEST($1::bigint[]) WITH ORDINALITY AS t(k, i) \
                 ORDER BY i",
            )
            .bind(locks)
            .execute(&mut *tx)
            .await?;
        }
        match kv::apply::<Postgres>(&mut tx, writes).await? {
            Applied::Done(versions) => {
                // The audit lock (taken by `insert_audit`) comes only now, after every key and
                // row lock this commit needs:
                // * No deadlock: whoever holds the audit lock — `append_audit`, or an audited
                //   commit already past its writes — waits for nothing but its INSERT and its
                //   commit, never for a key or row lock, so no wait cycle can pass through the
                //   audit lock. (Taking it first would also be deadlock-free, provided every
                //   path that takes both did so; mixing the two orders would not be.)
                // * It is held briefly: taken first, it would be held while this commit waits
                //   for the row locks of slower writers, stalling every node's audit batches
                //   behind them. Taken last, it covers one INSERT and the commit, as in
                //   `append_audit`, and seq order still equals commit order.
                // An error here drops `tx`, rolling the writes back: no change without its record.
                if let Some(audit) = audit {
                    insert_audit(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(Ok(versions))
            }
            Applied::Conflict(index) => {
                tx.rollback().await?;
                Ok(Err(index))
            }
        }
    }

    /// [`PostgresStore::try_commit`] until it is not deadlocked (at most [`DEADLOCK_RETRIES`]
    /// retries, each re-checking every `Expect`); a failed expectation is a `Conflict`.
    async fn commit_retrying(
        &self,
        writes: &[Write],
        audit: Option<&AuditRows<'_>>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut attempt = 0;
        loop {
            match self.try_commit(writes, audit).await {
                Ok(Ok(versions)) => return Ok(versions),
                Ok(Err(index)) => {
                    let (ns, key) = writes[index].target();
                    return Err(StoreError::Conflict {
                        ns: ns.to_owned(),
                        key: key.to_owned(),
                    });
                }
                Err(e) if is_retryable(&e) && attempt < DEADLOCK_RETRIES => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "retrying deadlocked commit");
                }
                Err(e) => return Err(map_err(e)),
            }
        }
    }
}

/// Audit records with their JSON columns encoded once, ready to insert (again, should a
/// deadlocked transaction be retried).
struct AuditRows<'a> {
    records: &'a [AuditRecord],
    statements: Vec<String>,
    checks: Vec<String>,
    access: Vec<Option<String>>,
}

impl<'a> AuditRows<'a> {
    fn new(records: &'a [AuditRecord]) -> Result<Self, StoreError> {
        let mut statements = Vec::with_capacity(records.len());
        let mut checks = Vec::with_capacity(records.len());
        let mut access = Vec::with_capacity(records.len());
        for r in records {
            statements.push(statements_json(&r.matched_statements)?);
            checks.push(checks_json(&r.checks)?);
            access.push(access_json(r.access.as_ref())?);
        }
        Ok(AuditRows {
            records,
            statements,
            checks,
            access,
        })
    }
}

/// Inserts `rows` on `conn`, which the caller has put inside a transaction, and returns their
/// seqs, ascending.
///
/// Takes the audit advisory lock first, held until the transaction ends: a later appender
/// allocates larger seqs *and* commits later, so a reader tailing by `after_seq` can never skip
/// a record. An advisory lock rather than LOCK TABLE, because table locks would also block (and
/// keep cancelling) autovacuum. The caller must hold no lock another audit lock holder could
/// wait for (see [`PostgresStore::try_commit`]).
async fn insert_audit(
    conn: &mut PgConnection,
    rows: &AuditRows<'_>,
) -> Result<Vec<i64>, sqlx::Error> {
    let records = rows.records;
    let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
    sqlx::query("SELECT pg_advisory_xact_lock($1, 'audit_records'::regclass::oid::int)")
        .bind(AUDIT_LOCK_CLASS)
        .execute(&mut *conn)
        .await?;
    let mut seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('audit_records', 'seq')) \
         FROM generate_series(1, $1)",
    )
    .bind(count)
    .fetch_all(&mut *conn)
    .await?;
    seqs.sort_unstable();
    if seqs.len() != records.len() {
        // A decoding error, so that it maps to `Corrupt`.
        return Err(sqlx::Error::Decode(
            "audit sequence returned too few values".into(),
        ));
    }
    // One statement for the whole batch: arrays in, rows out, one round trip.
    sqlx::query(
        "INSERT INTO audit_records (seq, time_us, request_id, principal_arn, access_key_id, \
         source_ip, tls, user_agent, service, operation, outcome, error_code, http_status, \
         decision, matched_statements, checks, access) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::int[], $14::text[], $15::text[], $16::text[], $17::text[])",
    )
    .bind(&seqs)
    .bind(column(records, |r| unix_micros(r.time)))
    .bind(column(records, |r| r.request_id.as_str()))
    .bind(column(records, |r| r.principal_arn.as_deref()))
    .bind(column(records, |r| r.access_key_id.as_deref()))
    .bind(column(records, |r| r.source_ip.as_str()))
    .bind(column(records, |r| r.tls))
    .bind(column(records, |r| r.user_agent.as_deref()))
    .bind(column(records, |r| r.service.as_str()))
    .bind(column(records, |r| r.operation.as_str()))
    .bind(column(records, |r| r.outcome.as_str()))
    .bind(column(records, |r| r.error_code.as_deref()))
    .bind(column(records, |r| i32::from(r.http_status)))
    .bind(column(records, |r| r.decision.as_deref()))
    .bind(&rows.statements)
    .bind(&rows.checks)
    .bind(&rows.access)
    .execute(&mut *conn)
    .await?;
    Ok(seqs)
}

/// Appends `records` in one transaction (one multi-row INSERT); their seqs, ascending.
async fn append(pool: &PgPool, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
    let rows = AuditRows::new(records)?;
    let mut tx = pool.begin().await.map_err(map_err)?;
    let seqs = insert_audit(&mut tx, &rows).await.map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(seqs)
}

/// The group commit of [`Store::record_audit`]: takes every record queued while the previous
/// batch was being written into the next transaction, and answers each request once its batch
/// is durable. Ends when the store is dropped.
async fn group_commit(pool: PgPool, mut queue: mpsc::Receiver<QueuedRecord>) {
    let mut records = Vec::with_capacity(AUDIT_BATCH);
    let mut waiters = Vec::with_capacity(AUDIT_BATCH);
    while let Some((record, done)) = queue.recv().await {
        records.push(record);
        waiters.push(done);
        while records.len() < AUDIT_BATCH {
            match queue.try_recv() {
                Ok((record, done)) => {
                    records.push(record);
                    waiters.push(done);
                }
                Err(_) => break,
            }
        }
        let result = append(&pool, &records).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, records = records.len(), "audit batch failed");
        }
        records.clear();
        for (i, done) in waiters.drain(..).enumerate() {
            let _ = done.send(match &result {
                Ok(seqs) => seqs.get(i).copied().ok_or_else(|| {
                    StoreError::Corrupt("the audit insert returned too few seqs".into())
                }),
                Err(e) => Err(e.clone()),
            });
        }
    }
}

/// One column of `records`, as an array parameter for UNNEST.
fn column<'r, T>(records: &'r [AuditRecord], field: impl Fn(&'r AuditRecord) -> T) -> Vec<T> {
    records.iter().map(field).collect()
}

/// The advisory lock key for one key: a stable 64-bit FNV-1a hash of schema, namespace and key.
///
/// Row locks alone cannot stop two multi-key commits from deadlocking: both may *create* keys
/// (there is no row to lock yet) in opposite orders, and PostgreSQL then breaks the cycle only
/// after `deadlock_timeout` (1 s by default). Taking one advisory lock per key, sorted, before
/// touching any row makes overlapping multi-key commits queue instead; single-key commits wait
/// on at most one row while holding nothing, so they cannot close a cycle and skip this. A hash
/// collision only serialises two unrelated commits. The hash must never change: processes of
/// different Rampart versions may share a database.
fn key_lock(schema: Option<&str>, ns: &str, key: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in [schema.unwrap_or(""), ns, key] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        for byte in (part.len() as u64)
            .to_le_bytes()
            .iter()
            .chain(part.as_bytes())
        {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
    }
    i64::from_le_bytes(hash.to_le_bytes())
}

/// `CREATE SCHEMA IF NOT EXISTS` can still fail with a unique violation when two nodes create
/// the same schema at the same moment; the loser just checks that it now exists.
async fn create_schema(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut *conn)
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) => {
            let exists = sqlx::query("SELECT 1 FROM pg_namespace WHERE nspname = $1")
                .bind(schema)
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
            if exists.is_some() {
                Ok(())
            } else {
                Err(map_err(e))
            }
        }
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn get(&self, ns: &str, key: &str) -> Result<Option<Item>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        kv::get::<Postgres>(&mut conn, ns, key).await
    }

    async fn list(
        &self,
        ns: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        kv::list::<Postgres>(&mut conn, ns, prefix, start_after, limit).await
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        self.commit_retrying(&writes, None).await
    }

    /// With no writes it still commits the record.
    async fn commit_audited(
        &self,
        writes: Vec<Write>,
        record: &AuditRecord,
    ) -> Result<Vec<i64>, StoreError> {
        let audit = AuditRows::new(std::slice::from_ref(record))?;
        self.commit_retrying(&writes, Some(&audit)).await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        append(&self.pool, records).await
    }

    async fn record_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        let (done, answer) = oneshot::channel();
        self.audit.try_send((record, done)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Unavailable("the audit trail is falling behind (queue full)".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                StoreError::Unavailable("the audit group commit has stopped".into())
            }
        })?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the audit group commit has stopped".into()))?
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {}, access FROM audit_records",
            rows::AUDIT_COLUMNS
        ));
        push_audit_filters(&mut qb, query);
        let found = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
        found.iter().map(audit_from_row::<_, i32>).collect()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn key_locks_are_stable_and_separate_parts() {
        // Pinned: processes of different versions sharing a database must agree.
        assert_ne!(
            super::key_lock(None, "ab", "c"),
            super::key_lock(None, "a", "bc")
        );
        assert_ne!(
            super::key_lock(Some("x"), "n", "k"),
            super::key_lock(Some("y"), "n", "k")
        );
        assert_eq!(super::key_lock(Some("s"), "ns", "key"), PINNED);
    }

    /// FNV-1a 64 of the length-prefixed parts, computed independently.
    const PINNED: i64 = -6_945_602_252_197_349_726;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
