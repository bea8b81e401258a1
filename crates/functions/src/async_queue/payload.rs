//! Event payloads sealed at rest: an event may carry secrets (a password reset, a token), so it
//! reaches the store only sealed, by envelope encryption as Secrets Manager seals values: a
//! fresh 256-bit data key per event, sealed by KMS under the AWS-managed `alias/aws/lambda` key
//! (the key that seals the function's environment variables, [`crate::sealing`]), and the
//! payload sealed under it with AES-256-GCM — KMS seals at most 4 KiB directly, an event may be
//! 256 KiB. The function and the event are the KMS encryption context and the payload's
//! associated data: a sealed payload copied onto another event does not open.
//!
//! As stored (hand-framed rather than JSON and base64, which would add a third to 256 KiB):
//!
//! ```text
//! 1 byte   format (1)
//! 2 bytes  length n of the wrapped data key, big-endian
//! n bytes  the KMS ciphertext blob of the data key
//! 12 bytes AES-GCM nonce
//! rest     the payload sealed under the data key, followed by its 16-byte tag
//! ```

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use rampart_kms::custody::random_bytes;
use rampart_kms::{parse_blob, EncryptionContext, KmsService};
use zeroize::Zeroizing;

use crate::error::FunctionsError;
use crate::sealing::MANAGED_KEY_ALIAS;

const FORMAT: u8 = 1;
/// Labels the payload's associated data, so it is never confused with another use of a key.
const AAD_LABEL: &str = "rampart:lambda:async-event:v1";

fn context(function: &str, event_id: &str) -> EncryptionContext {
    EncryptionContext::from([
        ("LambdaFunctionName".to_owned(), function.to_owned()),
        ("LambdaAsyncEventId".to_owned(), event_id.to_owned()),
    ])
}

fn aad(function: &str, event_id: &str) -> Vec<u8> {
    format!("{AAD_LABEL}\0{function}\0{event_id}").into_bytes()
}

fn cipher(data_key: &[u8]) -> Result<LessSafeKey, FunctionsError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| FunctionsError::Service("A data key is malformed.".into()))
}

/// The payload of event `event_id` of `function`, sealed, as stored.
pub async fn seal(
    kms: &KmsService,
    function: &str,
    event_id: &str,
    payload: &[u8],
) -> Result<Vec<u8>, FunctionsError> {
    let failed = |e: rampart_kms::KmsError| {
        FunctionsError::Service(format!(
            "Lambda was unable to encrypt the event: {}",
            e.code()
        ))
    };
    let key = kms
        .aws_managed_key(MANAGED_KEY_ALIAS)
        .await
        .map_err(failed)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    random_bytes(data_key.as_mut());
    let wrapped = kms
        .encrypt(&key, data_key.as_ref(), &context(function, event_id))
        .map_err(failed)?;
    let wrapped_len = u16::try_from(wrapped.len())
        .map_err(|_| FunctionsError::Service("A wrapped data key is too long.".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce);
    let mut sealed = payload.to_vec();
    cipher(data_key.as_ref())?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(function, event_id)),
            &mut sealed,
        )
        .map_err(|_| FunctionsError::Service("Lambda was unable to encrypt the event.".into()))?;
    let mut out = Vec::with_capacity(3 + wrapped.len() + NONCE_LEN + sealed.len());
    out.push(FORMAT);
    out.extend_from_slice(&wrapped_len.to_be_bytes());
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`seal`] sealed for the same function and event. Reads untrusted bytes: never
/// panics on any input.
pub async fn open(
    kms: &KmsService,
    function: &str,
    event_id: &str,
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FunctionsError> {
    let failed = || FunctionsError::Service("Lambda was unable to decrypt the event.".into());
    let (&format, rest) = stored.split_first().ok_or_else(failed)?;
    if format != FORMAT || rest.len() < 2 {
        return Err(failed());
    }
    let (len, rest) = rest.split_at(2);
    let wrapped_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if rest.len() < wrapped_len + NONCE_LEN {
        return Err(failed());
    }
    let (wrapped, rest) = rest.split_at(wrapped_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| failed())?;
    let blob = parse_blob(wrapped).map_err(|_| failed())?;
    let key = kms.key(&blob.key_id).await.map_err(|_| failed())?;
    let key = key.into_key().map_err(|_| failed())?;
    let data_key = kms
        .decrypt(&key.record, &blob, &context(function, event_id))
        .map_err(|_| failed())?;
    let mut bytes = Zeroizing::new(sealed.to_vec());
    let len = cipher(&data_key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(function, event_id)),
            bytes.as_mut_slice(),
        )
        .map_err(|_| failed())?
        .len();
    bytes.truncate(len);
    Ok(bytes)
}
