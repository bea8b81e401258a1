//! Event payloads sealed at rest: an event may carry secrets (a password reset, a token), so
//! it reaches the store only as a KMS ciphertext blob under the AWS-managed `alias/aws/lambda`
//! key, as the function's environment variables are ([`crate::sealing`]). The encryption
//! context binds it to the function and the event: a blob copied onto another event does not
//! open.

use rampart_kms::{parse_blob, EncryptionContext, KmsService};
use zeroize::Zeroizing;

use crate::error::FunctionsError;
use crate::sealing::MANAGED_KEY_ALIAS;

fn context(function: &str, event_id: &str) -> EncryptionContext {
    EncryptionContext::from([
        ("LambdaFunctionName".to_owned(), function.to_owned()),
        ("LambdaAsyncEventId".to_owned(), event_id.to_owned()),
    ])
}

/// The payload of event `event_id` of `function`, sealed: the blob, self-describing (it names
/// its key), as stored.
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
    kms.encrypt(&key, payload, &context(function, event_id))
        .map_err(failed)
}

/// Opens what [`seal`] sealed for the same function and event.
pub async fn open(
    kms: &KmsService,
    function: &str,
    event_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FunctionsError> {
    let failed = || FunctionsError::Service("Lambda was unable to decrypt the event.".into());
    let blob = parse_blob(sealed).map_err(|_| failed())?;
    let key = kms.key(&blob.key_id).await.map_err(|_| failed())?;
    let key = key.into_key().map_err(|_| failed())?;
    kms.decrypt(&key.record, &blob, &context(function, event_id))
        .map_err(|_| failed())
}
