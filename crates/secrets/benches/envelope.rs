//! Envelope encryption of secret values (`sealing::seal` / `sealing::open`): what a
//! `GetSecretValue` pays for its value beyond the request path — the KMS key's backing key
//! (opened under the root key once, then kept a few seconds: `kms/src/custody/opened.rs`, so
//! these loops measure the warm path), unwrapping the version's data key (AES-256-GCM with the
//! encryption context as AAD), then opening the value under the data key. The KMS key is the AWS-managed
//! `aws/secretsmanager`, created in a temporary SQLite store; no store I/O is measured.
//! Run: `cargo bench -p rampart-secrets --bench envelope`; figures go in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_core::RootKeyring;
use rampart_kms::KmsService;
use rampart_secrets::sealing::{self, SecretValue};
use rampart_store::{SqliteStore, Store};
use zeroize::Zeroizing;

const ARN: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:bench/db-AbCdEf";
const VERSION: &str = "a9b0f0a2-3c7e-4c41-9d7e-2f9d0e1b8c11";

fn envelope(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (kms, key) = runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("rampart.db"))
                .await
                .expect("open store"),
        );
        let root = RootKeyring::ephemeral();
        let kms = KmsService::new(store, Arc::new(root), "111122223333", "eu-west-1");
        let key = kms
            .aws_managed_key("alias/aws/secretsmanager")
            .await
            .expect("managed key");
        (kms, key)
    });

    let mut group = c.benchmark_group("envelope");
    for size in [64usize, 4096, 65536] {
        let value = SecretValue {
            bytes: Zeroizing::new(vec![b'x'; size]),
            binary: false,
        };
        let sealed = sealing::seal(&kms, &key, ARN, VERSION, &value).expect("seal");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("open {size} B"), |b| {
            b.iter(|| black_box(sealing::open(&kms, &key, ARN, VERSION, black_box(&sealed))))
        });
        group.bench_function(format!("seal {size} B"), |b| {
            b.iter(|| black_box(sealing::seal(&kms, &key, ARN, VERSION, black_box(&value))))
        });
    }
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
