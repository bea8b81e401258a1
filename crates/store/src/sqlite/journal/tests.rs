//! The journal's promises: records survive a crash and are indexed exactly once, a torn last
//! record is cut off, the file starts over, the backlog is bounded, and a process without the
//! journal still sees every answered record.

use std::path::PathBuf;
use std::sync::Arc;

use rampart_core::audit::{AuditOutcome, AuditQuery};

use super::*;
use crate::sqlite::{checkpoint, writer, JournalSettings, SqliteStore};
use crate::Store;

fn record(id: &str) -> AuditRecord {
    AuditRecord {
        seq: 0,
        time: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        request_id: id.into(),
        principal_arn: Some("arn:aws:iam::000000000000:user/alice".into()),
        access_key_id: None,
        source_ip: "127.0.0.1".into(),
        tls: false,
        user_agent: Some("test".into()),
        service: "sts".into(),
        operation: "GetCallerIdentity".into(),
        outcome: AuditOutcome::Success,
        error_code: None,
        http_status: 200,
        decision: None,
        matched_statements: vec![],
        checks: vec![],
    }
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_db() -> (Dir, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rampart-journal-{}", uuid::Uuid::new_v4()));
    let db = dir.join("t.db");
    (Dir(dir), db)
}

async fn open(db: &Path, backlog_limit: u64, start_over_at: u64) -> SqliteStore {
    SqliteStore::open_with(
        db,
        writer::QUEUE_CAPACITY,
        checkpoint::RESTART_AFTER_FRAMES,
        Some(JournalSettings {
            wait: Duration::from_secs(2),
            backlog_limit,
            start_over_at,
        }),
    )
    .await
    .expect("open")
}

async fn ids(store: &dyn Store) -> Vec<String> {
    store
        .query_audit(&AuditQuery::default())
        .await
        .expect("query")
        .into_iter()
        .map(|r| r.request_id)
        .collect()
}

fn meta_of(db: &Path) -> (i64, u64, u64) {
    let conn = Connection::open(db).unwrap();
    let m = read_meta(&conn).unwrap();
    (m.trail_id, m.generation, m.indexed_to)
}

#[test]
fn frames_round_trip_and_a_scan_stops_at_damage() {
    let mut buf = Vec::new();
    for id in ["a", "b", "c"] {
        buf.extend(encode(&record(id)).unwrap());
    }
    let (records, used, stop) = scan(&buf);
    assert_eq!(used, buf.len());
    assert_eq!(stop, Stop::End);
    assert_eq!(records, vec![record("a"), record("b"), record("c")]);

    let (records, used, stop) = scan(&buf[..buf.len() - 3]);
    assert_eq!((records.len(), stop), (2, Stop::Incomplete));
    let third = used;
    let mut damaged = buf.clone();
    damaged[third + FRAME_HEAD + 2] ^= 0x40;
    let (records, used, stop) = scan(&damaged);
    assert_eq!((records.len(), used), (2, third));
    assert!(matches!(stop, Stop::Invalid(_)), "{stop:?}");
}

/// What a server killed mid-flight leaves — records appended but not indexed, the last one torn —
/// is indexed exactly once by the next store, the torn record cut off.
#[tokio::test]
async fn records_left_in_the_journal_are_indexed_once_after_a_crash() {
    let (_dir, db) = temp_db();
    let store = open(&db, BACKLOG_LIMIT, START_OVER_AT).await;
    store.record_audit(record("indexed")).await.unwrap();
    assert_eq!(ids(&store).await, ["indexed"]);
    store.close().await;
    drop(store);

    // Append as the killed owner did: two whole records and half of a third.
    let (_, generation, indexed_to) = meta_of(&db);
    let file = OpenOptions::new().write(true).open(path_for(&db)).unwrap();
    let mut tail = Vec::new();
    tail.extend(encode(&record("left-1")).unwrap());
    tail.extend(encode(&record("left-2")).unwrap());
    let whole = tail.len() as u64;
    let torn = encode(&record("torn")).unwrap();
    tail.extend(&torn[..torn.len() / 2]);
    file.write_all_at(&tail, indexed_to).unwrap();
    drop(file);

    let store = open(&db, BACKLOG_LIMIT, START_OVER_AT).await;
    assert_eq!(ids(&store).await, ["indexed", "left-1", "left-2"]);
    let len = std::fs::metadata(path_for(&db)).unwrap().len();
    assert_eq!(len, indexed_to + whole, "the torn record is cut off");
    assert_eq!(meta_of(&db).1, generation);
    store.record_audit(record("after")).await.unwrap();
    store.close().await;
    drop(store);
    // And once more: nothing is indexed twice.
    let store = open(&db, BACKLOG_LIMIT, START_OVER_AT).await;
    assert_eq!(ids(&store).await, ["indexed", "left-1", "left-2", "after"]);
    store.close().await;
}

/// Once fully indexed past its size limit the file starts over under a new generation; a
/// crash between the table moving on and the file being cut back loses and repeats nothing.
#[tokio::test]
async fn the_journal_starts_over_and_a_crash_in_between_is_harmless() {
    let (_dir, db) = temp_db();
    let store = open(&db, BACKLOG_LIMIT, 4096).await;
    let (_, first_generation, _) = meta_of(&db);
    for i in 0..200 {
        store.record_audit(record(&format!("r{i}"))).await.unwrap();
    }
    assert_eq!(ids(&store).await.len(), 200);
    let (trail_id, generation, _) = meta_of(&db);
    assert!(generation > first_generation, "started over");
    let len = std::fs::metadata(path_for(&db)).unwrap().len();
    assert!(len < 4096 + 1024, "the file stays small: {len}");
    store.close().await;
    drop(store);

    // The table moved to the next generation; the file still holds the old, indexed one.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE audit_journal SET generation = ?1, indexed_to = ?2",
        rusqlite::params![(generation + 1) as i64, HEADER_LEN as i64],
    )
    .unwrap();
    drop(conn);
    let file = OpenOptions::new().write(true).open(path_for(&db)).unwrap();
    file.write_all_at(&header(trail_id, generation), 0).unwrap();
    file.write_all_at(&encode(&record("r-old")).unwrap(), HEADER_LEN)
        .unwrap();
    drop(file);
    let store = open(&db, BACKLOG_LIMIT, 4096).await;
    assert_eq!(
        ids(&store).await.len(),
        200,
        "an indexed generation is not indexed again"
    );
    store.close().await;
}

/// When indexing cannot keep up (here: another connection holds the write lock), records are
/// accepted until the backlog limit and refused at once beyond it; the accepted ones are indexed
/// when the lock is free.
#[tokio::test]
async fn a_full_backlog_refuses_records_at_once() {
    let (_dir, db) = temp_db();
    let store = Arc::new(open(&db, 4096, START_OVER_AT).await);
    let blocker = Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut accepted = 0;
    let refused = loop {
        match store.record_audit(record(&format!("r{accepted}"))).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "the backlog is bounded");
    };
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("backlog")),
        "{refused:?}"
    );
    assert!(accepted > 5, "{accepted}");
    blocker.execute_batch("COMMIT").unwrap();
    assert_eq!(ids(store.as_ref()).await.len(), accepted);
    store.record_audit(record("later")).await.unwrap();
    store.close().await;
}

/// A command's store on the same database (without the journal) sees every record the
/// serving store answered, even while the server has not indexed them yet; with no server
/// holding the journal, the command indexes it itself.
#[tokio::test]
async fn a_command_sees_what_the_server_answered() {
    let (_dir, db) = temp_db();
    let server = open(&db, BACKLOG_LIMIT, START_OVER_AT).await;
    let blocker = Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for i in 0..10 {
        server.record_audit(record(&format!("r{i}"))).await.unwrap();
    }
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        blocker.execute_batch("COMMIT").unwrap();
    });
    let command = SqliteStore::open_for_command(&db).await.unwrap();
    assert!(command.journal.is_none());
    assert_eq!(ids(&command).await.len(), 10, "waited for the server");
    release.join().unwrap();

    // The server goes away with records not indexed (as if killed): simulated by appending
    // to the file after it let go of the journal.
    server.close().await;
    drop(server);
    let (_, _, indexed_to) = meta_of(&db);
    let file = OpenOptions::new().write(true).open(path_for(&db)).unwrap();
    file.write_all_at(&encode(&record("orphan")).unwrap(), indexed_to)
        .unwrap();
    drop(file);
    assert_eq!(
        ids(&command).await.last().map(String::as_str),
        Some("orphan")
    );
    command.close().await;
}

/// A journal that belongs to another database is refused with a clear error, not indexed.
#[tokio::test]
async fn a_journal_of_another_database_is_refused() {
    let (_dir, db) = temp_db();
    let store = open(&db, BACKLOG_LIMIT, START_OVER_AT).await;
    store.close().await;
    drop(store);
    let (trail_id, generation, _) = meta_of(&db);
    let file = OpenOptions::new().write(true).open(path_for(&db)).unwrap();
    file.write_all_at(&header(trail_id.wrapping_add(1), generation), 0)
        .unwrap();
    drop(file);
    let err = SqliteStore::open(&db).await.expect_err("refused");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("another database")),
        "{err:?}"
    );
}
