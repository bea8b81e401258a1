//! Users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser.

use rampart_core::{ids, CallerIdentity, PrincipalType};
use rampart_store::{Expect, Write};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::pagination::{name_taken, scan_page, PageRequest};
use super::xml::{self, Detail};
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::credentials::AccessKeyRecord;
use crate::entities::{self, User};

impl IamService {
    pub(super) async fn create_user(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "UserName", 64)?;
        let path = input::path(p, "Path")?;
        let tags = input::tags(p)?;
        let boundary = p.get("PermissionsBoundary");
        if let Some(arn) = boundary {
            input::check_policy_arn(arn)?;
        }
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

    /// Without `UserName`, the caller's own user, as IAM answers.
    pub(super) async fn get_user(&self, p: &QueryParams, caller: Option<&CallerIdentity>) -> Reply {
        let name = self.user_name_or_caller(p, caller)?;
        let user = self.load::<User>(&name).await?;
        let mut out = XmlWriter::new();
        xml::user(&mut out, "User", &user.entity, Detail::Full);
        Ok(Some(out.finish()))
    }

    /// The `UserName` member, or the calling user's name when it is absent.
    pub(super) fn user_name_or_caller(
        &self,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Result<String, IamError> {
        if let Some(name) = input::optional_name(p, "UserName", 64)? {
            return Ok(name.to_owned());
        }
        match caller {
            Some(c) if c.principal_type == PrincipalType::User => Ok(c.name.clone()),
            _ => Err(IamError::ValidationError(
                "Must specify userName when calling with non-User credentials".into(),
            )),
        }
    }

    pub(super) async fn list_users(&self, p: &QueryParams) -> Reply {
        let prefix = input::path_prefix(p)?;
        let req = PageRequest::from_params(p)?;
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
    pub(super) async fn update_user(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "UserName", 64)?;
        let new_name = input::optional_name(p, "NewUserName", 64)?;
        let new_path = match p.get("NewPath") {
            Some(path) => Some(input::check_path("NewPath", path).map(|()| path)?),
            None => None,
        };
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
    pub(super) async fn delete_user(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "UserName", 64)?;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<User>(name).await?;
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
