//! What authorization needs to know about the entities an IAM request names: the resource
//! ARN as AWS's service authorization reference lists it (with the entity's stored path) and
//! the condition keys that describe the resource, read from its *stored* state —
//! `aws:ResourceTag/*` and `iam:ResourceTag/*`, and its current `iam:PermissionsBoundary` —
//! never from what the request claims about it.

use rampart_wire::Check;

use super::error::IamError;
use super::operation::Call;
use super::{Holder, IamService};
use crate::entities::{self, ManagedPolicy, Tag};

/// An entity as authorization sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The stored ARN; for an entity that does not exist, the ARN it would have.
    pub arn: String,
    /// The stored tags (none for an entity that does not exist).
    pub tags: Vec<Tag>,
    /// The stored permissions boundary.
    pub boundary: Option<String>,
}

impl Target {
    /// An entity that does not exist (yet): its ARN only.
    pub fn new(arn: String) -> Self {
        Target {
            arn,
            tags: Vec::new(),
            boundary: None,
        }
    }

    /// A stored user, group or role.
    pub fn of<T: Holder>(entity: &T) -> Self {
        Target {
            arn: entity.arn().to_owned(),
            tags: entity.resource_tags().to_vec(),
            boundary: entity.boundary().map(str::to_owned),
        }
    }

    /// The operation's action on this entity, with its resource tags.
    pub fn check(&self, call: &Call<'_>) -> Check {
        let mut check = Check::on(call.action(), &self.arn);
        for tag in &self.tags {
            check.push_key(format!("aws:ResourceTag/{}", tag.key), &tag.value);
            check.push_key(format!("iam:ResourceTag/{}", tag.key), &tag.value);
        }
        check
    }

    /// The same, with the entity's current boundary as `iam:PermissionsBoundary`: AWS
    /// supplies it for the operations that change a user's or role's permissions
    /// (Attach/Detach/Put/Delete*Policy, Delete*PermissionsBoundary), so a delegated
    /// administrator can be held to entities that carry a given boundary.
    pub fn check_with_boundary(&self, call: &Call<'_>) -> Check {
        let mut check = self.check(call);
        if let Some(boundary) = &self.boundary {
            check.push_key("iam:PermissionsBoundary", boundary);
        }
        check
    }
}

/// The path of an entity ARN (`arn:aws:iam::1:user/a/b/bob` → `/a/b/`).
pub(crate) fn path_of(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    let after_kind = resource.split_once('/').map(|(_, rest)| rest).unwrap_or("");
    match after_kind.rfind('/') {
        Some(end) => format!("/{}", &after_kind[..=end]),
        None => "/".to_owned(),
    }
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` for the tags a request sets.
pub(crate) fn request_tags(check: &mut Check, tags: &[Tag]) {
    for tag in tags {
        check.push_key(format!("aws:RequestTag/{}", tag.key), &tag.value);
        check.push_key("aws:TagKeys", &tag.key);
    }
}

impl IamService {
    /// The stored user, group or role `name`; one that does not exist is named by the ARN it
    /// would have at the root path (the operation will answer `NoSuchEntity`, but only to a
    /// caller allowed to ask).
    pub(crate) async fn target<T: Holder>(&self, name: &str) -> Result<Target, IamError> {
        Ok(
            match entities::load::<T>(self.store.as_ref(), name).await? {
                Some(found) => Target::of(&found.entity),
                None => Target::new(self.arn(T::NOUN, "/", name)),
            },
        )
    }

    /// A customer-managed policy with its stored tags; an AWS-managed one (or a policy that
    /// does not exist) by its ARN alone.
    pub(crate) async fn policy_target(&self, arn: &str) -> Result<Target, IamError> {
        Ok(
            match entities::load::<ManagedPolicy>(self.store.as_ref(), arn).await? {
                Some(found) => Target {
                    arn: found.entity.arn.clone(),
                    tags: found.entity.tags.clone(),
                    boundary: None,
                },
                None => Target::new(arn.to_owned()),
            },
        )
    }

    /// The ARN a new entity will have.
    pub(crate) fn new_target(&self, kind: &str, path: &str, name: &str) -> Target {
        Target::new(self.arn(kind, path, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_arns() {
        assert_eq!(path_of("arn:aws:iam::1:user/bob"), "/");
        assert_eq!(path_of("arn:aws:iam::1:user/a/b/bob"), "/a/b/");
        assert_eq!(path_of("garbage"), "/");
    }

    #[test]
    fn resource_tags_become_both_condition_keys() {
        let target = Target {
            arn: "arn:aws:iam::1:user/a".into(),
            tags: vec![Tag {
                key: "team".into(),
                value: "x".into(),
            }],
            boundary: Some("arn:aws:iam::1:policy/b".into()),
        };
        let call = Call {
            op: "AttachUserPolicy",
            caller: None,
        };
        let check = target.check_with_boundary(&call);
        assert_eq!(check.action, "iam:AttachUserPolicy");
        assert!(check
            .condition_keys
            .contains(&("aws:ResourceTag/team".into(), "x".into())));
        assert!(check
            .condition_keys
            .contains(&("iam:ResourceTag/team".into(), "x".into())));
        assert!(check.condition_keys.contains(&(
            "iam:PermissionsBoundary".into(),
            "arn:aws:iam::1:policy/b".into()
        )));
        assert!(!target
            .check(&call)
            .condition_keys
            .iter()
            .any(|(k, _)| k == "iam:PermissionsBoundary"));
    }
}
