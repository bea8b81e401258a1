use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;

use super::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[test]
fn v2_round_trip_names_its_key() {
    let key = RootKey::generate();
    let sealed = key.seal(
        SealPurpose::AccessKeySecret,
        "AKIAEXAMPLE",
        b"wJalrXUtnFEMI",
    );
    assert!(sealed.starts_with(&format!("v2:{}:", key.id())), "{sealed}");
    assert!(!sealed.contains("wJalr"));
    assert_eq!(sealed_by(&sealed), Ok(SealedBy::RootKey(key.id())));
    let plain = key
        .open(&sealed, SealPurpose::AccessKeySecret, "AKIAEXAMPLE")
        .unwrap();
    assert_eq!(plain.as_slice(), b"wJalrXUtnFEMI");
    // Fresh nonces: two seals differ.
    assert_ne!(
        sealed,
        key.seal(
            SealPurpose::AccessKeySecret,
            "AKIAEXAMPLE",
            b"wJalrXUtnFEMI"
        )
    );
    // An empty plaintext is a value too.
    let empty = key.seal(SealPurpose::KmsBackingKey, "k:1", b"");
    assert!(key
        .open(&empty, SealPurpose::KmsBackingKey, "k:1")
        .unwrap()
        .is_empty());
}

#[test]
fn the_key_id_is_a_stable_fingerprint_not_the_key() {
    let raw = [7u8; 32];
    let a = RootKey::from_bytes(&raw).unwrap();
    let b = RootKey::from_bytes(&raw).unwrap();
    assert_eq!(a.id(), b.id());
    assert_ne!(a.id(), RootKey::from_bytes(&[8u8; 32]).unwrap().id());
    let id = a.id().to_string();
    assert_eq!(id.len(), 16);
    assert_eq!(id.parse::<RootKeyId>().unwrap(), a.id());
    assert!(!hex::encode(raw).contains(&id));
    // The id is not the key's plain SHA-256 either (derived under a label).
    let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &raw);
    assert!(!hex::encode(sha.as_ref()).starts_with(&id));
    assert_eq!(serde_json::to_string(&a.id()).unwrap(), format!("\"{id}\""));
    for bad in ["", "zz", "0123456789abcdeF", "0123456789abcdef00"] {
        assert!(bad.parse::<RootKeyId>().is_err(), "{bad}");
    }
    assert!(matches!(
        RootKey::from_bytes(&[0u8; 31]),
        Err(SealError::BadKeyLength)
    ));
}

#[test]
fn a_value_opens_only_for_its_purpose_and_context() {
    let key = RootKey::generate();
    let sealed = key.seal(SealPurpose::KmsBackingKey, "key-1:1", b"material");
    for (purpose, context) in [
        (SealPurpose::AccessKeySecret, "key-1:1"),
        (SealPurpose::RootKeyCanary, "key-1:1"),
        (SealPurpose::KmsBackingKey, "key-1:2"),
        (SealPurpose::KmsBackingKey, "key-2:1"),
        (SealPurpose::KmsBackingKey, ""),
    ] {
        assert_eq!(
            key.open(&sealed, purpose, context),
            Err(SealError::Unauthentic),
            "{purpose:?} {context}"
        );
    }
}

#[test]
fn another_key_does_not_open_it() {
    let key = RootKey::generate();
    let other = RootKey::generate();
    let sealed = key.seal(SealPurpose::AccessKeySecret, "AKIA1", b"s");
    assert_eq!(
        other.open(&sealed, SealPurpose::AccessKeySecret, "AKIA1"),
        Err(SealError::UnknownRootKey(key.id()))
    );
    // Relabelled with the other key's id: it names that key, which does not authenticate it.
    let relabelled = sealed.replace(&key.id().to_string(), &other.id().to_string());
    assert_eq!(
        other.open(&relabelled, SealPurpose::AccessKeySecret, "AKIA1"),
        Err(SealError::Unauthentic)
    );
    let ring = RootKeyring::new(other, []);
    assert_eq!(
        ring.open(&sealed, SealPurpose::AccessKeySecret, "AKIA1"),
        Err(SealError::UnknownRootKey(key.id()))
    );
}

#[test]
fn tampering_anywhere_is_detected() {
    let key = RootKey::generate();
    let sealed = key.seal(SealPurpose::AccessKeySecret, "AKIA1", b"secret value");
    let (head, b64) = sealed.rsplit_once(':').unwrap();
    let raw = B64.decode(b64).unwrap();
    for i in 0..raw.len() {
        let mut flipped = raw.clone();
        flipped[i] ^= 0x80;
        let value = format!("{head}:{}", B64.encode(&flipped));
        assert_eq!(
            key.open(&value, SealPurpose::AccessKeySecret, "AKIA1"),
            Err(SealError::Unauthentic),
            "flip at {i}"
        );
    }
    for len in 0..raw.len() {
        let value = format!("{head}:{}", B64.encode(&raw[..len]));
        assert!(key
            .open(&value, SealPurpose::AccessKeySecret, "AKIA1")
            .is_err());
    }
    for garbage in [
        "",
        "v2:",
        "v2::",
        "v2:nothex:AAAA",
        &format!("v2:{}:not base64!", key.id()),
        &format!("v2:{}", key.id()),
        "v3:AAAA",
        "plain",
        "v1:",
        "v1:%%%",
    ] {
        assert!(
            key.open(garbage, SealPurpose::AccessKeySecret, "AKIA1")
                .is_err(),
            "{garbage}"
        );
        let _ = sealed_by(garbage);
    }
}

#[test]
fn legacy_v1_values_still_open() {
    let key = RootKey::generate();
    let secret = seal_v1_for_tests(&key, SealPurpose::AccessKeySecret, "AKIAOLD", b"old");
    assert!(secret.starts_with("v1:"));
    assert_eq!(sealed_by(&secret), Ok(SealedBy::LegacyV1));
    assert_eq!(
        key.open(&secret, SealPurpose::AccessKeySecret, "AKIAOLD")
            .unwrap()
            .as_slice(),
        b"old"
    );
    // v1 bound the bare context; still bound to it, and not to another purpose.
    assert!(key
        .open(&secret, SealPurpose::AccessKeySecret, "AKIAOTHER")
        .is_err());
    assert!(key
        .open(&secret, SealPurpose::KmsBackingKey, "AKIAOLD")
        .is_err());
    // A backing key sealed the way KMS sealed it before v2.
    let backing = seal_v1_for_tests(&key, SealPurpose::KmsBackingKey, "k:3", &[9; 32]);
    let ring = RootKeyring::new(
        RootKey::generate(),
        [RootKey::from_bytes(key.expose_bytes()).unwrap()],
    );
    assert_eq!(
        ring.open(&backing, SealPurpose::KmsBackingKey, "k:3")
            .unwrap()
            .as_slice(),
        &[9; 32]
    );
    // Purposes born after v1 never open a v1 value.
    assert!(key
        .open(&secret, SealPurpose::RootKeyCanary, "AKIAOLD")
        .is_err());
    // A ring without the old key cannot open it.
    assert_eq!(
        RootKeyring::ephemeral().open(&secret, SealPurpose::AccessKeySecret, "AKIAOLD"),
        Err(SealError::Unauthentic)
    );
}

#[test]
fn a_keyring_seals_under_one_key_and_opens_under_all() {
    let (old, new) = (RootKey::generate(), RootKey::generate());
    let (old_id, new_id) = (old.id(), new.id());
    let old_value = old.seal(SealPurpose::AccessKeySecret, "A", b"1");
    let ring = RootKeyring::new(old, [new]);
    assert_eq!(ring.sealing_key_id(), old_id);
    assert_eq!(ring.key_ids(), vec![old_id, new_id]);
    ring.set_sealing(new_id).unwrap();
    assert_eq!(ring.key_ids(), vec![new_id, old_id]);
    let new_value = ring.seal(SealPurpose::AccessKeySecret, "A", b"2");
    assert_eq!(sealed_by(&new_value), Ok(SealedBy::RootKey(new_id)));
    assert_eq!(
        ring.open(&old_value, SealPurpose::AccessKeySecret, "A")
            .unwrap()
            .as_slice(),
        b"1"
    );
    assert_eq!(
        ring.open(&new_value, SealPurpose::AccessKeySecret, "A")
            .unwrap()
            .as_slice(),
        b"2"
    );
    let unknown = RootKey::generate().id();
    assert_eq!(
        ring.set_sealing(unknown),
        Err(SealError::UnknownRootKey(unknown))
    );
    assert!(ring
        .seal_under(unknown, SealPurpose::AccessKeySecret, "A", b"x")
        .is_err());
}

/// A key source whose keys a test changes, counting its reads.
struct Switchable {
    keys: Mutex<Vec<[u8; 32]>>,
    reads: Arc<AtomicUsize>,
}

impl KeySource for Switchable {
    fn load(&self) -> Result<Vec<RootKey>, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .keys
            .lock()
            .unwrap()
            .iter()
            .map(|raw| RootKey::from_bytes(raw).unwrap())
            .collect())
    }

    fn describe(&self) -> String {
        "a test source".into()
    }
}

#[test]
fn a_value_under_an_unknown_key_re_reads_the_source_once() {
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let reads = Arc::new(AtomicUsize::new(0));
    let source = Arc::new(Switchable {
        keys: Mutex::new(vec![old]),
        reads: reads.clone(),
    });
    struct Shared(Arc<Switchable>);
    impl KeySource for Shared {
        fn load(&self) -> Result<Vec<RootKey>, String> {
            self.0.load()
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    let ring = RootKeyring::new(RootKey::from_bytes(&old).unwrap(), [])
        .with_source(Box::new(Shared(source.clone())));
    let rotated = RootKey::from_bytes(&new).unwrap();
    let value = rotated.seal(SealPurpose::AccessKeySecret, "A", b"after rotation");

    // The source does not have it yet: one re-read, then failures without re-reading.
    for _ in 0..5 {
        assert_eq!(
            ring.open(&value, SealPurpose::AccessKeySecret, "A"),
            Err(SealError::UnknownRootKey(rotated.id()))
        );
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1);

    // The source gets the new key; after the rate limit the next miss picks it up.
    *source.keys.lock().unwrap() = vec![new, old];
    std::thread::sleep(super::keyring::RELOAD_INTERVAL_FOR_TESTS);
    assert_eq!(
        ring.open(&value, SealPurpose::AccessKeySecret, "A")
            .unwrap()
            .as_slice(),
        b"after rotation"
    );
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    // Known keys never touch the source.
    for _ in 0..5 {
        ring.open(&value, SealPurpose::AccessKeySecret, "A")
            .unwrap();
    }
    assert_eq!(reads.load(Ordering::SeqCst), 2);

    // A source that dropped the sealing key does not make the process forget it.
    *source.keys.lock().unwrap() = vec![new];
    ring.reload().unwrap();
    assert!(ring.holds(RootKey::from_bytes(&old).unwrap().id()));
    assert_eq!(
        ring.sealing_key_id(),
        RootKey::from_bytes(&old).unwrap().id()
    );
}

#[test]
fn sealed_values_never_carry_the_key() {
    let key = RootKey::generate();
    let raw = *key.expose_bytes();
    let mut haystack = String::new();
    for i in 0..64 {
        haystack.push_str(&key.seal(SealPurpose::AccessKeySecret, &format!("A{i}"), &raw));
        haystack.push('\n');
    }
    for encoded in [B64.encode(raw), hex::encode(raw)] {
        for window in encoded.as_bytes().windows(12) {
            assert!(!haystack.as_bytes().windows(12).any(|w| w == window));
        }
    }
    assert_eq!(format!("{key:?}"), format!("RootKey({})", key.id()));
}

#[test]
fn user_pool_purposes_are_distinct_and_not_interchangeable() {
    let all = [
        SealPurpose::AccessKeySecret,
        SealPurpose::KmsBackingKey,
        SealPurpose::RootKeyCanary,
        SealPurpose::UserPasswordHash,
        SealPurpose::UserSrpVerifier,
        SealPurpose::UserTotpSecret,
        SealPurpose::UserCode,
        SealPurpose::UserPoolOutboxMessage,
        SealPurpose::UserPoolClientSecret,
        SealPurpose::UserPoolSigningKey,
        SealPurpose::UserRefreshToken,
        SealPurpose::UserAuthSession,
    ];
    let labels: std::collections::HashSet<_> = all.iter().map(|p| p.label()).collect();
    assert_eq!(labels.len(), all.len());
    let key = RootKey::generate();
    let sealed = key.seal(
        SealPurpose::UserPasswordHash,
        "eu-west-1_abc/sub",
        b"$argon2id$",
    );
    for other in all.iter().filter(|p| **p != SealPurpose::UserPasswordHash) {
        assert_eq!(
            key.open(&sealed, *other, "eu-west-1_abc/sub"),
            Err(SealError::Unauthentic),
            "{other:?}"
        );
    }
    assert!(key
        .open(&sealed, SealPurpose::UserPasswordHash, "eu-west-1_abc/sub2")
        .is_err());
}
