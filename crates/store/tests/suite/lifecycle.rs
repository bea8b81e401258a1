//! Opening, reopening, migrating, closing, and refusing bad data.

use rampart_core::audit::AuditQuery;
use rampart_store::{Expect, StoreError};

use super::{put, record, Harness};

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

    h.execute("UPDATE audit_records SET matched_statements = 'not json'")
        .await;
    match s.query_audit(&AuditQuery::default()).await {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("matched_statements"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }

    h.execute("UPDATE audit_records SET matched_statements = '[]', time_us = 9223372036854775807")
        .await;
    assert!(matches!(
        s.query_audit(&AuditQuery::default()).await,
        Err(StoreError::Corrupt(_))
    ));

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
}
