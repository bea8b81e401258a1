//! KMS's untrusted-bytes front: the ciphertext blob parser, the typed decode of every KMS
//! operation's JSON body, and the open path behind them. Nothing may panic; every input is
//! parsed (and re-encodes to exactly the same bytes) or refused, and a sealed blob opens only
//! unaltered and under the context it was sealed with.
//!
//! Input layout: byte 0 picks the mode (modulo 3), the rest is its input.
//! - 0, blob: `parse_blob(rest)`; a parsed blob must re-encode to `rest`, and opening it under
//!   a fixed KMS key (whose id the fuzzer may hit) must fail cleanly, never panic.
//! - 1, request: byte 1 picks the operation (index into `OPERATIONS`, modulo its length),
//!   the rest is its JSON body → `decode_request`.
//! - 2, seal/open oracle: bytes 1–2 are a position (big-endian u16) and byte 3 an XOR mask;
//!   byte 4's length of the remainder is the encryption context value, the rest the
//!   plaintext. The plaintext is sealed under the fixed key, the blob's byte at the position
//!   XORed with the mask: it must open to the plaintext if and only if nothing changed, and
//!   never under another context.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rampart_core::MasterKey;
use rampart_kms::custody::{self, BackingKey};
use rampart_kms::{decode_request, parse_blob, EncryptionContext, OPERATIONS};

/// The id of the fixed KMS key, a UUID like the ones Rampart mints.
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

struct Fixed {
    master: MasterKey,
    backing: Vec<BackingKey>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let master = MasterKey::from_bytes(&[7u8; 32]).expect("32 bytes");
        let now = time::OffsetDateTime::UNIX_EPOCH;
        // Two versions, current first, as after one rotation.
        let backing = vec![
            BackingKey::generate(&master, KEY_ID, 2, now, true),
            BackingKey::generate(&master, KEY_ID, 1, now, false),
        ];
        Fixed { master, backing }
    })
}

fn context(value: &[u8]) -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    if !value.is_empty() {
        ctx.insert(
            "purpose".into(),
            String::from_utf8_lossy(value).into_owned(),
        );
    }
    ctx
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixed = fixed();
    match mode % 3 {
        0 => {
            if let Ok(blob) = parse_blob(rest) {
                assert_eq!(
                    blob.to_bytes(),
                    rest,
                    "a parsed blob re-encodes differently"
                );
                let opened = custody::decrypt(
                    &fixed.master,
                    KEY_ID,
                    &fixed.backing,
                    &blob,
                    &EncryptionContext::new(),
                );
                assert!(opened.is_err(), "an unsealed blob opened");
            }
        }
        1 => {
            let Some((&op, body)) = rest.split_first() else {
                return;
            };
            let operation = OPERATIONS[usize::from(op) % OPERATIONS.len()].name;
            let _ = decode_request(operation, body);
        }
        _ => {
            if rest.len() < 4 {
                return;
            }
            let position = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let mask = rest[2];
            let payload = &rest[4..];
            let split = usize::from(rest[3]).min(payload.len());
            let (value, plaintext) = payload.split_at(split);
            let plaintext = &plaintext[..plaintext.len().min(custody::MAX_PLAINTEXT_LEN)];
            let ctx = context(value);
            let mut bytes =
                custody::encrypt(&fixed.master, KEY_ID, &fixed.backing, plaintext, &ctx)
                    .expect("the fixed key seals");
            let changed = mask != 0 && position < bytes.len();
            if changed {
                bytes[position] ^= mask;
            }
            let opened = parse_blob(&bytes).ok().and_then(|blob| {
                custody::decrypt(&fixed.master, KEY_ID, &fixed.backing, &blob, &ctx).ok()
            });
            match opened {
                Some(plain) => {
                    assert!(!changed, "an altered blob opened");
                    assert_eq!(plain.as_slice(), plaintext);
                }
                None => assert!(changed, "an unaltered blob did not open"),
            }
            if !changed {
                let blob = parse_blob(&bytes).expect("an unaltered blob parses");
                let mut other = ctx.clone();
                other.insert("extra".into(), String::new());
                assert!(
                    custody::decrypt(&fixed.master, KEY_ID, &fixed.backing, &blob, &other).is_err(),
                    "a blob opened under another context"
                );
            }
        }
    }
});
