//! The storage suite against PostgreSQL, each test in a fresh random schema that is dropped
//! afterwards.
//!
//! The server is found at `RAMPART_TEST_POSTGRES_URL`, else `127.0.0.1:5432/test` as user
//! `postgres` or the current user. If none answers, every test prints
//! `SKIPPED: PostgreSQL unreachable at …` and passes — unless `RAMPART_REQUIRE_POSTGRES=1`
//! (set in CI), in which case they fail.

mod suite;

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use rampart_store::{Expect, PostgresStore, Store, StoreError};
use sqlx::{Connection, PgConnection};
use suite::Harness;
use tokio::sync::OnceCell;

/// The first reachable server URL, or why none was (probed once per test binary).
static SERVER: OnceCell<Result<String, String>> = OnceCell::const_new();

async fn probe() -> Result<String, String> {
    let candidates: Vec<String> = match std::env::var("RAMPART_TEST_POSTGRES_URL") {
        Ok(url) => vec![url],
        Err(_) => {
            let mut users = vec!["postgres".to_string()];
            if let Ok(user) = std::env::var("USER") {
                users.push(user);
            }
            users
                .into_iter()
                .map(|u| format!("postgres://{u}@127.0.0.1:5432/test"))
                .collect()
        }
    };
    let mut failures = Vec::new();
    for url in &candidates {
        match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(url.clone());
            }
            Ok(Err(e)) => failures.push(format!("{url}: {e}")),
            Err(_) => failures.push(format!("{url}: timed out")),
        }
    }
    Err(failures.join("; "))
}

/// The server URL, or `None` after reporting the skip (panicking instead if CI requires it).
async fn server(test: &str) -> Option<String> {
    match SERVER.get_or_init(probe).await {
        Ok(url) => Some(url.clone()),
        Err(why) if std::env::var("RAMPART_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("PostgreSQL unreachable and RAMPART_REQUIRE_POSTGRES=1: {why}")
        }
        Err(why) => {
            // Straight to stderr (not `eprintln!`) so the notice shows even for passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL unreachable at {why} ({test})"
            );
            None
        }
    }
}

/// One test's schema on the shared server.
struct PgHarness {
    server: String,
    schema: String,
}

impl PgHarness {
    fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.server, self.schema)
    }

    async fn raw(&self) -> PgConnection {
        let mut conn = PgConnection::connect(&self.server)
            .await
            .expect("raw connection");
        sqlx::query(&format!("SET search_path TO \"{}\"", self.schema))
            .execute(&mut conn)
            .await
            .expect("search_path");
        conn
    }

    async fn drop_schema(&self) {
        let mut conn = PgConnection::connect(&self.server)
            .await
            .expect("raw connection");
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&mut conn)
        .await
        .expect("drop schema");
        let _ = conn.close().await;
    }
}

#[async_trait::async_trait]
impl Harness for PgHarness {
    async fn open(&self) -> Arc<dyn Store> {
        rampart_store::open(&self.url())
            .await
            .expect("open PostgreSQL store")
    }

    fn store_url(&self) -> String {
        self.url()
    }

    async fn execute(&self, sql: &str) {
        let mut conn = self.raw().await;
        sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
        let _ = conn.close().await;
    }

    async fn query_i64(&self, sql: &str) -> i64 {
        let mut conn = self.raw().await;
        let value = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("raw SQL");
        let _ = conn.close().await;
        value
    }

    async fn migrate_to(&self, version: i64) {
        // The schema must exist before `raw` puts it first on the search_path, or the tables
        // would land in the next schema there.
        let mut conn = PgConnection::connect(&self.server)
            .await
            .expect("raw connection");
        sqlx::query(&format!("CREATE SCHEMA \"{}\"", self.schema))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let _ = conn.close().await;
        let mut conn = self.raw().await;
        suite::migrator_up_to("postgres", version)
            .await
            .run_direct(&mut conn)
            .await
            .expect("old migrations");
        let _ = conn.close().await;
    }
}

fn random_schema() -> String {
    format!("rampart_test_{}", uuid::Uuid::new_v4().simple())
}

/// Runs one suite test in a fresh schema, dropping the schema even when the test panics.
async fn run<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Arc<dyn Harness>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server) = server(name).await else {
        return;
    };
    let harness = Arc::new(PgHarness {
        server,
        schema: random_schema(),
    });
    let outcome = tokio::spawn(test(Arc::clone(&harness) as Arc<dyn Harness>)).await;
    harness.drop_schema().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

crate::storage_suite!(run);

/// Two installations in one database, told apart only by schema, never see each other's rows;
/// schema names are taken literally (case, reserved words).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_isolate_installations() {
    let Some(server) = server("schemas_isolate_installations").await else {
        return;
    };
    let a = PgHarness {
        server: server.clone(),
        schema: random_schema(),
    };
    let b = PgHarness {
        server: server.clone(),
        schema: format!("Select_{}", uuid::Uuid::new_v4().simple()),
    };
    let (sa, sb) = (a.open().await, b.open().await);
    assert_eq!(sa.backend(), "postgres");
    sa.commit(vec![suite::put("ns", "k", b"a", Expect::Absent)])
        .await
        .expect("put a");
    sb.commit(vec![suite::put("ns", "k", b"b", Expect::Absent)])
        .await
        .expect("put b: separate");
    assert_eq!(
        sa.get("ns", "k").await.expect("get").map(|i| i.value),
        Some(b"a".to_vec())
    );
    assert_eq!(
        sb.get("ns", "k").await.expect("get").map(|i| i.value),
        Some(b"b".to_vec())
    );
    let direct = PostgresStore::connect_in_schema(&server, &b.schema)
        .await
        .expect("connect_in_schema");
    assert_eq!(
        direct.get("ns", "k").await.expect("get").map(|i| i.value),
        Some(b"b".to_vec())
    );
    for s in [sa, sb] {
        s.close().await;
    }
    direct.close().await;
    a.drop_schema().await;
    b.drop_schema().await;
}

#[tokio::test]
async fn bad_schema_names_and_conflicting_urls_are_refused() {
    // Refused before any connection is made, so this needs no server.
    for schema in ["", "a-b", "a\"b", "1abc", &"x".repeat(64)] {
        let r = PostgresStore::connect_in_schema("postgres://127.0.0.1:1/test", schema).await;
        assert!(matches!(r, Err(StoreError::InvalidUrl(_))), "{schema:?}");
    }
    let r = PostgresStore::connect_in_schema("postgres://127.0.0.1:1/test?schema=a", "b").await;
    assert!(matches!(r, Err(StoreError::InvalidUrl(_))));
    let r = PostgresStore::connect("postgres://127.0.0.1:1/test").await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
}
