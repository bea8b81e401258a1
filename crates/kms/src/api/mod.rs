//! The KMS API (JSON 1.1, `X-Amz-Target: TrentService.<Operation>`, signing name `kms`).
//!
//! Every operation keeps the request path's contract: [`KmsOperation::decode`] reads the
//! JSON body once into a typed request (the only code that reads its members);
//! [`KmsOperation::checks`] resolves the keys it names through the store and declares
//! `kms:<Action>` on each, keeping the records it read; [`KmsOperation::execute`] runs that
//! same value against exactly those records. One module per family of AWS's own nouns.

mod aliases;
mod crypto;
mod lifecycle;
mod policies;
mod rotation;
mod wire;

use rampart_core::CallerIdentity;
use rampart_wire::operation::{prepare, TypedOperations};
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError,
};

use crate::error::KmsError;
use crate::KmsService;

/// KMS's protocol, as botocore's model declares it.
pub const PROTOCOL: Protocol = Protocol::Json {
    json_version: "1.1",
    target_prefix: "TrentService",
};

/// What an operation knows about the request besides its members. (`pub` only because it is
/// [`TypedOperations::Call`]; the module is private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The operation name (`Encrypt`).
    pub op: &'static str,
    pub caller: &'a CallerIdentity,
}

impl Call<'_> {
    /// `kms:<Operation>`, the action the operation is authorized as.
    pub fn action(&self) -> String {
        format!("kms:{}", self.op)
    }

    /// The caller's account (`kms:CallerAccount`).
    pub fn account(&self) -> &str {
        &self.caller.account_id
    }
}

/// An operation's JSON answer.
pub(crate) type Reply = Result<Vec<u8>, KmsError>;

/// One KMS operation's typed request.
#[async_trait::async_trait]
pub(crate) trait KmsOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(body: &[u8]) -> Result<Self, KmsError>;

    /// What the caller must be allowed, derived from this value and the stored keys it
    /// names; keeps those keys, so `execute` acts on exactly what was authorized.
    async fn checks(&mut self, kms: &KmsService, call: &Call<'_>) -> Result<Vec<Check>, KmsError>;

    /// Runs this value.
    async fn execute(self, kms: &KmsService, call: &Call<'_>) -> Reply;
}

#[async_trait::async_trait]
impl<O: KmsOperation> TypedOperations<O> for KmsService {
    type Call<'a> = Call<'a>;
    type Error = KmsError;

    async fn checks(&self, request: &mut O, call: &Call<'_>) -> Result<Vec<Check>, KmsError> {
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

fn call<'a>(ctx: &OperationContext<'a>) -> Result<Call<'a>, KmsError> {
    let caller = ctx.caller.ok_or_else(|| {
        KmsError::Internal("A KMS operation was reached without its caller.".into())
    })?;
    Ok(Call {
        op: ctx.operation.name,
        caller,
    })
}

/// The operation table: one line per operation gives both its spec and its typed request, so
/// the two cannot drift apart.
macro_rules! kms_operations {
    ($( $kind:ident $name:literal => $ty:ty; )*) => {
        /// The operations KMS offers.
        pub const OPERATIONS: &[OperationSpec] = &[ $( rampart_wire::spec!($kind $name) ),* ];

        async fn prepare_named<'s>(
            kms: &'s KmsService,
            body: &[u8],
            call: &Call<'_>,
        ) -> Result<Box<dyn PreparedOperation + 's>, KmsError> {
            match call.op {
                $( $name => prepare(kms, <$ty as KmsOperation>::decode(body)?, call).await, )*
                other => Err(unknown(other)),
            }
        }

        /// Decodes the members of `operation` from a JSON body and nothing else: no store, no
        /// checks. The pure front of every KMS request, for fuzzing.
        pub fn decode_request(operation: &str, body: &[u8]) -> Result<(), KmsError> {
            match operation {
                $( $name => <$ty as KmsOperation>::decode(body).map(drop), )*
                other => Err(unknown(other)),
            }
        }
    };
}

kms_operations! {
    write "CreateKey" => lifecycle::CreateKey;
    read "DescribeKey" => lifecycle::DescribeKey;
    read "ListKeys" => lifecycle::ListKeys;
    write "EnableKey" => lifecycle::EnableKey;
    write "DisableKey" => lifecycle::DisableKey;
    write "ScheduleKeyDeletion" => lifecycle::ScheduleKeyDeletion;
    write "CancelKeyDeletion" => lifecycle::CancelKeyDeletion;
    write "CreateAlias" => aliases::CreateAlias;
    write "UpdateAlias" => aliases::UpdateAlias;
    write "DeleteAlias" => aliases::DeleteAlias;
    read "ListAliases" => aliases::ListAliases;
    read "Encrypt" => crypto::Encrypt;
    read "Decrypt" => crypto::Decrypt;
    read "ReEncrypt" => crypto::ReEncrypt;
    read "GenerateDataKey" => crypto::GenerateDataKey;
    read "GenerateDataKeyWithoutPlaintext" => crypto::GenerateDataKeyWithoutPlaintext;
    read "GenerateRandom" => crypto::GenerateRandom;
    write "EnableKeyRotation" => rotation::EnableKeyRotation;
    write "DisableKeyRotation" => rotation::DisableKeyRotation;
    read "GetKeyRotationStatus" => rotation::GetKeyRotationStatus;
    write "RotateKeyOnDemand" => rotation::RotateKeyOnDemand;
    read "GetKeyPolicy" => policies::GetKeyPolicy;
    write "PutKeyPolicy" => policies::PutKeyPolicy;
}

fn unknown(operation: &str) -> KmsError {
    CommonError::UnknownOperation {
        service: "kms".into(),
        operation: operation.into(),
    }
    .into()
}

#[async_trait::async_trait]
impl Service for KmsService {
    fn signing_name(&self) -> &'static str {
        "kms"
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
            return Err(KmsError::from(CommonError::Serialization(
                "KMS speaks the JSON 1.1 protocol.".into(),
            ))
            .into());
        };
        let call = call(ctx)?;
        Ok(prepare_named(self, &body, &call).await?)
    }
}
