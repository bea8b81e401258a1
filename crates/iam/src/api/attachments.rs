//! Attaching managed policies: Attach*/Detach*/ListAttached*Policies for users, groups and
//! roles, and ListEntitiesForPolicy. An attachment is recorded on the entity, and the
//! policy's `AttachmentCount` moves in the same commit.

use std::marker::PhantomData;

use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, scan_all, PageRequest};
use super::policies::{not_found, split_policy_arn};
use super::targets::Authorized;
use super::{Holder, IamService, Reply, COMMIT_ATTEMPTS};
use crate::entities::{self, Group, Role, User};

/// AWS's default quota of managed policies attached to one user, group or role.
pub const MAX_ATTACHED: usize = 10;

/// A managed policy and the user, group or role it is attached to or detached from.
pub(super) struct Attachment<T> {
    name: String,
    policy_arn: String,
    /// The entity as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

impl<T: Holder> Attachment<T> {
    fn decode(p: &QueryParams) -> Result<Self, IamError> {
        Ok(Attachment {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The entity, with `iam:PolicyARN` and (for users and roles) its current boundary.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.name).await?);
        let check = target
            .check_with_boundary(call)
            .with_key("iam:PolicyARN", &self.policy_arn);
        Ok(vec![check])
    }
}

/// `Attach{User,Group,Role}Policy`.
pub(super) struct Attach<T>(Attachment<T>);

#[async_trait::async_trait]
impl<T: Holder> IamOperation for Attach<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Attachment::decode(p).map(Attach)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.attach(self.0).await
    }
}

/// `Detach{User,Group,Role}Policy`.
pub(super) struct Detach<T>(Attachment<T>);

#[async_trait::async_trait]
impl<T: Holder> IamOperation for Detach<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Attachment::decode(p).map(Detach)
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        self.0.checks(iam, call).await
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.detach(self.0).await
    }
}

/// `ListAttached{User,Group,Role}Policies`.
pub(super) struct ListAttached<T> {
    name: String,
    prefix: String,
    page: PageRequest,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Holder> IamOperation for ListAttached<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListAttached {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
            entity: PhantomData,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<T>(&self.name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_attached(self).await
    }
}

pub(super) struct ListEntitiesForPolicy {
    policy_arn: String,
    filter: Option<String>,
    boundary: bool,
    prefix: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListEntitiesForPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
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
        Ok(ListEntitiesForPolicy {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            filter: p.get("EntityFilter").map(str::to_owned),
            boundary,
            prefix: input::path_prefix(p)?,
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_entities_for_policy(self).await
    }
}

impl IamService {
    async fn attach<T: Holder>(&self, r: Attachment<T>) -> Reply {
        let name = r.name.as_str();
        let arn = r.policy_arn.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            r.authorized.holds_for(&current.entity)?;
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

    async fn detach<T: Holder>(&self, r: Attachment<T>) -> Reply {
        let name = r.name.as_str();
        let arn = r.policy_arn.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            r.authorized.holds_for(&current.entity)?;
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

    async fn list_attached<T: Holder>(&self, r: ListAttached<T>) -> Reply {
        let ListAttached {
            name,
            prefix,
            page: req,
            ..
        } = r;
        let entity = self.load::<T>(&name).await?.entity;
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
    async fn list_entities_for_policy(&self, r: ListEntitiesForPolicy) -> Reply {
        let ListEntitiesForPolicy {
            policy_arn,
            filter,
            boundary,
            prefix,
            page: req,
        } = r;
        let arn = policy_arn.as_str();
        let filter = filter.as_deref();
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
