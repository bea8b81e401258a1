//! `commit_audited`: a state change and the audit record of the request making it, in one
//! transaction — both or neither, also under concurrency and when the process is killed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rampart_core::audit::{AuditQuery, AuditRecord};
use rampart_store::{Expect, Store};

use super::{assert_conflict, check, delete, put, record, Harness};

/// A record for the request `request_id`, with checks of its own.
fn audit_for(request_id: &str) -> AuditRecord {
    let mut r = record(0, 0);
    r.request_id = request_id.into();
    r.service = "iam".into();
    r.operation = "CreateUser".into();
    r.checks = vec![
        check(
            "iam:CreateUser",
            &format!("arn:aws:iam::000000000000:user/{request_id}"),
            "allowed",
        ),
        check("iam:TagUser", "*", "implicitDeny"),
    ];
    r
}

async fn all_records(s: &dyn Store) -> Vec<AuditRecord> {
    s.query_audit(&AuditQuery::default()).await.expect("query")
}

/// The change and its record both land; versions come back as from `commit`; seqs are shared
/// with (and ordered among) `append_audit` batches; no writes still records the request.
pub async fn commit_audited_writes_change_and_record(h: &dyn Harness) {
    let s = h.open().await;
    let created = audit_for("create");
    let versions = s
        .commit_audited(
            vec![
                put("ns", "a", b"1", Expect::Absent),
                put("ns", "b", b"2", Expect::Any),
            ],
            &created,
        )
        .await
        .expect("commit_audited");
    assert_eq!(versions, vec![1, 1]);
    let item = s.get("ns", "a").await.expect("get").expect("a written");
    assert_eq!((item.value.as_slice(), item.version), (&b"1"[..], 1));
    assert!(s.get("ns", "b").await.expect("get").is_some(), "b written");

    let stored = all_records(&*s).await;
    assert_eq!(stored.len(), 1, "exactly one record: {stored:?}");
    let mut expected = created.clone();
    expected.seq = stored[0].seq;
    assert_eq!(stored[0], expected, "the record round-trips exactly");
    assert_eq!(stored[0].checks, created.checks, "with its checks");

    let appended = s.append_audit(&[record(1, 0)]).await.expect("append");
    let versions = s
        .commit_audited(
            vec![
                put("ns", "a", b"1b", Expect::Version(1)),
                delete("ns", "b", Expect::Version(1)),
            ],
            &audit_for("update"),
        )
        .await
        .expect("CAS and delete");
    assert_eq!(versions, vec![2, 0]);
    assert!(s.get("ns", "b").await.expect("get").is_none(), "b deleted");
    let versions = s
        .commit_audited(Vec::new(), &audit_for("read-only"))
        .await
        .expect("no writes");
    assert_eq!(versions, Vec::<i64>::new());

    let stored = all_records(&*s).await;
    let ids: Vec<&str> = stored.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(
        ids,
        ["create", "req-1-0", "update", "read-only"],
        "in commit order"
    );
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(stored[1].seq, appended[0]);
    let found = s
        .query_audit(&AuditQuery {
            operation: Some("CreateUser".into()),
            after_seq: Some(appended[0]),
            ..Default::default()
        })
        .await
        .expect("query");
    assert_eq!(
        found.iter().map(|r| &r.request_id[..]).collect::<Vec<_>>(),
        ["update", "read-only"]
    );
}

/// A failed expectation anywhere in the commit writes neither the change nor the record.
pub async fn failed_expect_writes_neither(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(vec![put("ns", "k", b"v", Expect::Absent)])
        .await
        .expect("seed");
    let attempts = [
        (
            vec![
                put("ns", "new", b"x", Expect::Absent),
                put("ns", "k", b"x", Expect::Absent),
            ],
            "k",
        ),
        (vec![put("ns", "k", b"x", Expect::Version(7))], "k"),
        (
            vec![
                delete("ns", "k", Expect::Version(1)),
                put("ns", "gone", b"x", Expect::Version(1)),
            ],
            "gone",
        ),
        (vec![delete("ns", "missing", Expect::Version(1))], "missing"),
    ];
    for (i, (writes, failing)) in attempts.into_iter().enumerate() {
        let result = s
            .commit_audited(writes, &audit_for(&format!("refused-{i}")))
            .await;
        assert_conflict(result, "ns", failing);
    }
    assert!(
        s.get("ns", "new").await.expect("get").is_none(),
        "no change"
    );
    assert!(
        s.get("ns", "gone").await.expect("get").is_none(),
        "no change"
    );
    let item = s.get("ns", "k").await.expect("get").expect("kept");
    assert_eq!((item.value.as_slice(), item.version), (&b"v"[..], 1));
    assert_eq!(
        all_records(&*s).await,
        Vec::new(),
        "no record of a conflict"
    );

    // The store is not left in a transaction: the next audited commit goes through.
    s.commit_audited(
        vec![put("ns", "k", b"w", Expect::Version(1))],
        &audit_for("after"),
    )
    .await
    .expect("after conflicts");
    let ids: Vec<String> = all_records(&*s)
        .await
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(ids, ["after"]);
}

/// 50 tasks on two store handles make audited commits (some multi-key, some conflicting) while
/// others append audit batches and a reader tails the trail by `after_seq`. Every committed key
/// has exactly one record with its request id, conflicts have none, each task's seqs increase
/// in the order it committed, and the tailer — which never re-reads below what it has seen —
/// misses nothing: seqs are assigned in commit order.
pub async fn concurrent_audited_commits_keep_seq_in_commit_order(h: &dyn Harness) {
    const COMMITTERS: usize = 50;
    const COMMITS: usize = 4;
    const APPENDERS: i64 = 4;
    const BATCHES: i64 = 10;
    let stores: Vec<Arc<dyn Store>> = vec![h.open().await, h.open().await];

    let done = Arc::new(AtomicBool::new(false));
    let tailer = {
        let s = Arc::clone(&stores[1]);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen: Vec<AuditRecord> = Vec::new();
            loop {
                // Read the flag first: a pass that starts after everything committed is final.
                let last_pass = done.load(Ordering::Acquire);
                let page = s
                    .query_audit(&AuditQuery {
                        after_seq: seen.last().map(|r| r.seq),
                        limit: Some(64),
                        ..Default::default()
                    })
                    .await
                    .expect("tail");
                let full = page.len() == 64;
                seen.extend(page);
                if last_pass && !full {
                    return seen;
                }
                if !full {
                    tokio::task::yield_now().await;
                }
            }
        })
    };

    let mut committers = Vec::new();
    for t in 0..COMMITTERS {
        let s = Arc::clone(&stores[t % stores.len()]);
        committers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for c in 0..COMMITS {
                let key = format!("k-{t}-{c}");
                let mut writes = vec![put("ns", &key, b"v", Expect::Absent)];
                if c % 2 == 1 {
                    // Multi-key: also bumps a per-task counter.
                    writes.push(put("count", &format!("{t}"), b"n", Expect::Any));
                }
                s.commit_audited(writes, &audit_for(&format!("req-{key}")))
                    .await
                    .expect("commit_audited");
                committed.push(key.clone());
                // Creating the same key again conflicts and must leave no record.
                let again = s
                    .commit_audited(
                        vec![put("ns", &key, b"x", Expect::Absent)],
                        &audit_for(&format!("conflict-{key}")),
                    )
                    .await;
                assert_conflict(again, "ns", &key);
            }
            committed
        }));
    }
    let mut appenders = Vec::new();
    for a in 0..APPENDERS {
        let s = Arc::clone(&stores[(a % 2) as usize]);
        appenders.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for b in 0..BATCHES {
                let batch: Vec<_> = (0..5)
                    .map(|i| {
                        let mut r = record(a, b * 5 + i);
                        r.request_id = format!("batch-{a}-{b}-{i}");
                        r
                    })
                    .collect();
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

    let mut keys = Vec::new();
    for task in committers {
        keys.push(task.await.expect("committer"));
    }
    let mut appended = Vec::new();
    for task in appenders {
        let seqs = task.await.expect("appender");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one appender's seqs increase"
        );
        appended.extend(seqs);
    }
    done.store(true, Ordering::Release);
    let tailed = tailer.await.expect("tailer");

    let stored = all_records(&*stores[0]).await;
    assert!(
        stored.windows(2).all(|w| w[0].seq < w[1].seq),
        "the trail is in strictly increasing seq order"
    );
    let tailed: BTreeSet<i64> = tailed.iter().map(|r| r.seq).collect();
    let missed: Vec<i64> = stored
        .iter()
        .map(|r| r.seq)
        .filter(|seq| !tailed.contains(seq))
        .collect();
    assert!(
        missed.is_empty(),
        "tailing by after_seq missed records committed after a larger seq: {missed:?}"
    );
    assert_eq!(tailed.len(), stored.len(), "the tailer saw nothing else");
    let by_id: BTreeMap<&str, Vec<i64>> = stored.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r.request_id.as_str()).or_default().push(r.seq);
        m
    });
    assert_eq!(
        stored.len(),
        COMMITTERS * COMMITS + (APPENDERS * BATCHES * 5) as usize,
        "one record per audited commit and per appended record, none for conflicts"
    );
    assert!(
        !by_id.keys().any(|id| id.starts_with("conflict-")),
        "no record of a conflict"
    );
    for task_keys in &keys {
        let mut previous = 0;
        for key in task_keys {
            assert!(
                stores[1].get("ns", key).await.expect("get").is_some(),
                "{key} committed"
            );
            let seqs = &by_id[format!("req-{key}").as_str()];
            assert_eq!(seqs.len(), 1, "exactly one record for {key}");
            assert!(seqs[0] > previous, "a task's later commit has a larger seq");
            previous = seqs[0];
        }
    }
    let mut appended_stored: Vec<i64> = stored
        .iter()
        .filter(|r| r.request_id.starts_with("batch-"))
        .map(|r| r.seq)
        .collect();
    appended_stored.sort_unstable();
    appended.sort_unstable();
    assert_eq!(appended_stored, appended, "every appended record is there");
    for t in 0..COMMITTERS {
        let count = stores[0]
            .get("count", &t.to_string())
            .await
            .expect("get")
            .expect("counter");
        assert_eq!(count.version, (COMMITS / 2) as i64);
    }
}

/// Set in the child process of [`commits_audited_survive_sigkill`]: the store URL it writes to.
const CHILD_URL: &str = "RAMPART_STORE_AUDITED_CHILD_URL";

/// The child half of [`commits_audited_survive_sigkill`], run as the test `sigkill_audited_child`
/// that [`storage_suite!`](crate::storage_suite) adds to each backend; a no-op when run
/// normally. Commits key after key, each together with its record and a bump of a shared
/// counter, printing `committed N` once `commit_audited` has returned; never returns.
pub async fn sigkill_child_main() {
    use std::io::Write as _;
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let s = rampart_store::open(&url).await.expect("child open");
    // Carry on after the commits of earlier (killed) children: the counter counts them.
    let start = s
        .get("counter", "n")
        .await
        .expect("child get")
        .map_or(0, |item| item.version as u64);
    for i in start.. {
        let key = child_key(i);
        s.commit_audited(
            vec![
                put("audited", &key, b"v", Expect::Absent),
                put("counter", "n", &i.to_be_bytes(), Expect::Any),
            ],
            &audit_for(&format!("req-{key}")),
        )
        .await
        .expect("child commit_audited");
        let mut out = std::io::stdout().lock();
        writeln!(out, "committed {i}").expect("stdout");
        out.flush().expect("flush");
    }
}

fn child_key(i: u64) -> String {
    format!("k{i:08}")
}

/// A child process doing audited commits is SIGKILLed at a random moment (after 20 to 275
/// reported commits, plus 0–5 ms); on reopen, every reported commit is there and keys, records
/// and counter agree exactly — no key without its record, no record without its key. Three
/// rounds on the same database, so later rounds also reopen what a kill left behind.
pub async fn commits_audited_survive_sigkill(h: &dyn Harness) {
    let url = h.store_url();
    let mut total = 0;
    for round in 0..3 {
        let url = url.clone();
        let reported = tokio::task::spawn_blocking(move || run_and_kill_child(&url))
            .await
            .expect("child runner");
        let s = h.open().await;
        let survived = check_after_kill(&*s, total + reported).await;
        assert!(survived >= total + reported, "round {round}");
        s.close().await;
        total = survived;
    }
}

/// Runs `sigkill_audited_child` of this test binary on `url`, lets it report a random number
/// of commits, SIGKILLs it and returns how many it reported.
fn run_and_kill_child(url: &str) -> u64 {
    use std::io::BufRead;
    let random = uuid::Uuid::new_v4().as_u128();
    let target = 20 + (random % 256) as u64;
    let delay = std::time::Duration::from_micros(((random >> 64) % 5_000) as u64);
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "sigkill_audited_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    // Kept open until the child is dead: a closed pipe would kill it (by a panic on EPIPE)
    // rather than SIGKILL during the delay.
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut reported = 0;
    for line in lines.by_ref() {
        let line = line.expect("read child");
        if line.starts_with("committed ") {
            reported += 1;
            if reported >= target {
                break;
            }
        }
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL child"); // Child::kill sends SIGKILL on Unix
    let status = child.wait().expect("reap child");
    drop(lines);
    assert_eq!(reported, target, "child stopped early");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "killed by SIGKILL, not exited: {status}"
        );
    }
    reported
}

/// After a child was killed: the first `reported` commits are there, and the keys, the records
/// and the counter agree exactly — no key without its record, no record without its key,
/// nothing half-applied. Returns how many commits survived.
async fn check_after_kill(s: &dyn Store, reported: u64) -> u64 {
    let keys: BTreeSet<String> = s
        .list("audited", "", None, 1_000_000)
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let records = all_records(s).await;
    let recorded: Vec<String> = records
        .iter()
        .map(|r| {
            r.request_id
                .strip_prefix("req-")
                .expect("a child record")
                .to_owned()
        })
        .collect();
    let recorded_set: BTreeSet<String> = recorded.iter().cloned().collect();
    assert_eq!(recorded.len(), recorded_set.len(), "one record per key");
    let unrecorded: Vec<_> = keys.difference(&recorded_set).collect();
    let keyless: Vec<_> = recorded_set.difference(&keys).collect();
    assert!(
        unrecorded.is_empty(),
        "keys without a record: {unrecorded:?}"
    );
    assert!(keyless.is_empty(), "records without their key: {keyless:?}");
    for i in 0..reported {
        assert!(keys.contains(&child_key(i)), "reported commit {i} survived");
    }
    // The child commits in order, so what survived is a prefix (longer than what was
    // reported: the child ran on until the kill).
    let survived = keys.len() as u64;
    let expected: BTreeSet<String> = (0..survived).map(child_key).collect();
    assert_eq!(keys, expected, "the surviving commits are a prefix");
    let counter = s.get("counter", "n").await.expect("get").expect("counter");
    assert_eq!(counter.version as u64, survived, "the counter agrees");
    assert_eq!(counter.value, (survived - 1).to_be_bytes());
    let ids: Vec<&str> = records.iter().map(|r| r.request_id.as_str()).collect();
    let in_order: Vec<String> = (0..survived)
        .map(|i| format!("req-{}", child_key(i)))
        .collect();
    assert_eq!(ids, in_order, "seqs follow commit order");
    survived
}
