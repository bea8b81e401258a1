//! Attaching managed policies: Attach*/Detach*/ListAttached*Policies for users, groups and
//! roles, and ListEntitiesForPolicy. An attachment is recorded on the entity, and the
//! policy's `AttachmentCount` moves in the same commit.

use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};

use super::error::IamError;
use super::input;
use super::pagination::{paginate, scan_all, PageRequest};
use super::policies::{not_found, split_policy_arn};
use super::{Holder, IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, Group, Role, User};

/// AWS's default quota of managed policies attached to one user, group or role.
pub const MAX_ATTACHED: usize = 10;

impl IamService {
    pub(super) async fn attach<T: Holder>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let arn = input::policy_arn(p, "PolicyArn")?;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            let policy = self.attachable_policy(arn).await?;
            let mut entity = current.entity.clone();
            if entity.attached().iter().any(|a| a == arn) {
                return Ok(None);
            }
            if entity.attached().len() >= MAX_ATTACHED {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for {}: {MAX_ATTACHED}",
                    T::ATTACHED_QUOTA
                )));
            }
            entity.attached_mut().push(arn.to_owned());
            let mut writes = vec![entities::put(&entity, Expect::Version(current.version))];
            writes.extend(policy.adjust(1, 0));
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    pub(super) async fn detach<T: Holder>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let arn = input::policy_arn(p, "PolicyArn")?;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            let mut entity = current.entity.clone();
            if !entity.attached().iter().any(|a| a == arn) {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            entity.attached_mut().retain(|a| a != arn);
            let mut writes = vec![entities::put(&entity, Expect::Version(current.version))];
            if let Some(policy) = self.find_policy(arn).await? {
                writes.extend(policy.adjust(-1, 0));
            }
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    pub(super) async fn list_attached<T: Holder>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let prefix = input::path_prefix(p)?;
        let req = PageRequest::from_params(p)?;
        let entity = self.load::<T>(name).await?.entity;
        let attached: Vec<(String, String)> = entity
            .attached()
            .iter()
            .map(|arn| (arn.clone(), split_policy_arn(arn)))
            .filter(|(_, (path, _))| path.starts_with(&prefix))
            .map(|(arn, (_, name))| (arn, name))
            .collect();
        let page = paginate(attached, |(arn, _)| arn.clone(), &req);
        let mut out = XmlWriter::new();
        out.start("AttachedPolicies");
        for (arn, name) in &page.items {
            out.start("member")
                .element("PolicyName", name)
                .element("PolicyArn", arn)
                .end("member");
        }
        out.end("AttachedPolicies");
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// The users, groups and roles that attach a policy (or, with `PolicyUsageFilter`
    /// `PermissionsBoundary`, use it as their boundary), filtered by `EntityFilter` and
    /// `PathPrefix`, in one paged list: groups, then roles, then users.
    pub(super) async fn list_entities_for_policy(&self, p: &QueryParams) -> Reply {
        let arn = input::policy_arn(p, "PolicyArn")?;
        let filter = p.get("EntityFilter");
        let boundary =
            match p.get("PolicyUsageFilter") {
                None | Some("PermissionsPolicy") => false,
                Some("PermissionsBoundary") => true,
                Some(other) => return Err(IamError::constraint(
                    "policyUsageFilter",
                    other,
                    "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
                )),
            };
        let prefix = input::path_prefix(p)?;
        let req = PageRequest::from_params(p)?;
        self.find_policy(arn).await?.ok_or_else(|| not_found(arn))?;
        let wants = |kind: &str| match filter {
            None | Some("LocalManagedPolicy") | Some("AWSManagedPolicy") => true,
            Some(f) => f == kind,
        };
        let uses = |attached: &[String], b: Option<&str>| {
            if boundary {
                b == Some(arn)
            } else {
                attached.iter().any(|a| a == arn)
            }
        };
        // (sort key, element, name, id)
        let mut found: Vec<(String, &'static str, String, String)> = Vec::new();
        let store = self.store.as_ref();
        if wants("Group") {
            for g in scan_all::<Group>(store).await? {
                let g = g.entity;
                if g.path.starts_with(&prefix) && uses(&g.attached_policies, None) {
                    found.push((format!("g/{}", g.name), "Group", g.name, g.group_id));
                }
            }
        }
        if wants("Role") {
            for r in scan_all::<Role>(store).await? {
                let r = r.entity;
                if r.path.starts_with(&prefix)
                    && uses(&r.attached_policies, r.permissions_boundary.as_deref())
                {
                    found.push((format!("r/{}", r.name), "Role", r.name, r.role_id));
                }
            }
        }
        if wants("User") {
            for u in scan_all::<User>(store).await? {
                let u = u.entity;
                if u.path.starts_with(&prefix)
                    && uses(&u.attached_policies, u.permissions_boundary.as_deref())
                {
                    found.push((format!("u/{}", u.name), "User", u.name, u.user_id));
                }
            }
        }
        let page = paginate(found, |(key, ..)| key.clone(), &req);
        let mut out = XmlWriter::new();
        for kind in ["Group", "User", "Role"] {
            let list = format!("Policy{kind}s");
            out.start(&list);
            for (_, _, name, id) in page.items.iter().filter(|(_, k, ..)| *k == kind) {
                out.start("member")
                    .element(&format!("{kind}Name"), name)
                    .element(&format!("{kind}Id"), id)
                    .end("member");
            }
            out.end(&list);
        }
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }
}
