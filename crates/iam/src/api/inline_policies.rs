//! Inline policies of users, groups and roles: Put*/Get*/List*/Delete*Policy, written once
//! for all three. A document lives inside its owner's record, so the owner and its policies
//! change atomically; all of an owner's inline policies share one size quota.

use std::marker::PhantomData;

use rampart_policy::{check_total_size, parse_policy, policy_size, PolicyKind};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};
use rampart_wire::Check;

use super::error::IamError;
use super::input;
use super::operation::{Call, IamOperation};
use super::pagination::{paginate, PageRequest};
use super::targets::Authorized;
use super::xml;
use super::{Holder, IamService, Reply};

/// The longest policy name IAM accepts.
const MAX_POLICY_NAME: usize = 128;

/// `Put{User,Group,Role}Policy`.
pub(super) struct PutInline<T> {
    owner: String,
    policy_name: String,
    policy_document: String,
    /// The owner as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Holder> IamOperation for PutInline<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        let owner = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let policy_name = input::name(p, "PolicyName", MAX_POLICY_NAME)?;
        let document = input::required(p, "PolicyDocument")?;
        parse_policy(document, PolicyKind::Identity)
            .map_err(|e| IamError::MalformedPolicyDocument(e.aws_message()))?;
        Ok(PutInline {
            owner: owner.to_owned(),
            policy_name: policy_name.to_owned(),
            policy_document: document.to_owned(),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The owner with its current boundary (groups have none).
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.owner).await?);
        Ok(vec![target.check_with_boundary(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.put_inline(self).await
    }

    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        Some((&self.policy_document, PolicyKind::Identity))
    }
}

/// `Get{User,Group,Role}Policy`.
pub(super) struct GetInline<T> {
    owner: String,
    policy_name: String,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Holder> IamOperation for GetInline<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(GetInline {
            owner: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            policy_name: input::name(p, "PolicyName", MAX_POLICY_NAME)?.to_owned(),
            entity: PhantomData,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<T>(&self.owner).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.get_inline(self).await
    }
}

/// `List{User,Group,Role}Policies`.
pub(super) struct ListInline<T> {
    owner: String,
    page: PageRequest,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Holder> IamOperation for ListInline<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(ListInline {
            owner: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            page: PageRequest::from_params(p)?,
            entity: PhantomData,
        })
    }

    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        Ok(vec![iam.target::<T>(&self.owner).await?.check(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.list_inline(self).await
    }
}

/// `Delete{User,Group,Role}Policy`.
pub(super) struct DeleteInline<T> {
    owner: String,
    policy_name: String,
    /// The owner as its checks read it: the write acts on that state only.
    authorized: Authorized,
    entity: PhantomData<fn() -> T>,
}

#[async_trait::async_trait]
impl<T: Holder> IamOperation for DeleteInline<T> {
    fn decode(p: &QueryParams, _: &Call<'_>) -> Result<Self, IamError> {
        Ok(DeleteInline {
            owner: input::name(p, T::NAME_MEMBER, T::MAX_NAME)?.to_owned(),
            policy_name: input::name(p, "PolicyName", MAX_POLICY_NAME)?.to_owned(),
            authorized: Authorized::default(),
            entity: PhantomData,
        })
    }

    /// The owner with its current boundary (groups have none).
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        let target = self.authorized.record(iam.target::<T>(&self.owner).await?);
        Ok(vec![target.check_with_boundary(call)])
    }

    async fn execute(self, iam: &IamService, _: &Call<'_>) -> Reply {
        iam.delete_inline(self).await
    }
}

impl IamService {
    async fn put_inline<T: Holder>(&self, r: PutInline<T>) -> Reply {
        let policy_name = r.policy_name.as_str();
        let document = r.policy_document.as_str();
        self.modify::<T>(&r.owner, &r.authorized, |entity| {
            let others: usize = entity
                .inline()
                .iter()
                .filter(|(name, _)| *name != policy_name)
                .map(|(_, doc)| policy_size(doc))
                .sum();
            check_total_size(others + policy_size(document), T::INLINE_LIMIT)
                .map_err(|e| IamError::LimitExceeded(e.to_string()))?;
            entity
                .inline_mut()
                .insert(policy_name.to_owned(), document.to_owned());
            Ok(())
        })
        .await?;
        Ok(None)
    }

    async fn get_inline<T: Holder>(&self, r: GetInline<T>) -> Reply {
        let policy_name = r.policy_name.as_str();
        let entity = self.load::<T>(&r.owner).await?.entity;
        let document = entity
            .inline()
            .get(policy_name)
            .ok_or_else(|| no_such_inline::<T>(policy_name))?;
        let mut out = XmlWriter::new();
        out.element(T::NAME_MEMBER, entity.name())
            .element("PolicyName", policy_name)
            .element("PolicyDocument", &xml::document(document));
        Ok(Some(out.finish()))
    }

    async fn list_inline<T: Holder>(&self, r: ListInline<T>) -> Reply {
        let ListInline {
            owner, page: req, ..
        } = r;
        let entity = self.load::<T>(&owner).await?.entity;
        let names: Vec<String> = entity.inline().keys().cloned().collect();
        let page = paginate(names, |n| n.clone(), &req);
        let mut out = XmlWriter::new();
        xml::strings(
            &mut out,
            "PolicyNames",
            page.items.iter().map(String::as_str),
        );
        page.write_tail(&mut out);
        Ok(Some(out.finish()))
    }

    async fn delete_inline<T: Holder>(&self, r: DeleteInline<T>) -> Reply {
        let policy_name = r.policy_name.as_str();
        self.modify::<T>(&r.owner, &r.authorized, |entity| {
            entity
                .inline_mut()
                .remove(policy_name)
                .map(|_| ())
                .ok_or_else(|| no_such_inline::<T>(policy_name))
        })
        .await?;
        Ok(None)
    }
}

/// "The user policy with name p cannot be found."
fn no_such_inline<T: Holder>(policy_name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {policy_name} cannot be found.",
        T::NOUN
    ))
}
