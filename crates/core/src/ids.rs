//! Identifiers in the shapes AWS uses, drawn from the operating system's CSPRNG.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Base32 alphabet AWS uses in access key ids and unique ids (upper-case letters and 2–7).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random source failed");
    buf
}

fn random_base32(len: usize) -> String {
    // 5 bits per char; draw one byte per char and mask (uniform since 256 % 32 == 0).
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source failed");
    bytes
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect()
}

/// A random 12-digit account id that does not start with 0.
pub fn account_id() -> String {
    let n = u64::from_le_bytes(random_bytes::<8>());
    let n = 100_000_000_000 + n % 900_000_000_000;
    format!("{n:012}")
}

/// A long-term access key id: `AKIA` + 16 base32 characters.
pub fn access_key_id() -> String {
    format!("AKIA{}", random_base32(16))
}

/// A temporary access key id: `ASIA` + 16 base32 characters.
pub fn temporary_access_key_id() -> String {
    format!("ASIA{}", random_base32(16))
}

/// A secret access key: 40 characters of base64 (30 random bytes), as AWS issues.
pub fn secret_access_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(random_bytes::<30>())
}

/// A session token for temporary credentials: 64 random bytes, base64.
pub fn session_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(random_bytes::<64>())
}

/// A unique principal id with the given prefix (`AIDA` users, `AROA` roles, `AGPA` groups…).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_base32(17))
}

/// A request id in AWS's UUID form.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = account_id();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(a.as_bytes()[0], b'0');
        let k = access_key_id();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert!(temporary_access_key_id().starts_with("ASIA"));
        assert_eq!(secret_access_key().len(), 40);
        assert_ne!(secret_access_key(), secret_access_key());
        assert_eq!(unique_id("AIDA").len(), 21);
    }
}
