//! What each IAM API operation acts on, for authorization: the resource ARN (as AWS's
//! service authorization reference lists it for the action) and the IAM condition keys the
//! request supplies (`iam:PolicyARN`, `iam:PermissionsBoundary`, `aws:RequestTag/*`,
//! `aws:TagKeys`).
//!
//! Resource ARNs carry the entity's path, as on AWS, so a stored entity is looked up; one
//! that does not exist yet (a create) takes the path from the request.

use rampart_store::Store;
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::{AuthorizationTarget, OperationContext};

use crate::entities::{self, Entity, Group, Role, User};

/// The ARN of an IAM entity (`user`, `role`, `group`) or of a customer-managed policy.
fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

/// The stored ARN of `name`, or one built from the request's `Path` if it does not exist.
async fn entity_arn<T: Entity>(
    store: &dyn Store,
    account: &str,
    kind: &str,
    name: &str,
    params: &QueryParams,
    arn_of: fn(&T) -> &str,
) -> String {
    match entities::load::<T>(store, name).await {
        Ok(Some(found)) => arn_of(&found.entity).to_owned(),
        _ => iam_arn(account, kind, params.get("Path").unwrap_or("/"), name),
    }
}

/// The authorization target of one IAM operation.
pub async fn iam_authorization_target(
    store: &dyn Store,
    ctx: &OperationContext<'_>,
    params: &QueryParams,
) -> AuthorizationTarget {
    let Some(caller) = ctx.caller else {
        return AuthorizationTarget::any_resource();
    };
    let account = caller.account_id.as_str();
    let operation = ctx.operation.name;
    // The group is the resource of membership changes, even though they name a user too.
    let resource = if let Some(group) = params.get("GroupName") {
        Some(entity_arn::<Group>(store, account, "group", group, params, |g| &g.arn).await)
    } else if let Some(role) = params.get("RoleName") {
        Some(entity_arn::<Role>(store, account, "role", role, params, |r| &r.arn).await)
    } else if let Some(user) = params.get("UserName") {
        Some(entity_arn::<User>(store, account, "user", user, params, |u| &u.arn).await)
    } else if operation == "CreatePolicy" {
        params
            .get("PolicyName")
            .map(|name| iam_arn(account, "policy", params.get("Path").unwrap_or("/"), name))
    } else if let Some(policy) = params.get("PolicyArn") {
        Some(policy.to_owned())
    } else if let Some(source) = params.get("PolicySourceArn") {
        Some(source.to_owned())
    } else if matches!(
        operation,
        "GetUser"
            | "CreateAccessKey"
            | "ListAccessKeys"
            | "UpdateAccessKey"
            | "DeleteAccessKey"
            | "ListUserTags"
            | "ListUserPolicies"
            | "ListAttachedUserPolicies"
            | "ListGroupsForUser"
    ) {
        // Without UserName these act on the caller's own user.
        Some(caller.arn.clone())
    } else {
        None
    };
    let mut target = match resource {
        Some(arn) => AuthorizationTarget::resource(arn),
        None => AuthorizationTarget::any_resource(),
    };
    let mut key = |k: &str, v: &str| target.condition_keys.push((k.to_owned(), v.to_owned()));
    if operation.starts_with("Attach") || operation.starts_with("Detach") {
        if let Some(policy) = params.get("PolicyArn") {
            key("iam:PolicyARN", policy);
        }
    }
    if let Some(boundary) = params.get("PermissionsBoundary") {
        key("iam:PermissionsBoundary", boundary);
    }
    for n in 1..=50 {
        let Some(tag_key) = params.get(&format!("Tags.member.{n}.Key")) else {
            break;
        };
        let value = params.get(&format!("Tags.member.{n}.Value")).unwrap_or("");
        key(&format!("aws:RequestTag/{tag_key}"), value);
        key("aws:TagKeys", tag_key);
    }
    for tag_key in params.list("TagKeys") {
        key("aws:TagKeys", tag_key);
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_carry_paths() {
        assert_eq!(iam_arn("1", "user", "/", "bob"), "arn:aws:iam::1:user/bob");
        assert_eq!(
            iam_arn("1", "role", "/app/", "fn"),
            "arn:aws:iam::1:role/app/fn"
        );
        assert_eq!(iam_arn("1", "policy", "", "p"), "arn:aws:iam::1:policy/p");
    }
}
