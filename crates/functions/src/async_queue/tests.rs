//! The queue over a real (SQLite) store: events are found when due and only then, one of two
//! nodes takes an event, a lease that runs out lets another take it, a node that lost its
//! lease cannot finish the event, and payloads are sealed at rest.

use std::sync::Arc;

use rampart_core::RootKeyring;
use rampart_kms::KmsService;
use rampart_store::{SqliteStore, Store};
use time::{Duration, OffsetDateTime};

use super::event::{self, QueuedEvent, LEASE};
use super::AsyncQueue;
use crate::records::ns;

async fn queue(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Arc<KmsService>) {
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
    (store, kms)
}

fn node(store: &Arc<dyn Store>, kms: &Arc<KmsService>) -> AsyncQueue {
    AsyncQueue::new(
        store.clone(),
        kms.clone(),
        std::time::Duration::from_secs(60),
    )
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
}

async fn enqueue(
    q: &AsyncQueue,
    store: &Arc<dyn Store>,
    id: &str,
    payload: &[u8],
    now: OffsetDateTime,
) {
    let writes = q.enqueue_writes("f", id, payload, now).await.unwrap();
    store.commit(writes).await.unwrap();
}

#[tokio::test]
async fn one_of_two_nodes_takes_a_due_event_and_a_lapsed_lease_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, kms) = queue(&dir).await;
    let (a, b) = (node(&store, &kms), node(&store, &kms));
    enqueue(&a, &store, "e1", b"{\"n\":1}", at(0)).await;

    // Both nodes see it due; only the first move wins.
    let seen_a = a.due(at(0), 10).await.unwrap();
    let seen_b = b.due(at(0), 10).await.unwrap();
    assert_eq!((seen_a.len(), seen_b.len()), (1, 1));
    let (next, until) = seen_a[0].event.taken(a.holder(), at(0));
    let taken = a
        .move_to(&seen_a[0], next, until)
        .await
        .unwrap()
        .expect("a takes it");
    let (next, until) = seen_b[0].event.taken(b.holder(), at(0));
    assert!(
        b.move_to(&seen_b[0], next, until).await.unwrap().is_none(),
        "b lost the race"
    );

    // Leased: not due until the lease runs out.
    assert!(b.due(at(1), 10).await.unwrap().is_empty());
    let lapsed = b.due(at(0) + LEASE, 10).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!(lapsed[0].event.invokes, 1);
    let (next, until) = lapsed[0].event.taken(b.holder(), at(0) + LEASE);
    let retaken = b
        .move_to(&lapsed[0], next, until)
        .await
        .unwrap()
        .expect("b takes it");
    assert_eq!(retaken.event.invokes, 2, "the lapsed attempt counts");

    // a, which lost its lease, can neither renew nor finish the event; b finishes it.
    let (renewed, until) = taken.event.renewed(at(3));
    assert!(a.move_to(&taken, renewed, until).await.unwrap().is_none());
    assert!(store
        .commit(AsyncQueue::finish_writes(&taken))
        .await
        .is_err());
    assert!(
        a.payload(&taken.event).await.unwrap().is_some(),
        "the payload stays with the event"
    );
    store
        .commit(AsyncQueue::finish_writes(&retaken))
        .await
        .unwrap();
    assert!(a.due(at(1000), 10).await.unwrap().is_empty());
    assert!(a.payload(&retaken.event).await.unwrap().is_none());
}

#[tokio::test]
async fn events_come_due_in_order_and_only_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let (store, kms) = queue(&dir).await;
    let q = node(&store, &kms);
    for (i, id) in ["e1", "e2", "e3"].iter().enumerate() {
        enqueue(&q, &store, id, b"{}", at(i as i64)).await;
    }
    let due: Vec<String> = q
        .due(at(1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.event.id)
        .collect();
    assert_eq!(due, ["e1", "e2"]);
    assert_eq!(q.due(at(5), 1).await.unwrap().len(), 1, "the limit holds");
    // e1 fails and waits for its retry: e2 and e3 come first.
    let held = q.due(at(5), 1).await.unwrap().remove(0);
    let (taken, until) = held.event.taken(q.holder(), at(5));
    let taken = q.move_to(&held, taken, until).await.unwrap().unwrap();
    let event::Next::Again(back, retry_at) = event::after(
        &taken.event,
        event::Outcome::FunctionError,
        at(6),
        2,
        Duration::seconds(60),
    ) else {
        panic!("retried")
    };
    q.move_to(&taken, back, retry_at).await.unwrap().unwrap();
    let due: Vec<String> = q
        .due(at(10), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.event.id)
        .collect();
    assert_eq!(due, ["e2", "e3"]);
    let due: Vec<String> = q
        .due(at(66), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.event.id)
        .collect();
    assert_eq!(due, ["e2", "e3", "e1"]);
}

#[tokio::test]
async fn payloads_are_sealed_at_rest_and_bound_to_their_event() {
    let dir = tempfile::tempdir().unwrap();
    let (store, kms) = queue(&dir).await;
    let q = node(&store, &kms);
    // As large as an asynchronous payload may be: past what KMS seals directly.
    let secret = format!(
        "{{\"password\":\"hunter2-very-secret\",\"pad\":\"{}\"}}",
        "x".repeat(super::MAX_ASYNC_PAYLOAD - 50)
    );
    let secret = secret.as_bytes();
    enqueue(&q, &store, "e1", secret, at(0)).await;
    enqueue(&q, &store, "e2", b"{}", at(0)).await;
    let stored = store
        .get(ns::ASYNC_PAYLOADS, "e1")
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(
        !stored.windows(6).any(|w| w == b"hunter"),
        "no plaintext in the store"
    );
    let held = q.due(at(0), 10).await.unwrap();
    assert_eq!(
        q.payload(&held[0].event).await.unwrap().unwrap().as_slice(),
        secret
    );
    // e1's blob copied onto e2 does not open as e2's.
    store
        .commit(vec![rampart_store::Write::Put {
            ns: ns::ASYNC_PAYLOADS.into(),
            key: "e2".into(),
            value: stored,
            expect: rampart_store::Expect::Any,
        }])
        .await
        .unwrap();
    assert!(q.payload(&held[1].event).await.is_err());
    let mut other_function: QueuedEvent = held[0].event.clone();
    other_function.function = "g".into();
    assert!(q.payload(&other_function).await.is_err());
    // Truncated or garbled bytes are refused, never a panic.
    let stored = store
        .get(ns::ASYNC_PAYLOADS, "e1")
        .await
        .unwrap()
        .unwrap()
        .value;
    for cut in [0, 1, 2, 3, 40, 200, stored.len() - 1] {
        assert!(super::payload::open(&kms, "f", "e1", &stored[..cut])
            .await
            .is_err());
    }
    let mut flipped = stored.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(super::payload::open(&kms, "f", "e1", &flipped)
        .await
        .is_err());
}
