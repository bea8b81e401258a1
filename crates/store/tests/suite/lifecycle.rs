//! Opening, reopening, migrating, closing, and refusing bad data.

use rampart_core::audit::{AuditOutcome, AuditQuery};
use rampart_store::{Expect, StoreError};

use super::{check, put, record, Harness};

pub async fn reopen_keeps_everything(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(vec![
        put("ns", "k", b"v", Expect::Any),
        put("ns", "k", b"v2", Expect::Any),
    ])
    .await
    .expect("put");
    let first = s
        .append_audit(&[record(1, 0), record(2, 0)])
        .await
        .expect("append");
    s.close().await;
    drop(s);

    let s = h.open().await;
    let item = s.get("ns", "k").await.expect("get").expect("persisted");
    assert_eq!((item.value.as_slice(), item.version), (&b"v2"[..], 2));
    assert_eq!(
        s.query_audit(&AuditQuery::default())
            .await
            .expect("query")
            .len(),
        2
    );
    // Versions and seqs carry on from where they were.
    let v = s
        .commit(vec![put("ns", "k", b"v3", Expect::Version(2))])
        .await
        .expect("CAS");
    assert_eq!(v, vec![3]);
    let next = s.append_audit(&[record(3, 0)]).await.expect("append");
    assert!(
        next[0] > first[1],
        "seq continues after reopen: {next:?} > {first:?}"
    );
}

pub async fn migrations_are_idempotent(h: &dyn Harness) {
    let s = h.open().await;
    let applied = h.query_i64("SELECT COUNT(*) FROM _sqlx_migrations").await;
    assert!(applied >= 1);
    s.commit(vec![put("ns", "k", b"v", Expect::Any)])
        .await
        .expect("put");
    // Reopen sequentially, then several at once (nodes starting together).
    drop(h.open().await);
    let concurrent = futures_join(h).await;
    assert_eq!(
        h.query_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        applied
    );
    assert_eq!(
        h.query_i64("SELECT COUNT(*) FROM _sqlx_migrations WHERE NOT success")
            .await,
        0
    );
    for s in concurrent {
        assert_eq!(
            s.get("ns", "k").await.expect("get").map(|i| i.version),
            Some(1)
        );
    }
}

/// A database an older Rampart created (schema version 1, before audit records had checks),
/// with rows in it, migrates on open: the old rows read back unchanged with no checks, and new
/// rows keep theirs.
pub async fn old_audit_rows_migrate_with_empty_checks(h: &dyn Harness) {
    h.migrate_to(1).await;
    assert_eq!(
        h.query_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        1
    );
    h.execute(
        "INSERT INTO audit_records (time_us, request_id, principal_arn, access_key_id, \
         source_ip, tls, user_agent, service, operation, outcome, error_code, http_status, \
         decision, matched_statements) VALUES \
         (1700000001000000, 'old-1', 'arn:aws:iam::000000000000:user/alice', 'AKIAALICE', \
          '192.0.2.1', TRUE, 'aws-cli/2', 'iam', 'CreateUser', 'failure', 'AccessDenied', 403, \
          'explicitDeny', '[\"DenyAll\"]'), \
         (1700000002000000, 'old-2', NULL, NULL, '192.0.2.1', FALSE, NULL, 'sts', \
          'GetCallerIdentity', 'success', NULL, 200, NULL, '[]')",
    )
    .await;

    let s = h.open().await;
    assert!(
        h.query_i64("SELECT COUNT(*) FROM _sqlx_migrations").await > 1,
        "open applied the newer migrations"
    );
    let mut new = record(3, 0);
    new.checks = vec![check(
        "iam:AttachUserPolicy",
        "arn:aws:iam::000000000000:user/bob",
        "allowed",
    )];
    let new_seq = s.append_audit(&[new.clone()]).await.expect("append");
    let stored = s.query_audit(&AuditQuery::default()).await.expect("query");
    assert_eq!(stored.len(), 3, "{stored:?}");

    let mut old_1 = record(1, 0);
    old_1.seq = stored[0].seq;
    old_1.request_id = "old-1".into();
    old_1.principal_arn = Some("arn:aws:iam::000000000000:user/alice".into());
    old_1.access_key_id = Some("AKIAALICE".into());
    old_1.tls = true;
    old_1.user_agent = Some("aws-cli/2".into());
    old_1.service = "iam".into();
    old_1.operation = "CreateUser".into();
    old_1.outcome = AuditOutcome::Failure;
    old_1.error_code = Some("AccessDenied".into());
    old_1.http_status = 403;
    old_1.decision = Some("explicitDeny".into());
    old_1.matched_statements = vec!["DenyAll".into()];
    old_1.checks = Vec::new();
    let mut old_2 = record(2, 0);
    old_2.seq = stored[1].seq;
    old_2.request_id = "old-2".into();
    old_2.checks = Vec::new();
    new.seq = new_seq[0];
    assert_eq!(stored, vec![old_1, old_2, new]);
    assert!(stored[0].seq < stored[1].seq && stored[1].seq < stored[2].seq);
}

async fn futures_join(h: &dyn Harness) -> Vec<std::sync::Arc<dyn rampart_store::Store>> {
    let (a, b, c) = tokio::join!(h.open(), h.open(), h.open());
    vec![a, b, c]
}

pub async fn corrupt_rows_are_errors_not_panics(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(vec![put("ns", "good", b"v", Expect::Any)])
        .await
        .expect("put");
    s.append_audit(&[record(1, 0)]).await.expect("append");

    if s.backend() == "sqlite" {
        // The embedded trail stores one encoded row per group commit.
        for damaged in ["X''", "X'02'", "X'01FFFFFF'", "X'0101'"] {
            h.execute(&format!("UPDATE audit_batches SET records = {damaged}"))
                .await;
            match s.query_audit(&AuditQuery::default()).await {
                Err(StoreError::Corrupt(msg)) => assert!(msg.contains("audit batch"), "{msg}"),
                other => panic!("expected Corrupt for {damaged}, got {other:?}"),
            }
        }
    } else {
        h.execute("UPDATE audit_records SET matched_statements = 'not json'")
            .await;
        match s.query_audit(&AuditQuery::default()).await {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("matched_statements"), "{msg}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }

        h.execute("UPDATE audit_records SET matched_statements = '[]', checks = 'not json'")
            .await;
        match s.query_audit(&AuditQuery::default()).await {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("checks"), "{msg}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // Valid JSON of the wrong shape is just as corrupt.
        h.execute(r#"UPDATE audit_records SET checks = '[{"action": "iam:GetUser"}]'"#)
            .await;
        match s.query_audit(&AuditQuery::default()).await {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("checks"), "{msg}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }

        h.execute("UPDATE audit_records SET checks = '[]', time_us = 9223372036854775807")
            .await;
        assert!(matches!(
            s.query_audit(&AuditQuery::default()).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    let bad_key = match s.backend() {
        "postgres" => "'\\xff'::bytea",
        _ => "X'FF'",
    };
    h.execute(&format!(
        "INSERT INTO kv (ns, key, value, version, updated_at) VALUES ('ns', {bad_key}, {bad_key}, 1, 0)"
    ))
    .await;
    match s.list("ns", "", None, 10).await {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("UTF-8"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // The good row is still readable on its own.
    assert!(s.get("ns", "good").await.expect("get").is_some());
}

pub async fn closed_store_is_unavailable(h: &dyn Harness) {
    let s = h.open().await;
    s.close().await;
    assert!(matches!(
        s.get("ns", "k").await,
        Err(StoreError::Unavailable(_))
    ));
    let commit = s.commit(vec![put("ns", "k", b"v", Expect::Any)]).await;
    assert!(
        matches!(commit, Err(StoreError::Unavailable(_))),
        "{commit:?}"
    );
    let recorded = s.record_audit(super::record(0, 0)).await;
    assert!(
        matches!(recorded, Err(StoreError::Unavailable(_))),
        "{recorded:?}"
    );
}
