//! The storage suite against the embedded SQLite backend, plus SQLite-only properties
//! (file permissions, WAL, URL forms).

mod suite;

use std::future::Future;
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
        rampart_store::open(&format!("sqlite://{}", self.db.display()))
            .await
            .expect("open SQLite store")
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
