//! Functions' persisted logs against a real SQLite store and KMS: an environment's output
//! framed and cut into events, buffered and stored in sealed batches, read back since a time,
//! the buffer's bound, the retention sweep and a deleted function's log — and nothing a
//! function printed readable in the database files.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::RootKeyring;
use rampart_functions::environment::logs::LogCapture;
use rampart_functions::logs::batch;
use rampart_functions::logs::read::LogCursor;
use rampart_functions::logs::retention;
use rampart_functions::logs::shipper::{MAX_BUFFER_BYTES, MAX_EVENT_BYTES};
use rampart_functions::logs::{framing, ns, unix_micros, LogEvent, LogShipper};
use rampart_kms::KmsService;
use rampart_store::{Expect, SqliteStore, Store, Write};
use std::io::Write as _;
use time::OffsetDateTime;

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    kms: Arc<KmsService>,
    shipper: Arc<LogShipper>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap(),
    );
    let kms = Arc::new(KmsService::new(
        store.clone(),
        Arc::new(RootKeyring::ephemeral()),
        "123456789012",
        "us-east-1",
    ));
    let shipper = LogShipper::new(store.clone(), kms.clone());
    Fixture {
        dir,
        store,
        kms,
        shipper,
    }
}

async fn read_all(f: &Fixture, function: &str, since_us: i64) -> Vec<LogEvent> {
    let poll = LogCursor::new(function, since_us)
        .poll(f.store.as_ref(), &f.kms)
        .await
        .unwrap();
    assert!(poll.unreadable.is_empty(), "{:?}", poll.unreadable);
    poll.events
}

fn messages(events: &[LogEvent]) -> Vec<&str> {
    events.iter().map(|e| e.message.as_str()).collect()
}

#[tokio::test]
async fn an_invocation_is_framed_and_cut_into_lines() {
    let f = fixture().await;
    let (sender, receiver) = tokio::net::unix::pipe::pipe().unwrap();
    let stream = f.shipper.stream("fn-a", "2024/05/01/[$LATEST]aaaa");
    let capture = LogCapture::new(receiver, Some(stream));
    let mut out = sender.into_blocking_fd().map(std::fs::File::from).unwrap();
    let id = "0b1f3c2e-0000-4000-8000-000000000001";

    capture.platform_line(&framing::start(id));
    out.write_all(b"hello from the handler\nsecond line\r\nunfinished")
        .unwrap();
    capture.platform_line(&framing::end(id));
    let report = framing::Report {
        request_id: id,
        duration: Duration::from_millis(3),
        init: None,
        memory_size_mb: 128,
        max_memory_used_mb: 20,
    };
    capture.platform_line(&report.line());
    // The tail answers the same lines.
    let tail = String::from_utf8(capture.tail()).unwrap();
    assert!(tail.starts_with(&format!(
        "START RequestId: {id} Version: $LATEST\nhello from the handler\n"
    )));
    assert!(tail.ends_with("MB\t\n"), "{tail:?}");

    f.shipper.flush().await.unwrap();
    let events = read_all(&f, "fn-a", 0).await;
    assert_eq!(
        messages(&events),
        vec![
            framing::start(id).as_str(),
            "hello from the handler",
            "second line\r",
            "unfinished",
            framing::end(id).as_str(),
            report.line().as_str(),
        ]
    );
    assert!(events
        .iter()
        .all(|e| &*e.stream == "2024/05/01/[$LATEST]aaaa"));
    assert!(events.windows(2).all(|w| w[0].time_us <= w[1].time_us));
    // Another function's log is its own.
    assert!(read_all(&f, "fn-a-other", 0).await.is_empty());
    assert!(read_all(&f, "fn", 0).await.is_empty());

    // A line longer than an event (and than the pipe) arrives in pieces, nothing lost, with
    // the pipe read beside the writer as an environment's is.
    let pump = tokio::spawn(capture.clone().pump());
    let long = "x".repeat(MAX_EVENT_BYTES + 10);
    let written = long.clone();
    tokio::task::spawn_blocking(move || {
        out.write_all(written.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    })
    .await
    .unwrap();
    // The writer is closed: the pump ends once it has read everything.
    pump.await.unwrap();
    capture.platform_line("after");
    f.shipper.flush().await.unwrap();
    let since = events.last().unwrap().time_us + 1;
    let later = read_all(&f, "fn-a", since).await;
    let joined: String = later
        .iter()
        .filter(|e| e.message != "after")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(joined, long);
    assert!(later.iter().all(|e| e.message.len() <= MAX_EVENT_BYTES));
    assert_eq!(later.last().unwrap().message, "after");
}

#[tokio::test]
async fn since_and_follow_read_only_newer_events() {
    let f = fixture().await;
    let stream = f.shipper.stream("fn-b", "s1");
    stream.push("early");
    f.shipper.flush().await.unwrap();
    // The first flush made the AWS-managed Lambda key, audited as Lambda's own doing.
    let trail = f
        .store
        .query_audit(&rampart_core::AuditQuery {
            service: Some("kms".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].operation, "CreateKey");
    assert_eq!(
        trail[0].principal_arn.as_deref(),
        Some("lambda.amazonaws.com")
    );
    let mut cursor = LogCursor::new("fn-b", 0);
    let first = cursor.poll(f.store.as_ref(), &f.kms).await.unwrap();
    assert_eq!(messages(&first.events), vec!["early"]);
    let boundary = first.events[0].time_us + 1;
    tokio::time::sleep(Duration::from_millis(2)).await;
    stream.push("late");
    f.shipper.flush().await.unwrap();
    // The cursor answers only what it has not answered.
    let next = cursor.poll(f.store.as_ref(), &f.kms).await.unwrap();
    assert_eq!(messages(&next.events), vec!["late"]);
    assert!(cursor
        .poll(f.store.as_ref(), &f.kms)
        .await
        .unwrap()
        .events
        .is_empty());
    // --since: events at or after the time only.
    assert_eq!(
        messages(&read_all(&f, "fn-b", boundary).await),
        vec!["late"]
    );
}

#[tokio::test]
async fn a_full_buffer_drops_lines_and_says_so() {
    let f = fixture().await;
    let stream = f.shipper.stream("fn-c", "s1");
    let line = "y".repeat(64 * 1024);
    let fits = MAX_BUFFER_BYTES / (line.len() + 48);
    for _ in 0..fits + 5 {
        stream.push(&line);
    }
    assert_eq!(f.shipper.dropped(), 5);
    f.shipper.flush().await.unwrap();
    let events = read_all(&f, "fn-c", 0).await;
    assert_eq!(events.len(), fits + 1);
    assert_eq!(
        events.last().unwrap().message,
        "RAMPART Dropped 5 log lines: this node's log buffer was full"
    );
    // Flushed, the buffer takes lines again.
    stream.push("again");
    f.shipper.flush().await.unwrap();
    assert_eq!(f.shipper.dropped(), 5);
}

/// A batch of `function` whose one event is at `at`, sealed as the shipper seals.
async fn put_batch(f: &Fixture, function: &str, at: OffsetDateTime, message: &str) {
    let key = f.kms.aws_managed_key("alias/aws/lambda").await.unwrap();
    let t = unix_micros(at);
    let batch_key = batch::key(function, t, &uuid::Uuid::new_v4().simple().to_string());
    let event = LogEvent {
        time_us: t,
        stream: "s".into(),
        message: message.into(),
    };
    let stored = batch::seal(&f.kms, &key, &batch_key, &[event]).unwrap();
    f.store
        .commit(vec![Write::Put {
            ns: ns::EVENTS.into(),
            key: batch_key,
            value: serde_json::to_vec(&stored).unwrap(),
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sweep_keeps_each_function_its_retention() {
    let f = fixture().await;
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    for function in ["fn-d", "fn-e", "fn-f"] {
        put_batch(&f, function, now - day * 10, "ten days ago").await;
        put_batch(&f, function, now - day * 3, "three days ago").await;
        put_batch(&f, function, now, "now").await;
    }
    // fn-e keeps one day, fn-f thirty; the others the server's default of seven.
    f.store
        .commit(vec![
            retention::retention_write("fn-e", Some(1)),
            retention::retention_write("fn-f", Some(30)),
            retention::retention_write("fn-d", Some(2)),
            retention::retention_write("fn-d", None),
        ])
        .await
        .unwrap();
    let report = retention::sweep(f.store.as_ref(), now, retention::DEFAULT_RETENTION)
        .await
        .unwrap();
    assert_eq!(report.expired, 3);
    assert_eq!(
        messages(&read_all(&f, "fn-d", 0).await),
        vec!["three days ago", "now"]
    );
    assert_eq!(messages(&read_all(&f, "fn-e", 0).await), vec!["now"]);
    assert_eq!(
        messages(&read_all(&f, "fn-f", 0).await),
        vec!["ten days ago", "three days ago", "now"]
    );
    // Nothing more to do.
    let again = retention::sweep(f.store.as_ref(), now, retention::DEFAULT_RETENTION)
        .await
        .unwrap();
    assert_eq!(again, retention::SweepReport::default());
}

#[tokio::test]
async fn a_deleted_function_loses_its_log_but_not_its_namesakes() {
    let f = fixture().await;
    let now = OffsetDateTime::now_utc();
    put_batch(&f, "fn-g", now - time::Duration::minutes(5), "old life").await;
    put_batch(
        &f,
        "fn-g",
        now - time::Duration::seconds(1),
        "old life, last words",
    )
    .await;
    put_batch(&f, "fn-gg", now - time::Duration::minutes(5), "a neighbour").await;
    f.store
        .commit(vec![retention::forget_write("fn-g", now)])
        .await
        .unwrap();
    // Created again under the name after the deletion.
    put_batch(&f, "fn-g", now + time::Duration::seconds(1), "new life").await;
    assert_eq!(
        retention::forget_deleted(f.store.as_ref()).await.unwrap(),
        2
    );
    assert_eq!(messages(&read_all(&f, "fn-g", 0).await), vec!["new life"]);
    assert_eq!(
        messages(&read_all(&f, "fn-gg", 0).await),
        vec!["a neighbour"]
    );
    // The marker is gone once done.
    assert!(f
        .store
        .list(ns::DELETIONS, "", None, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_batch_opens_only_under_its_own_key() {
    let f = fixture().await;
    f.shipper.stream("fn-h", "s").push("mine");
    f.shipper.flush().await.unwrap();
    let (key, item) = f
        .store
        .list(ns::EVENTS, "fn-h/", None, 1)
        .await
        .unwrap()
        .remove(0);
    // The same sealed value under another function's key does not open.
    let moved = key.replacen("fn-h/", "fn-i/", 1);
    f.store
        .commit(vec![Write::Put {
            ns: ns::EVENTS.into(),
            key: moved,
            value: item.value,
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
    let poll = LogCursor::new("fn-i", 0)
        .poll(f.store.as_ref(), &f.kms)
        .await
        .unwrap();
    assert!(poll.events.is_empty());
    assert_eq!(poll.unreadable.len(), 1);
}

#[tokio::test]
async fn printed_secrets_are_not_in_the_database_files() {
    let f = fixture().await;
    let secret = format!("SECRET-{}", uuid::Uuid::new_v4().simple());
    let stream = f.shipper.stream("fn-j", "s");
    for _ in 0..50 {
        stream.push(&format!("the password is {secret}"));
    }
    f.shipper.flush().await.unwrap();
    assert_eq!(read_all(&f, "fn-j", 0).await.len(), 50);
    f.store.close().await;
    let mut scanned = 0;
    for entry in std::fs::read_dir(f.dir.path()).unwrap().flatten() {
        let path = entry.path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
    assert!(scanned > 0);
}
