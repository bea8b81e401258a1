//! The ciphertext blob KMS hands out (`CiphertextBlob`) and the encryption context it is
//! bound to.
//!
//! A blob is self-describing, so `Decrypt` needs nothing but the blob to find its key — as on
//! AWS, where the key id is taken from the ciphertext — and old blobs keep working after a
//! rotation because they name the backing-key version that sealed them:
//!
//! ```text
//! offset  size  field
//! 0       1     format version (FORMAT_V1 = 0x01)
//! 1       1     key id length n (1..=255)
//! 2       n     key id, UTF-8
//! 2+n     4     backing-key version, big-endian u32
//! 6+n     12    AES-GCM nonce
//! 18+n    ≥16   AES-256-GCM ciphertext followed by its 16-byte tag
//! ```
//!
//! The associated data of the AES-GCM seal is a purpose label, the header (every byte before
//! the nonce) and the canonical encryption context ([`canonical_context`]): a blob moved to
//! another key id or version, or decrypted with another context, fails authentication.
//!
//! [`parse_blob`] reads untrusted bytes: it never panics, never allocates more than the input,
//! and refuses anything that is not exactly this layout. It is the fuzz target's entry point.

use std::collections::BTreeMap;

/// The first (and only) blob format.
pub const FORMAT_V1: u8 = 1;
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// The largest `CiphertextBlob` the KMS API accepts (`CiphertextType`, max 6144).
pub const MAX_BLOB_LEN: usize = 6144;
/// The label that starts every blob's associated data, so a blob's seal can never be
/// confused with another use of the same key material.
const AAD_LABEL: &[u8] = b"rampart:kms:ciphertext:v1\0";

/// A KMS encryption context: non-secret key/value pairs bound to a ciphertext. A `BTreeMap`
/// so that its canonical form does not depend on the order the caller sent the pairs in.
pub type EncryptionContext = BTreeMap<String, String>;

/// Why bytes are not a blob. Every variant answers `InvalidCiphertextException`; the variants
/// exist for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("the ciphertext is empty")]
    Empty,
    #[error("the ciphertext has an unknown format version {0}")]
    UnknownFormat(u8),
    #[error("the ciphertext is truncated")]
    Truncated,
    #[error("the ciphertext is longer than {MAX_BLOB_LEN} bytes")]
    TooLong,
    #[error("the ciphertext's key id is empty or not UTF-8")]
    BadKeyId,
}

/// A parsed blob: which key and backing version sealed it, and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The KMS key id (a UUID for keys Rampart creates).
    pub key_id: String,
    /// The backing-key version that sealed it.
    pub backing_version: u32,
    /// The AES-GCM nonce, random per blob.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    pub sealed: Vec<u8>,
}

impl Blob {
    /// The header bytes (everything before the nonce), as they are bound into the AAD.
    pub fn header(&self) -> Vec<u8> {
        header(&self.key_id, self.backing_version)
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// The associated data this blob was sealed with under `context`.
    pub fn aad(&self, context: &EncryptionContext) -> Vec<u8> {
        aad(&self.header(), context)
    }
}

/// The header of a blob sealed by `key_id` at `backing_version`. Key ids longer than 255
/// bytes cannot be encoded; Rampart's are 36-byte UUIDs, and the caller checks the length.
pub(crate) fn header(key_id: &str, backing_version: u32) -> Vec<u8> {
    let id = key_id.as_bytes();
    debug_assert!(!id.is_empty() && id.len() <= usize::from(u8::MAX));
    let mut out = Vec::with_capacity(2 + id.len() + 4);
    out.push(FORMAT_V1);
    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&id[..id.len().min(usize::from(u8::MAX))]);
    out.extend_from_slice(&backing_version.to_be_bytes());
    out
}

/// The associated data for a blob with `header` under `context`, in one allocation of the
/// right size (it is built on every encrypt and decrypt).
pub(crate) fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let context_len: usize = 4 + context
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(AAD_LABEL.len() + header.len() + context_len);
    out.extend_from_slice(AAD_LABEL);
    out.extend_from_slice(header);
    write_canonical_context(&mut out, context);
    out
}

/// The canonical encoding of an encryption context: the pair count, then each pair sorted by
/// key, each string length-prefixed (big-endian u32). Length prefixes make the encoding
/// injective — `{"a":"bc"}` and `{"ab":"c"}` differ — and sorting makes it order-free.
pub fn canonical_context(context: &EncryptionContext) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical_context(&mut out, context);
    out
}

fn write_canonical_context(out: &mut Vec<u8>, context: &EncryptionContext) {
    out.extend_from_slice(&len32(context.len()).to_be_bytes());
    for (key, value) in context {
        for text in [key, value] {
            out.extend_from_slice(&len32(text.len()).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// A length as u32. Contexts come from request bodies far smaller than 4 GiB.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Reads a blob from untrusted bytes. Never panics.
pub fn parse_blob(bytes: &[u8]) -> Result<Blob, BlobError> {
    let (&format, rest) = bytes.split_first().ok_or(BlobError::Empty)?;
    if format != FORMAT_V1 {
        return Err(BlobError::UnknownFormat(format));
    }
    if bytes.len() > MAX_BLOB_LEN {
        return Err(BlobError::TooLong);
    }
    let (&id_len, rest) = rest.split_first().ok_or(BlobError::Truncated)?;
    let id_len = usize::from(id_len);
    if id_len == 0 {
        return Err(BlobError::BadKeyId);
    }
    let (id, rest) = split(rest, id_len)?;
    let key_id = std::str::from_utf8(id).map_err(|_| BlobError::BadKeyId)?;
    let (version, rest) = split(rest, 4)?;
    let (nonce, sealed) = split(rest, NONCE_LEN)?;
    if sealed.len() < TAG_LEN {
        return Err(BlobError::Truncated);
    }
    let mut version_bytes = [0u8; 4];
    version_bytes.copy_from_slice(version);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    Ok(Blob {
        key_id: key_id.to_owned(),
        backing_version: u32::from_be_bytes(version_bytes),
        nonce: nonce_bytes,
        sealed: sealed.to_vec(),
    })
}

/// `bytes` split after `n`, or `Truncated`.
fn split(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), BlobError> {
    if bytes.len() < n {
        return Err(BlobError::Truncated);
    }
    Ok(bytes.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Blob {
        Blob {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            backing_version: 3,
            nonce: [7; NONCE_LEN],
            sealed: vec![9; TAG_LEN + 5],
        }
    }

    #[test]
    fn round_trips() {
        let blob = sample();
        let bytes = blob.to_bytes();
        assert_eq!(bytes[0], FORMAT_V1);
        assert_eq!(usize::from(bytes[1]), blob.key_id.len());
        assert_eq!(parse_blob(&bytes), Ok(blob));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().to_bytes();
        // Anything shorter than header + nonce + tag is not a blob. Lengths between that and
        // the full blob parse (a shorter ciphertext), and fail authentication later.
        let minimum = 2 + 36 + 4 + NONCE_LEN + TAG_LEN;
        for len in 0..minimum {
            assert!(parse_blob(&bytes[..len]).is_err(), "length {len} parsed");
        }
        assert!(parse_blob(&bytes[..minimum]).is_ok());
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = sample().to_bytes();
        assert_eq!(parse_blob(&[]), Err(BlobError::Empty));
        let mut bytes = good.clone();
        bytes[0] = 2;
        assert_eq!(parse_blob(&bytes), Err(BlobError::UnknownFormat(2)));
        let mut bytes = good.clone();
        bytes[1] = 0;
        assert_eq!(parse_blob(&bytes), Err(BlobError::BadKeyId));
        let mut bytes = good.clone();
        bytes[2] = 0xff;
        assert_eq!(parse_blob(&bytes), Err(BlobError::BadKeyId));
        // A length that runs past the end.
        let mut bytes = good.clone();
        bytes[1] = 255;
        assert_eq!(parse_blob(&bytes), Err(BlobError::Truncated));
        let mut long = good;
        long.resize(MAX_BLOB_LEN + 1, 0);
        assert_eq!(parse_blob(&long), Err(BlobError::TooLong));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic stand-in for the fuzzer: every single-byte mutation of a
        // valid blob and a spread of pseudo-random inputs.
        let good = sample().to_bytes();
        for i in 0..good.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[i] = bytes[i].wrapping_add(delta);
                let _ = parse_blob(&bytes);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = parse_blob(&bytes);
            let mut framed = vec![FORMAT_V1];
            framed.extend_from_slice(&bytes);
            let _ = parse_blob(&framed);
        }
    }

    #[test]
    fn canonical_context_is_order_free_and_injective() {
        let a: EncryptionContext = [("b", "2"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let b: EncryptionContext = [("a", "1"), ("b", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(canonical_context(&a), canonical_context(&b));
        let c: EncryptionContext = [("a".to_owned(), "bc".to_owned())].into();
        let d: EncryptionContext = [("ab".to_owned(), "c".to_owned())].into();
        assert_ne!(canonical_context(&c), canonical_context(&d));
        assert_ne!(
            canonical_context(&EncryptionContext::new()),
            canonical_context(&[(String::new(), String::new())].into())
        );
    }
}
