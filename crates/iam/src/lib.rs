//! IAM and STS: the identities of an account, their access keys, the [`CredentialResolver`]
//! every signed request is authenticated through, the [`Authorizer`] it is authorized by, and
//! the STS operations.
//!
//! State lives in the store ([`rampart_store::Store`]); the resolver only caches it.

pub mod account;
pub mod api;
pub mod authorizer;
pub mod bootstrap;
pub mod cache;
pub mod credentials;
pub mod entities;
pub mod evaluation;
pub mod policy_findings;
pub mod sessions;
pub mod sts;

pub use account::Account;
pub use api::{ChangeHook, IamService};
pub use authorizer::{
    AttachedPolicy, Authorization, Authorizer, Caller, RequestFacts, ServicePrincipal, WebIdentity,
};
pub use bootstrap::{bootstrap, BootstrapOutcome};
pub use credentials::{CredentialError, CredentialResolver, ResolvedCredential};
pub use entities::{Group, ManagedPolicy, Role, User};
pub use evaluation::{CompiledPolicyCache, PrincipalPolicies};
pub use sts::StsService;

/// The stored records of this crate that hold sealed values (access-key secrets of users and
/// of STS sessions), for the server's re-sealing walk (migration, root key rotation).
pub fn sealed_records() -> Vec<rampart_core::seal::SealedNamespace> {
    use rampart_core::seal::SealedNamespace;
    vec![
        SealedNamespace::of::<credentials::AccessKeyRecord>(ns::ACCESS_KEYS),
        SealedNamespace::of::<sessions::SessionRecord>(ns::SESSIONS),
    ]
}

/// Storage namespaces owned by this crate.
pub(crate) mod ns {
    pub const ACCOUNT: &str = "account";
    pub const USERS: &str = "iam/users";
    pub const GROUPS: &str = "iam/groups";
    pub const ROLES: &str = "iam/roles";
    pub const POLICIES: &str = "iam/policies";
    pub const ACCESS_KEYS: &str = "iam/access-keys";
    pub const SESSIONS: &str = "sts/sessions";
}
