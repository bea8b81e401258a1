//! Inline policies of users, groups and roles: Put*/Get*/List*/Delete*Policy, written once
//! for all three. A document lives inside its owner's record, so the owner and its policies
//! change atomically; all of an owner's inline policies share one size quota.

use rampart_policy::{check_total_size, parse_policy, policy_size, PolicyKind};
use rampart_wire::protocol::query::{QueryParams, XmlWriter};

use super::error::IamError;
use super::input;
use super::pagination::{paginate, PageRequest};
use super::xml;
use super::{Holder, IamService, Reply};

/// The longest policy name IAM accepts.
const MAX_POLICY_NAME: usize = 128;

impl IamService {
    pub(super) async fn put_inline<T: Holder>(&self, p: &QueryParams) -> Reply {
        let owner = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let policy_name = input::name(p, "PolicyName", MAX_POLICY_NAME)?;
        let document = input::required(p, "PolicyDocument")?;
        parse_policy(document, PolicyKind::Identity)
            .map_err(|e| IamError::MalformedPolicyDocument(e.aws_message()))?;
        self.modify::<T>(owner, |entity| {
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

    pub(super) async fn get_inline<T: Holder>(&self, p: &QueryParams) -> Reply {
        let owner = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let policy_name = input::name(p, "PolicyName", MAX_POLICY_NAME)?;
        let entity = self.load::<T>(owner).await?.entity;
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

    pub(super) async fn list_inline<T: Holder>(&self, p: &QueryParams) -> Reply {
        let owner = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let req = PageRequest::from_params(p)?;
        let entity = self.load::<T>(owner).await?.entity;
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

    pub(super) async fn delete_inline<T: Holder>(&self, p: &QueryParams) -> Reply {
        let owner = input::name(p, T::NAME_MEMBER, T::MAX_NAME)?;
        let policy_name = input::name(p, "PolicyName", MAX_POLICY_NAME)?;
        self.modify::<T>(owner, |entity| {
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
