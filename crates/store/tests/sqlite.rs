//! The storage suite against the embedded SQLite backend, plus SQLite-only properties
//! (file permissions, WAL, URL forms).

mod suite;

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_store::{Expect, SqliteStore, Store, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use suite::Harness;

/// A private temporary directory holding one test's database, removed on drop.
struct SqliteHarness {
    dir: PathBuf,
    db: PathBuf,
}

impl SqliteHarness {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("rampart-store-{name}-{}", uuid::Uuid::new_v4()));
        // A nested, not-yet-existing directory: `open` must create it.
        let db = dir.join("state").join("rampart.db");
        SqliteHarness { dir, db }
    }

    async fn raw(&self) -> sqlx::SqliteConnection {
        SqliteConnectOptions::new()
            .filename(&self.db)
            .connect()
            .await
            .expect("raw connection")
    }
}

impl Drop for SqliteHarness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[async_trait::async_trait]
impl Harness for SqliteHarness {
    async fn open(&self) -> Arc<dyn Store> {
        rampart_store::open(&self.store_url())
            .await
            .expect("open SQLite store")
    }

    fn store_url(&self) -> String {
        format!("sqlite://{}", self.db.display())
    }

    async fn execute(&self, sql: &str) {
        let mut conn = self.raw().await;
        sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
        conn.close().await.expect("close");
    }

    async fn query_i64(&self, sql: &str) -> i64 {
        let mut conn = self.raw().await;
        let value = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("raw SQL");
        conn.close().await.expect("close");
        value
    }

    async fn migrate_to(&self, version: i64) {
        std::fs::create_dir_all(self.db.parent().expect("parent")).expect("mkdir");
        let mut conn = SqliteConnectOptions::new()
            .filename(&self.db)
            .create_if_missing(true)
            .connect()
            .await
            .expect("raw connection");
        suite::migrator_up_to("sqlite", version)
            .await
            .run_direct(&mut conn)
            .await
            .expect("old migrations");
        conn.close().await.expect("close");
    }
}

/// Runs one suite test on a fresh database, re-raising its panic after cleanup.
async fn run<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Arc<dyn Harness>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let harness: Arc<dyn Harness> = Arc::new(SqliteHarness::new(name));
    let outcome = tokio::spawn(test(Arc::clone(&harness))).await;
    drop(harness);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

crate::storage_suite!(run);

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private_and_wal() {
    let h = SqliteHarness::new("private");
    let s = SqliteStore::open(&h.db).await.expect("open");
    s.commit(vec![suite::put("ns", "k", b"secret", Expect::Any)])
        .await
        .expect("put");
    assert_eq!(mode(&h.db), 0o600, "database file");
    assert_eq!(mode(&h.db.with_extension("db-wal")), 0o600, "WAL file");
    assert_eq!(
        mode(h.db.parent().expect("parent")),
        0o700,
        "created directory"
    );
    let mut raw = h.raw().await;
    let journal: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .expect("pragma")
        .get(0);
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn opens_bare_paths_and_reports_backend() {
    let h = SqliteHarness::new("bare");
    let s = rampart_store::open(h.db.to_str().expect("utf-8 path"))
        .await
        .expect("open bare path");
    assert_eq!(s.backend(), "sqlite");
    s.commit(vec![suite::put("ns", "k", b"v", Expect::Any)])
        .await
        .expect("put");
    s.close().await;
    let s = rampart_store::open(&format!("sqlite:{}", h.db.display()))
        .await
        .expect("reopen");
    assert_eq!(
        s.get("ns", "k").await.expect("get").map(|i| i.version),
        Some(1)
    );
}

#[tokio::test]
async fn unusable_locations_are_errors() {
    for url in [
        "",
        "sqlite::memory:",
        "redis://localhost",
        "postgres://h/db?schema=bad-name",
    ] {
        let opened = rampart_store::open(url).await;
        assert!(matches!(opened, Err(StoreError::InvalidUrl(_))), "{url:?}");
    }
    let h = SqliteHarness::new("not-a-db");
    std::fs::create_dir_all(h.db.parent().expect("parent")).expect("mkdir");
    std::fs::write(&h.db, b"this is not an SQLite database, just some text").expect("write");
    let opened = SqliteStore::open(&h.db).await;
    assert!(matches!(opened, Err(StoreError::Corrupt(_))), "{opened:?}");
}

/// Set in the child process of [`commits_survive_sigkill`]: the database it writes to.
const SIGKILL_CHILD_DB: &str = "RAMPART_STORE_SIGKILL_CHILD_DB";

/// The child half of [`commits_survive_sigkill`]; a no-op when run normally. Commits version
/// after version of one key, printing each version once `commit` has returned.
#[tokio::test]
async fn sigkill_child_writer() {
    let Some(db) = std::env::var_os(SIGKILL_CHILD_DB) else {
        return;
    };
    let s = SqliteStore::open(Path::new(&db)).await.expect("child open");
    let mut expect = Expect::Absent;
    loop {
        let versions = s
            .commit(vec![suite::put("ns", "k", b"v", expect)])
            .await
            .expect("commit");
        expect = Expect::Version(versions[0]);
        let mut out = std::io::stdout().lock();
        writeln!(out, "committed {}", versions[0]).expect("stdout");
        out.flush().expect("flush");
    }
}

/// A commit that returned survives the process being killed mid-write: a child process commits
/// in a loop and is SIGKILLed; every version it reported must be in the reopened database.
#[cfg(unix)]
#[tokio::test]
async fn commits_survive_sigkill() {
    use std::io::BufRead;
    let h = SqliteHarness::new("sigkill");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "sigkill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SIGKILL_CHILD_DB, &h.db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut reported = 0;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read child");
        if let Some(v) = line.strip_prefix("committed ") {
            reported = v.parse().expect("version");
            if reported >= 200 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL child"); // Child::kill sends SIGKILL on Unix
    child.wait().expect("reap child");
    assert_eq!(reported, 200, "child stopped early");
    let s = SqliteStore::open(&h.db).await.expect("reopen after kill");
    let version = s
        .get("ns", "k")
        .await
        .expect("get")
        .expect("present")
        .version;
    assert!(version >= reported, "reported {reported}, found {version}");
}

/// A database from the builds that kept an audit journal (schema version 4): a journal whose
/// records are all in the table is removed and the schema moves on; one that holds records
/// not yet indexed makes the open fail, leaving file and database as they were.
#[tokio::test]
async fn a_leftover_audit_journal_is_removed_only_once_indexed() {
    for (indexed_to, file_len, opens) in
        [(24_i64, 24_usize, true), (124, 124, true), (24, 124, false)]
    {
        let h = SqliteHarness::new("journal");
        h.migrate_to(4).await;
        h.execute(&format!(
            "UPDATE audit_journal SET indexed_to = {indexed_to}"
        ))
        .await;
        let journal = h.db.with_extension("db-audit");
        std::fs::write(&journal, vec![7u8; file_len]).expect("journal");
        let opened = SqliteStore::open(&h.db).await;
        match opens {
            true => {
                let s = opened.expect("open");
                s.close().await;
                assert!(!journal.exists(), "an indexed journal is removed");
                let tables = h
                    .query_i64("SELECT count(*) FROM sqlite_master WHERE name = 'audit_journal'")
                    .await;
                assert_eq!(tables, 0, "migration 5 drops the journal's table");
            }
            false => {
                let Err(err) = opened else {
                    panic!("a journal with records not yet indexed must be refused")
                };
                assert!(
                    matches!(err, StoreError::Corrupt(ref m) if m.contains("not yet in the audit trail")),
                    "{err}"
                );
                assert_eq!(std::fs::read(&journal).expect("kept").len(), file_len);
                let version = h
                    .query_i64("SELECT max(version) FROM _sqlx_migrations")
                    .await;
                assert_eq!(version, 4, "nothing migrated");
            }
        }
    }
}

/// Rows written before schema version 7 (the WITHOUT ROWID `kv`) move into the rowid table on
/// open: values, versions and key order as they were, conditional writes still checked, and
/// the upsert's conflict target still the unique (ns, key).
#[tokio::test]
async fn kv_rows_move_to_the_rowid_table() {
    let h = SqliteHarness::new("kv-rowid");
    h.migrate_to(6).await;
    let big = vec![7u8; 300_000];
    h.execute(&format!(
        "INSERT INTO kv (ns, key, value, version, updated_at) VALUES \
         ('functions', X'61', X'{}', 3, 1), ('functions', X'62', X'01', 1, 1), \
         ('other', X'61', X'02', 5, 1)",
        "07".repeat(big.len())
    ))
    .await;
    let s = SqliteStore::open(&h.db).await.expect("open migrates");
    assert_eq!(
        h.query_i64("SELECT max(version) FROM _sqlx_migrations")
            .await,
        7
    );
    assert_eq!(
        h.query_i64(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'kv' AND sql LIKE '%WITHOUT ROWID%'"
        )
        .await,
        0
    );
    let a = s.get("functions", "a").await.expect("get").expect("kept");
    assert_eq!((a.value.len(), a.version), (big.len(), 3));
    assert_eq!(a.value, big);
    let listed = s.list("functions", "", None, 10).await.expect("list");
    let keys: Vec<_> = listed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    // Compare-and-swap and create-only still see the moved rows.
    assert!(s
        .commit(vec![suite::put("functions", "b", b"x", Expect::Version(2))])
        .await
        .is_err());
    s.commit(vec![suite::put("functions", "b", b"x", Expect::Version(1))])
        .await
        .expect("cas on a moved row");
    assert!(s
        .commit(vec![suite::put("other", "a", b"x", Expect::Absent)])
        .await
        .is_err());
    s.commit(vec![suite::put("other", "a", b"y", Expect::Any)])
        .await
        .expect("upsert");
    assert_eq!(s.get("other", "a").await.unwrap().unwrap().version, 6);
}
