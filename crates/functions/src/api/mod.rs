//! The Lambda API (rest-json, signing name `lambda`): the HTTP method and path pick the
//! operation (`POST /2015-03-31/functions/{FunctionName}/invocations`).
//!
//! Every operation keeps the request path's contract: [`FunctionsOperation::decode`] reads the
//! path, query, headers and body once into a typed request; [`FunctionsOperation::checks`]
//! loads the function it names and declares `lambda:<Action>` on its ARN (and `iam:PassRole`
//! on the role a function is created with), keeping what it read;
//! [`FunctionsOperation::execute`] runs that same value.

mod concurrency;
mod create;
mod event_invoke_config;
mod functions;
mod invoke;
mod policy;
mod update;
mod wire;

use rampart_core::CallerIdentity;
use rampart_wire::operation::{prepare, TypedOperations};
use rampart_wire::service::RestInput;
use rampart_wire::{
    Check, CommonError, Input, OperationContext, OperationSpec, Output, PreparedOperation,
    Protocol, Service, ServiceError,
};

use crate::error::FunctionsError;
use crate::FunctionsService;

/// Lambda's protocol.
pub const PROTOCOL: Protocol = Protocol::RestJson;

/// What an operation knows about the request besides its members. (`pub` only because it is
/// [`TypedOperations::Call`]; the module is private.)
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub op: &'static str,
    pub caller: &'a CallerIdentity,
    /// The request's id (`x-amzn-RequestId`): `Invoke` runs the invocation under it, as
    /// Lambda does (an asynchronous invocation keeps it as its own).
    pub request_id: &'a str,
}

impl Call<'_> {
    /// `lambda:<Action>`: the operation's name but for `Invoke`, whose action is
    /// `lambda:InvokeFunction`.
    pub fn action(&self) -> String {
        match self.op {
            "Invoke" => "lambda:InvokeFunction".into(),
            op => format!("lambda:{op}"),
        }
    }
}

/// One Lambda operation's typed request.
#[async_trait::async_trait]
pub(crate) trait FunctionsOperation: Sized + Send + Sync + 'static {
    /// Reads and validates the members this operation takes.
    fn decode(input: &RestInput, svc: &FunctionsService) -> Result<Self, FunctionsError>;

    /// What the caller must be allowed, derived from this value and the stored state it
    /// names; keeps that state, so `execute` acts on exactly what was authorized.
    async fn checks(
        &mut self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, FunctionsError>;

    /// Runs this value.
    async fn execute(
        self,
        svc: &FunctionsService,
        call: &Call<'_>,
    ) -> Result<Output, FunctionsError>;
}

#[async_trait::async_trait]
impl<O: FunctionsOperation> TypedOperations<O> for FunctionsService {
    type Call<'a> = Call<'a>;
    type Error = FunctionsError;

    async fn checks(&self, request: &mut O, call: &Call<'_>) -> Result<Vec<Check>, FunctionsError> {
        request.checks(self, call).await
    }

    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        let call = call(&ctx)?;
        Ok(request.execute(self, &call).await?)
    }
}

fn call<'a>(ctx: &OperationContext<'a>) -> Result<Call<'a>, FunctionsError> {
    let caller = ctx.caller.ok_or_else(|| {
        FunctionsError::Service("A Lambda operation was reached without its caller.".into())
    })?;
    Ok(Call {
        op: ctx.operation.name,
        caller,
        request_id: ctx.request_id,
    })
}

/// The operation table: one line per operation gives its spec (read or write, method, path)
/// and its typed request.
macro_rules! functions_operations {
    ($( $kind:ident $name:literal $method:literal $path:literal => $ty:ty; )*) => {
        /// The operations Lambda offers.
        pub const OPERATIONS: &[OperationSpec] = &[
            $( functions_operations!(@spec $kind $name $method $path) ),*
        ];

        async fn prepare_named<'s>(
            svc: &'s FunctionsService,
            input: &RestInput,
            call: &Call<'_>,
        ) -> Result<Box<dyn PreparedOperation + 's>, FunctionsError> {
            match call.op {
                $( $name => prepare(svc, <$ty as FunctionsOperation>::decode(input, svc)?, call).await, )*
                other => Err(unknown(other)),
            }
        }
    };
    (@spec read $name:literal $method:literal $path:literal) => {
        OperationSpec::signed_route($name, $method, $path).read_only()
    };
    (@spec write $name:literal $method:literal $path:literal) => {
        OperationSpec::signed_route($name, $method, $path)
    };
}

functions_operations! {
    write "CreateFunction" "POST" "/2015-03-31/functions" => create::CreateFunction;
    read "ListFunctions" "GET" "/2015-03-31/functions" => functions::ListFunctions;
    read "GetFunction" "GET" "/2015-03-31/functions/{FunctionName}" => functions::GetFunction;
    read "GetFunctionConfiguration" "GET" "/2015-03-31/functions/{FunctionName}/configuration" => functions::GetFunctionConfiguration;
    write "DeleteFunction" "DELETE" "/2015-03-31/functions/{FunctionName}" => functions::DeleteFunction;
    write "Invoke" "POST" "/2015-03-31/functions/{FunctionName}/invocations" => invoke::Invoke;
    write "UpdateFunctionCode" "PUT" "/2015-03-31/functions/{FunctionName}/code" => update::UpdateFunctionCode;
    write "AddPermission" "POST" "/2015-03-31/functions/{FunctionName}/policy" => policy::AddPermission;
    write "RemovePermission" "DELETE" "/2015-03-31/functions/{FunctionName}/policy/{StatementId}" => policy::RemovePermission;
    read "GetPolicy" "GET" "/2015-03-31/functions/{FunctionName}/policy" => policy::GetPolicy;
    write "PutFunctionConcurrency" "PUT" "/2017-10-31/functions/{FunctionName}/concurrency" => concurrency::PutFunctionConcurrency;
    read "GetFunctionConcurrency" "GET" "/2019-09-30/functions/{FunctionName}/concurrency" => concurrency::GetFunctionConcurrency;
    write "DeleteFunctionConcurrency" "DELETE" "/2017-10-31/functions/{FunctionName}/concurrency" => concurrency::DeleteFunctionConcurrency;
    write "UpdateFunctionConfiguration" "PUT" "/2015-03-31/functions/{FunctionName}/configuration" => update::UpdateFunctionConfiguration;
    write "PutFunctionEventInvokeConfig" "PUT" "/2019-09-25/functions/{FunctionName}/event-invoke-config" => event_invoke_config::PutFunctionEventInvokeConfig;
    write "UpdateFunctionEventInvokeConfig" "POST" "/2019-09-25/functions/{FunctionName}/event-invoke-config" => event_invoke_config::UpdateFunctionEventInvokeConfig;
    read "GetFunctionEventInvokeConfig" "GET" "/2019-09-25/functions/{FunctionName}/event-invoke-config" => event_invoke_config::GetFunctionEventInvokeConfig;
    write "DeleteFunctionEventInvokeConfig" "DELETE" "/2019-09-25/functions/{FunctionName}/event-invoke-config" => event_invoke_config::DeleteFunctionEventInvokeConfig;
    read "ListFunctionEventInvokeConfigs" "GET" "/2019-09-25/functions/{FunctionName}/event-invoke-config/list" => event_invoke_config::ListFunctionEventInvokeConfigs;
}

fn unknown(operation: &str) -> FunctionsError {
    CommonError::UnknownOperation {
        service: "lambda".into(),
        operation: operation.into(),
    }
    .into()
}

#[async_trait::async_trait]
impl Service for FunctionsService {
    fn signing_name(&self) -> &'static str {
        "lambda"
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
        let Input::Rest(input) = input else {
            return Err(FunctionsError::from(CommonError::Serialization(
                "Lambda speaks the rest-json protocol.".into(),
            ))
            .into());
        };
        let call = call(ctx)?;
        Ok(prepare_named(self, &input, &call).await?)
    }
}

pub(crate) use functions::{
    check_named as functions_check_named, found as functions_found,
    named_function as functions_named, path_function as functions_path,
};

/// A path label the route bound.
pub(crate) fn path_param<'a>(input: &'a RestInput, name: &str) -> Result<&'a str, FunctionsError> {
    input
        .path_params
        .iter()
        .find(|(label, _)| *label == name)
        .map(|(_, value)| value.as_str())
        .ok_or_else(|| CommonError::MissingParameter(name.to_owned()).into())
}
