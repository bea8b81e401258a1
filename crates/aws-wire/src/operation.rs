//! The typed-operation scaffolding every service shares: an operation decodes its members once
//! into a typed request, derives from that value the checks authorization makes, and runs that
//! same value. [`prepare`] derives the checks and wraps the request in a [`Prepared`], the
//! [`PreparedOperation`] the request path authorizes and runs; the service says how through
//! [`TypedOperations`]. Decoding stays with each service, since what it reads differs (query
//! parameters, a JSON body).

use crate::{Check, OperationContext, Output, PreparedOperation, ServiceError};

/// How a service derives the checks of its typed operation `O` and runs it.
#[async_trait::async_trait]
pub trait TypedOperations<O: Send + Sync + 'static>: Sync {
    /// What an operation knows about the request besides its members.
    type Call<'a>: Sync;
    /// The service's own error.
    type Error;

    /// What the caller must be allowed, derived from `request` and the stored state it names.
    async fn checks(
        &self,
        request: &mut O,
        call: &Self::Call<'_>,
    ) -> Result<Vec<Check>, Self::Error>;

    /// Runs `request`. Every check has been allowed.
    async fn execute(&self, request: O, ctx: OperationContext<'_>) -> Result<Output, ServiceError>;
}

/// A decoded, checked request of service `S` waiting to run.
pub struct Prepared<'s, S: ?Sized, O> {
    service: &'s S,
    request: O,
    checks: Vec<Check>,
}

#[async_trait::async_trait]
impl<S, O> PreparedOperation for Prepared<'_, S, O>
where
    S: TypedOperations<O> + ?Sized,
    O: Send + Sync + 'static,
{
    fn checks(&self) -> &[Check] {
        &self.checks
    }

    async fn execute(self: Box<Self>, ctx: OperationContext<'_>) -> Result<Output, ServiceError> {
        self.service.execute(self.request, ctx).await
    }
}

/// Derives the checks of a decoded `request` and keeps them with it, ready to be authorized.
pub async fn prepare<'s, S, O>(
    service: &'s S,
    mut request: O,
    call: &S::Call<'_>,
) -> Result<Box<dyn PreparedOperation + 's>, S::Error>
where
    S: TypedOperations<O> + ?Sized,
    O: Send + Sync + 'static,
{
    let checks = service.checks(&mut request, call).await?;
    Ok(Box::new(Prepared {
        service,
        request,
        checks,
    }))
}

/// The [`OperationSpec`](crate::OperationSpec) of a signed operation: `read` ones change
/// nothing (`spec!(read "GetUser")`, `spec!(write "CreateUser")`); `public` ones are
/// unauthenticated by design (`spec!(public "SignUp")`, see [`OperationSpec::public`]).
///
/// [`OperationSpec::public`]: crate::OperationSpec::public
#[macro_export]
macro_rules! spec {
    (public $name:literal) => {
        $crate::OperationSpec::public($name)
    };
    (read $name:literal) => {
        $crate::OperationSpec::signed($name).read_only()
    };
    (write $name:literal) => {
        $crate::OperationSpec::signed($name)
    };
}
