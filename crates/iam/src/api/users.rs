//! Users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser.

use std::sync::Arc;

use rampart_core::{ids, PrincipalType};
use rampart_store::{Expect, Write};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{name_taken, scan_page, PageRequest};
use super::targets::{request_tags, Authorized, Target};
use super::xml::{self, Detail};
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::credentials::AccessKeyRecord;
use crate::entities::{self, Tag, User};

pub(super) struct CreateUser {
    name: String,
    path: String,
    tags: Vec<Tag>,
    boundary: Option<String>,
}

#[async_trait::async_trait]
impl IamOperation for CreateUser {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let boundary = p.get("PermissionsBoundary");
        if let Some(arn) = boundary {
            input::check_policy_arn(arn)?;
        }
        Ok(CreateUser {
            name: input::name(p, "UserName", 64)?.to_owned(),
            path: input::path(p, "Path")?,
            tags: input::tags(p)?,
            boundary: boundary.map(str::to_owned),
        })
    }

    /// The new user's ARN; `iam:PermissionsBoundary` is the boundary it will carry.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let mut check = iam.new_target("user", &self.path, &self.name).check(call);
        if let Some(boundary) = &self.boundary {
            check.push_key("iam:PermissionsBoundary", boundary);
        }
        request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_user(self).await
    }
}

/// A user named by `UserName`, or the caller's own user when it is absent (as IAM answers
/// `GetUser` and the access-key operations).
pub(super) struct UserOrCaller(pub String);

impl UserOrCaller {
    pub fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
        if let Some(name) = input::optional_name(p, "UserName", 64)? {
            return Ok(UserOrCaller(name.to_owned()));
        }
        match call.caller {
            Some(c) if c.principal_type == PrincipalType::User => Ok(UserOrCaller(c.name.clone())),
            _ => Err(IamError::ValidationError(
                "Must specify userName when calling with non-User credentials".into(),
            )),
        }
    }

    pub async fn check(&self, iam: &IamService, call: &Call<'_>) -> Result<Check, IamError> {
        Ok(iam.target::<User>(&self.0).await?.check(call))
    }
}

pub(super) struct GetUser {
    name: UserOrCaller,
    /// The user as it was read for authorization: the answer shows exactly that.
    authorized: Option<Arc<User>>,
}

#[async_trait::async_trait]
impl IamOperation for GetUser {
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetUser {
            name: UserOrCaller::decode(p, call)?,
            authorized: None,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        // The hot read of IAM: served from memory while fresh (see `crate::cache`).
        let found = iam.users.load(iam.store.as_ref(), &self.name.0).await?;
        let target = match &found {
            Some(user) => Target::of(user.as_ref()),
            None => iam.new_target("user", "/", &self.name.0),
        };
        self.authorized = found;
        Ok(vec![target.check(call)])
    }

    async fn execute(self, _: &IamService, _: &Call<'_>) -> Reply {
        let user = self
            .authorized
            .ok_or_else(|| IamError::no_such("user", &self.name.0))?;
        let mut out = XmlWriter::new();
        xml::user(&mut out, "User", &user, Detail::Full);
        Ok(Some(out.finish()))
    }
}

pub(super) struct ListUsers {
    prefix: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListUsers {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListUsers {
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_users(self).await
    }
}

pub(super) struct UpdateUser {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

#[async_trait::async_trait]
impl IamOperation for UpdateUser {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let new_path = match p.get("NewPath") {
            Some(path) => Some(input::check_path("NewPath", path).map(|()| path.to_owned())?),
            None => None,
        };
        Ok(UpdateUser {
            name: input::name(p, "UserName", 64)?.to_owned(),
            new_name: input::optional_name(p, "NewUserName", 64)?.map(str::to_owned),
            new_path,
        })
    }

    /// The user as it is, and (as AWS documents) the user as it will be: a caller must be
    /// allowed on both names and paths.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let current = iam.target::<User>(&self.name).await?;
        let path = match &self.new_path {
            Some(path) => path.clone(),
            None => super::targets::path_of(&current.arn),
        };
        let name = self.new_name.as_deref().unwrap_or(&self.name);
        let renamed = iam.new_target("user", &path, name);
        let mut checks = vec![current.check(call)];
        if renamed.arn != current.arn {
            checks.push(renamed.check(call));
        }
        Ok(checks)
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_user(self).await
    }
}

pub(super) struct DeleteUser {
    name: String,
    /// The user as its checks read it: the write acts on that state only.
    authorized: Authorized,
}

#[async_trait::async_trait]
impl IamOperation for DeleteUser {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteUser {
            name: input::name(p, "UserName", 64)?.to_owned(),
            authorized: Authorized::default(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self
            .authorized
            .record(iam.target::<User>(&self.name).await?);
        Ok(vec![target.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_user(self).await
    }
}

impl IamService {
    async fn create_user(&self, r: CreateUser) -> Reply {
        let CreateUser {
            name,
            path,
            tags,
            boundary,
        } = r;
        let name = name.as_str();
        let boundary = boundary.as_deref();
        for _ in 0..COMMIT_ATTEMPTS {
            if name_taken::<User>(self.store.as_ref(), name).await? {
                return Err(IamError::already_exists("User", name));
            }
            let mut writes = Vec::new();
            if let Some(arn) = boundary {
                let policy = self.boundary_policy(arn).await?;
                writes.extend(policy.adjust(0, 1));
            }
            let user = User {
                name: name.to_owned(),
                user_id: ids::unique_id("AIDA"),
                arn: self.arn("user", &path, name),
                path: path.clone(),
                created_at: OffsetDateTime::now_utc(),
                attached_policies: Vec::new(),
                inline_policies: Default::default(),
                groups: Vec::new(),
                permissions_boundary: boundary.map(str::to_owned),
                tags: tags.clone(),
            };
            writes.push(entities::put(&user, Expect::Absent));
            if self.try_commit(writes).await? {
                let mut out = XmlWriter::new();
                xml::user(&mut out, "User", &user, Detail::Full);
                return Ok(Some(out.finish()));
            }
        }
        Err(IamError::concurrent())
    }

    async fn list_users(&self, r: ListUsers) -> Reply {
        let ListUsers { prefix, page: req } = r;
        let page =
            scan_page::<User>(self.store.as_ref(), &req, |u| u.path.starts_with(&prefix)).await?;
        let mut out = XmlWriter::new();
        out.start("Users");
        for u in &page.items {
            xml::user(&mut out, "member", &u.entity, Detail::Summary);
        }
        out.end("Users");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Renames and/or moves a user. A rename re-keys the user record and points its access
    /// keys at the new name, all in one commit.
    async fn update_user(&self, r: UpdateUser) -> Reply {
        let name = r.name.as_str();
        let new_name = r.new_name.as_deref();
        let new_path = r.new_path.as_deref();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<User>(name).await?;
            let mut user = current.entity.clone();
            if let Some(path) = new_path {
                user.path = path.to_owned();
            }
            let renamed = new_name.filter(|n| *n != name);
            if let Some(n) = renamed {
                if self.rename_taken::<User>(name, n).await? {
                    return Err(IamError::already_exists("User", n));
                }
                user.name = n.to_owned();
            }
            user.arn = self.arn("user", &user.path, &user.name);
            let mut writes = Vec::new();
            if renamed.is_some() {
                writes.push(entities::delete::<User>(
                    name,
                    Expect::Version(current.version),
                ));
                writes.push(entities::put(&user, Expect::Absent));
                for key in self.access_keys_of(name).await? {
                    let mut record = key.entity;
                    record.user_name = user.name.clone();
                    writes.push(entities::put(&record, Expect::Version(key.version)));
                }
            } else {
                writes.push(entities::put(&user, Expect::Version(current.version)));
            }
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// Deletes a user that has nothing left attached, as IAM requires.
    async fn delete_user(&self, r: DeleteUser) -> Reply {
        let name = r.name.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<User>(name).await?;
            r.authorized.holds_for(&current.entity)?;
            let user = &current.entity;
            if !self.access_keys_of(name).await?.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
            if !user.inline_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if !user.attached_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            if !user.groups.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must remove user from all groups first.".into(),
                ));
            }
            let mut writes: Vec<Write> = Vec::new();
            if let Some(arn) = &user.permissions_boundary {
                if let Some(policy) = self.find_policy(arn).await? {
                    writes.extend(policy.adjust(0, -1));
                }
            }
            writes.push(entities::delete::<User>(
                name,
                Expect::Version(current.version),
            ));
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// Whether renaming `from` to `to` collides with another entity. A change of case alone
    /// names the same entity, so then only an exact match counts.
    pub(super) async fn rename_taken<T: entities::Entity + Send>(
        &self,
        from: &str,
        to: &str,
    ) -> Result<bool, IamError> {
        if from.eq_ignore_ascii_case(to) {
            Ok(entities::load::<T>(self.store.as_ref(), to)
                .await?
                .is_some())
        } else {
            name_taken::<T>(self.store.as_ref(), to).await
        }
    }

    /// The access keys of one user (a scan: keys are stored by id, as the resolver reads them).
    pub(super) async fn access_keys_of(
        &self,
        user: &str,
    ) -> Result<Vec<entities::Versioned<AccessKeyRecord>>, IamError> {
        Ok(
            super::pagination::scan_all::<AccessKeyRecord>(self.store.as_ref())
                .await?
                .into_iter()
                .filter(|k| k.entity.user_name == user)
                .collect(),
        )
    }
}
