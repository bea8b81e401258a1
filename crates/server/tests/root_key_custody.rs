//! Key custody at start: an older install's store (values sealed `v1` under `master.key`) is
//! adopted and migrated to `v2`; a wrong or missing root key is refused before anything is
//! written; `rampart keys rotate-root` re-wraps everything and `--retire-previous` drops the
//! old key.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rampart_core::seal::{seal_v1_for_tests, sealed_by, SealedBy};
use rampart_core::{RootKey, RootKeyring};
use rampart_iam::sessions::{self, SessionOrigin, SessionScope};
use rampart_iam::{bootstrap, BootstrapOutcome, CredentialResolver};
use rampart_kms::{parse_blob, EncryptionContext, KmsService};
use rampart_server::root_key::record;
use rampart_server::root_key::rewrap::{self, Mode};
use rampart_server::root_key::source::SourceSpec;
use rampart_server::root_key::{self, Opener};
use rampart_store::{Expect, SqliteStore, Store, Write};
use time::OffsetDateTime;

/// Everything in the store's sealed namespaces and the root-key record, for "nothing changed".
async fn snapshot(store: &dyn Store) -> BTreeMap<(String, String), (Vec<u8>, i64)> {
    let mut out = BTreeMap::new();
    let mut namespaces: Vec<&str> = rewrap::sealed_namespaces()
        .iter()
        .map(|n| n.namespace)
        .collect();
    namespaces.extend([
        record::NS,
        record::NODES_NS,
        "account",
        "iam/users",
        "kms/aliases",
    ]);
    for ns in namespaces {
        for (key, item) in store.list(ns, "", None, 10_000).await.unwrap() {
            out.insert((ns.to_owned(), key), (item.value, item.version));
        }
    }
    out
}

/// What an older install left: sealed values of every kind.
struct OldInstall {
    access_key_id: String,
    secret: String,
    session_key_id: String,
    session_secret: String,
    kms_key_id: String,
    blob: Vec<u8>,
}

/// Builds a store as an install from before root keys left it: values sealed `v1` under
/// `raw`, no root-key record, and `raw` in `<dir>/master.key`.
async fn old_install(dir: &Path, raw: &[u8; 32]) -> (Arc<dyn Store>, OldInstall) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("rampart.db")).await.unwrap());
    let keyring = Arc::new(RootKeyring::new(RootKey::from_bytes(raw).unwrap(), []));
    let BootstrapOutcome::Created {
        access_key_id,
        secret_access_key,
        account,
        ..
    } = bootstrap(store.as_ref(), &keyring).await.unwrap()
    else {
        panic!("a fresh store bootstraps")
    };
    let kms = KmsService::new(
        store.clone(),
        keyring.clone(),
        &account.account_id,
        "us-east-1",
    );
    let key = kms
        .aws_managed_key("alias/aws/secretsmanager")
        .await
        .unwrap();
    let blob = kms
        .encrypt(
            &key,
            b"sealed before the upgrade",
            &EncryptionContext::default(),
        )
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let (session, session_record) = sessions::issue(
        &keyring,
        SessionOrigin::SessionToken {
            user_name: "admin".into(),
            user_id: None,
        },
        "arn:aws:iam::000000000000:user/admin",
        now,
        now + time::Duration::hours(1),
        SessionScope::default(),
    );
    store.commit(vec![session_record.write()]).await.unwrap();

    // Re-seal every value the way v1 did (raw key, bare context), as the old code wrote them.
    let old = RootKey::from_bytes(raw).unwrap();
    for ns in rewrap::sealed_namespaces() {
        for (k, item) in store.list(ns.namespace, "", None, 1000).await.unwrap() {
            let rewritten = ns
                .visit(&item.value, &mut |slot| {
                    let plain = keyring.open(slot.sealed, slot.purpose, &slot.context)?;
                    *slot.sealed = seal_v1_for_tests(&old, slot.purpose, &slot.context, &plain);
                    Ok(true)
                })
                .unwrap()
                .unwrap();
            store
                .commit(vec![Write::Put {
                    ns: ns.namespace.into(),
                    key: k,
                    value: rewritten,
                    expect: Expect::Version(item.version),
                }])
                .await
                .unwrap();
        }
    }
    let legacy = dir.join("master.key");
    std::fs::write(&legacy, raw).unwrap();
    std::fs::set_permissions(&legacy, std::fs::Permissions::from_mode(0o600)).unwrap();
    (
        store,
        OldInstall {
            access_key_id,
            secret: secret_access_key,
            session_key_id: session.access_key_id,
            session_secret: session.secret_access_key,
            kms_key_id: key.key_id,
            blob,
        },
    )
}

fn default_source(dir: &Path) -> SourceSpec {
    SourceSpec::resolve(dir, None, None, None).unwrap()
}

async fn count(store: &dyn Store, keyring: &RootKeyring) -> rewrap::Report {
    rewrap::walk(store, keyring, &rewrap::sealed_namespaces(), Mode::Count)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_older_install_is_adopted_and_migrated_to_v2() {
    let dir = tempfile::tempdir().unwrap();
    let raw = [0x42u8; 32];
    let (store, old) = old_install(dir.path(), &raw).await;
    let ring = RootKeyring::ephemeral();
    let before = count(store.as_ref(), &ring).await;
    assert_eq!(
        before.found.keys().collect::<Vec<_>>(),
        vec!["v1"],
        "{before:?}"
    );
    assert_eq!(before.values(), 3, "admin key, session, backing key");
    assert_eq!(
        default_source(dir.path()),
        SourceSpec::File {
            path: dir.path().join("master.key"),
            adopted_legacy: true
        }
    );

    let custody = root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .unwrap();
    let id = RootKey::from_bytes(&raw).unwrap().id();
    assert_eq!(custody.keyring.sealing_key_id(), id);
    // master.key became root.key; nothing else was created.
    assert!(!dir.path().join("master.key").exists());
    assert!(dir.path().join("root.key").exists());
    let (rec, _) = record::load(store.as_ref()).await.unwrap().unwrap();
    assert_eq!(rec.root_key_id, id);
    assert!(rec.legacy_migrated);
    // No v1 value remains; every value is v2 under the adopted key and opens.
    let after = count(store.as_ref(), &custody.keyring).await;
    assert_eq!(
        after.found,
        BTreeMap::from([(id.to_string(), 3)]),
        "{after:?}"
    );
    rewrap::walk(
        store.as_ref(),
        &custody.keyring,
        &rewrap::sealed_namespaces(),
        Mode::Verify,
    )
    .await
    .unwrap();

    // Everything reads back through the services.
    let resolver = CredentialResolver::new(store.clone(), custody.keyring.clone());
    for (akid, secret) in [
        (&old.access_key_id, &old.secret),
        (&old.session_key_id, &old.session_secret),
    ] {
        let cred = resolver.resolve(akid).await.unwrap();
        let expected =
            rampart_wire::sigv4::SigningKey::derive(secret, "20260101", "us-east-1", "sts");
        // The stored secret opened to the one issued: both sign alike.
        assert_eq!(
            cred.signing_key("20260101", "us-east-1", "sts").sign(b"x"),
            expected.sign(b"x")
        );
    }
    let kms = KmsService::new(
        store.clone(),
        custody.keyring.clone(),
        "000000000000",
        "us-east-1",
    );
    let key = kms.key(&old.kms_key_id).await.unwrap().key.unwrap().record;
    let plain = kms
        .decrypt(
            &key,
            &parse_blob(&old.blob).unwrap(),
            &EncryptionContext::default(),
        )
        .unwrap();
    assert_eq!(plain.as_slice(), b"sealed before the upgrade");

    // Starting again changes nothing.
    let snap = snapshot(store.as_ref()).await;
    root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .unwrap();
    assert_eq!(snapshot(store.as_ref()).await, snap);
}

#[tokio::test]
async fn an_interrupted_migration_finishes_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let raw = [0x17u8; 32];
    let (store, _) = old_install(dir.path(), &raw).await;
    let keyring = RootKeyring::new(RootKey::from_bytes(&raw).unwrap(), []);
    let id = keyring.sealing_key_id();
    // A first start that re-sealed the access keys and died: the record says "not migrated".
    let iam_only: Vec<_> = rampart_iam::sealed_records();
    rewrap::walk(store.as_ref(), &keyring, &iam_only, Mode::MigrateLegacy(id))
        .await
        .unwrap();
    let record = record::RootKeyRecord::new(&keyring, id, false);
    store
        .commit(vec![record.write(Expect::Absent)])
        .await
        .unwrap();
    let mixed = count(store.as_ref(), &keyring).await;
    assert_eq!(mixed.found.get("v1"), Some(&1));

    root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .unwrap();
    let done = count(store.as_ref(), &keyring).await;
    assert_eq!(done.found, BTreeMap::from([(id.to_string(), 3)]));
    assert!(
        record::load(store.as_ref())
            .await
            .unwrap()
            .unwrap()
            .0
            .legacy_migrated
    );
}

#[tokio::test]
async fn a_wrong_key_for_an_older_install_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = old_install(dir.path(), &[1u8; 32]).await;
    // Another key where master.key was.
    std::fs::write(dir.path().join("master.key"), [2u8; 32]).unwrap();
    let snap = snapshot(store.as_ref()).await;
    let err = root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .err()
    .expect("a wrong key is refused")
    .to_string();
    let wrong = RootKey::from_bytes(&[2u8; 32]).unwrap().id();
    assert!(
        err.contains(&format!("the root key {wrong} does not open this store")),
        "{err}"
    );
    assert!(
        err.contains("--root-key-file / RAMPART_ROOT_KEY / --root-key-cmd"),
        "{err}"
    );
    assert_eq!(snapshot(store.as_ref()).await, snap);
    assert!(dir.path().join("master.key").exists(), "not adopted");
    assert!(!dir.path().join("root.key").exists());
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap(),
    );
    // A fresh store: the root key is created with the root-key record.
    let custody = root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .unwrap();
    let right = custody.keyring.sealing_key_id();
    bootstrap(store.as_ref(), &custody.keyring).await.unwrap();
    let mode = std::fs::metadata(dir.path().join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let snap = snapshot(store.as_ref()).await;

    // A wrong key: refused, naming both keys.
    let other = tempfile::tempdir().unwrap();
    let wrong_file = other.path().join("wrong.key");
    rampart_server::root_key::source::create_keyring_file(&wrong_file, &RootKey::generate())
        .unwrap();
    let wrong = SourceSpec::resolve(dir.path(), Some(&wrong_file), None, None).unwrap();
    let err = root_key::open(store.as_ref(), wrong, dir.path(), Opener::Serve)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(&format!("(sealed under root key {right})")),
        "{err}"
    );
    assert!(err.contains("does not open this store"), "{err}");

    // A missing key file: refused, and no key is created.
    let missing = other.path().join("absent.key");
    let source = SourceSpec::resolve(dir.path(), Some(&missing), None, None).unwrap();
    let err = root_key::open(store.as_ref(), source, dir.path(), Opener::Serve)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("no new key was created"), "{err}");
    assert!(!missing.exists());

    // A key file others may read: refused.
    std::fs::set_permissions(
        dir.path().join("root.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("chmod 600"), "{err}");
    assert_eq!(snapshot(store.as_ref()).await, snap);

    // A tampered root-key record (its canary moved to another key id) is refused too.
    std::fs::set_permissions(
        dir.path().join("root.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (mut rec, version) = record::load(store.as_ref()).await.unwrap().unwrap();
    let foreign = RootKeyring::new(RootKey::generate(), []);
    rec.canary = record::RootKeyRecord::new(&foreign, foreign.sealing_key_id(), true)
        .canary
        .replace(&foreign.sealing_key_id().to_string(), &right.to_string());
    store
        .commit(vec![rec.write(Expect::Version(version))])
        .await
        .unwrap();
    let err = root_key::open(
        store.as_ref(),
        default_source(dir.path()),
        dir.path(),
        Opener::Serve,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("does not authenticate"), "{err}");
}

fn rampart(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .env_remove("RAMPART_ROOT_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn rotate_root_re_wraps_everything_and_retire_drops_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let raw = [0x33u8; 32];
    let (store, old) = old_install(dir.path(), &raw).await;
    store.close().await;
    let data_dir = dir.path().to_str().unwrap();
    let old_id = RootKey::from_bytes(&raw).unwrap().id();

    let (ok, out) = rampart(&["keys", "rotate-root", "--data-dir", data_dir]);
    assert!(ok, "{out}");
    let keys = rampart_server::root_key::source::parse_keyring(
        &std::fs::read(dir.path().join("root.key")).unwrap(),
    )
    .unwrap();
    assert_eq!(keys.len(), 2, "new key first, old kept");
    let new_id = keys[0].id();
    assert_eq!(keys[1].id(), old_id);
    assert!(out.contains("Re-wrapped 3 sealed values"), "{out}");

    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap(),
    );
    let ring = RootKeyring::new(RootKey::from_bytes(keys[0].expose_bytes()).unwrap(), []);
    let report = count(store.as_ref(), &ring).await;
    assert_eq!(report.found, BTreeMap::from([(new_id.to_string(), 3)]));
    rewrap::walk(
        store.as_ref(),
        &ring,
        &rewrap::sealed_namespaces(),
        Mode::Verify,
    )
    .await
    .unwrap();
    let (rec, _) = record::load(store.as_ref()).await.unwrap().unwrap();
    assert_eq!(rec.root_key_id, new_id);
    assert!(rec.rotation.is_none());
    // Each step of the rotation is in the audit trail, committed with the change it made.
    let trail = store
        .query_audit(&rampart_core::AuditQuery {
            service: Some("rampart".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let steps: Vec<_> = trail.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        steps,
        ["StageRootKey", "SwitchRootKey", "FinishRootKeyRotation"]
    );
    for r in &trail {
        assert!(r
            .principal_arn
            .as_deref()
            .is_some_and(|p| p.starts_with("local-operator/")));
        let resources: Vec<_> = r.checks.iter().map(|c| c.resource.clone()).collect();
        assert_eq!(
            resources,
            [format!("root-key/{new_id}"), format!("root-key/{old_id}")]
        );
    }
    // The blob sealed before everything still decrypts under the new root key only.
    let kms = KmsService::new(store.clone(), Arc::new(ring), "000000000000", "us-east-1");
    let key = kms.key(&old.kms_key_id).await.unwrap().key.unwrap().record;
    assert!(key
        .backing_keys
        .iter()
        .all(|b| sealed_by(&b.sealed) == Ok(SealedBy::RootKey(new_id))));
    let plain = kms
        .decrypt(
            &key,
            &parse_blob(&old.blob).unwrap(),
            &EncryptionContext::default(),
        )
        .unwrap();
    assert_eq!(plain.as_slice(), b"sealed before the upgrade");
    store.close().await;

    // Retiring drops the old key from the keyring file; the old key alone no longer opens.
    let (ok, out) = rampart(&[
        "keys",
        "rotate-root",
        "--retire-previous",
        "--data-dir",
        data_dir,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("Retired root keys {old_id}")),
        "{out}"
    );
    let keys = rampart_server::root_key::source::parse_keyring(
        &std::fs::read(dir.path().join("root.key")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id()).collect::<Vec<_>>(),
        vec![new_id]
    );
    let old_file = dir.path().join("old.key");
    std::fs::write(&old_file, raw).unwrap();
    std::fs::set_permissions(&old_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, out) = rampart(&[
        "keys",
        "status",
        "--data-dir",
        data_dir,
        "--root-key-file",
        old_file.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        out.contains(&format!(
            "the root key {old_id} does not open this store (sealed under root key {new_id})"
        )),
        "{out}"
    );
    // Status with the right key: everything under the new key.
    let (ok, out) = rampart(&["keys", "status", "--json", "--data-dir", data_dir]);
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(status["root_key_id"], new_id.to_string());
    assert_eq!(
        status["sealed_values"],
        serde_json::json!({ new_id.to_string(): 3 })
    );
}
