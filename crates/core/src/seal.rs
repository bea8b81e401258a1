//! Sealing secrets before they reach the store: AES-256-GCM under the installation's master
//! key, with the record's identity as associated data so a sealed value cannot be moved to
//! another record.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;

/// Version prefix of sealed values, so the format can evolve.
const SEALED_PREFIX: &str = "v1:";

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value failed authentication (wrong master key or tampered record)")]
    Unauthentic,
    #[error("master key must be 32 bytes")]
    BadKeyLength,
}

/// The 256-bit key that seals every secret at rest.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A fresh random key and its raw bytes (to be written once to a 0600 file).
    pub fn generate() -> (Self, [u8; 32]) {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("the operating system's random source failed");
        (Self::from_bytes(&raw).expect("32 bytes"), raw)
    }

    pub fn from_bytes(raw: &[u8]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, raw).map_err(|_| SealError::BadKeyLength)?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. the access key id it belongs to).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce_bytes)
            .expect("the operating system's random source failed");
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for in-memory buffers");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Decrypts a value produced by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let b64 = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Malformed)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| SealError::Unauthentic)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let (key, raw) = MasterKey::generate();
        let sealed = key.seal(b"wJalrXUtnFEMI", "AKIAEXAMPLE");
        assert!(!sealed.contains("wJalr"));
        assert_eq!(key.open(&sealed, "AKIAEXAMPLE").unwrap(), b"wJalrXUtnFEMI");
        // Bound to its context.
        assert_eq!(key.open(&sealed, "AKIAOTHER"), Err(SealError::Unauthentic));
        // Same key from bytes opens it; another key does not.
        assert!(MasterKey::from_bytes(&raw)
            .unwrap()
            .open(&sealed, "AKIAEXAMPLE")
            .is_ok());
        let (other, _) = MasterKey::generate();
        assert_eq!(
            other.open(&sealed, "AKIAEXAMPLE"),
            Err(SealError::Unauthentic)
        );
        // Tampering is detected.
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(key.open(&tampered, "AKIAEXAMPLE").is_err());
        assert_eq!(key.open("plain", "x"), Err(SealError::Malformed));
    }
}
