//! The storage contract, written once and run against every backend.
//!
//! Each backend's test file (`sqlite.rs`, `postgres.rs`) provides a [`Harness`] — a fresh,
//! isolated database per test — and expands [`storage_suite!`], so adding a test here adds it
//! to both backends and they cannot drift apart.

#![allow(dead_code)] // each test binary uses the whole suite, but not every helper

use std::sync::Arc;

use rampart_core::audit::{AuditCheck, AuditOutcome, AuditRecord};
use rampart_store::{Expect, Store, StoreError, Write};
use time::OffsetDateTime;

pub mod audit;
pub mod audited;
pub mod kv;
pub mod lifecycle;
pub mod races;

/// One isolated database for one test.
#[async_trait::async_trait]
pub trait Harness: Send + Sync + 'static {
    /// A new store handle on this test's database (running migrations, as `open` does).
    async fn open(&self) -> Arc<dyn Store>;
    /// The URL [`rampart_store::open`] opens this test's database with (for child processes).
    fn store_url(&self) -> String;
    /// Runs raw SQL against the database, bypassing the store (to plant corrupt rows).
    async fn execute(&self, sql: &str);
    /// Runs raw SQL returning one integer.
    async fn query_i64(&self, sql: &str) -> i64;
    /// Brings the (still empty) database to schema `version` only, as an older Rampart would
    /// have left it: runs this backend's migrations up to and including `version`.
    async fn migrate_to(&self, version: i64);
}

/// Expands to one `#[tokio::test]` per suite test. `$run` is the backend's
/// `async fn run(name: &str, test: impl FnOnce(Arc<dyn Harness>) -> Fut)` which sets up the
/// harness, runs the test and tears the database down (even when the test panics).
#[macro_export]
macro_rules! storage_suite {
    ($run:path) => {
        $crate::storage_suite!(@tests $run;
            kv::get_missing_is_none,
            kv::put_increments_version,
            kv::put_absent_conflicts_when_present,
            kv::put_version_conflicts,
            kv::failed_expect_rolls_back_whole_commit,
            kv::writes_in_one_commit_see_each_other,
            kv::delete_honours_expect,
            kv::namespaces_are_separate,
            kv::values_are_arbitrary_bytes,
            kv::list_paginates_by_prefix,
            kv::list_is_byte_ordered_and_literal,
            kv::list_edge_cases,
            races::concurrent_increments_lose_nothing,
            races::concurrent_creates_have_one_winner,
            races::opposite_order_creates_have_one_winner,
            races::concurrent_transfers_keep_the_total,
            audit::append_assigns_increasing_seqs,
            audit::checks_round_trip_in_large_batches,
            audit::query_filters_by_every_field,
            audit::concurrent_appenders_keep_seq_in_commit_order,
            audit::records_appended_one_by_one_are_group_committed,
            audited::commit_audited_writes_change_and_record,
            audited::failed_expect_writes_neither,
            audited::concurrent_audited_commits_keep_seq_in_commit_order,
            lifecycle::reopen_keeps_everything,
            lifecycle::migrations_are_idempotent,
            lifecycle::old_audit_rows_migrate_with_empty_checks,
            lifecycle::corrupt_rows_are_errors_not_panics,
            lifecycle::closed_store_is_unavailable,
            audited::commits_audited_survive_sigkill,
        );

        /// The child process of `audited::commits_audited_survive_sigkill`; a no-op when run
        /// normally.
        #[tokio::test]
        async fn sigkill_audited_child() {
            suite::audited::sigkill_child_main().await;
        }
    };
    (@tests $run:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $run(stringify!($name), |h: std::sync::Arc<dyn suite::Harness>| async move {
                    suite::$module::$name(&*h).await
                })
                .await;
            }
        )*
    };
}

/// The migrations of `backend` (`sqlite`, `postgres`) up to and including `version`, read at
/// run time from a copy of the crate's migration folder, so that a test can build a database
/// the way an older Rampart did. The files are copied unchanged, so their checksums are the
/// ones the store embeds.
pub async fn migrator_up_to(backend: &str, version: i64) -> sqlx::migrate::Migrator {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let copy = std::env::temp_dir().join(format!(
        "rampart-migrations-{backend}-{version}-{}",
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&copy).expect("migration copy dir");
    let mut copied = 0;
    for entry in std::fs::read_dir(&source).expect("migrations dir") {
        let path = entry.expect("migration entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(file_version) = name.split('_').next().and_then(|v| v.parse::<i64>().ok()) else {
            continue;
        };
        if file_version <= version {
            std::fs::copy(&path, copy.join(name)).expect("copy migration");
            copied += 1;
        }
    }
    assert!(copied > 0, "no {backend} migrations up to {version}");
    let migrator = sqlx::migrate::Migrator::new(copy.clone())
        .await
        .expect("resolve migrations");
    let _ = std::fs::remove_dir_all(&copy);
    migrator
}

/// A put with the given expectation.
pub fn put(ns: &str, key: &str, value: &[u8], expect: Expect) -> Write {
    Write::Put {
        ns: ns.into(),
        key: key.into(),
        value: value.to_vec(),
        expect,
    }
}

/// A delete with the given expectation.
pub fn delete(ns: &str, key: &str, expect: Expect) -> Write {
    Write::Delete {
        ns: ns.into(),
        key: key.into(),
        expect,
    }
}

/// Asserts that `result` is a conflict on exactly `ns`/`key`.
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, ns: &str, key: &str) {
    match result {
        Err(StoreError::Conflict { ns: n, key: k }) => {
            assert_eq!(
                (n.as_str(), k.as_str()),
                (ns, key),
                "conflict names the wrong write"
            )
        }
        other => panic!("expected a conflict on {ns}/{key}, got {other:?}"),
    }
}

/// An audit record at `1_700_000_000 + second` seconds plus `micros`, as the server would
/// build it (times at microsecond precision, which is what the store keeps).
pub fn record(second: i64, micros: i64) -> AuditRecord {
    let time = OffsetDateTime::from_unix_timestamp(1_700_000_000 + second).expect("valid time")
        + time::Duration::microseconds(micros);
    AuditRecord {
        seq: 0,
        time,
        request_id: format!("req-{second}-{micros}"),
        principal_arn: None,
        access_key_id: None,
        source_ip: "192.0.2.1".into(),
        tls: false,
        user_agent: None,
        service: "sts".into(),
        operation: "GetCallerIdentity".into(),
        outcome: AuditOutcome::Success,
        error_code: None,
        http_status: 200,
        decision: None,
        matched_statements: Vec::new(),
        checks: vec![check("sts:GetCallerIdentity", "*", "allowed")],
        access: None,
    }
}

/// One authorization check.
pub fn check(action: &str, resource: &str, decision: &str) -> AuditCheck {
    AuditCheck {
        action: action.into(),
        resource: resource.into(),
        decision: decision.into(),
    }
}
