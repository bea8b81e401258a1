//! The invoker's entry point for AWS service principals (the API gateway, later event
//! sources and Secrets Manager's rotation): a function runs for a service only when its
//! resource policy allows that service, decided by IAM's authorizer through
//! [`RoleDirectory::allows_service`](crate::roles::RoleDirectory::allows_service).

use rampart_wire::{Check, ResourcePolicy, ResourcePolicyKind};

use super::{InvocationRequest, InvocationResult, Invoker};
use crate::error::FunctionsError;
use crate::records::{self, FunctionRecord};
use crate::roles::ServiceCaller;

impl Invoker {
    /// Runs `request` on `function` (a name or ARN, of this account and region) for the AWS
    /// service principal `service` (`apigateway.amazonaws.com`) acting for `source_arn` of
    /// `source_account` — the entry point of the API gateway and, later, event sources.
    /// Refused with `AccessDeniedException` unless the function's resource policy allows that
    /// principal `lambda:InvokeFunction` under those `aws:SourceArn`/`aws:SourceAccount`
    /// (AddPermission with `SourceArn`/`SourceAccount`); a function that does not exist is
    /// refused the same way, so the answer does not tell the two apart.
    pub async fn invoke_as_service(
        &self,
        function: &str,
        service: &str,
        source_arn: &str,
        source_account: &str,
        request: InvocationRequest,
    ) -> Result<InvocationResult, FunctionsError> {
        let f = self
            .service_may_invoke(function, service, source_arn, source_account)
            .await?;
        self.invoke(&f, request).await
    }

    /// The function `service` acting for `source_arn` of `source_account` may invoke (what
    /// [`Invoker::invoke_as_service`] decides before it runs anything; Secrets Manager's
    /// rotation asks it alone when a rotation function is configured), or
    /// `AccessDeniedException`.
    pub async fn service_may_invoke(
        &self,
        function: &str,
        service: &str,
        source_arn: &str,
        source_account: &str,
    ) -> Result<FunctionRecord, FunctionsError> {
        let named = crate::function_ref::FunctionRef::parse(
            function,
            None,
            "functionName",
            &self.account_id,
            &self.region,
            256,
        )?;
        let stored = match named.local && named.is_latest() {
            true => records::load_function(self.store.as_ref(), &named.name).await?,
            false => None,
        };
        let policy = stored
            .as_ref()
            .and_then(|s| s.record.policy.as_ref())
            .map(|p| p.document());
        // No policy (or no function): a resource policy that allows nothing.
        let check = Check::on("lambda:InvokeFunction", named.qualified_arn()).with_resource_policy(
            ResourcePolicy {
                kind: ResourcePolicyKind::Resource,
                document: policy,
            },
        );
        let caller = ServiceCaller {
            service,
            source_arn,
            source_account,
        };
        match stored {
            Some(f) if self.roles.allows_service(&caller, &check) => Ok(f.record),
            _ => Err(FunctionsError::AccessDenied(format!(
                "Service: {service} is not authorized to perform: lambda:InvokeFunction on resource: {} because no resource-based policy allows the lambda:InvokeFunction action",
                named.qualified_arn()
            ))),
        }
    }
}
