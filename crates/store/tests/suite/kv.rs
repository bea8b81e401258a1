//! The versioned key/value contract: versions, expectations, atomicity, listing.

use rampart_store::{Expect, Item};

use super::{assert_conflict, delete, put, Harness};

pub async fn get_missing_is_none(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(s.get("ns", "nothing").await.expect("get"), None);
}

pub async fn put_increments_version(h: &dyn Harness) {
    let s = h.open().await;
    for expected in 1..=3 {
        let value = format!("v{expected}");
        let versions = s
            .commit(vec![put("ns", "k", value.as_bytes(), Expect::Any)])
            .await;
        assert_eq!(versions.expect("put"), vec![expected]);
        let item = s.get("ns", "k").await.expect("get");
        assert_eq!(
            item,
            Some(Item {
                value: value.into_bytes(),
                version: expected
            })
        );
    }
}

pub async fn put_absent_conflicts_when_present(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(
        s.commit(vec![put("ns", "k", b"a", Expect::Absent)])
            .await
            .expect("create"),
        vec![1]
    );
    assert_conflict(
        s.commit(vec![put("ns", "k", b"b", Expect::Absent)]).await,
        "ns",
        "k",
    );
    let item = s.get("ns", "k").await.expect("get").expect("present");
    assert_eq!((item.value.as_slice(), item.version), (&b"a"[..], 1));
}

pub async fn put_version_conflicts(h: &dyn Harness) {
    let s = h.open().await;
    assert_conflict(
        s.commit(vec![put("ns", "k", b"x", Expect::Version(1))])
            .await,
        "ns",
        "k",
    );
    assert_eq!(
        s.get("ns", "k").await.expect("get"),
        None,
        "a failed CAS must not create"
    );
    s.commit(vec![put("ns", "k", b"1", Expect::Any)])
        .await
        .expect("create");
    assert_conflict(
        s.commit(vec![put("ns", "k", b"x", Expect::Version(2))])
            .await,
        "ns",
        "k",
    );
    assert_conflict(
        s.commit(vec![put("ns", "k", b"x", Expect::Version(0))])
            .await,
        "ns",
        "k",
    );
    let versions = s
        .commit(vec![put("ns", "k", b"2", Expect::Version(1))])
        .await;
    assert_eq!(versions.expect("CAS"), vec![2]);
    assert_conflict(
        s.commit(vec![put("ns", "k", b"x", Expect::Version(1))])
            .await,
        "ns",
        "k",
    );
    assert_eq!(
        s.get("ns", "k").await.expect("get").map(|i| i.value),
        Some(b"2".to_vec())
    );
}

pub async fn failed_expect_rolls_back_whole_commit(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(vec![
        put("ns", "existing", b"old", Expect::Any),
        put("ns", "doomed", b"d", Expect::Any),
    ])
    .await
    .expect("seed");
    let result = s
        .commit(vec![
            put("ns", "new", b"n", Expect::Absent),
            put("ns", "existing", b"changed", Expect::Version(1)),
            delete("ns", "doomed", Expect::Any),
            put("other", "k", b"x", Expect::Any),
            put("ns", "existing", b"again", Expect::Version(1)), // fails: now at 2
            put("ns", "never", b"z", Expect::Version(7)),        // would fail too, but later
        ])
        .await;
    assert_conflict(result, "ns", "existing");
    assert_eq!(s.get("ns", "new").await.expect("get"), None);
    assert_eq!(s.get("other", "k").await.expect("get"), None);
    assert_eq!(
        s.get("ns", "doomed").await.expect("get").map(|i| i.version),
        Some(1)
    );
    let existing = s
        .get("ns", "existing")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (existing.value.as_slice(), existing.version),
        (&b"old"[..], 1)
    );
    // And a commit that holds applies everything, reporting versions in order (0 for deletes).
    let versions = s
        .commit(vec![
            put("ns", "new", b"n", Expect::Absent),
            put("ns", "existing", b"changed", Expect::Version(1)),
            delete("ns", "doomed", Expect::Version(1)),
        ])
        .await
        .expect("commit");
    assert_eq!(versions, vec![1, 2, 0]);
}

pub async fn writes_in_one_commit_see_each_other(h: &dyn Harness) {
    let s = h.open().await;
    let versions = s
        .commit(vec![
            put("ns", "k", b"1", Expect::Absent),
            put("ns", "k", b"2", Expect::Version(1)),
            put("ns", "k", b"3", Expect::Any),
            delete("ns", "k", Expect::Version(3)),
            put("ns", "k", b"again", Expect::Absent),
        ])
        .await
        .expect("commit");
    assert_eq!(versions, vec![1, 2, 3, 0, 1]);
    let item = s.get("ns", "k").await.expect("get");
    assert_eq!(
        item,
        Some(Item {
            value: b"again".to_vec(),
            version: 1
        })
    );
}

pub async fn delete_honours_expect(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(
        s.commit(vec![delete("ns", "k", Expect::Any)])
            .await
            .expect("no-op"),
        vec![0]
    );
    assert_eq!(
        s.commit(vec![delete("ns", "k", Expect::Absent)])
            .await
            .expect("absent"),
        vec![0]
    );
    assert_conflict(
        s.commit(vec![delete("ns", "k", Expect::Version(1))]).await,
        "ns",
        "k",
    );

    s.commit(vec![put("ns", "k", b"v", Expect::Any)])
        .await
        .expect("put");
    s.commit(vec![put("ns", "k", b"v", Expect::Any)])
        .await
        .expect("put");
    assert_conflict(
        s.commit(vec![delete("ns", "k", Expect::Absent)]).await,
        "ns",
        "k",
    );
    assert_conflict(
        s.commit(vec![delete("ns", "k", Expect::Version(1))]).await,
        "ns",
        "k",
    );
    assert!(
        s.get("ns", "k").await.expect("get").is_some(),
        "failed deletes must not delete"
    );
    assert_eq!(
        s.commit(vec![delete("ns", "k", Expect::Version(2))])
            .await
            .expect("delete"),
        vec![0]
    );
    assert_eq!(s.get("ns", "k").await.expect("get"), None);

    // A re-created key starts over at version 1.
    s.commit(vec![put("ns", "k", b"new", Expect::Absent)])
        .await
        .expect("re-create");
    assert_eq!(
        s.get("ns", "k").await.expect("get").map(|i| i.version),
        Some(1)
    );
    s.commit(vec![delete("ns", "k", Expect::Any)])
        .await
        .expect("delete any");
    assert_eq!(s.get("ns", "k").await.expect("get"), None);
}

pub async fn namespaces_are_separate(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(vec![
        put("a", "k", b"in a", Expect::Absent),
        put("b", "k", b"in b", Expect::Absent),
    ])
    .await
    .expect("both creates hold: different namespaces");
    assert_eq!(
        s.get("a", "k").await.expect("get").map(|i| i.value),
        Some(b"in a".to_vec())
    );
    assert_eq!(
        s.get("b", "k").await.expect("get").map(|i| i.value),
        Some(b"in b".to_vec())
    );
    let in_a = s.list("a", "", None, 10).await.expect("list");
    assert_eq!(in_a.len(), 1);
    assert_eq!(s.list("ab", "", None, 10).await.expect("list"), vec![]);
}

pub async fn values_are_arbitrary_bytes(h: &dyn Harness) {
    let s = h.open().await;
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for (key, value) in [
        ("empty", Vec::new()),
        ("every-byte", every_byte),
        ("big", big),
    ] {
        s.commit(vec![put("ns", key, &value, Expect::Any)])
            .await
            .expect("put");
        assert_eq!(
            s.get("ns", key).await.expect("get").map(|i| i.value),
            Some(value)
        );
    }
    // Keys may hold any Unicode, including NUL and control characters.
    s.commit(vec![put("ns", "nul\0key\n", b"x", Expect::Any)])
        .await
        .expect("put");
    assert!(s.get("ns", "nul\0key\n").await.expect("get").is_some());
    assert_eq!(s.get("ns", "nul").await.expect("get"), None);
}

pub async fn list_paginates_by_prefix(h: &dyn Harness) {
    let s = h.open().await;
    let mut writes: Vec<_> = (0..25)
        .map(|i| {
            put(
                "ns",
                &format!("user/{i:03}"),
                format!("{i}").as_bytes(),
                Expect::Any,
            )
        })
        .collect();
    writes.push(put("ns", "user", b"bare", Expect::Any));
    writes.push(put("ns", "users/x", b"other", Expect::Any));
    writes.push(put("ns", "group/1", b"g", Expect::Any));
    s.commit(writes).await.expect("seed");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .list("ns", "user/", after.as_deref(), 10)
            .await
            .expect("list");
        assert!(page.len() <= 10);
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, item) in page {
            assert_eq!(item.version, 1);
            seen.push((key, item.value));
        }
    }
    let expected: Vec<_> = (0..25)
        .map(|i| (format!("user/{i:03}"), format!("{i}").into_bytes()))
        .collect();
    assert_eq!(seen, expected);

    let from_middle = s
        .list("ns", "user/", Some("user/019"), 100)
        .await
        .expect("list");
    let keys: Vec<_> = from_middle.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["user/020", "user/021", "user/022", "user/023", "user/024"]
    );
    // start_after need not be an existing key, nor share the prefix.
    let keys = s
        .list("ns", "user/", Some("user/0105"), 2)
        .await
        .expect("list");
    assert_eq!(
        keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["user/011", "user/012"]
    );
    assert_eq!(
        s.list("ns", "user/", Some("zzz"), 10).await.expect("list"),
        vec![]
    );
    assert_eq!(
        s.list("ns", "user/", Some("a"), 1)
            .await
            .expect("list")
            .len(),
        1
    );
}

pub async fn list_is_byte_ordered_and_literal(h: &dyn Harness) {
    let s = h.open().await;
    let keys = [
        "a",
        "a%",
        "a%b",
        "a_",
        "a_b",
        "aXb",
        "ab",
        "abc",
        "A",
        "Z",
        "b",
        "a\\",
        "a\\b",
        "é",
        "éa",
        "ê",
        "€",
        "😀",
        "\u{7f}",
        "\u{10FFFF}",
        "\u{FFFF}",
        "a\u{0}",
        "ä",
        "a b",
        "a.b",
        "a*b",
    ];
    s.commit(
        keys.iter()
            .map(|k| put("ns", k, k.as_bytes(), Expect::Any))
            .collect(),
    )
    .await
    .expect("seed");

    let mut all: Vec<&str> = keys.to_vec();
    all.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    let listed = s.list("ns", "", None, 100).await.expect("list");
    let listed: Vec<_> = listed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(listed, all, "list must be in byte order");

    for prefix in [
        "a%",
        "a_",
        "a\\",
        "a",
        "é",
        "\u{10FFFF}",
        "€",
        "a\u{0}",
        "x",
    ] {
        let expected: Vec<&str> = all
            .iter()
            .copied()
            .filter(|k| k.starts_with(prefix))
            .collect();
        let listed = s.list("ns", prefix, None, 100).await.expect("list");
        let listed: Vec<_> = listed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(listed, expected, "prefix {prefix:?} must match literally");
    }
}

pub async fn list_edge_cases(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(s.list("ns", "", None, 10).await.expect("empty ns"), vec![]);
    s.commit(vec![
        put("ns", "k1", b"1", Expect::Any),
        put("ns", "k2", b"2", Expect::Any),
    ])
    .await
    .expect("seed");
    assert_eq!(s.list("ns", "", None, 0).await.expect("limit 0"), vec![]);
    assert_eq!(
        s.list("ns", "k", None, usize::MAX)
            .await
            .expect("huge limit")
            .len(),
        2
    );
    let exact = s
        .list("ns", "k1", None, 10)
        .await
        .expect("exact key as prefix");
    assert_eq!(
        exact,
        vec![(
            "k1".to_string(),
            Item {
                value: b"1".to_vec(),
                version: 1
            }
        )]
    );
}
