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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What authorization read of the entity a write acts on. The write refuses to act on the
/// entity unless its ARN, tags and boundary are still exactly that: a concurrent request that
/// removed a tag or swapped the boundary between authorization and the write would otherwise
/// let the write act on a state it was never authorized on.
#[derive(Debug, Default)]
pub(crate) struct Authorized(Option<Target>);

impl Authorized {
    /// Keeps `target` as the state authorized; returns it for building the check.
    pub fn record(&mut self, target: Target) -> &Target {
        self.0.insert(target)
    }

    /// Ok if `entity` is still what was authorized; `ConcurrentModification` otherwise (the
    /// client retries, and the retry is authorized afresh). A write whose checks never ran is
    /// a bug: `ServiceFailure`.
    pub fn holds_for<T: Holder>(&self, entity: &T) -> Result<(), IamError> {
        let Some(authorized) = &self.0 else {
            tracing::error!(
                entity = entity.arn(),
                "IAM write executed without its authorization checks"
            );
            return Err(IamError::ServiceFailure(
                "The request processing has failed because of an unknown error, exception or failure.".into(),
            ));
        };
        let current = Target::of(entity);
        if current == *authorized {
            Ok(())
        } else {
            Err(IamError::ConcurrentModification(
                "The entity changed while this request was being authorized. Please retry.".into(),
            ))
        }
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

    fn user(tags: &[(&str, &str)], boundary: Option<&str>) -> entities::User {
        entities::User {
            name: "bob".into(),
            user_id: "AIDABOB".into(),
            arn: "arn:aws:iam::1:user/bob".into(),
            path: "/".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            attached_policies: Vec::new(),
            inline_policies: Default::default(),
            groups: Vec::new(),
            permissions_boundary: boundary.map(str::to_owned),
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        }
    }

    const X: &str = "arn:aws:iam::1:policy/x";
    const Y: &str = "arn:aws:iam::1:policy/y";

    fn authorized_on(entity: &entities::User) -> Authorized {
        let mut authorized = Authorized::default();
        let recorded = authorized.record(Target::of(entity)).clone();
        assert_eq!(recorded, Target::of(entity));
        authorized
    }

    #[test]
    fn an_unchanged_entity_holds() {
        let bob = user(&[("team", "a")], Some(X));
        let authorized = authorized_on(&bob);
        assert_eq!(authorized.holds_for(&bob), Ok(()));
        // What the write itself changes (here, attachments) is not what was authorized.
        let mut attached = bob.clone();
        attached.attached_policies.push(Y.into());
        assert_eq!(authorized.holds_for(&attached), Ok(()));
    }

    #[test]
    fn a_changed_tag_is_a_concurrent_modification() {
        let authorized = authorized_on(&user(&[("team", "a")], Some(X)));
        for changed in [
            user(&[], Some(X)),
            user(&[("team", "b")], Some(X)),
            user(&[("team", "a"), ("env", "prod")], Some(X)),
        ] {
            let err = authorized.holds_for(&changed).unwrap_err();
            assert_eq!(err.code(), "ConcurrentModification", "{changed:?}");
        }
    }

    #[test]
    fn a_changed_boundary_is_a_concurrent_modification() {
        let authorized = authorized_on(&user(&[], Some(X)));
        for changed in [user(&[], Some(Y)), user(&[], None)] {
            let err = authorized.holds_for(&changed).unwrap_err();
            assert_eq!(err.code(), "ConcurrentModification", "{changed:?}");
        }
        // Nor may a boundary appear on an entity authorized without one.
        let authorized = authorized_on(&user(&[], None));
        let err = authorized.holds_for(&user(&[], Some(X))).unwrap_err();
        assert_eq!(err.code(), "ConcurrentModification");
    }

    #[test]
    fn a_changed_arn_is_a_concurrent_modification() {
        let bob = user(&[], None);
        let authorized = authorized_on(&bob);
        let mut moved = bob;
        moved.path = "/ops/".into();
        moved.arn = "arn:aws:iam::1:user/ops/bob".into();
        let err = authorized.holds_for(&moved).unwrap_err();
        assert_eq!(err.code(), "ConcurrentModification");
    }

    #[test]
    fn a_write_never_authorized_is_a_service_failure() {
        let err = Authorized::default()
            .holds_for(&user(&[], None))
            .unwrap_err();
        assert_eq!((err.code(), err.status()), ("ServiceFailure", 500));
    }
}
