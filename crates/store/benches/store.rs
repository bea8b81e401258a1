//! Store latency on the embedded SQLite backend (and PostgreSQL when
//! `RAMPART_BENCH_POSTGRES_URL` is set): point reads, single and batched commits, listing and
//! audit appends. Figures are recorded in `crates/store/BENCHMARKS.md`.
//!
//! Commits are durable (`synchronous=FULL`: an fsync per commit), so their figures measure the
//! disk under the temporary directory as much as the code.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rampart_core::audit::{AuditCheck, AuditOutcome, AuditRecord};
use rampart_store::{Expect, SqliteStore, Store, Write};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

fn put(key: String, expect: Expect) -> Write {
    Write::Put {
        ns: "bench".into(),
        key,
        value: vec![7; 256],
        expect,
    }
}

fn audit_record(i: usize) -> AuditRecord {
    AuditRecord {
        seq: 0,
        time: OffsetDateTime::now_utc(),
        request_id: format!("req-{i}"),
        principal_arn: Some("arn:aws:iam::000000000000:user/bench".into()),
        access_key_id: Some("AKIABENCH".into()),
        source_ip: "192.0.2.1".into(),
        tls: true,
        user_agent: Some("aws-cli/2.15".into()),
        service: "sts".into(),
        operation: "GetCallerIdentity".into(),
        outcome: AuditOutcome::Success,
        error_code: None,
        http_status: 200,
        decision: Some("allowed".into()),
        matched_statements: vec!["AllowAll".into()],
        checks: vec![AuditCheck {
            action: "sts:GetCallerIdentity".into(),
            resource: "*".into(),
            decision: "allowed".into(),
        }],
        access: None,
    }
}

/// Runs the benchmarks against one store, seeded with 10 000 keys.
fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    rt.block_on(async {
        for chunk in (0..10_000).collect::<Vec<_>>().chunks(1_000) {
            let writes = chunk
                .iter()
                .map(|i| put(format!("key/{i:05}"), Expect::Any))
                .collect();
            store.commit(writes).await.expect("seed");
        }
    });
    let mut group = c.benchmark_group(name);
    let mut i = 0usize;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7_919) % 10_000;
            rt.block_on(store.get("bench", black_box(&format!("key/{i:05}"))))
                .expect("get")
        })
    });
    group.bench_function("get_miss", |b| {
        b.iter(|| {
            rt.block_on(store.get("bench", black_box("absent")))
                .expect("get")
        })
    });
    group.bench_function("list_100", |b| {
        b.iter(|| {
            rt.block_on(store.list("bench", "key/0", Some("key/04000"), 100))
                .expect("list")
        })
    });
    group.bench_function("commit_put_any", |b| {
        b.iter(|| {
            rt.block_on(store.commit(vec![put("hot".into(), Expect::Any)]))
                .expect("commit")
        })
    });
    group.bench_function("commit_put_cas", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v = store
                    .get("bench", "cas")
                    .await
                    .expect("get")
                    .map_or(0, |item| item.version);
                let expect = if v == 0 {
                    Expect::Absent
                } else {
                    Expect::Version(v)
                };
                store
                    .commit(vec![put("cas".into(), expect)])
                    .await
                    .expect("commit")
            })
        })
    });
    group.throughput(Throughput::Elements(10));
    group.bench_function("commit_10_puts", |b| {
        b.iter(|| {
            let writes = (0..10)
                .map(|k| put(format!("batch/{k}"), Expect::Any))
                .collect();
            rt.block_on(store.commit(writes)).expect("commit")
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("append_audit_100", |b| {
        b.iter_batched(
            || (0..100).map(audit_record).collect::<Vec<_>>(),
            |records| rt.block_on(store.append_audit(&records)).expect("append"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
    rt.block_on(store.close());
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let base = std::env::var_os("RAMPART_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("rampart-store-bench-{}", std::process::id()));
    let store = rt
        .block_on(SqliteStore::open(&dir.join("bench.db")))
        .expect("open SQLite");
    bench_store(c, &rt, "sqlite", Arc::new(store));
    let _ = std::fs::remove_dir_all(&dir);

    if let Ok(url) = std::env::var("RAMPART_BENCH_POSTGRES_URL") {
        let schema = format!("rampart_bench_{}", std::process::id());
        let store = rt
            .block_on(rampart_store::PostgresStore::connect_in_schema(
                &url, &schema,
            ))
            .expect("connect PostgreSQL");
        bench_store(c, &rt, "postgres", Arc::new(store));
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop bench schema");
        });
    }
}

criterion_group!(store, benches);
criterion_main!(store);
