//! The server side of Cognito's SRP-6a variant (`USER_SRP_AUTH` → `PASSWORD_VERIFIER`).
//!
//! Hand-written on purpose: the SRP crates (`srp`, `srp6`) implement RFC 5054/RFC 2945, and
//! Cognito differs from both in every derived value — `k` and `u` hash the *signed-magnitude*
//! hex encodings of Java's `BigInteger.toByteArray()` (a leading `00` when the high bit is set,
//! no fixed-width padding), `x` mixes the pool name into the identity, and the session key is
//! HKDF-SHA256 over `S` salted with `u` ("Caldera Derived Key", 16 bytes) that then signs a
//! Cognito-specific message. A crate configured "close enough" fails real clients; fakecloud's
//! first version padded `N` wrongly for `k` and refused valid Amplify sign-ins. So the arithmetic
//! is written here, step by step beside the clients' formulas, over `crypto-bigint`'s
//! constant-time Montgomery arithmetic (`BoxedMontyForm::pow` runs in time independent of the
//! exponent's value; `num-bigint-dig`'s `modpow` is variable-time, so it is not used for `b`, `x`
//! or `v`). The clients it was checked against: pycognito's `AWSSRP` and
//! amazon-cognito-identity-js's `AuthenticationHelper` (tests/compat/test_identity_core.py
//! drives both through the `identity_harness` example).
//!
//! The flow, as the user-pool API uses it:
//! 1. password set: [`PasswordVerifier::new`] keeps `salt` and `v = g^x mod N` (sealed under the
//!    root key by the caller), never the password;
//! 2. `InitiateAuth`: [`ServerChallenge::begin`] takes the client's `SRP_A`, answers `SRP_B` and
//!    `SALT`, and already derives the session key `K` (nothing else of the exchange need be kept);
//! 3. `RespondToAuthChallenge`: [`verify_password_claim`] checks `PASSWORD_CLAIM_SIGNATURE`
//!    = base64 HMAC-SHA256(K, poolName ‖ userIdForSrp ‖ SECRET_BLOCK ‖ TIMESTAMP) in constant
//!    time, and that `TIMESTAMP` is Cognito's format and fresh.

mod timestamp;

use std::sync::LazyLock;

use aws_lc_rs::{digest, hkdf, hmac};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd, Resize};
use time::{Duration, OffsetDateTime};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use timestamp::{format_timestamp, parse_timestamp};

/// RFC 5054's (and RFC 3526's) 3072-bit MODP prime, the `N` every Cognito client hard-codes.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D",
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D",
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9",
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64",
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B",
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31",
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
/// The generator, `g = 2`.
const G: u8 = 2;
/// Bits of `N`, and so the precision of every residue.
const BITS: u32 = 3072;
/// Bytes of `N`; verifiers are stored at this fixed width.
pub const MODULUS_BYTES: usize = (BITS / 8) as usize;
/// Bytes of fresh salt per verifier (Cognito's clients use 16 for device verifiers too).
const SALT_BYTES: usize = 16;
/// Bytes of the server's ephemeral secret `b` (RFC 5054 asks for at least 256 bits).
const EPHEMERAL_BYTES: usize = 32;
/// The HKDF `info` Cognito uses for the password authentication key.
const DERIVED_KEY_INFO: &[u8] = b"Caldera Derived Key";
/// Bytes of that key.
pub const SESSION_KEY_BYTES: usize = 16;
/// An `SRP_A` longer than this many hex digits is refused before parsing (a 3072-bit value
/// is 768; room is left for leading zeros).
const MAX_SRP_A_HEX: usize = 2 * MODULUS_BYTES + 64;

/// `N` and its Montgomery parameters.
struct Modulus {
    bytes: Vec<u8>,
    n: NonZero<BoxedUint>,
    params: BoxedMontyParams,
}

static MODULUS: LazyLock<Modulus> = LazyLock::new(|| {
    let bytes = hex_to_bytes(N_HEX).expect("N is valid hex");
    let n = BoxedUint::from_be_slice(&bytes, BITS).expect("N fits 3072 bits");
    let params = BoxedMontyParams::new_vartime(Odd::new(n.clone()).expect("N is odd"));
    Modulus {
        bytes,
        n: NonZero::new(n).expect("N is nonzero"),
        params,
    }
});

/// `g` and `k` as residues, computed once.
struct Group {
    g: BoxedMontyForm,
    k: BoxedMontyForm,
}

static GROUP: LazyLock<Group> = LazyLock::new(|| {
    // k = H(pad(N) ‖ pad(g)). N's high bit is set, so pad(N) is 0x00 ‖ N (385 bytes); pad(2) is
    // the single byte 0x02. Hashing N unpadded, or g padded to 384 bytes as RFC 5054 does, gives
    // a different k and a B no Cognito client can use.
    Group {
        g: residue(&[G]),
        k: residue(&sha256(&[&pad(&MODULUS.bytes), &pad(&[G])])),
    }
});

/// Why an SRP step was refused. The API layer answers every one of them the way Cognito does
/// (`NotAuthorizedException` for a claim that does not verify, `InvalidParameterException` for a
/// malformed `SRP_A`); the variants exist so logs and tests can tell them apart.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrpError {
    /// `SRP_A` is not hexadecimal, is empty, or is implausibly long.
    #[error("SRP_A is not a hexadecimal number")]
    MalformedA,
    /// `A mod N = 0`: the client would force the shared secret to zero (RFC 5054 §2.5.4).
    #[error("SRP_A mod N is zero")]
    ZeroA,
    /// `u = 0` would let a client that knows nothing authenticate.
    #[error("the scrambling parameter u is zero")]
    ZeroU,
    /// The system random source failed.
    #[error("the random source failed")]
    Random,
    /// A stored verifier could not be decoded.
    #[error("the stored verifier is malformed")]
    MalformedVerifier,
    /// `TIMESTAMP` is not of Cognito's form (`Mon Nov 30 13:19:29 UTC 2026`).
    #[error("TIMESTAMP is not of the form \"Mon Nov 30 13:19:29 UTC 2026\"")]
    MalformedTimestamp,
    /// `TIMESTAMP` is outside the freshness window.
    #[error("TIMESTAMP is outside the accepted window")]
    StaleTimestamp,
    /// `PASSWORD_CLAIM_SIGNATURE` does not verify: the wrong password, or a forged claim.
    #[error("the password claim signature does not verify")]
    SignatureMismatch,
}

/// What is stored for a user instead of a password: the salt and `v = g^x mod N`. Both are
/// sealed under the root key by the caller (ARCHITECTURE.md says what a thief could do with
/// them). Not `Debug`: even sealed material stays out of logs.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PasswordVerifier {
    /// The salt in its signed-magnitude form (what `SALT` is the hex of).
    salt: Vec<u8>,
    /// `v`, big-endian, `MODULUS_BYTES` wide.
    verifier: Vec<u8>,
}

impl PasswordVerifier {
    /// A verifier for `password` with a fresh random salt. `pool_name` is the part of the pool id
    /// after the underscore ([`pool_name_for_srp`]); `user_id_for_srp` is the `USER_ID_FOR_SRP` the
    /// challenge will name (the internal user name, which for email-as-username pools is `sub`).
    pub fn new(pool_name: &str, user_id_for_srp: &str, password: &str) -> Result<Self, SrpError> {
        let mut salt = [0u8; SALT_BYTES];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| SrpError::Random)?;
        Ok(Self::with_salt(&salt, pool_name, user_id_for_srp, password))
    }

    /// A verifier with a given salt (big-endian bytes, any leading zeros).
    pub fn with_salt(salt: &[u8], pool_name: &str, user_id_for_srp: &str, password: &str) -> Self {
        let salt = pad(salt);
        // x = H(pad(salt) ‖ H(poolName ‖ userId ‖ ":" ‖ password)), as both clients compute it.
        let identity = Zeroizing::new(sha256(&[
            pool_name.as_bytes(),
            user_id_for_srp.as_bytes(),
            b":",
            password.as_bytes(),
        ]));
        let x = Zeroizing::new(sha256(&[&salt, identity.as_slice()]));
        let x = BoxedUint::from_be_slice(x.as_slice(), 256).expect("32 bytes fit 256 bits");
        let v = GROUP.g.pow(&x);
        Self {
            salt,
            verifier: residue_bytes(&v),
        }
    }

    /// A stand-in for a user that does not exist, so `InitiateAuth` answers an unknown name with a
    /// challenge indistinguishable from a real one (PreventUserExistenceErrors): the salt and
    /// verifier are derived from `decoy_key` (a per-instance secret) and the name, so asking twice
    /// gives the same `SALT`, and it costs the same modular exponentiation a real verifier took.
    pub fn decoy(decoy_key: &[u8], pool_name: &str, user_id_for_srp: &str) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, decoy_key);
        let derive = |label: &[u8]| {
            let mut ctx = hmac::Context::with_key(&key);
            for part in [
                label,
                pool_name.as_bytes(),
                b"\0",
                user_id_for_srp.as_bytes(),
            ] {
                ctx.update(part);
            }
            Zeroizing::new(ctx.sign().as_ref().to_vec())
        };
        let salt = derive(b"rampart srp decoy salt\0");
        let password = derive(b"rampart srp decoy password\0");
        Self::with_salt(
            &salt[..SALT_BYTES],
            pool_name,
            user_id_for_srp,
            &STANDARD.encode(password.as_slice()),
        )
    }

    /// `SALT` as the challenge carries it: the hex of the signed-magnitude salt, which both
    /// clients turn back into the same bytes (pycognito pads the string it is given, the
    /// JavaScript client re-encodes the number; only this form makes them agree).
    pub fn salt_hex(&self) -> String {
        bytes_to_hex(&self.salt)
    }

    /// The storable form: `len(salt) as u8 ‖ salt ‖ v` (`MODULUS_BYTES`). Seal it before storing.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Vec::with_capacity(1 + self.salt.len() + self.verifier.len());
        out.push(u8::try_from(self.salt.len()).expect("salt is short"));
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.verifier);
        Zeroizing::new(out)
    }

    /// Reads [`PasswordVerifier::to_bytes`]'s form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SrpError> {
        let (&len, rest) = bytes.split_first().ok_or(SrpError::MalformedVerifier)?;
        let len = usize::from(len);
        if len == 0 || rest.len() != len + MODULUS_BYTES {
            return Err(SrpError::MalformedVerifier);
        }
        let (salt, verifier) = rest.split_at(len);
        let v =
            BoxedUint::from_be_slice(verifier, BITS).map_err(|_| SrpError::MalformedVerifier)?;
        if v.cmp_vartime(MODULUS.n.as_ref()) != std::cmp::Ordering::Less {
            return Err(SrpError::MalformedVerifier);
        }
        Ok(Self {
            salt: salt.to_vec(),
            verifier: verifier.to_vec(),
        })
    }
}

/// The 16-byte key both sides derive; it signs the password claim. Kept (sealed) between
/// `InitiateAuth` and `RespondToAuthChallenge` instead of `b`. Wiped on drop; not `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey([u8; SESSION_KEY_BYTES]);

impl SessionKey {
    /// The raw key, for sealing into the challenge session.
    pub fn as_bytes(&self) -> &[u8; SESSION_KEY_BYTES] {
        &self.0
    }

    /// The key back from an unsealed session.
    pub fn from_bytes(bytes: [u8; SESSION_KEY_BYTES]) -> Self {
        Self(bytes)
    }
}

/// The server's answer to `SRP_A`: what the `PASSWORD_VERIFIER` challenge carries, and the
/// session key to keep for the response.
pub struct ServerChallenge {
    /// `SRP_B`, lowercase hex without padding (as Java's `BigInteger.toString(16)` writes it).
    pub srp_b: String,
    /// `SALT`.
    pub salt: String,
    /// `K`, to verify the client's claim with.
    pub session_key: SessionKey,
}

impl ServerChallenge {
    /// Answers the client's `SRP_A` for the user whose verifier is `verifier`:
    /// `B = k·v + g^b`, `u = H(pad(A) ‖ pad(B))`, `S = (A·v^u)^b`,
    /// `K = HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key")[..16]`.
    pub fn begin(verifier: &PasswordVerifier, srp_a_hex: &str) -> Result<Self, SrpError> {
        let a_bytes = parse_srp_a(srp_a_hex)?;
        // A is public: reducing it in variable time leaks nothing.
        let a = BoxedUint::from_be_slice_vartime(&a_bytes).rem_vartime(&MODULUS.n);
        if a.is_zero().to_bool() {
            return Err(SrpError::ZeroA);
        }
        let a_canonical = a.to_be_bytes_trimmed_vartime();
        let a = BoxedMontyForm::new(a.resize(BITS), &MODULUS.params);
        let v = residue(&verifier.verifier);
        loop {
            let mut b = Zeroizing::new([0u8; EPHEMERAL_BYTES]);
            aws_lc_rs::rand::fill(b.as_mut_slice()).map_err(|_| SrpError::Random)?;
            // B = 0 would be refused by the client: draw another b (probability ~2^-3072).
            if let Some(challenge) = Self::answer(verifier, &a, &a_canonical, &v, b.as_slice())? {
                return Ok(challenge);
            }
        }
    }

    /// One attempt with the ephemeral secret `b`; `None` when `B mod N = 0`.
    fn answer(
        verifier: &PasswordVerifier,
        a: &BoxedMontyForm,
        a_canonical: &[u8],
        v: &BoxedMontyForm,
        b: &[u8],
    ) -> Result<Option<Self>, SrpError> {
        let group = &*GROUP;
        let mut b =
            BoxedUint::from_be_slice(b, 8 * EPHEMERAL_BYTES as u32).expect("b fits 256 bits");
        let big_b = &(&group.k * v) + &group.g.pow(&b);
        let big_b_bytes = residue_bytes(&big_b);
        if big_b_bytes.iter().all(|&byte| byte == 0) {
            b.zeroize();
            return Ok(None);
        }
        let u = sha256(&[&pad(a_canonical), &pad(&big_b_bytes)]);
        if u.iter().all(|&byte| byte == 0) {
            b.zeroize();
            return Err(SrpError::ZeroU);
        }
        let u_int = BoxedUint::from_be_slice(&u, 256).expect("32 bytes fit 256 bits");
        let mut s = (a * &v.pow(&u_int)).pow(&b);
        b.zeroize();
        let s_bytes = Zeroizing::new(residue_bytes(&s));
        s.zeroize();
        Ok(Some(Self {
            srp_b: bytes_to_hex(strip_zeros(&big_b_bytes)),
            salt: verifier.salt_hex(),
            session_key: derive_session_key(&pad(&s_bytes), &pad(&u)),
        }))
    }

    /// [`ServerChallenge::begin`] with a chosen `b` (known-answer tests only).
    #[cfg(test)]
    pub(crate) fn begin_with_ephemeral(
        verifier: &PasswordVerifier,
        srp_a_hex: &str,
        b: &[u8; EPHEMERAL_BYTES],
    ) -> Result<Option<Self>, SrpError> {
        let a_bytes = parse_srp_a(srp_a_hex)?;
        let a = BoxedUint::from_be_slice_vartime(&a_bytes).rem_vartime(&MODULUS.n);
        let a_canonical = a.to_be_bytes_trimmed_vartime();
        let a = BoxedMontyForm::new(a.resize(BITS), &MODULUS.params);
        Self::answer(verifier, &a, &a_canonical, &residue(&verifier.verifier), b)
    }
}

/// The response to a `PASSWORD_VERIFIER` challenge, as the client sent it.
pub struct PasswordClaim<'a> {
    /// The `SECRET_BLOCK` the server issued, base64-decoded (the signature covers its bytes).
    pub secret_block: &'a [u8],
    /// `TIMESTAMP`, e.g. `Mon Nov 30 13:19:29 UTC 2026`.
    pub timestamp: &'a str,
    /// `PASSWORD_CLAIM_SIGNATURE`, base64.
    pub signature: &'a str,
}

/// Checks a password claim: the signature, in constant time, over
/// `poolName ‖ userIdForSrp ‖ secretBlock ‖ timestamp` with the session key, and that the
/// timestamp is no further than `window` from `now` either way (clients' clocks drift; the
/// session itself is single-use and short-lived, which is what bounds replay).
pub fn verify_password_claim(
    session_key: &SessionKey,
    pool_name: &str,
    user_id_for_srp: &str,
    claim: &PasswordClaim<'_>,
    now: OffsetDateTime,
    window: Duration,
) -> Result<(), SrpError> {
    let signed_at = parse_timestamp(claim.timestamp)?;
    let signature = STANDARD
        .decode(claim.signature.trim())
        .map_err(|_| SrpError::SignatureMismatch)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, session_key.as_bytes());
    let mut message = Vec::with_capacity(
        pool_name.len() + user_id_for_srp.len() + claim.secret_block.len() + claim.timestamp.len(),
    );
    message.extend_from_slice(pool_name.as_bytes());
    message.extend_from_slice(user_id_for_srp.as_bytes());
    message.extend_from_slice(claim.secret_block);
    message.extend_from_slice(claim.timestamp.as_bytes());
    // aws-lc-rs compares the tags in constant time.
    hmac::verify(&key, &message, &signature).map_err(|_| SrpError::SignatureMismatch)?;
    if (signed_at - now).abs() > window {
        return Err(SrpError::StaleTimestamp);
    }
    Ok(())
}

/// The pool name SRP mixes in: the part of the pool id after the first underscore
/// (`us-east-1_AbC123` → `AbC123`), exactly as both clients split it.
pub fn pool_name_for_srp(pool_id: &str) -> &str {
    pool_id.split('_').nth(1).unwrap_or("")
}

fn derive_session_key(ikm: &[u8], salt: &[u8]) -> SessionKey {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            SESSION_KEY_BYTES
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut key = [0u8; SESSION_KEY_BYTES];
    prk.expand(&[DERIVED_KEY_INFO], Len)
        .and_then(|okm| okm.fill(&mut key))
        .expect("16 bytes is a valid HKDF-SHA256 length");
    SessionKey(key)
}

/// Java's `BigInteger.toByteArray()` for a non-negative number given as big-endian bytes: the
/// minimal encoding with a leading `0x00` when its high bit is set (zero is one `0x00`). Every
/// value Cognito hashes goes through this (`padHex` in the clients).
pub(crate) fn pad(bytes: &[u8]) -> Vec<u8> {
    let trimmed = strip_zeros(bytes);
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// A residue mod N from big-endian bytes no wider than N (constant-time reduction).
fn residue(bytes: &[u8]) -> BoxedMontyForm {
    let value = BoxedUint::from_be_slice(bytes, BITS).expect("value fits 3072 bits");
    BoxedMontyForm::new(value.rem(&MODULUS.n), &MODULUS.params)
}

fn residue_bytes(value: &BoxedMontyForm) -> Vec<u8> {
    value.retrieve().to_be_bytes().into_vec()
}

fn parse_srp_a(hex: &str) -> Result<Vec<u8>, SrpError> {
    let hex = hex.trim();
    if hex.is_empty() || hex.len() > MAX_SRP_A_HEX {
        return Err(SrpError::MalformedA);
    }
    // Clients send `A.toString(16)`: no padding, so possibly an odd number of digits.
    let padded;
    let even = if !hex.len().is_multiple_of(2) {
        padded = format!("0{hex}");
        padded.as_str()
    } else {
        hex
    };
    hex_to_bytes(even).ok_or(SrpError::MalformedA)
}

pub(crate) fn hex_to_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

pub(crate) fn bytes_to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The group's public constants, for tests and the interop harness.
pub fn modulus_bytes() -> &'static [u8] {
    &MODULUS.bytes
}

#[cfg(test)]
mod tests;
