//! Tags and permissions boundaries of users and roles: Tag*/Untag*/List*Tags and
//! Put*/Delete*PermissionsBoundary, written once for both; and the tags of customer-managed
//! policies (TagPolicy, UntagPolicy, ListPolicyTags).

use std::marker::PhantomData;

use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, PageRequest};
use super::policies::PolicyRef;
use super::targets::{request_tags, Authorized};
use super::xml;
use super::{IamService, Reply, Tagged, COMMIT_ATTEMPTS};
use crate::entities::{self, Tag};

/// The tags a Tag* request sets: at least one, as IAM requires.
fn required_tags(p: &QueryParams) -> Result<Vec<Tag>, IamError> {
    let tags = input::tags(p)?;
    if tags.is_empty() {
        return Err(IamError::missing("Tags"));
    }
    Ok(tags)
}

/// The keys an Untag* request removes.
fn tag_keys(p: &QueryParams) -> Vec<String> {
    p.list("TagKeys").into_iter().map(str::to_owned).collect()
}

/// `aws:TagKeys` for every key a request removes.
fn removed_keys(check: &mut Check, keys: &[String]) {
    for key in keys {
        check.push_key("aws:TagKeys", key);
    }
}

/// `Tag{User,Role}`.
pub(super) struct TagEntity<T> {
    name: String,
    tags: Vec<Tag>,
    /// The entity as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Tagged> IamOperation for TagEntity<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(TagEntity {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            tags: required_tags(p)?,
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The entity, with the tags the request sets.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.name).await?);
        let mut check = target.check(call);
        request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.tag(self).await
    }
}

/// `Untag{User,Role}`.
pub(super) struct UntagEntity<T> {
    name: String,
    keys: Vec<String>,
    /// The entity as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Tagged> IamOperation for UntagEntity<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(UntagEntity {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            keys: tag_keys(p),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The entity, with the keys the request removes as `aws:TagKeys`.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.name).await?);
        let mut check = target.check(call);
        removed_keys(&mut check, &self.keys);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.untag(self).await
    }
}

/// `List{User,Role}Tags`.
pub(super) struct ListEntityTags<T> {
    name: String,
    page: PageRequest,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Tagged> IamOperation for ListEntityTags<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListEntityTags {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            page: PageRequest::from_params(p)?,
            entity: PhantomData,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<T>(&self.name).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_tags(self).await
    }
}

/// `Put{User,Role}PermissionsBoundary`.
pub(super) struct PutBoundary<T> {
    name: String,
    boundary: String,
    /// The entity as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Tagged> IamOperation for PutBoundary<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(PutBoundary {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            boundary: input::policy_arn(p, "PermissionsBoundary")?.to_owned(),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The entity, with `iam:PermissionsBoundary` the boundary requested (as AWS supplies it
    /// here), not the one it has now.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.name).await?);
        let check = target
            .check(call)
            .with_key("iam:PermissionsBoundary", &self.boundary);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.put_boundary(self).await
    }
}

/// `Delete{User,Role}PermissionsBoundary`.
pub(super) struct DeleteBoundary<T> {
    name: String,
    /// The entity as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Tagged> IamOperation for DeleteBoundary<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteBoundary {
            name: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The entity with its current boundary, so a policy that forbids removing a given
    /// boundary holds.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.name).await?);
        Ok(vec![target.check_with_boundary(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_boundary(self).await
    }
}

pub(super) struct TagPolicy {
    policy_arn: String,
    tags: Vec<Tag>,
}

#[async_trait::async_trait]
impl IamOperation for TagPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(TagPolicy {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            tags: required_tags(p)?,
        })
    }

    /// The policy, with the tags the request sets.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let mut check = iam.policy_target(&self.policy_arn).await?.check(call);
        request_tags(&mut check, &self.tags);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.tag_policy(self).await
    }
}

pub(super) struct UntagPolicy {
    policy_arn: String,
    keys: Vec<String>,
}

#[async_trait::async_trait]
impl IamOperation for UntagPolicy {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(UntagPolicy {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            keys: tag_keys(p),
        })
    }

    /// The policy, with the keys the request removes as `aws:TagKeys`.
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let mut check = iam.policy_target(&self.policy_arn).await?.check(call);
        removed_keys(&mut check, &self.keys);
        Ok(vec![check])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.untag_policy(self).await
    }
}

pub(super) struct ListPolicyTags {
    policy_arn: String,
    page: PageRequest,
}

#[async_trait::async_trait]
impl IamOperation for ListPolicyTags {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListPolicyTags {
            policy_arn: input::policy_arn(p, "PolicyArn")?.to_owned(),
            page: PageRequest::from_params(p)?,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.policy_target(&self.policy_arn).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_policy_tags(self).await
    }
}

impl IamService {
    async fn tag<T: Tagged>(&self, r: TagEntity<T>) -> Reply {
        let TagEntity {
            name,
            tags,
            authorized,
            ..
        } = r;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(&name).await?;
            authorized.holds_for(&current.entity)?;
            let mut entity = current.entity.clone();
            input::merge_tags(entity.tags_mut(), tags.clone())?;
            if self
                .try_commit(vec![entities::put(
                    &entity,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn untag<T: Tagged>(&self, r: UntagEntity<T>) -> Reply {
        let UntagEntity {
            name,
            keys,
            authorized,
            ..
        } = r;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(&name).await?;
            authorized.holds_for(&current.entity)?;
            let mut entity = current.entity.clone();
            entity
                .tags_mut()
                .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            if self
                .try_commit(vec![entities::put(
                    &entity,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn list_tags<T: Tagged>(&self, r: ListEntityTags<T>) -> Reply {
        let ListEntityTags {
            name, page: req, ..
        } = r;
        let entity = self.load::<T>(&name).await?.entity;
        let page = paginate(entity.tags().to_vec(), |t| t.key.clone(), &req);
        let mut out = XmlWriter::new();
        xml::tags(&mut out, "Tags", &page.items);
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Sets the boundary; the usage counts of the old and new policy move in the same commit.
    async fn put_boundary<T: Tagged>(&self, r: PutBoundary<T>) -> Reply {
        let name = r.name.as_str();
        let arn = r.boundary.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            r.authorized.holds_for(&current.entity)?;
            let mut entity = current.entity.clone();
            let old = entity.boundary_mut().replace(arn.to_owned());
            if old.as_deref() == Some(arn) {
                return Ok(None);
            }
            let mut writes = vec![entities::put(&entity, Expect::Version(current.version))];
            writes.extend(self.boundary_policy(arn).await?.adjust(0, 1));
            if let Some(old) = old {
                if let Some(policy) = self.find_policy(&old).await? {
                    writes.extend(policy.adjust(0, -1));
                }
            }
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn delete_boundary<T: Tagged>(&self, r: DeleteBoundary<T>) -> Reply {
        let name = r.name.as_str();
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
            r.authorized.holds_for(&current.entity)?;
            let mut entity = current.entity.clone();
            let Some(old) = entity.boundary_mut().take() else {
                return Ok(None);
            };
            let mut writes = vec![entities::put(&entity, Expect::Version(current.version))];
            if let Some(policy) = self.find_policy(&old).await? {
                writes.extend(policy.adjust(0, -1));
            }
            if self.try_commit(writes).await? {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }
}

impl IamService {
    async fn tag_policy(&self, r: TagPolicy) -> Reply {
        let TagPolicy { policy_arn, tags } = r;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(&policy_arn).await?;
            let mut policy = current.entity.clone();
            input::merge_tags(&mut policy.tags, tags.clone())?;
            if self
                .try_commit(vec![entities::put(
                    &policy,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    async fn untag_policy(&self, r: UntagPolicy) -> Reply {
        let UntagPolicy { policy_arn, keys } = r;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(&policy_arn).await?;
            let mut policy = current.entity.clone();
            policy
                .tags
                .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            if self
                .try_commit(vec![entities::put(
                    &policy,
                    Expect::Version(current.version),
                )])
                .await?
            {
                return Ok(None);
            }
        }
        Err(IamError::concurrent())
    }

    /// AWS-managed policies carry no tags.
    async fn list_policy_tags(&self, r: ListPolicyTags) -> Reply {
        let ListPolicyTags {
            policy_arn: arn,
            page: req,
        } = r;
        let tags = match self.find_policy(&arn).await? {
            Some(PolicyRef::Local(v)) => v.entity.tags,
            Some(PolicyRef::Aws(_)) => Vec::new(),
            None => return Err(super::policies::not_found(&arn)),
        };
        let page = paginate(tags, |t| t.key.clone(), &req);
        let mut out = XmlWriter::new();
        xml::tags(&mut out, "Tags", &page.items);
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }
}
