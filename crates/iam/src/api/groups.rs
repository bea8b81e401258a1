//! Groups and membership: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.
//!
//! Membership is kept on the user (`User::groups`), so a user and the groups it is in change
//! atomically. Membership changes also write the group back (same content, new version), so
//! a concurrent DeleteGroup conflicts instead of leaving members of a deleted group.

use rampart_core::ids;
use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{name_taken, paginate, scan_all, scan_page, PageRequest};
use super::targets::path_of;
use super::xml::{self, Detail};
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, Group, User};

pub(super) struct CreateGroup {
    name: String,
    path: String,
}

#[async_trait::async_trait]
impl IamOperation for CreateGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(CreateGroup {
            name: input::name(p, "GroupName", 128)?.to_owned(),
            path: input::path(p, "Path")?,
        })
    }

    /// The ARN the new group will have.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam
            .new_target("group", &self.path, &self.name)
            .check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.create_group(self).await
    }
}

pub(super) struct GetGroup {
    name: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for GetGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetGroup {
            name: input::name(p, "GroupName", 128)?.to_owned(),
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<Group>(&self.name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_group(self).await
    }
}

pub(super) struct ListGroups {
    prefix: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListGroups {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListGroups {
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, _: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![Check::unscoped(call.action())])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_groups(self).await
    }
}

pub(super) struct UpdateGroup {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

#[async_trait::async_trait]
impl IamOperation for UpdateGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let name = input::name(p, "GroupName", 128)?.to_owned();
        let new_name = input::optional_name(p, "NewGroupName", 128)?.map(str::to_owned);
        let new_path = match p.get("NewPath") {
            Some(path) => Some(input::check_path("NewPath", path).map(|()| path.to_owned())?),
            None => None,
        };
        Ok(UpdateGroup {
            name,
            new_name,
            new_path,
        })
    }

    /// The group as it is, and (as AWS documents) the group as it will be: a caller must be
    /// allowed on both names and paths.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let current = iam.target::<Group>(&self.name).await?;
        let path = match &self.new_path {
            Some(path) => path.clone(),
            None => path_of(&current.arn),
        };
        let name = self.new_name.as_deref().unwrap_or(&self.name);
        let renamed = iam.new_target("group", &path, name);
        let mut checks = vec![current.check(call)];
        if renamed.arn != current.arn {
            checks.push(renamed.check(call));
        }
        Ok(checks)
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.update_group(self).await
    }
}

pub(super) struct DeleteGroup {
    name: String,
}

#[async_trait::async_trait]
impl IamOperation for DeleteGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteGroup {
            name: input::name(p, "GroupName", 128)?.to_owned(),
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<Group>(&self.name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_group(&self.name).await
    }
}

/// A user and the group it joins or leaves.
pub(super) struct Membership {
    group_name: String,
    user_name: String,
}

impl Membership {
    fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Membership {
            group_name: input::name(p, "GroupName", 128)?.to_owned(),
            user_name: input::name(p, "UserName", 64)?.to_owned(),
        })
    }

    /// The group is the resource of a membership change (as AWS's service authorization
    /// reference lists it), even though the request names a user too.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam
            .target::<Group>(&self.group_name)
            .await?
            .check(call)])
    }
}

/// `AddUserToGroup`.
pub(super) struct AddUserToGroup(Membership);

#[async_trait::async_trait]
impl IamOperation for AddUserToGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Membership::decode(p).map(AddUserToGroup)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.change_membership(self.0, true).await
    }
}

/// `RemoveUserFromGroup`.
pub(super) struct RemoveUserFromGroup(Membership);

#[async_trait::async_trait]
impl IamOperation for RemoveUserFromGroup {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Membership::decode(p).map(RemoveUserFromGroup)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.change_membership(self.0, false).await
    }
}

pub(super) struct ListGroupsForUser {
    user_name: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListGroupsForUser {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListGroupsForUser {
            user_name: input::name(p, "UserName", 64)?.to_owned(),
            page: PageRequest::from_params(p)?,
        })
    }

    /// The user whose groups are listed is the resource.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<User>(&self.user_name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_groups_for_user(self).await
    }
}

impl IamService {
    async fn create_group(&self, r: CreateGroup) -> Reply {
        let CreateGroup { name, path } = r;
        let name = name.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            if name_taken::<Group>(self.store.as_ref(), name).await? {
                return Err(IamError::already_exists("Group", name));
            }
            let group = Group {
                name: name.to_owned(),
                group_id: ids::unique_id("AGPA"),
                arn: self.arn("group", &path, name),
                path: path.clone(),
                created_at: OffsetDateTime::now_utc(),
                attached_policies: Vec::new(),
                inline_policies: Default::default(),
            };
            if self
                .try_commit(vec![entities::put(&group, Expect::Absent)])
                .await?
            {
                let mut out = XmlWriter::new();
                xml::group(&mut out, "Group", &group);
                return Ok(Some(out.finish()));
            }
        }
        Err(IamError::concurrent())
    }

    /// The users in a group (a scan of users: membership lives on them).
    async fn members(&self, group: &str) -> Result<Vec<entities::Versioned<User>>, IamError> {
        Ok(scan_all::<User>(self.store.as_ref())
            .await?
            .into_iter()
            .filter(|u| u.entity.groups.iter().any(|g| g == group))
            .collect())
    }

    /// The group and a page of its members.
    async fn get_group(&self, r: GetGroup) -> Reply {
        let GetGroup { name, page: req } = r;
        let group = self.load::<Group>(&name).await?;
        let page = paginate(self.members(&name).await?, |u| u.entity.name.clone(), &req);
        let mut out = XmlWriter::new();
        xml::group(&mut out, "Group", &group.entity);
        out.start("Users");
        for u in &page.items {
            xml::user(&mut out, "member", &u.entity, Detail::Summary);
        }
        out.end("Users");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    async fn list_groups(&self, r: ListGroups) -> Reply {
        let ListGroups { prefix, page: req } = r;
        let page =
            scan_page::<Group>(self.store.as_ref(), &req, |g| g.path.starts_with(&prefix)).await?;
        let mut out = XmlWriter::new();
        out.start("Groups");
        for g in &page.items {
            xml::group(&mut out, "member", &g.entity);
        }
        out.end("Groups");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Renames and/or moves a group; a rename rewrites every member's membership with it.
    async fn update_group(&self, r: UpdateGroup) -> Reply {
        let name = r.name.as_str();
        let new_name = r.new_name.as_deref();
        let new_path = r.new_path.as_deref();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<Group>(name).await?;
            let mut group = current.entity.clone();
            if let Some(path) = new_path {
                group.path = path.to_owned();
            }
            let renamed = new_name.filter(|n| *n != name);
            let mut writes = Vec::new();
            if let Some(n) = renamed {
                if self.rename_taken::<Group>(name, n).await? {
                    return Err(IamError::already_exists("Group", n));
                }
                group.name = n.to_owned();
                group.arn = self.arn("group", &group.path, &group.name);
                writes.push(entities::delete::<Group>(
                    name,
                    Expect::Version(current.version),
                ));
                writes.push(entities::put(&group, Expect::Absent));
                for member in self.members(name).await? {
                    let mut user = member.entity;
                    for g in user.groups.iter_mut().filter(|g| *g == name) {
                        *g = n.to_owned();
                    }
                    writes.push(entities::put(&user, Expect::Version(member.version)));
                }
            } else {
                group.arn = self.arn("group", &group.path, &group.name);
                writes.push(entities::put(&group, Expect::Version(current.version)));
            }
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn delete_group(&self, name: &str) -> Reply {
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<Group>(name).await?;
            if !self.members(name).await?.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must remove users from group first.".into(),
                ));
            }
            if !current.entity.inline_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if !current.entity.attached_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            let write = entities::delete::<Group>(name, Expect::Version(current.version));
            if self.try_commit(vec![write]).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// Adds the user to the group (`add`) or removes it.
    async fn change_membership(&self, r: Membership, add: bool) -> Reply {
        let group_name = r.group_name.as_str();
        let user_name = r.user_name.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let group = self.load::<Group>(group_name).await?;
            let current = self.load::<User>(user_name).await?;
            let mut user = current.entity.clone();
            let member = user.groups.iter().any(|g| g == group_name);
            match (add, member) {
                (true, true) => return Ok(None),
                (false, false) => {
                    return Err(IamError::NoSuchEntity(format!(
                        "The user with name {user_name} is not a member of group {group_name}."
                    )))
                }
                (true, false) => user.groups.push(group_name.to_owned()),
                (false, true) => user.groups.retain(|g| g != group_name),
            }
            let writes = vec![
                entities::put(&user, Expect::Version(current.version)),
                entities::put(&group.entity, Expect::Version(group.version)),
            ];
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn list_groups_for_user(&self, r: ListGroupsForUser) -> Reply {
        let ListGroupsForUser {
            user_name,
            page: req,
        } = r;
        let user = self.load::<User>(&user_name).await?.entity;
        let mut groups = Vec::new();
        for name in &user.groups {
            // A group deleted under a stale membership is skipped rather than failing the list.
            if let Some(g) = entities::load::<Group>(self.store.as_ref(), name).await? {
                groups.push(g.entity);
            }
        }
        let page = paginate(groups, |g| g.name.clone(), &req);
        let mut out = XmlWriter::new();
        out.start("Groups");
        for g in &page.items {
            xml::group(&mut out, "member", g);
        }
        out.end("Groups");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }
}
