//! The Secrets Manager API (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`, signing
//! name `secretsmanager`).
//!
//! Every operation keeps the request path's contract: [`SecretsOperation::decode`] reads the
//! JSON body once into a typed request; [`SecretsOperation::checks`] resolves the secret (and
//! KMS key) it names through the store and declares `secretsmanager:<Action>` (and the KMS
//! action) on them, keeping what it read; [`SecretsOperation::execute`] runs that same value on
//! exactly those records.

mod batch;
mod metadata;
mod policies;
mod random;
mod rotation;
mod secrets;
mod stages;
mod tags;
mod values;
mod wire;

use rampart_core::CallerIdentity;
use rampart_wire::operation::{prepare, TypedOperations};
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError, Verdict,
};

use crate::error::SecretsError;
use crate::SecretsService;

/// Secrets Manager's protocol, as botocore's model declares it.
pub const PROTOCOL: Protocol = Protocol::Json {
    json_version: "1.1",
    target_prefix: "secretsmanager",
};

/// What an operation knows about the request besides its members. (`pub` only because it is
/// [`TypedOperations::Call`]; the module is private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub op: &'static str,
    pub caller: &'a CallerIdentity,
    /// How each declared check was decided (empty before authorization): a batch serves
    /// only the items whose per-item checks were allowed.
    pub verdicts: &'a [Verdict],
}

impl Call<'_> {
    /// `secretsmanager:<Operation>`.
    pub fn action(&self) -> String {
        format!("secretsmanager:{}", self.op)
    }

    /// The caller's account (`kms:CallerAccount` on KMS checks).
    pub fn account(&self) -> &str {
        &self.caller.account_id
    }

    /// Why the declared check at `index` was denied, or None if it was allowed. A check
    /// without a verdict counts as denied: nothing is served that was not authorized.
    pub fn denial(&self, index: usize) -> Option<&str> {
        match self.verdicts.get(index) {
            Some(Verdict::Allowed) => None,
            Some(Verdict::Denied(message)) => Some(message),
            None => Some("The request was not authorized."),
        }
    }
}

/// An operation's JSON answer.
pub(crate) type Reply = Result<Vec<u8>, SecretsError>;

/// One Secrets Manager operation's typed request.
#[async_trait::async_trait]
pub(crate) trait SecretsOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(body: &[u8]) -> Result<Self, SecretsError>;

    /// What the caller must be allowed, derived from this value and the stored state it
    /// names; keeps that state, so `execute` acts on exactly what was authorized.
    async fn checks(
        &mut self,
        svc: &SecretsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, SecretsError>;

    /// Runs this value.
    async fn execute(self, svc: &SecretsService, call: &Call<'_>) -> Reply;
}

#[async_trait::async_trait]
impl<O: SecretsOperation> TypedOperations<O> for SecretsService {
    type Call<'a> = Call<'a>;
    type Error = SecretsError;

    async fn checks(&self, request: &mut O, call: &Call<'_>) -> Result<Vec<Check>, SecretsError> {
        request.checks(self, call).await
    }

    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let call = call(&ctx)?;
        let answer = request.execute(self, &call).await;
        // Every write empties the caches before it answers, whether or not it succeeded (it
        // may have committed before failing): this node never serves what it overwrote.
        if !ctx.operation.read_only {
            self.changed();
        }
        Ok(Output::Json(answer?))
    }
}

fn call<'a>(ctx: &OperationContext<'a>) -> Result<Call<'a>, SecretsError> {
    let caller = ctx.caller.ok_or_else(|| {
        SecretsError::Internal("A Secrets Manager operation was reached without its caller.".into())
    })?;
    Ok(Call {
        op: ctx.operation.name,
        caller,
        verdicts: ctx.verdicts,
    })
}

/// The operation table: one line per operation gives both its spec and its typed request.
macro_rules! secrets_operations {
    ($( $kind:ident $name:literal => $ty:ty; )*) => {
        /// The operations Secrets Manager offers.
        pub const OPERATIONS: &[OperationSpec] = &[ $( rampart_wire::spec!($kind $name) ),* ];

        async fn prepare_named<'s>(
            svc: &'s SecretsService,
            body: &[u8],
            call: &Call<'_>,
        ) -> Result<Box<dyn PreparedOperation + 's>, SecretsError> {
            match call.op {
                $( $name => prepare(svc, <$ty as SecretsOperation>::decode(body)?, call).await, )*
                other => Err(unknown(other)),
            }
        }
    };
}

secrets_operations! {
    write "CreateSecret" => secrets::CreateSecret;
    read "DescribeSecret" => metadata::DescribeSecret;
    read "ListSecrets" => metadata::ListSecrets;
    write "UpdateSecret" => secrets::UpdateSecret;
    write "DeleteSecret" => secrets::DeleteSecret;
    write "RestoreSecret" => secrets::RestoreSecret;
    read "GetSecretValue" => values::GetSecretValue;
    write "PutSecretValue" => values::PutSecretValue;
    read "ListSecretVersionIds" => values::ListSecretVersionIds;
    write "TagResource" => tags::TagResource;
    write "UntagResource" => tags::UntagResource;
    read "GetRandomPassword" => random::GetRandomPassword;
    write "UpdateSecretVersionStage" => stages::UpdateSecretVersionStage;
    write "RotateSecret" => rotation::RotateSecret;
    write "CancelRotateSecret" => rotation::CancelRotateSecret;
    write "PutResourcePolicy" => policies::PutResourcePolicy;
    read "GetResourcePolicy" => policies::GetResourcePolicy;
    write "DeleteResourcePolicy" => policies::DeleteResourcePolicy;
    read "ValidateResourcePolicy" => policies::ValidateResourcePolicy;
    read "BatchGetSecretValue" => batch::BatchGetSecretValue;
}

fn unknown(operation: &str) -> SecretsError {
    CommonError::UnknownOperation {
        service: "secretsmanager".into(),
        operation: operation.into(),
    }
    .into()
}

#[async_trait::async_trait]
impl Service for SecretsService {
    fn signing_name(&self) -> &'static str {
        "secretsmanager"
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
            return Err(SecretsError::from(CommonError::Serialization(
                "Secrets Manager speaks the JSON 1.1 protocol.".into(),
            ))
            .into());
        };
        let call = call(ctx)?;
        Ok(prepare_named(self, &body, &call).await?)
    }
}
