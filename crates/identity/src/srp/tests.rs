//! Unit tests: known answers from pycognito, a client written from the clients' formulas,
//! and every refusal. The real clients run in tests/compat/test_identity_core.py.

use super::*;

// Computed by pycognito 2024.5.1's own functions (aws_srp.AWSSRP with a fixed a, and the
// server formulas B = k·v + g^b with a fixed b) — an independent oracle, not this code.
const K_HEX: &str = "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6";
const A_HEX: &str = concat!(
    "1fcb51627342733308bd716c3bb94191bc91588b9a0f373b30211c8a75e150c87281ca33009395277660fa585382bd85",
    "49a2df75673fa1c9ab5431814c955b583887af8e5149ad5afc9ddca568d905343b13f28d3530c4e83f4a4da0731dac71",
    "2c2e34db8dd3e549fcd7baa91beeaa189f972fecb9c0b731ae43a94fd1373607484a7c3ab7a504cfeb444ec47ed947e8",
    "af104e5422727911c92b560ea4d0f657736bfbb001e9c7b869b38abe44599bbb4315246ced4c7d2d137a64098fc90fbc",
    "a26d8528407406ad6ea9e87722ad1e0556a947bebff4f7ee87e23aa6c7ceb7851c9f619db07148f99710a95010edc9c8",
    "235f673b3bf2ab291182688bfb51f9eccb4a6f5cbaae8600ed7d69666ccd47072eb71d9b0a94e4bc2c2070dfd0b4e606",
    "ad201b66088d68760620b6f97b51783be4c10e8d9e1172a4ec05291ab1fbe88d96193a37a4ee71598c7a38db9de116f6",
    "4e80da2bb3b5bfb43c2ad89680540d8d91917ba4fd1b4021df8b84ffcc47db6660bf26f9691df7a87ebe43c51e2e0b0f",
);
const B_HEX: &str = concat!(
    "da17d8cc0268911a2cf05d1fc6832b538b6fdf0930690ba4e59d1c16c20d6b993e659083da3b69407af41fb206a6e5d2",
    "d32d305e6d59aa269db8a3c8c07bfd40b161ff58954a7dfb10bdcb9502937e2a78a9f68a62137f69d6a4f3d76be6e678",
    "4fd31d8986a7da278a463a8630c874abc5c709024ffa120c1d337d37ec8105e7e9eb3a44b79594d8b4ffdf186559ffa9",
    "2ef26c98d2f511f6cbfb2ca6b52487c617ff22d692aad3b4a36a79091b6d3f3e74b431f0d30350853ee89aa27ad5dc7b",
    "28f0e892f2d690ac42c0bfe57cda472ed932ef729ca3d48608bbbf2d520d22fc3da2337c0caf9ee5b2837f564e64660a",
    "f845ceb24427f910f8b9962c01efcb7cae05f1e2d7c899fb6bbdb2d67a97347352cac75633394ccd781e59f7cb361630",
    "8bcaf85136db9cc24706d7e4133d22c9aa910ffb54326f47ab6ac4096aa89615f9b54f1595814895739716b70a3f1e85",
    "68ebd0e451c61f06458f59fde30d9d695d4c18ba9017c89a51f8a4cdef156997fcb06c7a1067b652979580da87c8c37a",
);
const V_HEX: &str = concat!(
    "e3fc4956415fabf4317c582745bc2eb698e8e8b742751733a121e8a46c032cae02be7cd53364dc6e47d29e228a11a92a",
    "d54f0c6e884ee1ef3716f1537b9085e54ae67d2445364887e40fc5e41946fa8d918d6dc31a3e59d876b419fa86f77f2b",
    "6a5d02af6a437ed4705624388102bc57f78439dafa60338b131869cd897b8ebb279c482bd455a219cdf945e2668d32f8",
    "d4305b9649eb0cfe6be9e8a37d31aef2a6dd6b82a9f215358a3d63dc19a4fc9115620eca990cb2e55df24d6496cf8fa9",
    "f327a113b74703c0e43e75bfdffa75ebb4e73b77c52ee5fc4faaf8d138ce8be398a8624c1a889088445abd7a9c96ee2c",
    "7f4c6161a83de313c5be99205eecc7dfe3595d28a9f3a0100010f64ad051308f2b32f95089bfc22d297be05eeed39b84",
    "8198b1ace8165c015f68b79c234b96de1cbd7138304053d17057b0a094d2f17bcb0522263d0f92b42dc80b34fe13c92d",
    "22d2dcafdf637b6058be97142980abe64317858c8c33c3d6716ffbcb91c37303287ef94aa432871e86aeddb989e57579",
);
const SESSION_KEY_HEX: &str = "97d8779b37168c5371345b436f1de51d";
const SIGNATURE: &str = "iv0NOqjSXKp+S8efvCN5ceYUQNgtMnJ6AeC5AVlSZzY=";

const SALT: [u8; 16] = [
    0x9f, 0x3a, 0x5c, 0x7e, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0x00, 0xaa, 0xbb,
];
const SECRET_BLOCK: &[u8] = b"secret-block-bytes\x00\xff";
const TIMESTAMP: &str = "Mon Nov 30 13:19:29 UTC 2026";

fn at(timestamp: &str) -> OffsetDateTime {
    parse_timestamp(timestamp).unwrap()
}

/// The client side, from amazon-cognito-identity-js's formulas: S = (B − k·g^x)^(a + u·x),
/// computed as (B − k·g^x)^a · ((B − k·g^x)^u)^x.
struct Client {
    a: BoxedUint,
    big_a_hex: String,
}

impl Client {
    fn new() -> Self {
        let mut a = [0u8; 128];
        aws_lc_rs::rand::fill(&mut a).unwrap();
        Self::with_a(&a)
    }

    fn with_a(a: &[u8]) -> Self {
        let a = BoxedUint::from_be_slice(a, 1024).unwrap();
        let big_a = GROUP.g.pow(&a);
        Self {
            a,
            big_a_hex: bytes_to_hex(strip_zeros(&residue_bytes(&big_a))),
        }
    }

    fn session_key(
        &self,
        pool: &str,
        user: &str,
        password: &str,
        salt_hex: &str,
        b_hex: &str,
    ) -> [u8; 16] {
        let salt = hex_to_bytes(salt_hex).unwrap();
        let identity = sha256(&[pool.as_bytes(), user.as_bytes(), b":", password.as_bytes()]);
        let x = BoxedUint::from_be_slice(&sha256(&[&pad(&salt), &identity]), 256).unwrap();
        let b_bytes = parse_srp_a(b_hex).unwrap();
        let a_bytes = parse_srp_a(&self.big_a_hex).unwrap();
        let u = sha256(&[&pad(&a_bytes), &pad(&b_bytes)]);
        let u_int = BoxedUint::from_be_slice(&u, 256).unwrap();
        let base = &residue(&b_bytes) - &(&GROUP.k * &GROUP.g.pow(&x));
        let s = &base.pow(&self.a) * &base.pow(&u_int).pow(&x);
        *derive_session_key(&pad(&residue_bytes(&s)), &pad(&u)).as_bytes()
    }

    fn sign(
        key: &[u8; 16],
        pool: &str,
        user: &str,
        secret_block: &[u8],
        timestamp: &str,
    ) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut ctx = hmac::Context::with_key(&key);
        for part in [
            pool.as_bytes(),
            user.as_bytes(),
            secret_block,
            timestamp.as_bytes(),
        ] {
            ctx.update(part);
        }
        STANDARD.encode(ctx.sign().as_ref())
    }
}

#[test]
fn k_is_cognitos_multiplier() {
    let k = sha256(&[&pad(modulus_bytes()), &pad(&[G])]);
    assert_eq!(bytes_to_hex(&k), K_HEX);
    // The fakecloud bug: N hashed without its sign byte gives another k.
    assert_ne!(bytes_to_hex(&sha256(&[modulus_bytes(), &[G]])), K_HEX);
    assert_eq!(bytes_to_hex(strip_zeros(&residue_bytes(&GROUP.k))), K_HEX);
}

#[test]
fn known_answer_from_pycognito() {
    let verifier = PasswordVerifier::with_salt(&SALT, "AbC123", "alice", "Correct-Horse1!");
    assert_eq!(verifier.salt_hex(), "009f3a5c7e11223344556677889900aabb");
    assert_eq!(bytes_to_hex(&verifier.verifier), V_HEX);
    let challenge = ServerChallenge::begin_with_ephemeral(&verifier, A_HEX, &[0xc3; 32])
        .unwrap()
        .unwrap();
    assert_eq!(challenge.srp_b, B_HEX);
    assert_eq!(
        bytes_to_hex(challenge.session_key.as_bytes()),
        SESSION_KEY_HEX
    );
    let claim = PasswordClaim {
        secret_block: SECRET_BLOCK,
        timestamp: TIMESTAMP,
        signature: SIGNATURE,
    };
    let now = at(TIMESTAMP);
    verify_password_claim(
        &challenge.session_key,
        "AbC123",
        "alice",
        &claim,
        now,
        Duration::minutes(5),
    )
    .unwrap();
}

#[test]
fn client_and_server_agree_over_many_exchanges() {
    // Random salts, a and b: over 64 rounds the high-bit and short-value padding cases of A, B,
    // u, S and the salt all occur (each about half the time), and any mismatch fails the round.
    let mut salt_high_bit = 0;
    for round in 0..64 {
        let user = format!("user-{round}");
        let verifier = PasswordVerifier::new("Pool_Name", &user, "Pa55word!").unwrap();
        salt_high_bit += usize::from(verifier.salt_hex().starts_with("00"));
        let client = Client::new();
        let challenge = ServerChallenge::begin(&verifier, &client.big_a_hex).unwrap();
        let key = client.session_key(
            "Pool_Name",
            &user,
            "Pa55word!",
            &challenge.salt,
            &challenge.srp_b,
        );
        assert_eq!(&key, challenge.session_key.as_bytes(), "round {round}");
        let wrong = client.session_key(
            "Pool_Name",
            &user,
            "Pa55word?",
            &challenge.salt,
            &challenge.srp_b,
        );
        assert_ne!(&wrong, challenge.session_key.as_bytes());
    }
    assert!(
        salt_high_bit > 0,
        "no salt with its high bit set in 64 rounds"
    );
}

#[test]
fn right_password_verifies_and_wrong_one_does_not() {
    let verifier = PasswordVerifier::new("AbC123", "alice", "Correct-Horse1!").unwrap();
    let client = Client::new();
    let challenge = ServerChallenge::begin(&verifier, &client.big_a_hex).unwrap();
    let now = OffsetDateTime::now_utc();
    let timestamp = format_timestamp(now);
    let check = |password: &str, pool: &str, user: &str| {
        let key = client.session_key(pool, user, password, &challenge.salt, &challenge.srp_b);
        let signature = Client::sign(&key, pool, user, SECRET_BLOCK, &timestamp);
        let claim = PasswordClaim {
            secret_block: SECRET_BLOCK,
            timestamp: &timestamp,
            signature: &signature,
        };
        verify_password_claim(
            &challenge.session_key,
            "AbC123",
            "alice",
            &claim,
            now,
            Duration::minutes(5),
        )
    };
    assert_eq!(check("Correct-Horse1!", "AbC123", "alice"), Ok(()));
    assert_eq!(
        check("Correct-Horse1?", "AbC123", "alice"),
        Err(SrpError::SignatureMismatch)
    );
    assert_eq!(
        check("Correct-Horse1!", "AbC124", "alice"),
        Err(SrpError::SignatureMismatch)
    );
    assert_eq!(
        check("Correct-Horse1!", "AbC123", "alicf"),
        Err(SrpError::SignatureMismatch)
    );
}

#[test]
fn the_signature_covers_secret_block_and_timestamp() {
    let verifier = PasswordVerifier::new("AbC123", "alice", "pw").unwrap();
    let client = Client::new();
    let challenge = ServerChallenge::begin(&verifier, &client.big_a_hex).unwrap();
    let key = client.session_key("AbC123", "alice", "pw", &challenge.salt, &challenge.srp_b);
    let now = at(TIMESTAMP);
    let signature = Client::sign(&key, "AbC123", "alice", SECRET_BLOCK, TIMESTAMP);
    let verify = |secret_block: &[u8], timestamp: &str, signature: &str| {
        let claim = PasswordClaim {
            secret_block,
            timestamp,
            signature,
        };
        verify_password_claim(
            &challenge.session_key,
            "AbC123",
            "alice",
            &claim,
            now,
            Duration::minutes(5),
        )
    };
    assert_eq!(verify(SECRET_BLOCK, TIMESTAMP, &signature), Ok(()));
    assert_eq!(
        verify(b"another block", TIMESTAMP, &signature),
        Err(SrpError::SignatureMismatch)
    );
    assert_eq!(
        verify(SECRET_BLOCK, "Mon Nov 30 13:19:30 UTC 2026", &signature),
        Err(SrpError::SignatureMismatch)
    );
    assert_eq!(
        verify(SECRET_BLOCK, TIMESTAMP, "not base64!"),
        Err(SrpError::SignatureMismatch)
    );
    assert_eq!(
        verify(SECRET_BLOCK, TIMESTAMP, ""),
        Err(SrpError::SignatureMismatch)
    );
    // A signature of the right length but another key.
    let forged = Client::sign(&[7; 16], "AbC123", "alice", SECRET_BLOCK, TIMESTAMP);
    assert_eq!(
        verify(SECRET_BLOCK, TIMESTAMP, &forged),
        Err(SrpError::SignatureMismatch)
    );
}

#[test]
fn stale_or_future_timestamps_are_refused() {
    let key = SessionKey::from_bytes([9; 16]);
    let signature = Client::sign(&[9; 16], "P", "u", SECRET_BLOCK, TIMESTAMP);
    let claim = PasswordClaim {
        secret_block: SECRET_BLOCK,
        timestamp: TIMESTAMP,
        signature: &signature,
    };
    let signed = at(TIMESTAMP);
    let window = Duration::minutes(5);
    for (now, expected) in [
        (signed, Ok(())),
        (signed + window, Ok(())),
        (signed - window, Ok(())),
        (
            signed + window + Duration::seconds(1),
            Err(SrpError::StaleTimestamp),
        ),
        (
            signed - window - Duration::seconds(1),
            Err(SrpError::StaleTimestamp),
        ),
    ] {
        assert_eq!(
            verify_password_claim(&key, "P", "u", &claim, now, window),
            expected,
            "{now}"
        );
    }
}

#[test]
fn timestamps_are_cognitos_form() {
    let t = time::macros::datetime!(2026-11-05 03:04:05 UTC);
    assert_eq!(format_timestamp(t), "Thu Nov 5 03:04:05 UTC 2026");
    assert_eq!(parse_timestamp("Thu Nov 5 03:04:05 UTC 2026"), Ok(t));
    let t = time::macros::datetime!(2026-11-30 13:19:29 UTC);
    assert_eq!(format_timestamp(t), TIMESTAMP);
    assert_eq!(
        format_timestamp(t.to_offset(time::macros::offset!(+2))),
        TIMESTAMP
    );
    for bad in [
        "Thu Nov 05 03:04:05 UTC 2026", // zero-padded day, which Cognito refuses
        "Wed Nov 5 03:04:05 UTC 2026",  // weekday of another date
        "Thu Nov 5 3:04:05 UTC 2026",
        "Thu Nov 5 03:04:05 GMT 2026",
        "Thu Nov  5 03:04:05 UTC 2026",
        "Thu Nov 5 03:04:05 UTC 2026 ",
        "thu Nov 5 03:04:05 UTC 2026",
        "Thu November 5 03:04:05 UTC 2026",
        "Mon Feb 30 03:04:05 UTC 2026",
        "Thu Nov 5 24:00:00 UTC 2026",
        "Thu Nov 5 03:04:05 UTC 26",
        "Thu Nov 5 03:04:05 UTC +2026",
        "",
    ] {
        assert_eq!(
            parse_timestamp(bad),
            Err(SrpError::MalformedTimestamp),
            "{bad:?}"
        );
    }
    let key = SessionKey::from_bytes([1; 16]);
    let claim = PasswordClaim {
        secret_block: SECRET_BLOCK,
        timestamp: "Mon Nov 30 13:19:29 UTC 2026 ",
        signature: "",
    };
    assert_eq!(
        verify_password_claim(&key, "P", "u", &claim, at(TIMESTAMP), Duration::minutes(5)),
        Err(SrpError::MalformedTimestamp)
    );
}

#[test]
fn degenerate_a_is_refused() {
    let verifier = PasswordVerifier::new("P", "u", "pw").unwrap();
    let n_hex = bytes_to_hex(modulus_bytes());
    let two_n = {
        let n = BoxedUint::from_be_slice(modulus_bytes(), BITS + 64).unwrap();
        bytes_to_hex(&n.wrapping_add(&n).to_be_bytes())
    };
    for zero in [
        "0",
        "00",
        "000",
        n_hex.as_str(),
        &n_hex.to_uppercase(),
        two_n.as_str(),
    ] {
        assert_eq!(
            ServerChallenge::begin(&verifier, zero).err(),
            Some(SrpError::ZeroA),
            "{zero}"
        );
    }
    let too_long = "1".repeat(MAX_SRP_A_HEX + 1);
    for bad in ["", "xyz", "12 34", "-1", "0x12", too_long.as_str()] {
        assert_eq!(
            ServerChallenge::begin(&verifier, bad).err(),
            Some(SrpError::MalformedA),
            "{bad:?}"
        );
    }
    // A short odd-length A is a number like any other.
    assert!(ServerChallenge::begin(&verifier, "abc").is_ok());
}

#[test]
fn padding_is_javas_to_byte_array() {
    assert_eq!(pad(&[]), [0]);
    assert_eq!(pad(&[0, 0]), [0]);
    assert_eq!(pad(&[0x7f]), [0x7f]);
    assert_eq!(pad(&[0x80]), [0, 0x80]);
    assert_eq!(pad(&[0, 0, 0x12, 0x34]), [0x12, 0x34]);
    assert_eq!(pad(&[0, 0xff]), [0, 0xff]);
}

#[test]
fn verifiers_round_trip_and_reject_garbage() {
    let verifier = PasswordVerifier::new("P", "u", "pw").unwrap();
    let bytes = verifier.to_bytes();
    let back = PasswordVerifier::from_bytes(&bytes).unwrap();
    assert_eq!(back.salt_hex(), verifier.salt_hex());
    assert_eq!(back.verifier, verifier.verifier);
    assert!(PasswordVerifier::from_bytes(&[]).is_err());
    assert!(PasswordVerifier::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut zero_salt = bytes.to_vec();
    zero_salt[0] = 0;
    assert!(PasswordVerifier::from_bytes(&zero_salt).is_err());
    // v ≥ N is not a residue.
    let mut too_big = vec![1u8, 0x01];
    too_big.extend_from_slice(&[0xff; MODULUS_BYTES]);
    assert!(PasswordVerifier::from_bytes(&too_big).is_err());
}

#[test]
fn decoys_are_stable_per_user_and_differ_between_users() {
    let a1 = PasswordVerifier::decoy(b"instance secret", "P", "ghost");
    let a2 = PasswordVerifier::decoy(b"instance secret", "P", "ghost");
    let b = PasswordVerifier::decoy(b"instance secret", "P", "phantom");
    let c = PasswordVerifier::decoy(b"other secret", "P", "ghost");
    assert_eq!(a1.salt_hex(), a2.salt_hex());
    assert_eq!(a1.verifier, a2.verifier);
    assert_ne!(a1.salt_hex(), b.salt_hex());
    assert_ne!(a1.salt_hex(), c.salt_hex());
    // A decoy's challenge has the same shape as a real one, and no password opens it.
    let client = Client::new();
    let challenge = ServerChallenge::begin(&a1, &client.big_a_hex).unwrap();
    let key = client.session_key("P", "ghost", "", &challenge.salt, &challenge.srp_b);
    assert_ne!(&key, challenge.session_key.as_bytes());
}

#[test]
fn pool_name_is_the_part_after_the_underscore() {
    assert_eq!(pool_name_for_srp("us-east-1_AbC123"), "AbC123");
    assert_eq!(pool_name_for_srp("eu-west-2_x_y"), "x");
    assert_eq!(pool_name_for_srp("nounderscore"), "");
}

#[test]
fn fixed_a_client_matches_pycognito_a() {
    assert_eq!(Client::with_a(&[0x5a; 128]).big_a_hex, A_HEX);
}
