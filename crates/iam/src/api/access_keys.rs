//! Access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed.
//!
//! Keys are stored by id in `iam/access-keys` (where the credential resolver reads them), the
//! secret sealed with the root key and bound to the key id; it is returned once, by
//! CreateAccessKey, and never again.

use rampart_core::{ids, SealPurpose};
use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, PageRequest};
use super::users::UserOrCaller;
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

/// Whether `id` could name a key; one that cannot is answered `NoSuchEntity` without a lookup.
fn well_formed(id: &str) -> bool {
    id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `CreateAccessKey` for `UserName` (by default the caller).
pub(super) struct CreateAccessKey(UserOrCaller);

#[async_trait::async_trait]
impl IamOperation for CreateAccessKey {
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
        Ok(CreateAccessKey(UserOrCaller::decode(p, call)?))
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![self.0.check(iam, call).await?])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_access_key(&self.0 .0).await
    }
}

pub(super) struct ListAccessKeys {
    user: UserOrCaller,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListAccessKeys {
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListAccessKeys {
            user: UserOrCaller::decode(p, call)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![self.user.check(iam, call).await?])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_access_keys(self).await
    }
}

pub(super) struct UpdateAccessKey {
    access_key_id: String,
    user: UserOrCaller,
    status: AccessKeyStatus,
}

#[async_trait::async_trait]
impl IamOperation for UpdateAccessKey {
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
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
        Ok(UpdateAccessKey {
            access_key_id: input::required(p, "AccessKeyId")?.to_owned(),
            user: UserOrCaller::decode(p, call)?,
            status,
        })
    }

    /// The user; the handler touches the key only if it is that user's.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![self.user.check(iam, call).await?])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_access_key(self).await
    }
}

pub(super) struct DeleteAccessKey {
    access_key_id: String,
    user: UserOrCaller,
}

#[async_trait::async_trait]
impl IamOperation for DeleteAccessKey {
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteAccessKey {
            access_key_id: input::required(p, "AccessKeyId")?.to_owned(),
            user: UserOrCaller::decode(p, call)?,
        })
    }

    /// The user; the handler touches the key only if it is that user's.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![self.user.check(iam, call).await?])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_access_key(self).await
    }
}

pub(super) struct GetAccessKeyLastUsed {
    access_key_id: String,
}

#[async_trait::async_trait]
impl IamOperation for GetAccessKeyLastUsed {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetAccessKeyLastUsed {
            access_key_id: input::required(p, "AccessKeyId")?.to_owned(),
        })
    }

    /// The user that owns the key; a key that does not exist names no user, and the handler
    /// answers `NoSuchEntity` to a caller allowed the action at all.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let id = self.access_key_id.as_str();
        let owner = if well_formed(id) {
            entities::load::<AccessKeyRecord>(iam.store.as_ref(), id).await?
        } else {
            None
        };
        Ok(vec![match owner {
            Some(key) => iam.target::<User>(&key.entity.user_name).await?.check(call),
            None => Check::unscoped(call.action()),
        }])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_access_key_last_used(&self.access_key_id).await
    }
}

impl IamService {
    /// Creates a key for `name`. The user record is written back in the same commit, so two
    /// concurrent creations cannot both pass the quota check.
    async fn create_access_key(&self, name: &str) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let user = self.load::<User>(name).await?;
            if self.access_keys_of(name).await?.len() >= MAX_KEYS_PER_USER {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )));
            }
            let access_key_id = ids::access_key_id();
            let secret = ids::secret_access_key();
            let record = AccessKeyRecord {
                access_key_id: access_key_id.clone(),
                user_name: name.to_owned(),
                status: AccessKeyStatus::Active,
                sealed_secret: self.root_keys.seal(
                    SealPurpose::AccessKeySecret,
                    &access_key_id,
                    secret.as_bytes(),
                ),
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

    async fn list_access_keys(&self, r: ListAccessKeys) -> Reply {
        let ListAccessKeys {
            user: UserOrCaller(name),
            page: req,
        } = r;
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

    /// The key `id`, which must belong to the user `name` the request was authorized on:
    /// another user's key is answered as if it did not exist.
    async fn owned_key(
        &self,
        id: &str,
        name: &str,
    ) -> Result<Versioned<AccessKeyRecord>, IamError> {
        self.load::<User>(name).await?;
        if !well_formed(id) {
            return Err(no_such_key(id));
        }
        match entities::load::<AccessKeyRecord>(self.store.as_ref(), id).await? {
            Some(key) if key.entity.user_name == name => Ok(key),
            _ => Err(no_such_key(id)),
        }
    }

    async fn update_access_key(&self, r: UpdateAccessKey) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let key = self.owned_key(&r.access_key_id, &r.user.0).await?;
            let mut record = key.entity;
            record.status = r.status;
            if self
                .try_commit(vec![entities::put(&record, Expect::Version(key.version))])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn delete_access_key(&self, r: DeleteAccessKey) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let key = self.owned_key(&r.access_key_id, &r.user.0).await?;
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
    async fn get_access_key_last_used(&self, id: &str) -> Reply {
        if !well_formed(id) {
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
