//! The audit trail contract: seqs, round trips, every query filter, concurrent appenders.

use std::sync::Arc;

use rampart_core::audit::{AccessDetail, AuditOutcome, AuditQuery, AuditRecord};
use time::OffsetDateTime;

use super::{check, record, Harness};

pub async fn append_assigns_increasing_seqs(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(
        s.append_audit(&[]).await.expect("empty batch"),
        Vec::<i64>::new()
    );
    let mut full = record(0, 123_456);
    full.principal_arn = Some("arn:aws:iam::000000000000:user/alice".into());
    full.access_key_id = Some("AKIAALICE".into());
    full.tls = true;
    full.user_agent = Some("aws-cli/2 ünïcode".into());
    full.outcome = AuditOutcome::Failure;
    full.error_code = Some("AccessDenied".into());
    full.http_status = 403;
    full.decision = Some("explicitDeny".into());
    full.matched_statements = vec!["DenyAll".into(), "quote\"and,comma".into()];
    full.checks = vec![
        check(
            "iam:AttachUserPolicy",
            "arn:aws:iam::000000000000:user/bob",
            "allowed",
        ),
        check(
            "iam:AttachUserPolicy",
            "arn:aws:iam::000000000000:policy/ünï \"quoted\", [bracket]",
            "explicitDeny",
        ),
    ];
    full.access = Some(access(7));
    let mut max_status = record(1, 999_999);
    max_status.http_status = u16::MAX;
    max_status.checks = Vec::new();

    let first = s
        .append_audit(&[full.clone(), record(0, 1)])
        .await
        .expect("append");
    let second = s.append_audit(&[max_status.clone()]).await.expect("append");
    assert_eq!(first.len(), 2);
    assert!(
        first[0] < first[1] && first[1] < second[0],
        "seqs increase: {first:?} {second:?}"
    );

    let stored = s.query_audit(&AuditQuery::default()).await.expect("query");
    let mut expected = vec![full, record(0, 1), max_status];
    for (r, seq) in expected.iter_mut().zip(first.iter().chain(&second)) {
        r.seq = *seq;
    }
    assert_eq!(
        stored.iter().map(|r| &r.checks).collect::<Vec<_>>(),
        expected.iter().map(|r| &r.checks).collect::<Vec<_>>(),
        "checks round-trip exactly, in order, empty included"
    );
    assert_eq!(
        stored, expected,
        "records round-trip exactly (UTC, µs precision)"
    );
}

/// A deployed API's access detail, `n` making it distinct.
fn access(n: u64) -> AccessDetail {
    AccessDetail {
        api_id: format!("api{n}"),
        stage: n.is_multiple_of(2).then(|| "$default".to_owned()),
        route_key: (!n.is_multiple_of(3)).then(|| "GET /items/{id} ünï \"q\"".to_owned()),
        http_method: "GET".into(),
        path: format!("/items/{n}"),
        protocol: "HTTP/1.1".into(),
        response_latency_ms: n * 10,
        integration_latency_ms: (n % 2 == 1).then_some(n),
    }
}

/// One batch larger than any backend's rows-per-statement, every record with its own checks
/// (none, one, several) and access detail (or none): each lands on its own row.
pub async fn checks_round_trip_in_large_batches(h: &dyn Harness) {
    let s = h.open().await;
    let batch: Vec<AuditRecord> = (0..600i64)
        .map(|i| {
            let mut r = record(i, 0);
            r.checks = (0..i % 4)
                .map(|j| {
                    check(
                        &format!("iam:Action{j}"),
                        &format!("arn:aws:iam::000000000000:user/u{i}-{j}"),
                        if j == 2 { "implicitDeny" } else { "allowed" },
                    )
                })
                .collect();
            r.access = (i % 3 == 0).then(|| access(i as u64));
            r
        })
        .collect();
    let seqs = s.append_audit(&batch).await.expect("append");
    let stored = s.query_audit(&AuditQuery::default()).await.expect("query");
    assert_eq!(stored.len(), batch.len());
    for ((stored, sent), seq) in stored.iter().zip(&batch).zip(&seqs) {
        assert_eq!(stored.seq, *seq);
        assert_eq!(stored.request_id, sent.request_id);
        assert_eq!(stored.checks, sent.checks, "checks of {}", sent.request_id);
        assert_eq!(stored.access, sent.access, "access of {}", sent.request_id);
    }
}

pub async fn query_filters_by_every_field(h: &dyn Harness) {
    let s = h.open().await;
    let mut batch = Vec::new();
    for i in 0..10i64 {
        let mut r = record(i * 10, 0);
        r.request_id = format!("r{i}");
        match i % 3 {
            0 => r.principal_arn = Some("arn:alice".into()),
            1 => r.access_key_id = Some("AKIAALICE".into()),
            _ => {
                r.principal_arn = Some("arn:bob".into());
                r.access_key_id = Some("AKIABOB".into());
            }
        }
        r.service = if i < 5 { "sts" } else { "iam" }.into();
        r.operation = if i % 2 == 0 {
            "GetCallerIdentity"
        } else {
            "CreateUser"
        }
        .into();
        if i >= 7 {
            r.outcome = AuditOutcome::Failure;
            r.decision = Some("implicitDeny".into());
        } else {
            r.decision = Some("allowed".into());
        }
        batch.push(r);
    }
    let seqs = s.append_audit(&batch).await.expect("append");
    let ids = |records: Vec<AuditRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.request_id).collect()
    };
    let at =
        |second: i64| OffsetDateTime::from_unix_timestamp(1_700_000_000 + second).expect("time");
    let run = |q: AuditQuery| {
        let s = Arc::clone(&s);
        async move { ids(s.query_audit(&q).await.expect("query")) }
    };

    let all: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    assert_eq!(run(AuditQuery::default()).await, all);
    // since and until are inclusive.
    let q = AuditQuery {
        since: Some(at(30)),
        until: Some(at(60)),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r3", "r4", "r5", "r6"]);
    let q = AuditQuery {
        since: Some(at(85)),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r9"]);
    let q = AuditQuery {
        until: Some(at(10) - time::Duration::microseconds(1)),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r0"]);
    // principal matches the ARN or the access key id, exactly.
    let q = AuditQuery {
        principal: Some("arn:alice".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r0", "r3", "r6", "r9"]);
    let q = AuditQuery {
        principal: Some("AKIAALICE".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r1", "r4", "r7"]);
    let q = AuditQuery {
        principal: Some("AKIABOB".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r2", "r5", "r8"]);
    let q = AuditQuery {
        principal: Some("arn:%".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, Vec::<String>::new());
    let q = AuditQuery {
        service: Some("iam".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r5", "r6", "r7", "r8", "r9"]);
    let q = AuditQuery {
        operation: Some("CreateUser".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r1", "r3", "r5", "r7", "r9"]);
    let q = AuditQuery {
        outcome: Some(AuditOutcome::Failure),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r7", "r8", "r9"]);
    let q = AuditQuery {
        outcome: Some(AuditOutcome::Success),
        ..Default::default()
    };
    assert_eq!(run(q).await.len(), 7);
    let q = AuditQuery {
        decision: Some("allowed".into()),
        ..Default::default()
    };
    assert_eq!(run(q).await.len(), 7);
    let q = AuditQuery {
        after_seq: Some(seqs[7]),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r8", "r9"]);
    let q = AuditQuery {
        limit: Some(3),
        ..Default::default()
    };
    assert_eq!(run(q).await, ["r0", "r1", "r2"]);
    let q = AuditQuery {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(run(q).await, Vec::<String>::new());
    // Every filter at once: all must hold.
    let q = AuditQuery {
        since: Some(at(10)),
        until: Some(at(90)),
        principal: Some("arn:alice".into()),
        service: Some("iam".into()),
        operation: Some("GetCallerIdentity".into()),
        outcome: Some(AuditOutcome::Success),
        decision: Some("allowed".into()),
        after_seq: Some(seqs[0]),
        limit: Some(5),
    };
    assert_eq!(run(q).await, ["r6"]);
}

/// Several appenders (on two store handles, as two nodes would be) racing: seqs are unique,
/// increasing within each batch, and the trail read back is in seq order with nothing missing.
pub async fn concurrent_appenders_keep_seq_in_commit_order(h: &dyn Harness) {
    let stores = [h.open().await, h.open().await];
    let mut tasks = Vec::new();
    for t in 0..6i64 {
        let s = Arc::clone(&stores[(t % 2) as usize]);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for b in 0..10i64 {
                let batch: Vec<_> = (0..5).map(|i| record(t, b * 5 + i)).collect();
                let assigned = s.append_audit(&batch).await.expect("append");
                assert!(
                    assigned.windows(2).all(|w| w[0] < w[1]),
                    "batch seqs increase"
                );
                seqs.extend(assigned);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.expect("task");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one appender's seqs increase"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let stored: Vec<i64> = stores[0]
        .query_audit(&AuditQuery::default())
        .await
        .expect("query")
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(stored, all, "the trail holds every record, in seq order");
    let tail = stores[1]
        .query_audit(&AuditQuery {
            after_seq: Some(all[99]),
            limit: Some(50),
            ..Default::default()
        })
        .await
        .expect("tail");
    assert_eq!(
        tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
        all[100..150]
    );
}

/// Many requests recording one record each at the same moment (the request path's use):
/// every one is answered with its own seq once durable, and the trail holds each record under
/// exactly that seq, whatever batches the store grouped them into.
pub async fn records_appended_one_by_one_are_group_committed(h: &dyn Harness) {
    let s = h.open().await;
    let tasks: Vec<_> = (0..300i64)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut r = record(i, 0);
                r.request_id = format!("one-{i}");
                let seq = s.record_audit(r).await.expect("record");
                (format!("one-{i}"), seq)
            })
        })
        .collect();
    let mut answered = std::collections::HashMap::new();
    for task in tasks {
        let (request_id, seq) = task.await.expect("task");
        answered.insert(request_id, seq);
    }
    let stored = s.query_audit(&AuditQuery::default()).await.expect("query");
    assert_eq!(stored.len(), 300);
    for r in &stored {
        assert_eq!(
            answered.get(&r.request_id),
            Some(&r.seq),
            "{}",
            r.request_id
        );
    }
    let mut seqs: Vec<i64> = answered.into_values().collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 300, "seqs are unique");
}
