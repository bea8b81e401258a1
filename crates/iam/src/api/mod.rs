//! The IAM API (query protocol, API version 2010-05-08): users, groups, roles, access keys,
//! inline and managed policies, account authorization details.
//!
//! One file per noun of the service; this one holds the operation table, the dispatch and
//! what every handler shares: loading an entity or answering `NoSuchEntity`, committing with
//! optimistic concurrency and retrying when another writer won, and telling the request path
//! that what it cached about credentials may be stale.
//!
//! No state lives here: every handler reads the store, and every mutation is one atomic
//! [`Store::commit`] whose writes expect the versions that were read.

mod access_keys;
mod account_details;
mod attachments;
/// IAM's error codes and messages.
pub mod error;
mod groups;
mod inline_policies;
/// Request members read and validated as IAM does (pure, unit-tested).
pub mod input;
/// `Marker`/`IsTruncated`/`MaxItems`.
pub mod pagination;
mod policies;
mod policy_versions;
mod roles;
mod simulate;
mod tags;
mod users;
/// The XML shapes botocore's IAM model reads.
pub mod xml;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rampart_core::{CallerIdentity, MasterKey};
use rampart_policy::SizeLimit;
use rampart_store::{Store, StoreError, Write};
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::{
    CommonError, Input, OperationContext, OperationSpec, Output, Protocol, ProtocolKind, Service,
    ServiceError,
};

pub use error::IamError;

use crate::entities::{self, Entity, Group, Role, User, Versioned};

/// How often a mutation re-reads and retries after another writer changed what it read.
const COMMIT_ATTEMPTS: usize = 5;

/// The result XML of an operation (`None` for operations that answer only metadata).
type Reply = Result<Option<String>, IamError>;

/// Called after every successful IAM change, so the request path stops trusting credentials
/// (and the policies they carry) that it cached before the change. Connected once at startup;
/// until then (and in tests) it does nothing.
#[derive(Clone, Default)]
pub struct ChangeHook(Arc<OnceLock<Box<dyn Fn() + Send + Sync>>>);

impl ChangeHook {
    /// Sets what runs on every change; later calls are ignored.
    pub fn connect(&self, on_change: impl Fn() + Send + Sync + 'static) {
        let _ = self.0.set(Box::new(on_change));
    }

    fn fire(&self) {
        if let Some(on_change) = self.0.get() {
            on_change();
        }
    }
}

impl std::fmt::Debug for ChangeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeHook")
    }
}

/// The IAM service surface.
pub struct IamService {
    store: Arc<dyn Store>,
    /// Seals the secret of every new access key before it is stored.
    master_key: Arc<MasterKey>,
    account_id: String,
    on_change: ChangeHook,
}

impl IamService {
    /// The service over `store`, sealing new secrets with `master_key`, minting ARNs in
    /// `account_id`, and calling `on_change` after every successful change.
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        account_id: impl Into<String>,
        on_change: ChangeHook,
    ) -> Self {
        IamService {
            store,
            master_key,
            account_id: account_id.into(),
            on_change,
        }
    }

    /// `arn:aws:iam::<account>:<kind><path><name>`.
    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account_id)
    }

    /// Reads an entity or answers IAM's `NoSuchEntity`.
    async fn load<T: Holder>(&self, name: &str) -> Result<Versioned<T>, IamError> {
        entities::load::<T>(self.store.as_ref(), name)
            .await?
            .ok_or_else(|| IamError::no_such(T::NOUN, name))
    }

    /// Commits atomically. `Ok(false)` means another writer changed what this request read:
    /// the caller re-reads and tries again.
    async fn try_commit(&self, writes: Vec<Write>) -> Result<bool, IamError> {
        match self.store.commit(writes).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn dispatch(
        &self,
        operation: &str,
        p: &QueryParams,
        caller: Option<&CallerIdentity>,
    ) -> Reply {
        match operation {
            "CreateUser" => self.create_user(p).await,
            "SimulateCustomPolicy" => self.simulate_custom_policy(p, caller).await,
            "SimulatePrincipalPolicy" => self.simulate_principal_policy(p).await,
            "GetUser" => self.get_user(p, caller).await,
            "ListUsers" => self.list_users(p).await,
            "UpdateUser" => self.update_user(p).await,
            "DeleteUser" => self.delete_user(p).await,
            "TagUser" => self.tag::<User>(p).await,
            "UntagUser" => self.untag::<User>(p).await,
            "ListUserTags" => self.list_tags::<User>(p).await,
            "PutUserPermissionsBoundary" => self.put_boundary::<User>(p).await,
            "DeleteUserPermissionsBoundary" => self.delete_boundary::<User>(p).await,
            "CreateAccessKey" => self.create_access_key(p, caller).await,
            "ListAccessKeys" => self.list_access_keys(p, caller).await,
            "UpdateAccessKey" => self.update_access_key(p, caller).await,
            "DeleteAccessKey" => self.delete_access_key(p, caller).await,
            "GetAccessKeyLastUsed" => self.get_access_key_last_used(p).await,
            "CreateGroup" => self.create_group(p).await,
            "GetGroup" => self.get_group(p).await,
            "ListGroups" => self.list_groups(p).await,
            "UpdateGroup" => self.update_group(p).await,
            "DeleteGroup" => self.delete_group(p).await,
            "AddUserToGroup" => self.add_user_to_group(p).await,
            "RemoveUserFromGroup" => self.remove_user_from_group(p).await,
            "ListGroupsForUser" => self.list_groups_for_user(p).await,
            "CreateRole" => self.create_role(p).await,
            "GetRole" => self.get_role(p).await,
            "ListRoles" => self.list_roles(p).await,
            "UpdateRole" => self.update_role(p).await,
            "UpdateRoleDescription" => self.update_role_description(p).await,
            "UpdateAssumeRolePolicy" => self.update_assume_role_policy(p).await,
            "DeleteRole" => self.delete_role(p).await,
            "TagRole" => self.tag::<Role>(p).await,
            "UntagRole" => self.untag::<Role>(p).await,
            "ListRoleTags" => self.list_tags::<Role>(p).await,
            "PutRolePermissionsBoundary" => self.put_boundary::<Role>(p).await,
            "DeleteRolePermissionsBoundary" => self.delete_boundary::<Role>(p).await,
            "PutUserPolicy" => self.put_inline::<User>(p).await,
            "GetUserPolicy" => self.get_inline::<User>(p).await,
            "ListUserPolicies" => self.list_inline::<User>(p).await,
            "DeleteUserPolicy" => self.delete_inline::<User>(p).await,
            "PutGroupPolicy" => self.put_inline::<Group>(p).await,
            "GetGroupPolicy" => self.get_inline::<Group>(p).await,
            "ListGroupPolicies" => self.list_inline::<Group>(p).await,
            "DeleteGroupPolicy" => self.delete_inline::<Group>(p).await,
            "PutRolePolicy" => self.put_inline::<Role>(p).await,
            "GetRolePolicy" => self.get_inline::<Role>(p).await,
            "ListRolePolicies" => self.list_inline::<Role>(p).await,
            "DeleteRolePolicy" => self.delete_inline::<Role>(p).await,
            "CreatePolicy" => self.create_policy(p).await,
            "GetPolicy" => self.get_policy(p).await,
            "ListPolicies" => self.list_policies(p).await,
            "DeletePolicy" => self.delete_policy(p).await,
            "TagPolicy" => self.tag_policy(p).await,
            "UntagPolicy" => self.untag_policy(p).await,
            "ListPolicyTags" => self.list_policy_tags(p).await,
            "CreatePolicyVersion" => self.create_policy_version(p).await,
            "GetPolicyVersion" => self.get_policy_version(p).await,
            "ListPolicyVersions" => self.list_policy_versions(p).await,
            "DeletePolicyVersion" => self.delete_policy_version(p).await,
            "SetDefaultPolicyVersion" => self.set_default_policy_version(p).await,
            "AttachUserPolicy" => self.attach::<User>(p).await,
            "DetachUserPolicy" => self.detach::<User>(p).await,
            "ListAttachedUserPolicies" => self.list_attached::<User>(p).await,
            "AttachGroupPolicy" => self.attach::<Group>(p).await,
            "DetachGroupPolicy" => self.detach::<Group>(p).await,
            "ListAttachedGroupPolicies" => self.list_attached::<Group>(p).await,
            "AttachRolePolicy" => self.attach::<Role>(p).await,
            "DetachRolePolicy" => self.detach::<Role>(p).await,
            "ListAttachedRolePolicies" => self.list_attached::<Role>(p).await,
            "ListEntitiesForPolicy" => self.list_entities_for_policy(p).await,
            "GetAccountAuthorizationDetails" => self.get_account_authorization_details(p).await,
            other => Err(IamError::InvalidInput(format!(
                "Could not find operation {other} for service iam"
            ))),
        }
    }
}

/// Whether an operation only reads: everything else may change what a credential is allowed.
fn is_read_only(operation: &str) -> bool {
    operation.starts_with("Get")
        || operation.starts_with("List")
        || operation.starts_with("Simulate")
}

/// The operations IAM offers.
const OPERATIONS: &[OperationSpec] = &[
    OperationSpec::signed("SimulateCustomPolicy"),
    OperationSpec::signed("SimulatePrincipalPolicy"),
    OperationSpec::signed("CreateUser"),
    OperationSpec::signed("GetUser"),
    OperationSpec::signed("ListUsers"),
    OperationSpec::signed("UpdateUser"),
    OperationSpec::signed("DeleteUser"),
    OperationSpec::signed("TagUser"),
    OperationSpec::signed("UntagUser"),
    OperationSpec::signed("ListUserTags"),
    OperationSpec::signed("PutUserPermissionsBoundary"),
    OperationSpec::signed("DeleteUserPermissionsBoundary"),
    OperationSpec::signed("CreateAccessKey"),
    OperationSpec::signed("ListAccessKeys"),
    OperationSpec::signed("UpdateAccessKey"),
    OperationSpec::signed("DeleteAccessKey"),
    OperationSpec::signed("GetAccessKeyLastUsed"),
    OperationSpec::signed("CreateGroup"),
    OperationSpec::signed("GetGroup"),
    OperationSpec::signed("ListGroups"),
    OperationSpec::signed("UpdateGroup"),
    OperationSpec::signed("DeleteGroup"),
    OperationSpec::signed("AddUserToGroup"),
    OperationSpec::signed("RemoveUserFromGroup"),
    OperationSpec::signed("ListGroupsForUser"),
    OperationSpec::signed("CreateRole"),
    OperationSpec::signed("GetRole"),
    OperationSpec::signed("ListRoles"),
    OperationSpec::signed("UpdateRole"),
    OperationSpec::signed("UpdateRoleDescription"),
    OperationSpec::signed("UpdateAssumeRolePolicy"),
    OperationSpec::signed("DeleteRole"),
    OperationSpec::signed("TagRole"),
    OperationSpec::signed("UntagRole"),
    OperationSpec::signed("ListRoleTags"),
    OperationSpec::signed("PutRolePermissionsBoundary"),
    OperationSpec::signed("DeleteRolePermissionsBoundary"),
    OperationSpec::signed("PutUserPolicy"),
    OperationSpec::signed("GetUserPolicy"),
    OperationSpec::signed("ListUserPolicies"),
    OperationSpec::signed("DeleteUserPolicy"),
    OperationSpec::signed("PutGroupPolicy"),
    OperationSpec::signed("GetGroupPolicy"),
    OperationSpec::signed("ListGroupPolicies"),
    OperationSpec::signed("DeleteGroupPolicy"),
    OperationSpec::signed("PutRolePolicy"),
    OperationSpec::signed("GetRolePolicy"),
    OperationSpec::signed("ListRolePolicies"),
    OperationSpec::signed("DeleteRolePolicy"),
    OperationSpec::signed("CreatePolicy"),
    OperationSpec::signed("GetPolicy"),
    OperationSpec::signed("ListPolicies"),
    OperationSpec::signed("DeletePolicy"),
    OperationSpec::signed("TagPolicy"),
    OperationSpec::signed("UntagPolicy"),
    OperationSpec::signed("ListPolicyTags"),
    OperationSpec::signed("CreatePolicyVersion"),
    OperationSpec::signed("GetPolicyVersion"),
    OperationSpec::signed("ListPolicyVersions"),
    OperationSpec::signed("DeletePolicyVersion"),
    OperationSpec::signed("SetDefaultPolicyVersion"),
    OperationSpec::signed("AttachUserPolicy"),
    OperationSpec::signed("DetachUserPolicy"),
    OperationSpec::signed("ListAttachedUserPolicies"),
    OperationSpec::signed("AttachGroupPolicy"),
    OperationSpec::signed("DetachGroupPolicy"),
    OperationSpec::signed("ListAttachedGroupPolicies"),
    OperationSpec::signed("AttachRolePolicy"),
    OperationSpec::signed("DetachRolePolicy"),
    OperationSpec::signed("ListAttachedRolePolicies"),
    OperationSpec::signed("ListEntitiesForPolicy"),
    OperationSpec::signed("GetAccountAuthorizationDetails"),
];

#[async_trait::async_trait]
impl Service for IamService {
    fn signing_name(&self) -> &'static str {
        "iam"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query {
            xml_namespace: "https://iam.amazonaws.com/doc/2010-05-08/",
            api_version: "2010-05-08",
        }
    }

    fn operations(&self) -> &'static [OperationSpec] {
        OPERATIONS
    }

    async fn authorization_target(
        &self,
        ctx: &OperationContext<'_>,
        input: &Input,
    ) -> rampart_wire::AuthorizationTarget {
        match input {
            Input::Query(params) => {
                crate::iam_target::iam_authorization_target(self.store.as_ref(), ctx, params).await
            }
            _ => rampart_wire::AuthorizationTarget::any_resource(),
        }
    }

    async fn call(&self, ctx: OperationContext<'_>, input: Input) -> Result<Output, ServiceError> {
        let Input::Query(params) = input else {
            return Err(
                CommonError::Serialization("IAM speaks the query protocol.".into())
                    .for_protocol(ProtocolKind::Query),
            );
        };
        let operation = ctx.operation.name;
        let reply = self.dispatch(operation, &params, ctx.caller).await?;
        if !is_read_only(operation) {
            self.on_change.fire();
        }
        let output = Output::Query(reply);
        Ok(
            match crate::policy_findings::findings_header(operation, &params) {
                Some(header) => Output::Annotated {
                    output: Box::new(output),
                    headers: vec![header],
                },
                None => output,
            },
        )
    }
}

/// What users, groups and roles have in common: a name, a path, and policies of their own.
/// Lets inline policies, attachments, tags and boundaries be written once for all three.
pub(crate) trait Holder: Entity + Clone + Send + Sync + 'static {
    /// `user`, `group`, `role`: the noun in ARNs and messages.
    const NOUN: &'static str;
    /// `UserName`, `GroupName`, `RoleName`: the member naming it.
    const NAME_MEMBER: &'static str;
    /// The longest name IAM accepts.
    const MAX_NAME: usize;
    /// The quota all of the entity's inline policies share.
    const INLINE_LIMIT: SizeLimit;
    /// `PoliciesPerUser`…: the quota name for attached managed policies.
    const ATTACHED_QUOTA: &'static str;
    fn name(&self) -> &str;
    fn inline(&self) -> &BTreeMap<String, String>;
    fn inline_mut(&mut self) -> &mut BTreeMap<String, String>;
    fn attached(&self) -> &[String];
    fn attached_mut(&mut self) -> &mut Vec<String>;
}

/// Entities that carry tags and a permissions boundary (users and roles).
pub(crate) trait Tagged: Holder {
    fn tags(&self) -> &[crate::entities::Tag];
    fn tags_mut(&mut self) -> &mut Vec<crate::entities::Tag>;
    fn boundary_mut(&mut self) -> &mut Option<String>;
}

macro_rules! holder {
    ($t:ty, $noun:literal, $member:literal, $max:literal, $limit:expr, $quota:literal) => {
        impl Holder for $t {
            const NOUN: &'static str = $noun;
            const NAME_MEMBER: &'static str = $member;
            const MAX_NAME: usize = $max;
            const INLINE_LIMIT: SizeLimit = $limit;
            const ATTACHED_QUOTA: &'static str = $quota;
            fn name(&self) -> &str {
                &self.name
            }
            fn inline(&self) -> &BTreeMap<String, String> {
                &self.inline_policies
            }
            fn inline_mut(&mut self) -> &mut BTreeMap<String, String> {
                &mut self.inline_policies
            }
            fn attached(&self) -> &[String] {
                &self.attached_policies
            }
            fn attached_mut(&mut self) -> &mut Vec<String> {
                &mut self.attached_policies
            }
        }
    };
}

holder!(
    User,
    "user",
    "UserName",
    64,
    SizeLimit::UserInline,
    "PoliciesPerUser"
);
holder!(
    Group,
    "group",
    "GroupName",
    128,
    SizeLimit::GroupInline,
    "PoliciesPerGroup"
);
holder!(
    Role,
    "role",
    "RoleName",
    64,
    SizeLimit::RoleInline,
    "PoliciesPerRole"
);

impl Tagged for User {
    fn tags(&self) -> &[crate::entities::Tag] {
        &self.tags
    }
    fn tags_mut(&mut self) -> &mut Vec<crate::entities::Tag> {
        &mut self.tags
    }
    fn boundary_mut(&mut self) -> &mut Option<String> {
        &mut self.permissions_boundary
    }
}

impl Tagged for Role {
    fn tags(&self) -> &[crate::entities::Tag] {
        &self.tags
    }
    fn tags_mut(&mut self) -> &mut Vec<crate::entities::Tag> {
        &mut self.tags
    }
    fn boundary_mut(&mut self) -> &mut Option<String> {
        &mut self.permissions_boundary
    }
}
