//! The signing key, the string to sign, and the constant-time signature comparison.

use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;

use super::auth::{Authorization, ALGORITHM};
use super::canonical::hex_into;
use super::datetime::amz_date;

/// The key for one credential scope: HMAC chained over the secret, date, region and service.
///
/// Deriving takes four HMACs, so callers cache keys per (secret, date, region, service); the
/// bytes are a credential for that day, so `Debug` never shows them. The HMAC key schedule (the
/// hashed inner and outer pads, two SHA-256 blocks) is computed once here too, not on every
/// verification.
#[derive(Clone)]
pub struct SigningKey {
    #[cfg(test)]
    bytes: [u8; 32],
    hmac: hmac::Key,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

impl SigningKey {
    /// Derives the key for a secret access key and a credential scope (`date` is `YYYYMMDD`).
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> SigningKey {
        let mut secret = Vec::with_capacity(4 + secret_access_key.len());
        secret.extend_from_slice(b"AWS4");
        secret.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac_sha256(&secret, date.as_bytes());
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        let bytes = hmac_sha256(&k_service, b"aws4_request");
        SigningKey {
            #[cfg(test)]
            bytes,
            hmac: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        }
    }

    /// The signature of a string to sign: what a client puts in `Signature=` (as hex). Useful
    /// to tests and to code that presigns URLs for clients.
    pub fn sign(&self, string_to_sign: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.hmac, string_to_sign);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// Feeds the string to sign, piece by piece, so that verification needs no buffer for it.
fn string_to_sign_pieces(auth: &Authorization, hashed_request: &[u8], mut emit: impl FnMut(&[u8])) {
    let scope = &auth.scope;
    emit(ALGORITHM.as_bytes());
    emit(b"\n");
    emit(amz_date(auth.request_time).as_bytes());
    emit(b"\n");
    for piece in [
        scope.date,
        "/",
        scope.region,
        "/",
        scope.service,
        "/aws4_request\n",
    ] {
        emit(piece.as_bytes());
    }
    emit(hashed_request);
}

fn hashed_request(canonical_request: &[u8]) -> [u8; 64] {
    let mut hex = [0u8; 64];
    hex_into(
        digest::digest(&digest::SHA256, canonical_request).as_ref(),
        &mut hex,
    );
    hex
}

/// The string to sign for a canonical request:
/// `AWS4-HMAC-SHA256\n<X-Amz-Date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(auth: &Authorization, canonical_request: &str) -> String {
    let hashed = hashed_request(canonical_request.as_bytes());
    let mut out = Vec::with_capacity(128);
    string_to_sign_pieces(auth, &hashed, |p| out.extend_from_slice(p));
    // Every piece comes from a `&str` or is ASCII.
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `auth.signature` signs `canonical_request` under `key`, compared in constant time.
pub(crate) fn signature_matches(
    canonical_request: &[u8],
    auth: &Authorization,
    key: &SigningKey,
) -> bool {
    let hashed = hashed_request(canonical_request);
    let mut ctx = hmac::Context::with_key(&key.hmac);
    string_to_sign_pieces(auth, &hashed, |p| ctx.update(p));
    let tag = ctx.sign();
    tag.as_ref().ct_eq(&auth.signature).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_example_key() {
        // From the AWS SigV4 documentation ("Examples of how to derive a signing key").
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        let mut hex = [0u8; 64];
        hex_into(&key.bytes, &mut hex);
        assert_eq!(
            std::str::from_utf8(&hex).unwrap(),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
