//! What authorization needs to know about the key a request names: the key's ARN, read from
//! its *stored* record (whatever identifier the request used — key id, key ARN, alias name or
//! alias ARN), the key policy that must allow the request, and the condition keys AWS
//! documents for KMS (`kms:CallerAccount`, `kms:RequestAlias`, `kms:EncryptionContext:*`,
//! `kms:EncryptionContextKeys`, `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`,
//! `aws:ResourceTag/*`).
//!
//! A key that does not exist gets a check on the ARN its identifier would have and no key
//! policy, so the caller's IAM policies alone decide; the operation then answers
//! `NotFoundException`, which only a caller allowed to ask ever sees.

use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};

use crate::blob::EncryptionContext;
use crate::error::KmsError;
use crate::key_policy;
use crate::keys::{KeyRecord, KeyRef, Stored, ALGORITHM, KEY_ORIGIN, KEY_SPEC, KEY_USAGE};
use crate::KmsService;

/// A key as authorization sees it: the ARN checks are made on and the stored record, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTarget {
    /// The stored key's ARN; for a key that does not exist, the ARN the identifier names.
    pub arn: String,
    /// The alias the request named the key by (`kms:RequestAlias`).
    pub alias: Option<String>,
    /// The ARN of that alias, for `NotFoundException` when the alias does not exist.
    pub alias_arn: Option<String>,
    /// The key as stored when authorization read it.
    pub key: Option<Stored<KeyRecord>>,
}

impl KeyTarget {
    /// `action` on this key: its ARN, its key policy (which must allow, as a trust policy
    /// must), the caller's account and what the stored record says about the key.
    pub fn check(&self, action: &str, caller_account: &str) -> Check {
        let mut check = Check::on(action, &self.arn).with_key("kms:CallerAccount", caller_account);
        if let Some(alias) = &self.alias {
            check.push_key("kms:RequestAlias", alias);
        }
        if let Some(stored) = &self.key {
            let key = &stored.record;
            check.push_key("kms:KeySpec", KEY_SPEC);
            check.push_key("kms:KeyUsage", KEY_USAGE);
            check.push_key("kms:KeyOrigin", KEY_ORIGIN);
            for tag in &key.tags {
                check.push_key(format!("aws:ResourceTag/{}", tag.key), &tag.value);
            }
            check = check.with_resource_policy(ResourcePolicy {
                kind: ResourcePolicyKind::Trust,
                document: key_policy::for_evaluation(&key.policy, &key.arn),
            });
        }
        check
    }

    /// The same check for a cryptographic operation: with the algorithm and the encryption
    /// context the request carries.
    pub fn crypto_check(
        &self,
        action: &str,
        caller_account: &str,
        context: &EncryptionContext,
    ) -> Check {
        let mut check = self.check(action, caller_account);
        check.push_key("kms:EncryptionAlgorithm", ALGORITHM);
        push_encryption_context(&mut check, context);
        check
    }

    /// The authorized key, or AWS's `NotFoundException` for what the request named.
    pub fn into_key(self) -> Result<Stored<KeyRecord>, KmsError> {
        match self.key {
            Some(key) => Ok(key),
            None => Err(match self.alias_arn {
                Some(alias_arn) => KmsError::NotFound(format!("Alias {alias_arn} is not found.")),
                None => KmsError::NotFound(format!("Key '{}' does not exist", self.arn)),
            }),
        }
    }
}

/// `kms:EncryptionContext:<key>` for each pair and `kms:EncryptionContextKeys` (multivalued).
pub fn push_encryption_context(check: &mut Check, context: &EncryptionContext) {
    for (key, value) in context {
        check.push_key(format!("kms:EncryptionContext:{key}"), value);
        check.push_key("kms:EncryptionContextKeys", key);
    }
}

/// A key a request names by one of the identifiers KMS accepts, and, once its checks are
/// declared, the key those checks were made on.
#[derive(Debug, Clone)]
pub(crate) struct NamedKey {
    pub reference: KeyRef,
    pub target: Option<KeyTarget>,
}

impl NamedKey {
    /// Reads the `field` member's identifier.
    pub fn parse(text: &str, field: &str) -> Result<Self, KmsError> {
        if text.is_empty() || text.len() > 2048 {
            return Err(KmsError::constraint(
                text,
                field,
                "Member must have length between 1 and 2048",
            ));
        }
        Ok(NamedKey {
            reference: KeyRef::parse(text)?,
            target: None,
        })
    }

    /// Resolves the key through the store and keeps it; answers the target to build checks on.
    pub async fn resolve(&mut self, kms: &KmsService) -> Result<&KeyTarget, KmsError> {
        let target = kms.target(&self.reference).await?;
        Ok(self.target.insert(target))
    }

    /// Resolves the key and declares `action` on it.
    pub async fn check(
        &mut self,
        kms: &KmsService,
        action: &str,
        caller_account: &str,
    ) -> Result<Check, KmsError> {
        Ok(self.resolve(kms).await?.check(action, caller_account))
    }

    /// The key authorization was decided on (or `NotFoundException`).
    pub fn into_key(self) -> Result<Stored<KeyRecord>, KmsError> {
        self.target
            .ok_or_else(|| KmsError::Internal("The key was not resolved before use.".into()))?
            .into_key()
    }
}
