//! A function's environment variables, sealed through KMS before they reach the store.
//!
//! AWS encrypts them at rest under the AWS-managed `alias/aws/lambda` key (or the function's
//! `KMSKeyArn`, a later slice) with the encryption context `{"LambdaFunctionName": <name>}`;
//! so does Rampart: the variables are one JSON object sealed by KMS under that key and
//! context, opened only to start an execution environment or to answer a caller allowed to
//! read the function's configuration.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rampart_kms::{parse_blob, EncryptionContext, KmsService};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::FunctionsError;

/// The AWS-managed key Lambda seals environment variables under by default.
pub const MANAGED_KEY_ALIAS: &str = "alias/aws/lambda";

/// Environment variables in the clear, wiped from memory when dropped.
pub struct Variables(pub BTreeMap<String, Zeroizing<String>>);

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Environment variables as stored: nothing in them opens without KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedVariables {
    /// The ARN of the key they are sealed under.
    pub key_arn: String,
    /// The KMS ciphertext blob, base64.
    pub blob: String,
}

fn context(function_name: &str) -> EncryptionContext {
    EncryptionContext::from([("LambdaFunctionName".to_owned(), function_name.to_owned())])
}

/// Seals `variables` of the function `function_name` under the AWS-managed key.
pub async fn seal(
    kms: &KmsService,
    function_name: &str,
    variables: &Variables,
) -> Result<SealedVariables, FunctionsError> {
    let key = kms.aws_managed_key(MANAGED_KEY_ALIAS).await.map_err(|e| {
        FunctionsError::Service(format!(
            "Lambda was unable to encrypt your environment variables: {}",
            e.code()
        ))
    })?;
    let clear: BTreeMap<&str, &str> = variables
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let json = Zeroizing::new(serde_json::to_vec(&clear).expect("strings serialise"));
    let blob = kms
        .encrypt(&key, &json, &context(function_name))
        .map_err(|e| {
            FunctionsError::Service(format!(
                "Lambda was unable to encrypt your environment variables: {}",
                e.code()
            ))
        })?;
    Ok(SealedVariables {
        key_arn: key.arn.clone(),
        blob: STANDARD.encode(blob),
    })
}

/// Opens the sealed variables of the function `function_name`.
pub async fn open(
    kms: &KmsService,
    function_name: &str,
    sealed: &SealedVariables,
) -> Result<Variables, FunctionsError> {
    let failed = || {
        FunctionsError::Service("Lambda was unable to decrypt the environment variables.".into())
    };
    let bytes = STANDARD.decode(&sealed.blob).map_err(|_| failed())?;
    let blob = parse_blob(&bytes).map_err(|_| failed())?;
    let key = kms.key(&blob.key_id).await.map_err(|_| failed())?;
    let key = key.into_key().map_err(|_| failed())?;
    let clear = kms
        .decrypt(&key.record, &blob, &context(function_name))
        .map_err(|_| failed())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&clear).map_err(|_| failed())?;
    Ok(Variables(
        map.into_iter()
            .map(|(k, v)| (k, Zeroizing::new(v)))
            .collect(),
    ))
}
