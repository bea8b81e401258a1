//! Tags and permissions boundaries of users and roles: Tag*/Untag*/List*Tags and
//! Put*/Delete*PermissionsBoundary, written once for both; and the tags of customer-managed
//! policies (TagPolicy, UntagPolicy, ListPolicyTags).

use rampart_store::Expect;
use rampart_wire::protocol::query::{QueryParams, XmlWriter};

use super::error::IamError;
use super::input;
use super::pagination::{paginate, PageRequest};
use super::policies::PolicyRef;
use super::xml;
use super::{IamService, Reply, Tagged, COMMIT_ATTEMPTS};
use crate::entities;

impl IamService {
    pub(super) async fn tag<T: Tagged>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let tags = input::tags(p)?;
        if tags.is_empty() {
            return Err(IamError::missing("Tags"));
        }
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
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

    pub(super) async fn untag<T: Tagged>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let keys = p.list("TagKeys");
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
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

    pub(super) async fn list_tags<T: Tagged>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let req = PageRequest::from_params(p)?;
        let entity = self.load::<T>(name).await?.entity;
        let page = paginate(entity.tags().to_vec(), |t| t.key.clone(), &req);
        let mut out = XmlWriter::new();
        xml::tags(&mut out, "Tags", &page.items);
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    /// Sets the boundary; the usage counts of the old and new policy move in the same commit.
    pub(super) async fn put_boundary<T: Tagged>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let arn = input::policy_arn(p, "PermissionsBoundary")?;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
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

    pub(super) async fn delete_boundary<T: Tagged>(&self, p: &QueryParams) -> Reply {
        let name = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.load::<T>(name).await?;
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
    pub(super) async fn tag_policy(&self, p: &QueryParams) -> Reply {
        let arn = input::policy_arn(p, "PolicyArn")?;
        let tags = input::tags(p)?;
        if tags.is_empty() {
            return Err(IamError::missing("Tags"));
        }
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
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

    pub(super) async fn untag_policy(&self, p: &QueryParams) -> Reply {
        let arn = input::policy_arn(p, "PolicyArn")?;
        let keys = p.list("TagKeys");
        for _ in 0..COMMIT_ATTEMPTS {
            let current = self.local_policy(arn).await?;
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
    pub(super) async fn list_policy_tags(&self, p: &QueryParams) -> Reply {
        let arn = input::policy_arn(p, "PolicyArn")?;
        let req = PageRequest::from_params(p)?;
        let tags = match self.find_policy(arn).await? {
            Some(PolicyRef::Local(v)) => v.entity.tags,
            Some(PolicyRef::Aws(_)) => Vec::new(),
            None => return Err(super::policies::not_found(arn)),
        };
        let page = paginate(tags, |t| t.key.clone(), &req);
        let mut out = XmlWriter::new();
        xml::tags(&mut out, "Tags", &page.items);
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }
}
