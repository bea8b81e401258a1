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
/// The contract every operation keeps: one typed decode, declared checks, that value run.
pub(crate) mod operation;
/// `Marker`/`IsTruncated`/`MaxItems`.
pub mod pagination;
mod policies;
mod policy_versions;
mod roles;
mod simulate;
mod tags;
/// The stored state of named entities, as authorization sees it.
pub(crate) mod targets;
mod users;
/// The XML shapes botocore's IAM model reads.
pub mod xml;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rampart_core::RootKeyring;
use rampart_policy::SizeLimit;
use rampart_store::{Store, StoreError, Write};
use rampart_wire::{
    CommonError, Input, OperationContext, OperationSpec, PreparedOperation, Protocol, ProtocolKind,
    Service, ServiceError,
};

pub use error::IamError;

use crate::cache::EntityCache;
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
    root_keys: Arc<RootKeyring>,
    account_id: String,
    on_change: ChangeHook,
    /// Users as `GetUser` reads them, emptied by every write through this service.
    users: EntityCache<User>,
}

impl IamService {
    /// The service over `store`, sealing new secrets with `root_keys`, minting ARNs in
    /// `account_id`, and calling `on_change` after every successful change.
    pub fn new(
        store: Arc<dyn Store>,
        root_keys: Arc<RootKeyring>,
        account_id: impl Into<String>,
        on_change: ChangeHook,
    ) -> Self {
        IamService {
            store,
            root_keys,
            account_id: account_id.into(),
            on_change,
            users: EntityCache::default(),
        }
    }

    /// After a write (whether or not it succeeded: it may have committed before failing),
    /// nothing cached here or in the request path may be trusted any more.
    fn changed(&self) {
        self.users.invalidate_all();
        self.on_change.fire();
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
        match rampart_store::request_audit::commit(self.store.as_ref(), writes).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

operation::iam_operations! {
    read "SimulateCustomPolicy" => simulate::SimulateCustomPolicy;
    read "SimulatePrincipalPolicy" => simulate::SimulatePrincipalPolicy;
    write "CreateUser" => users::CreateUser;
    read "GetUser" => users::GetUser;
    read "ListUsers" => users::ListUsers;
    write "UpdateUser" => users::UpdateUser;
    write "DeleteUser" => users::DeleteUser;
    write "TagUser" => tags::TagEntity<User>;
    write "UntagUser" => tags::UntagEntity<User>;
    read "ListUserTags" => tags::ListEntityTags<User>;
    write "PutUserPermissionsBoundary" => tags::PutBoundary<User>;
    write "DeleteUserPermissionsBoundary" => tags::DeleteBoundary<User>;
    write "CreateAccessKey" => access_keys::CreateAccessKey;
    read "ListAccessKeys" => access_keys::ListAccessKeys;
    write "UpdateAccessKey" => access_keys::UpdateAccessKey;
    write "DeleteAccessKey" => access_keys::DeleteAccessKey;
    read "GetAccessKeyLastUsed" => access_keys::GetAccessKeyLastUsed;
    write "CreateGroup" => groups::CreateGroup;
    read "GetGroup" => groups::GetGroup;
    read "ListGroups" => groups::ListGroups;
    write "UpdateGroup" => groups::UpdateGroup;
    write "DeleteGroup" => groups::DeleteGroup;
    write "AddUserToGroup" => groups::AddUserToGroup;
    write "RemoveUserFromGroup" => groups::RemoveUserFromGroup;
    read "ListGroupsForUser" => groups::ListGroupsForUser;
    write "CreateRole" => roles::CreateRole;
    read "GetRole" => roles::GetRole;
    read "ListRoles" => roles::ListRoles;
    write "UpdateRole" => roles::UpdateRole;
    write "UpdateRoleDescription" => roles::UpdateRoleDescription;
    write "UpdateAssumeRolePolicy" => roles::UpdateAssumeRolePolicy;
    write "DeleteRole" => roles::DeleteRole;
    write "TagRole" => tags::TagEntity<Role>;
    write "UntagRole" => tags::UntagEntity<Role>;
    read "ListRoleTags" => tags::ListEntityTags<Role>;
    write "PutRolePermissionsBoundary" => tags::PutBoundary<Role>;
    write "DeleteRolePermissionsBoundary" => tags::DeleteBoundary<Role>;
    write "PutUserPolicy" => inline_policies::PutInline<User>;
    read "GetUserPolicy" => inline_policies::GetInline<User>;
    read "ListUserPolicies" => inline_policies::ListInline<User>;
    write "DeleteUserPolicy" => inline_policies::DeleteInline<User>;
    write "PutGroupPolicy" => inline_policies::PutInline<Group>;
    read "GetGroupPolicy" => inline_policies::GetInline<Group>;
    read "ListGroupPolicies" => inline_policies::ListInline<Group>;
    write "DeleteGroupPolicy" => inline_policies::DeleteInline<Group>;
    write "PutRolePolicy" => inline_policies::PutInline<Role>;
    read "GetRolePolicy" => inline_policies::GetInline<Role>;
    read "ListRolePolicies" => inline_policies::ListInline<Role>;
    write "DeleteRolePolicy" => inline_policies::DeleteInline<Role>;
    write "CreatePolicy" => policies::CreatePolicy;
    read "GetPolicy" => policies::GetPolicy;
    read "ListPolicies" => policies::ListPolicies;
    write "DeletePolicy" => policies::DeletePolicy;
    write "TagPolicy" => tags::TagPolicy;
    write "UntagPolicy" => tags::UntagPolicy;
    read "ListPolicyTags" => tags::ListPolicyTags;
    write "CreatePolicyVersion" => policy_versions::CreatePolicyVersion;
    read "GetPolicyVersion" => policy_versions::GetPolicyVersion;
    read "ListPolicyVersions" => policy_versions::ListPolicyVersions;
    write "DeletePolicyVersion" => policy_versions::DeletePolicyVersion;
    write "SetDefaultPolicyVersion" => policy_versions::SetDefaultPolicyVersion;
    write "AttachUserPolicy" => attachments::Attach<User>;
    write "DetachUserPolicy" => attachments::Detach<User>;
    read "ListAttachedUserPolicies" => attachments::ListAttached<User>;
    write "AttachGroupPolicy" => attachments::Attach<Group>;
    write "DetachGroupPolicy" => attachments::Detach<Group>;
    read "ListAttachedGroupPolicies" => attachments::ListAttached<Group>;
    write "AttachRolePolicy" => attachments::Attach<Role>;
    write "DetachRolePolicy" => attachments::Detach<Role>;
    read "ListAttachedRolePolicies" => attachments::ListAttached<Role>;
    read "ListEntitiesForPolicy" => attachments::ListEntitiesForPolicy;
    read "GetAccountAuthorizationDetails" => account_details::GetAccountAuthorizationDetails;
}

/// The operations IAM offers, in table order.
pub fn operations() -> &'static [OperationSpec] {
    OPERATIONS
}

/// Decodes the members of `operation` as the request path would, without a store and
/// without authorizing: for fuzzing the code every IAM request's input meets first.
pub fn decode_request(
    operation: &str,
    params: &rampart_wire::protocol::query::QueryParams,
    caller: Option<&rampart_core::CallerIdentity>,
) -> Result<(), IamError> {
    let spec = OPERATIONS
        .iter()
        .find(|spec| spec.name == operation)
        .ok_or_else(|| {
            IamError::InvalidInput(format!(
                "Could not find operation {operation} for service iam"
            ))
        })?;
    decode_named(
        params,
        &operation::Call {
            op: spec.name,
            caller,
        },
    )
}

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

    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        let Input::Query(params) = input else {
            return Err(
                CommonError::Serialization("IAM speaks the query protocol.".into())
                    .for_protocol(ProtocolKind::Query),
            );
        };
        let call = operation::Call {
            op: ctx.operation.name,
            caller: ctx.caller,
        };
        Ok(prepare_named(self, &params, &call).await?)
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
    /// The stored ARN (with the entity's path).
    fn arn(&self) -> &str;
    /// Its tags, for `aws:ResourceTag/*` (groups carry none).
    fn resource_tags(&self) -> &[crate::entities::Tag] {
        &[]
    }
    /// Its permissions boundary (groups have none).
    fn boundary(&self) -> Option<&str> {
        None
    }
}

/// Entities that carry tags and a permissions boundary (users and roles).
pub(crate) trait Tagged: Holder {
    fn tags(&self) -> &[crate::entities::Tag];
    fn tags_mut(&mut self) -> &mut Vec<crate::entities::Tag>;
    fn boundary_mut(&mut self) -> &mut Option<String>;
}

macro_rules! holder {
    ($t:ty, $noun:literal, $member:literal, $max:literal, $limit:expr, $quota:literal $(, $extra:item)*) => {
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
            fn arn(&self) -> &str {
                &self.arn
            }
            $($extra)*
        }
    };
}

holder!(
    User,
    "user",
    "UserName",
    64,
    SizeLimit::UserInline,
    "PoliciesPerUser",
    fn resource_tags(&self) -> &[crate::entities::Tag] {
        &self.tags
    },
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
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
    "PoliciesPerRole",
    fn resource_tags(&self) -> &[crate::entities::Tag] {
        &self.tags
    },
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
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
