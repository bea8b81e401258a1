//! Hashing at a small cost (the default is exercised once, and in the benches); the policy
//! table against Cognito's messages.

use super::*;
use std::time::Instant;

fn cheap() -> Argon2Cost {
    Argon2Cost {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

#[test]
fn default_cost_is_owasps() {
    let hasher = PasswordHasher::new(Argon2Cost::default()).unwrap();
    let hash = hasher.hash("Correct-Horse1!").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(hasher.verify("Correct-Horse1!", &hash), Verification::Match);
    assert_eq!(
        hasher.verify("Correct-Horse1?", &hash),
        Verification::Mismatch
    );
}

#[test]
fn hashes_are_salted_per_user() {
    let hasher = PasswordHasher::new(cheap()).unwrap();
    let a = hasher.hash("same password").unwrap();
    let b = hasher.hash("same password").unwrap();
    assert_ne!(a, b);
    assert!(!a.contains("same password"));
    assert!(hasher.verify("same password", &a).is_match());
    assert!(hasher.verify("same password", &b).is_match());
}

#[test]
fn wrong_passwords_and_garbage_are_mismatches() {
    let hasher = PasswordHasher::new(cheap()).unwrap();
    let hash = hasher.hash("pw").unwrap();
    assert_eq!(hasher.verify("PW", &hash), Verification::Mismatch);
    assert_eq!(hasher.verify("", &hash), Verification::Mismatch);
    for stored in [
        "",
        "pw",
        "$argon2id$",
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$",
    ] {
        assert_eq!(
            hasher.verify("pw", stored),
            Verification::Mismatch,
            "{stored}"
        );
    }
    // A flipped character in the hash.
    let mut tampered = hash.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        hasher.verify("pw", std::str::from_utf8(&tampered).unwrap()),
        Verification::Mismatch
    );
}

#[test]
fn weaker_variants_and_memory_bombs_are_refused() {
    let hasher = PasswordHasher::new(cheap()).unwrap();
    let argon2i = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(256, 1, 1, None).unwrap(),
    );
    let as_argon2i = argon2i
        .hash_password_with_salt(b"pw", b"saltsaltsalt")
        .unwrap()
        .to_string();
    assert!(as_argon2i.starts_with("$argon2i$"));
    assert_eq!(hasher.verify("pw", &as_argon2i), Verification::Mismatch);
    // A row claiming 4 GiB must not make verification allocate it.
    let bomb = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY";
    let started = Instant::now();
    assert_eq!(hasher.verify("pw", bomb), Verification::Mismatch);
    assert!(started.elapsed().as_millis() < 500);
}

#[test]
fn another_cost_verifies_but_asks_for_a_rehash() {
    let old = PasswordHasher::new(Argon2Cost {
        memory_kib: 512,
        ..cheap()
    })
    .unwrap();
    let hash = old.hash("pw").unwrap();
    let current = PasswordHasher::new(cheap()).unwrap();
    assert_eq!(current.verify("pw", &hash), Verification::MatchNeedsRehash);
    assert_eq!(current.verify("px", &hash), Verification::Mismatch);
}

#[test]
fn unknown_users_cost_what_a_wrong_password_costs() {
    // Structurally: the decoy is a hash at the configured cost that verification computes in full.
    let hasher = PasswordHasher::new(Argon2Cost::default()).unwrap();
    let decoy = PasswordHash::new(&hasher.decoy).unwrap();
    assert_eq!(decoy.algorithm, argon2::ARGON2ID_IDENT);
    assert!(same_cost(
        &Params::try_from(&decoy).unwrap(),
        &hasher.params
    ));
    assert!(hasher.acceptable(&decoy));
    // And by the clock, at the real cost, pairs interleaved so that load on this shared machine
    // falls on both sides alike.
    let hash = hasher.hash("Correct-Horse1!").unwrap();
    let timed = |f: &dyn Fn() -> Verification| {
        let started = Instant::now();
        assert_eq!(f(), Verification::Mismatch);
        started.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..7)
        .map(|_| {
            let wrong = timed(&|| hasher.verify("wrong", &hash));
            let unknown = timed(&|| hasher.verify_unknown_user("wrong"));
            unknown / wrong
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    assert!(
        (0.5..2.0).contains(&ratios[3]),
        "median unknown/wrong ratio {ratios:?}"
    );
}

#[test]
fn invalid_costs_are_refused() {
    let zero = Argon2Cost {
        iterations: 0,
        ..cheap()
    };
    assert!(matches!(
        PasswordHasher::new(zero),
        Err(PasswordError::InvalidCost(_))
    ));
}

#[test]
fn policy_reports_the_first_broken_rule_in_cognitos_words() {
    let policy = PasswordPolicy::default();
    let cases = [
        ("Sh0rt!", Some("Password not long enough")),
        (
            "alllowercase",
            Some("Password must have uppercase characters"),
        ),
        (
            "ALLUPPERCASE1!",
            Some("Password must have lowercase characters"),
        ),
        ("NoNumbers!!", Some("Password must have numeric characters")),
        ("NoSymbols123", Some("Password must have symbol characters")),
        ("Has Space123", None),
        (
            " LeadingSpace123",
            Some("Password must have symbol characters"),
        ),
        ("Correct-Horse1", None),
        ("Ünïcödé1!aB", None),
        (
            "ÀÉÎÕÜáéíõü1!",
            Some("Password must have uppercase characters"),
        ),
    ];
    for (password, reason) in cases {
        assert_eq!(
            policy.check(password).err().map(PolicyViolation::reason),
            reason,
            "{password:?}"
        );
    }
    for symbol in SYMBOLS.chars() {
        assert_eq!(
            policy.check(&format!("Abcdefg1{symbol}")),
            Ok(()),
            "{symbol}"
        );
    }
    assert_eq!(
        PolicyViolation::MissingSymbol.message(PolicyWording::Creation),
        "Password did not conform with policy: Password must have symbol characters"
    );
    assert_eq!(
        PolicyViolation::TooShort.message(PolicyWording::Change),
        "Password does not conform to policy: Password not long enough"
    );
}

#[test]
fn relaxed_policies_relax() {
    let policy = PasswordPolicy {
        minimum_length: 6,
        require_uppercase: false,
        require_lowercase: false,
        require_numbers: false,
        require_symbols: false,
        temporary_password_validity_days: 1,
    };
    assert_eq!(policy.check("aaaaaa"), Ok(()));
    assert_eq!(policy.check("aaaaa"), Err(PolicyViolation::TooShort));
    // Length counts characters, not bytes.
    assert_eq!(policy.check("éééééé"), Ok(()));
    let issued = time::macros::datetime!(2026-11-30 13:00 UTC);
    assert_eq!(
        policy.temporary_password_expires_at(issued),
        time::macros::datetime!(2026-12-01 13:00 UTC)
    );
}

#[test]
fn temporary_passwords_satisfy_the_policy() {
    for minimum_length in [6, 8, 12, 40, 99] {
        let policy = PasswordPolicy {
            minimum_length,
            ..PasswordPolicy::default()
        };
        for _ in 0..50 {
            let password = generate_temporary_password(&policy).unwrap();
            assert_eq!(policy.check(&password), Ok(()), "{password}");
            assert!(password.len() >= usize::try_from(minimum_length).unwrap().max(12));
        }
    }
    let a = generate_temporary_password(&PasswordPolicy::default()).unwrap();
    let b = generate_temporary_password(&PasswordPolicy::default()).unwrap();
    assert_ne!(a, b);
}
