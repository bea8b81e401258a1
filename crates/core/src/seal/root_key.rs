//! One root key, its id, and the sealed-value formats (`v2`, and legacy `v1`).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{self, HKDF_SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use zeroize::Zeroizing;

use super::{SealError, SealPurpose};

const V1_PREFIX: &str = "v1:";
const V2_PREFIX: &str = "v2:";
const TAG_LEN: usize = 16;
/// The id is 8 bytes: enough to tell an installation's few root keys apart (a collision would
/// only make a value fail to open, never open under the wrong key: GCM authenticates).
const ID_LEN: usize = 8;
/// HKDF labels: the id and the v2 sealing key are independent derivations of the root key.
const ID_LABEL: &[u8] = b"rampart root key: id";
const SEAL_V2_LABEL: &[u8] = b"rampart root key: seal v2";
/// The first field of a v2 value's associated data.
const V2_AAD_PREFIX: &[u8] = b"rampart:seal:v2";

/// A root key's id: a fingerprint derived from the key (HKDF-SHA-256 under a fixed label,
/// truncated to 8 bytes), shown as 16 hex digits. It names the key without revealing it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RootKeyId([u8; ID_LEN]);

impl std::fmt::Display for RootKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for RootKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootKeyId({self})")
    }
}

impl std::str::FromStr for RootKeyId {
    type Err = SealError;

    /// 16 lower-case hex digits, as [`Display`](std::fmt::Display) writes it.
    fn from_str(s: &str) -> Result<Self, SealError> {
        let mut id = [0u8; ID_LEN];
        if s.len() != 2 * ID_LEN || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(SealError::Malformed);
        }
        hex::decode_to_slice(s, &mut id).map_err(|_| SealError::Malformed)?;
        Ok(RootKeyId(id))
    }
}

impl serde::Serialize for RootKeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RootKeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One 256-bit root key.
pub struct RootKey {
    id: RootKeyId,
    raw: Zeroizing<[u8; 32]>,
    /// AES-256-GCM under a subkey derived for the v2 format.
    v2: LessSafeKey,
    /// AES-256-GCM under the raw key, which is how v1 values were sealed (opening only).
    v1: LessSafeKey,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootKey({})", self.id)
    }
}

/// An HKDF output length.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(raw: &[u8; 32], label: &[u8], out: &mut [u8]) {
    hkdf::Salt::new(HKDF_SHA256, &[])
        .extract(raw)
        .expand(&[label], Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("HKDF-SHA-256 of at most 32 bytes cannot fail");
}

fn aes(raw: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw).expect("32-byte AES-256 key"))
}

/// Fills `buf` from the operating system's CSPRNG; a key custodian without randomness cannot
/// carry on.
fn random(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the operating system's random source failed");
}

impl RootKey {
    /// A fresh random key.
    pub fn generate() -> RootKey {
        let mut raw = Zeroizing::new([0u8; 32]);
        random(raw.as_mut_slice());
        Self::from_bytes(raw.as_slice()).expect("32 bytes")
    }

    /// The key whose raw bytes are `raw` (exactly 32).
    pub fn from_bytes(raw: &[u8]) -> Result<RootKey, SealError> {
        let raw: Zeroizing<[u8; 32]> =
            Zeroizing::new(raw.try_into().map_err(|_| SealError::BadKeyLength)?);
        let mut id = [0u8; ID_LEN];
        derive(&raw, ID_LABEL, &mut id);
        let mut v2 = Zeroizing::new([0u8; 32]);
        derive(&raw, SEAL_V2_LABEL, v2.as_mut_slice());
        Ok(RootKey {
            id: RootKeyId(id),
            v2: aes(v2.as_slice()),
            v1: aes(raw.as_slice()),
            raw,
        })
    }

    pub fn id(&self) -> RootKeyId {
        self.id
    }

    /// The raw key, for writing it to a keyring file (and nowhere else).
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.raw
    }

    /// Seals `plaintext` for `purpose`, bound to `context`, as a `v2` value.
    pub fn seal(&self, purpose: SealPurpose, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce);
        // Sealed in place: the copy of the plaintext becomes the ciphertext.
        let mut body = plaintext.to_vec();
        self.v2
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(v2_aad(self.id, purpose, context)),
                &mut body,
            )
            .expect("AES-GCM sealing cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&out);
        format!("{V2_PREFIX}{}:{encoded}", self.id)
    }

    /// Opens a value this key sealed (`v2`), or a legacy `v1` value sealed under this key as a
    /// raw key.
    pub fn open(
        &self,
        sealed: &str,
        purpose: SealPurpose,
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        match parse(sealed)? {
            Parsed::V1(body) => {
                let aad = purpose.legacy_v1_aad(context).ok_or(SealError::Malformed)?;
                open_body(&self.v1, &body, aad.as_bytes())
            }
            Parsed::V2(id, _) if id != self.id => Err(SealError::UnknownRootKey(id)),
            Parsed::V2(id, body) => open_body(&self.v2, &body, &v2_aad(id, purpose, context)),
        }
    }
}

/// `rampart:seal:v2 NUL purpose NUL key id NUL context`: the context comes last and nothing
/// before it can hold a NUL, so no two (purpose, key, context) triples share associated data.
fn v2_aad(id: RootKeyId, purpose: SealPurpose, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(48 + context.len());
    for field in [
        V2_AAD_PREFIX,
        purpose.label().as_bytes(),
        id.to_string().as_bytes(),
    ] {
        aad.extend_from_slice(field);
        aad.push(0);
    }
    aad.extend_from_slice(context.as_bytes());
    aad
}

fn open_body(key: &LessSafeKey, body: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| SealError::Unauthentic)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Which key a sealed value needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedBy {
    /// A `v1` value of an older install: no key id; sealed under the raw key it had then.
    LegacyV1,
    /// A `v2` value sealed under this root key.
    RootKey(RootKeyId),
}

/// Reads a sealed value's header (format and key id) without decoding or opening the body,
/// which [`RootKey::open`] checks.
pub fn sealed_by(sealed: &str) -> Result<SealedBy, SealError> {
    if let Some(rest) = sealed.strip_prefix(V2_PREFIX) {
        let (id, _) = rest.split_once(':').ok_or(SealError::Malformed)?;
        Ok(SealedBy::RootKey(id.parse()?))
    } else if sealed.starts_with(V1_PREFIX) {
        Ok(SealedBy::LegacyV1)
    } else {
        Err(SealError::Malformed)
    }
}

enum Parsed {
    V1(Vec<u8>),
    V2(RootKeyId, Vec<u8>),
}

fn parse(sealed: &str) -> Result<Parsed, SealError> {
    let decode = |b64: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SealError::Malformed)
    };
    if let Some(rest) = sealed.strip_prefix(V2_PREFIX) {
        let (id, b64) = rest.split_once(':').ok_or(SealError::Malformed)?;
        Ok(Parsed::V2(id.parse()?, decode(b64)?))
    } else if let Some(b64) = sealed.strip_prefix(V1_PREFIX) {
        Ok(Parsed::V1(decode(b64)?))
    } else {
        Err(SealError::Malformed)
    }
}

/// Seals a value the way Rampart did before `v2` (raw key, bare context as associated data),
/// so tests can build the stores of older installs. Nothing else may write `v1`.
#[cfg(any(test, feature = "test-support"))]
pub fn seal_v1_for_tests(
    key: &RootKey,
    purpose: SealPurpose,
    context: &str,
    plaintext: &[u8],
) -> String {
    let aad = purpose
        .legacy_v1_aad(context)
        .expect("this purpose existed in v1");
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce);
    let mut body = plaintext.to_vec();
    key.v1
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut body,
        )
        .expect("AES-GCM sealing cannot fail for in-memory buffers");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    format!(
        "{V1_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    )
}
