//! Access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed.
//!
//! Keys are stored by id in `iam/access-keys` (where the credential resolver reads them), the
//! secret sealed with the master key and bound to the key id; it is returned once, by
//! CreateAccessKey, and never again.

use rampart_core::{ids, CallerIdentity};
use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::pagination::{paginate, PageRequest};
use super::xml;
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::credentials::{AccessKeyRecord, AccessKeyStatus};
use crate::entities::{self, Entity, User, Versioned};
use crate::ns;

/// AWS's quota of access keys per user.
pub const MAX_KEYS_PER_USER: usize = 2;

impl Entity for AccessKeyRecord {
    const NAMESPACE: &'static str = ns::ACCESS_KEYS;
    fn key(&self) -> &str {
        &self.access_key_id
    }
}

fn status_str(status: AccessKeyStatus) -> &'static str {
    match status {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

fn no_such_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

impl IamService {
    /// Creates a key for the named user (by default the caller). The user record is written
    /// back in the same commit, so two concurrent creations cannot both pass the quota check.
    pub(super) async fn create_access_key(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        let name = self.user_name_or_caller(p, caller)?;
        for _ in 0..COMMIT_ATTEMPTS {
            let user = self.load::<User>(&name).await?;
            if self.access_keys_of(&name).await?.len() >= MAX_KEYS_PER_USER {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )));
            }
            let access_key_id = ids::access_key_id();
            let secret = ids::secret_access_key();
            let record = AccessKeyRecord {
                access_key_id: access_key_id.clone(),
                user_name: name.clone(),
                status: AccessKeyStatus::Active,
                sealed_secret: self.master_key.seal(secret.as_bytes(), &access_key_id),
                created_at: OffsetDateTime::now_utc(),
            };
            let writes = vec![
                entities::put(&user.entity, Expect::Version(user.version)),
                entities::put(&record, Expect::Absent),
            ];
            if self.try_commit(writes).await? {
                let mut out = XmlWriter::new();
                out.start("AccessKey")
                    .element("UserName", &record.user_name)
                    .element("AccessKeyId", &record.access_key_id)
                    .element("Status", status_str(record.status))
                    .element("SecretAccessKey", &secret)
                    .element("CreateDate", &xml::timestamp(record.created_at))
                    .end("AccessKey");
                return Ok(Some(out.finish()));
            }
        }
        Err(IamError::concurrent())
    }

    pub(super) async fn list_access_keys(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        let name = self.user_name_or_caller(p, caller)?;
        let req = PageRequest::from_params(p)?;
        self.load::<User>(&name).await?;
        let keys = self.access_keys_of(&name).await?;
        let page = paginate(keys, |k| k.entity.access_key_id.clone(), &req);
        let mut out = XmlWriter::new();
        out.start("AccessKeyMetadata");
        for k in &page.items {
            out.start("member")
                .element("UserName", &k.entity.user_name)
                .element("AccessKeyId", &k.entity.access_key_id)
                .element("Status", status_str(k.entity.status))
                .element("CreateDate", &xml::timestamp(k.entity.created_at))
                .end("member");
        }
        out.end("AccessKeyMetadata");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// The key `AccessKeyId` names, which must belong to the user (by default the caller).
    async fn owned_key(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Result<Versioned<AccessKeyRecord>, IamError> {
        let id = input::required(p, "AccessKeyId")?;
        let name = self.user_name_or_caller(p, caller)?;
        self.load::<User>(&name).await?;
        if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(no_such_key(id));
        }
        match entities::load::<AccessKeyRecord>(self.store.as_ref(), id).await? {
            Some(key) if key.entity.user_name == name => Ok(key),
            _ => Err(no_such_key(id)),
        }
    }

    pub(super) async fn update_access_key(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        let status = match input::required(p, "Status")? {
            "Active" => AccessKeyStatus::Active,
            "Inactive" => AccessKeyStatus::Inactive,
            other => {
                return Err(IamError::constraint(
                    "status",
                    other,
                    "Member must satisfy enum value set: [Active, Inactive]",
                ))
            }
        };
        for _ in 0..COMMIT_ATTEMPTS {
            let key = self.owned_key(p, caller).await?;
            let mut record = key.entity;
            record.status = status;
            if self
                .try_commit(vec![entities::put(&record, Expect::Version(key.version))])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    pub(super) async fn delete_access_key(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let key = self.owned_key(p, caller).await?;
            let write = entities::delete::<AccessKeyRecord>(
                &key.entity.access_key_id,
                Expect::Version(key.version),
            );
            if self.try_commit(vec![write]).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// Rampart does not record last use yet; IAM's answer for a key never used says `N/A`.
    pub(super) async fn get_access_key_last_used(&self, p: &QueryParams) -> Reply {
        let id = input::required(p, "AccessKeyId")?;
        if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(no_such_key(id));
        }
        let key = entities::load::<AccessKeyRecord>(self.store.as_ref(), id)
            .await?
            .ok_or_else(|| no_such_key(id))?;
        let mut out = XmlWriter::new();
        out.element("UserName", &key.entity.user_name)
            .start("AccessKeyLastUsed")
            .element("ServiceName", "N/A")
            .element("Region", "N/A")
            .end("AccessKeyLastUsed");
        Ok(Some(out.finish()))
    }
}
