//! The Secrets Manager service: what it holds (the store, the platform's KMS, the account and
//! region its ARNs name) and the checks a request declares on what it names — the secret, by
//! its *stored* ARN whatever identifier the request used, and the KMS key its value is sealed
//! under.
//!
//! **Keys.** A secret under a customer-managed key needs the caller to be allowed the KMS
//! action too (`kms:GenerateDataKey` to seal, `kms:Decrypt` to open), declared as a second
//! check with the key policy as its resource policy and `kms:ViaService` set to this service,
//! exactly as AWS evaluates the call Secrets Manager makes on the caller's behalf. A secret
//! under the AWS-managed `alias/aws/secretsmanager` key declares no KMS check: that key's
//! policy (`key_policy::aws_managed_policy`) allows every principal of the account to use it
//! when `kms:ViaService` is `secretsmanager.<region>.amazonaws.com` and `kms:CallerAccount` is
//! the account — which holds by construction for every request this service serves, so the
//! `secretsmanager:*` check is the whole decision, as on AWS, and the internal seal/open goes
//! straight through [`KmsService::encrypt`]/[`KmsService::decrypt`]. Other AWS-managed keys
//! (`aws/lambda`) allow only their own service, so they get the KMS check like a customer key
//! and their key policy refuses it.

use std::sync::Arc;

use rampart_kms::keys::{KeyManager, KeyRef};
use rampart_kms::{EncryptionContext, KeyRecord, KeyTarget, KmsService};
use rampart_store::Store;
use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};
use time::OffsetDateTime;

use crate::cache::SecretCaches;
use crate::error::SecretsError;
use crate::records::{self, SecretRecord, Stored, Tag};
use crate::rotation::runner::Rotator;
use crate::rotation::{Clock, NoFunctions, RotationInvoker, SystemClock};
use crate::sealing::SealedParts;
use crate::secret_id;

/// The AWS-managed key secrets are sealed under when they name none.
pub const MANAGED_KEY_ALIAS: &str = "alias/aws/secretsmanager";

/// The Secrets Manager service.
pub struct SecretsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) kms: Arc<KmsService>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    /// Invokes rotation functions and runs rotations.
    pub(crate) rotator: Rotator,
    /// What read operations read (shared with the rotator, whose commits empty it too).
    pub(crate) caches: Arc<SecretCaches>,
}

impl SecretsService {
    /// Secrets Manager for the installation's `account_id`, minting ARNs in `region`, sealing
    /// values through `kms` (the same KMS the API serves, so its keys and policies apply).
    pub fn new(
        store: Arc<dyn Store>,
        kms: Arc<KmsService>,
        account_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        let caches = Arc::new(SecretCaches::default());
        SecretsService {
            rotator: Rotator::new(
                store.clone(),
                caches.clone(),
                Arc::new(NoFunctions),
                Arc::new(SystemClock),
            ),
            caches,
            store,
            kms,
            account_id: account_id.into(),
            region: region.into(),
        }
    }

    /// The same service invoking rotation functions through `invoker` (by default
    /// [`NoFunctions`]: no function exists, so every rotation is refused).
    pub fn with_rotation_invoker(mut self, invoker: Arc<dyn RotationInvoker>) -> Self {
        self.rotator.invoker = invoker;
        self
    }

    /// The same service reading rotation times (schedules, rotation dates) from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.rotator.clock = clock;
        self
    }

    /// After a write through this node (whether or not it succeeded: it may have committed
    /// before failing), nothing cached may be trusted any more.
    pub(crate) fn changed(&self) {
        self.caches.invalidate_all();
    }

    /// A fresh ARN for a secret named `name`.
    pub fn mint_arn(&self, name: &str) -> String {
        secret_id::mint_arn(&self.region, &self.account_id, name)
    }

    /// The live secret `secret_id` names (a name, a full ARN or a partial ARN), read from the
    /// store.
    pub async fn find(
        &self,
        secret_id: &str,
    ) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
        self.lookup(secret_id, Read::Store).await
    }

    /// The same, from memory if read less than the TTL ago (for read operations).
    pub(crate) async fn find_cached(
        &self,
        secret_id: &str,
    ) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
        self.lookup(secret_id, Read::Cached).await
    }

    async fn lookup(
        &self,
        secret_id: &str,
        read: Read,
    ) -> Result<Option<Stored<SecretRecord>>, SecretsError> {
        let store = self.store.as_ref();
        for candidate in secret_id::candidates(secret_id, &self.region, &self.account_id) {
            let found = match read {
                Read::Store => records::load_live(store, &candidate.name).await?,
                Read::Cached => self.caches.live_secret(store, &candidate.name).await?,
            };
            if let Some(found) = found {
                if candidate
                    .exact_arn
                    .as_ref()
                    .is_none_or(|arn| *arn == found.record.arn)
                {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// The sealed value of version `version_id` of the secret `arn`, from memory if read less
    /// than the TTL ago (sealed values are written once; only `UpdateSecret` re-seals them).
    pub(crate) async fn sealed_value(
        &self,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<Arc<SealedParts>>, SecretsError> {
        self.caches
            .value(self.store.as_ref(), arn, version_id)
            .await
    }

    /// `kms:ViaService` for calls this service makes.
    fn via_service(&self) -> String {
        format!("secretsmanager.{}.amazonaws.com", self.region)
    }

    /// The key a `KmsKeyId` names (None: the AWS-managed default), resolved for checks.
    pub(crate) async fn key_use(&self, kms_key_id: Option<&str>) -> Result<KeyUse, SecretsError> {
        let Some(identifier) = kms_key_id else {
            return Ok(KeyUse {
                target: None,
                managed: true,
            });
        };
        let target = self.kms.key(identifier).await.map_err(|_| {
            SecretsError::InvalidParameter(format!("The KMS key {identifier} is not valid."))
        })?;
        let managed = self.is_managed_default(&target).await?;
        Ok(KeyUse {
            target: Some(target),
            managed,
        })
    }

    /// The key a sealed value's data key names, resolved for checks.
    pub(crate) async fn opening_key(&self, sealed: &SealedParts) -> Result<KeyUse, SecretsError> {
        let target = self
            .kms
            .target(&KeyRef::Id(sealed.key_id().to_owned()))
            .await
            .map_err(SecretsError::opening)?;
        let managed = self.is_managed_default(&target).await?;
        Ok(KeyUse {
            target: Some(target),
            managed,
        })
    }

    /// The id of the key a key use seals under, if that key exists (the AWS-managed default
    /// does not until first use).
    pub(crate) async fn key_id_of(&self, key: &KeyUse) -> Result<Option<String>, SecretsError> {
        let target = match &key.target {
            Some(target) => target.clone(),
            None => self
                .kms
                .key(MANAGED_KEY_ALIAS)
                .await
                .map_err(SecretsError::sealing)?,
        };
        Ok(target.key.map(|k| k.record.key_id))
    }

    /// Whether `target` is the key behind `alias/aws/secretsmanager`.
    async fn is_managed_default(&self, target: &KeyTarget) -> Result<bool, SecretsError> {
        let Some(key) = target
            .key
            .as_ref()
            .filter(|k| k.record.manager == KeyManager::Aws)
        else {
            return Ok(false);
        };
        // The alias's target is `key`, which exists: no need to read that key again.
        let default = self
            .kms
            .alias_target_id(MANAGED_KEY_ALIAS)
            .await
            .map_err(SecretsError::sealing)?;
        Ok(default.is_some_and(|id| id == key.record.key_id))
    }

    /// The KMS check a key use declares: none for the AWS-managed default (see the module
    /// documentation), `action` on the key with its key policy otherwise.
    pub(crate) fn kms_check(
        &self,
        key: &KeyUse,
        action: &str,
        caller_account: &str,
        context: &EncryptionContext,
    ) -> Option<Check> {
        if key.managed {
            return None;
        }
        let target = key.target.as_ref()?;
        let mut check = target.crypto_check(action, caller_account, context);
        check.push_key("kms:ViaService", self.via_service());
        Some(check)
    }

    /// The key record to seal under, creating the AWS-managed default on first use.
    pub(crate) async fn sealing_key(&self, key: KeyUse) -> Result<KeyRecord, SecretsError> {
        match key.target {
            None => self
                .kms
                .aws_managed_key(MANAGED_KEY_ALIAS)
                .await
                .map_err(SecretsError::sealing),
            Some(target) => Ok(target.into_key().map_err(SecretsError::sealing)?.record),
        }
    }

    /// The key record to open with.
    pub(crate) fn opening_record(&self, key: KeyUse) -> Result<KeyRecord, SecretsError> {
        let target = key
            .target
            .ok_or_else(|| SecretsError::Internal("The key was not resolved before use.".into()))?;
        Ok(target.into_key().map_err(SecretsError::opening)?.record)
    }
}

/// Where a lookup reads.
#[derive(Debug, Clone, Copy)]
enum Read {
    Store,
    Cached,
}

/// A KMS key a request seals or opens with, as its checks saw it.
#[derive(Debug, Clone)]
pub(crate) struct KeyUse {
    /// None: the AWS-managed default key, which may not exist yet.
    pub target: Option<KeyTarget>,
    /// The AWS-managed `alias/aws/secretsmanager` key: no caller check.
    pub managed: bool,
}

/// A secret a request names by `SecretId`, and, once resolved, the stored secret its checks
/// were made on.
#[derive(Debug, Clone)]
pub(crate) struct NamedSecret {
    pub id: String,
    /// The ARN checks are made on: the stored secret's, or what the identifier names.
    pub arn: String,
    pub secret: Option<Stored<SecretRecord>>,
}

impl NamedSecret {
    /// Reads a `SecretId` member: 1 to 2048 characters.
    pub fn parse(id: String) -> Result<Self, SecretsError> {
        let len = id.chars().count();
        if len == 0 || len > 2048 {
            return Err(SecretsError::constraint(
                &id,
                "secretId",
                "Member must have length between 1 and 2048",
            ));
        }
        Ok(NamedSecret {
            id,
            arn: String::new(),
            secret: None,
        })
    }

    /// Looks the secret up once, in the store, and keeps it.
    pub async fn resolve(&mut self, svc: &SecretsService) -> Result<(), SecretsError> {
        let found = svc.find(&self.id).await?;
        self.resolved(svc, found);
        Ok(())
    }

    /// The same from memory if read less than the TTL ago (for read operations).
    pub async fn resolve_cached(&mut self, svc: &SecretsService) -> Result<(), SecretsError> {
        let found = svc.find_cached(&self.id).await?;
        self.resolved(svc, found);
        Ok(())
    }

    fn resolved(&mut self, svc: &SecretsService, found: Option<Stored<SecretRecord>>) {
        self.secret = found;
        self.arn = match &self.secret {
            Some(s) => s.record.arn.clone(),
            None => secret_id::unresolved_arn(&self.id, &svc.region, &svc.account_id),
        };
    }

    /// Resolves the secret from the store and declares `action` on it, with its stored tags
    /// (for writes, which commit expecting the version they read).
    pub async fn check(
        &mut self,
        svc: &SecretsService,
        action: &str,
    ) -> Result<Check, SecretsError> {
        self.resolve(svc).await?;
        Ok(self.declare(action))
    }

    /// Resolves the secret through the cache and declares `action` on it (for reads).
    pub async fn check_cached(
        &mut self,
        svc: &SecretsService,
        action: &str,
    ) -> Result<Check, SecretsError> {
        self.resolve_cached(svc).await?;
        Ok(self.declare(action))
    }

    /// `action` on the resolved secret.
    fn declare(&self, action: &str) -> Check {
        // Checked on the stored ARN, but denied under the identifier the caller sent, so a
        // denial reads the same whether or not the secret exists.
        let mut check = Check::on(action, &self.arn)
            .with_key("secretsmanager:SecretId", &self.id)
            .named_as(&self.id);
        if let Some(secret) = &self.secret {
            push_resource_tags(&mut check, &secret.record.tags);
            check = with_resource_policy(check, &secret.record);
        }
        check
    }

    /// The secret the checks were made on, or `ResourceNotFoundException`.
    pub fn into_secret(self) -> Result<Stored<SecretRecord>, SecretsError> {
        self.secret.ok_or_else(SecretsError::secret_not_found)
    }

    /// The same, refusing a secret scheduled for deletion.
    pub fn into_live(self) -> Result<Stored<SecretRecord>, SecretsError> {
        let secret = self.into_secret()?;
        secret.record.check_not_deleted()?;
        Ok(secret)
    }
}

/// `check` with the secret's resource policy, if it has one, evaluated beside the caller's
/// policies as AWS evaluates a resource-based policy: an explicit Deny in it refuses anyone
/// (the administrator too), and an Allow naming a principal of the account grants without an
/// identity policy (within its permissions boundary and session policies).
pub(crate) fn with_resource_policy(check: Check, secret: &SecretRecord) -> Check {
    match &secret.resource_policy {
        Some(document) => check.with_resource_policy(ResourcePolicy {
            kind: ResourcePolicyKind::Resource,
            document: Some(document.clone()),
        }),
        None => check,
    }
}

/// `aws:ResourceTag/<key>` for each stored tag.
pub(crate) fn push_resource_tags(check: &mut Check, tags: &[Tag]) {
    for tag in tags {
        check.push_key(format!("aws:ResourceTag/{}", tag.key), &tag.value);
    }
}

/// `aws:RequestTag/<key>` for each tag a request sets, and `aws:TagKeys`.
pub(crate) fn push_request_tags(check: &mut Check, tags: &[Tag]) {
    for tag in tags {
        check.push_key(format!("aws:RequestTag/{}", tag.key), &tag.value);
        check.push_key("aws:TagKeys", &tag.key);
    }
}

/// Now, for stored dates.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
