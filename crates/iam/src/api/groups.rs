//! Groups and membership: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.
//!
//! Membership is kept on the user (`User::groups`), so a user and the groups it is in change
//! atomically. Membership changes also write the group back (same content, new version), so
//! a concurrent DeleteGroup conflicts instead of leaving members of a deleted group.

use rampart_core::ids;
use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use time::OffsetDateTime;

use super::error::IamError;
use super::input;
use super::pagination::{name_taken, paginate, scan_all, scan_page, PageRequest};
use super::xml::{self, Detail};
use super::{IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, Group, User};

impl IamService {
    pub(super) async fn create_group(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "GroupName", 128)?;
        let path = input::path(p, "Path")?;
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
    pub(super) async fn get_group(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "GroupName", 128)?;
        let req = PageRequest::from_params(p)?;
        let group = self.load::<Group>(name).await?;
        let page = paginate(self.members(name).await?, |u| u.entity.name.clone(), &req);
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

    pub(super) async fn list_groups(&self, p: &QueryParams) -> Reply {
        let prefix = input::path_prefix(p)?;
        let req = PageRequest::from_params(p)?;
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
    pub(super) async fn update_group(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "GroupName", 128)?;
        let new_name = input::optional_name(p, "NewGroupName", 128)?;
        let new_path = match p.get("NewPath") {
            Some(path) => Some(input::check_path("NewPath", path).map(|()| path)?),
            None => None,
        };
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

    pub(super) async fn delete_group(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, "GroupName", 128)?;
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

    pub(super) async fn add_user_to_group(&self, p: &QueryParams) -> Reply {
        self.change_membership(p, true).await
    }

    pub(super) async fn remove_user_from_group(&self, p: &QueryParams) -> Reply {
        self.change_membership(p, false).await
    }

    async fn change_membership(&self, p: &QueryParams, add: bool) -> Reply {
        let group_name = input::name(p, "GroupName", 128)?;
        let user_name = input::name(p, "UserName", 64)?;
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

    pub(super) async fn list_groups_for_user(&self, p: &QueryParams) -> Reply {
        let user_name = input::name(p, "UserName", 64)?;
        let req = PageRequest::from_params(p)?;
        let user = self.load::<User>(user_name).await?.entity;
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
