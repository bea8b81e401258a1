//! Racing committers: optimistic concurrency must hold across tasks and store handles (which
//! stand in for separate Rampart processes), with no lost updates and no deadlock errors.

use std::sync::Arc;

use rampart_store::{Expect, Store, StoreError};

use super::{put, Harness};

/// 8 tasks × 50 read-modify-write increments with retry on conflict: every increment lands
/// exactly once, and every version is won by exactly one committer.
pub async fn concurrent_increments_lose_nothing(h: &dyn Harness) {
    const TASKS: usize = 8;
    const INCREMENTS: usize = 50;
    let stores: Vec<Arc<dyn Store>> = vec![h.open().await, h.open().await]; // two "processes"
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let s = Arc::clone(&stores[t % stores.len()]);
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for _ in 0..INCREMENTS {
                loop {
                    let current = s.get("ns", "counter").await.expect("get");
                    let (n, expect) = match current {
                        Some(item) => (decode(&item.value) + 1, Expect::Version(item.version)),
                        None => (1, Expect::Absent),
                    };
                    match s
                        .commit(vec![put("ns", "counter", &n.to_be_bytes(), expect)])
                        .await
                    {
                        Ok(versions) => {
                            won.push(versions[0]);
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
            won
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.expect("task"));
    }
    versions.sort_unstable();
    let total = (TASKS * INCREMENTS) as i64;
    assert_eq!(
        versions,
        (1..=total).collect::<Vec<_>>(),
        "each version won exactly once"
    );
    let item = stores[0]
        .get("ns", "counter")
        .await
        .expect("get")
        .expect("present");
    assert_eq!((decode(&item.value), item.version), (total as u64, total));
}

fn decode(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte counter"))
}

pub async fn concurrent_creates_have_one_winner(h: &dyn Harness) {
    let s = h.open().await;
    let mut tasks = Vec::new();
    for t in 0..16u8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.commit(vec![put("ns", "lock", &[t], Expect::Absent)])
                .await
        }));
    }
    let mut winners = Vec::new();
    for (t, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(v) => winners.push((t as u8, v)),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins");
    let item = s.get("ns", "lock").await.expect("get").expect("present");
    assert_eq!((item.value, item.version), (vec![winners[0].0], 1));
}

/// Two commits creating the same two new keys in opposite orders (which can deadlock on the
/// unique index in PostgreSQL): exactly one wins each round, the other sees a Conflict, and
/// neither surfaces an error.
pub async fn opposite_order_creates_have_one_winner(h: &dyn Harness) {
    let s = h.open().await;
    for round in 0..20 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let forward = vec![
            put("ns", &x, b"f", Expect::Absent),
            put("ns", &y, b"f", Expect::Absent),
        ];
        let backward = vec![
            put("ns", &y, b"b", Expect::Absent),
            put("ns", &x, b"b", Expect::Absent),
        ];
        let (a, b) = tokio::join!(
            tokio::spawn({
                let s = Arc::clone(&s);
                async move { s.commit(forward).await }
            }),
            tokio::spawn({
                let s = Arc::clone(&s);
                async move { s.commit(backward).await }
            })
        );
        let results = [a.expect("task"), b.expect("task")];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
            .count();
        assert_eq!((wins, conflicts), (1, 1), "round {round}: {results:?}");
        let vx = s.get("ns", &x).await.expect("get").expect("x").value;
        let vy = s.get("ns", &y).await.expect("get").expect("y").value;
        assert_eq!(vx, vy, "one commit's writes, not a mix");
    }
}

/// Multi-key commits touching the same keys in opposite orders (a deadlock recipe for naive
/// row locking) must all complete with a conserved total.
pub async fn concurrent_transfers_keep_the_total(h: &dyn Harness) {
    let s = h.open().await;
    let accounts = ["acct/a", "acct/b", "acct/c"];
    s.commit(
        accounts
            .iter()
            .map(|a| put("ns", a, &100u64.to_be_bytes(), Expect::Absent))
            .collect(),
    )
    .await
    .expect("seed");
    let mut tasks = Vec::new();
    for t in 0..6usize {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for i in 0..20usize {
                let from = accounts[(t + i) % 3];
                let to = accounts[(t + i + 1 + t % 2) % 3];
                loop {
                    let a = s.get("ns", from).await.expect("get").expect("present");
                    let b = s.get("ns", to).await.expect("get").expect("present");
                    let (va, vb) = (decode(&a.value), decode(&b.value));
                    if va == 0 {
                        break;
                    }
                    let writes = vec![
                        put(
                            "ns",
                            from,
                            &(va - 1).to_be_bytes(),
                            Expect::Version(a.version),
                        ),
                        put(
                            "ns",
                            to,
                            &(vb + 1).to_be_bytes(),
                            Expect::Version(b.version),
                        ),
                    ];
                    match s.commit(writes).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let mut total = 0;
    for a in accounts {
        total += decode(&s.get("ns", a).await.expect("get").expect("present").value);
    }
    assert_eq!(total, 300);
}
