//! The cognito-idp API (JSON 1.1, `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`,
//! signing name `cognito-idp`).
//!
//! Every operation keeps the request path's contract: [`UserPoolsOperation::decode`] reads the
//! JSON body once into a typed request; [`UserPoolsOperation::checks`] resolves the pool it
//! names and declares `cognito-idp:<Action>` on its ARN, keeping what it read;
//! [`UserPoolsOperation::execute`] runs that same value on exactly that pool. Public operations
//! (`spec!(public …)`) declare no check and authenticate the caller themselves.
//!
//! To add an operation: a typed request implementing [`UserPoolsOperation`] in the family's
//! module, and one line in the `user_pools_operations!` table below.

mod auth;
mod clients;
mod forgot_password;
mod groups;
mod mfa;
mod pool_config;
mod pools;
mod sign_up;
mod token_ops;
mod user_admin;
mod user_shapes;
mod users;
mod wire;

pub(crate) use user_shapes::check_attributes;

use rampart_core::CallerIdentity;
use rampart_wire::operation::{prepare, TypedOperations};
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError,
};

use crate::error::UserPoolsError;
use crate::UserPoolsService;

/// Cognito's protocol, as botocore's model declares it.
pub const PROTOCOL: Protocol = Protocol::Json {
    json_version: "1.1",
    target_prefix: "AWSCognitoIdentityProviderService",
};

/// What an operation knows about the request besides its members. (`pub` only because it is
/// [`TypedOperations::Call`]; the module is private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub op: &'static str,
    /// The SigV4 caller; None for an unsigned request to a public operation.
    pub caller: Option<&'a CallerIdentity>,
}

impl Call<'_> {
    /// `cognito-idp:<Operation>`.
    pub fn action(&self) -> String {
        format!("cognito-idp:{}", self.op)
    }
}

/// An operation's JSON answer.
pub(crate) type Reply = Result<Vec<u8>, UserPoolsError>;

/// One cognito-idp operation's typed request.
#[async_trait::async_trait]
pub(crate) trait UserPoolsOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError>;

    /// What the caller must be allowed, derived from this value and the stored state it
    /// names; keeps that state, so `execute` acts on exactly what was authorized. Public
    /// operations answer no check.
    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError>;

    /// Runs this value.
    async fn execute(self, svc: &UserPoolsService, call: &Call<'_>) -> Reply;
}

#[async_trait::async_trait]
impl<O: UserPoolsOperation> TypedOperations<O> for UserPoolsService {
    type Call<'a> = Call<'a>;
    type Error = UserPoolsError;

    async fn checks(&self, request: &mut O, call: &Call<'_>) -> Result<Vec<Check>, UserPoolsError> {
        request.checks(self, call).await
    }

    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let call = call(&ctx);
        Ok(Output::Json(request.execute(self, &call).await?))
    }
}

fn call<'a>(ctx: &OperationContext<'a>) -> Call<'a> {
    Call {
        op: ctx.operation.name,
        caller: ctx.caller,
    }
}

/// The operation table: one line per operation gives both its spec and its typed request.
/// `public` operations are reachable without SigV4 and authorize nothing against IAM.
macro_rules! user_pools_operations {
    ($( $kind:ident $name:literal => $ty:ty; )*) => {
        /// The operations the service offers.
        pub const OPERATIONS: &[OperationSpec] = &[ $( rampart_wire::spec!($kind $name) ),* ];

        async fn prepare_named<'s>(
            svc: &'s UserPoolsService,
            body: &[u8],
            call: &Call<'_>,
        ) -> Result<Box<dyn PreparedOperation + 's>, UserPoolsError> {
            match call.op {
                $( $name => prepare(svc, <$ty as UserPoolsOperation>::decode(body)?, call).await, )*
                other => Err(unknown(other)),
            }
        }
    };
}

user_pools_operations! {
    write "CreateUserPool" => pools::CreateUserPool;
    read "DescribeUserPool" => pools::DescribeUserPool;
    write "UpdateUserPool" => pools::UpdateUserPool;
    read "ListUserPools" => pools::ListUserPools;
    write "DeleteUserPool" => pools::DeleteUserPool;
    write "CreateUserPoolClient" => clients::CreateUserPoolClient;
    read "DescribeUserPoolClient" => clients::DescribeUserPoolClient;
    write "UpdateUserPoolClient" => clients::UpdateUserPoolClient;
    read "ListUserPoolClients" => clients::ListUserPoolClients;
    write "DeleteUserPoolClient" => clients::DeleteUserPoolClient;
    write "AdminCreateUser" => users::AdminCreateUser;
    read "AdminGetUser" => users::AdminGetUser;
    write "AdminDeleteUser" => users::AdminDeleteUser;
    read "ListUsers" => users::ListUsers;
    write "AdminSetUserPassword" => user_admin::AdminSetUserPassword;
    write "AdminConfirmSignUp" => user_admin::AdminConfirmSignUp;
    write "AdminDisableUser" => user_admin::AdminDisableUser;
    write "AdminEnableUser" => user_admin::AdminEnableUser;
    write "AdminUpdateUserAttributes" => user_admin::AdminUpdateUserAttributes;
    write "AdminDeleteUserAttributes" => user_admin::AdminDeleteUserAttributes;
    write "AdminResetUserPassword" => user_admin::AdminResetUserPassword;
    write "CreateGroup" => groups::CreateGroup;
    read "GetGroup" => groups::GetGroup;
    read "ListGroups" => groups::ListGroups;
    write "DeleteGroup" => groups::DeleteGroup;
    write "AdminAddUserToGroup" => groups::AdminAddUserToGroup;
    write "AdminRemoveUserFromGroup" => groups::AdminRemoveUserFromGroup;
    read "AdminListGroupsForUser" => groups::AdminListGroupsForUser;
    read "ListUsersInGroup" => groups::ListUsersInGroup;
    public "SignUp" => sign_up::SignUp;
    public "ConfirmSignUp" => sign_up::ConfirmSignUp;
    public "ResendConfirmationCode" => sign_up::ResendConfirmationCode;
    public "ForgotPassword" => forgot_password::ForgotPassword;
    public "ConfirmForgotPassword" => forgot_password::ConfirmForgotPassword;
    public "InitiateAuth" => auth::InitiateAuth;
    write "AdminInitiateAuth" => auth::AdminInitiateAuth;
    public "RespondToAuthChallenge" => auth::RespondToAuthChallenge;
    write "AdminRespondToAuthChallenge" => auth::AdminRespondToAuthChallenge;
    public "GetUser" => token_ops::GetUser;
    public "GlobalSignOut" => token_ops::GlobalSignOut;
    write "AdminUserGlobalSignOut" => token_ops::AdminUserGlobalSignOut;
    public "RevokeToken" => token_ops::RevokeToken;
    public "AssociateSoftwareToken" => mfa::AssociateSoftwareToken;
    public "VerifySoftwareToken" => mfa::VerifySoftwareToken;
    public "SetUserMFAPreference" => mfa::SetUserMfaPreference;
}

fn unknown(operation: &str) -> UserPoolsError {
    CommonError::UnknownOperation {
        service: "cognito-idp".into(),
        operation: operation.into(),
    }
    .into()
}

#[async_trait::async_trait]
impl Service for UserPoolsService {
    fn signing_name(&self) -> &'static str {
        "cognito-idp"
    }

    fn protocol(&self) -> Protocol {
        PROTOCOL
    }

    fn operations(&self) -> &'static [OperationSpec] {
        OPERATIONS
    }

    async fn prepare<'s>(
        &'s self,
        ctx: &OperationContext<'_>,
        input: Input,
    ) -> Result<Box<dyn PreparedOperation + 's>, ServiceError> {
        let Input::Json(body) = input else {
            return Err(UserPoolsError::from(CommonError::Serialization(
                "Cognito speaks the JSON 1.1 protocol.".into(),
            ))
            .into());
        };
        let call = call(ctx);
        Ok(prepare_named(self, &body, &call).await?)
    }
}
