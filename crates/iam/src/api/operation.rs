//! The contract every IAM operation keeps: it decodes its members once into a typed request
//! ([`IamOperation::decode`] — the only code that reads the request's parameters), declares
//! from that value the checks authorization makes ([`IamOperation::checks`], reading the
//! stored state of what it names), and runs that same value ([`IamOperation::execute`]).
//! A parameter the operation does not take is never read by anything, so a request cannot be
//! authorized on one entity and act on another.

use rampart_core::CallerIdentity;
use rampart_policy::PolicyKind;
use rampart_wire::operation::TypedOperations;
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::{Check, OperationContext, Output, PreparedOperation, ServiceError};

use super::error::IamError;
use super::{IamService, Reply};
use crate::policy_findings::findings_header;

/// What an IAM operation knows about the request besides its members. (`pub` only because it
/// is [`TypedOperations::Call`]; the module is crate-private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The operation name (`AttachUserPolicy`).
    pub op: &'static str,
    pub caller: Option<&'a CallerIdentity>,
}

impl Call<'_> {
    /// `iam:<Operation>`, the action the operation is authorized as.
    pub fn action(&self) -> String {
        format!("iam:{}", self.op)
    }
}

/// One IAM operation's typed request.
#[async_trait::async_trait]
pub(crate) trait IamOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(p: &QueryParams, call: &Call<'_>) -> Result<Self, IamError>;

    /// What the caller must be allowed, derived from this value and the stored state of the
    /// entities it names. A read may keep the entity it loaded here, so that what it answers
    /// is exactly what was authorized (and the store is read once).
    async fn checks(&mut self, iam: &IamService, call: &Call<'_>) -> Result<Vec<Check>, IamError>;

    /// Runs this value.
    async fn execute(self, iam: &IamService, call: &Call<'_>) -> Reply;

    /// The policy document this operation stores and its kind, linted into the
    /// `x-rampart-policy-findings` answer header.
    fn written_document(&self) -> Option<(&str, PolicyKind)> {
        None
    }
}

#[async_trait::async_trait]
impl<O: IamOperation> TypedOperations<O> for IamService {
    type Call<'a> = Call<'a>;
    type Error = IamError;

    async fn checks(&self, request: &mut O, call: &Call<'_>) -> Result<Vec<Check>, IamError> {
        request.checks(self, call).await
    }

    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let call = Call {
            op: ctx.operation.name,
            caller: ctx.caller,
        };
        let findings = request
            .written_document()
            .and_then(|(document, kind)| findings_header(document, kind));
        let reply = request.execute(self, &call).await;
        if !ctx.operation.read_only {
            self.changed();
        }
        let reply = reply?;
        let output = Output::Query(reply);
        Ok(match findings {
            Some(header) => Output::Annotated {
                output: Box::new(output),
                headers: vec![header],
            },
            None => output,
        })
    }
}

/// Decodes and checks one operation.
pub(super) async fn prepare<'s, O: IamOperation>(
    iam: &'s IamService,
    p: &QueryParams,
    call: &Call<'_>,
) -> Result<Box<dyn PreparedOperation + 's>, IamError> {
    rampart_wire::operation::prepare(iam, O::decode(p, call)?, call).await
}

/// The operation table: one line per operation gives both its spec and its typed request, so
/// the two cannot drift apart.
macro_rules! iam_operations {
    ($( $kind:ident $name:literal => $ty:ty; )*) => {
        /// The operations IAM offers.
        pub(super) const OPERATIONS: &[rampart_wire::OperationSpec] =
            &[ $( rampart_wire::spec!($kind $name) ),* ];

        /// Decodes and checks the operation `call.op`.
        pub(super) async fn prepare_named<'s>(
            iam: &'s IamService,
            p: &rampart_wire::protocol::query::QueryParams,
            call: &$crate::api::operation::Call<'_>,
        ) -> Result<Box<dyn rampart_wire::PreparedOperation + 's>, IamError> {
            match call.op {
                $( $name => $crate::api::operation::prepare::<$ty>(iam, p, call).await, )*
                other => Err(IamError::InvalidInput(format!(
                    "Could not find operation {other} for service iam"
                ))),
            }
        }

        /// Decodes the members of the operation `call.op` and nothing else: no store, no
        /// checks. The pure front of every IAM request, which the fuzzer drives.
        pub(super) fn decode_named(
            p: &rampart_wire::protocol::query::QueryParams,
            call: &$crate::api::operation::Call<'_>,
        ) -> Result<(), IamError> {
            use $crate::api::operation::IamOperation as _;
            match call.op {
                $( $name => <$ty>::decode(p, call).map(drop), )*
                other => Err(IamError::InvalidInput(format!(
                    "Could not find operation {other} for service iam"
                ))),
            }
        }
    };
}

pub(crate) use iam_operations;
